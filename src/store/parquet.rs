//! CSV to Parquet through an in-memory DuckDB (the monthly export). Text
//! columns stay text: codes such as 110106 and team names are never read as
//! numbers.

use duckdb::Connection;

use super::StoreError;

/// `text` names the columns kept as text whatever they look like.
pub fn from_csv(csv: &[u8], text: &[&str]) -> Result<Vec<u8>, StoreError> {
    let types: Vec<String> = text.iter().map(|c| format!("'{c}': 'VARCHAR'")).collect();
    let types = format!("{{{}}}", types.join(", "));
    let dir = tempfile::tempdir()?;
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.parquet"));
    std::fs::write(&input, csv)?;
    let conn = Connection::open_in_memory()?;
    let quote = |p: &std::path::Path| super::database::quoted(&p.to_string_lossy());
    conn.execute_batch(&format!(
        "COPY (SELECT * FROM read_csv({}, header = true, types = {types}))
         TO {} (FORMAT parquet)",
        quote(&input),
        quote(&output)
    ))?;
    Ok(std::fs::read(&output)?)
}
