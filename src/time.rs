//! Beijing time. The program runs on Beijing time (UTC+08:00, no daylight
//! saving), so the store keeps wall-clock Beijing timestamps in microseconds
//! and every time a viewer sees is written with `+08:00`.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

pub const MICROS_PER_MINUTE: i64 = 60_000_000;

pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// Microseconds of Beijing wall-clock time since 1970-01-01 00:00 (as if it were UTC):
/// the representation of the store's `TIMESTAMP` columns.
pub fn beijing_micros<Tz: TimeZone>(t: &DateTime<Tz>) -> i64 {
    t.with_timezone(&beijing())
        .naive_local()
        .and_utc()
        .timestamp_micros()
}

pub fn now_beijing_micros() -> i64 {
    beijing_micros(&Utc::now())
}

pub fn from_beijing_micros(micros: i64) -> DateTime<FixedOffset> {
    let naive: NaiveDateTime = DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .naive_utc();
    beijing()
        .from_local_datetime(&naive)
        .single()
        .expect("a fixed offset maps every local time once")
}

/// RFC 3339 with `+08:00` and milliseconds.
pub fn rfc3339(micros: i64) -> String {
    from_beijing_micros(micros).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// RFC 3339 to the whole second (minute buckets, predictions).
pub fn rfc3339_secs(micros: i64) -> String {
    from_beijing_micros(micros).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_beijing_micros() {
        let t = DateTime::parse_from_rfc3339("2017-06-28T02:59:58Z").unwrap();
        let micros = beijing_micros(&t);
        assert_eq!(rfc3339(micros), "2017-06-28T10:59:58.000+08:00");
        assert_eq!(
            rfc3339_secs(micros - micros % MICROS_PER_MINUTE),
            "2017-06-28T10:59:00+08:00"
        );
    }
}
