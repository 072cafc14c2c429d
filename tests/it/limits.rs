//! Limits on guessing and where credentials may travel: parallel sign-ins,
//! the per-account lockout and its unlock, IPv6 prefixes, unknown tokens,
//! the length of the admin token and the ingest key, `?token=`, HSTS, the
//! `__Host-` cookie, the websocket's Origin, and the caller's address behind
//! a proxy.

use std::time::Instant;

use crate::common::*;
use serde_json::{Value, json};
use weibing::config::Config;

const PASSWORD: &str = "test-password-1";

/// A server that believes `X-Forwarded-For` from 127.0.0.1 (so a test can
/// speak from many addresses).
async fn behind_proxy(dir: &std::path::Path) -> TestServer {
    let mut config = Config::for_tests(dir);
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    TestServer::start_with(config).await
}

/// A sign-in from `from` (an `X-Forwarded-For` value, or none):
/// (status, Retry-After, error message).
async fn sign_in(
    server: &TestServer,
    from: Option<&str>,
    name: &str,
    password: &str,
) -> (u16, Option<u64>, String) {
    let mut r = server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .json(&json!({"name": name, "password": password}));
    if let Some(from) = from {
        r = r.header("x-forwarded-for", from);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let error = body["error"].as_str().unwrap_or("").to_string();
    (status, retry, error)
}

/// The audit rows, newest first: (action, actor, address, detail).
async fn trail(server: &TestServer) -> Vec<(String, String, String, String)> {
    let (_, audit) = server.get_admin("/api/v1/audit?limit=1000").await;
    audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("action"), s("actor"), s("address"), s("detail"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_parallel_wrong_sign_ins_from_one_address_check_five_passwords() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let started = Instant::now();
    let attempts: Vec<_> = (0..60)
        .map(|_| {
            let (client, url) = (server.client.clone(), server.url.clone());
            tokio::spawn(async move {
                let r = client
                    .post(format!("{url}/api/v1/login"))
                    .json(&json!({"name": "admin", "password": "wrong-password"}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let retry = r.headers().get("retry-after").is_some();
                let body: Value = r.json().await.unwrap();
                (status, retry, body["error"].as_str().unwrap().to_string())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for a in attempts {
        answers.push(a.await.unwrap());
    }
    println!("60 parallel sign-ins answered in {:?}", started.elapsed());
    let checked = answers.iter().filter(|a| a.0 == 401).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert_eq!((checked, refused.len()), (5, 55), "{answers:?}");
    for (_, retry, error) in &refused {
        assert!(retry, "Retry-After on every 429");
        assert!(
            error.starts_with("too many failed sign-ins from this address: try again in "),
            "{error}"
        );
    }
    // Five password checks in the trail, and one row for the 55 refusals.
    let rows = trail(&server).await;
    let count = |action: &str| rows.iter().filter(|r| r.0 == action).count();
    assert_eq!((count("login_failed"), count("login_refused")), (5, 1));
    let refusal = rows.iter().find(|r| r.0 == "login_refused").unwrap();
    assert_eq!(
        refusal.3,
        "too many failures from this address; further refusals from this address are not recorded for 15 minutes"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_checks_beyond_eight_at_once_are_refused_at_once() {
    let dir = temp_dir();
    let server = behind_proxy(dir.path()).await;
    // Sixty callers, each its own address and name: no limit of theirs is
    // reached, only the bound on checks running at once.
    let attempts: Vec<_> = (0..60)
        .map(|i| {
            let (client, url) = (server.client.clone(), server.url.clone());
            tokio::spawn(async move {
                let r = client
                    .post(format!("{url}/api/v1/login"))
                    .header("x-forwarded-for", format!("198.51.100.{i}"))
                    .json(&json!({"name": format!("n{i}"), "password": "wrong-password"}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                let body: Value = r.json().await.unwrap();
                (status, retry, body["error"].as_str().unwrap().to_string())
            })
        })
        .collect();
    let mut busy = 0;
    for a in attempts {
        match a.await.unwrap() {
            (401, None, e) => assert_eq!(e, "name or password is wrong"),
            (429, Some(retry), e) => {
                assert_eq!(retry, "1");
                assert_eq!(
                    e,
                    "too many sign-ins are being checked at once: try again in 1 s"
                );
                busy += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // How many met a full bound depends on the machine's pace: printed, not asserted.
    println!("{busy} of 60 parallel sign-ins met eight checks running");
    server.stop().await;
}

#[tokio::test]
async fn ten_failures_lock_a_name_from_every_address_until_an_admin_unlocks_it() {
    let dir = temp_dir();
    let server = behind_proxy(dir.path()).await;
    for i in 0..10 {
        let from = format!("203.0.113.{i}");
        let (status, _, error) = sign_in(&server, Some(&from), "admin", "wrong-password").await;
        assert_eq!((status, error.as_str()), (401, "name or password is wrong"));
    }
    // The eleventh, from an address of its own, with the right password.
    let (status, retry, error) = sign_in(&server, Some("203.0.113.99"), "admin", PASSWORD).await;
    let retry = retry.expect("Retry-After");
    assert_eq!(status, 429);
    assert!((890..=900).contains(&retry), "{retry}");
    assert_eq!(
        error,
        format!(
            "too many failed sign-ins for this name: it is locked; try again in {retry} s, or ask an admin to unlock it"
        )
    );
    // A name no account has is locked the same way: the answers do not tell
    // whether an account exists.
    for i in 0..10 {
        let from = format!("203.0.114.{i}");
        let (status, _, error) = sign_in(&server, Some(&from), "nobody", "wrong-password").await;
        assert_eq!((status, error.as_str()), (401, "name or password is wrong"));
    }
    let (status, retry, error) =
        sign_in(&server, Some("203.0.114.99"), "nobody", "wrong-password").await;
    assert_eq!(status, 429);
    assert_eq!(
        error,
        format!(
            "too many failed sign-ins for this name: it is locked; try again in {} s, or ask an admin to unlock it",
            retry.unwrap()
        )
    );
    // The console lists the lock; an admin clears it.
    let (_, users) = server.get_admin("/api/v1/users").await;
    assert!(users["users"][0]["locked_until"].is_string(), "{users}");
    let (status, body) = server
        .post_admin("/api/v1/users/admin/unlock", &json!({}))
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"name": "admin", "was_locked": true}))
    );
    let (_, users) = server.get_admin("/api/v1/users").await;
    assert_eq!(users["users"][0]["locked_until"], Value::Null);
    assert_eq!(
        sign_in(&server, Some("203.0.113.99"), "admin", PASSWORD)
            .await
            .0,
        200
    );
    let (status, body) = server
        .post_admin("/api/v1/users/nobody/unlock", &json!({}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("name: no staff account \"nobody\""))
    );
    let rows = trail(&server).await;
    assert!(
        rows.contains(&(
            "user_unlocked".into(),
            "admin-token".into(),
            "127.0.0.1".into(),
            "was locked".into()
        )),
        "{rows:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn ipv6_callers_are_counted_by_their_64_prefix() {
    let dir = temp_dir();
    let server = behind_proxy(dir.path()).await;
    for i in 1..=5 {
        let from = format!("2001:db8:1:2::{i}");
        assert_eq!(
            sign_in(&server, Some(&from), "admin", "wrong-password")
                .await
                .0,
            401
        );
    }
    let (status, _, error) =
        sign_in(&server, Some("2001:db8:1:2:ffff::1"), "admin", PASSWORD).await;
    assert_eq!(status, 429);
    assert!(
        error.starts_with("too many failed sign-ins from this address"),
        "{error}"
    );
    // The next /64 is another caller.
    assert_eq!(
        sign_in(&server, Some("2001:db8:1:3::1"), "admin", PASSWORD)
            .await
            .0,
        200
    );
    // The trail keeps the whole address.
    let rows = trail(&server).await;
    assert!(
        rows.iter()
            .any(|r| r.0 == "login_refused" && r.2 == "2001:db8:1:2:ffff::1")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_hundred_unknown_tokens_from_an_address_close_it_for_a_while() {
    let dir = temp_dir();
    let server = behind_proxy(dir.path()).await;
    let get = |token: String, from: Option<&'static str>| {
        let mut r = server
            .client
            .get(format!("{}/api/v1/snapshot", server.url))
            .bearer_auth(token);
        if let Some(from) = from {
            r = r.header("x-forwarded-for", from);
        }
        async move {
            let r = r.send().await.unwrap();
            let retry = r.headers().get("retry-after").cloned();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (
                status,
                retry,
                body["error"].as_str().unwrap_or("").to_string(),
            )
        }
    };
    // Unknown tokens, half as bearer on reads, half as ingest keys.
    for i in 0..100 {
        let token = format!("guess-{i:040}");
        if i % 2 == 0 {
            assert_eq!(get(token, None).await.0, 401, "guess {i}");
        } else {
            let (status, _) = server
                .post_with_key(Some(&token), "application/x-ndjson", "{}")
                .await;
            assert_eq!(status, 401, "guess {i}");
        }
    }
    let (status, retry, error) = get("guess-101".into(), None).await;
    assert_eq!(status, 429);
    let retry: u64 = retry.unwrap().to_str().unwrap().parse().unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    assert_eq!(
        error,
        format!("too many unknown tokens from this address: try again in {retry} s")
    );
    // Every token from that address waits, the right ones too (no oracle)...
    assert_eq!(get(ADMIN_TOKEN.into(), None).await.0, 429);
    let (status, body) = server.post("application/x-ndjson", "{}").await;
    assert_eq!(status, 429, "{body}");
    // ...and other addresses do not.
    assert_eq!(get(ADMIN_TOKEN.into(), Some("198.51.100.7")).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_short_admin_token_or_ingest_key_stops_the_start() {
    for (variable, other, flag) in [
        ("WEIBING_ADMIN_TOKEN", "WEIBING_INGEST_KEY", "--admin-token"),
        ("WEIBING_INGEST_KEY", "WEIBING_ADMIN_TOKEN", "--ingest-key"),
    ] {
        let dir = temp_dir();
        let mut child = Binary(
            std::process::Command::new(env!("CARGO_BIN_EXE_weibing"))
                .args(["serve", "--listen", "127.0.0.1:0", "--data"])
                .arg(dir.path())
                .env(variable, "0123456789abcdefghijklmnopqrstu")
                .env(other, "0123456789abcdefghijklmnopqrstuv")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // A server that starts would serve until killed (the Binary's drop).
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{variable}: the start was not refused"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert!(!status.success(), "{variable}: the start is refused");
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        let message = format!(
            "{variable} ({flag}) has 31 characters; at least 32 are needed (make one with `openssl rand -hex 32`)"
        );
        assert!(stderr.contains(&message), "{stderr}");
        assert!(
            !stderr.contains("0123456789abcdefghijklmnopqrstu"),
            "the value is not shown"
        );
    }
    // 32 characters are enough.
    let dir = temp_dir();
    let mut config = Config::for_tests(dir.path());
    config.admin_token = Some("0123456789abcdefghijklmnopqrstuv".into());
    let server = TestServer::start_with(config).await;
    server.stop().await;
}

#[tokio::test]
async fn query_tokens_are_for_links_and_walls_only() {
    use tokio_tungstenite::tungstenite::Error;
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (_, link) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "link", "label": "领导"}),
        )
        .await;
    let (_, wall) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "wall", "label": "大厅"}),
        )
        .await;
    let get = |path: String| answer(server.client.get(format!("{}{path}", server.url)));
    let (status, body) = get(format!("/api/v1/snapshot?token={ADMIN_TOKEN}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            401,
            Some(
                "?token= takes only share links and wall tokens: send the admin token as Authorization: Bearer"
            )
        )
    );
    let url = format!("{}?token={ADMIN_TOKEN}", server.ws_url);
    match tokio_tungstenite::connect_async(&url).await {
        Err(Error::Http(response)) => assert_eq!(response.status().as_u16(), 401),
        other => panic!(
            "the admin token's socket in ?token= is refused: {:?}",
            other.map(|_| ())
        ),
    }
    // The same token as a header opens both.
    assert_eq!(server.get_admin("/api/v1/snapshot").await.0, 200);
    let mut staff = server.ws().await;
    assert_eq!(staff.next_json().await["type"], "snapshot");
    // A link and a wall in ?token=, as their pages send them.
    let link = link["token"].as_str().unwrap();
    let wall = wall["token"].as_str().unwrap();
    assert_eq!(
        get(format!("/api/v1/me?token={link}")).await.1["role"],
        "viewer"
    );
    assert_eq!(
        get(format!("/api/v1/me?token={wall}")).await.1["role"],
        "wall"
    );
    for token in [link, wall] {
        let mut ws = server.ws_as(token).await;
        assert_eq!(ws.next_json().await["type"], "snapshot");
    }
    server.stop().await;
}

#[tokio::test]
async fn behind_https_answers_carry_hsts_and_the_cookie_is_host_prefixed() {
    let dir = temp_dir();
    let mut config = Config::for_tests(dir.path());
    config.secure_cookies = true;
    let server = TestServer::start_with(config).await;
    for path in ["/healthz", "/api/v1/snapshot", "/"] {
        let r = server
            .client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
    let r = server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .json(&json!({"name": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    let token = cookie
        .strip_prefix("__Host-weibing_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("the __Host- cookie")
        .to_string();
    assert_eq!(
        cookie,
        format!(
            "__Host-weibing_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200; Secure"
        )
    );
    let session = |cookie: String| {
        answer(
            server
                .client
                .get(format!("{}/api/v1/session", server.url))
                .header("cookie", cookie),
        )
    };
    assert_eq!(
        session(format!("__Host-weibing_session={token}")).await.0,
        200
    );
    // The plain name, which another host of the site could set, is not read.
    assert_eq!(session(format!("weibing_session={token}")).await.0, 401);
    let r = server
        .client
        .post(format!("{}/api/v1/logout", server.url))
        .header("cookie", format!("__Host-weibing_session={token}"))
        .header("x-csrf-token", body["csrf"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["set-cookie"],
        "__Host-weibing_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
    );
    server.stop().await;

    // Over plain HTTP: no HSTS, the plain cookie.
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let r = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_session_socket_opens_only_from_the_servers_own_origin() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let r = server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .json(&json!({"name": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let upgrade = |origin: Option<&str>, cookie: Option<&str>, bearer: bool| {
        let mut request = server.ws_url.as_str().into_client_request().unwrap();
        let headers = request.headers_mut();
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().unwrap());
        }
        if let Some(cookie) = cookie {
            headers.insert("cookie", cookie.parse().unwrap());
        }
        if bearer {
            let value = format!("Bearer {ADMIN_TOKEN}").parse().unwrap();
            headers.insert("authorization", value);
        }
        async move {
            match tokio_tungstenite::connect_async(request).await {
                Ok((_, response)) => (response.status().as_u16(), String::new()),
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    let body = response.body().clone().unwrap_or_default();
                    (response.status().as_u16(), String::from_utf8(body).unwrap())
                }
                Err(e) => panic!("{e}"),
            }
        }
    };
    let own = server.url.clone();
    let port = own.rsplit(':').next().unwrap();
    assert_eq!(upgrade(Some(&own), Some(&cookie), false).await.0, 101);
    // The port is not compared (a proxy may pass the host without it).
    let other_port = if port == "9" {
        "http://127.0.0.1:8"
    } else {
        "http://127.0.0.1:9"
    };
    assert_eq!(upgrade(Some(other_port), Some(&cookie), false).await.0, 101);
    assert_eq!(upgrade(None, Some(&cookie), false).await.0, 101);
    let (status, body) = upgrade(Some("https://evil.example"), Some(&cookie), false).await;
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "Origin: a console session's websocket opens only from this server's own pages"
    );
    // A bearer token proves itself: its Origin does not matter.
    assert_eq!(
        upgrade(Some("https://evil.example"), None, true).await.0,
        101
    );
    server.stop().await;
}

#[tokio::test]
async fn behind_a_proxy_the_caller_is_the_first_untrusted_hop_from_the_right() {
    let dir = temp_dir();
    let mut config = Config::for_tests(dir.path());
    // The proxy at 127.0.0.1 and, in front of it, one at 10.0.0.2.
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
    let server = TestServer::start_with(config).await;
    // (X-Forwarded-For headers in order, the caller the trail shows)
    let chains: [(&[&str], &str); 10] = [
        (&[], "127.0.0.1"),
        (&["203.0.113.7"], "203.0.113.7"),
        // A client's own claim before the proxy's hop is not believed.
        (&["10.9.9.9, 203.0.113.7"], "203.0.113.7"),
        // Through both proxies: the hop 10.0.0.2 added is believed.
        (&["198.51.100.1, 203.0.113.8, 10.0.0.2"], "203.0.113.8"),
        // Two headers read as one list.
        (&["198.51.100.1", "203.0.113.9"], "203.0.113.9"),
        // Ports and brackets, and an IPv4-mapped address.
        (&["203.0.113.10:5555"], "203.0.113.10"),
        (&["[2001:db8::7]:443"], "2001:db8::7"),
        (&["::ffff:203.0.113.11"], "203.0.113.11"),
        // A hop that is no address stops the walk at the proxy that added it.
        (&["203.0.113.12, unknown"], "127.0.0.1"),
        (&["203.0.113.13, garbage, 10.0.0.2"], "10.0.0.2"),
    ];
    for (i, (headers, _)) in chains.iter().enumerate() {
        let mut r = server
            .client
            .post(format!("{}/api/v1/login", server.url))
            .json(&json!({"name": format!("chain-{i}"), "password": "wrong-password"}));
        for h in *headers {
            r = r.header("x-forwarded-for", *h);
        }
        assert_eq!(r.send().await.unwrap().status(), 401, "{headers:?}");
    }
    let rows = trail(&server).await;
    for (i, (headers, caller)) in chains.iter().enumerate() {
        let row = rows
            .iter()
            .find(|r| r.1 == format!("chain-{i}"))
            .unwrap_or_else(|| panic!("chain {i} in the trail"));
        assert_eq!(&row.2, caller, "{headers:?}");
    }
    server.stop().await;

    // A peer that is not a trusted proxy is the caller, whatever it forwards.
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let r = server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({"name": "plain", "password": "wrong-password"}));
    assert_eq!(r.send().await.unwrap().status(), 401);
    assert_eq!(trail(&server).await[0].2, "127.0.0.1");
    server.stop().await;
}
