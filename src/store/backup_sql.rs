//! What a restore runs of a backup's SQL: only what `EXPORT DATABASE`
//! writes for our tables, checked statement by statement.
//!
//! `schema.sql` may only create enum types and tables (columns with types,
//! keys, NOT NULL and constant defaults: no query, no function call), and
//! `load.sql` may only copy a Parquet file that the manifest names into a
//! table that the manifest counts. The files are read once, checked against
//! the manifest's SHA-256 and then run from memory, and every copy reads its
//! file from the backup folder being restored (not from the path written at
//! backup time), so what runs is exactly what was checked.

use std::collections::BTreeSet;

use super::backup::Manifest;

/// The statements to run, in order.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// `schema.sql`'s statements, as written.
    pub schema: Vec<String>,
    /// `load.sql`'s copies: (table as written, the file's name in the folder).
    pub loads: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    /// A double-quoted identifier, unquoted.
    Ident(String),
    /// A single-quoted string, unquoted.
    Literal(String),
    Punct(char),
}

/// The statements of `sql`: each one's text and tokens (comments left out).
fn statements(sql: &str) -> Result<Vec<(String, Vec<Token>)>, String> {
    let mut out = Vec::new();
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '-' if chars.peek().is_some_and(|&(_, n)| n == '-') => {
                for (_, n) in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '\'' | '"' => {
                let mut text = String::new();
                let mut closed = false;
                while let Some((_, n)) = chars.next() {
                    if n == c {
                        if chars.peek().is_some_and(|&(_, m)| m == c) {
                            chars.next();
                            text.push(c);
                        } else {
                            closed = true;
                            break;
                        }
                    } else {
                        text.push(n);
                    }
                }
                if !closed {
                    return Err(format!("a quote opened at byte {at} is never closed"));
                }
                tokens.push(if c == '\'' {
                    Token::Literal(text)
                } else {
                    Token::Ident(text)
                });
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = String::from(c);
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' {
                        word.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word.to_ascii_uppercase()));
            }
            ';' => {
                if !tokens.is_empty() {
                    out.push((
                        sql[start..at].trim().to_string(),
                        std::mem::take(&mut tokens),
                    ));
                }
                start = at + 1;
            }
            c => tokens.push(Token::Punct(c)),
        }
    }
    if !tokens.is_empty() {
        out.push((sql[start..].trim().to_string(), tokens));
    }
    Ok(out)
}

fn word(token: Option<&Token>, expected: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w == expected)
}

/// A table's or type's name: a bare word (as DuckDB folds it, lower case)
/// or a quoted identifier.
fn name(token: Option<&Token>) -> Option<String> {
    match token {
        Some(Token::Word(w)) => Some(w.to_ascii_lowercase()),
        Some(Token::Ident(i)) => Some(i.clone()),
        _ => None,
    }
}

/// Words that may open a parenthesis in a column list.
const CALLS: [&str; 6] = ["ENUM", "DEFAULT", "KEY", "VARCHAR", "DECIMAL", "UNIQUE"];

fn schema_statement(tokens: &[Token], manifest: &Manifest) -> Result<(), String> {
    let mut t = tokens.iter();
    if !word(t.next(), "CREATE") {
        return Err("only CREATE TYPE and CREATE TABLE may appear".into());
    }
    match t.next() {
        Some(Token::Word(w)) if w == "TYPE" => {
            name(t.next()).ok_or("a type needs a name")?;
            let rest: Vec<&Token> = t.collect();
            let values = match rest.as_slice() {
                [
                    Token::Word(a),
                    Token::Word(e),
                    Token::Punct('('),
                    values @ ..,
                    Token::Punct(')'),
                ] if a == "AS" && e == "ENUM" => values,
                _ => return Err("a type may only be an ENUM of quoted values".into()),
            };
            for (i, v) in values.iter().enumerate() {
                let ok = if i % 2 == 0 {
                    matches!(v, Token::Literal(_))
                } else {
                    matches!(v, Token::Punct(','))
                };
                if !ok {
                    return Err("a type may only be an ENUM of quoted values".into());
                }
            }
            Ok(())
        }
        Some(Token::Word(w)) if w == "TABLE" => {
            let table = name(t.next()).ok_or("a table needs a name")?;
            if !manifest.tables.contains_key(&table) {
                return Err(format!(
                    "it creates table {table:?}, which the manifest does not count"
                ));
            }
            let rest: Vec<&Token> = t.collect();
            let columns = match rest.as_slice() {
                [Token::Punct('('), columns @ .., Token::Punct(')')] => columns,
                _ => return Err("a table may only be a list of columns".into()),
            };
            for (i, token) in columns.iter().enumerate() {
                if let Token::Word(w) = token {
                    if w == "SELECT" || w == "AS" {
                        return Err(format!("{w} may not appear in a table's columns"));
                    }
                    let opens = matches!(columns.get(i + 1), Some(Token::Punct('(')));
                    if opens && !CALLS.contains(&w.as_str()) {
                        return Err(format!("{w}(…) may not appear in a table's columns"));
                    }
                }
            }
            Ok(())
        }
        _ => Err("only CREATE TYPE and CREATE TABLE may appear".into()),
    }
}

