//! Hostile and broken input: each gets a clear answer, none crashes the
//! server or loses the good events beside it.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn broken_lines_never_sink_their_neighbours() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ts = "2017-06-28T10:00:00+08:00";
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let mut body: Vec<u8> = Vec::new();
    body.extend_from_slice(
        scan("ok-1", "110101", "p-00000001", ts)
            .to_string()
            .as_bytes(),
    );
    body.extend_from_slice(b"\n");
    body.extend_from_slice(deep.as_bytes());
    body.extend_from_slice(b"\n{\"id\":\"bad-utf8\",\"person\":\"p-\xff\xfe\"}\n");
    body.extend_from_slice(
        json!({"id": null, "ts": [1], "kind": {"x": 1}, "district": 110101, "person": true})
            .to_string()
            .as_bytes(),
    );
    body.extend_from_slice(b"\n");
    body.extend_from_slice(
        scan("ok-2", "110102", "p-00000002", ts)
            .to_string()
            .as_bytes(),
    );
    let (status, answer) = server.post("application/x-ndjson", body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["rejected"], 3);
    let errors = answer["errors"].as_array().unwrap();
    assert_eq!(errors[0]["line"], 2);
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("not valid JSON: recursion limit exceeded"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[1]["line"], 3);
    assert_eq!(errors[1]["error"], "line is not valid UTF-8 (byte 30)");
    assert_eq!(errors[2]["line"], 4);
    assert_eq!(
        errors[2]["error"],
        "id: must be a string, got null; ts: must be a string, got an array; kind: must be a string, got an object; district: must be a string, got a number; person: must be a string, got a boolean"
    );

    // An empty body is an empty batch.
    assert_eq!(
        server.post("application/x-ndjson", "").await,
        (
            200,
            json!({"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []})
        )
    );
    assert_eq!(
        server.post("application/json", "[]").await,
        (
            200,
            json!({"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []})
        )
    );
    server
        .wait_for("the two good scans", |s| s["totals"]["scans"] == 2)
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn quotes_sql_html_and_control_characters_are_stored_as_text() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ts = "2017-06-28T10:00:00+08:00";
    let nasty = [
        "x'); DROP TABLE events; --",
        "<script>alert(1)</script>",
        "quote \" and \\ backslash",
        "tab\tnewline\ncarriage\rbell\u{7}",
    ];
    let lines: Vec<_> = nasty
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"id": id, "ts": ts, "kind": "service", "district": "110106",
                              "person": format!("p-nasty-{i}"), "team": id, "category": "learning"})
        })
        .collect();
    assert_eq!(server.ndjson(&lines).await["accepted"], 4);
    let snapshot = server
        .wait_for("four services", |s| s["totals"]["services"] == 4)
        .await;
    // Team names reach the team tables as JSON strings, exactly as sent (the
    // pages show them with textContent, never as markup).
    let teams: Vec<&String> = snapshot["state"]["districts"]["110106"]["teams"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let mut sent: Vec<&str> = nasty.to_vec();
    sent.sort();
    assert_eq!(teams, sent);
    server.stop().await;
    let db = open_db(dir.path());
    for id in nasty {
        let team: String = db
            .query_row("SELECT team FROM events WHERE id = ?", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(team, id);
    }
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn static_paths_cannot_climb_out() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    for path in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/..%2f..%2fCargo.toml",
        "/..%2fsrc%2fmain.rs",
        "/assets//etc/passwd",
        "/assets/nothing-here.js",
    ] {
        let r = server
            .client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("[package]") && !body.contains("root:"),
            "{path}"
        );
    }
    let page = server
        .client
        .get(format!("{}/", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("首都中医治未病"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ten_megabyte_line_is_rejected_alone_and_kept_whole() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ts = "2017-06-28T10:00:00+08:00";
    let huge = json!({"id": "huge", "ts": ts, "kind": "scan", "district": "110101",
                      "person": "p".repeat(10 * 1024 * 1024)})
    .to_string();
    let body = format!(
        "{}\n{huge}\n{}",
        scan("left", "110101", "p-left-01", ts),
        scan("right", "110101", "p-right-01", ts)
    );
    let (status, answer) = server.post("application/x-ndjson", body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"accepted": 2, "duplicates": 0, "rejected": 1, "errors": [
            {"line": 2, "id": "huge", "error": "person: must be 6 to 128 characters, got 10485760"}
        ]})
    );
    // The console lists its beginning and its length; the store keeps it whole.
    let (status, listed) = server.get_admin("/api/v1/rejected").await;
    assert_eq!(status, 200);
    let row = &listed["rejected"][0];
    assert_eq!(row["raw_chars"], huge.chars().count());
    assert_eq!(row["raw"].as_str().unwrap(), &huge[..4096]);
    server
        .wait_for("the two neighbours", |s| s["totals"]["scans"] == 2)
        .await;
    server.stop().await;
    let db = open_db(dir.path());
    let kept: String = db
        .query_row("SELECT raw FROM rejected", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, huge);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_events_in_one_body() {
    let dir = temp_dir();
    let ts = "2017-06-28T10:00:00+08:00";
    let body: String = (0..1_000_000)
        .map(|i| {
            format!(
                "{{\"id\":\"m{i}\",\"ts\":\"{ts}\",\"kind\":\"scan\",\"district\":\"110105\",\"person\":\"p-m{i:07}\"}}\n"
            )
        })
        .collect();
    assert!(body.len() > 80 * 1024 * 1024);

    // Over the default limit (16 MiB): refused whole once the limit is read.
    // (A client still writing the rest when the answer comes sees a broken
    // pipe, so this client sends one byte past the limit and reads.)
    let server = TestServer::start(dir.path()).await;
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {INGEST_KEY}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .unwrap();
    // The server reads up to its limit, then answers: send just past it.
    tokio::io::AsyncWriteExt::write_all(&mut stream, &body.as_bytes()[..16 * 1024 * 1024 + 1])
        .await
        .unwrap();
    // Read until the answer is whole (the connection may stay open).
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while !reply.ends_with(b"}") {
        let n = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tokio::io::AsyncReadExt::read(&mut stream, &mut chunk),
        )
        .await
        .expect("answered")
        .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&chunk[..n]);
    }
    let reply = String::from_utf8(reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
    assert!(
        reply.ends_with(r#"{"error":"body larger than the limit of 16777216 bytes"}"#),
        "{reply}"
    );
    let (status, answer) = server
        .post(
            "application/x-ndjson",
            scan("after", "110105", "p-after-1", ts).to_string(),
        )
        .await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(1)));
    server.stop().await;

    // A server set to take bodies that large stores all of them.
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.max_body_bytes = 256 * 1024 * 1024;
    let server = TestServer::start_with(config).await;
    let (status, answer) = server.post("application/x-ndjson", body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"accepted": 1_000_000, "duplicates": 0, "rejected": 0, "errors": []})
    );
    server
        .wait_for("a million and one", |s| s["totals"]["people"] == 1_000_001)
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_with_a_bom_quoted_newlines_and_ragged_rows() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let body = "\u{feff}id,ts,kind,district,person,channel\r\n\
                c1,2017-06-28T10:00:00+08:00,scan,110106,p-csv-01,\"hall,\nnorth \"\"A\"\"\"\r\n\
                c2,2017-06-28T10:00:00+08:00,scan,110106\r\n\
                c3,2017-06-28T10:00:00+08:00,scan,110106,p-csv-03,,extra\r\n\
                c4,2017-06-28T10:00:00+08:00,scan,110106,p-csv-04,\r\n";
    let (status, answer) = server.post("text/csv", body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"accepted": 2, "duplicates": 0, "rejected": 2, "errors": [
            {"line": 4, "error": "row has 4 fields, the header has 6"},
            {"line": 5, "error": "row has 7 fields, the header has 6"}
        ]})
    );
    server.stop().await;
    let db = open_db(dir.path());
    let channel: String = db
        .query_row("SELECT channel FROM events WHERE id = 'c1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(channel, "hall,\nnorth \"A\"");
    let raws: Vec<String> = db
        .prepare("SELECT raw FROM rejected ORDER BY line")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        raws,
        [
            "c2,2017-06-28T10:00:00+08:00,scan,110106",
            "c3,2017-06-28T10:00:00+08:00,scan,110106,p-csv-03,,extra"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inputs_the_fuzzer_found_get_answers_not_panics() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    for stream in [
        &include_bytes!("../../fuzz/artifacts/arrow/panic-buffer-length-past-body.arrow")[..],
        &include_bytes!("../../fuzz/artifacts/arrow/panic-offsets-length-not-multiple-of-4.arrow")
            [..],
    ] {
        let (status, answer) = server
            .post("application/vnd.apache.arrow.stream", stream.to_vec())
            .await;
        assert_eq!(
            (status, answer["error"].as_str().unwrap()),
            (
                400,
                "body is not a readable Arrow IPC stream: its buffers are malformed"
            )
        );
    }
    let person =
        include_str!("../../fuzz/artifacts/ndjson/panic-person-18-bytes-not-char-boundary.ndjson");
    let (status, answer) = server.post("application/x-ndjson", person).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["accepted"].as_u64().unwrap() + answer["rejected"].as_u64().unwrap(),
        1
    );
    let (status, _) = server
        .post(
            "application/x-ndjson",
            scan("after", "110101", "p-after-01", "2017-06-28T10:00:00+08:00").to_string(),
        )
        .await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// One key cannot fill the disk with rejected records: a request keeps its
