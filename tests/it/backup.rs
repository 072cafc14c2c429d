//! Backup and restore with the real binary: `weibing backup` of a stopped
//! server's data folder, `weibing restore` into a new one, and a server on the
//! restored folder that serves exactly what the original served.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};
use sha2::Digest;

const PASSWORD: &str = "test-password-1";
const TS: &str = "2017-06-28T10:00:00+08:00";
const TABLES: [&str; 12] = [
    "audit",
    "credential_addresses",
    "credentials",
    "events",
    "ingest_requests",
    "ledger",
    "rejected",
    "review_closed",
    "sessions",
    "settings",
    "team_registry",
    "users",
];

/// Runs the real binary: (success, stdout, stderr).
fn weibing(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weibing"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8(out.stderr).expect("UTF-8"),
    )
}

fn text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// The tables and rows a backup or restore printed ("  events   869 rows").
fn printed_rows(stdout: &str) -> Vec<(String, u64)> {
    stdout
        .lines()
        .filter_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [table, rows, "rows", ..] => Some((table.to_string(), rows.parse().ok()?)),
                _ => None,
            },
        )
        .collect()
}

fn manifest(folder: &Path) -> Value {
    let text = std::fs::read_to_string(folder.join("manifest.json")).expect("a manifest");
    serde_json::from_str(&text).expect("the manifest is JSON")
}

/// Rows per table of a stopped server's database.
fn table_rows(dir: &Path) -> Vec<(String, u64)> {
    let db = open_db(dir);
    TABLES
        .iter()
        .map(|t| {
            let n = count(&db, &format!("SELECT count(*) FROM {t}"));
            (t.to_string(), n as u64)
        })
        .collect()
}

/// Every table of `restored` holds exactly the rows of `original`.
fn assert_same_rows(original: &Path, restored: &Path) {
    let db = open_db(restored);
    let path = original.join("weibing.duckdb");
    db.execute_batch(&format!("ATTACH '{}' AS original (READ_ONLY)", text(&path)))
        .unwrap();
    for t in TABLES {
        let differing = count(
            &db,
            &format!(
                "SELECT count(*) FROM (
                   (SELECT * FROM original.{t} EXCEPT ALL SELECT * FROM {t})
                   UNION ALL
                   (SELECT * FROM {t} EXCEPT ALL SELECT * FROM original.{t}))"
            ),
        );
        assert_eq!(differing, 0, "rows of {t} differ");
    }
}

/// A snapshot without what belongs to the moment of the request: the
/// envelope's epoch, seq and time, the trend's minutes (the server clock's;
/// its counts stay), the pace towards targets (growth seen by this process)
/// and the alerts (which compare recent minutes of this process).
fn timeless(mut snapshot: Value) -> Value {
    let envelope = snapshot.as_object_mut().expect("an envelope");
    for key in ["epoch", "seq", "as_of"] {
        assert!(envelope.remove(key).is_some(), "{key} in the envelope");
    }
    let state = &mut envelope["state"];
    let trend: Vec<Value> = state["trend"]
        .as_array()
        .expect("a trend")
        .iter()
        .map(|point| point["scans"].clone())
        .collect();
    state["trend"] = Value::Array(trend);
    for target in state["targets"]
        .as_object_mut()
        .expect("targets")
        .values_mut()
    {
        let target = target.as_object_mut().expect("a target");
        target.remove("per_minute");
        target.remove("eta");
    }
    state.as_object_mut().expect("a state").remove("alerts");
    // The wall's order keeps places along the path the figures took, and
    // the month closes come from a background task in its own time.
    let index = state["index"].as_object_mut().expect("an index");
    for key in ["order", "order_since", "months"] {
        index.remove(key);
    }
    for district in state["districts"]
        .as_object_mut()
        .expect("districts")
        .values_mut()
    {
        let district = district.as_object_mut().expect("a district");
        district.remove("history");
        district.remove("change");
    }
    snapshot
}

