//! The state document: exact figures of a fixture, recounted independently
//! here; the trend; restarts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::common::*;
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
    // Participation and compliance (依从率) are one slot.
    let slot = |e: &Value| match e["rate"].as_str().unwrap() {
        "compliance" => "participation".to_string(),
        rate => rate.to_string(),
    };
    let observations = latest("outcome", &|e| format!("{}/{}", s(e, "person"), slot(e)));
    let mut colours: BTreeMap<String, u64> = weibing::model::Colour::codes()
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
        let mut dc: BTreeMap<String, u64> = weibing::model::Colour::codes()
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
            let r = rates.entry(slot(e)).or_default();
            r.0 += 1;
            r.1 += e["value"].as_bool().unwrap() as u64;
        }
        let mut channels: BTreeMap<String, u64> = BTreeMap::new();
        for e in events
            .iter()
            .filter(|e| e["kind"] == "scan" && code_of(&s(e, "district")) == code)
        {
            let channel = e["channel"].as_str().unwrap_or("(none)").to_string();
            *channels.entry(channel).or_default() += 1;
        }
        let counts: BTreeMap<String, Value> = rates
            .iter()
            .map(|(k, (n, t))| (k.clone(), json!({"n": n, "trues": t})))
            .collect();
        let mut d = serde_json::Map::new();
        for (k, v) in totals(Some(code)) {
            d.insert(k, v);
        }
        d.insert("colours".into(), json!(dc));
        d.insert("rate_counts".into(), json!(counts));
        d.insert("channels".into(), json!(channels));
        districts.insert(code.to_string(), Value::Object(d));
    }
    Expected {
        totals: totals(None),
        colours,
        categories,
        districts,
    }
}

const RATES: [&str; 9] = [
    "awareness",
    "participation",
    "satisfaction",
    "attainment",
    "improvement",
    "effectiveness",
    "management",
    "control",
    "prevention",
];

/// `round(x, 1)`, published indices.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The nine rates of a district by hand: `{value, n, standard, pass}` from
/// the recounted (n, trues), the published standards, and managed ÷ the
/// published target population for management.
fn rates_by_hand(want: &Value, managed: u64, target_managed: u64, state: &Value) -> Value {
    let mut rates = serde_json::Map::new();
    for rate in RATES {
        let standard = state["index"]["standards"][rate]["standard"]
            .as_f64()
            .unwrap();
        let (value, n) = if rate == "management" {
            (
                Some(round4(managed as f64 / target_managed as f64)),
                target_managed,
            )
        } else {
            let c = &want["rate_counts"][rate];
            let n = c["n"].as_u64().unwrap_or(0);
            let trues = c["trues"].as_u64().unwrap_or(0);
            ((n > 0).then(|| round4(trues as f64 / n as f64)), n)
        };
        rates.insert(
            rate.into(),
            json!({"value": value, "n": n, "standard": standard, "pass": value.map(|v| v >= standard)}),
        );
    }
    Value::Object(rates)
}

