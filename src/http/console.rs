//! The console's staff-only reads and settings (docs/api.md, "Console"):
//! ingest health, rejected events, the audit trail, settings, and the
//! monthly export ([`super::export`]).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::access::{Address, ApiError, Staff, StaffWrite, audit as write_audit};
use crate::settings::{self, Settings};
use crate::time::{self, rfc3339, rfc3339_secs};

/// Window of the events/s figure.
const RATE_SECONDS: i64 = 10;
/// Window of the delay figures.
const DELAY_MICROS: i64 = 5 * 60 * 1_000_000;

pub async fn ingest_health(State(app): State<AppState>, _: Staff) -> Result<Response, ApiError> {
    let now = time::now_beijing_micros();
    let (accepted, rejected) = app
        .metrics
        .activity
        .lock()
        .expect("activity lock")
        .per_second(now, RATE_SECONDS);
    let keys = app.store.ingest_by_key().await?;
    let delays = app.store.recent_delays(now - DELAY_MICROS).await?;
    let keys: Vec<_> = keys
        .into_iter()
        .map(|k| {
            serde_json::json!({
                "source": k.source, "requests": k.requests, "accepted": k.accepted,
                "duplicates": k.duplicates, "rejected": k.rejected, "not_kept": k.not_kept,
                "last_request_at": k.last_request_at.map(rfc3339_secs),
            })
        })
        .collect();
    let delay = delays.map(|(p50, p90, max, events)| {
        serde_json::json!({"p50": p50, "p90": p90, "max": max, "events": events})
    });
    Ok(Json(serde_json::json!({
        "per_second": {"accepted": accepted, "rejected": rejected},
        "delay_ms": delay,
        "keys": keys,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct RejectedQuery {
    limit: Option<usize>,
    source: Option<String>,
}

pub async fn rejected(
    State(app): State<AppState>,
    Staff(p): Staff,
    Address(address): Address,
    Query(q): Query<RejectedQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50);
    // Who read what partners sent, as every download of records is.
    write_audit(
        &app.store,
        &p.actor,
        "rejected_viewed",
        None,
        Some(&address),
        Some(format!("limit {limit}")),
    )
    .await;
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 to 500".into()));
    }
    let rows = app
        .store
        .rejected_rows(limit, q.source.filter(|s| !s.is_empty()))
        .await?;
    let rows: Vec<_> = rows
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "received_at": rfc3339(r.received_at), "source": r.source, "format": r.format,
                "line": r.line, "event_id": r.event_id, "reason": r.reason, "raw": r.raw, "raw_chars": r.raw_chars,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "rejected": rows })).into_response())
}

#[derive(Deserialize)]
pub struct LimitQuery {
    limit: Option<usize>,
}

pub async fn audit(
    State(app): State<AppState>,
    _: Staff,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(200);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 to 10000".into()));
    }
    let rows: Vec<_> = app
        .store
        .audit_rows(Some(limit))
        .await?
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "at": rfc3339(r.at), "actor": r.actor, "action": r.action,
                "target": r.target, "address": r.address, "detail": r.detail,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "audit": rows })).into_response())
}

/// A CSV cell a spreadsheet will not run as a formula: text that begins
/// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
/// (a number, negative ones included, stays as it is). Every CSV the server
/// writes for people to open goes through it.
pub fn csv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && text.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The whole trail as CSV, oldest first.
pub async fn audit_csv(
    State(app): State<AppState>,
    Staff(p): Staff,
    Address(address): Address,
) -> Result<Response, ApiError> {
    write_audit(
        &app.store,
        &p.actor,
        "audit_downloaded",
        None,
        Some(&address),
        None,
    )
    .await;
    let rows = app.store.audit_rows(None).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>, record: [&str; 6]| {
        out.write_record(record.map(|cell| csv_cell(cell).into_owned()))
            .expect("writing to memory");
    };
    write(
        &mut out,
        ["at", "actor", "action", "target", "address", "detail"],
    );
    for r in &rows {
        let at = rfc3339(r.at);
        write(
            &mut out,
            [
                &at,
                &r.actor,
                &r.action,
                r.target.as_deref().unwrap_or(""),
                r.address.as_deref().unwrap_or(""),
                r.detail.as_deref().unwrap_or(""),
            ],
        );
    }
    let body = out.into_inner().expect("writing to memory");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"weibing-audit.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn get_settings(State(app): State<AppState>, _: Staff) -> Response {
    let settings = app.settings.read().expect("settings lock").clone();
    Json(settings).into_response()
}

/// Changes any of the settings; the others keep their values.
pub async fn put_settings(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Json(change): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let current = app.settings.read().expect("settings lock").clone();
    let mut merged = serde_json::to_value(&current).expect("settings serialize");
    merge(&mut merged, change);
    let next: Settings = serde_json::from_value(merged)
        .map_err(|e| ApiError::BadRequest(format!("settings: {e}")))?;
    next.check().map_err(ApiError::BadRequest)?;
    let text = serde_json::to_string(&next).expect("settings serialize");
    app.store
        .set_setting(settings::SETTING, &text)
        .await
        .map_err(ApiError::Store)?;
    *app.settings.write().expect("settings lock") = next.clone();
    app.wake.notify_one();
    write_audit(
        &app.store,
        &p.actor,
        "settings_changed",
        None,
        Some(&address),
        Some(text),
    )
    .await;
    Ok(Json(next).into_response())
}

/// Overlays `change` on `base`, object by object.
fn merge(base: &mut serde_json::Value, change: serde_json::Value) {
    match (base, change) {
        (serde_json::Value::Object(base), serde_json::Value::Object(change)) => {
            for (k, v) in change {
                match base.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, change) => *base = change,
    }
}

#[cfg(test)]
mod csv_tests {
    use super::csv_cell;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_quoted_and_numbers_are_not() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tadmin", "'\tadmin"),
            ("-3.2", "-3.2"),
            ("+5", "+5"),
            ("admin", "admin"),
            ("丰台团队", "丰台团队"),
        ] {
            assert_eq!(csv_cell(cell), written, "{cell}");
        }
    }
}
