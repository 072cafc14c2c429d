//! What viewers see of small figures (docs/privacy.md): nothing a viewer
//! can subtract, no rate or colour share of fewer than k persons, and no
//! change that can be tied to one event.

use crate::common::*;
use serde_json::{Value, json};

const TS: &str = "2017-06-28T10:00:00+08:00";
const FENGTAI: &str = "110106";

fn event(id: &str, kind: &str, person: &str, extra: Value) -> Value {
    let mut e = json!({"id": id, "ts": TS, "kind": kind, "district": FENGTAI, "person": person});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

async fn city_link(server: &TestServer) -> String {
    let (status, created) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "link", "label": "全市"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().unwrap().to_string()
}

/// Staff's state once `ready` holds, and the city link's of the same tick
/// or a later one.
async fn both(
    server: &TestServer,
    token: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> (Value, Value) {
    let staff = server.wait_for(what, ready).await["state"].clone();
    let viewer = server.snapshot_as(token).await["state"].clone();
    (staff, viewer)
}

#[tokio::test]
async fn subtraction_on_a_city_link_recovers_no_hidden_team() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let token = city_link(&server).await;
    // 丰台: team X manages 1 person, Y 10, Z 12; 23 in all.
    let mut lines = Vec::new();
    for (team, n) in [("团队X", 1), ("团队Y", 10), ("团队Z", 12)] {
        for i in 0..n {
            lines.push(event(
                &format!("e-{team}-{i}"),
                "enroll",
                &format!("p-{team}-{i:03}"),
                json!({"team": team}),
            ));
        }
    }
    assert_eq!(server.ndjson(&lines).await["accepted"], 23);
    let (staff, viewer) = both(&server, &token, "23 managed", |s| {
        s["totals"]["managed"] == 23
    })
    .await;
    let managed =
        |state: &Value, team: &str| state["districts"][FENGTAI]["teams"][team]["managed"].clone();
    assert_eq!(
        ["团队X", "团队Y", "团队Z"].map(|t| managed(&staff, t)),
        [json!(1), json!(10), json!(12)]
    );
    // X is small; with only X hidden, 23 − 10 − 12 would give it away: Y,
    // the smallest other, is hidden with it.
    assert_eq!(
        ["团队X", "团队Y", "团队Z"].map(|t| managed(&viewer, t)),
        [Value::Null, Value::Null, json!(12)]
    );
    assert_eq!(viewer["districts"][FENGTAI]["managed"], 23);
    // What a viewer can work out: 23 − 12 = 11 for X and Y together.
    server.stop().await;
}

#[tokio::test]
async fn rates_and_colours_of_fewer_than_k_persons_are_not_shown_to_viewers() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let token = city_link(&server).await;
    let lines = vec![
        event(
            "o-1",
            "outcome",
            "p-0001",
            json!({"rate": "control", "value": true}),
        ),
        event(
            "o-2",
            "outcome",
            "p-0002",
            json!({"rate": "control", "value": false}),
        ),
        event("a-1", "assess", "p-0001", json!({"colour": "pink"})),
        event("a-2", "assess", "p-0002", json!({"colour": "yellow"})),
        event("a-3", "assess", "p-0003", json!({"colour": "yellow"})),
    ];
    assert_eq!(server.ndjson(&lines).await["accepted"], 5);
    let (staff, viewer) = both(&server, &token, "3 assessed", |s| {
        s["totals"]["assessed"] == 3
    })
    .await;

    let district = |s: &Value| s["districts"][FENGTAI].clone();
    let control = district(&staff)["rates"]["control"].clone();
    assert_eq!(
        (control["n"].clone(), control["value"].clone()),
        (json!(2), json!(0.5))
    );
    let control = district(&viewer)["rates"]["control"].clone();
    assert_eq!(
        control,
        json!({"value": null, "n": 2, "standard": control["standard"], "pass": null})
    );
    assert!(control["standard"].is_f64());
    // The city's rate is of the same 2 persons.
    assert_eq!(viewer["rates"]["control"]["value"], Value::Null);
    assert_eq!(staff["rates"]["control"]["value"], 0.5);
    // The index leaves the rate out until k persons are observed, for
    // staff and viewers alike: one person's outcome never moves it (未报:
    // 2017 is past the grace period).
    for state in [&staff, &viewer] {
        let component = district(state)["components"]["control"].clone();
        assert_eq!(
            component,
            json!({"value": 0.0, "n": 2, "flag": "missing"}),
            "{component}"
        );
    }

    // 3 assessed persons: no colour shown, in the district or the city.
    let colour_keys = staff["colours"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    let mut codes = weibing::model::Colour::codes();
    codes.sort_unstable();
    assert_eq!(colour_keys, codes);
    for colours in [&viewer["colours"], &district(&viewer)["colours"]] {
        let nulls: Value = colour_keys
            .iter()
            .map(|k| (k.clone(), Value::Null))
            .collect::<serde_json::Map<_, _>>()
            .into();
        assert_eq!(colours, &nulls);
    }
    // Staff see them.
    let total: u64 = staff["colours"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 3);
    server.stop().await;
}

#[tokio::test]
async fn one_event_in_a_small_cell_changes_nothing_a_viewer_sees_until_k_events() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let token = city_link(&server).await;
    // A district with two visible teams of 6 and 8 served persons.
    let mut lines = Vec::new();
    for (team, n) in [("团队A", 6), ("团队B", 8)] {
        for i in 0..n {
            lines.push(event(
                &format!("s-{team}-{i}"),
                "service",
                &format!("p-{team}-{i:03}"),
                json!({"team": team, "category": "learning"}),
            ));
        }
    }
    assert_eq!(server.ndjson(&lines).await["accepted"], 14);
    let (_, viewer) = both(&server, &token, "14 services", |s| {
        s["totals"]["services"] == 14
    })
    .await;
    let teams = |s: &Value| s["districts"][FENGTAI]["teams"].clone();
    assert_eq!(
        teams(&viewer),
        json!({"团队A": {"managed": 0, "served": 6, "services": 6},
               "团队B": {"managed": 0, "served": 8, "services": 8}})
    );

    // A new team's first person gets a treatment: staff see it at once;
    // viewers see the district's services go up, and nothing else move.
    let first = event(
        "s-c-0",
        "service",
        "p-c-000",
        json!({"team": "团队C", "category": "treatment"}),
    );
    assert_eq!(server.ndjson(&[first]).await["accepted"], 1);
    let (staff, viewer) = both(&server, &token, "15 services", |s| {
        s["totals"]["services"] == 15
    })
    .await;
    assert_eq!(
        teams(&staff)["团队C"],
        json!({"managed": 0, "served": 1, "services": 1})
    );
    assert_eq!(viewer["districts"][FENGTAI]["services"], 15);
    assert_eq!(
        teams(&viewer),
        json!({"团队A": {"managed": 0, "served": 6, "services": 6},
               "团队B": {"managed": 0, "served": 8, "services": 8}})
    );

    // Four more services anywhere in the district (k = 5 since the last
    // step): the step is shown, C hidden with A (the smallest beside it).
    let more: Vec<Value> = (1..5)
        .map(|i| {
            event(
                &format!("s-b-more-{i}"),
                "service",
                &format!("p-团队B-{i:03}"),
                json!({"team": "团队B", "category": "learning"}),
            )
        })
        .collect();
    assert_eq!(server.ndjson(&more).await["accepted"], 4);
    let (_, viewer) = both(&server, &token, "19 services", |s| {
        s["totals"]["services"] == 19
    })
    .await;
    assert_eq!(
        teams(&viewer),
        json!({"团队A": {"managed": 0, "served": null, "services": null},
               "团队B": {"managed": 0, "served": 8, "services": 12},
               "团队C": {"managed": 0, "served": null, "services": null}})
    );
    server.stop().await;
}