/// first ones whole and counts the rest, a key has an allowance a Beijing
/// day (read back from the store at start), and every rejected record is
/// counted in the answer and the console whether kept or not.
#[tokio::test(flavor = "multi_thread")]
async fn rejected_records_are_kept_up_to_their_bounds_and_counted_beyond() {
    let dir = temp_dir();
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.max_rejected_per_request = 3;
    config.max_rejected_per_key_day = 5;
    let ts = "2017-06-28T10:00:00+08:00";
    let bad = |n: usize, prefix: &str| -> String {
        (1..=n)
            .map(|i| format!("{{\"id\":\"{prefix}-{i}\"}}\n"))
            .collect()
    };
    let lines = |answer: &serde_json::Value| -> Vec<u64> {
        answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["line"].as_u64().unwrap())
            .collect()
    };

    let server = TestServer::start_with(config.clone()).await;
    // A good record, then four bad ones: three kept, one counted.
    let body = format!(
        "{}\n{}",
        scan("ok-1", "110106", "p-00000001", ts),
        bad(4, "a")
    );
    let (status, answer) = server.post("application/x-ndjson", body).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &answer["accepted"],
            &answer["rejected"],
            &answer["not_kept"]
        ),
        (&json!(1), &json!(4), &json!(1))
    );
    assert_eq!(lines(&answer), [2, 3, 4, 5], "every one is listed");
    // Three more: the day's allowance has two left.
    let (status, answer) = server.post("application/x-ndjson", bad(3, "b")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &answer["accepted"],
            &answer["rejected"],
            &answer["not_kept"]
        ),
        (&json!(0), &json!(3), &json!(1))
    );
    let (status, health) = server.get_admin("/api/v1/ingest").await;
    assert_eq!(status, 200);
    let key = &health["keys"][0];
    assert_eq!(
        (
            &key["requests"],
            &key["accepted"],
            &key["rejected"],
            &key["not_kept"]
        ),
        (&json!(2), &json!(1), &json!(7), &json!(2))
    );
    server.stop().await;

    // A restart does not hand out a new allowance: the day's is used up.
    let server = TestServer::start_with(config.clone()).await;
    let (status, answer) = server.post("application/x-ndjson", bad(1, "c")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&answer["rejected"], &answer["not_kept"]),
        (&json!(1), &json!(1))
    );
    server.stop().await;

    let db = open_db(dir.path());
    let kept: Vec<String> = db
        .prepare("SELECT event_id FROM rejected ORDER BY received_at, line")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kept, ["a-1", "a-2", "a-3", "b-1", "b-2"]);
    assert_eq!(
        count(
            &db,
            "SELECT sum(rejected) * 100 + sum(not_kept) FROM ingest_requests"
        ),
        8 * 100 + 3
    );
}

