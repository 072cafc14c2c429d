//! The index at each month's close (指数变化): what every district's index
//! was when each calendar month since the program's start ended.
//!
//! A close is computed from the events DuckDB holds before the month's end
//! (the refresh never forces the ingest log to load: what is still in it is
//! counted at a later refresh, when the count before the end has changed),
//! folded into a fresh aggregator and run through the same state code as
//! the tick, at that moment (the targets planned then). A background task
//! computes the closes it lacks, and computes a close again when the number
//! of stored events before its end changed (a late back-fill); the tick
//! publishes the last [`SHOWN`] closes and each district's change since the
//! last one. The closes are not stored: a start computes them again, one
//! fold of the history before each month's end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use tokio::sync::watch;

use super::Aggregator;
use super::state::{self, Wall};
use crate::region::{Region, midnight};
use crate::store::{Store, StoreError};
use crate::time;

/// How many closes the state carries.
pub const SHOWN: usize = 12;

/// One month's close.
#[derive(Debug, Clone, PartialEq)]
pub struct Close {
    /// `YYYY-MM`.
    pub month: String,
    /// The month's end (Beijing micros): the next month's first midnight.
    pub at: i64,
    /// Stored events before `at` when it was computed.
    pub events: u64,
    /// The privacy setting's k it was computed with (rates of fewer
    /// persons are left out of the index).
    pub k: u64,
    /// Each district's index then, in the region's order.
    pub index: Vec<f64>,
}

/// The closes computed so far, oldest first.
pub type Shared = Arc<Mutex<Vec<Close>>>;

/// The first day of the month after `date`'s.
fn next_month(date: NaiveDate) -> NaiveDate {
    let (y, m) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("the first of a month exists")
}

/// The months from the program's `start` that ended by `now`: (`YYYY-MM`,
/// end in Beijing micros), oldest first.
pub fn closed_months(start: NaiveDate, now: i64) -> Vec<(String, i64)> {
    let mut months = Vec::new();
    let mut month = start;
    loop {
        let end = next_month(month);
        if midnight(end) > now {
            return months;
        }
        months.push((month.format("%Y-%m").to_string(), midnight(end)));
        month = end;
    }
}

/// Computes the closes that are missing or out of date.
pub async fn refresh(
    region: &Arc<Region>,
    store: &Store,
    closes: &Shared,
    settings: &crate::settings::Shared,
) -> Result<usize, StoreError> {
    let k = settings.read().expect("settings lock").k;
    let mut months = closed_months(region.program_start(), time::now_beijing_micros());
    // Only the closes the state shows (each costs a fold of the history).
    months.drain(..months.len().saturating_sub(SHOWN));
    if months.is_empty() {
        return Ok(0);
    }
    let counts = store
        .counts_before(months.iter().map(|(_, end)| *end).collect())
        .await?;
    let mut computed = 0;
    for ((month, end), events) in months.into_iter().zip(counts) {
        let known = closes
            .lock()
            .expect("history lock")
            .iter()
            .find(|c| c.month == month)
            .map(|c| (c.events, c.k));
        if known == Some((events, k)) {
            continue;
        }
        let agg = Aggregator::new(region.districts.len(), end);
        let agg = store
            .fold_until((**region).clone(), end, agg, |agg, e| agg.apply(e))
            .await?;
        let r = region.clone();
        let index = tokio::task::spawn_blocking(move || {
            let figures = state::compute_with(&r, &agg, end, Wall::default(), k);
            r.districts
                .iter()
                .map(|d| figures.districts[&d.code].index)
                .collect::<Vec<f64>>()
        })
        .await
        .map_err(|_| StoreError::Closed)?;
        let close = Close {
            month,
            at: end,
            events,
            k,
            index,
        };
        let mut closes = closes.lock().expect("history lock");
        match closes.iter_mut().find(|c| c.month == close.month) {
            Some(old) => *old = close,
            None => {
                closes.push(close);
                closes.sort_by_key(|c| c.at);
            }
        }
        computed += 1;
    }
    Ok(computed)
}

/// Refreshes the closes now and every `every` until `shutdown`.
pub async fn run(
    region: Arc<Region>,
    store: Store,
    closes: Shared,
    settings: crate::settings::Shared,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        match refresh(&region, &store, &closes, &settings).await {
            Ok(0) => {}
            Ok(computed) => tracing::info!(computed, "computed the index at month closes"),
            Err(e) => tracing::warn!(error = %e, "could not compute the index at month closes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_months_that_ended_since_the_start() {
        let start: NaiveDate = "2017-06-28".parse().unwrap();
        let at = |d: &str| midnight(d.parse().unwrap());
        assert_eq!(closed_months(start, at("2017-06-30")), vec![]);
        assert_eq!(
            closed_months(start, at("2017-07-01")),
            vec![("2017-06".to_string(), at("2017-07-01"))]
        );
        let months = closed_months(start, at("2018-01-15"));
        assert_eq!(months.len(), 7);
        assert_eq!(months[6], ("2017-12".to_string(), at("2018-01-01")));
    }
}
