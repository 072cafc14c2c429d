//! The web front-end (web/dist, built by build.rs from web/), embedded in the
//! binary so the wall works on an intranet with nothing else installed.

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Assets;

/// `/`: the wall (it reads its token from `?token=`).
pub async fn index() -> Response {
    asset("index.html", false)
}

/// `/console`: the staff console (it signs in by itself).
pub async fn console() -> Response {
    asset("console.html", false)
}

/// `/console/review?month=YYYY-MM`: the monthly review, for print. Like the
/// console it holds no data: it reads `/api/v1/review` with the session.
pub async fn review() -> Response {
    asset("review.html", false)
}

/// `/v/<token>`: a leader's link. The page holds no data: it asks for it
/// with the token, and shows that the link ended if the server says so.
pub async fn view() -> Response {
    asset("view.html", false)
}

/// `/assets/*`: hashed file names, cached for good.
pub async fn static_file(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.split('/').any(|part| part == ".." || part.is_empty()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    asset(path, path.starts_with("assets/"))
}

fn asset(path: &str, immutable: bool) -> Response {
    match Assets::get(path) {
        Some(file) => {
            // Pages may carry a token in their URL: never stored by a cache.
            let cache = if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-store"
            };
            (
                [
                    (header::CONTENT_TYPE, file.metadata.mimetype().to_string()),
                    (header::CACHE_CONTROL, cache.to_string()),
                ],
                file.data,
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
