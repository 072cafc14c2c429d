//! The monthly review: two months of a synthetic history in Fengtai, the
//! figures per team and per district against a count made here by hand,
//! closing, a back-fill after it, reopening and closing again.

use serde_json::{Value, json};

use crate::common::{TestServer, temp_dir};

const FENGTAI: &str = "110106";

fn event(id: &str, ts: &str, kind: &str, person: &str, extra: Value) -> Value {
    let mut e = json!({"id": id, "ts": format!("{ts}+08:00"), "kind": kind, "district": FENGTAI, "person": person});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn enroll(id: &str, ts: &str, person: &str, team: &str) -> Value {
    event(id, ts, "enroll", person, json!({"team": team}))
}

fn service(id: &str, ts: &str, person: &str, team: &str, category: &str) -> Value {
    event(
        id,
        ts,
        "service",
        person,
        json!({"team": team, "category": category}),
    )
}

fn outcome(id: &str, ts: &str, person: &str, rate: &str, value: bool) -> Value {
    event(
        id,
        ts,
        "outcome",
        person,
        json!({"rate": rate, "value": value}),
    )
}

/// October: one person enrolled with the diabetes team of 丰台中西医结合医院,
/// served once, observed under control. November: two more with registered
/// teams, one with a team the registry does not list, services, and
/// observations (the control observation of October overtaken).
fn history() -> Vec<Value> {
    vec![
        enroll("r-1", "2026-10-10T09:00:00", "p-r000001", "ft-zxy-diabetes"),
        service(
            "r-2",
            "2026-10-12T09:00:00",
            "p-r000001",
            "ft-zxy-diabetes",
            "health_management",
        ),
        outcome("r-3", "2026-10-20T09:00:00", "p-r000001", "control", true),
        enroll("r-4", "2026-11-05T09:00:00", "p-r000002", "ft-zxy-diabetes"),
        enroll(
            "r-5",
            "2026-11-06T09:00:00",
            "p-r000003",
            "ft-youanmen-hypertension",
        ),
        enroll("r-6", "2026-11-07T09:00:00", "p-r000004", "ft-unlisted"),
        service(
            "r-7",
            "2026-11-08T09:00:00",
            "p-r000001",
            "ft-zxy-diabetes",
            "patient_followup",
        ),
        service(
            "r-8",
            "2026-11-09T09:00:00",
            "p-r000002",
            "ft-zxy-diabetes",
            "treatment",
        ),
        outcome("r-9", "2026-11-10T09:00:00", "p-r000001", "awareness", true),
        outcome(
            "r-10",
            "2026-11-11T09:00:00",
            "p-r000002",
            "awareness",
            false,
        ),
        outcome(
            "r-11",
            "2026-11-12T09:00:00",
            "p-r000003",
            "awareness",
            true,
        ),
        outcome("r-12", "2026-11-20T09:00:00", "p-r000001", "control", false),
        // Scans through the diabetes team's own QR code (its id as the
        // channel), one through another channel; guardians certified: one
        // the diabetes team manages, one nobody manages.
        event(
            "r-15",
            "2026-11-21T09:00:00",
            "scan",
            "p-r000001",
            json!({"channel": "ft-zxy-diabetes"}),
        ),
        event(
            "r-16",
            "2026-11-21T09:05:00",
            "scan",
            "p-r000007",
            json!({"channel": "ft-zxy-diabetes"}),
        ),
        event(
            "r-17",
            "2026-11-21T09:10:00",
            "scan",
            "p-r000008",
            json!({"channel": "wechat-share"}),
        ),
        event(
            "r-18",
            "2026-11-25T09:00:00",
            "train",
            "p-r000002",
            json!({"stage": "certified"}),
        ),
        event(
            "r-19",
            "2026-11-26T09:00:00",
            "train",
            "p-r000008",
            json!({"stage": "certified"}),
        ),
        // December: not in November's figures.
        enroll(
            "r-13",
            "2026-12-01T09:00:00",
            "p-r000006",
            "ft-zxy-diabetes",
        ),
    ]
}

fn row<'a>(review: &'a Value, key: &str) -> &'a Value {
    review["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r.get("team")
                .and_then(Value::as_str)
                .or(r["district"].as_str())
                == Some(key)
        })
        .unwrap_or_else(|| panic!("no row {key} in {review}"))
}

