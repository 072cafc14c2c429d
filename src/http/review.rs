//! The monthly review: `GET /api/v1/review`, closing and reopening a month
//! (封账), and the revisions of a closed month (docs/review.md).

use axum::Json;
use axum::extract::{Query, State};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::access::{ApiError, Staff, StaffWrite, audit};
use super::export::month_bounds;
use crate::access::StaffRole;
use crate::aggregate::review::{self, Level, Review};
use crate::store::review::ClosedMonth;
use crate::time;

#[derive(Deserialize)]
pub struct ReviewQuery {
    month: Option<String>,
    quarter: Option<String>,
    level: Option<String>,
}

#[derive(Deserialize)]
pub struct MonthBody {
    month: Option<String>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}

/// A month that has begun: (month, its start, its end, the previous month's
/// start), Beijing micros.
fn month_of(month: Option<&str>) -> Result<(String, i64, i64, i64), ApiError> {
    let month = month.ok_or_else(|| bad("month: required, as YYYY-MM"))?;
    let (start, end) = month_bounds(month).ok_or_else(|| bad("month: a month as YYYY-MM"))?;
    if start > time::now_beijing_micros() {
        return Err(bad(format!("month: {month} has not begun")));
    }
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").expect("checked");
    let previous = first - Duration::days(1);
    let (before, _) = month_bounds(&format!("{:04}-{:02}", previous.year(), previous.month()))
        .ok_or_else(|| bad("month: a month as YYYY-MM"))?;
    Ok((month.to_string(), start, end, before))
}

/// A quarter that has begun, `YYYY-Qn`: (quarter, its first day, its
/// start, its end, the previous quarter's start), Beijing micros.
fn quarter_of(quarter: &str) -> Result<(String, NaiveDate, i64, i64, i64), ApiError> {
    let wrong = || {
        bad(format!(
            "quarter: a quarter as YYYY-Qn (n 1 to 4), got {quarter:?}"
        ))
    };
    let (year, n) = quarter.split_once("-Q").ok_or_else(wrong)?;
    let (year, n): (i32, u32) = match (year.parse(), n.parse()) {
        (Ok(y), Ok(n)) if year.len() == 4 && (1..=4).contains(&n) => (y, n),
        _ => return Err(wrong()),
    };
    let first = NaiveDate::from_ymd_opt(year, 3 * n - 2, 1).ok_or_else(wrong)?;
    let start = crate::region::midnight(first);
    if start > time::now_beijing_micros() {
        return Err(bad(format!("quarter: {quarter} has not begun")));
    }
    let end = crate::region::midnight(first + chrono::Months::new(3));
    let before = crate::region::midnight(first - chrono::Months::new(3));
    Ok((quarter.to_string(), first, start, end, before))
}

fn level_of(level: Option<&str>) -> Result<Level, ApiError> {
    match level.unwrap_or("district") {
        "district" => Ok(Level::District),
        "team" => Ok(Level::Team),
        other => Err(bad(format!("level: one of team, district, got {other:?}"))),
    }
}

/// Both levels of a month as they stand now.
async fn compute(
    app: &AppState,
    month: &str,
    start: i64,
    end: i64,
    before: i64,
) -> Result<[Review; 2], ApiError> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").expect("checked");
    compute_period(app, Some(month), None, first, start, end, before).await
}

/// Both levels of a month or a quarter starting on `first`.
async fn compute_period(
    app: &AppState,
    month: Option<&str>,
    quarter: Option<&str>,
    first: NaiveDate,
    start: i64,
    end: i64,
    before: i64,
) -> Result<[Review; 2], ApiError> {
    app.store.loaded().await;
    let counts = app.store.review_counts(start, end, before).await?;
    let last = time::from_beijing_micros(end - 1).date_naive();
    let registry = app.registry.read().expect("the registry's lock").clone();
    let as_of = time::rfc3339_secs(end.min(time::now_beijing_micros()));
    Ok([Level::Team, Level::District].map(|level| Review {
        month: month.map(str::to_string),
        quarter: quarter.map(str::to_string),
        level: level.code(),
        closed: false,
        closed_at: None,
        closed_by: None,
        as_of: as_of.clone(),
        rows: review::rows(&app.region, &registry, &counts, level, first, last),
    }))
}

