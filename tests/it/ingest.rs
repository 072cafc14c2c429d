//! The ingest API, end to end: every body format, every rejection rule,
//! duplicates, limits, and what ends up in the store.

use std::sync::Arc;

use crate::common::*;
use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::StreamWriter;
use serde_json::{Value, json};

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
        (
            5,
            "kind: must be one of scan, assess, enroll, service, train, outcome, got \"visit\"",
        ),
        (
            6,
            "district: \"110100\" is not a district of the region; send its code (e.g. 110101) or its exact name (e.g. 东城区)",
        ),
        (
            7,
            "person: looks like an 11-digit mobile phone number; send the pseudonymous person id instead",
        ),
        (
            8,
            "person: looks like an 18-character resident identity card number; send the pseudonymous person id instead",
        ),
        (9, "person: must be 6 to 128 characters, got 3"),
        (
            10,
            "colour: must be one of green, orange, pink, yellow, blue, got \"紫色\"",
        ),
        (11, "team: missing"),
        (
            12,
            "category: must be one of idea_promotion, science_push, activity, learning, skills_training, behaviour_contest, health_management, patient_followup, treatment, key_intervention, got \"massage\"",
        ),
        (
            13,
            "stage: must be one of enrolled, certified, got \"done\"",
        ),
        (
            14,
            "rate: must be one of awareness, compliance, participation, satisfaction, attainment, improvement, effectiveness, control, prevention, got \"happiness\"",
        ),
        (15, "value: must be true or false, got \"yes\""),
        (16, "id: must be a string, got a number"),
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
    assert_eq!(
        reason,
        "kind: must be one of scan, assess, enroll, service, train, outcome, got \"visit\""
    );
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
    assert_eq!(miyun["rates"].as_object().unwrap().len(), 9);
    assert_eq!(miyun["rates"].get("compliance"), None);
    server.stop().await;
}
