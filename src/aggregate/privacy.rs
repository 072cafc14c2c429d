//! What viewers (walls, city and district links) may see of small figures.
//! The rules, for readers: docs/privacy.md.
//!
//! - A count of 1 to k−1 persons (or services) is hidden (null), and so are
//!   enough other cells of the same table that no hidden cell can be worked
//!   out by subtracting the visible ones from a published total
//!   ([`hide`], complementary suppression).
//! - A rate observed on fewer than k persons shows its n only; a colour
//!   distribution of fewer than k assessed persons shows nothing.
//! - The fine figures of a district (teams, colours, service categories,
//!   rates, the index's rate components) move for viewers in steps of at
//!   least k events ([`Hold`]), so that no change a viewer sees can be tied
//!   to one event.

use std::collections::BTreeMap;

use super::Aggregator;
use super::state::{DistrictDoc, State};

/// Which cells of a table to hide, given the cells' values and the total
/// the table adds up to where one is published (`margin`; what it holds
/// beyond the cells, such as persons without a team, is a cell of its own
/// that is never shown).
///
/// A cell of 1 to k−1 is hidden. While any cell is hidden, the hidden ones
/// together with the remainder (`margin` − the cells) must add up to k or
/// more and hold at least two non-zero values, so that neither the sum nor
/// a difference gives a small figure away; if not, the smallest visible
/// non-zero cell is hidden too, and so on. A remainder of 1 to k−1 is
/// protected the same way even when no cell is small.
pub fn hide(cells: &[u64], margin: Option<u64>, k: u64, mut hidden: Vec<bool>) -> Vec<bool> {
    debug_assert_eq!(cells.len(), hidden.len());
    for (h, &v) in hidden.iter_mut().zip(cells) {
        *h |= v > 0 && v < k;
    }
    let rest = margin.map(|m| m.saturating_sub(cells.iter().sum()));
    let small_rest = rest.is_some_and(|r| r > 0 && r < k);
    loop {
        let any = hidden.iter().any(|&h| h);
        if !any && !small_rest {
            return hidden;
        }
        let (mut sum, mut nonzero) = (rest.unwrap_or(0), u32::from(rest.unwrap_or(0) > 0));
        for (&h, &v) in hidden.iter().zip(cells) {
            if h {
                sum += v;
                nonzero += u32::from(v > 0);
            }
        }
        if sum >= k && nonzero >= 2 {
            return hidden;
        }
        let next = cells
            .iter()
            .enumerate()
            .filter(|&(i, &v)| !hidden[i] && v > 0)
            .min_by_key(|&(i, &v)| (v, i))
            .map(|(i, _)| i);
        match next {
            Some(i) => hidden[i] = true,
            // Every non-zero cell is hidden: nothing more to hide.
            None => return hidden,
        }
    }
}

/// A table of counts keyed by code, some hidden (null) for viewers.
pub type Cells = BTreeMap<&'static str, Option<u64>>;

/// Hides the small cells of `table` (see [`hide`]); the whole table when
/// the total it describes is below k (`whole_below_k`).
fn hide_cells(table: &mut Cells, margin: Option<u64>, k: u64, whole_below_k: bool) {
    let values: Vec<u64> = table.values().map(|v| v.unwrap_or(0)).collect();
    let total = margin.unwrap_or_else(|| values.iter().sum());
    let hidden = if whole_below_k && total > 0 && total < k {
        vec![true; values.len()]
    } else {
        hide(&values, margin, k, vec![false; values.len()])
    };
    for (v, h) in table.values_mut().zip(hidden) {
        if h {
            *v = None;
        }
    }
}

/// Hides a district's small figures for viewers (teams, colours, rates);
/// `k` as in the settings. The index leaves out rates of fewer than k
/// persons ([`super::state::index_inputs`]), so its components need no hiding.
pub fn district(doc: &mut DistrictDoc, k: u64) {
    // Teams: each measure a table whose total is the district's.
    let names: Vec<String> = doc.teams.keys().cloned().collect();
    let column = |f: &dyn Fn(&super::state::TeamDoc) -> Option<u64>| -> Vec<u64> {
        names
            .iter()
            .map(|n| f(&doc.teams[n]).unwrap_or(0))
            .collect()
    };
    let managed = column(&|t| t.managed);
    let served = column(&|t| t.served);
    let services = column(&|t| t.services);
    let managed_hidden = hide(
        &managed,
        Some(doc.totals.managed),
        k,
        vec![false; names.len()],
    );
    // Served and services go together: the services of fewer than k
    // persons tell about them.
    let mut service_hidden = vec![false; names.len()];
    loop {
        let by_persons = hide(
            &served,
            Some(doc.totals.interactive),
            k,
            service_hidden.clone(),
        );
        let by_services = hide(&services, Some(doc.totals.services), k, by_persons.clone());
        if by_services == service_hidden {
            break;
        }
        service_hidden = by_services;
    }
    for (i, name) in names.iter().enumerate() {
        let team = doc.teams.get_mut(name).expect("a listed team");
        if managed_hidden[i] {
            team.managed = None;
        }
        if service_hidden[i] {
            team.served = None;
            team.services = None;
        }
    }
    hide_cells(&mut doc.colours, Some(doc.totals.assessed), k, true);
    rates(&mut doc.rates, k);
}

