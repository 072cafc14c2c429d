//! The ingest API, end to end: every body format, every rejection rule,
//! duplicates, limits, and what ends up in the store.

use std::sync::Arc;

use crate::common::*;
use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::StreamWriter;
use serde_json::{Value, json};
use weibing::model::{Category, Colour, Kind, Rate, Stage};

fn four_events(prefix: &str) -> Vec<Value> {
    let ts = "2017-06-28T10:59:58+08:00";
    vec![
        json!({"id": format!("{prefix}-1"), "ts": ts, "kind": "scan", "district": "110106", "person": "p-7f3a9c21", "channel": "launch-hall"}),
        json!({"id": format!("{prefix}-2"), "ts": ts, "kind": "assess", "district": "丰台区", "person": "p-7f3a9c21", "colour": "pink"}),
        json!({"id": format!("{prefix}-3"), "ts": ts, "kind": "service", "district": "110106", "person": "p-7f3a9c21", "team": "ft-youanmen-hypertension", "category": "health_management"}),
        json!({"id": format!("{prefix}-4"), "ts": ts, "kind": "outcome", "district": "110106", "person": "p-7f3a9c21", "rate": "control", "value": true}),
    ]
}

fn arrow_body(prefix: &str, person_type: DataType) -> Vec<u8> {
    let ids: Vec<String> = (1..=4).map(|i| format!("{prefix}-{i}")).collect();
    let text = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let ts = "2017-06-28T10:59:58+08:00";
    let person: ArrayRef = match person_type {
        DataType::Utf8 => text(vec![Some("p-7f3a9c21"); 4]),
        _ => Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("ts", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("district", DataType::Utf8, false),
        Field::new("person", person_type, false),
        Field::new("colour", DataType::Utf8, true),
        Field::new("team", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("rate", DataType::Utf8, true),
        Field::new("value", DataType::Boolean, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            text(ids.iter().map(|s| Some(s.as_str())).collect()),
            text(vec![Some(ts); 4]),
            text(vec![
                Some("scan"),
                Some("assess"),
                Some("service"),
                Some("outcome"),
            ]),
            text(vec![
                Some("110106"),
                Some("丰台区"),
                Some("110106"),
                Some("110106"),
            ]),
            person,
            text(vec![None, Some("pink"), None, None]),
            text(vec![None, None, Some("ft-youanmen-hypertension"), None]),
            text(vec![None, None, Some("health_management"), None]),
            text(vec![None, None, None, Some("control")]),
            Arc::new(BooleanArray::from(vec![None, None, None, Some(true)])),
        ],
    )
    .unwrap();
    let mut out = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut out, &schema).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
    }
    out
}

