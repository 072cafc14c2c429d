//! The index engine: `sql/index.sql` run every tick on a small in-memory DuckDB.
//!
//! It holds only the region's targets and weights and the 16 rows of live
//! district figures the tick hands it, so its cost does not grow with history.
//! Owned by the tick (a blocking context); async code never calls it.

use duckdb::{Connection, params};

use crate::region::Region;

pub const INDEX_SQL: &str = include_str!("../../sql/index.sql");

const TABLES_SQL: &str = "
CREATE TABLE index_weight (component VARCHAR PRIMARY KEY, weight DOUBLE);
CREATE TABLE district_figures (code VARCHAR, people BIGINT, managed BIGINT, guardians BIGINT,
                               target_people BIGINT, target_managed BIGINT, target_guardians BIGINT);
CREATE TABLE district_rates (code VARCHAR, rate VARCHAR, value DOUBLE, n BIGINT);
";

/// The live figures of one district that the index needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexInput {
    pub people: u64,
    pub managed: u64,
    pub guardians: u64,
    /// (rate code, share of true, persons), only rates with n ≥ 1.
    pub rates: Vec<(&'static str, f64, u64)>,
}

/// The index of one district, with the components it was made of.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexOutput {
    pub index: f64,
    pub rank: u32,
    pub components: Vec<(String, f64)>,
}

pub struct IndexEngine {
    conn: Connection,
    codes: Vec<String>,
    /// Each district's [people, managed, guardians] targets, in the region's order.
    targets: Vec<[i64; 3]>,
}

impl IndexEngine {
    pub fn new(region: &Region) -> Result<IndexEngine, duckdb::Error> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(TABLES_SQL)?;
        {
            let mut app = conn.appender("index_weight")?;
            for (component, weight) in &region.weights {
                app.append_row(params![component, weight])?;
            }
        }
        Ok(IndexEngine {
            conn,
            codes: region.districts.iter().map(|d| d.code.clone()).collect(),
            targets: region
                .districts
                .iter()
                .map(|d| [d.target_people, d.target_managed, d.target_guardians].map(|t| t as i64))
                .collect(),
        })
    }

    /// One output per district, in the region's order.
    ///
    /// The inputs are appended inside a transaction that is rolled back once
    /// the query is read: the tables are empty between runs, with no delete
    /// and no commit to pay for.
    pub fn compute(&mut self, inputs: &[IndexInput]) -> Result<Vec<IndexOutput>, duckdb::Error> {
        assert_eq!(inputs.len(), self.codes.len(), "one input per district");
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        let outputs = self.run(inputs);
        let rolled_back = self.conn.execute_batch("ROLLBACK");
        let outputs = outputs?;
        rolled_back?;
        Ok(outputs)
    }

    fn run(&mut self, inputs: &[IndexInput]) -> Result<Vec<IndexOutput>, duckdb::Error> {
        {
            let mut figures = self.conn.appender("district_figures")?;
            for ((code, input), [people, managed, guardians]) in
                self.codes.iter().zip(inputs).zip(&self.targets)
            {
                figures.append_row(params![
                    code,
                    input.people as i64,
                    input.managed as i64,
                    input.guardians as i64,
                    people,
                    managed,
                    guardians
                ])?;
            }
            figures.flush()?;
            let mut rates = self.conn.appender("district_rates")?;
            for (code, input) in self.codes.iter().zip(inputs) {
                for (rate, value, n) in &input.rates {
                    rates.append_row(params![code, rate, value, *n as i64])?;
                }
            }
            rates.flush()?;
        }
        let mut outputs: Vec<IndexOutput> = self
            .codes
            .iter()
            .map(|_| IndexOutput {
                index: 0.0,
                rank: 0,
                components: Vec::new(),
            })
            .collect();
        let mut stmt = self.conn.prepare_cached(INDEX_SQL)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let code: String = row.get(0)?;
            let Some(i) = self.codes.iter().position(|c| *c == code) else {
                continue;
            };
            let out = &mut outputs[i];
            out.index = row.get(1)?;
            out.rank = row.get::<_, i64>(2)? as u32;
            if let Some(component) = row.get::<_, Option<String>>(3)? {
                out.components.push((component, row.get(4)?));
            }
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(people: u64, managed: u64, guardians: u64) -> IndexInput {
        IndexInput {
            people,
            managed,
            guardians,
            rates: Vec::new(),
        }
    }

    /// Components capped and rounded, weights from the region's file, a
    /// district without components, a district of rates only, ties by code,
    /// a rate observed for nobody left out.
    #[test]
    fn index_components_and_ranks_by_hand() {
        let mut region = Region::load("beijing").unwrap();
        // 110106 and 110107 without targets.
        for d in &mut region.districts[3..5] {
            (d.target_people, d.target_managed, d.target_guardians) = (0, 0, 0);
        }
        let mut engine = IndexEngine::new(&region).unwrap();
        let mut inputs: Vec<IndexInput> = (0..16).map(|_| input(0, 0, 0)).collect();
        // 110101, targets 40000 / 3800 / 4000.
        inputs[0] = IndexInput {
            rates: vec![
                ("awareness", 0.75, 4),
                ("satisfaction", 0.5, 2),
                ("participation", 0.9, 0),
            ],
            ..input(50_000, 1_900, 1_000)
        };
        // 110102 (58000) and 110105 (177000): a third of the people each.
        inputs[1] = input(19_333, 0, 0);
        inputs[2] = input(59_000, 0, 0);
        // 110107: no targets, one rate.
        inputs[4].rates = vec![("control", 0.2, 5)];
        let want_components: [(usize, &[(&str, f64)]); 5] = [
            (
                0,
                &[
                    ("awareness", 0.75),
                    ("coverage", 1.0),
                    ("enrolment", 0.5),
                    ("guardians", 0.25),
                    ("satisfaction", 0.5),
                ],
            ),
            (
                1,
                &[("coverage", 0.3333), ("enrolment", 0.0), ("guardians", 0.0)],
            ),
            (
                2,
                &[("coverage", 0.3333), ("enrolment", 0.0), ("guardians", 0.0)],
            ),
            (3, &[]),
            (4, &[("control", 0.2)]),
        ];
        for round in 0..2 {
            // Twice: the second run must not see the first one's rows.
            let out = engine.compute(&inputs).unwrap();
            assert_eq!(out.len(), 16);
            for (i, components) in want_components {
                let got: Vec<(&str, f64)> = out[i]
                    .components
                    .iter()
                    .map(|(c, v)| (c.as_str(), *v))
                    .collect();
                assert_eq!(got, components, "district {i}, round {round}");
            }
            // 100 × (2·1 + 2·0.5 + 0.25 + 0.75 + 0.5) / 7 = 64.2857…
            assert_eq!(out[0].index, 64.3);
            // 100 × 2·0.3333 / 5 = 13.332
            assert_eq!(out[1].index, 13.3);
            assert_eq!(out[2].index, 13.3);
            assert_eq!(out[3].index, 0.0);
            assert_eq!(out[4].index, 20.0);
            let ranks: Vec<u32> = out.iter().map(|o| o.rank).collect();
            assert_eq!(
                ranks,
                [1, 3, 4, 5, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
                "round {round}"
            );
            for o in &out[5..] {
                assert_eq!(o.index, 0.0);
                assert_eq!(o.components.len(), 3);
            }
        }
    }
}