/// A rate observed on 1 to k−1 persons shows its n, standard and nothing
/// else.
pub fn rates(rates: &mut BTreeMap<&'static str, super::state::RateDoc>, k: u64) {
    for (code, rate) in rates.iter_mut() {
        // 管理率 is managed ÷ the target population: a census figure of the
        // district's plan, not an observation of persons.
        if *code != "management" && rate.n > 0 && rate.n < k {
            rate.value = None;
            rate.pass = None;
        }
    }
}

/// A scope's colours and service categories for viewers (see [`hide`]).
pub fn tables(colours: &mut Cells, assessed: u64, categories: &mut Cells, services: u64, k: u64) {
    hide_cells(colours, Some(assessed), k, true);
    self::categories(categories, services, k);
}

/// A scope's service categories for viewers (see [`hide`]).
pub fn categories(categories: &mut Cells, services: u64, k: u64) {
    hide_cells(categories, Some(services), k, false);
}

/// Holds each district's fine figures for viewers until at least k events
/// that feed them have arrived since they were last shown.
#[derive(Debug, Default)]
pub struct Hold {
    /// Per district: the activity count when last shown, and what was shown.
    shown: Vec<Option<Shown>>,
}

#[derive(Debug, Clone)]
struct Shown {
    activity: u64,
    k: u64,
    doc: Fine,
}

/// The parts of a district's viewer figures that move in steps.
#[derive(Debug, Clone)]
struct Fine {
    teams: BTreeMap<String, super::state::TeamDoc>,
    colours: Cells,
    rates: BTreeMap<&'static str, super::state::RateDoc>,
    components: BTreeMap<String, super::state::ComponentDoc>,
    categories: Cells,
}

/// Events that feed a district's fine figures, as counted by the
/// aggregator: services, first assessments, enrolments and the persons
/// behind the rates (a later assessment or observation of the same person
/// is shown with the next step).
pub fn activity(agg: &Aggregator, d: usize) -> u64 {
    let f = &agg.districts[d];
    f.totals.services
        + f.totals.assessed
        + f.totals.managed
        + f.rates.iter().map(|r| r.n).sum::<u64>()
}

impl Hold {
    /// Applies the hold to the city's viewer state (`city`, every district)
    /// and each district link's (`districts[d]`, built with the same k).
    pub fn apply(&mut self, agg: &Aggregator, k: u64, city: &mut State, districts: &mut [State]) {
        let codes: Vec<String> = city.districts.keys().cloned().collect();
        self.shown.resize(agg.districts.len(), None);
        for (d, link) in districts.iter_mut().enumerate() {
            let code = link.scope.clone();
            debug_assert!(codes.contains(&code));
            let now = activity(agg, d);
            let live = Fine {
                teams: link.districts[&code].teams.clone(),
                colours: link.colours.clone(),
                rates: link.rates.clone(),
                components: link.districts[&code].components.clone(),
                categories: link.categories.clone(),
            };
            let due = match &self.shown[d] {
                None => true,
                Some(s) => s.k != k || now >= s.activity + k || now < s.activity,
            };
            if due {
                self.shown[d] = Some(Shown {
                    activity: now,
                    k,
                    doc: live,
                });
                continue;
            }
            let held = &self.shown[d].as_ref().expect("shown").doc;
            link.colours = held.colours.clone();
            link.rates = held.rates.clone();
            link.categories = held.categories.clone();
            for doc in [
                link.districts.get_mut(&code).expect("the link's district"),
                city.districts.get_mut(&code).expect("every district"),
            ] {
                doc.teams = held.teams.clone();
                doc.colours = held.colours.clone();
                doc.rates = held.rates.clone();
                doc.components = held.components.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_small_cell_takes_the_smallest_other_with_it() {
        // Total 30 = 3 + 12 + 15: hiding 3 alone gives it away (30 − 27).
        assert_eq!(
            hide(&[3, 12, 15], Some(30), 5, vec![false; 3]),
            [true, true, false]
        );
        // Two small cells adding up to k or more protect each other.
        assert_eq!(
            hide(&[2, 3, 15], Some(20), 5, vec![false; 3]),
            [true, true, false]
        );
        // Two small cells adding up to less than k take a third.
        assert_eq!(
            hide(&[1, 2, 15, 9], Some(27), 5, vec![false; 4]),
            [true, true, false, true]
        );
    }

    #[test]
    fn the_remainder_beyond_the_cells_counts_as_a_hidden_cell() {
        // 3 persons without a team: with 4 hidden beside them, 7 ≥ 5.
        assert_eq!(hide(&[4, 20], Some(27), 5, vec![false; 2]), [true, false]);
        // A small remainder alone is protected by the smallest team.
        assert_eq!(hide(&[8, 20], Some(30), 5, vec![false; 2]), [true, false]);
        // Nothing small, nothing hidden.
        assert_eq!(hide(&[8, 20], Some(28), 5, vec![false; 2]), [false, false]);
        assert_eq!(hide(&[0, 0], Some(0), 5, vec![false; 2]), [false, false]);
    }

    #[test]
    fn when_everything_is_small_everything_is_hidden() {
        assert_eq!(
            hide(&[1, 0, 2], Some(3), 5, vec![false; 3]),
            [true, false, true]
        );
    }
}
