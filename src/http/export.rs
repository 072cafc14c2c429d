//! The monthly review (seed 001: the figures are captured every month and
//! compared): a month's figures per district or per team, as CSV or Parquet.
//!
//! The figures are those of the state as of the end of the month (or now,
//! for the current month): the stored events before that moment are folded
//! into a fresh aggregator and run through the same index and state code as
//! the live tick, so an export of the current month shows the live numbers.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::AppState;
use super::access::{ApiError, Staff};
use crate::aggregate::Aggregator;
use crate::aggregate::state::{self, State as Figures, Wall};
use crate::model::{Colour, NineRate};
use crate::time;

#[derive(Deserialize)]
pub struct ExportQuery {
    month: Option<String>,
    level: Option<String>,
    format: Option<String>,
    /// `zh` (the default) or `en`: the column headers' language.
    headers: Option<String>,
}

/// A column's Chinese header, from its code (`rate_<code>`, `rate_<code>_n`
/// and the colours from the program's lists).
fn chinese(code: &str) -> String {
    let fixed = match code {
        "month" => "月份",
        "as_of" => "数据截至",
        "district" => "区划代码",
        "name" => "区",
        "team" => "团队",
        "people" => "扫码人数",
        "scans" => "扫码次数",
        "assessed" => "评估人数",
        "managed" => "管理人数",
        "interactive" => "互动人数",
        "services" => "服务次数",
        "served" => "服务人数",
        "trainees" => "培训学员",
        "guardians" => "健康守护者",
        "index" => "治未病指数",
        "rank" => "排名",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_string();
    }
    if let Some(c) = Colour::parse(code) {
        return format!("{}人数", c.chinese());
    }
    if let Some(rate) = code.strip_prefix("rate_") {
        if let Some(r) = rate.strip_suffix("_n").and_then(NineRate::parse) {
            return format!("{}样本数", r.chinese());
        }
        if let Some(r) = NineRate::parse(rate) {
            return r.chinese().to_string();
        }
    }
    code.to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    District,
    Team,
}

/// `YYYY-MM` to the Beijing micros of the month's start and of the next month's.
pub fn month_bounds(month: &str) -> Option<(i64, i64)> {
    let start = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    if month.len() != 7 {
        return None;
    }
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)?
    };
    let micros = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros())
    };
    Some((micros(start)?, micros(next)?))
}