/// `GET /api/v1/review?month=YYYY-MM&level=team|district`: a closed month as
/// it was closed, any other as it stands.
pub async fn get_review(
    State(app): State<AppState>,
    Staff(_): Staff,
    Query(q): Query<ReviewQuery>,
) -> Result<Json<Value>, ApiError> {
    let level = level_of(q.level.as_deref())?;
    if let Some(quarter) = q.quarter.as_deref() {
        if q.month.is_some() {
            return Err(bad("month, quarter: send one of them"));
        }
        let (quarter, first, start, end, before) = quarter_of(quarter)?;
        let [team, district] =
            compute_period(&app, None, Some(&quarter), first, start, end, before).await?;
        let review = if level == Level::Team { team } else { district };
        return Ok(Json(serde_json::to_value(review).map_err(internal)?));
    }
    let (month, start, end, before) = month_of(q.month.as_deref())?;
    if let Some(closed) = app.store.closed_month(month.clone()).await? {
        return Ok(Json(frozen(&closed)?[level.code()].clone()));
    }
    let [team, district] = compute(&app, &month, start, end, before).await?;
    let review = if level == Level::Team { team } else { district };
    Ok(Json(serde_json::to_value(review).map_err(internal)?))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// The figures stored when the month was closed: `{"team": …, "district": …}`.
fn frozen(closed: &ClosedMonth) -> Result<Value, ApiError> {
    serde_json::from_str(&closed.figures).map_err(internal)
}

/// `POST /api/v1/review/close {"month"}`: freezes a month that has ended.
pub async fn close(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Json(body): Json<MonthBody>,
) -> Result<Json<Value>, ApiError> {
    let (month, start, end, before) = month_of(body.month.as_deref())?;
    let now = time::now_beijing_micros();
    if end > now {
        return Err(bad(format!(
            "month: {month} is not over; a month is closed after its last day"
        )));
    }
    if let Some(c) = app.store.closed_month(month.clone()).await? {
        return Err(ApiError::Conflict(format!(
            "month {month} is already closed (by {} at {})",
            c.closed_by,
            time::rfc3339_secs(c.closed_at)
        )));
    }
    let closed_at = time::rfc3339_secs(now);
    let figures = compute(&app, &month, start, end, before)
        .await?
        .map(|mut r| {
            r.closed = true;
            r.closed_at = Some(closed_at.clone());
            r.closed_by = Some(p.actor.clone());
            r
        });
    let [team, district] = figures;
    let text = json!({"team": team, "district": district}).to_string();
    let stored = app
        .store
        .close_month(ClosedMonth {
            month: month.clone(),
            closed_at: now,
            closed_by: p.actor.clone(),
            figures: text,
        })
        .await?;
    if !stored {
        return Err(ApiError::Conflict(format!(
            "month {month} is already closed"
        )));
    }
    audit(
        &app.store,
        &p.actor,
        "review_close",
        Some(&month),
        Some(&address),
        None,
    )
    .await;
    Ok(Json(
        json!({"month": month, "closed": true, "closed_at": closed_at, "closed_by": p.actor}),
    ))
}

/// `POST /api/v1/review/reopen {"month"}`: admins only.
pub async fn reopen(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Json(body): Json<MonthBody>,
) -> Result<Json<Value>, ApiError> {
    if p.staff_role != Some(StaffRole::Admin) {
        return Err(ApiError::Forbidden(
            "a closed month is reopened by an admin only: this account's role is staff".into(),
        ));
    }
    let (month, ..) = month_of(body.month.as_deref())?;
    if !app.store.reopen_month(month.clone()).await? {
        return Err(ApiError::Conflict(format!("month {month} is not closed")));
    }
    audit(
        &app.store,
        &p.actor,
        "review_reopen",
        Some(&month),
        Some(&address),
        None,
    )
    .await;
    Ok(Json(json!({"month": month, "closed": false})))
}

/// `GET /api/v1/review/revisions?month=YYYY-MM`: the events of a closed
/// month stored after it was closed, and what they change.
pub async fn revisions(
    State(app): State<AppState>,
    Staff(_): Staff,
    Query(q): Query<ReviewQuery>,
) -> Result<Json<Value>, ApiError> {
    let (month, start, end, before) = month_of(q.month.as_deref())?;
    let Some(closed) = app.store.closed_month(month.clone()).await? else {
        return Err(ApiError::Conflict(format!(
            "month {month} is not closed: revisions are the events stored after a month was closed"
        )));
    };
    app.store.loaded().await;
    let late = app.store.revisions(start, end, closed.closed_at).await?;
    let was = frozen(&closed)?;
    let now = compute(&app, &month, start, end, before).await?;
    let mut effects = Vec::new();
    for review in &now {
        let now_rows = serde_json::to_value(&review.rows).map_err(internal)?;
        effects.extend(differences(
            review.level,
            &was[review.level]["rows"],
            &now_rows,
        ));
    }
    Ok(Json(json!({
        "month": month,
        "closed_at": time::rfc3339_secs(closed.closed_at),
        "closed_by": closed.closed_by,
        "events": late.iter().map(|r| r.events).sum::<u64>(),
        "revisions": late.iter().map(|r| json!({
            "district": r.district,
            "team": (!r.team.is_empty()).then_some(&r.team),
            "kind": r.kind,
            "events": r.events,
            "first_received": time::rfc3339_secs(r.first_received),
            "last_received": time::rfc3339_secs(r.last_received),
        })).collect::<Vec<_>>(),
        "effects": effects,
    })))
}

/// The figures of `now`'s rows that differ from `was`'s, row by row (a row
/// is its team, or its district): managed, new, services, follow-ups, and
/// each rate's value and n.
fn differences(level: &str, was: &Value, now: &Value) -> Vec<Value> {
    let key = |row: &Value| {
        row.get("team")
            .and_then(Value::as_str)
            .or_else(|| row["district"].as_str())
            .unwrap_or("")
            .to_string()
    };
    let empty = Vec::new();
    let was_rows = was.as_array().unwrap_or(&empty);
    let mut out = Vec::new();
    for row in now.as_array().unwrap_or(&empty) {
        let k = key(row);
        let before = was_rows.iter().find(|r| key(r) == k);
        let field = |v: Option<&Value>, path: &[&str]| -> Value {
            let mut at = v;
            for p in path {
                at = at.and_then(|x| x.get(*p));
            }
            at.cloned().unwrap_or(Value::Null)
        };
        let mut paths: Vec<Vec<String>> = ["managed", "managed_new", "services", "followups"]
            .iter()
            .map(|f| vec![f.to_string()])
            .collect();
        if let Some(rates) = row["rates"].as_object() {
            for rate in rates.keys() {
                paths.push(vec!["rates".into(), rate.clone(), "value".into()]);
                paths.push(vec!["rates".into(), rate.clone(), "n".into()]);
            }
        }
        for path in paths {
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            let (a, b) = (field(before, &p), field(Some(row), &p));
            if a != b {
                out.push(json!({
                    "level": level,
                    "key": k,
                    "name": row["name"],
                    "field": p.join("."),
                    "closed": a,
                    "now": b,
                }));
            }
        }
    }
    out
}

/// A new item of 一帐三单.
#[derive(Deserialize)]
pub struct NewItem {
    list: Option<String>,
    district: Option<String>,
    team: Option<String>,
    title: Option<String>,
    owner: Option<String>,
    deadline: Option<String>,
    detail: Option<String>,
}

#[derive(Deserialize)]
pub struct DoneBody {
    outcome: Option<String>,
}

/// An item as answered: the stored fields, the list's Chinese name, and
/// whether it is overdue (open, its deadline before `today`).
fn item_json(item: &crate::store::ledger::LedgerItem, today: &str) -> Value {
    let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
    v["list_name"] = json!(crate::model::LedgerList::parse(&item.list).map_or("", |l| l.chinese()));
    v["created_at"] = json!(time::rfc3339_secs(item.created_at));
    v["done_at"] = json!(item.done_at.map(time::rfc3339_secs));
    v["overdue"] = json!(item.done_at.is_none() && item.deadline.as_str() < today);
    v
}

fn today() -> String {
    time::from_beijing_micros(time::now_beijing_micros())
        .date_naive()
        .to_string()
}

/// Text of 1 to `max` characters without a phone or identity-card number.
fn text(field: &str, value: Option<&str>, max: usize) -> Result<String, ApiError> {
    let value = value.map(str::trim).unwrap_or("");
    let n = value.chars().count();
    if n == 0 || n > max {
        return Err(bad(format!("{field}: 1 to {max} characters, got {n}")));
    }
    if let Some(kind) = crate::personal::identifier(value) {
        return Err(bad(format!(
            "{field}: looks like {kind}; no personal numbers here"
        )));
    }
    Ok(value.to_string())
}

/// `GET /api/v1/ledger`: every item of 一帐三单, open ones first by deadline,
/// with the counts of open and overdue ones.
pub async fn ledger(State(app): State<AppState>, Staff(_): Staff) -> Result<Json<Value>, ApiError> {
    let items = app.store.ledger_items().await?;
    let today = today();
    let items: Vec<Value> = items.iter().map(|i| item_json(i, &today)).collect();
    let open = items.iter().filter(|i| i["done_at"].is_null()).count();
    let overdue = items.iter().filter(|i| i["overdue"] == true).count();
    Ok(Json(
        json!({"today": today, "open": open, "overdue": overdue, "items": items}),
    ))
}

/// `POST /api/v1/ledger`: adds an item; audited.
pub async fn add_item(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Json(body): Json<NewItem>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let list = body
        .list
        .as_deref()
        .and_then(crate::model::LedgerList::parse)
        .ok_or_else(|| bad(crate::model::LedgerList::expected()))?;
    let d = body
        .district
        .as_deref()
        .and_then(|d| app.region.district_index(d))
        .ok_or_else(|| bad("district: a district code or name of the region"))?;
    let district = app.region.districts[d as usize].code.clone();
    let team = match body
        .team
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(t) => {
            if !app
                .region
                .teams
                .iter()
                .any(|r| r.id == t && r.district == d)
            {
                return Err(bad(format!(
                    "team: {t:?} is not a registered team of {} ({district})",
                    app.region.districts[d as usize].name
                )));
            }
            Some(t.to_string())
        }
    };
    let title = text("title", body.title.as_deref(), 200)?;
    let owner = text("owner", body.owner.as_deref(), 64)?;
    let deadline = body.deadline.as_deref().unwrap_or("");
    let deadline = NaiveDate::parse_from_str(deadline, "%Y-%m-%d")
        .map_err(|_| bad(format!("deadline: a date as YYYY-MM-DD, got {deadline:?}")))?
        .to_string();
    let detail = match body
        .detail
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(d) => Some(text("detail", Some(d), 2000)?),
    };
    let item = app
        .store
        .add_ledger_item(crate::store::ledger::LedgerItem {
            id: 0,
            list: list.code().to_string(),
            district,
            team,
            title,
            owner,
            deadline,
            detail,
            created_at: time::now_beijing_micros(),
            created_by: p.actor.clone(),
            done_at: None,
            done_by: None,
            outcome: None,
        })
        .await?;
    app.open_items
        .lock()
        .expect("the open items' lock")
        .push(crate::aggregate::alerts::OpenItem {
            id: item.id,
            district: d,
            deadline: item.deadline.clone(),
        });
    audit(
        &app.store,
        &p.actor,
        "ledger_added",
        Some(&item.id.to_string()),
        Some(&address),
        Some(format!("{} {}: {}", item.list, item.district, item.title)),
    )
    .await;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(item_json(&item, &today())),
    ))
}