fn csv_body(prefix: &str) -> String {
    let ts = "2017-06-28T10:59:58+08:00";
    format!(
        "id,ts,kind,district,person,channel,colour,team,category,stage,rate,value\n\
         {prefix}-1,{ts},scan,110106,p-7f3a9c21,launch-hall,,,,,,\n\
         {prefix}-2,{ts},assess,丰台区,p-7f3a9c21,,pink,,,,,\n\
         {prefix}-3,{ts},service,110106,p-7f3a9c21,,,ft-youanmen-hypertension,health_management,,,\n\
         {prefix}-4,{ts},outcome,110106,p-7f3a9c21,,,,,,control,true\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_body_format_stores_the_same_events() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ok = json!({"accepted": 4, "duplicates": 0, "rejected": 0, "errors": []});

    let lines: Vec<String> = four_events("nd").iter().map(|e| e.to_string()).collect();
    assert_eq!(
        server.post("application/x-ndjson", lines.join("\n")).await,
        (200, ok.clone())
    );
    let array = Value::Array(four_events("ja"));
    assert_eq!(
        server.post("application/json", array.to_string()).await,
        (200, ok.clone())
    );
    let one = four_events("jo").remove(0);
    assert_eq!(
        server
            .post("application/json; charset=utf-8", one.to_string())
            .await,
        (
            200,
            json!({"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []})
        )
    );
    assert_eq!(
        server.post("text/csv", csv_body("cs")).await,
        (200, ok.clone())
    );
    assert_eq!(
        server
            .post(
                "application/vnd.apache.arrow.stream",
                arrow_body("ar", DataType::Utf8)
            )
            .await,
        (200, ok)
    );

    // 17 events of one person: 5 scans, 4 assessments, 4 services, 4 control outcomes.
    let snapshot = server
        .wait_for("all formats counted", |s| s["totals"]["scans"] == 5)
        .await;
    let state = &snapshot["state"];
    assert_eq!(
        state["totals"],
        json!({"people": 1, "scans": 5, "assessed": 1, "managed": 0, "interactive": 1,
               "services": 4, "trainees": 0, "guardians": 0})
    );
    assert_eq!(state["colours"]["pink"], 1);
    assert_eq!(state["categories"]["health_management"], 4);
    assert_eq!(
        state["districts"]["110106"]["rates"]["control"],
        json!({"value": 1.0, "n": 1, "standard": 0.6, "pass": true})
    );
    server.stop().await;

    let db = open_db(dir.path());
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 17);
    assert_eq!(
        count(&db, "SELECT count(*) FROM events WHERE district = '110106'"),
        17
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT source) FROM events WHERE source = 'env'"
        ),
        1
    );
    let ts: String = db
        .query_row(
            "SELECT strftime(ts, '%Y-%m-%d %H:%M:%S') FROM events WHERE id = 'ar-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ts, "2017-06-28 10:59:58", "stored as Beijing time");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_rule_rejects_with_the_field_and_keeps_the_neighbours() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ts = "2017-06-28T10:00:00+08:00";
    let future = (chrono::Utc::now() + chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let long_id = "x".repeat(129);
    let lines = vec![
        json!({"id": "good-1", "ts": ts, "kind": "scan", "district": "110101", "person": "p-00000001"}).to_string(),
        json!({"id": long_id, "ts": ts, "kind": "scan", "district": "110101", "person": "p-00000001"}).to_string(),
        json!({"id": "bad-ts", "ts": "2017-06-28T10:00:00", "kind": "scan", "district": "110101", "person": "p-00000001"}).to_string(),
        json!({"id": "bad-future", "ts": future, "kind": "scan", "district": "110101", "person": "p-00000001"}).to_string(),
        json!({"id": "bad-kind", "ts": ts, "kind": "visit", "district": "110101", "person": "p-00000001"}).to_string(),
        json!({"id": "bad-district", "ts": ts, "kind": "scan", "district": "110100", "person": "p-00000001"}).to_string(),
        json!({"id": "bad-phone", "ts": ts, "kind": "scan", "district": "110101", "person": "13800138000"}).to_string(),
        json!({"id": "bad-idcard", "ts": ts, "kind": "scan", "district": "110101", "person": "110101199003077777"}).to_string(),
        json!({"id": "bad-short", "ts": ts, "kind": "scan", "district": "110101", "person": "p-1"}).to_string(),
        json!({"id": "bad-colour", "ts": ts, "kind": "assess", "district": "110101", "person": "p-00000001", "colour": "紫色"}).to_string(),
        json!({"id": "bad-team", "ts": ts, "kind": "enroll", "district": "110101", "person": "p-00000001"}).to_string(),
        json!({"id": "bad-category", "ts": ts, "kind": "service", "district": "110101", "person": "p-00000001", "team": "t-1", "category": "massage"}).to_string(),
        json!({"id": "bad-stage", "ts": ts, "kind": "train", "district": "110101", "person": "p-00000001", "stage": "done"}).to_string(),
        json!({"id": "bad-rate", "ts": ts, "kind": "outcome", "district": "110101", "person": "p-00000001", "rate": "happiness", "value": true}).to_string(),
        json!({"id": "bad-value", "ts": ts, "kind": "outcome", "district": "110101", "person": "p-00000001", "rate": "control", "value": "yes"}).to_string(),
        json!({"id": 17, "ts": ts, "kind": "scan", "district": "110101", "person": "p-00000001"}).to_string(),
        "{not json".to_string(),
        json!({"id": "good-2", "ts": ts, "kind": "scan", "district": "110102", "person": "p-00000002", "unknown": {"ignored": true}}).to_string(),
    ];
    let (status, answer) = server.post("application/x-ndjson", lines.join("\n")).await;
    assert_eq!(status, 200);
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["duplicates"], 0);
    assert_eq!(answer["rejected"], 16);
    let errors: Vec<(u64, String)> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let now_prefix = "ts: ";
    assert_eq!(
        errors[0],
        (2, "id: must be 1 to 128 characters, got 129".to_string())
    );
    assert_eq!(
        errors[1],
        (3, "ts: \"2017-06-28T10:00:00\" is not an RFC 3339 time with an offset, e.g. 2017-06-28T10:59:58+08:00".to_string())
    );
    assert_eq!(errors[2].0, 4);
    assert!(
        errors[2].1.starts_with(now_prefix)
            && errors[2]
                .1
                .contains("is more than 5 minutes ahead of the server clock"),
        "{}",
        errors[2].1
    );
    let expected = [
        (5, format!("{}, got \"visit\"", Kind::expected())),
        (
            6,
            "district: \"110100\" is not a district of the region; send its code (e.g. 110101) or its exact name (e.g. 东城区)".to_string(),
        ),
        (
            7,
            "person: looks like an 11-digit mobile phone number; send the pseudonymous person id instead".to_string(),
        ),
        (
            8,
            "person: looks like an 18-character resident identity card number; send the pseudonymous person id instead".to_string(),
        ),
        (9, "person: must be 6 to 128 characters, got 3".to_string()),
        (10, format!("{}, got \"紫色\"", Colour::expected())),
        (11, "team: missing".to_string()),
        (12, format!("{}, got \"massage\"", Category::expected())),
        (13, format!("{}, got \"done\"", Stage::expected())),
        (14, format!("{}, got \"happiness\"", Rate::accepted())),
        (15, "value: must be true or false, got \"yes\"".to_string()),
        (16, "id: must be a string, got a number".to_string()),
    ];
    for (i, (line, error)) in expected.iter().enumerate() {
        assert_eq!(errors[3 + i], (*line, error.to_string()));
    }
    assert_eq!(errors[15].0, 17);
    assert!(
        errors[15].1.starts_with("not valid JSON: "),
        "{}",
        errors[15].1
    );
    assert_eq!(answer["errors"][0]["id"], long_id.as_str());
    assert_eq!(answer["errors"][15].get("id"), None);

    server
        .wait_for("the good ones", |s| s["totals"]["people"] == 2)
        .await;
    server.stop().await;

    let db = open_db(dir.path());
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 2);
    assert_eq!(count(&db, "SELECT count(*) FROM rejected"), 16);
    let (raw, reason, source, format): (String, String, String, String) = db
        .query_row(
            "SELECT raw, reason, source, format FROM rejected WHERE event_id = 'bad-kind'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(raw, lines[4]);
    assert_eq!(reason, format!("{}, got \"visit\"", Kind::expected()));
    assert_eq!((source.as_str(), format.as_str()), ("env", "ndjson"));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM rejected WHERE raw = '{not json' AND line = 17"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_are_neither_stored_nor_counted_twice() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ts = "2017-06-28T10:00:00+08:00";
    let first = vec![
        scan("d-1", "110101", "p-00000001", ts),
        scan("d-2", "110101", "p-00000002", ts),
        scan("d-1", "110101", "p-00000003", ts),
    ];
    assert_eq!(
        server.ndjson(&first).await,
        json!({"accepted": 2, "duplicates": 1, "rejected": 0, "errors": []})
    );
    let second = vec![
        scan("d-2", "110101", "p-00000002", ts),
        scan("d-3", "110102", "p-00000009", ts),
    ];
    assert_eq!(
        server.ndjson(&second).await,
        json!({"accepted": 1, "duplicates": 1, "rejected": 0, "errors": []})
    );
    let snapshot = server
        .wait_for("three scans", |s| s["totals"]["scans"] == 3)
        .await;
    assert_eq!(snapshot["state"]["totals"]["people"], 3);
    // Person p-00000003 was never stored: their event's id was a repeat.
    server.stop().await;
    let db = open_db(dir.path());
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM events WHERE person = 'p-00000003'"
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_requests_are_refused_with_a_clear_status() {
    let dir = temp_dir();
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.max_body_bytes = 4096;
    let server = TestServer::start_with(config).await;
    let line = scan("r-1", "110101", "p-00000001", "2017-06-28T10:00:00+08:00").to_string();

    let (status, body) = server
        .post_with_key(None, "application/x-ndjson", line.clone())
        .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (
            401,
            "missing or unknown ingest key: send Authorization: Bearer <key>"
        )
    );
    let (status, _) = server
        .post_with_key(Some("wrong"), "application/x-ndjson", line.clone())
        .await;
    assert_eq!(status, 401);
    let (status, _) = server
        .post_with_key(Some(ADMIN_TOKEN), "application/x-ndjson", line.clone())
        .await;
    assert_eq!(status, 401, "the admin token is not an ingest key");

    let (status, body) = server.post("text/plain", line.clone()).await;
    assert_eq!(status, 415);
    assert_eq!(
        body["error"],
        "unsupported content type \"text/plain\": send application/x-ndjson, application/json, text/csv or application/vnd.apache.arrow.stream"
    );

    let (status, body) = server.post("application/x-ndjson", "x".repeat(4097)).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (413, "body larger than the limit of 4096 bytes")
    );

    let (status, body) = server
        .post("text/csv", "id,kind,person\nr-2,scan,p-00000001\n")
        .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (
            400,
            "the CSV header lacks the required column(s): ts, district"
        )
    );

    let (status, body) = server
        .post(
            "application/vnd.apache.arrow.stream",
            arrow_body("wrong", DataType::Int64),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, "Arrow column person has type Int64, expected Utf8")
    );

    let (status, body) = server.post("application/json", "[{\"id\":").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("body is not a valid JSON array: ")
    );

    // Only the refused bodies that reached the store are kept, as rejected.
    let (status, _) = server.post("application/x-ndjson", line).await;
    assert_eq!(status, 200);
    server
        .wait_for("the one good scan", |s| s["totals"]["scans"] == 1)
        .await;
    server.stop().await;
    let db = open_db(dir.path());
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM rejected"),
        3,
        "CSV header, Arrow types, JSON syntax"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn old_county_names_are_districts_and_the_nine_rates_have_one_slot_each() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ts = |minutes: i64| {
        (chrono::Utc::now() - chrono::Duration::minutes(minutes))
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    let lines: Vec<String> = [
        json!({"id": "a-1", "ts": ts(3), "kind": "scan", "district": "110228", "person": "p-00000001"}),
        json!({"id": "a-2", "ts": ts(3), "kind": "scan", "district": "密云县", "person": "p-00000002"}),
        json!({"id": "a-3", "ts": ts(3), "kind": "scan", "district": "延庆县", "person": "p-00000003"}),
        json!({"id": "a-4", "ts": ts(3), "kind": "scan", "district": "110229", "person": "p-00000003"}),
        // 依从率 and 参与率: one slot, the person's latest observation counts.
        json!({"id": "r-1", "ts": ts(2), "kind": "outcome", "district": "110118", "person": "p-00000001", "rate": "compliance", "value": false}),
        json!({"id": "r-2", "ts": ts(1), "kind": "outcome", "district": "110118", "person": "p-00000001", "rate": "participation", "value": true}),
        json!({"id": "r-3", "ts": ts(1), "kind": "outcome", "district": "110118", "person": "p-00000002", "rate": "依从率", "value": false}),
        json!({"id": "r-4", "ts": ts(1), "kind": "outcome", "district": "110118", "person": "p-00000002", "rate": "management", "value": true}),
    ]
    .iter()
    .map(|l| l.to_string())
    .collect();
    let (status, answer) = server.post("application/x-ndjson", lines.join("\n")).await;
    assert_eq!(status, 200);
    assert_eq!(answer["accepted"], 7, "{answer}");
    assert_eq!(answer["rejected"], 1);
    assert_eq!(answer["errors"][0]["line"], 8);
    assert_eq!(
        answer["errors"][0]["error"],
        "rate: management (管理率) is not observed on a person: it is managed ÷ target population, counted from enroll events; send an enroll event"
    );
    let snapshot = server
        .wait_for("the outcomes", |s| {
            s["districts"]["110118"]["rates"]["participation"]["n"] == 2
        })
        .await;
    let miyun = &snapshot["state"]["districts"]["110118"];
    assert_eq!(miyun["people"], 2);
    assert_eq!(snapshot["state"]["districts"]["110119"]["people"], 1);
    assert_eq!(snapshot["state"]["districts"]["110119"]["scans"], 2);
    assert_eq!(
        miyun["rates"]["participation"],
        json!({"value": 0.5, "n": 2, "standard": 0.7, "pass": false})
    );
    assert_eq!(
        miyun["rates"]["awareness"],
        json!({"value": null, "n": 0, "standard": 0.8, "pass": null})
    );
    // 管理率: managed ÷ Miyun's target population of 2,100; nobody managed.
    assert_eq!(
        miyun["rates"]["management"],
        json!({"value": 0.0, "n": 2100, "standard": 0.6, "pass": false})
    );
    assert_eq!(
        miyun["rates"].as_object().unwrap().len(),
        weibing::model::NineRate::COUNT
    );
    assert_eq!(miyun["rates"].get("compliance"), None);
    server.stop().await;
}

