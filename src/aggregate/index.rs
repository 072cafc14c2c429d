//! The index of every district, computed by the tick.
//!
//! `sql/index.sql` is the definition, run by DuckDB (`store::index`). A
//! query that small still costs DuckDB 12–16 ms at each tick's pace (the
//! setup of its operators, with cold caches a second apart) — more than the
//! rest of a 5,000-event tick. So the tick computes the same formula here,
//! in microseconds, and checks it against the SQL once a minute (`Index`):
//! at the first difference the SQL takes over for good, with an error in
//! the log. Tests compare the two over random figures.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;

use crate::region::Region;
use crate::store::index::{IndexEngine, IndexInput, IndexOutput};

/// How often the tick's index is compared with `sql/index.sql`.
pub const CHECK_EVERY: Duration = Duration::from_secs(60);

/// `round(x, digits)` as DuckDB rounds a DOUBLE: half away from zero.
fn round(x: f64, digits: i32) -> f64 {
    let modifier = 10f64.powi(digits);
    let rounded = (x * modifier).round() / modifier;
    if rounded.is_finite() { rounded } else { x }
}

/// The formula of `sql/index.sql`, for the region's districts in order.
pub struct Formula {
    /// [people, managed, guardians] targets of each district.
    targets: Vec<[u64; 3]>,
    codes: Vec<String>,
    weights: HashMap<String, f64>,
}

impl Formula {
    pub fn new(region: &Region) -> Formula {
        Formula {
            targets: region
                .districts
                .iter()
                .map(|d| [d.target_people, d.target_managed, d.target_guardians])
                .collect(),
            codes: region.districts.iter().map(|d| d.code.clone()).collect(),
            weights: region.weights.iter().cloned().collect(),
        }
    }