/// `POST /api/v1/ledger/{id}/done {"outcome"?}`: marks an open item done; audited.
pub async fn item_done(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Json(body): Json<DoneBody>,
) -> Result<Json<Value>, ApiError> {
    use crate::store::ledger::Done;
    let outcome = match body
        .outcome
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(o) => Some(text("outcome", Some(o), 2000)?),
    };
    let now = time::now_beijing_micros();
    match app
        .store
        .mark_ledger_done(id, now, p.actor.clone(), outcome)
        .await?
    {
        Done::Missing => Err(ApiError::NotFound(format!("no ledger item {id}"))),
        Done::Already(item) => Err(ApiError::Conflict(format!(
            "ledger item {id} was done already (by {} at {})",
            item.done_by.unwrap_or_default(),
            item.done_at.map(time::rfc3339_secs).unwrap_or_default()
        ))),
        Done::Marked(item) => {
            app.open_items
                .lock()
                .expect("the open items' lock")
                .retain(|i| i.id != id);
            audit(
                &app.store,
                &p.actor,
                "ledger_done",
                Some(&id.to_string()),
                Some(&address),
                None,
            )
            .await;
            Ok(Json(item_json(&item, &today())))
        }
    }
}

/// A registered team as answered.
fn team_json(app: &AppState, t: &crate::region::RegisteredTeam) -> Value {
    let district = &app.region.districts[t.district as usize];
    json!({
        "id": t.id,
        "name": t.name,
        "institution": t.institution,
        "district": district.code,
        "district_name": district.name,
        "level": t.level.code(),
        "discipline": t.discipline.code(),
        "target": t.target,
        "active_from": t.active_from.to_string(),
        "active_to": t.active_to.map(|d| d.to_string()),
        "edited_by": t.edited.as_ref().map(|(by, _)| by),
        "edited_at": t.edited.as_ref().map(|(_, at)| time::rfc3339_secs(*at)),
    })
}