fn load_statement(tokens: &[Token], manifest: &Manifest) -> Result<(String, String), String> {
    let shape = "a load may only be COPY <table> FROM '<file>.parquet' (FORMAT 'parquet')";
    let [
        Token::Word(copy),
        table,
        Token::Word(from),
        Token::Literal(path),
        Token::Punct('('),
        Token::Word(format),
        Token::Literal(parquet),
        Token::Punct(')'),
    ] = tokens
    else {
        return Err(shape.into());
    };
    if copy != "COPY" || from != "FROM" || format != "FORMAT" || parquet != "parquet" {
        return Err(shape.into());
    }
    let table = name(Some(table)).ok_or(shape)?;
    if !manifest.tables.contains_key(&table) {
        return Err(format!(
            "it loads table {table:?}, which the manifest does not count"
        ));
    }
    let file = path.rsplit('/').next().unwrap_or(path).to_string();
    if !file.ends_with(".parquet") || !manifest.files.contains_key(&file) {
        return Err(format!(
            "it loads {path:?}, which is not a Parquet file the manifest names"
        ));
    }
    Ok((table, file))
}

/// Checks a backup's `schema.sql` and `load.sql` (their text as checked
/// against the manifest) and gives what to run.
pub fn plan(schema: &str, load: &str, manifest: &Manifest) -> Result<Plan, String> {
    let mut plan = Plan {
        schema: Vec::new(),
        loads: Vec::new(),
    };
    for (i, (text, tokens)) in statements(schema)
        .map_err(|e| format!("schema.sql: {e}"))?
        .into_iter()
        .enumerate()
    {
        schema_statement(&tokens, manifest)
            .map_err(|e| format!("schema.sql, statement {}: {e}", i + 1))?;
        plan.schema.push(text);
    }
    let mut loaded = BTreeSet::new();
    for (i, (_, tokens)) in statements(load)
        .map_err(|e| format!("load.sql: {e}"))?
        .into_iter()
        .enumerate()
    {
        let (table, file) = load_statement(&tokens, manifest)
            .map_err(|e| format!("load.sql, statement {}: {e}", i + 1))?;
        if !loaded.insert(table.clone()) {
            return Err(format!(
                "load.sql, statement {}: table {table:?} is loaded twice",
                i + 1
            ));
        }
        plan.loads.push((table, file));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::backup::FileSum;

    fn manifest() -> Manifest {
        let sum = || FileSum {
            bytes: 1,
            sha256: String::new(),
        };
        Manifest {
            weibing_version: String::new(),
            duckdb_version: String::new(),
            made_at: String::new(),
            database: String::new(),
            tables: [("events".to_string(), 2), ("users".to_string(), 1)].into(),
            files: [
                ("events.parquet".to_string(), sum()),
                ("users.parquet".to_string(), sum()),
                ("schema.sql".to_string(), sum()),
            ]
            .into(),
        }
    }

    const SCHEMA: &str = "CREATE TYPE colour_code AS ENUM ( 'green', 'o''range' );\n\
        CREATE TABLE events(seq BIGINT NOT NULL, kind ENUM('scan', 'assess') NOT NULL, \"value\" BOOLEAN);\n\
        CREATE TABLE users(\"name\" VARCHAR PRIMARY KEY, \"role\" VARCHAR DEFAULT('admin'), PRIMARY KEY(\"name\"));\n\n";
    const LOAD: &str = "COPY events FROM '/old/place/events.parquet' (FORMAT 'parquet');\n\
        COPY \"users\" FROM '/old/place/users.parquet' (FORMAT 'parquet');\n";

    #[test]
    fn what_export_database_writes_is_run_as_written_with_its_files_from_the_folder() {
        let plan = plan(SCHEMA, LOAD, &manifest()).unwrap();
        assert_eq!(
            plan.schema,
            [
                "CREATE TYPE colour_code AS ENUM ( 'green', 'o''range' )",
                "CREATE TABLE events(seq BIGINT NOT NULL, kind ENUM('scan', 'assess') NOT NULL, \"value\" BOOLEAN)",
                "CREATE TABLE users(\"name\" VARCHAR PRIMARY KEY, \"role\" VARCHAR DEFAULT('admin'), PRIMARY KEY(\"name\"))",
            ]
        );
        assert_eq!(
            plan.loads,
            [
                ("events".to_string(), "events.parquet".to_string()),
                ("users".to_string(), "users.parquet".to_string())
            ]
        );
    }

    #[test]
    fn anything_else_is_refused_naming_the_statement() {
        let refused = |schema: &str, load: &str| plan(schema, load, &manifest()).unwrap_err();
        for (schema, why) in [
            (
                "CREATE TABLE events AS SELECT * FROM read_text('/etc/hostname');",
                "schema.sql, statement 1: a table may only be a list of columns",
            ),
            (
                "CREATE TABLE events(a VARCHAR DEFAULT(getenv('HOME')));",
                "schema.sql, statement 1: GETENV(…) may not appear in a table's columns",
            ),
            (
                "CREATE TABLE events(a VARCHAR CHECK (length(a) > 0));",
                "schema.sql, statement 1: CHECK(…) may not appear in a table's columns",
            ),
            (
                "CREATE TABLE users(a INTEGER); ATTACH '/tmp/x.db' AS x;",
                "schema.sql, statement 2: only CREATE TYPE and CREATE TABLE may appear",
            ),
            (
                "CREATE TABLE mine(a INTEGER);",
                "schema.sql, statement 1: it creates table \"mine\", which the manifest does not count",
            ),
            (
                "CREATE TYPE t AS ENUM ('a', 'b' || 'c');",
                "schema.sql, statement 1: a type may only be an ENUM of quoted values",
            ),
            (
                "CREATE TABLE events(a VARCHAR DEFAULT('x;y)'));\nCREATE MACRO m() AS 1",
                "schema.sql, statement 2: only CREATE TYPE and CREATE TABLE may appear",
            ),
            (
                "CREATE TABLE events(a VARCHAR DEFAULT('x",
                "schema.sql: a quote opened at byte 38 is never closed",
            ),
        ] {
            assert_eq!(refused(schema, LOAD), why, "{schema}");
        }
        for (load, why) in [
            (
                "COPY events FROM '/etc/passwd' (FORMAT 'csv');",
                "load.sql, statement 1: a load may only be COPY <table> FROM '<file>.parquet' (FORMAT 'parquet')",
            ),
            (
                "COPY events FROM '/elsewhere/other.parquet' (FORMAT 'parquet');",
                "load.sql, statement 1: it loads \"/elsewhere/other.parquet\", which is not a Parquet file the manifest names",
            ),
            (
                "COPY events FROM 'schema.sql' (FORMAT 'parquet');",
                "load.sql, statement 1: it loads \"schema.sql\", which is not a Parquet file the manifest names",
            ),
            (
                "COPY events TO '/tmp/out.parquet' (FORMAT 'parquet');",
                "load.sql, statement 1: a load may only be COPY <table> FROM '<file>.parquet' (FORMAT 'parquet')",
            ),
            (
                "COPY settings FROM 'events.parquet' (FORMAT 'parquet');",
                "load.sql, statement 1: it loads table \"settings\", which the manifest does not count",
            ),
            (
                "COPY events FROM 'events.parquet' (FORMAT 'parquet'); COPY events FROM 'events.parquet' (FORMAT 'parquet');",
                "load.sql, statement 2: table \"events\" is loaded twice",
            ),
            (
                "COPY events FROM 'events.parquet' (FORMAT 'parquet'); SELECT 1;",
                "load.sql, statement 2: a load may only be COPY <table> FROM '<file>.parquet' (FORMAT 'parquet')",
            ),
        ] {
            assert_eq!(refused(SCHEMA, load), why, "{load}");
        }
    }
}
