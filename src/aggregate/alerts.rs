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
/// An open item of 一帐三单 (`store::ledger`): overdue once its deadline
/// (YYYY-MM-DD, Beijing) is before today.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenItem {
    pub id: i64,
    /// Position of its district in the region.
    pub district: u8,
    pub deadline: String,
}

/// The open items, kept by the handlers that add and close them.
pub type OpenItems = std::sync::Arc<std::sync::Mutex<Vec<OpenItem>>>;

pub struct Feed<'a> {
    pub now: i64,
    /// The open items of 一帐三单.
    pub open_items: &'a [OpenItem],
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
        let today = time::from_beijing_micros(now).date_naive().to_string();
        for (d, district) in region.districts.iter().enumerate() {
            let mut overdue: Vec<&str> = feed
                .open_items
                .iter()
                .filter(|i| i.district as usize == d && i.deadline.as_str() < today.as_str())
                .map(|i| i.deadline.as_str())
                .collect();
            overdue.sort_unstable();
            if let Some(earliest) = overdue.first() {
                raised.push((
                    format!("ledger_overdue:{}", district.code),
                    "ledger_overdue",
                    district.name.clone(),
                    format!(
                        "{}一帐三单逾期{}项，最早期限{earliest}",
                        district.name,
                        overdue.len()
                    ),
                ));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Detail, Event};

    const START: i64 = 1_000 * MICROS_PER_MINUTE;

    fn scans(agg: &mut Aggregator, district: u8, minute: i64, n: usize) {
        for i in 0..n {
            agg.apply(Event {
                id: format!("s-{district}-{minute}-{i}"),
                ts: minute * MICROS_PER_MINUTE,
                district,
                person: format!("p-{district}-{minute}-{i}"),
                detail: Detail::Scan { channel: None },
            });
        }
    }

    #[test]
    fn each_alert_says_what_where_and_since_when_and_clears_itself() {
        let region = Region::load("beijing").unwrap();
        let now = START + 40 * MICROS_PER_MINUTE;
        let mut agg = Aggregator::new(region.districts.len(), now);
        let minute = now / MICROS_PER_MINUTE;
        // 丰台 (index 3): 10 a minute for the 30 minutes before, 1 a minute since.
        for m in minute - 35..minute - 5 {
            scans(&mut agg, 3, m, 10);
        }
        for m in minute - 5..minute {
            scans(&mut agg, 3, m, 1);
        }
        // 东城 (index 0): steady 10 a minute.
        for m in minute - 35..minute {
            scans(&mut agg, 0, m, 10);
        }
        let keys = vec![
            ("env".to_string(), START),
            ("hospital-a".to_string(), START),
        ];
        let last = HashMap::from([("env".to_string(), now - 60_000_000)]);
        let t = AlertThresholds::default();
        let mut alerts = Alerts::default();
        let item = |id, district, deadline: &str| OpenItem {
            id,
            district,
            deadline: deadline.into(),
        };
        // Today is 1970-01-01 here: two of 丰台's items are past their
        // deadline; one is due today, 东城's tomorrow.
        let open = [
            item(1, 3, "1969-12-31"),
            item(2, 3, "1969-12-30"),
            item(3, 3, "1970-01-01"),
            item(4, 0, "1970-01-02"),
        ];
        let feed = Feed {
            now,
            open_items: &open,
            keys: &keys,
            last_request: &last,
            rejected_last_minute: 100,
            last_tick_ms: 1500.0,
        };
        let raised = alerts.evaluate(&region, &agg, &feed, &t);
        let ids: Vec<&str> = raised.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "district_drop:110106",
                "key_silent:hospital-a",
                "rejected_burst",
                "tick_late",
                "ledger_overdue:110106"
            ]
        );
        assert_eq!(raised[4].place, "丰台区");
        assert_eq!(
            raised[4].message,
            "丰台区一帐三单逾期2项，最早期限1969-12-30"
        );
        assert_eq!(raised[0].place, "丰台区");
        assert_eq!(
            raised[0].message,
            "丰台区扫码放缓：近5分钟每分钟1.0人次，此前30分钟每分钟10.0人次"
        );
        assert_eq!(raised[1].message, "数据接口 hospital-a 已40分钟未发送数据");
        assert_eq!(raised[0].since, time::rfc3339_secs(now));

        // A minute later: the same alerts keep their start; the burst and the
        // late tick are gone.
        let later = now + MICROS_PER_MINUTE;
        let feed = Feed {
            now: later,
            open_items: &[],
            keys: &keys,
            last_request: &last,
            rejected_last_minute: 99,
            last_tick_ms: 20.0,
        };
        let raised = alerts.evaluate(&region, &agg, &feed, &t);
        let ids: Vec<(&str, &str)> = raised
            .iter()
            .map(|a| (a.id.as_str(), a.since.as_str()))
            .collect();
        let since = time::rfc3339_secs(now);
        assert_eq!(
            ids,
            [
                ("district_drop:110106", since.as_str()),
                ("key_silent:hospital-a", since.as_str())
            ]
        );
        // hospital-a sends; the district picks up: nothing left.
        let last = HashMap::from([
            ("env".to_string(), later),
            ("hospital-a".to_string(), later),
        ]);
        for m in minute - 4..=minute {
            scans(&mut agg, 3, m, 10);
        }
        let feed = Feed {
            now: later,
            open_items: &[],
            keys: &keys,
            last_request: &last,
            rejected_last_minute: 0,
            last_tick_ms: 20.0,
        };
        assert_eq!(alerts.evaluate(&region, &agg, &feed, &t), Vec::new());
    }
}