/// The nine rates as the review gives them: (value, n, standard, pass).
fn rate(row: &Value, code: &str) -> (Value, u64, f64, Value) {
    let r = &row["rates"][code];
    (
        r["value"].clone(),
        r["n"].as_u64().unwrap(),
        r["standard"].as_f64().unwrap(),
        r["pass"].clone(),
    )
}

#[tokio::test]
async fn a_month_per_team_and_district_closed_revised_and_reopened() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let answer = server.ndjson(&history()).await;
    assert_eq!(answer["accepted"], 18, "{answer}");

    // November, per team.
    let (status, nov) = server
        .get_admin("/api/v1/review?month=2026-11&level=team")
        .await;
    assert_eq!(status, 200, "{nov}");
    assert_eq!(
        (
            nov["month"].as_str(),
            nov["level"].as_str(),
            nov["closed"].as_bool()
        ),
        (Some("2026-11"), Some("team"), Some(false))
    );
    assert_eq!(nov["as_of"], "2026-12-01T00:00:00+08:00");
    // The registry's ten Fengtai teams in its order, then the unlisted one.
    let ids: Vec<&str> = nov["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["team"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "ft-zxy-diabetes",
            "ft-zxy-psychology",
            "ft-zxy-diet",
            "ft-zxy-exercise-copd",
            "ft-youanmen-hypertension",
            "ft-fangzhuang-diabetes",
            "ft-lugouqiao-exercise-copd",
            "ft-puhuangyu-psychology",
            "ft-boaitang-diabetes",
            "ft-team-10",
            "ft-unlisted",
        ]
    );
    let diabetes = row(&nov, "ft-zxy-diabetes");
    assert_eq!(diabetes["name"], "丰台中西医结合医院糖尿病团队");
    assert_eq!(diabetes["district"], FENGTAI);
    assert_eq!(diabetes["district_name"], "丰台区");
    assert_eq!(diabetes["registered"], true);
    assert_eq!(diabetes["discipline"], "diabetes");
    assert_eq!(
        [
            &diabetes["target"],
            &diabetes["managed"],
            &diabetes["managed_new"],
            &diabetes["services"],
            &diabetes["followups"]
        ],
        [&json!(1000), &json!(2), &json!(1), &json!(2), &json!(1)]
    );
    assert_eq!(diabetes["categories"]["patient_followup"], 1);
    assert_eq!(diabetes["categories"]["treatment"], 1);
    assert_eq!(diabetes["categories"]["health_management"], 0);
    assert_eq!(diabetes["previous"], json!({"managed": 1, "services": 1}));
    assert_eq!(
        (&diabetes["scans"], &diabetes["guardians"]),
        (&json!(2), &json!(1))
    );
    // Its managed persons: p-r000001 (awareness yes, control: latest no) and
    // p-r000002 (awareness no).
    assert_eq!(
        rate(diabetes, "awareness"),
        (json!(0.5), 2, 0.8, json!(false))
    );
    assert_eq!(
        rate(diabetes, "control"),
        (json!(0.0), 1, 0.6, json!(false))
    );
    assert_eq!(
        rate(diabetes, "management"),
        (json!(0.002), 1000, 0.6, json!(false))
    );
    assert_eq!(
        rate(diabetes, "satisfaction"),
        (
            Value::Null,
            0,
            rate(diabetes, "satisfaction").2,
            Value::Null
        )
    );
    assert_eq!(diabetes["rates"].as_object().unwrap().len(), 9);
    assert_eq!(diabetes["passed"], 0);
    let youanmen = row(&nov, "ft-youanmen-hypertension");
    assert_eq!(
        (
            &youanmen["managed"],
            &youanmen["managed_new"],
            &youanmen["services"]
        ),
        (&json!(1), &json!(1), &json!(0))
    );
    assert_eq!(
        rate(youanmen, "awareness"),
        (json!(1.0), 1, 0.8, json!(true))
    );
    assert_eq!(youanmen["passed"], 1);
    // Idle teams show zeros.
    let idle = row(&nov, "ft-team-10");
    assert_eq!(
        [
            &idle["managed"],
            &idle["managed_new"],
            &idle["services"],
            &idle["followups"],
            &idle["passed"]
        ],
        [&json!(0), &json!(0), &json!(0), &json!(0), &json!(0)]
    );
    assert_eq!(
        rate(idle, "management"),
        (json!(0.0), 1000, 0.6, json!(false))
    );
    let unlisted = row(&nov, "ft-unlisted");
    assert_eq!(
        (
            &unlisted["registered"],
            &unlisted["target"],
            &unlisted["managed"]
        ),
        (&json!(false), &json!(0), &json!(1))
    );
    assert_eq!(rate(unlisted, "management").0, Value::Null);
    // Ranks: the one team with a rate at standard first, then by managed ÷ target.
    assert_eq!(
        (&youanmen["rank"], &diabetes["rank"]),
        (&json!(1), &json!(2))
    );
    let mut ranks: Vec<u64> = nov["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rank"].as_u64().unwrap())
        .collect();
    ranks.sort_unstable();
    assert_eq!(ranks, (1..=11).collect::<Vec<u64>>());

    // October: the one person, still under control then.
    let (_, oct) = server
        .get_admin("/api/v1/review?month=2026-10&level=team")
        .await;
    let diabetes_oct = row(&oct, "ft-zxy-diabetes");
    assert_eq!(
        (
            &diabetes_oct["managed"],
            &diabetes_oct["managed_new"],
            &diabetes_oct["services"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_eq!(
        rate(diabetes_oct, "control"),
        (json!(1.0), 1, 0.6, json!(true))
    );
    assert_eq!(
        oct["rows"].as_array().unwrap().len(),
        10,
        "no unlisted team yet"
    );

    // November, per district: Fengtai's four enrolled persons and its rates.
    let (_, district) = server
        .get_admin("/api/v1/review?month=2026-11&level=district")
        .await;
    assert_eq!(district["rows"].as_array().unwrap().len(), 16);
    let fengtai = row(&district, FENGTAI);
    assert_eq!(fengtai["name"], "丰台区");
    assert_eq!(
        [
            &fengtai["target"],
            &fengtai["managed"],
            &fengtai["managed_new"],
            &fengtai["services"],
            &fengtai["followups"]
        ],
        [&json!(15000), &json!(4), &json!(3), &json!(2), &json!(1)]
    );
    assert_eq!(fengtai["previous"], json!({"managed": 1, "services": 1}));
    // The district's scans through its teams' codes; guardians certified there.
    assert_eq!(
        (&fengtai["scans"], &fengtai["guardians"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(
        rate(fengtai, "awareness"),
        (json!(0.6667), 3, 0.8, json!(false))
    );
    assert_eq!(rate(fengtai, "control"), (json!(0.0), 1, 0.6, json!(false)));
    assert_eq!(
        rate(fengtai, "management"),
        (json!(0.0003), 15000, 0.6, json!(false))
    );
    let dongcheng = row(&district, "110101");
    assert_eq!(
        [&dongcheng["managed"], &dongcheng["services"]],
        [&json!(0), &json!(0)]
    );
    assert_eq!(fengtai["rank"], 1);

    // The fourth quarter, for the district's quarterly meeting: its three
    // months as they stand (December's enrolment too).
    let (status, q4) = server
        .get_admin("/api/v1/review?quarter=2026-Q4&level=team")
        .await;
    assert_eq!(status, 200, "{q4}");
    assert_eq!((&q4["quarter"], q4.get("month")), (&json!("2026-Q4"), None));
    let diabetes_q4 = row(&q4, "ft-zxy-diabetes");
    assert_eq!(
        [
            &diabetes_q4["managed"],
            &diabetes_q4["managed_new"],
            &diabetes_q4["services"],
            &diabetes_q4["followups"]
        ],
        [&json!(3), &json!(3), &json!(3), &json!(1)]
    );
    assert_eq!(
        diabetes_q4["previous"],
        json!({"managed": 0, "services": 0})
    );
    assert_eq!(
        rate(diabetes_q4, "management"),
        (json!(0.003), 1000, 0.6, json!(false))
    );

    // Bad questions, each told why.
    for (path, status, error) in [
        ("/api/v1/review", 400, "month: required, as YYYY-MM"),
        (
            "/api/v1/review?month=2026-13",
            400,
            "month: a month as YYYY-MM",
        ),
        (
            "/api/v1/review?month=2099-01",
            400,
            "month: 2099-01 has not begun",
        ),
        (
            "/api/v1/review?month=2026-11&level=city",
            400,
            "level: one of team, district, got \"city\"",
        ),
        (
            "/api/v1/review/revisions?month=2026-11",
            409,
            "month 2026-11 is not closed: revisions are the events stored after a month was closed",
        ),
    ] {
        let (s, body) = server.get_admin(path).await;
        assert_eq!((s, body["error"].as_str()), (status, Some(error)), "{path}");
    }
    let (s, body) = server
        .post_admin("/api/v1/review/close", &json!({"month": "2026-12"}))
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (
            400,
            Some("month: 2026-12 is not over; a month is closed after its last day")
        )
    );

    // Closing November freezes it.
    let (s, closed) = server
        .post_admin("/api/v1/review/close", &json!({"month": "2026-11"}))
        .await;
    assert_eq!(
        (s, &closed["closed"], &closed["closed_by"]),
        (200, &json!(true), &json!("admin-token")),
        "{closed}"
    );
    let (s, again) = server
        .post_admin("/api/v1/review/close", &json!({"month": "2026-11"}))
        .await;
    assert_eq!(s, 409, "{again}");
    assert!(
        again["error"]
            .as_str()
            .unwrap()
            .starts_with("month 2026-11 is already closed (by admin-token at ")
    );

    // A back-fill of November after the close: the closed month does not
    // move; the late event is a revision, with its effect.
    let answer = server
        .ndjson(&[enroll(
            "r-14",
            "2026-11-15T09:00:00",
            "p-r000005",
            "ft-zxy-diabetes",
        )])
        .await;
    assert_eq!(answer["accepted"], 1);
    let (_, frozen) = server
        .get_admin("/api/v1/review?month=2026-11&level=team")
        .await;
    assert_eq!(frozen["closed"], true);
    assert_eq!(frozen["closed_at"], closed["closed_at"]);
    assert_eq!(row(&frozen, "ft-zxy-diabetes")["managed"], 2);
    let (s, revisions) = server
        .get_admin("/api/v1/review/revisions?month=2026-11")
        .await;
    assert_eq!(s, 200, "{revisions}");
    assert_eq!(revisions["events"], 1);
    let late = &revisions["revisions"][0];
    assert_eq!(
        (
            &late["district"],
            &late["team"],
            &late["kind"],
            &late["events"]
        ),
        (
            &json!(FENGTAI),
            &json!("ft-zxy-diabetes"),
            &json!("enroll"),
            &json!(1)
        )
    );
    let effects: Vec<(String, String, String, Value, Value)> = revisions["effects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["level"].as_str().unwrap().into(),
                e["key"].as_str().unwrap().into(),
                e["field"].as_str().unwrap().into(),
                e["closed"].clone(),
                e["now"].clone(),
            )
        })
        .collect();
    let e = |l: &str, k: &str, f: &str, a: Value, b: Value| {
        (l.to_string(), k.to_string(), f.to_string(), a, b)
    };
    assert_eq!(
        effects,
        [
            e("team", "ft-zxy-diabetes", "managed", json!(2), json!(3)),
            e("team", "ft-zxy-diabetes", "managed_new", json!(1), json!(2)),
            e(
                "team",
                "ft-zxy-diabetes",
                "rates.management.value",
                json!(0.002),
                json!(0.003)
            ),
            e("district", FENGTAI, "managed", json!(4), json!(5)),
            e("district", FENGTAI, "managed_new", json!(3), json!(4)),
            e(
                "district",
                FENGTAI,
                "rates.management.value",
                json!(0.0003),
                json!(0.0003)
            ),
        ]
        .into_iter()
        .filter(|x| x.3 != x.4)
        .collect::<Vec<_>>()
    );

    // Reopened by an admin, it shows the back-fill; closed again, it stays so.
    let (s, reopened) = server
        .post_admin("/api/v1/review/reopen", &json!({"month": "2026-11"}))
        .await;
    assert_eq!(
        (s, &reopened),
        (200, &json!({"month": "2026-11", "closed": false}))
    );
    let (_, open) = server
        .get_admin("/api/v1/review?month=2026-11&level=team")
        .await;
    assert_eq!(
        (&open["closed"], &row(&open, "ft-zxy-diabetes")["managed"]),
        (&json!(false), &json!(3))
    );
    let (s, _) = server
        .post_admin("/api/v1/review/reopen", &json!({"month": "2026-11"}))
        .await;
    assert_eq!(s, 409);
    let (s, _) = server
        .post_admin("/api/v1/review/close", &json!({"month": "2026-11"}))
        .await;
    assert_eq!(s, 200);
    let (_, reclosed) = server
        .get_admin("/api/v1/review?month=2026-11&level=district")
        .await;
    assert_eq!(
        (&reclosed["closed"], &row(&reclosed, FENGTAI)["managed"]),
        (&json!(true), &json!(5))
    );
    let (_, revisions) = server
        .get_admin("/api/v1/review/revisions?month=2026-11")
        .await;
    assert_eq!(
        (&revisions["events"], &revisions["effects"]),
        (&json!(0), &json!([]))
    );

    // Closing and reopening are in the audit trail.
    let (_, audit) = server.get_admin("/api/v1/audit").await;
    assert_eq!(
        audited(&audit, "review_"),
        [
            ("review_close", "2026-11"),
            ("review_close", "2026-11"),
            ("review_reopen", "2026-11")
        ]
    );
    server.stop().await;
}

/// 一帐三单: items added with an owner and a deadline, overdue when open
/// past it, done once; bad items told why; every change audited.
#[tokio::test]
async fn the_ledger_lists_counts_overdue_items_and_audits() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (status, first) = server
        .post_admin(
            "/api/v1/ledger",
            &json!({"list": "feedback", "district": "丰台区", "team": "ft-zxy-diabetes",
                    "title": "回访记录缺失", "owner": "王主任", "deadline": "2026-11-30",
                    "detail": "十一月患教回访记录未上传"}),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (
            &first["id"],
            &first["list"],
            &first["list_name"],
            &first["district"],
            &first["team"],
            &first["overdue"],
            &first["done_at"]
        ),
        (
            &json!(1),
            &json!("feedback"),
            &json!("反馈单"),
            &json!(FENGTAI),
            &json!("ft-zxy-diabetes"),
            &json!(true),
            &Value::Null
        )
    );
    let (status, second) = server
        .post_admin(
            "/api/v1/ledger",
            &json!({"list": "task", "district": "110106", "title": "十二月扫码推广", "owner": "区办公室", "deadline": "2099-01-31"}),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(
        (&second["id"], &second["team"], &second["overdue"]),
        (&json!(2), &Value::Null, &json!(false))
    );

    for (body, error) in [
        (
            json!({"list": "memo", "district": "110106", "title": "t", "owner": "o", "deadline": "2026-12-01"}),
            "list: must be one of task, supervision, feedback",
        ),
        (
            json!({"list": "task", "district": "110100", "title": "t", "owner": "o", "deadline": "2026-12-01"}),
            "district: a district code or name of the region",
        ),
        (
            json!({"list": "task", "district": "110106", "team": "ft-nobody", "title": "t", "owner": "o", "deadline": "2026-12-01"}),
            "team: \"ft-nobody\" is not a registered team of 丰台区 (110106)",
        ),
        (
            json!({"list": "task", "district": "110106", "title": "", "owner": "o", "deadline": "2026-12-01"}),
            "title: 1 to 200 characters, got 0",
        ),
        (
            json!({"list": "task", "district": "110106", "title": "t", "owner": "13912345678", "deadline": "2026-12-01"}),
            "owner: looks like an 11-digit mobile phone number; no personal numbers here",
        ),
        (
            json!({"list": "task", "district": "110106", "title": "t", "owner": "o", "deadline": "12/01/2026"}),
            "deadline: a date as YYYY-MM-DD, got \"12/01/2026\"",
        ),
    ] {
        let (status, answer) = server.post_admin("/api/v1/ledger", &body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(error)),
            "{body}"
        );
    }

    let (status, ledger) = server.get_admin("/api/v1/ledger").await;
    assert_eq!(status, 200);
    assert_eq!(
        (&ledger["open"], &ledger["overdue"]),
        (&json!(2), &json!(1))
    );
    let ids: Vec<&Value> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, [&json!(1), &json!(2)], "open items by deadline");

    let (status, done) = server
        .post_admin("/api/v1/ledger/1/done", &json!({"outcome": "已补传"}))
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (&done["done_by"], &done["outcome"], &done["overdue"]),
        (&json!("admin-token"), &json!("已补传"), &json!(false))
    );
    let (status, again) = server.post_admin("/api/v1/ledger/1/done", &json!({})).await;
    assert_eq!(status, 409, "{again}");
    let (status, _) = server.post_admin("/api/v1/ledger/9/done", &json!({})).await;
    assert_eq!(status, 404);
    let (_, ledger) = server.get_admin("/api/v1/ledger").await;
    assert_eq!(
        (&ledger["open"], &ledger["overdue"]),
        (&json!(1), &json!(0))
    );
    let ids: Vec<&Value> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, [&json!(2), &json!(1)], "done items after open ones");

    let (_, audit) = server.get_admin("/api/v1/audit").await;
    assert_eq!(
        audited(&audit, "ledger_"),
        [
            ("ledger_added", "1"),
            ("ledger_added", "2"),
            ("ledger_done", "1")
        ]
    );
    server.stop().await;
}