pub async fn export(
    State(app): State<AppState>,
    Staff(p): Staff,
    super::access::Address(address): super::access::Address,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    super::access::audit(
        &app.store,
        &p.actor,
        "export",
        None,
        Some(&address),
        Some(format!(
            "month {}, level {}, format {}",
            q.month.as_deref().unwrap_or("-"),
            q.level.as_deref().unwrap_or("district"),
            q.format.as_deref().unwrap_or("csv")
        )),
    )
    .await;
    let bad = |m: &str| ApiError::BadRequest(m.to_string());
    let month = q.month.ok_or_else(|| bad("month: required, as YYYY-MM"))?;
    let (start, end) = month_bounds(&month).ok_or_else(|| bad("month: a month as YYYY-MM"))?;
    let now = time::now_beijing_micros();
    if start > now {
        return Err(bad("month: not begun yet"));
    }
    let level = match q.level.as_deref().unwrap_or("district") {
        "district" => Level::District,
        "team" => Level::Team,
        _ => return Err(bad("level: district or team")),
    };
    let parquet = match q.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "parquet" => true,
        _ => return Err(bad("format: csv or parquet")),
    };
    let in_chinese = match q.headers.as_deref().unwrap_or("zh") {
        "zh" => true,
        "en" => false,
        _ => return Err(bad("headers: zh or en")),
    };
    let as_of = end.min(now);
    let region = app.region.clone();
    let agg = Aggregator::new(region.districts.len(), as_of);
    // Every answered event, the ones still in the ingest log included.
    app.store.loaded().await;
    let agg = app
        .store
        .fold_until((*region).clone(), as_of, agg, |agg, e| agg.apply(e))
        .await?;
    let name = month.clone();
    let k = app.settings.read().expect("settings lock").k;
    let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let figures = figures(&region, &agg, as_of, k).map_err(|e| e.to_string())?;
        let (header, rows) = match level {
            Level::District => district_rows(&figures),
            Level::Team => team_rows(&figures),
        };
        let as_of = time::rfc3339_secs(as_of);
        // A spreadsheet's formulas are escaped in the CSV people open, not
        // in the Parquet file's values.
        let named = |code: &str| {
            if in_chinese {
                chinese(code)
            } else {
                code.to_string()
            }
        };
        let header: Vec<String> = header.iter().map(|h| named(h)).collect();
        let csv = to_csv(
            &name,
            &as_of,
            [named("month"), named("as_of")],
            &header,
            &rows,
            !parquet,
        );
        if parquet {
            let codes: &[&str] = match level {
                Level::District => &["month", "as_of", "district", "name"],
                Level::Team => &["month", "as_of", "district", "name", "team"],
            };
            let text: Vec<String> = codes.iter().map(|c| named(c)).collect();
            let text: Vec<&str> = text.iter().map(String::as_str).collect();
            crate::store::parquet::from_csv(&csv, &text).map_err(|e| e.to_string())
        } else {
            Ok(csv)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("export: {e}")))?
    .map_err(|e| ApiError::Internal(format!("export: {e}")))?;
    let (kind, ext) = if parquet {
        ("application/vnd.apache.parquet", "parquet")
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    let level = match level {
        Level::District => "district",
        Level::Team => "team",
    };
    let disposition = format!("attachment; filename=\"weibing-{month}-{level}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// The staff's state of `agg`, as the tick would build it at `as_of`.
pub fn figures(
    region: &crate::region::Region,
    agg: &Aggregator,
    as_of: i64,
    k: u64,
) -> Result<Figures, duckdb::Error> {
    Ok(state::compute_with(region, agg, as_of, Wall::default(), k))
}

type Table = (Vec<String>, Vec<Vec<String>>);

fn district_rows(f: &Figures) -> Table {
    let mut header: Vec<String> = [
        "district",
        "name",
        "people",
        "scans",
        "assessed",
        "managed",
        "interactive",
        "services",
        "trainees",
        "guardians",
    ]
    .map(String::from)
    .to_vec();
    header.extend(Colour::ALL.iter().map(|c| c.code().to_string()));
    for r in NineRate::ALL {
        header.push(format!("rate_{}", r.code()));
        header.push(format!("rate_{}_n", r.code()));
    }
    header.extend(["index", "rank"].map(String::from));
    let rows = f
        .districts
        .iter()
        .map(|(code, d)| {
            let t = d.totals;
            let mut row = vec![code.clone(), d.name.clone()];
            row.extend(
                [
                    t.people,
                    t.scans,
                    t.assessed,
                    t.managed,
                    t.interactive,
                    t.services,
                    t.trainees,
                    t.guardians,
                ]
                .map(|n| n.to_string()),
            );
            row.extend(
                Colour::ALL
                    .iter()
                    .map(|c| d.colours[c.code()].unwrap_or_default().to_string()),
            );
            for r in NineRate::ALL {
                let rate = d.rates[r.code()];
                row.push(rate.value.map_or(String::new(), |v| v.to_string()));
                row.push(rate.n.to_string());
            }
            row.push(d.index.to_string());
            row.push(d.rank.to_string());
            row
        })
        .collect();
    (header, rows)
}

fn team_rows(f: &Figures) -> Table {
    let header = ["district", "name", "team", "managed", "served", "services"]
        .map(String::from)
        .to_vec();
    let n = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
    let rows = f
        .districts
        .iter()
        .flat_map(|(code, d)| {
            d.teams.iter().map(move |(team, t)| {
                vec![
                    code.clone(),
                    d.name.clone(),
                    team.clone(),
                    n(t.managed),
                    n(t.served),
                    n(t.services),
                ]
            })
        })
        .collect();
    (header, rows)
}

fn to_csv(
    month: &str,
    as_of: &str,
    first: [String; 2],
    header: &[String],
    rows: &[Vec<String>],
    escape: bool,
) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut head = first.to_vec();
    head.extend(header.iter().cloned());
    out.write_record(&head).expect("writing to memory");
    for row in rows {
        let mut record = vec![month.to_string(), as_of.to_string()];
        record.extend(row.iter().cloned());
        if escape {
            out.write_record(
                record
                    .iter()
                    .map(|cell| super::console::csv_cell(cell).into_owned()),
            )
        } else {
            out.write_record(&record)
        }
        .expect("writing to memory");
    }
    out.into_inner().expect("writing to memory")
}