/// An Arrow body is bounded by the text its records hold once decoded, not
/// only by its bytes: a dictionary column naming one long value for every
/// row is refused whole (413), and kept as one rejected record saying so.
#[tokio::test(flavor = "multi_thread")]
async fn an_arrow_body_that_would_decode_to_too_much_text_is_refused() {
    use arrow::array::{Array, ArrayRef, DictionaryArray, StringArray};
    use arrow::datatypes::{DataType, Field, Int8Type, Schema};
    use std::sync::Arc;
    let dir = temp_dir();
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.max_decoded_bytes = 2_899;
    let server = TestServer::start_with(config).await;
    let rows = 20;
    let text = |v: Vec<String>| Arc::new(StringArray::from(v)) as ArrayRef;
    let kind: DictionaryArray<Int8Type> = vec!["k".repeat(100); rows]
        .iter()
        .map(String::as_str)
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("ts", DataType::Utf8, false),
        Field::new("kind", kind.data_type().clone(), false),
        Field::new("district", DataType::Utf8, false),
        Field::new("person", DataType::Utf8, false),
    ]));
    let batch = arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![
            text((0..rows).map(|i| format!("d-{i:02}")).collect()),
            text(vec!["2017-06-28T10:00:00+08:00".into(); rows]),
            Arc::new(kind),
            text(vec!["110106".into(); rows]),
            text(vec!["p-00000001".into(); rows]),
        ],
    )
    .unwrap();
    let mut body = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut body, &schema).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    // 20 rows of id 4 + ts 25 + kind 100 + district 6 + person 10 bytes.
    let message = "the body's records would hold 2900 bytes of text, more than the limit of 2899: \
                   an Arrow dictionary or view column repeats its values; send them plain or in smaller requests";
    let (status, answer) = server
        .post("application/vnd.apache.arrow.stream", body.clone())
        .await;
    assert_eq!((status, answer), (413, json!({ "error": message })));
    server.stop().await;
    let db = open_db(dir.path());
    let (reason, raw): (String, String) = db
        .query_row("SELECT reason, raw FROM rejected", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(reason, message);
    assert_eq!(
        raw,
        format!(
            "({} bytes of an Arrow stream whose records would hold more text than the limit)",
            body.len()
        )
    );
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 0);
}