/// The team registry: the region's file, edited by staff (audited), kept
/// across a restart, and what the review lists.
#[tokio::test]
async fn staff_edit_the_team_registry_and_the_review_follows() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (status, listed) = server.get_admin("/api/v1/teams").await;
    assert_eq!(status, 200);
    let teams = listed["teams"].as_array().unwrap();
    assert_eq!(teams.len(), 10);
    assert_eq!(
        teams[9],
        json!({"id": "ft-team-10", "name": "第十支区级团队（待定）", "institution": "待定",
               "district": FENGTAI, "district_name": "丰台区", "level": "district",
               "discipline": "non_drug", "target": 1000, "active_from": "2017-10-24",
               "active_to": null, "edited_by": null, "edited_at": null})
    );
    let put = |id: &str, body: Value| {
        let request = server
            .client
            .put(format!("{}/api/v1/teams/{id}", server.url))
            .bearer_auth(crate::common::ADMIN_TOKEN)
            .json(&body);
        crate::common::answer(request)
    };
    let team = |name: &str, target: i64| {
        json!({"name": name, "institution": "丰台区中医医院", "district": "丰台区", "level": "district",
               "discipline": "non_drug", "target": target, "active_from": "2026-11-01"})
    };
    // The placeholder named, and a team added.
    let (status, saved) = put("ft-team-10", team("丰台区中医医院非药物疗法团队", 800)).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (
            &saved["name"],
            &saved["target"],
            &saved["active_from"],
            &saved["edited_by"]
        ),
        (
            &json!("丰台区中医医院非药物疗法团队"),
            &json!(800),
            &json!("2026-11-01"),
            &json!("admin-token")
        )
    );
    let (status, _) = put("ft-zyy-nondrug-2", team("丰台区中医医院第二团队", 500)).await;
    assert_eq!(status, 200);
    for (id, body, error) in [
        (
            "ft-x",
            team("甲", 1_000_001),
            "target: a whole number from 0 to 1000000",
        ),
        (
            "ft-x",
            json!({"name": "甲", "institution": "乙", "district": "110106", "level": "street", "discipline": "diet", "target": 1, "active_from": "2026-11-01"}),
            "level: must be one of city, district",
        ),
        (
            "ft-x",
            json!({"name": "", "institution": "乙", "district": "110106", "level": "city", "discipline": "diet", "target": 1, "active_from": "2026-11-01"}),
            "name: 1 to 100 characters, got 0",
        ),
        (
            "ft-x",
            json!({"name": "甲", "institution": "乙", "district": "110100", "level": "city", "discipline": "diet", "target": 1, "active_from": "2026-11-01"}),
            "district: \"110100\" is not a district of the region",
        ),
        (
            "ft-x",
            json!({"name": "甲", "institution": "乙", "district": "110106", "level": "city", "discipline": "diet", "target": 1, "active_from": "2026-11-01", "active_to": "2026-10-01"}),
            "active_to: before active_from",
        ),
    ] {
        let (status, answer) = put(id, body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(error)),
            "{id}"
        );
    }
    // The review of November lists the teams as edited.
    let (_, nov) = server
        .get_admin("/api/v1/review?month=2026-11&level=team")
        .await;
    let ids: Vec<&str> = nov["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["team"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 11);
    assert_eq!(ids[10], "ft-zyy-nondrug-2");
    let tenth = row(&nov, "ft-team-10");
    assert_eq!(
        (&tenth["name"], &tenth["target"], &tenth["registered"]),
        (
            &json!("丰台区中医医院非药物疗法团队"),
            &json!(800),
            &json!(true)
        )
    );
    // October: neither the renamed team (active from November) nor the new one.
    let (_, oct) = server
        .get_admin("/api/v1/review?month=2026-10&level=team")
        .await;
    assert_eq!(oct["rows"].as_array().unwrap().len(), 9);
    server.stop().await;

    // Kept across a restart, and audited.
    let server = TestServer::start(dir.path()).await;
    let (_, listed) = server.get_admin("/api/v1/teams").await;
    let teams = listed["teams"].as_array().unwrap();
    assert_eq!(teams.len(), 11);
    assert_eq!(
        (&teams[9]["name"], &teams[9]["edited_by"]),
        (
            &json!("丰台区中医医院非药物疗法团队"),
            &json!("admin-token")
        )
    );
    assert_eq!(teams[10]["id"], "ft-zyy-nondrug-2");
    let (_, audit) = server.get_admin("/api/v1/audit").await;
    let saved: Vec<&str> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "team_saved")
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(saved, ["ft-zyy-nondrug-2", "ft-team-10"]);
    server.stop().await;
}

/// The audit trail's (action, target) pairs whose action starts with
/// `prefix`, sorted.
fn audited<'a>(audit: &'a Value, prefix: &str) -> Vec<(&'a str, &'a str)> {
    let mut pairs: Vec<(&str, &str)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with(prefix))
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    pairs.sort_unstable();
    pairs
}
