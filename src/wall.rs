//! The wall's launch moment: `POST /api/v1/wall` puts every wall in the
//! "before launch" state (the cover, staff only) or launches it (staff, or
//! the wall PC's wall token: its only power). Kept in the store's settings,
//! so it survives a restart and a page reload, and published in the state.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::access::Role;
use crate::access::http::{Address, Reader, audit, check_csrf};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use serde::Deserialize;

use crate::aggregate::state::{Phase, WALL_TITLE, Wall};
use crate::server::AppState;
use crate::time;

pub const SETTING: &str = "wall";

/// Changes of the wall one credential may make in [`POST_WINDOW`]: a
/// ceremony needs a few; each one wakes the tick at once.
pub const POSTS_PER_WINDOW: usize = 10;
pub const POST_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// `POST /api/v1/wall` per credential (its actor): at most
/// [`POSTS_PER_WINDOW`] in [`POST_WINDOW`].
#[derive(Debug, Default)]
pub struct PostLimit {
    // A std Mutex: a few map operations, never held across an await.
    recent: std::sync::Mutex<
        std::collections::HashMap<String, std::collections::VecDeque<std::time::Instant>>,
    >,
}

impl PostLimit {
    /// Counts a change by `actor` now; `Err(seconds)` to wait when over.
    pub fn take(&self, actor: &str, now: std::time::Instant) -> Result<(), u64> {
        let mut recent = self.recent.lock().expect("wall limit lock");
        // Forget the credentials whose window has passed (the map stays small).
        recent.retain(|_, times| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t) < POST_WINDOW)
        });
        let times = recent.entry(actor.to_string()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= POST_WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= POSTS_PER_WINDOW {
            let oldest = *times.front().expect("full");
            return Err((POST_WINDOW - now.duration_since(oldest)).as_secs().max(1));
        }
        times.push_back(now);
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WallRequest {
    pub phase: Phase,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub countdown_to: Option<String>,
}

/// The wall state saved in the settings, or the default (live) one.
pub fn from_setting(settings: &[(String, String)]) -> Wall {
    settings
        .iter()
        .find(|(k, _)| k == SETTING)
        .and_then(|(_, v)| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

/// Staff (session or admin token) may set it; a wall token may only
/// launch (`{"phase":"live"}`, keeping the title and countdown).
pub async fn post_wall(
    State(app): State<AppState>,
    who: Result<Reader, crate::access::http::ApiError>,
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
