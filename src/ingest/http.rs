//! `POST /api/v1/events`.

use std::collections::HashSet;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::decode::{self, DecodeError, Format};
use super::event;
use crate::server::AppState;
use crate::store::{Batch, Rejected, StoreError};
use crate::time;

/// Errors listed in an answer at most; every rejected record is stored anyway.
pub const MAX_ERRORS: usize = 100;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Answer {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub errors: Vec<LineError>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub error: String,
}

/// Why a whole request was refused. Clients see a short message; details go to the log.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("missing or unknown ingest key: send Authorization: Bearer <key>")]
    Unauthorized,
    #[error(
        "unsupported content type {0:?}: send application/x-ndjson, application/json, text/csv or application/vnd.apache.arrow.stream"
    )]
    UnsupportedType(String),
    #[error("body larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    BadBody(String),
    #[error(
        "the store could not commit this request ({}); nothing of it was stored, send it again later",
        .0.reason()
    )]
    Store(#[source] StoreError),
    #[error("the body could not be read")]
    Read,
}

impl IngestError {
    pub fn status(&self) -> StatusCode {
        match self {
            IngestError::Unauthorized => StatusCode::UNAUTHORIZED,
            IngestError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::BadBody(_) | IngestError::Read => StatusCode::BAD_REQUEST,
            IngestError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let IngestError::Store(e) = &self {
            tracing::error!(error = %e, "ingest not committed");
        }
        let mut response = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

pub async fn post_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Answer>, IngestError> {
    let result = ingest(&app, &headers, body).await;
    if let Err(e) = &result {
        let status = e.status().as_u16();
        app.metrics
            .refused_requests
            .get_or_create(&crate::metrics::StatusLabel { status })
            .inc();
    }
    result
}

async fn ingest(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<Answer>, IngestError> {
    let source = crate::access::http::bearer(headers)
        .and_then(|token| app.access.ingest_source(token, time::now_beijing_micros()))
        .ok_or(IngestError::Unauthorized)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::from_content_type(content_type)
        .ok_or_else(|| IngestError::UnsupportedType(content_type.to_string()))?;
    let limit = app.max_body_bytes;
    let clock = std::time::Instant::now();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            IngestError::TooLarge(limit)
        } else {
            IngestError::Read
        }
    })?;

    let read = clock.elapsed();
    let size = bytes.len();
    let region = app.region.clone();
    // Decoding and validating a large body is CPU work: off the async workers.
    let key = source.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(&bytes, format, &region, &source))
        .await
        .map_err(|_| IngestError::Read)?;
    let (batch, mut answer) = match prepared {
        Ok(ready) => ready,
        Err((batch, message)) => {
            // The whole body is kept as one rejected record, then refused.
            app.store.ingest(batch).await.map_err(IngestError::Store)?;
            app.metrics.ingested(&key, 0, 0, 1);
            return Err(IngestError::BadBody(message));
        }
    };
    let prepared = clock.elapsed();
    let committed = app.store.ingest(batch).await.map_err(IngestError::Store)?;
    tracing::debug!(
        bytes = size,
        read_us = read.as_micros() as u64,
        prepare_us = (prepared - read).as_micros() as u64,
        store_us = (clock.elapsed() - prepared).as_micros() as u64,
        "ingested a request"
    );
    answer.accepted = committed.accepted;
    answer.duplicates += committed.duplicates;
    app.metrics
        .ingested(&key, answer.accepted, answer.duplicates, answer.rejected);
    Ok(Json(answer))
}

type Prepared = Result<(Batch, Answer), (Batch, String)>;

/// Decodes and validates a body into what to store and what to answer.
pub fn prepare(
    bytes: &[u8],
    format: Format,
    region: &crate::region::Region,
    source: &str,
) -> Prepared {
    let records = match decode::decode(format, bytes) {
        Ok(records) => records,
        Err(e) => {
            let raw = match format {
                Format::Arrow => format!(
                    "({} bytes of binary data that are not a readable Arrow stream)",
                    bytes.len()
                ),
                _ => String::from_utf8_lossy(bytes).into_owned(),
            };
            let message = match &e {
                DecodeError::MissingColumns(_) => e.to_string(),
                DecodeError::Body(m) => m.clone(),
            };
            let batch = Batch {
                source: source.to_string(),
                format,
                events: Vec::new(),
                rejected: vec![Rejected {
                    line: 0,
                    event_id: None,
                    reason: message.clone(),
                    raw,
                }],
                repeats: 0,
            };
            return Err((batch, message));
        }
    };
    let now = time::now_beijing_micros();
    let mut events = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    let mut errors = Vec::new();
    for mut record in records {
        let outcome = match &mut record.event {
            Ok(raw) => event::validate(raw, region, now),
            Err(reason) => Err(reason.clone()),
        };
        match outcome {
            Ok(event) => events.push(event),
            Err(reason) => {
                let raw_event = record.event.as_ref().ok();
                let id = raw_event.and_then(|raw| raw.id_text()).map(str::to_string);
                if errors.len() < MAX_ERRORS {
                    errors.push(LineError {
                        line: record.line,
                        id: id.clone(),
                        error: reason.clone(),
                    });
                }
                let raw = record
                    .raw
                    .or_else(|| raw_event.map(|raw| raw.to_json()))
                    .unwrap_or_default();
                rejected.push(Rejected {
                    line: record.line,
                    event_id: id,
                    reason,
                    raw,
                });
            }
        }
    }
    // An id the request repeats is stored once: the first one wins.
    let before = events.len();
    let mut ids: HashSet<&str> = HashSet::with_capacity(before);
    let first: Vec<bool> = events.iter().map(|e| ids.insert(e.id.as_str())).collect();
    drop(ids);
    let mut keep = first.into_iter();
    events.retain(|_| keep.next().unwrap_or(false));
    let repeats = before - events.len();
    let answer = Answer {
        accepted: 0,
        duplicates: repeats,
        rejected: rejected.len(),
        errors,
    };
    Ok((
        Batch {
            source: source.to_string(),
            format,
            events,
            rejected,
            repeats,
        },
        answer,
    ))
}
