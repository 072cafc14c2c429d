//! The wall's ranking: what the districts are ranked by now, and an order
//! that changes only on a real change.
//!
//! While quality data are thin (before the grace period ends, unless every
//! district already has `min_n` persons on each observed rate) the ranking
//! goes by people reached per 10,000 residents, and says so; after, by the
//! index. The order moves a district above another only when its value
//! exceeds the other's by more than `margin`, and changes at most once every
//! `reorder_seconds` (a change of basis reorders at once): values within
//! noise of each other keep their places, and the bars do not dance.

use serde::Serialize;

use crate::region::Region;
use crate::region::midnight;

/// What the ranking goes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// People who scanned per 10,000 residents: quality data are too thin.
    Progress,
    /// The index.
    Index,
}

#[derive(Debug, Clone)]
pub struct Ranking {
    pub basis: Basis,
    /// District positions, first is top.
    pub order: Vec<usize>,
    /// When the order last changed (Beijing micros); `None` while it is
    /// the first one, which the first real change replaces at once.
    pub since: Option<i64>,
    margin: f64,
    every_micros: i64,
    grace_until: i64,
    min_n: u64,
}

impl Ranking {
    pub fn new(region: &Region) -> Ranking {
        let start = midnight(region.program_start());
        Ranking {
            basis: Basis::Progress,
            order: Vec::new(),
            since: None,
            margin: region.index.margin,
            every_micros: region.index.reorder_seconds as i64 * 1_000_000,
            grace_until: start + region.index.grace_days * 86_400_000_000,
            min_n: region.index.min_n,
        }
    }

    /// When missing quality data start to count as 未报 rather than 待报.
    pub fn grace_until(&self) -> i64 {
        self.grace_until
    }

    /// The basis at `now`, given the smallest n of any observed rate in
    /// any district.
    pub fn basis_at(&self, now: i64, least_n: u64) -> Basis {
        if now >= self.grace_until || least_n >= self.min_n {
            Basis::Index
        } else {
            Basis::Progress
        }
    }

    /// Takes this tick's values (by basis) and codes; returns whether the
    /// order changed.
    pub fn update(&mut self, now: i64, basis: Basis, values: &[f64], codes: &[String]) -> bool {
        let sorted = || {
            let mut order: Vec<usize> = (0..values.len()).collect();
            order.sort_by(|&a, &b| {
                values[b]
                    .partial_cmp(&values[a])
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| codes[a].cmp(&codes[b]))
            });
            order
        };
        if self.order.len() != values.len() {
            self.basis = basis;
            self.order = sorted();
            return true;
        }
        if basis != self.basis {
            self.basis = basis;
            self.order = sorted();
            self.since = Some(now);
            return true;
        }
        if self
            .since
            .is_some_and(|since| now - since < self.every_micros)
        {
            return false;
        }
        let mut order = self.order.clone();
        // Adjacent swaps where the lower one leads by more than the margin:
        // each removes one such inversion and makes none, so this ends.
        loop {
            let mut swapped = false;
            for i in 1..order.len() {
                if values[order[i]] > values[order[i - 1]] + self.margin {
                    order.swap(i - 1, i);
                    swapped = true;
                }
            }
            if !swapped {
                break;
            }
        }
        if order == self.order {
            return false;
        }
        self.order = order;
        self.since = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn codes(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{:06}", 110100 + i)).collect()
    }

    #[test]
    fn values_within_the_margin_keep_their_places_and_a_real_change_waits_a_minute() {
        let region = Region::load("beijing").unwrap();
        let mut ranking = Ranking::new(&region);
        let codes = codes(3);
        assert!(ranking.update(0, Basis::Index, &[0.0, 0.0, 0.0], &codes));
        assert_eq!(ranking.order, [0, 1, 2]);
        assert_eq!(ranking.since, None);
        // The first order (at a start) gives way to the first real one at once.
        assert!(ranking.update(SECOND, Basis::Index, &[50.0, 60.0, 55.0], &codes));
        assert_eq!(ranking.order, [1, 2, 0]);
        assert_eq!(ranking.since, Some(SECOND));
        // Noise: 0 passes 2 by 0.3 points, a minute later: no change.
        assert!(!ranking.update(62 * SECOND, Basis::Index, &[55.3, 60.0, 55.0], &codes));
        assert_eq!(ranking.order, [1, 2, 0]);
        // A real change within the minute of the last one waits...
        let mut ranking2 = ranking.clone();
        assert!(ranking2.update(0, Basis::Progress, &[1.0, 2.0, 3.0], &codes));
        assert!(!ranking2.update(30 * SECOND, Basis::Progress, &[9.0, 2.0, 3.0], &codes));
        assert_eq!(ranking2.order, [2, 1, 0]);
        // ...and is taken once the minute is over.
        assert!(ranking2.update(60 * SECOND, Basis::Progress, &[9.0, 2.0, 3.0], &codes));
        assert_eq!(ranking2.order, [0, 2, 1]);
        assert_eq!(ranking2.since, Some(60 * SECOND));
        // A change of basis reorders at once.
        assert!(ranking2.update(61 * SECOND, Basis::Index, &[1.0, 2.0, 3.0], &codes));
        assert_eq!(ranking2.order, [2, 1, 0]);
        // 0 leads 2 by more than the margin: it moves up past it, not past 1.
        assert!(ranking.update(200 * SECOND, Basis::Index, &[55.6, 60.0, 55.0], &codes));
        assert_eq!(ranking.order, [1, 0, 2]);
    }

    #[test]
    fn the_basis_is_progress_until_the_grace_ends_or_every_rate_has_enough_persons() {
        let region = Region::load("beijing").unwrap();
        let ranking = Ranking::new(&region);
        let start = midnight(region.program_start());
        assert_eq!(ranking.basis_at(start, 0), Basis::Progress);
        assert_eq!(ranking.basis_at(start, 29), Basis::Progress);
        assert_eq!(ranking.basis_at(start, 30), Basis::Index);
        let grace = start + 31 * 86_400 * SECOND;
        assert_eq!(ranking.grace_until(), grace);
        assert_eq!(ranking.basis_at(grace - 1, 0), Basis::Progress);
        assert_eq!(ranking.basis_at(grace, 0), Basis::Index);
    }
}
