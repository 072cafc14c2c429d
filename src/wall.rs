//! The wall's launch moment: `POST /api/v1/wall` (`http::wall`) puts every wall in the
//! "before launch" state (the cover, staff only) or launches it (staff, or
//! the wall PC's wall token: its only power). Kept in the store's settings,
//! so it survives a restart and a page reload, and published in the state.

use crate::aggregate::state::Wall;

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

/// The wall state saved in the settings, or the default (live) one.
pub fn from_setting(settings: &[(String, String)]) -> Wall {
    settings
        .iter()
        .find(|(k, _)| k == SETTING)
        .and_then(|(_, v)| serde_json::from_str(v).ok())
        .unwrap_or_default()
}
