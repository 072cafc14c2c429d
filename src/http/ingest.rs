//! `POST /api/v1/events`: the key, the body within its bounds, the records
//! prepared off the async workers (`ingest::prepare`), the store, the answer.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::ingest::prepare::{Answer, Refusal, prepare};
use crate::model::Format;
use crate::store::StoreError;
use crate::time;

/// Why a whole request was refused. Clients see a short message; details go to the log.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("missing or unknown ingest key: send Authorization: Bearer <key>")]
    Unauthorized,
    /// Too many unknown keys from this address (the access limit on tokens).
    #[error("{0}")]
    TooMany(crate::access::limit::Refused),
    #[error(
        "unsupported content type {0:?}: send application/x-ndjson, application/json, text/csv or application/vnd.apache.arrow.stream"
    )]
    UnsupportedType(String),
    #[error("body larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// A body whose records would hold more text than the bound.
    #[error("{0}")]
    TooMuchText(String),
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
            IngestError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            IngestError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::TooLarge(_) | IngestError::TooMuchText(_) => StatusCode::PAYLOAD_TOO_LARGE,
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
        if let IngestError::TooMany(refused) = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, refused.retry_after().into());
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
    super::access::Address(address): super::access::Address,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Answer>, IngestError> {
    let result = ingest(&app, &address, &headers, body).await;
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
    address: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<Answer>, IngestError> {
    let source = app
        .access
        .ingest_key(super::access::bearer(headers), address)
        .map_err(|e| e.map_or(IngestError::Unauthorized, IngestError::TooMany))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::from_content_type(content_type)
        .ok_or_else(|| IngestError::UnsupportedType(content_type.to_string()))?;
    let bounds = app.ingest_bounds;
    let limit = bounds.max_body_bytes;
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
    let teams = app.teams.clone();
    // Decoding and validating a large body is CPU work: off the async workers.
    let key = source.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        prepare(&bytes, format, &region, &source, &bounds, &teams)
    })
    .await
    .map_err(|_| IngestError::Read)?;
    // A body refused whole is kept as one rejected record, then refused.
    let (mut batch, answer) = match prepared {
        Ok((batch, answer)) => (batch, Ok(answer)),
        Err(refused) => {
            let (batch, refusal) = *refused;
            let refusal = match refusal {
                Refusal::BadBody(m) => IngestError::BadBody(m),
                Refusal::TooMuchText(m) => IngestError::TooMuchText(m),
            };
            (batch, Err(refusal))
        }
    };
    // The key's allowance of rejected records kept today.
    let now = time::now_beijing_micros();
    let taken = app.rejected_allowance.take(&key, &batch.rejected, now);
    let over = batch.rejected.len() - taken.records;
    batch.rejected.truncate(taken.records);
    batch.not_kept += over;
    let prepared = clock.elapsed();
    let committed = match app.store.ingest(batch).await {
        Ok(committed) => committed,
        Err(e) => {
            app.rejected_allowance.give_back(&key, taken, now);
            return Err(IngestError::Store(e));
        }
    };
    let mut answer = match answer {
        Ok(answer) => answer,
        Err(refusal) => {
            app.metrics.ingested(&key, 0, 0, 1);
            return Err(refusal);
        }
    };
    answer.not_kept += over;
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
