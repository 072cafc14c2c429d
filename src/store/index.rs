//! The index engine: `sql/index.sql` run every tick on a small in-memory DuckDB.
//!
//! It holds only the region's targets and weights and the 16 rows of live
//! district figures the tick hands it, so its cost does not grow with history.
//! Owned by the tick (a blocking context); async code never calls it.

use duckdb::{Connection, params};

use crate::region::Region;

pub const INDEX_SQL: &str = include_str!("../../sql/index.sql");

const TABLES_SQL: &str = "
CREATE TABLE district_target (code VARCHAR PRIMARY KEY, target_people BIGINT,
                              target_managed BIGINT, target_guardians BIGINT);
CREATE TABLE index_weight (component VARCHAR PRIMARY KEY, weight DOUBLE);
CREATE TABLE district_figures (code VARCHAR, people BIGINT, managed BIGINT, guardians BIGINT);
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
}

impl IndexEngine {
    pub fn new(region: &Region) -> Result<IndexEngine, duckdb::Error> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(TABLES_SQL)?;
        {
            let mut app = conn.appender("district_target")?;
            for d in &region.districts {
                app.append_row(params![
                    d.code,
                    d.target_people as i64,
                    d.target_managed as i64,
                    d.target_guardians as i64
                ])?;
            }
            let mut app = conn.appender("index_weight")?;
            for (component, weight) in &region.weights {
                app.append_row(params![component, weight])?;
            }
        }
        Ok(IndexEngine {
            conn,
            codes: region.districts.iter().map(|d| d.code.clone()).collect(),
        })
    }

    /// One output per district, in the region's order.
    pub fn compute(&mut self, inputs: &[IndexInput]) -> Result<Vec<IndexOutput>, duckdb::Error> {
        assert_eq!(inputs.len(), self.codes.len(), "one input per district");
        self.conn
            .execute_batch("DELETE FROM district_figures; DELETE FROM district_rates;")?;
        {
            let mut figures = self.conn.appender("district_figures")?;
            for (code, input) in self.codes.iter().zip(inputs) {
                figures.append_row(params![
                    code,
                    input.people as i64,
                    input.managed as i64,
                    input.guardians as i64
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
