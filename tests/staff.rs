//! Staff accounts: roles (only an admin manages accounts), disabling an
//! account, ending its sessions, changing one's own password; and changes
//! that reach the store before the memory, so a failed write revokes nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "test-password-1";

/// A console session: (cookie pair, csrf).
async fn sign_in(server: &TestServer, name: &str, password: &str) -> (String, String) {
    let r = server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{name} signs in");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    (pair, body["csrf"].as_str().unwrap().to_string())
}

/// A request with a session: (status, JSON body or Null).
async fn as_session(
    server: &TestServer,
    (cookie, csrf): &(String, String),
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = server
        .client
        .request(method, format!("{}{path}", server.url))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf);
    if let Some(body) = body {
        r = r.json(&body);
    }
    answer(r).await
}

async fn session_status(server: &TestServer, session: &(String, String)) -> u16 {
    as_session(
        server,
        session,
        reqwest::Method::GET,
        "/api/v1/session",
        None,
    )
    .await
    .0
}

async fn login_status(server: &TestServer, name: &str, password: &str) -> (u16, Value) {
    answer(
        server
            .client
            .post(format!("{}/api/v1/login", server.url))
            .json(&json!({"name": name, "password": password})),
    )
    .await
}

/// The audit rows, oldest first: (actor, action, target, detail).
async fn trail(server: &TestServer) -> Vec<(String, String, String, String)> {
    let (_, audit) = server.get_admin("/api/v1/audit?limit=1000").await;
    audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("actor"), s("action"), s("target"), s("detail"))
        })
        .collect()
}

/// The status of `GET /api/v1/me?token=<token>`.
async fn me(server: &TestServer, token: &str) -> u16 {
    let url = format!("{}/api/v1/me?token={token}", server.url);
    server
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A tmpfs of `size` mounted on `at`, unmounted when dropped (as in tests/faults.rs).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it: run it as root (CI does)"
        );
        SmallDisk(at.to_path_buf())
    }

    /// Writes zeros into `name` until the disk refuses.
    fn fill(&self, name: &str) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.0.join(name)).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC, got {e}");
                    break;
                }
            }
        }
        let _ = file.sync_all();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

const STORE_REFUSED: &str = "the store could not do this now; try again";

/// Sends `requests` in turn until one is refused (503, with the store's
/// message); returns its index. The disk is full to the page, so the
/// write-ahead log's last page may take a few small writes before one fails.
async fn first_refused(requests: Vec<reqwest::RequestBuilder>) -> usize {
    for (i, request) in requests.into_iter().enumerate() {
        let (status, body) = answer(request).await;
        if status != 200 && status != 204 {
            assert_eq!((status, body["error"].as_str()), (503, Some(STORE_REFUSED)));
            println!("{i} went through before the store refused one");
            return i;
        }
    }
    panic!("the store never refused a write");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_the_store_refuses_revokes_nothing() {
    let dir = temp_dir();
    let disk = SmallDisk::mount(&dir.path().join("small"), "32m");
    let server = TestServer::start(&disk.0).await;
    let mut links = Vec::new();
    for i in 0..100 {
        let (status, link) = server
            .post_admin(
                "/api/v1/credentials",
                &json!({"kind": "link", "label": format!("会场 {i}")}),
            )
            .await;
        assert_eq!(status, 201);
        links.push((
            link["id"].as_str().unwrap().to_string(),
            link["token"].as_str().unwrap().to_string(),
        ));
    }
    let mut sessions = Vec::new();
    for _ in 0..10 {
        sessions.push(sign_in(&server, "admin", PASSWORD).await);
    }
    let mut staff = Vec::new();
    for i in 0..10 {
        let name = format!("staff-{i}");
        let user = json!({"name": name, "password": PASSWORD, "role": "staff"});
        assert_eq!(server.post_admin("/api/v1/users", &user).await.0, 201);
        staff.push((name.clone(), sign_in(&server, &name, PASSWORD).await));
    }

    disk.fill("ballast");
    let admin_post = |path: String| {
        server
            .client
            .post(format!("{}{path}", server.url))
            .bearer_auth(ADMIN_TOKEN)
    };
    let revoked = first_refused(
        links
            .iter()
            .map(|(id, _)| admin_post(format!("/api/v1/credentials/{id}/revoke")))
            .collect(),
    )
    .await;
    let signed_out = first_refused(
        sessions
            .iter()
            .map(|(cookie, csrf)| {
                server
                    .client
                    .post(format!("{}/api/v1/logout", server.url))
                    .header("cookie", cookie)
                    .header("x-csrf-token", csrf)
            })
            .collect(),
    )
    .await;
    let disabled = first_refused(
        staff
            .iter()
            .map(|(name, _)| admin_post(format!("/api/v1/users/{name}/disable")))
            .collect(),
    )
    .await;
    // What the store refused is revoked neither in memory...
    let (id, token) = &links[revoked];
    assert_eq!(me(&server, token).await, 200);
    if revoked > 0 {
        assert_eq!(me(&server, &links[revoked - 1].1).await, 401);
    }
    assert_eq!(session_status(&server, &sessions[signed_out]).await, 200);
    assert_eq!(session_status(&server, &staff[disabled].1).await, 200);
    let (_, listed) = server.get_admin("/api/v1/credentials").await;
    let state = |id: &str| {
        listed["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state(id), "active");
    let (_, users) = server.get_admin("/api/v1/users").await;
    let user = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == staff[disabled].0)
        .unwrap()
        .clone();
    assert_eq!(user["disabled_at"], Value::Null);
    std::fs::remove_file(disk.0.join("ballast")).unwrap();
    server.stop().await;
    // ...nor on disk.
    {
        let db = open_db(&disk.0);
        let revoked_rows = |id: &str| {
            count(
                &db,
                &format!(
                    "SELECT count(*) FROM credentials WHERE id = '{id}' AND revoked_at IS NOT NULL"
                ),
            )
        };
        assert_eq!(revoked_rows(id), 0);
        if revoked > 0 {
            assert_eq!(revoked_rows(&links[revoked - 1].0), 1);
        }
        assert_eq!(
            count(
                &db,
                &format!(
                    "SELECT count(*) FROM users WHERE name = '{}' AND disabled_at IS NULL",
                    staff[disabled].0
                )
            ),
            1
        );
    }
    let server = TestServer::start(&disk.0).await;
    assert_eq!(me(&server, token).await, 200);
    assert_eq!(session_status(&server, &sessions[signed_out]).await, 200);
    assert_eq!(session_status(&server, &staff[disabled].1).await, 200);
    // With room on the disk, the same requests go through.
    let (status, _) = server
        .post_admin(&format!("/api/v1/credentials/{id}/revoke"), &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(me(&server, token).await, 401);
    let session = &sessions[signed_out];
    let (status, _) = as_session(
        &server,
        session,
        reqwest::Method::POST,
        "/api/v1/logout",
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(session_status(&server, session).await, 401);
    let (name, session) = &staff[disabled];
    let (status, _) = server
        .post_admin(&format!("/api/v1/users/{name}/disable"), &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(session_status(&server, session).await, 401);
    server.stop().await;
}