/// A district has at most so many team names (each reaches every screen
/// each tick): a record naming a new one beyond the bound is rejected with
/// why, the names it has keep working, and a restart knows them all.
#[tokio::test(flavor = "multi_thread")]
async fn a_district_takes_new_team_names_up_to_its_bound() {
    let dir = temp_dir();
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.max_teams_per_district = 2;
    let enroll = |id: &str, district: &str, team: &str| {
        json!({"id": id, "ts": "2017-06-28T10:00:00+08:00", "kind": "enroll",
               "district": district, "person": format!("p-{id}-0001"), "team": team})
    };
    let refusal = "team: \"t-c\" would be a new team in 丰台区 (110106), which has 2 team names \
                   already, the most a district may have; check the name, or ask staff to raise \
                   --max-teams-per-district";
    let server = TestServer::start_with(config.clone()).await;
    let answer = server
        .ndjson(&[
            enroll("e1", "110106", "t-a"),
            enroll("e2", "110106", "t-b"),
            enroll("e3", "110106", "t-c"),
            enroll("e4", "110106", "t-a"),
            enroll("e5", "110101", "t-c"),
        ])
        .await;
    assert_eq!(
        answer,
        json!({"accepted": 4, "duplicates": 0, "rejected": 1,
               "errors": [{"line": 3, "id": "e3", "error": refusal}]})
    );
    server.stop().await;

    let server = TestServer::start_with(config).await;
    let answer = server
        .ndjson(&[enroll("e6", "110106", "t-c"), enroll("e7", "110106", "t-b")])
        .await;
    assert_eq!(
        answer,
        json!({"accepted": 1, "duplicates": 0, "rejected": 1,
               "errors": [{"line": 1, "id": "e6", "error": refusal}]})
    );
    let state = server
        .wait_for("e7 counted", |s| s["totals"]["managed"] == 5)
        .await;
    let teams: Vec<&String> = state["state"]["districts"]["110106"]["teams"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(teams, ["t-a", "t-b"]);
    server.stop().await;
    let db = open_db(dir.path());
    let raw: String = db
        .query_row("SELECT raw FROM rejected WHERE event_id = 'e6'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(raw, enroll("e6", "110106", "t-c").to_string());
}