/// `GET /api/v1/teams`: the team registry as it stands (the region's file
/// with staff's edits over it).
pub async fn teams(State(app): State<AppState>, Staff(_): Staff) -> Json<Value> {
    let registry = app.registry.read().expect("the registry's lock").clone();
    Json(json!({"teams": registry.iter().map(|t| team_json(&app, t)).collect::<Vec<_>>()}))
}

/// A team as the console sends it (its id is the path's).
#[derive(Deserialize)]
pub struct TeamBody {
    name: Option<String>,
    institution: Option<String>,
    district: Option<String>,
    level: Option<String>,
    discipline: Option<String>,
    /// Any JSON value: a number that is not a whole one is told as such.
    target: Option<Value>,
    active_from: Option<String>,
    active_to: Option<String>,
}

/// `PUT /api/v1/teams/{id}`: adds a team to the registry or changes it;
/// audited. A team is retired by its `active_to`, never deleted.
pub async fn save_team(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    axum::extract::Path(id): axum::extract::Path<String>,
    Json(body): Json<TeamBody>,
) -> Result<Json<Value>, ApiError> {
    let target = match body.target.as_ref().and_then(Value::as_u64) {
        Some(n) if n <= crate::region::MAX_TARGET => n,
        _ => {
            return Err(bad(format!(
                "target: a whole number from 0 to {}",
                crate::region::MAX_TARGET
            )));
        }
    };
    let fields = crate::region::TeamFields {
        id,
        name: body.name.unwrap_or_default(),
        institution: body.institution.unwrap_or_default(),
        district: body.district.unwrap_or_default(),
        level: body.level.unwrap_or_default(),
        discipline: body.discipline.unwrap_or_default(),
        target,
        active_from: body.active_from.unwrap_or_default(),
        active_to: body.active_to,
    };
    for (field, value) in [
        ("id", &fields.id),
        ("name", &fields.name),
        ("institution", &fields.institution),
    ] {
        if let Some(kind) = crate::personal::identifier(value) {
            return Err(bad(format!(
                "{field}: looks like {kind}; no personal numbers here"
            )));
        }
    }
    let mut team = fields
        .check(|d| app.region.district_index(d))
        .map_err(bad)?;
    let now = time::now_beijing_micros();
    let district = app.region.districts[team.district as usize].code.clone();
    app.store
        .save_team(team.clone(), district.clone(), now, p.actor.clone())
        .await?;
    team.edited = Some((p.actor.clone(), now));
    {
        let mut registry = app.registry.write().expect("the registry's lock");
        *registry = crate::region::with_edits(std::mem::take(&mut *registry), vec![team.clone()]);
    }
    app.teams.register(team.district, &team.id);
    audit(
        &app.store,
        &p.actor,
        "team_saved",
        Some(&team.id),
        Some(&address),
        Some(format!("{} {} ({district})", team.name, team.institution)),
    )
    .await;
    Ok(Json(team_json(&app, &team)))
}
