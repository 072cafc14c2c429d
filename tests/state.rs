//! The state document: exact figures of a fixture, recounted independently
//! here; the trend; restarts.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::*;
use serde_json::{Value, json};

const CODES: [&str; 16] = [
    "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111", "110112",
    "110113", "110114", "110115", "110116", "110117", "110118", "110119",
];

fn code_of(district: &str) -> String {
    match district {
        "丰台区" => "110106",
        "海淀区" => "110108",
        "延庆区" => "110119",
        code => code,
    }
    .to_string()
}

fn colour_of(colour: &str) -> String {
    match colour {
        "绿色" => "green",
        "橙色" => "orange",
        "粉色" => "pink",
        "黄色" => "yellow",
        "蓝色" => "blue",
        c => c,
    }
    .to_string()
}

/// Shares are published to 4 decimals.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The figures of the fixture, by plain recounting (no code shared with the server).
struct Expected {
    totals: BTreeMap<String, Value>,
    colours: BTreeMap<String, u64>,
    categories: BTreeMap<String, u64>,
    districts: BTreeMap<String, Value>,
}

fn recount(events: &[Value]) -> Expected {
    let s = |e: &Value, k: &str| e[k].as_str().unwrap().to_string();
    let distinct = |kind: &str, filter: &dyn Fn(&Value) -> bool, district: Option<&str>| {
        events
            .iter()
            .filter(|e| e["kind"] == kind && filter(e))
            .filter(|e| district.is_none_or(|d| code_of(&s(e, "district")) == d))
            .map(|e| s(e, "person"))
            .collect::<BTreeSet<_>>()
            .len() as u64
    };
    let all = |_: &Value| true;
    let certified = |e: &Value| e["stage"] == "certified";
    let count = |kind: &str, district: Option<&str>| {
        events
            .iter()
            .filter(|e| e["kind"] == kind)
            .filter(|e| district.is_none_or(|d| code_of(&s(e, "district")) == d))
            .count() as u64
    };
    let totals = |district: Option<&str>| {
        BTreeMap::from([
            (
                "people".to_string(),
                json!(distinct("scan", &all, district)),
            ),
            ("scans".to_string(), json!(count("scan", district))),
            (
                "assessed".to_string(),
                json!(distinct("assess", &all, district)),
            ),
            (
                "managed".to_string(),
                json!(distinct("enroll", &all, district)),
            ),
            (
                "interactive".to_string(),
                json!(distinct("service", &all, district)),
            ),
            ("services".to_string(), json!(count("service", district))),
            (
                "trainees".to_string(),
                json!(distinct("train", &all, district)),
            ),
            (
                "guardians".to_string(),
                json!(distinct("train", &certified, district)),
            ),
        ])
    };
    // Latest by (ts, id): the fixture's times all carry +08:00, so text order is time order.
    let latest = |kind: &str, key: &dyn Fn(&Value) -> String| {
        let mut best: HashMap<String, &Value> = HashMap::new();
        for e in events.iter().filter(|e| e["kind"] == kind) {
            let k = key(e);
            let newer = best
                .get(&k)
                .is_none_or(|b| (s(b, "ts"), s(b, "id")) < (s(e, "ts"), s(e, "id")));
            if newer {
                best.insert(k, e);
            }
        }
        best
    };
    let assessments = latest("assess", &|e| s(e, "person"));
    let observations = latest("outcome", &|e| {
        format!("{}/{}", s(e, "person"), s(e, "rate"))
    });
    let mut colours: BTreeMap<String, u64> = ["green", "orange", "pink", "yellow", "blue"]
        .iter()
        .map(|c| (c.to_string(), 0))
        .collect();
    for e in assessments.values() {
        *colours.get_mut(&colour_of(&s(e, "colour"))).unwrap() += 1;
    }
    let mut categories: BTreeMap<String, u64> = BTreeMap::new();
    for e in events.iter().filter(|e| e["kind"] == "service") {
        *categories.entry(s(e, "category")).or_default() += 1;
    }
    let mut districts = BTreeMap::new();
    for code in CODES {
        let mut dc: BTreeMap<String, u64> = ["green", "orange", "pink", "yellow", "blue"]
            .iter()
            .map(|c| (c.to_string(), 0))
            .collect();
        for e in assessments
            .values()
            .filter(|e| code_of(&s(e, "district")) == code)
        {
            *dc.get_mut(&colour_of(&s(e, "colour"))).unwrap() += 1;
        }
        let mut rates: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for e in observations
            .values()
            .filter(|e| code_of(&s(e, "district")) == code)
        {
            let r = rates.entry(s(e, "rate")).or_default();
            r.0 += 1;
            r.1 += e["value"].as_bool().unwrap() as u64;
        }
        let rates: BTreeMap<String, Value> = rates
            .into_iter()
            .map(|(k, (n, t))| (k, json!({"value": round4(t as f64 / n as f64), "n": n})))
            .collect();
        let mut d = serde_json::Map::new();
        for (k, v) in totals(Some(code)) {
            d.insert(k, v);
        }
        d.insert("colours".into(), json!(dc));
        d.insert("rates".into(), json!(rates));
        districts.insert(code.to_string(), Value::Object(d));
    }
    Expected {
        totals: totals(None),
        colours,
        categories,
        districts,
    }
}