/// A staff session: (cookie, csrf).
async fn login(server: &TestServer) -> (String, String) {
    let r = server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .json(&json!({"name": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    (cookie, body["csrf"].as_str().unwrap().to_string())
}

async fn create(server: &TestServer, body: Value) -> Value {
    let (status, created) = server.post_admin("/api/v1/credentials", &body).await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn get_as(server: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let request = server.client.get(format!("{}{path}", server.url));
    crate::common::answer(request.bearer_auth(token)).await
}

/// What a server shows staff and readers, apart from the moment of asking.
#[derive(Debug, PartialEq)]
struct Seen {
    staff: Value,
    credentials: Value,
    audit: Vec<String>,
    rejected: Value,
    keys: Value,
    users: Value,
    settings: Value,
    session: (u16, Value),
    city: Value,
    district: Value,
}

async fn look(server: &TestServer, cookie: &str, city: &str, district: &str) -> Seen {
    let admin = |path: &'static str| server.get_admin(path);
    let (_, mut credentials) = admin("/api/v1/credentials").await;
    // The last use is the moment of the last request (kept in memory between
    // the writes to the store); the store's own rows are compared whole.
    for c in credentials["credentials"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("last_used_at");
    }
    let (_, audit) = admin("/api/v1/audit").await;
    // Rows written in the same microsecond may come in either order.
    let mut audit: Vec<String> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        // Looking at the rejected records is itself audited: not compared.
        .filter(|row| !row.contains("\"rejected_viewed\""))
        .collect();
    audit.sort();
    let (_, rejected) = admin("/api/v1/rejected").await;
    let (_, ingest) = admin("/api/v1/ingest").await;
    let (_, users) = admin("/api/v1/users").await;
    let (_, settings) = admin("/api/v1/settings").await;
    let session = crate::common::answer(
        server
            .client
            .get(format!("{}/api/v1/session", server.url))
            .header("cookie", cookie),
    )
    .await;
    let staff = timeless(server.snapshot().await);
    let (status, city_view) = get_as(server, "/api/v1/snapshot", city).await;
    assert_eq!(status, 200);
    let (status, district_view) = get_as(server, "/api/v1/snapshot", district).await;
    assert_eq!(status, 200);
    Seen {
        staff,
        credentials,
        audit,
        rejected,
        keys: ingest["keys"].clone(),
        users,
        settings,
        session,
        city: timeless(city_view),
        district: timeless(district_view),
    }
}

/// Polls the audit trail until it holds `n` rows of `action`.
async fn wait_for_audit(server: &TestServer, action: &str, n: usize) {
    for _ in 0..200 {
        let (_, audit) = server.get_admin("/api/v1/audit").await;
        let found = audit["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == action)
            .count();
        if found == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the audit trail never held {n} rows of {action}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restored_folder_serves_what_the_original_served() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = TestServer::start(&data).await;

    // Events of every kind (the fixture), some rejected, one duplicate.
    let lines = fixture_lines();
    let (first, second) = lines.split_at(400);
    let answer = server.ndjson(first).await;
    assert_eq!(answer["accepted"], 400);
    let (status, answer) = server
        .post(
            "application/json",
            Value::Array(second.to_vec()).to_string(),
        )
        .await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(467)));
    let bad = [
        scan("bk-1", "110101", "p-backup-0001", TS),
        json!({"id": "bk-2", "ts": TS, "kind": "scan", "district": "999999", "person": "p-backup-0002"}),
        json!({"id": "bk-3", "ts": "not a time", "kind": "scan", "district": "110101", "person": "p-backup-0003"}),
        json!({"id": "bk-4", "ts": TS, "kind": "assess", "district": "110101", "person": "p-backup-0001", "colour": "purple"}),
        lines[0].clone(),
    ];
    let answer = server.ndjson(&bad).await;
    assert_eq!(
        (
            &answer["accepted"],
            &answer["duplicates"],
            &answer["rejected"]
        ),
        (&json!(1), &json!(1), &json!(3)),
        "{answer}"
    );

    // Credentials: two links read from, one revoked, a named ingest key that sends.
    let city = create(
        &server,
        json!({"kind": "link", "label": "市领导", "scope": "city"}),
    )
    .await;
    let district = create(
        &server,
        json!({"kind": "link", "label": "丰台", "scope": "110106", "expires_in_hours": 720}),
    )
    .await;
    let revoked = create(&server, json!({"kind": "link", "label": "旧链接"})).await;
    let path = format!(
        "/api/v1/credentials/{}/revoke",
        revoked["id"].as_str().unwrap()
    );
    assert_eq!(server.post_admin(&path, &json!({})).await.0, 200);
    let key = create(&server, json!({"kind": "ingest", "label": "hospital-a"})).await;
    let tok = |v: &Value| v["token"].as_str().unwrap().to_string();
    let (city, district, revoked, key) = (tok(&city), tok(&district), tok(&revoked), tok(&key));
    let (status, answer) = server
        .post_with_key(
            Some(&key),
            "application/x-ndjson",
            format!(
                "{}\n{}",
                scan("bk-h-1", "110106", "p-backup-0101", TS),
                scan("bk-h-2", "110106", "p-backup-0102", TS)
            ),
        )
        .await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(2)));
    for token in [&city, &district] {
        assert_eq!(get_as(&server, "/api/v1/me", token).await.0, 200);
    }
    wait_for_audit(&server, "credential_first_use_from_address", 2).await;

    // Settings: the wall's moment and k.
    let wall = json!({"phase": "before", "countdown_to": "2017-06-28T10:00:00+08:00"});
    assert_eq!(server.post_admin("/api/v1/wall", &wall).await.0, 200);
    let (status, _) = crate::common::answer(
        server
            .client
            .put(format!("{}/api/v1/settings", server.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"k": 3, "alerts": {"key_silent_minutes": 30}})),
    )
    .await;
    assert_eq!(status, 200);
    let (cookie, _csrf) = login(&server).await;

    let scans = lines.iter().filter(|l| l["kind"] == "scan").count() as u64 + 3;
    server
        .wait_for("every scan counted", |s| {
            s["totals"]["scans"] == scans && s["wall"]["phase"] == "before"
        })
        .await;
    let before = look(&server, &cookie, &city, &district).await;
    assert_eq!(before.session.0, 200);
    assert_eq!(before.staff["state"]["totals"]["scans"], scans);
    assert_eq!(before.rejected["rejected"].as_array().unwrap().len(), 3);
    server.stop().await;

    let rows = table_rows(&data);
    // Audit: the first account, four credentials made, one revoked, two
    // first uses, the wall, the settings, the login, the rejected records
    // viewed. Settings: the wall's,
    // the console's, the token of the figures saved at the stop, the
    // ingest log's last loaded segment, and that the rejected records were
    // masked at open.
    let expected: Vec<(String, u64)> = [
        ("audit", 12),
        ("credential_addresses", 2),
        ("credentials", 4),
        ("events", 870),
        ("ingest_requests", 4),
        ("ledger", 0),
        ("rejected", 3),
        ("review_closed", 0),
        ("sessions", 1),
        ("settings", 5),
        ("team_registry", 0),
        ("users", 1),
    ]
    .iter()
    .map(|(t, n)| (t.to_string(), *n))
    .collect();
    assert_eq!(rows, expected);
    let max_seq = count(&open_db(&data), "SELECT max(seq) FROM events");

    // While a server holds the file, the backup is refused and writes nothing.
    let backups = dir.path().join("backups");
    let refused = backups.join("refused");
    let server = TestServer::start(&data).await;
    let (ok, _, stderr) = weibing(&["backup", "--data", text(&data), "--to", text(&refused)]);
    assert!(!ok);
    assert!(
        stderr.contains("is held by another process")
            && stderr.contains("stop the server")
            && stderr.contains("Could not set lock"),
        "{stderr}"
    );
    assert!(!refused.exists());
    server.stop().await;

    // The backup, into an empty folder that exists.
    let first = backups.join("first");
    std::fs::create_dir_all(&first).unwrap();
    let (ok, stdout, stderr) = weibing(&["backup", "--data", text(&data), "--to", text(&first)]);
    assert!(ok, "{stderr}");
    assert_eq!(printed_rows(&stdout), expected);
    let m = manifest(&first);
    let in_manifest: Vec<(String, u64)> = m["tables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(t, n)| (t.clone(), n.as_u64().unwrap()))
        .collect();
    assert_eq!(in_manifest, expected);
    assert_eq!(m["weibing_version"], env!("CARGO_PKG_VERSION"));
    let mut files: Vec<&String> = m["files"].as_object().unwrap().keys().collect();
    files.sort();
    let mut want: Vec<String> = TABLES.iter().map(|t| format!("{t}.parquet")).collect();
    want.extend(["load.sql".to_string(), "schema.sql".to_string()]);
    want.sort();
    assert_eq!(files, want.iter().collect::<Vec<_>>());
    // The data folder is left as it was.
    assert_eq!(table_rows(&data), expected);

    // A backup folder can move: restore reads its files where it is now.
    let moved = dir.path().join("elsewhere");
    std::fs::rename(&first, &moved).unwrap();
    let restored = dir.path().join("restored");
    let (ok, stdout, stderr) =
        weibing(&["restore", "--from", text(&moved), "--data", text(&restored)]);
    assert!(ok, "{stderr}");
    assert_eq!(printed_rows(&stdout), expected);
    assert_eq!(
        std::fs::read_dir(&restored)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect::<Vec<_>>(),
        vec!["weibing.duckdb".to_string()]
    );
    assert_same_rows(&data, &restored);

    // A server on the restored folder serves the same, to staff and readers.
    let server = TestServer::start(&restored).await;
    let after = look(&server, &cookie, &city, &district).await;
    assert_eq!(after, before);
    // Reading with the links again adds nothing to the trail (their address is known).
    assert_eq!(
        look(&server, &cookie, &city, &district).await.audit,
        before.audit
    );
    assert_eq!(get_as(&server, "/api/v1/me", &revoked).await.0, 401);

    // New events get new seqs; an id stored before is still a duplicate.
    let (status, answer) = server
        .post_with_key(
            Some(&key),
            "application/x-ndjson",
            [
                scan("bk-new-1", "110106", "p-backup-0201", TS),
                scan("bk-new-2", "110108", "p-backup-0202", TS),
                lines[5].clone(),
                scan("bk-new-3", "110101", "p-backup-0203", TS),
            ]
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        )
        .await;
    assert_eq!(
        (status, &answer["accepted"], &answer["duplicates"]),
        (200, &json!(3), &json!(1))
    );
    let people = before.staff["state"]["totals"]["people"].as_u64().unwrap() + 3;
    server
        .wait_for("the new people", |s| s["totals"]["people"] == people)
        .await;
    server.stop().await;
    let db = open_db(&restored);
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 873);
    assert_eq!(count(&db, "SELECT count(DISTINCT seq) FROM events"), 873);
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM events WHERE seq > {max_seq}")
        ),
        3
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM events WHERE seq > {max_seq} AND id LIKE 'bk-new-%' AND source = 'hospital-a'"
            )
        ),
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_and_restore_refuse_what_would_lose_or_mix_data() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = TestServer::start(&data).await;
    server
        .ndjson(&[
            scan("rf-1", "110101", "p-refuse-0001", TS),
            scan("rf-2", "110102", "p-refuse-0002", TS),
        ])
        .await;
    server.stop().await;
    let rows = table_rows(&data);

    // A folder that holds anything is not a backup target.
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let (ok, _, stderr) = weibing(&["backup", "--data", text(&data), "--to", text(&busy)]);
    assert!(!ok);
    assert!(stderr.contains("exists and is not empty"), "{stderr}");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "mine"
    );

    // No database, no backup.
    let empty = dir.path().join("no-data");
    let (ok, _, stderr) = weibing(&["backup", "--data", text(&empty), "--to", text(&busy)]);
    assert!(!ok);
    assert!(stderr.contains("no database at"), "{stderr}");

    let good = dir.path().join("good");
    let (ok, _, stderr) = weibing(&["backup", "--data", text(&data), "--to", text(&good)]);
    assert!(ok, "{stderr}");

    // A restore never touches a folder that holds a database.
    let before = std::fs::read(data.join("weibing.duckdb")).unwrap();
    let (ok, _, stderr) = weibing(&["restore", "--from", text(&good), "--data", text(&data)]);
    assert!(!ok);
    assert!(stderr.contains("weibing.duckdb already exists"), "{stderr}");
    assert_eq!(std::fs::read(data.join("weibing.duckdb")).unwrap(), before);
    assert_eq!(table_rows(&data), rows);

    // A folder without a manifest is not a backup (an interrupted one, say).
    let target = dir.path().join("target");
    let (ok, _, stderr) = weibing(&["restore", "--from", text(&data), "--data", text(&target)]);
    assert!(!ok);
    assert!(
        stderr.contains("is not a complete weibing backup: it has no manifest.json"),
        "{stderr}"
    );
    assert!(!target.exists());

    // A file changed since the backup is found before anything is made.
    let copy = |name: &str| {
        let to = dir.path().join(name);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&good).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
        to
    };
    let damaged = copy("damaged");
    let mut bytes = std::fs::read(damaged.join("events.parquet")).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(damaged.join("events.parquet"), bytes).unwrap();
    let (ok, _, stderr) = weibing(&["restore", "--from", text(&damaged), "--data", text(&target)]);
    assert!(!ok);
    assert!(
        stderr.contains("events.parquet differs from its size or SHA-256 in manifest.json"),
        "{stderr}"
    );
    assert!(!target.exists());

    // Rows that do not match the manifest: refused, and no file is left behind.
    let miscounted = copy("miscounted");
    let mut m = manifest(&miscounted);
    m["tables"]["events"] = json!(3);
    std::fs::write(miscounted.join("manifest.json"), m.to_string()).unwrap();
    let (ok, _, stderr) = weibing(&[
        "restore",
        "--from",
        text(&miscounted),
        "--data",
        text(&target),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("table events: the backup holds 3 rows, the restored database 2"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);

    // SQL that is not what a backup holds is refused even when the manifest
    // was rewritten to match it: nothing of it runs.
    let rewrite = |folder: &Path, name: &str, text: &str| {
        std::fs::write(folder.join(name), text).unwrap();
        let mut m = manifest(folder);
        m["files"][name] = json!({
            "bytes": text.len(),
            "sha256": format!("{:x}", sha2::Sha256::digest(text.as_bytes())),
        });
        std::fs::write(folder.join("manifest.json"), m.to_string()).unwrap();
    };
    let outside = dir.path().join("outside.parquet");
    std::fs::copy(good.join("events.parquet"), &outside).unwrap();
    for (name, sql, why) in [
        (
            "load.sql",
            format!(
                "COPY events FROM '{}' (FORMAT 'parquet');",
                outside.display()
            ),
            format!(
                "its SQL is not what a backup of weibing holds (load.sql, statement 1: it loads \"{}\", which is not a Parquet file the manifest names)",
                outside.display()
            ),
        ),
        (
            "schema.sql",
            format!(
                "{}\nATTACH '{}' AS elsewhere;",
                std::fs::read_to_string(good.join("schema.sql"))
                    .unwrap()
                    .trim_end(),
                dir.path().join("elsewhere.duckdb").display()
            ),
            "only CREATE TYPE and CREATE TABLE may appear".to_string(),
        ),
    ] {
        let tampered = copy(&format!("tampered-{name}"));
        rewrite(&tampered, name, &sql);
        let (ok, _, stderr) = weibing(&[
            "restore",
            "--from",
            text(&tampered),
            "--data",
            text(&target),
        ]);
        assert!(!ok);
        assert!(stderr.contains(&why), "{stderr}");
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    }
    assert!(!dir.path().join("elsewhere.duckdb").exists());

    // A backup moved elsewhere reads its own files, not those at the path
    // it was written to.
    let moved = copy("moved");
    std::fs::remove_dir_all(&good).unwrap();
    let (ok, _, stderr) = weibing(&["restore", "--from", text(&moved), "--data", text(&target)]);
    assert!(ok, "{stderr}");
    assert_eq!(table_rows(&target), rows);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_after_kill_9_holds_every_answered_event() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    // Loaded into DuckDB only after a minute: the answered events stay in
    // the ingest log.
    let (mut child, url) = spawn_binary(&data, &["--load-every-ms", "60000"]);
    let body: Vec<String> = (0..50)
        .map(|i| scan(&format!("k9-{i}"), "110105", &format!("p-kill-{i:04}"), TS).to_string())
        .collect();
    let (status, answer) = crate::common::answer(crate::common::ndjson_post(
        &reqwest::Client::new(),
        &url,
        body.join("\n"),
    ))
    .await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(50)));
    child.kill().unwrap();
    child.wait().unwrap();
    // The answered events are in the ingest log, not yet in the database.
    let segments = weibing::store::log::segments(&data.join("weibing.ingest-log")).unwrap();
    assert_eq!(segments.len(), 1);
    assert!(std::fs::metadata(&segments[0].1).unwrap().len() > 0);
    assert_eq!(count(&open_db(&data), "SELECT count(*) FROM events"), 0);

    let backup = dir.path().join("backup");
    let (ok, _, stderr) = weibing(&["backup", "--data", text(&data), "--to", text(&backup)]);
    assert!(ok, "{stderr}");
    assert_eq!(manifest(&backup)["tables"]["events"], 50);
    // The backup loaded the ingest log into the database first, as a start
    // would have.
    assert_eq!(count(&open_db(&data), "SELECT count(*) FROM events"), 50);
    assert!(
        weibing::store::log::segments(&data.join("weibing.ingest-log"))
            .unwrap()
            .is_empty()
    );
    let restored = dir.path().join("restored");
    let (ok, _, stderr) = weibing(&[
        "restore",
        "--from",
        text(&backup),
        "--data",
        text(&restored),
    ]);
    assert!(ok, "{stderr}");
    let server = TestServer::start(&restored).await;
    assert_eq!(server.snapshot().await["state"]["totals"]["people"], 50);
    server.stop().await;
}