/// The components and the index of a district by hand, from the recounted
/// rates and the published plans, standards and settings (docs/index.md).
fn index_by_hand(
    code: &str,
    got: &Value,
    expected: &Expected,
    state: &Value,
) -> (BTreeMap<String, f64>, f64) {
    let index = &state["index"];
    let (cap, prior) = (
        index["cap"].as_f64().unwrap(),
        index["prior"].as_f64().unwrap(),
    );
    let mut components = BTreeMap::new();
    for (component, figure) in [
        ("reach", "people"),
        ("interactive", "interactive"),
        ("managed", "managed"),
        ("guardians", "guardians"),
    ] {
        let planned = got["planned"][figure].as_f64().unwrap().max(1.0);
        let share = (got[figure].as_f64().unwrap() / planned).min(cap) / cap;
        components.insert(component.to_string(), round4(share));
    }
    let score = |rate: &str, value: f64| {
        let floor = index["standards"][rate]["floor"].as_f64().unwrap();
        let standard = index["standards"][rate]["standard"].as_f64().unwrap();
        round4(((value - floor) / (standard - floor)).clamp(0.0, 1.0))
    };
    let managed = got["managed"].as_f64().unwrap() / got["targets"]["managed"].as_f64().unwrap();
    components.insert("management".into(), score("management", managed));
    for rate in RATES.iter().filter(|r| **r != "management") {
        let of = |code: &str| {
            let c = &expected.districts[code]["rate_counts"][*rate];
            (
                c["trues"].as_u64().unwrap_or(0),
                c["n"].as_u64().unwrap_or(0),
            )
        };
        // A rate of fewer than k persons (the default setting, 5) is left
        // out, of the district and of the city's value (docs/privacy.md).
        const K: u64 = 5;
        let (trues, n) = of(code);
        if n < K {
            continue;
        }
        let (city_trues, city_n) = CODES
            .iter()
            .map(|c| of(c))
            .filter(|&(_, n)| n >= K)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let city = city_trues as f64 / city_n as f64;
        let value = (trues as f64 + prior * city) / (n as f64 + prior);
        components.insert(rate.to_string(), score(rate, value));
    }
    let (mut num, mut den) = (0.0, 0.0);
    for (c, w) in state["weights"].as_object().unwrap() {
        let w = w.as_f64().unwrap();
        num += w * components.get(c).copied().unwrap_or(0.0);
        den += w;
    }
    (components, round1(100.0 * num / den))
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
    assert_eq!(
        state["categories"].as_object().unwrap().len(),
        weibing::model::Category::COUNT
    );
    assert_eq!(state["weights"]["reach"], 9.0);
    assert_eq!(state["weights"]["awareness"], 4.0);
    assert_eq!(state["weights"].as_object().unwrap().len(), 13);
    // The fixture's server runs on the program's own calendar (2017-06-28 to
    // 2019-06-28): long past, so every target is planned whole.
    let people = expected.totals["people"].as_u64().unwrap();
    assert_eq!(
        state["targets"]["people"],
        json!({
            "target": 1_000_000, "value": people, "planned": 1_000_000,
            "gap": people as i64 - 1_000_000, "status": "behind", "elapsed": 1.0,
            "start": "2017-06-28", "deadline": "2019-06-28", "milestones": [],
            "per_minute": 0.0, "eta": null
        })
    );
    assert_eq!(state["targets"]["managed"]["target"], 100_000);
    assert_eq!(
        state["targets"]["guardians"]["milestones"],
        json!([{"date": "2017-12-31", "value": 10000, "label": "首批健康守护者 first batch of guardians"}])
    );
    // Past the grace period: the ranking goes by the index.
    assert_eq!(state["index"]["basis"], "index");
    assert_eq!(state["index"]["grace_until"], "2017-07-29T00:00:00+08:00");
    let mut city_channels: BTreeMap<String, u64> = BTreeMap::new();
    for code in CODES {
        for (channel, n) in expected.districts[code]["channels"].as_object().unwrap() {
            *city_channels.entry(channel.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    assert_eq!(state["channels"], json!(city_channels));
    assert_eq!(state["channels"]["(none)"], 50);

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
            "channels",
        ] {
            assert_eq!(got[key], want[key], "{code} {key}");
        }
        let managed = got["managed"].as_u64().unwrap();
        let target_managed = got["targets"]["managed"].as_u64().unwrap();
        assert_eq!(
            got["rates"],
            rates_by_hand(want, managed, target_managed, state),
            "{code} rates"
        );
        assert_eq!(got["planned"], got["targets"], "{code}: planned whole");
        let (components, index) = index_by_hand(code, got, &expected, state);
        for (k, v) in &components {
            assert_eq!(
                got["components"][k]["value"].as_f64(),
                Some(*v),
                "{code} {k}"
            );
        }
        // Every weighted component is published; those without data count 0,
        // flagged 未报 past the grace period.
        let published = got["components"].as_object().unwrap();
        assert_eq!(published.len(), 13, "{code}");
        for (k, c) in published {
            let n = c["n"].as_u64();
            let flag = match (components.contains_key(k), n) {
                (false, _) => "missing",
                (true, Some(n)) if n < 30 => "thin",
                _ => "ok",
            };
            assert_eq!(c["flag"], flag, "{code} {k}");
            if !components.contains_key(k) {
                assert_eq!(c["value"], 0.0, "{code} {k}");
            }
        }
        // The contract: index = 100 × Σ w·c ÷ Σ w over every weight, from the published parts.
        let (mut num, mut den) = (0.0, 0.0);
        for (c, w) in state["weights"].as_object().unwrap() {
            num += w.as_f64().unwrap() * got["components"][c]["value"].as_f64().unwrap();
            den += w.as_f64().unwrap();
        }
        assert_eq!(
            round1(100.0 * num / den),
            index,
            "{code} from its published parts"
        );
        assert_eq!(got["index"].as_f64().unwrap(), index, "{code}");
        by_index.push((index, code.to_string()));
    }
    by_index.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
    for (rank, (_, code)) in by_index.iter().enumerate() {
        assert_eq!(state["districts"][code]["rank"], rank as u64 + 1, "{code}");
    }
    // The wall's order holds every district once, and no district stands
    // below one it leads by more than the margin (0.5 points).
    let order: Vec<&str> = state["index"]["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, CODES);
    let index_of = |c: &str| state["districts"][c]["index"].as_f64().unwrap();
    for pair in order.windows(2) {
        assert!(
            index_of(pair[1]) <= index_of(pair[0]) + 0.5,
            "{} ({}) below {} ({})",
            pair[1],
            index_of(pair[1]),
            pair[0],
            index_of(pair[0])
        );
    }
    // The city's nine rates: the districts' counts summed.
    let mut city = serde_json::Map::new();
    for code in CODES {
        for (rate, c) in expected.districts[code]["rate_counts"].as_object().unwrap() {
            let slot = city
                .entry(rate.clone())
                .or_insert(json!({"n": 0, "trues": 0}));
            for k in ["n", "trues"] {
                slot[k] = json!(slot[k].as_u64().unwrap() + c[k].as_u64().unwrap());
            }
        }
    }
    let managed = expected.totals["managed"].as_u64().unwrap();
    assert_eq!(
        state["rates"],
        rates_by_hand(&json!({"rate_counts": city}), managed, 100_000, state)
    );
    assert_eq!(state["districts"]["110106"]["name"], "丰台区");
    assert_eq!(state["districts"]["110106"]["zone"], "extended");
    assert_eq!(state["districts"]["110106"]["pilot"], "seed");
    assert_eq!(
        state["districts"]["110106"]["targets"],
        json!({"people": 104000, "interactive": 52000, "managed": 15000, "guardians": 10400})
    );
    let fengtai = &state["districts"]["110106"];
    let per_10k = |v: &str| round1(fengtai[v].as_f64().unwrap() / 225.5);
    assert_eq!(
        fengtai["per_10k"],
        json!({"people": per_10k("people"), "interactive": per_10k("interactive"),
               "managed": per_10k("managed"), "guardians": per_10k("guardians")})
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
        // The wall's order depends on the path the figures took (it keeps
        // places within noise); a start orders the figures afresh.
        let index = s["index"].as_object_mut().unwrap();
        index.remove("order_since");
        index.remove("order");
        // The month closes come from a background task, in its own time.
        index.remove("months");
        for d in s["districts"].as_object_mut().unwrap().values_mut() {
            let d = d.as_object_mut().unwrap();
            d.remove("history");
            d.remove("change");
        }
        s
    };
    assert_eq!(strip(&after), strip(&before));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_at_each_months_close_and_the_change_since() {
    use chrono::{Datelike, NaiveDate};
    let dir = temp_dir();
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    // The program started on the first of the month two months ago: two
    // months have closed.
    let month = |d: NaiveDate, back: i32| {
        let m = d.year() * 12 + d.month0() as i32 - back;
        NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1).unwrap()
    };
    let (start, second, third) = (month(today, 2), month(today, 1), month(today, 0));
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.program_start = Some(start);
    let server = TestServer::start_with(config).await;
    // 门头沟 (110109, people target 14,000): 300 people in the first month,
    // 600 more in the second.
    let at = |d: NaiveDate| format!("{d}T12:00:00+08:00");
    let lines: Vec<Value> = (0..900)
        .map(|i| {
            let day = if i < 300 { start } else { second };
            scan(
                &format!("h-{i}"),
                "110109",
                &format!("p-h{i:06}"),
                &at(day + chrono::Duration::days(9)),
            )
        })
        .collect();
    server.ndjson(&lines).await;
    // By hand: the people target planned linearly over 730 days; reach =
    // min(1.5, people / planned) / 1.5; nothing else; weight 9 of 72.
    let close = |people: f64, end: NaiveDate| {
        let days = (end - start).num_days() as f64;
        let planned = (14_000.0 * days / 730.0).round();
        let reach = round4((people / planned).min(1.5) / 1.5);
        round1(100.0 * 9.0 * reach / 72.0)
    };
    let want = json!([close(300.0, second), close(900.0, third)]);
    let snapshot = server
        .wait_for("both closes with their events", |s| {
            s["districts"]["110109"]["history"] == want
        })
        .await;
    let state = &snapshot["state"];
    assert_eq!(
        state["index"]["months"],
        json!([
            start.format("%Y-%m").to_string(),
            second.format("%Y-%m").to_string()
        ])
    );
    let history = &state["districts"]["110109"]["history"];
    assert_eq!(history, &want);
    let index = state["districts"]["110109"]["index"].as_f64().unwrap();
    assert_eq!(
        state["districts"]["110109"]["change"].as_f64(),
        Some(round1(index - history[1].as_f64().unwrap()))
    );
    // A district with nothing: 0 at both closes, no change.
    assert_eq!(state["districts"]["110101"]["history"], json!([0.0, 0.0]));
    assert_eq!(state["districts"]["110101"]["change"], 0.0);
    server.stop().await;
}
