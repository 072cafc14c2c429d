//! Alerts for staff (the console and `/metrics`): a district whose scans fall
//! far below its own recent pace, a partner key that went silent, a burst of
//! rejected events, a late tick. Each says what, where and since when, and
//! clears itself when the cause is gone.

use std::collections::HashMap;

use super::Aggregator;
use super::state::Alert;
use crate::region::Region;
use crate::settings::AlertThresholds;
use crate::time::{self, MICROS_PER_MINUTE};

/// Minutes compared against the earlier pace.
const RECENT_MINUTES: i64 = 5;
/// Minutes of the earlier pace.
const EARLIER_MINUTES: i64 = 30;

/// What the tick knows besides the figures.
pub struct Feed<'a> {
    pub now: i64,
    /// Live ingest keys: (name, since when it could have sent: its creation or the start).
    pub keys: &'a [(String, i64)],
    /// The last request of each key.
    pub last_request: &'a HashMap<String, i64>,
    pub rejected_last_minute: u64,
    pub last_tick_ms: f64,
}

#[derive(Debug, Default)]
pub struct Alerts {
    since: HashMap<String, i64>,
}

impl Alerts {
    pub fn evaluate(
        &mut self,
        region: &Region,
        agg: &Aggregator,
        feed: &Feed<'_>,
        t: &AlertThresholds,
    ) -> Vec<Alert> {
        let now = feed.now;
        // (id, kind, where, message)
        let mut raised: Vec<(String, &'static str, String, String)> = Vec::new();
        let minute = super::minute_of(now);
        for (d, district) in region.districts.iter().enumerate() {
            let recent = agg.scans_between(d, minute - RECENT_MINUTES, minute) as f64
                / RECENT_MINUTES as f64;
            let earlier = agg.scans_between(
                d,
                minute - RECENT_MINUTES - EARLIER_MINUTES,
                minute - RECENT_MINUTES,
            ) as f64
                / EARLIER_MINUTES as f64;
            if earlier >= t.district_min_per_minute && recent < t.district_drop_ratio * earlier {
                raised.push((
                    format!("district_drop:{}", district.code),
                    "district_drop",
                    district.name.clone(),
                    format!(
                        "{}扫码放缓：近{RECENT_MINUTES}分钟每分钟{recent:.1}人次，此前{EARLIER_MINUTES}分钟每分钟{earlier:.1}人次",
                        district.name
                    ),
                ));
            }
        }
        let silent = t.key_silent_minutes as i64 * MICROS_PER_MINUTE;
        for (name, start) in feed.keys {
            let last = feed.last_request.get(name).copied().unwrap_or(*start);
            if now - last >= silent {
                raised.push((
                    format!("key_silent:{name}"),
                    "key_silent",
                    name.clone(),
                    format!(
                        "数据接口 {name} 已{}分钟未发送数据",
                        (now - last) / MICROS_PER_MINUTE
                    ),
                ));
            }
        }
        if feed.rejected_last_minute >= t.rejected_per_minute {
            raised.push((
                "rejected_burst".into(),
                "rejected_burst",
                "全市".into(),
                format!("近1分钟被拒数据{}条", feed.rejected_last_minute),
            ));
        }
        if feed.last_tick_ms > t.tick_late_ms as f64 {
            raised.push((
                "tick_late".into(),
                "tick_late",
                "tick".into(),
                format!("计算周期耗时{:.0}毫秒", feed.last_tick_ms),
            ));
        }
        let since = std::mem::take(&mut self.since);
        raised
            .into_iter()
            .map(|(id, kind, place, message)| {
                let at = since.get(&id).copied().unwrap_or(now);
                self.since.insert(id.clone(), at);
                Alert {
                    id,
                    kind,
                    place,
                    message,
                    since: time::rfc3339_secs(at),
                }
            })
            .collect()
    }
}