/// Every way a partner might send a phone or identity-card number, in each
/// field that takes text: refused, and masked wherever the refused record is
/// kept (the answer, /api/v1/rejected, the database, the ingest log).
#[tokio::test(flavor = "multi_thread")]
async fn phone_and_identity_numbers_are_refused_and_never_kept_raw() {
    let dir = temp_dir();
    let mut config = weibing::config::Config::for_tests(dir.path());
    // The log is loaded into DuckDB late, so its segment can be read first.
    config.load_every = std::time::Duration::from_secs(600);
    let server = TestServer::start_with(config).await;
    let ts = "2017-06-28T10:00:00+08:00";
    let scan = |id: &str, person: &str| json!({"id": id, "ts": ts, "kind": "scan", "district": "110106", "person": person});
    let mut lines = vec![
        scan("pn-1", "13800138000"),
        scan("pn-2", "tel:13800138000"),
        scan("pn-3", "+86 138-0013-8000"),
        scan("pn-4", "８６１３８００１３８０００"),
        scan("pn-5", "11010519491231002X"),
        scan("13800138000", "p-00000001"),
        json!({"id": "pn-7", "ts": ts, "kind": "enroll", "district": "110106", "person": "p-00000002", "team": "tel:+8613800138000"}),
        json!({"id": "pn-8", "ts": ts, "kind": "scan", "district": "110106", "person": "p-00000003", "channel": "110105194912310021"}),
        scan("pn-9", "p-00000004"),
    ];
    // A record refused for another reason, with a number in it.
    lines.push(json!({"id": "pn-10", "ts": ts, "kind": "visit", "district": "110106", "person": "p-00000005", "note": "13800138000"}));
    let answer = server.ndjson(&lines).await;
    assert_eq!(
        (&answer["accepted"], &answer["rejected"]),
        (&json!(1), &json!(9))
    );
    let errors: Vec<(u64, String, String)> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["id"].as_str().unwrap_or("").to_string(),
                e["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let phone = "looks like an 11-digit mobile phone number";
    let id_card = "looks like an 18-character resident identity card number";
    let person = "send the pseudonymous person id instead";
    assert_eq!(
        errors,
        [
            (1, "pn-1".into(), format!("person: {phone}; {person}")),
            (2, "pn-2".into(), format!("person: {phone}; {person}")),
            (3, "pn-3".into(), format!("person: {phone}; {person}")),
            (4, "pn-4".into(), format!("person: {phone}; {person}")),
            (5, "pn-5".into(), format!("person: {id_card}; {person}")),
            (
                6,
                "138****8000".into(),
                format!("id: {phone}; send the partner system's own event id instead")
            ),
            (
                7,
                "pn-7".into(),
                format!("team: {phone}; no personal numbers here")
            ),
            (
                8,
                "pn-8".into(),
                format!("channel: {id_card}; no personal numbers here")
            ),
            (
                10,
                "pn-10".into(),
                format!("{}, got \"visit\"", Kind::expected())
            ),
        ]
    );
    let raw_numbers = [
        "13800138000",
        "0013-8000",
        "１３８００",
        "1949123100",
        "4912310021",
    ];
    let holds_a_number = |text: &str| raw_numbers.iter().any(|n| text.contains(n));

    // The ingest log's segment, before it is loaded.
    let log = weibing::store::log::dir_of(&dir.path().join("weibing.duckdb"));
    let mut segments = 0;
    for entry in std::fs::read_dir(&log).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        segments += 1;
        assert!(
            !holds_a_number(&String::from_utf8_lossy(&bytes)),
            "a raw number in the ingest log"
        );
    }
    assert!(segments >= 1);

    let (status, listed) = server.get_admin("/api/v1/rejected").await;
    assert_eq!(status, 200);
    let listed = listed.to_string();
    assert!(!holds_a_number(&listed), "{listed}");
    assert!(listed.contains("138****8000"));
    assert!(listed.contains("110***********002X"));
    server.stop().await;

    let conn = open_db(dir.path());
    let mut statement = conn
        .prepare("SELECT coalesce(event_id, ''), reason, raw FROM rejected ORDER BY line")
        .unwrap();
    let rows: Vec<(String, String, String)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 9);
    for (id, reason, raw) in &rows {
        assert!(
            !holds_a_number(id) && !holds_a_number(reason) && !holds_a_number(raw),
            "{raw}"
        );
    }
    assert_eq!(
        rows[0].2,
        r#"{"district":"110106","id":"pn-1","kind":"scan","person":"138****8000","ts":"2017-06-28T10:00:00+08:00"}"#
    );
    assert!(
        rows[8].2.contains(r#""note":"138****8000""#),
        "{}",
        rows[8].2
    );
}

