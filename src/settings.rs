//! Settings staff change in the console (`GET/PUT /api/v1/settings`): the
//! suppression threshold k and the alert thresholds. Kept in the store's
//! `settings` table as JSON under [`SETTING`], so they survive a restart.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

pub const SETTING: &str = "console";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Team figures counting 1 to k−1 persons are suppressed for viewers.
    pub k: u64,
    pub alerts: AlertThresholds,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlertThresholds {
    /// A district's scans over the last 5 minutes below this share of its
    /// own pace over the 30 minutes before.
    pub district_drop_ratio: f64,
    /// ...counted only when that earlier pace was at least this many scans a minute.
    pub district_min_per_minute: f64,
    /// A live ingest key that sent nothing for this long.
    pub key_silent_minutes: u64,
    /// Rejected events in the last minute, city-wide.
    pub rejected_per_minute: u64,
    /// A tick that took longer than this.
    pub tick_late_ms: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            k: 5,
            alerts: AlertThresholds::default(),
        }
    }
}

impl Default for AlertThresholds {
    fn default() -> AlertThresholds {
        AlertThresholds {
            district_drop_ratio: 0.3,
            district_min_per_minute: 5.0,
            key_silent_minutes: 10,
            rejected_per_minute: 100,
            tick_late_ms: 1000,
        }
    }
}

/// The least k staff can set (docs/privacy.md).
pub const MIN_K: u64 = 3;

impl Settings {
    /// Names the first field out of range.
    pub fn check(&self) -> Result<(), String> {
        let a = &self.alerts;
        if !(MIN_K..=1000).contains(&self.k) {
            return Err(format!(
                "k: {MIN_K} to 1000 (fewer than {MIN_K} persons behind a figure would let a viewer tell who they are)"
            ));
        }
        if !(a.district_drop_ratio > 0.0 && a.district_drop_ratio < 1.0) {
            return Err("alerts.district_drop_ratio: above 0 and below 1".into());
        }
        if !(a.district_min_per_minute >= 0.0 && a.district_min_per_minute.is_finite()) {
            return Err("alerts.district_min_per_minute: 0 or more".into());
        }
        if !(1..=10_080).contains(&a.key_silent_minutes) {
            return Err("alerts.key_silent_minutes: 1 to 10080 (a week)".into());
        }
        if a.rejected_per_minute == 0 {
            return Err("alerts.rejected_per_minute: 1 or more".into());
        }
        if !(10..=600_000).contains(&a.tick_late_ms) {
            return Err("alerts.tick_late_ms: 10 to 600000".into());
        }
        Ok(())
    }

    /// The settings saved in the store, or the defaults.
    pub fn from_settings(saved: &[(String, String)]) -> Settings {
        saved
            .iter()
            .find(|(k, _)| k == SETTING)
            .and_then(|(_, v)| serde_json::from_str::<Settings>(v).ok())
            .map(|mut s| {
                // Saved before k had its floor: raised, the rest kept.
                if s.k < MIN_K {
                    tracing::warn!(
                        saved = s.k,
                        k = MIN_K,
                        "the saved k is below its floor; using the floor"
                    );
                    s.k = MIN_K;
                }
                s
            })
            .filter(|s| s.check().is_ok())
            .unwrap_or_default()
    }
}

/// Shared by the tick (k, thresholds) and the console API. A std RwLock:
/// read once per tick, written on a console change, never held across an await.
pub type Shared = Arc<RwLock<Settings>>;
