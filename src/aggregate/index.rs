//! The index of every district, computed by the tick.
//!
//! `sql/index.sql` is the definition (docs/index.md explains it), run by
//! DuckDB in `store::index`. A query that small still costs DuckDB
//! milliseconds at each tick's pace, so the tick computes the same formula
//! here, in microseconds; tests compare the two over random figures and
//! over worked examples, so a change to one without the other fails
//! `cargo test`. Nothing switches between them at run time.

use std::cmp::Ordering;

use crate::region::{Half, Region};
use crate::store::index::{IndexInput, IndexOutput};

/// `round(x, digits)` as DuckDB rounds a DOUBLE: half away from zero.
pub fn round(x: f64, digits: i32) -> f64 {
    let modifier = 10f64.powi(digits);
    let rounded = (x * modifier).round() / modifier;
    if rounded.is_finite() { rounded } else { x }
}

/// The progress components, in the order of [`IndexInput::values`].
pub const PROGRESS: [&str; 4] = ["reach", "interactive", "managed", "guardians"];

/// The formula of `sql/index.sql`, for the region's districts in order.
pub struct Formula {
    codes: Vec<String>,
    target_managed: Vec<u64>,
    /// (component, weight, half) in the file's order.
    weights: Vec<(String, f64, Half)>,
    /// (rate code, floor, standard).
    standards: Vec<(&'static str, f64, f64)>,
    cap: f64,
    prior: f64,
}

impl Formula {
    pub fn new(region: &Region) -> Formula {
        Formula {
            codes: region.districts.iter().map(|d| d.code.clone()).collect(),
            target_managed: region.districts.iter().map(|d| d.target_managed).collect(),
            weights: region
                .weights
                .iter()
                .map(|w| (w.component.clone(), w.weight, w.half))
                .collect(),
            standards: region
                .rates
                .iter()
                .map(|r| (r.rate.code(), r.floor, r.standard))
                .collect(),
            cap: region.index.cap,
            prior: region.index.prior,
        }
    }

    fn standard(&self, rate: &str) -> Option<(f64, f64)> {
        self.standards
            .iter()
            .find(|(code, _, _)| *code == rate)
            .map(|(_, floor, standard)| (*floor, *standard))
    }

    /// One output per district, in the region's order: what `sql/index.sql`
    /// returns for the same figures.
    pub fn compute(&self, inputs: &[IndexInput]) -> Vec<IndexOutput> {
        assert_eq!(inputs.len(), self.codes.len(), "one input per district");
        // The city's trues and n of each observed rate (integers: exact).
        let mut city: Vec<(&str, u64, u64)> = Vec::new();
        for input in inputs {
            for &(rate, trues, n) in input.rates.iter().filter(|r| r.2 >= 1) {
                match city.iter_mut().find(|c| c.0 == rate) {
                    Some(c) => (c.1, c.2) = (c.1 + trues, c.2 + n),
                    None => city.push((rate, trues, n)),
                }
            }
        }
        let score = |value: f64, floor: f64, standard: f64| {
            round(((value - floor) / (standard - floor)).clamp(0.0, 1.0), 4)
        };
        let mut outputs: Vec<IndexOutput> = inputs
            .iter()
            .zip(&self.target_managed)
            .map(|(input, &target_managed)| {
                let mut components: Vec<(String, f64, Option<f64>)> = PROGRESS
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let share = input.values[i] as f64 / input.planned[i].max(1) as f64;
                        (
                            name.to_string(),
                            round(share.min(self.cap) / self.cap, 4),
                            None,
                        )
                    })
                    .collect();
                if target_managed > 0
                    && let Some((floor, standard)) = self.standard("management")
                {
                    let value = input.values[2] as f64 / target_managed as f64;
                    components.push((
                        "management".into(),
                        score(value, floor, standard),
                        Some(round(value, 4)),
                    ));
                }
                for &(rate, trues, n) in input.rates.iter().filter(|r| r.2 >= 1) {
                    let Some((floor, standard)) = self.standard(rate) else {
                        continue;
                    };
                    let (_, city_trues, city_n) = city
                        .iter()
                        .find(|c| c.0 == rate)
                        .expect("every rate is in the city's");
                    let city_share = *city_trues as f64 / *city_n as f64;
                    let value = (trues as f64 + self.prior * city_share) / (n as f64 + self.prior);
                    components.push((
                        rate.to_string(),
                        score(value, floor, standard),
                        Some(round(value, 4)),
                    ));
                }
                components.sort_by(|a, b| a.0.cmp(&b.0));
                let mean = |half: Option<Half>| {
                    let (mut weighted, mut weights) = (0.0, 0.0);
                    for (name, weight, h) in &self.weights {
                        if half.is_some_and(|half| half != *h) {
                            continue;
                        }
                        let value = components
                            .iter()
                            .find(|c| c.0 == *name)
                            .map_or(0.0, |c| c.1);
                        weighted += weight * value;
                        weights += weight;
                    }
                    // coalesce(round(100 × Σ w·c / nullif(Σ w, 0), 1), 0)
                    if weights != 0.0 {
                        round(100.0 * weighted / weights, 1)
                    } else {
                        0.0
                    }
                };
                IndexOutput {
                    index: mean(None),
                    rank: 0,
                    progress: mean(Some(Half::Progress)),
                    quality: mean(Some(Half::Quality)),
                    components,
                }
            })
            .collect();
        // rank 1 is the highest index; ties go to the lower code.
        let mut order: Vec<usize> = (0..outputs.len()).collect();
        order.sort_by(|&a, &b| {
            outputs[b]
                .index
                .partial_cmp(&outputs[a].index)
                .unwrap_or(Ordering::Equal)
                .then_with(|| self.codes[a].cmp(&self.codes[b]))
        });
        for (rank, i) in order.into_iter().enumerate() {
            outputs[i].rank = rank as u32 + 1;
        }
        outputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::IndexEngine;
    use proptest::prelude::*;

