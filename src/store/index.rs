//! The index engine: `sql/index.sql` run on a small in-memory DuckDB.
//!
//! It holds only the region's weights, settings, standards and targets and
//! the rows of district figures it is handed, so its cost does not grow
//! with history. The tick computes the same formula in Rust
//! (`aggregate::index`); tests prove the two equal. Blocking: async code
//! never calls it.

use duckdb::{Connection, params};

use crate::region::{Half, Region};

pub const INDEX_SQL: &str = include_str!("../../sql/index.sql");

const TABLES_SQL: &str = "
CREATE TABLE index_weight (component VARCHAR PRIMARY KEY, weight DOUBLE, half VARCHAR);
CREATE TABLE index_setting (cap DOUBLE, prior DOUBLE);
CREATE TABLE rate_standard (rate VARCHAR PRIMARY KEY, floor DOUBLE, standard DOUBLE);
CREATE TABLE district_figures (code VARCHAR, people BIGINT, interactive BIGINT, managed BIGINT,
                               guardians BIGINT, planned_people BIGINT, planned_interactive BIGINT,
                               planned_managed BIGINT, planned_guardians BIGINT, target_managed BIGINT);
CREATE TABLE district_rates (code VARCHAR, rate VARCHAR, trues BIGINT, n BIGINT);
";

/// The live figures of one district that the index needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexInput {
    /// [people, interactive, managed, guardians].
    pub values: [u64; 4],
    /// The same four targets pro-rated to the date (whole persons).
    pub planned: [u64; 4],
    /// (rate code, trues, n) of the observed rates, n ≥ 1 only.
    pub rates: Vec<(&'static str, u64, u64)>,
}

/// The index of one district, with the components it was made of.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexOutput {
    pub index: f64,
    pub rank: u32,
    /// The progress half alone, 0–100, one decimal.
    pub progress: f64,
    /// The quality half alone, 0–100, one decimal.
    pub quality: f64,
    /// (component, score, the rate before scoring for a rate), by name.
    pub components: Vec<(String, f64, Option<f64>)>,
}

pub struct IndexEngine {
    conn: Connection,
    codes: Vec<String>,
    target_managed: Vec<i64>,
}

impl IndexEngine {
    pub fn new(region: &Region) -> Result<IndexEngine, duckdb::Error> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(TABLES_SQL)?;
        {
            let mut app = conn.appender("index_weight")?;
            for w in &region.weights {
                let half = match w.half {
                    Half::Progress => "progress",
                    Half::Quality => "quality",
                };
                app.append_row(params![w.component, w.weight, half])?;
            }
            let mut app = conn.appender("rate_standard")?;
            for r in &region.rates {
                app.append_row(params![r.rate.code(), r.floor, r.standard])?;
            }
            let mut app = conn.appender("index_setting")?;
            app.append_row(params![region.index.cap, region.index.prior])?;
        }
        Ok(IndexEngine {
            conn,
            codes: region.districts.iter().map(|d| d.code.clone()).collect(),
            target_managed: region
                .districts
                .iter()
                .map(|d| d.target_managed as i64)
                .collect(),
        })
    }

    /// One output per district, in the region's order.
    ///
    /// The inputs are appended inside a transaction that is rolled back once
    /// the query is read: the tables are empty between runs.
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
            for ((code, input), target_managed) in
                self.codes.iter().zip(inputs).zip(&self.target_managed)
            {
                let [people, interactive, managed, guardians] = input.values.map(|v| v as i64);
                let [pp, pi, pm, pg] = input.planned.map(|v| v as i64);
                figures.append_row(params![
                    code,
                    people,
                    interactive,
                    managed,
                    guardians,
                    pp,
                    pi,
                    pm,
                    pg,
                    target_managed
                ])?;
            }
            figures.flush()?;
            let mut rates = self.conn.appender("district_rates")?;
            for (code, input) in self.codes.iter().zip(inputs) {
                for (rate, trues, n) in &input.rates {
                    rates.append_row(params![code, rate, *trues as i64, *n as i64])?;
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
                progress: 0.0,
                quality: 0.0,
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
            out.progress = row.get(3)?;
            out.quality = row.get(4)?;
            if let Some(component) = row.get::<_, Option<String>>(5)? {
                out.components.push((component, row.get(6)?, row.get(7)?));
            }
        }
        Ok(outputs)
    }
}