/// A store written before numbers were masked is cleaned when it opens.
#[tokio::test(flavor = "multi_thread")]
async fn rejected_records_kept_raw_by_an_earlier_version_are_masked_at_open() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    server.stop().await;
    {
        let conn = open_db(dir.path());
        conn.execute_batch(
            "DELETE FROM settings WHERE key = 'rejected_numbers_masked';
             INSERT INTO rejected VALUES
               (TIMESTAMP '2017-06-28 10:00', 'partner', 'ndjson', 1, 'e-1',
                'person: looks like an 11-digit mobile phone number; send the pseudonymous person id instead',
                '{\"id\":\"e-1\",\"person\":\"13800138000\"}'),
               (TIMESTAMP '2017-06-28 10:00', 'partner', 'csv', 2, '13800138000', 'id: bad',
                'e-2,2017-06-28T10:00:00+08:00,scan,110106,11010519491231002X'),
               (TIMESTAMP '2017-06-28 10:00', 'partner', 'ndjson', 3, 'e-3', 'kind: bad',
                '{\"id\":\"e-3\",\"person\":\"p-00000001\"}');",
        )
        .unwrap();
    }
    let server = TestServer::start(dir.path()).await;
    server.stop().await;
    let conn = open_db(dir.path());
    let mut statement = conn
        .prepare("SELECT event_id, raw FROM rejected ORDER BY line")
        .unwrap();
    let rows: Vec<(String, String)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            (
                "e-1".to_string(),
                r#"{"id":"e-1","person":"138****8000"}"#.to_string()
            ),
            (
                "138****8000".to_string(),
                "e-2,2017-06-28T10:00:00+08:00,scan,110106,110***********002X".to_string()
            ),
            (
                "e-3".to_string(),
                r#"{"id":"e-3","person":"p-00000001"}"#.to_string()
            ),
        ]
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM settings WHERE key = 'rejected_numbers_masked'"
        ),
        1
    );
}