    /// The observed rates' codes (all of the nine but management).
    fn observed() -> Vec<&'static str> {
        crate::model::NineRate::ALL
            .iter()
            .filter(|r| r.observed())
            .map(|r| r.code())
            .collect()
    }

    /// A district's figures, planned figures and some observed rates.
    fn district() -> impl Strategy<Value = IndexInput> {
        (
            proptest::collection::vec(0u64..250_000, 4),
            proptest::collection::vec(0u64..200_000, 4),
            proptest::collection::vec((0..observed().len(), 0u64..80, 0u64..80), 0..8),
        )
            .prop_map(|(values, planned, rates)| {
                let observed = observed();
                let mut seen = vec![false; observed.len()];
                let rates = rates
                    .into_iter()
                    .filter(|(r, _, _)| !std::mem::replace(&mut seen[*r], true))
                    .filter(|(_, _, n)| *n >= 1)
                    .map(|(r, yes, n)| (observed[r], yes.min(n), n))
                    .collect();
                IndexInput {
                    values: [values[0], values[1], values[2], values[3]],
                    planned: [planned[0], planned[1], planned[2], planned[3]],
                    rates,
                }
            })
    }

    /// Whether a published mean lies so near a rounding step that the order
    /// of a floating sum decides it (the SQL sums in its own order).
    fn near_a_step(formula: &Formula, output: &IndexOutput) -> bool {
        [None, Some(Half::Progress), Some(Half::Quality)]
            .into_iter()
            .any(|half| {
                let (mut s, mut w) = (0.0, 0.0);
                for (name, weight, h) in &formula.weights {
                    if half.is_some_and(|half| half != *h) {
                        continue;
                    }
                    s += weight
                        * output
                            .components
                            .iter()
                            .find(|c| c.0 == *name)
                            .map_or(0.0, |c| c.1);
                    w += weight;
                }
                let tenths = 1000.0 * s / w;
                w > 0.0 && ((tenths - tenths.floor()) - 0.5).abs() < 1e-6
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The formula gives exactly what `sql/index.sql` gives.
        #[test]
        fn the_formula_is_the_sql(
            inputs in proptest::collection::vec(district(), 16),
            no_target in proptest::collection::vec(any::<bool>(), 16),
        ) {
            let mut region = Region::load("beijing").unwrap();
            for (d, none) in region.districts.iter_mut().zip(&no_target) {
                if *none {
                    d.target_managed = 0;
                }
            }
            let formula = Formula::new(&region);
            let by_formula = formula.compute(&inputs);
            prop_assume!(!by_formula.iter().any(|o| near_a_step(&formula, o)));
            let by_sql = IndexEngine::new(&region).unwrap().compute(&inputs).unwrap();
            prop_assert_eq!(by_formula, by_sql);
        }
    }

    fn zeros() -> Vec<IndexInput> {
        (0..16).map(|_| IndexInput::default()).collect()
    }

    /// The worked example of docs/index.md, by hand, through both.
    #[test]
    fn the_worked_example_of_the_docs() {
        let region = Region::load("beijing").unwrap();
        let mut inputs = zeros();
        // Every district plans 1,000 of each and has observed nothing...
        for input in &mut inputs {
            input.planned = [1_000; 4];
        }
        // ...but 110106 (丰台, target population 15,000):
        inputs[3] = IndexInput {
            values: [1_800, 900, 4_500, 300],
            planned: [1_000, 1_000, 1_000, 1_000],
            rates: vec![("awareness", 36, 40), ("control", 10, 20)],
        };
        // and 110108 observed awareness on 60 persons, 42 of them aware.
        inputs[5].rates = vec![("awareness", 42, 60)];
        let formula = Formula::new(&region);
        let by_formula = formula.compute(&inputs);
        let by_sql = IndexEngine::new(&region).unwrap().compute(&inputs).unwrap();
        assert_eq!(by_formula, by_sql);
        let fengtai = &by_formula[3];
        let c = |name: &str| fengtai.components.iter().find(|c| c.0 == name).cloned();
        // reach: min(1.5, 1.8) / 1.5 = 1; interactive 0.9 / 1.5 = 0.6;
        // managed capped: 1; guardians 0.3 / 1.5 = 0.2.
        assert_eq!(c("reach"), Some(("reach".into(), 1.0, None)));
        assert_eq!(c("interactive"), Some(("interactive".into(), 0.6, None)));
        assert_eq!(c("managed"), Some(("managed".into(), 1.0, None)));
        assert_eq!(c("guardians"), Some(("guardians".into(), 0.2, None)));
        // management: 4,500 / 15,000 = 0.3; (0.3 − 0) / (0.6 − 0) = 0.5.
        assert_eq!(c("management"), Some(("management".into(), 0.5, Some(0.3))));
        // awareness: the city's 78 of 100 = 0.78; (36 + 30 × 0.78) / (40 + 30)
        // = 59.4 / 70 = 0.848571…; (0.848571 − 0.5) / (0.8 − 0.5) = 1.1619 → 1.
        assert_eq!(
            c("awareness"),
            Some(("awareness".into(), 1.0, Some(0.8486)))
        );
        // control: the city's 10 of 20 = 0.5; (10 + 15) / 50 = 0.5;
        // (0.5 − 0.3) / (0.6 − 0.3) = 0.6667.
        assert_eq!(c("control"), Some(("control".into(), 0.6667, Some(0.5))));
        assert_eq!(fengtai.components.len(), 7);
        // progress: 100 × 9 × (1 + 0.6 + 1 + 0.2) / 36 = 70.0
        assert_eq!(fengtai.progress, 70.0);
        // quality: 100 × 4 × (0.5 + 1 + 0.6667) / 36 = 24.07… → 24.1
        assert_eq!(fengtai.quality, 24.1);
        // index: 100 × (25.2 + 8.6668) / 72 = 47.037… → 47.0
        assert_eq!(fengtai.index, 47.0);
        assert_eq!(fengtai.rank, 1);
        // 110108: awareness (42 + 23.4) / 90 = 0.7267 → 0.7556; nothing else but
        // its progress components at 0: 100 × 4 × 0.7556 / 72 = 4.2.
        assert_eq!(by_formula[5].index, 4.2);
        assert_eq!(by_formula[5].rank, 2);
        // The rest tie at 0 and go by code.
        let ranks: Vec<u32> = by_formula.iter().map(|o| o.rank).collect();
        assert_eq!(
            ranks,
            [3, 4, 5, 1, 6, 2, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
        );
    }

    #[test]
    fn both_run_twice_without_the_first_runs_rows() {
        let region = Region::load("beijing").unwrap();
        let mut engine = IndexEngine::new(&region).unwrap();
        let mut inputs = zeros();
        inputs[0].values = [5, 0, 0, 0];
        inputs[0].planned = [10, 0, 0, 0];
        let first = engine.compute(&inputs).unwrap();
        let second = engine.compute(&inputs).unwrap();
        assert_eq!(first, second);
        // reach 0.5 / 1.5 = 0.3333; 100 × 9 × 0.3333 / 72 = 4.17 → 4.2
        assert_eq!(first[0].index, 4.2);
        assert_eq!(first, Formula::new(&region).compute(&inputs));
    }
}
