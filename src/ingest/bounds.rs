//! What one ingest key can make the server hold: a body's bytes on the
//! wire and once decoded, and the rejected records kept for it.
//!
//! Every rejected record is counted (the answer, `ingest_requests`, the
//! console's per-key health); only the first ones are kept whole in
//! `rejected`: at most [`Bounds::rejected_per_request`] of a request, and
//! at most [`Bounds::rejected_per_key_day`] records or
//! [`Bounds::rejected_bytes_per_key_day`] bytes of one key in a Beijing
//! day. A partner whose every record fails is told why by the first ones;
//! the millionth copy of the same mistake only fills the disk.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::Rejected;

const DAY_MICROS: i64 = 86_400_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// A body's bytes on the wire.
    pub max_body_bytes: usize,
    /// The text a body's records may hold once decoded.
    pub max_decoded_bytes: u64,
    /// Rejected records of one request kept whole.
    pub rejected_per_request: usize,
    /// Rejected records of one key kept whole in a Beijing day...
    pub rejected_per_key_day: u64,
    /// ...and their bytes (reason and text as sent).
    pub rejected_bytes_per_key_day: u64,
    /// Team names a district may have ([`super::teams`]).
    pub teams_per_district: usize,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            max_body_bytes: 16 << 20,
            max_decoded_bytes: 64 << 20,
            rejected_per_request: 1_000,
            rejected_per_key_day: 100_000,
            rejected_bytes_per_key_day: 256 << 20,
            teams_per_district: 200,
        }
    }
}

/// What a rejected record costs the day's allowance (the store counts the
/// same at start: `Store::rejected_kept_since`).
fn cost(record: &Rejected) -> u64 {
    (record.raw.len() + record.reason.len() + record.event_id.as_ref().map_or(0, String::len))
        as u64
}

/// The rejected records each key has had kept today.
#[derive(Debug)]
pub struct Allowance {
    records: u64,
    bytes: u64,
    kept: Mutex<HashMap<String, Kept>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kept {
    /// The Beijing day (days since 1970-01-01 in Beijing time).
    pub day: i64,
    pub records: u64,
    pub bytes: u64,
}

/// What one [`Allowance::take`] counted: the first `records` may be kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taken {
    pub records: usize,
    pub bytes: u64,
}

pub fn day_of(beijing_micros: i64) -> i64 {
    beijing_micros.div_euclid(DAY_MICROS)
}

/// Beijing micros at the start of the day holding `beijing_micros`.
pub fn day_start(beijing_micros: i64) -> i64 {
    day_of(beijing_micros) * DAY_MICROS
}

impl Allowance {
    /// An allowance of `bounds` a key a day, given what each key had kept
    /// on the day `today` (read from the store at start, so a restart does
    /// not hand out a new day's worth).
    pub fn new(
        bounds: &Bounds,
        today: i64,
        kept: impl IntoIterator<Item = (String, u64, u64)>,
    ) -> Allowance {
        let day = day_of(today);
        let kept = kept
            .into_iter()
            .map(|(key, records, bytes)| {
                (
                    key,
                    Kept {
                        day,
                        records,
                        bytes,
                    },
                )
            })
            .collect();
        Allowance {
            records: bounds.rejected_per_key_day,
            bytes: bounds.rejected_bytes_per_key_day,
            kept: Mutex::new(kept),
        }
    }

    /// How many of `rejected`, from the first, `key` may keep at `now`
    /// (Beijing micros); they are counted as kept.
    pub fn take(&self, key: &str, rejected: &[Rejected], now: i64) -> Taken {
        let mut taken = Taken::default();
        if rejected.is_empty() {
            return taken;
        }
        let day = day_of(now);
        let mut kept = self.kept.lock().expect("the allowance's lock");
        let entry = kept.entry(key.to_string()).or_default();
        if entry.day != day {
            *entry = Kept {
                day,
                ..Kept::default()
            };
        }
        for record in rejected {
            let cost = cost(record);
            if entry.records >= self.records || entry.bytes.saturating_add(cost) > self.bytes {
                break;
            }
            entry.records += 1;
            entry.bytes += cost;
            taken.records += 1;
            taken.bytes += cost;
        }
        taken
    }

    /// Gives back what [`Allowance::take`] counted, for records the store
    /// then did not commit.
    pub fn give_back(&self, key: &str, taken: Taken, now: i64) {
        let mut kept = self.kept.lock().expect("the allowance's lock");
        if let Some(entry) = kept.get_mut(key)
            && entry.day == day_of(now)
        {
            entry.records = entry.records.saturating_sub(taken.records as u64);
            entry.bytes = entry.bytes.saturating_sub(taken.bytes);
        }
    }

    /// What `key` has had kept on its last day.
    pub fn kept(&self, key: &str) -> Kept {
        self.kept
            .lock()
            .expect("the allowance's lock")
            .get(key)
            .copied()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(raw: &str) -> Rejected {
        Rejected {
            line: 1,
            event_id: None,
            reason: "r".into(),
            raw: raw.into(),
        }
    }

    const NOON: i64 = 1_498_651_200_000_000; // 2017-06-28 12:00 Beijing

    #[test]
    fn a_day_allows_records_and_bytes_up_to_its_bounds() {
        let bounds = Bounds {
            rejected_per_key_day: 3,
            rejected_bytes_per_key_day: 20,
            ..Bounds::default()
        };
        let allowance = Allowance::new(&bounds, NOON, [("old".to_string(), 3, 3)]);
        // Two of cost 5 each, then one of 10 (20 in all), then nothing.
        let taken = |records, bytes| Taken { records, bytes };
        assert_eq!(
            allowance.take("k", &[record("1234"), record("1234")], NOON),
            taken(2, 10)
        );
        assert_eq!(
            allowance.take("k", &[record("123456789"), record("1")], NOON),
            taken(1, 10)
        );
        assert_eq!(
            allowance.kept("k"),
            Kept {
                day: day_of(NOON),
                records: 3,
                bytes: 20
            }
        );
        assert_eq!(allowance.take("k", &[record("")], NOON).records, 0);
        // A record too big for what is left stops the request's count there.
        let other = Allowance::new(&bounds, NOON, []);
        assert_eq!(
            other.take("k", &[record(&"x".repeat(19)), record("")], NOON),
            taken(1, 20)
        );
        assert_eq!(other.take("k", &[record(&"x".repeat(19))], NOON).records, 0);
        // The key read from the store has used its day already.
        assert_eq!(allowance.take("old", &[record("")], NOON).records, 0);
        // The next Beijing day starts again; the day before is forgotten.
        let tomorrow = day_start(NOON) + DAY_MICROS;
        assert_eq!(allowance.take("old", &[record("")], tomorrow).records, 1);
        assert_eq!(
            allowance.take("k", &[record(""), record("")], tomorrow - 1),
            taken(0, 0)
        );
        let today = allowance.take("k", &[record(""), record("")], tomorrow);
        assert_eq!(today, taken(2, 2));
        // What the store did not commit is given back.
        allowance.give_back("k", today, tomorrow);
        assert_eq!(
            allowance.kept("k"),
            Kept {
                day: day_of(tomorrow),
                records: 0,
                bytes: 0
            }
        );
    }

    #[test]
    fn days_are_beijing_days() {
        assert_eq!(day_start(NOON), NOON - 12 * 3_600_000_000);
        assert_eq!(day_of(day_start(NOON)), day_of(NOON));
        assert_eq!(day_of(day_start(NOON) - 1), day_of(NOON) - 1);
    }
}
