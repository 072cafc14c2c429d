//! Staff accounts: roles (only an admin manages accounts), disabling an
//! account, ending its sessions, changing one's own password; and changes
//! that reach the store before the memory, so a failed write revokes nothing.

use crate::common::*;
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

/// Creates an account with the admin token.
async fn create_user(server: &TestServer, body: Value) -> (u16, Value) {
    server.post_admin("/api/v1/users", &body).await
}

/// The listing of one account.
async fn listed(server: &TestServer, name: &str) -> Value {
    let (status, users) = server.get_admin("/api/v1/users").await;
    assert_eq!(status, 200);
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn only_admins_manage_staff_accounts() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (status, body) = create_user(&server, json!({"name": "li", "password": PASSWORD})).await;
    assert_eq!(
        (status, body),
        (201, json!({"name": "li", "role": "staff"}))
    );
    let wang = json!({"name": "wang", "password": PASSWORD, "role": "admin"});
    let (status, body) = create_user(&server, wang).await;
    assert_eq!(
        (status, body),
        (201, json!({"name": "wang", "role": "admin"}))
    );
    let boss = json!({"name": "zhou", "password": PASSWORD, "role": "boss"});
    let (status, body) = create_user(&server, boss).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("role: admin or staff"))
    );

    // A staff account does the console's work...
    let li = sign_in(&server, "li", PASSWORD).await;
    let get = |path: &'static str| as_session(&server, &li, reqwest::Method::GET, path, None);
    assert_eq!(get("/api/v1/session").await.1["role"], "staff");
    assert_eq!(
        get("/api/v1/me").await.1,
        json!({"role": "staff", "name": "li"})
    );
    let settings = Some(json!({"k": 5}));
    let (status, _) = as_session(
        &server,
        &li,
        reqwest::Method::PUT,
        "/api/v1/settings",
        settings,
    )
    .await;
    assert_eq!(status, 200);
    // ...but manages no account.
    let refused = "staff accounts are managed by admins only: this account's role is staff";
    let post = reqwest::Method::POST;
    for (method, path, body) in [
        (reqwest::Method::GET, "/api/v1/users", None),
        (
            post.clone(),
            "/api/v1/users",
            Some(json!({"name": "zhao", "password": PASSWORD})),
        ),
        (post.clone(), "/api/v1/users/wang/disable", None),
        (post.clone(), "/api/v1/users/wang/enable", None),
        (post.clone(), "/api/v1/users/wang/end-sessions", None),
        (post.clone(), "/api/v1/users/wang/unlock", None),
    ] {
        let (status, body) = as_session(&server, &li, method, path, body).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some(refused)),
            "{path}"
        );
    }
    // An admin account's session does, with its CSRF token.
    let wang = sign_in(&server, "wang", PASSWORD).await;
    let zhao = Some(json!({"name": "zhao", "password": PASSWORD}));
    let (status, body) = as_session(&server, &wang, post.clone(), "/api/v1/users", zhao).await;
    assert_eq!(
        (status, body),
        (201, json!({"name": "zhao", "role": "staff"}))
    );
    let (status, _) = answer(
        server
            .client
            .post(format!("{}/api/v1/users/zhao/disable", server.url))
            .header("cookie", &wang.0),
    )
    .await;
    assert_eq!(status, 403, "no CSRF token");
    let li = listed(&server, "li").await;
    let created_at = li["created_at"].as_str().unwrap().to_string();
    assert_eq!(
        li,
        json!({"name": "li", "role": "staff", "created_at": created_at,
               "created_by": "admin-token", "disabled_at": null, "disabled_by": null,
               "locked_until": null})
    );
    assert_eq!(listed(&server, "zhao").await["created_by"], "wang");
    let rows = trail(&server).await;
    let created: Vec<_> = rows.iter().filter(|r| r.1 == "user_created").collect();
    assert_eq!(
        created,
        vec![
            &(
                "env".into(),
                "user_created".into(),
                "admin".into(),
                "first staff account, from WEIBING_ADMIN_PASSWORD".into()
            ),
            &(
                "admin-token".into(),
                "user_created".into(),
                "li".into(),
                "role staff".into()
            ),
            &(
                "admin-token".into(),
                "user_created".into(),
                "wang".into(),
                "role admin".into()
            ),
            &(
                "wang".into(),
                "user_created".into(),
                "zhao".into(),
                "role staff".into()
            ),
        ]
    );
    // Roles are kept across a restart.
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    let li = sign_in(&server, "li", PASSWORD).await;
    let (_, session) =
        as_session(&server, &li, reqwest::Method::GET, "/api/v1/session", None).await;
    assert_eq!(session["role"], "staff");
    assert_eq!(listed(&server, "wang").await["role"], "admin");
    server.stop().await;
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_and_its_sessions_end() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    assert_eq!(
        create_user(&server, json!({"name": "li", "password": PASSWORD}))
            .await
            .0,
        201
    );
    let first = sign_in(&server, "li", PASSWORD).await;
    let second = sign_in(&server, "li", PASSWORD).await;
    let mut request = server.ws_url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", first.0.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut ws = WsClient { socket };
    assert_eq!(ws.next_json().await["type"], "snapshot");

    let (status, body) = server
        .post_admin("/api/v1/users/li/disable", &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["disabled_by"].as_str(),
            body["disabled_at"].is_string()
        ),
        (Some("admin-token"), true)
    );
    let ended = loop {
        let m = ws.next_json().await;
        if m["type"] == "ended" {
            break m;
        }
    };
    assert_eq!(ended, json!({"type": "ended", "reason": "revoked"}));
    assert_eq!(session_status(&server, &first).await, 401);
    assert_eq!(session_status(&server, &second).await, 401);
    let disabled = "this staff account is disabled: ask an admin";
    let (status, body) = login_status(&server, "li", PASSWORD).await;
    assert_eq!((status, body["error"].as_str()), (403, Some(disabled)));
    // A wrong password gets the usual answer: the state is told only to who knows the password.
    let (status, body) = login_status(&server, "li", "not-the-password").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("name or password is wrong"))
    );
    // Disabling twice changes nothing more.
    assert_eq!(
        server
            .post_admin("/api/v1/users/li/disable", &json!({}))
            .await
            .0,
        200
    );
    // The last enabled admin account is kept; an unknown name is named.
    let (status, body) = server
        .post_admin("/api/v1/users/admin/disable", &json!({}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            409,
            Some("name: \"admin\" is the last enabled admin account; make another admin first")
        )
    );
    let (status, body) = server
        .post_admin("/api/v1/users/nobody/disable", &json!({}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("name: no staff account \"nobody\""))
    );
    // Disabled across a restart, until enabled.
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    assert_eq!(login_status(&server, "li", PASSWORD).await.0, 403);
    let (status, body) = server
        .post_admin("/api/v1/users/li/enable", &json!({}))
        .await;
    assert_eq!((status, &body["disabled_at"]), (200, &Value::Null));
    assert_eq!(login_status(&server, "li", PASSWORD).await.0, 200);
    let rows: Vec<_> = trail(&server)
        .await
        .into_iter()
        .filter(|r| r.2 == "li" || r.0 == "li")
        .map(|r| (r.0, r.1, r.3))
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        rows,
        vec![
            s("admin-token", "user_created", "role staff"),
            s("li", "login", ""),
            s("li", "login", ""),
            s("admin-token", "user_disabled", ""),
            s("li", "login_failed", "account disabled"),
            s("li", "login_failed", ""),
            s("li", "login_failed", "account disabled"),
            s("admin-token", "user_enabled", ""),
            s("li", "login", ""),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn an_admin_ends_every_session_of_an_account() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    assert_eq!(
        create_user(&server, json!({"name": "li", "password": PASSWORD}))
            .await
            .0,
        201
    );
    let sessions = [
        sign_in(&server, "li", PASSWORD).await,
        sign_in(&server, "li", PASSWORD).await,
    ];
    let admin = sign_in(&server, "admin", PASSWORD).await;
    let path = "/api/v1/users/li/end-sessions";
    let (status, body) = as_session(&server, &admin, reqwest::Method::POST, path, None).await;
    assert_eq!((status, body), (200, json!({"name": "li", "ended": 2})));
    for s in &sessions {
        assert_eq!(session_status(&server, s).await, 401);
    }
    assert_eq!(
        session_status(&server, &admin).await,
        200,
        "the admin's own stays"
    );
    // The account itself is not disabled.
    assert_eq!(login_status(&server, "li", PASSWORD).await.0, 200);
    assert!(trail(&server).await.contains(&(
        "admin".into(),
        "user_sessions_ended".into(),
        "li".into(),
        "2 sessions".into()
    )));
    // Ended in the store too: a restart does not bring them back.
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    for s in &sessions {
        assert_eq!(session_status(&server, s).await, 401);
    }
    server.stop().await;
}

