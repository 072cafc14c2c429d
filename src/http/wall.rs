//! `POST /api/v1/wall`: the wall's launch moment (the rules: `crate::wall`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use serde::Deserialize;

use super::AppState;
use super::access::{Address, Reader, audit, check_csrf};
use crate::access::Role;
use crate::aggregate::state::{Phase, WALL_TITLE, Wall};
use crate::time;
use crate::wall::{POSTS_PER_WINDOW, SETTING};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WallRequest {
    pub phase: Phase,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub countdown_to: Option<String>,
}

/// Staff (session or admin token) may set it; a wall token may only
/// launch (`{"phase":"live"}`, keeping the title and countdown).
pub async fn post_wall(
    State(app): State<AppState>,
    who: Result<Reader, super::access::ApiError>,
    Address(address): Address,
    headers: HeaderMap,
    Json(request): Json<WallRequest>,
) -> Response {
    let who = match who {
        Ok(Reader(p)) if matches!(p.role, Role::Admin | Role::Wall) => p,
        _ => {
            return error(
                StatusCode::UNAUTHORIZED,
                "staff or a wall token only: sign in, or send Authorization: Bearer <token>",
            );
        }
    };
    if let Err(e) = check_csrf(&who, &headers) {
        return e.into_response();
    }
    if who.role == Role::Wall
        && (request.phase != Phase::Live
            || request.title.is_some()
            || request.countdown_to.is_some())
    {
        return error(
            StatusCode::FORBIDDEN,
            "a wall token may only launch the wall ({\"phase\":\"live\"}); the title, the countdown and the cover are set by staff in the console",
        );
    }
    if let Err(wait) = app.wall_posts.take(&who.actor, std::time::Instant::now()) {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "at most {POSTS_PER_WINDOW} changes of the wall a minute per credential: try again in {wait} s"
            ),
        );
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(wait),
        );
        return response;
    }
    let countdown_to = match request.countdown_to.as_deref() {
        None | Some("") => None,
        Some(t) => match DateTime::parse_from_rfc3339(t) {
            Ok(t) => Some(time::rfc3339_secs(time::beijing_micros(&t))),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "countdown_to: not an RFC 3339 time with an offset",
                );
            }
        },
    };
    let previous = app.wall.lock().expect("wall lock").clone();
    let title = match request.title {
        Some(t) if t.chars().count() > 64 => {
            return error(StatusCode::BAD_REQUEST, "title: at most 64 characters");
        }
        Some(t) if !t.trim().is_empty() => t,
        // A wall token's launch keeps what staff set.
        None if who.role == Role::Wall => previous.title.clone(),
        _ => WALL_TITLE.to_string(),
    };
    let countdown_to = if who.role == Role::Wall {
        previous.countdown_to.clone()
    } else {
        countdown_to
    };
    let wall = Wall {
        phase: request.phase,
        title,
        countdown_to,
        launched_at: match request.phase {
            Phase::Live if previous.phase == Phase::Before || previous.launched_at.is_none() => {
                Some(time::rfc3339_secs(time::now_beijing_micros()))
            }
            Phase::Live => previous.launched_at.clone(),
            Phase::Before => None,
        },
    };
    let saved = serde_json::to_string(&wall).expect("the wall serializes");
    if let Err(e) = app.store.set_setting(SETTING, &saved).await {
        tracing::error!(error = %e, "wall state not saved");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the wall state could not be saved",
        );
    }
    *app.wall.lock().expect("wall lock") = wall.clone();
    tracing::info!(phase = ?wall.phase, "wall launch state changed");
    let detail = format!("phase {:?}, title {:?}", wall.phase, wall.title);
    audit(
        &app.store,
        &who.actor,
        "wall_changed",
        None,
        Some(&address),
        Some(detail),
    )
    .await;
    // Walls see it at once, not at the next tick.
    app.wake.notify_one();
    Json(wall).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}