    /// One output per district, in the region's order: what `sql/index.sql`
    /// returns for the same figures.
    pub fn compute(&self, inputs: &[IndexInput]) -> Vec<IndexOutput> {
        assert_eq!(inputs.len(), self.codes.len(), "one input per district");
        let mut outputs: Vec<IndexOutput> = inputs
            .iter()
            .zip(&self.targets)
            .map(|(input, targets)| {
                let figures = [input.people, input.managed, input.guardians];
                let mut components: Vec<(String, f64)> = ["coverage", "enrolment", "guardians"]
                    .into_iter()
                    .zip(figures.into_iter().zip(*targets))
                    .filter(|(_, (_, target))| *target > 0)
                    .map(|(name, (value, target))| {
                        let share = (value as f64 / target as f64).min(1.0);
                        (name.to_string(), round(share, 4))
                    })
                    .chain(
                        input
                            .rates
                            .iter()
                            .filter(|(_, _, n)| *n >= 1)
                            .map(|(rate, value, _)| (rate.to_string(), *value)),
                    )
                    .collect();
                components.sort_by(|a, b| a.0.cmp(&b.0));
                let (mut weighted, mut weights, mut any) = (0.0, 0.0, false);
                for (name, value) in &components {
                    if let Some(weight) = self.weights.get(name) {
                        weighted += weight * value;
                        weights += weight;
                        any = true;
                    }
                }
                // coalesce(round(100 × Σ w·c / nullif(Σ w, 0), 1), 0)
                let index = if any && weights != 0.0 {
                    round(100.0 * weighted / weights, 1)
                } else {
                    0.0
                };
                IndexOutput {
                    index,
                    rank: 0,
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

/// The tick's index: the formula, checked against `sql/index.sql` every
/// [`CHECK_EVERY`]; the SQL alone once they differed.
pub struct Index {
    formula: Formula,
    sql: IndexEngine,
    by_sql: bool,
    last_check: Option<std::time::Instant>,
}

/// What one computation of the index did besides computing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The formula alone.
    No,
    /// The SQL too, and the two agreed.
    Agreed,
    /// The SQL too, and they differed: the SQL's is returned, and used from now on.
    Differed,
    /// The SQL alone (they differed before).
    BySql,
}

impl Index {
    pub fn new(region: &Region) -> Result<Index, duckdb::Error> {
        Ok(Index {
            formula: Formula::new(region),
            sql: IndexEngine::new(region)?,
            by_sql: false,
            last_check: None,
        })
    }

    /// The index of every district. Blocking: may run DuckDB. Fails only
    /// when the SQL alone is used and fails (a failed check is logged and
    /// the formula's index stands).
    pub fn compute(
        &mut self,
        inputs: &[IndexInput],
    ) -> Result<(Vec<IndexOutput>, Checked), duckdb::Error> {
        if self.by_sql {
            return Ok((self.sql.compute(inputs)?, Checked::BySql));
        }
        let outputs = self.formula.compute(inputs);
        if self.last_check.is_some_and(|t| t.elapsed() < CHECK_EVERY) {
            return Ok((outputs, Checked::No));
        }
        self.last_check = Some(std::time::Instant::now());
        let by_sql = match self.sql.compute(inputs) {
            Ok(by_sql) => by_sql,
            Err(err) => {
                tracing::warn!(error = %err, "could not check the index against sql/index.sql; the formula's stands");
                return Ok((outputs, Checked::No));
            }
        };
        if by_sql == outputs {
            return Ok((outputs, Checked::Agreed));
        }
        let (district, sql, formula) = by_sql
            .iter()
            .zip(&outputs)
            .zip(&self.formula.codes)
            .find(|((a, b), _)| a != b)
            .map(|((a, b), code)| (code.as_str(), format!("{a:?}"), format!("{b:?}")))
            .unwrap_or_default();
        tracing::error!(
            district,
            sql,
            formula,
            "sql/index.sql and the tick's formula (src/aggregate/index.rs) give different \
             indices; the SQL is used from now on (each tick pays a query)"
        );
        self.by_sql = true;
        Ok((by_sql, Checked::Differed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RATES: [&str; 9] = [
        "awareness",
        "compliance",
        "participation",
        "satisfaction",
        "attainment",
        "improvement",
        "effectiveness",
        "management",
        "control",
    ];

    /// A district's figures against its targets, and some rates as a share
    /// of true among n persons (n may be 0: not observed).
    fn district() -> impl Strategy<Value = (IndexInput, bool)> {
        (
            0u64..250_000,
            0u64..25_000,
            0u64..25_000,
            proptest::collection::vec((0usize..9, 0u64..60, 0u64..60), 0..9),
            any::<bool>(),
        )
            .prop_map(|(people, managed, guardians, rates, no_targets)| {
                let mut seen = [false; 9];
                let rates = rates
                    .into_iter()
                    .filter(|(r, _, _)| !std::mem::replace(&mut seen[*r], true))
                    .map(|(r, yes, n)| {
                        let share = if n == 0 {
                            0.0
                        } else {
                            yes.min(n) as f64 / n as f64
                        };
                        (RATES[r], share, n)
                    })
                    .collect();
                (
                    IndexInput {
                        people,
                        managed,
                        guardians,
                        rates,
                    },
                    no_targets,
                )
            })
    }

    /// Whether the index's unrounded value lies so near a rounding step
    /// that the order of a floating sum decides it (the SQL sums in the
    /// order of its hash join).
    fn near_a_step(output: &IndexOutput, weights: &HashMap<String, f64>) -> bool {
        let (mut s, mut w) = (0.0, 0.0);
        for (name, value) in &output.components {
            if let Some(weight) = weights.get(name) {
                s += weight * value;
                w += weight;
            }
        }
        let tenths = 1000.0 * s / w;
        w > 0.0 && ((tenths - tenths.floor()) - 0.5).abs() < 1e-6
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The formula gives exactly what `sql/index.sql` gives.
        #[test]
        fn the_formula_is_the_sql(
            districts in proptest::collection::vec(district(), 16),
        ) {
            let mut region = Region::load("beijing").unwrap();
            for (d, (_, no_targets)) in region.districts.iter_mut().zip(&districts) {
                if *no_targets {
                    (d.target_people, d.target_managed, d.target_guardians) = (0, 0, 0);
                }
            }
            let inputs: Vec<IndexInput> = districts.into_iter().map(|(i, _)| i).collect();
            let formula = Formula::new(&region);
            let by_formula = formula.compute(&inputs);
            prop_assume!(!by_formula.iter().any(|o| near_a_step(o, &formula.weights)));
            let by_sql = IndexEngine::new(&region).unwrap().compute(&inputs).unwrap();
            prop_assert_eq!(by_formula, by_sql);
        }
    }

    fn zeros() -> Vec<IndexInput> {
        (0..16).map(|_| IndexInput::default()).collect()
    }

    #[test]
    fn the_tick_checks_the_formula_against_the_sql_and_keeps_to_the_sql_once_they_differ() {
        let region = Region::load("beijing").unwrap();
        let mut index = Index::new(&region).unwrap();
        let mut inputs = zeros();
        inputs[0].people = 20_000; // 110101: half its 40,000
        let (first, checked) = index.compute(&inputs).unwrap();
        assert_eq!(checked, Checked::Agreed, "the first computation is checked");
        assert_eq!(first[0].components[0], ("coverage".to_string(), 0.5));
        // 100 × 2·0.5 / 5
        assert_eq!(first[0].index, 20.0);
        assert_eq!(first[0].rank, 1);
        let (_, checked) = index.compute(&inputs).unwrap();
        assert_eq!(checked, Checked::No, "within the minute: the formula alone");

        // A formula that differs from the SQL (as if sql/index.sql had been
        // changed and not the formula): at the next check the SQL wins.
        index.formula.weights.insert("coverage".into(), 3.0);
        index.last_check = None;
        let (outputs, checked) = index.compute(&inputs).unwrap();
        assert_eq!(checked, Checked::Differed);
        assert_eq!(outputs[0].index, 20.0, "the SQL's index");
        let (outputs, checked) = index.compute(&inputs).unwrap();
        assert_eq!(checked, Checked::BySql);
        assert_eq!(outputs, first);
    }
}