/// The index by hand, from the published targets and weights.
fn index_by_hand(district: &Value, weights: &Value) -> (BTreeMap<String, f64>, f64) {
    let mut components = BTreeMap::new();
    let share = |v: &str, t: &str| {
        round4((district[v].as_f64().unwrap() / district["targets"][t].as_f64().unwrap()).min(1.0))
    };
    components.insert("coverage".to_string(), share("people", "people"));
    components.insert("enrolment".to_string(), share("managed", "managed"));
    components.insert("guardians".to_string(), share("guardians", "guardians"));
    for (rate, r) in district["rates"].as_object().unwrap() {
        components.insert(rate.clone(), r["value"].as_f64().unwrap());
    }
    let (mut num, mut den) = (0.0, 0.0);
    for (c, v) in &components {
        let w = weights[c].as_f64().unwrap();
        num += w * v;
        den += w;
    }
    (components, (1000.0 * num / den).round() / 10.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_state_of_a_fixture_is_exact() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let events = fixture_lines();
    // In three requests, so group commits and ticks interleave.
    let mut accepted = 0;
    for chunk in events.chunks(300) {
        let answer = server.ndjson(chunk).await;
        assert_eq!(answer["rejected"], 0, "{answer}");
        accepted += answer["accepted"].as_u64().unwrap();
    }
    assert_eq!(accepted, events.len() as u64);
    let expected = recount(&events);
    let scans = expected.totals["scans"].clone();
    let snapshot = server
        .wait_for("the fixture", |s| s["totals"]["scans"] == scans)
        .await;
    let state = &snapshot["state"];

    assert_eq!(state["region"], "beijing");
    assert_eq!(state["totals"], json!(expected.totals));
    assert_eq!(state["colours"], json!(expected.colours));
    let sum: u64 = expected.colours.values().sum();
    assert_eq!(
        sum,
        expected.totals["assessed"].as_u64().unwrap(),
        "each assessed person has one colour"
    );
    for (category, n) in &expected.categories {
        assert_eq!(state["categories"][category], *n, "{category}");
    }
    assert_eq!(state["categories"].as_object().unwrap().len(), 10);
    assert_eq!(state["weights"]["coverage"], 2.0);
    assert_eq!(state["weights"].as_object().unwrap().len(), 13);
    assert_eq!(
        state["targets"]["people"],
        json!({"target": 1_000_000, "value": expected.totals["people"], "per_minute": 0.0, "eta": null})
    );
    assert_eq!(state["targets"]["managed"]["target"], 100_000);

    let districts = state["districts"].as_object().unwrap();
    assert_eq!(districts.len(), 16);
    let mut by_index: Vec<(f64, String)> = Vec::new();
    for code in CODES {
        let got = &state["districts"][code];
        let want = &expected.districts[code];
        for key in [
            "people",
            "scans",
            "assessed",
            "managed",
            "interactive",
            "services",
            "trainees",
            "guardians",
            "colours",
            "rates",
        ] {
            assert_eq!(got[key], want[key], "{code} {key}");
        }
        let (components, index) = index_by_hand(got, &state["weights"]);
        let got_components: BTreeMap<String, f64> =
            serde_json::from_value(got["components"].clone()).unwrap();
        assert_eq!(
            got_components.keys().collect::<Vec<_>>(),
            components.keys().collect::<Vec<_>>(),
            "{code}"
        );
        for (k, v) in &components {
            assert!(
                (got_components[k] - v).abs() < 1e-12,
                "{code} {k}: {} vs {v}",
                got_components[k]
            );
        }
        assert_eq!(got["index"].as_f64().unwrap(), index, "{code}");
        by_index.push((index, code.to_string()));
    }
    by_index.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
    for (rank, (_, code)) in by_index.iter().enumerate() {
        assert_eq!(state["districts"][code]["rank"], rank as u64 + 1, "{code}");
    }
    assert_eq!(state["districts"]["110106"]["name"], "丰台区");
    assert_eq!(
        state["districts"]["110106"]["targets"],
        json!({"people": 104000, "managed": 15000, "guardians": 10400})
    );
    assert_eq!(state["districts"]["110118"]["name"], "密云区");
    assert_eq!(state["wall"]["phase"], "live");
    // No person id anywhere in what viewers receive.
    let text = snapshot.to_string();
    assert!(
        !text.contains("fx-person") && !text.contains("fx-tie"),
        "no person id leaks"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trend_counts_scans_per_minute_by_event_time() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let now = chrono::Utc::now();
    let at = |minutes_ago: i64| {
        (now - chrono::Duration::minutes(minutes_ago))
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    let mut lines = Vec::new();
    let mut expected_times = Vec::new();
    for (i, minutes_ago) in [0, 1, 1, 5, 59, 61, 120].iter().enumerate() {
        lines.push(scan(
            &format!("t-{i}"),
            "110106",
            &format!("p-trend-{i:02}"),
            &at(*minutes_ago),
        ));
        expected_times.push(lines[i]["ts"].as_str().unwrap().to_string());
    }
    server.ndjson(&lines).await;
    let snapshot = server
        .wait_for("seven scans", |s| s["totals"]["scans"] == 7)
        .await;
    let state = &snapshot["state"];
    // Worked out from the snapshot's own time: the 60 minutes ending at its minute.
    let as_of = chrono::DateTime::parse_from_rfc3339(snapshot["as_of"].as_str().unwrap()).unwrap();
    let minute = |t: &chrono::DateTime<chrono::FixedOffset>| t.timestamp().div_euclid(60);
    let current = minute(&as_of);
    let trend = state["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 60);
    let mut total_in_window = 0;
    for (i, point) in trend.iter().enumerate() {
        let m = current - 59 + i as i64;
        let label =
            chrono::DateTime::parse_from_rfc3339(point["minute"].as_str().unwrap()).unwrap();
        assert_eq!(minute(&label), m);
        assert!(point["minute"].as_str().unwrap().ends_with(":00+08:00"));
        let want = expected_times
            .iter()
            .filter(|t| minute(&chrono::DateTime::parse_from_rfc3339(t).unwrap()) == m)
            .count();
        assert_eq!(point["scans"], want as u64, "minute {i}");
        total_in_window += want;
    }
    assert!(total_in_window >= 4, "the recent scans fall in the window");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_gives_the_same_state_and_a_new_epoch() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let events = fixture_lines();
    server.ndjson(&events).await;
    let scans = recount(&events).totals["scans"].clone();
    let before = server
        .wait_for("the fixture", |s| s["totals"]["scans"] == scans)
        .await;
    let first_epoch = server.epoch();
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let after = server.snapshot().await;
    assert_ne!(after["epoch"], json!(first_epoch));
    assert_eq!(after["epoch"], json!(server.epoch()));
    let strip = |s: &Value| {
        let mut s = s["state"].clone();
        s.as_object_mut().unwrap().remove("trend");
        s
    };
    assert_eq!(strip(&after), strip(&before));
    server.stop().await;
}