#[tokio::test]
async fn an_account_changes_its_own_password_and_ends_its_other_sessions() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    assert_eq!(
        create_user(&server, json!({"name": "li", "password": PASSWORD}))
            .await
            .0,
        201
    );
    let this = sign_in(&server, "li", PASSWORD).await;
    let other = sign_in(&server, "li", PASSWORD).await;
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        as_session(
            &server,
            &this,
            reqwest::Method::POST,
            "/api/v1/password",
            Some(body),
        )
    };
    const NEW: &str = "a new password 2";
    for ((current, new), error) in [
        (
            ("not-the-password", NEW),
            "current_password: not this account's password",
        ),
        ((PASSWORD, "short"), "new_password: at least 10 characters"),
        (
            (PASSWORD, PASSWORD),
            "new_password: the same as the current one",
        ),
    ] {
        let (status, body) = change(current, new).await;
        assert_eq!((status, body["error"].as_str()), (400, Some(error)));
    }
    let no_csrf = answer(
        server
            .client
            .post(format!("{}/api/v1/password", server.url))
            .header("cookie", &this.0)
            .json(&json!({"current_password": PASSWORD, "new_password": NEW})),
    )
    .await;
    assert_eq!(no_csrf.0, 403);
    let (status, body) = change(PASSWORD, NEW).await;
    assert_eq!(
        (status, body),
        (200, json!({"name": "li", "other_sessions_ended": 1}))
    );
    assert_eq!(
        session_status(&server, &this).await,
        200,
        "this session goes on"
    );
    assert_eq!(session_status(&server, &other).await, 401);
    assert_eq!(login_status(&server, "li", PASSWORD).await.0, 401);
    assert_eq!(login_status(&server, "li", NEW).await.0, 200);
    // The admin token has no password.
    let body = json!({"current_password": "x", "new_password": NEW});
    let (status, body) = server.post_admin("/api/v1/password", &body).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            400,
            Some("the admin token has no password: sign in to the console with a staff account")
        )
    );
    let rows = trail(&server).await;
    assert!(rows.contains(&(
        "li".into(),
        "password_changed".into(),
        "li".into(),
        "1 other sessions ended".into()
    )));
    assert!(rows.contains(&(
        "li".into(),
        "password_change_failed".into(),
        "li".into(),
        "current password wrong".into()
    )));
    // A stolen session cannot guess the password faster than a sign-in:
    // the same limits hold (the earlier wrong guess was cleared by the success).
    for _ in 0..5 {
        assert_eq!(change("guess-guess-guess", "another password").await.0, 400);
    }
    let (status, body) = change("guess-guess-guess", "another password").await;
    assert_eq!(status, 429);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("too many failed sign-ins from this address"),
        "{body}"
    );
    // The new password survives a restart.
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    assert_eq!(login_status(&server, "li", NEW).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn accounts_made_before_roles_are_admins() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    server.stop().await;
    {
        let db = open_db(dir.path());
        db.execute_batch(
            "ALTER TABLE users DROP COLUMN role;
             ALTER TABLE users DROP COLUMN disabled_at;
             ALTER TABLE users DROP COLUMN disabled_by;",
        )
        .unwrap();
    }
    let server = TestServer::start(dir.path()).await;
    let admin = listed(&server, "admin").await;
    assert_eq!(
        (&admin["role"], &admin["disabled_at"]),
        (&json!("admin"), &Value::Null)
    );
    let session = sign_in(&server, "admin", PASSWORD).await;
    let (_, body) = as_session(
        &server,
        &session,
        reqwest::Method::GET,
        "/api/v1/session",
        None,
    )
    .await;
    assert_eq!(body["role"], "admin");
    server.stop().await;
}
