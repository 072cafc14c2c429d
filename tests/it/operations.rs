//! What a supervisor reads: /healthz, /readyz and /metrics.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn readiness_and_metrics_count_what_happened() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ts = "2017-06-28T10:00:00+08:00";
    let answer = server
        .ndjson(&[
            scan("m-1", "110101", "p-00000001", ts),
            scan("m-2", "110101", "p-00000002", ts),
            scan("m-1", "110101", "p-00000001", ts),
            json!({"id": "m-3", "ts": ts, "kind": "scan", "district": "nowhere", "person": "p-00000003"}),
        ])
        .await;
    assert_eq!(answer["accepted"], 2);
    let (status, _) = server
        .post_with_key(None, "application/x-ndjson", "{}")
        .await;
    assert_eq!(status, 401);
    let _ws = server.ws().await;
    server
        .wait_for("two scans", |s| s["totals"]["scans"] == 2)
        .await;

    let get = |path: &str| server.client.get(format!("{}{path}", server.url)).send();
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["store"], "open");
    assert_eq!(ready["tick_ms"], 100);
    assert_eq!(ready["epoch"], json!(server.epoch()));

    // Metrics are for staff (a supervisor scrapes them with the admin token).
    assert_eq!(get("/metrics").await.unwrap().status(), 401);
    let text = server.metrics().await;
    for line in [
        "weibing_events_accepted_total{key=\"env\"} 2",
        "weibing_events_duplicate_total{key=\"env\"} 1",
        "weibing_events_rejected_total{key=\"env\"} 1",
        "weibing_ingest_refused_requests_total{status=\"401\"} 1",
        "weibing_websocket_clients 1",
        "weibing_tick_failures_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.contains("# TYPE weibing_tick_duration_seconds histogram"));
    let wal: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("weibing_store_wal_bytes "))
        .expect("the WAL size")
        .parse()
        .unwrap();
    assert!(wal >= 0);
    assert!(!text.contains(INGEST_KEY), "no secret in the metrics");
    server.stop().await;
}

#[tokio::test]
async fn alerts_reach_staff_and_the_metrics_but_not_viewers() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let r = server
        .client
        .put(format!("{}/api/v1/settings", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"alerts": {"rejected_per_minute": 3}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let settings: serde_json::Value = r.json().await.unwrap();
    assert_eq!(settings["alerts"]["rejected_per_minute"], 3);
    assert_eq!(settings["k"], 5, "the other settings keep their values");
    let bad = json!({"id": "bad", "kind": "scan"});
    let answer = server.ndjson(&[bad.clone(), bad.clone(), bad]).await;
    assert_eq!(answer["rejected"], 3);
    let staff = server
        .wait_for("the rejected burst alert", |s| {
            s["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["id"] == "rejected_burst"))
        })
        .await;
    let alert = staff["state"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "rejected_burst")
        .unwrap()
        .clone();
    assert_eq!(alert["kind"], "rejected_burst");
    assert_eq!(alert["where"], "全市");
    assert_eq!(alert["message"], "近1分钟被拒数据3条");
    let (_, link) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "link", "label": "x"}),
        )
        .await;
    let viewer = server.snapshot_as(link["token"].as_str().unwrap()).await;
    assert!(
        viewer["state"].get("alerts").is_none(),
        "{}",
        viewer["state"]
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("weibing_alerts_active{kind=\"rejected_burst\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}
