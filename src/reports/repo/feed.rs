//! SQL that reads reports in bulk: the feed and queue (`Filter`), boxes and cells, map points and clusters, Open311 searches and the public events.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ReportRow;
use crate::geo::BBox;
use crate::on_db;
use crate::on_ex;
use crate::reports::Status;
use crate::store::{Db, Ex};

/// Which unit's reports.
#[derive(Debug, Default, Clone, Copy)]
pub enum UnitFilter {
    #[default]
    Any,
    Unit(Uuid),
    /// Not yet routed to any unit (triage).
    Unrouted,
}

/// Filters of the public feed and the staff queue.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub statuses: Vec<String>,
    pub category_id: Option<Uuid>,
    pub reporter_id: Option<Uuid>,
    pub unit: UnitFilter,
    pub bbox: Option<BBox>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Open reports, plus others updated since then (the feed's "resolved in the last 6 months").
    pub open_or_updated_since: Option<DateTime<Utc>>,
    /// Only reports whose resolve-by deadline is before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Cursor: reports with a smaller id (newest-first order only).
    pub before: Option<Uuid>,
    /// Order by the deadline each report waits on (acknowledge-by until staff first act, then
    /// resolve-by: the staff queue) instead of newest first.
    pub by_deadline: bool,
    /// Tagged with this khu phố.
    pub area_id: Option<Uuid>,
    /// Assigned to this person.
    pub assignee_id: Option<Uuid>,
    /// Not yet acknowledged, and due to be before this instant.
    pub unacknowledged_before: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// The feed's whole filter, written once: every query of [`list`], [`list_in_box`] and
/// [`map_points`] checks its rows against it, with the parameters [`bind_filter!`] binds. Only the
/// box's clause differs: optional (`$4 IS NULL OR …`) for a list without a box, plain for a box so
/// the coordinates' index can serve it. The statuses are `$1` as ",a,b," matched with a LIKE:
/// portable, no arrays needed on SQLite.
macro_rules! feed_filter {
    ($place:literal) => {
        concat!(
            "($1 = ',,' OR $1 LIKE '%,' || status || ',%')",
            " AND ($2 IS NULL OR category_id = $2) AND ($3 IS NULL OR reporter_id = $3)",
            " AND ",
            $place,
            " AND ($8 IS NULL OR created_at >= $8) AND ($9 IS NULL OR created_at < $9)",
            " AND ($10 IS NULL OR status IN ",
            crate::open_statuses_sql!(),
            " OR updated_at >= $10)",
            " AND ($11 IS NULL OR report_id < $11)",
            " AND ($12 = 0 OR ($12 = 1 AND unit_id = $13) OR ($12 = 2 AND unit_id IS NULL))",
            " AND ($14 IS NULL OR resolve_by < $14)",
            " AND ($16 IS NULL OR area_id = $16) AND ($17 IS NULL OR assignee_id = $17)",
            " AND ($18 IS NULL OR (acknowledged_at IS NULL AND ack_by < $18))"
        )
    };
}

/// Bind the feed's parameters `$1`…`$18`, in order: the ones [`feed_filter!`] names. `$coords` is
/// the box as four values (`Option`s when there may be none).
macro_rules! bind_filter {
    ($q:expr, $f:expr, $coords:expr) => {{
        let (min_lat, min_lon, max_lat, max_lon) = $coords;
        let (unit_mode, unit_id) = unit_params($f);
        $q.bind(status_set($f))
            .bind($f.category_id)
            .bind($f.reporter_id)
            .bind(min_lat)
            .bind(min_lon)
            .bind(max_lat)
            .bind(max_lon)
            .bind($f.since)
            .bind($f.until)
            .bind($f.open_or_updated_since)
            .bind($f.before)
            .bind(unit_mode)
            .bind(unit_id)
            .bind($f.due_before)
            .bind($f.limit)
            .bind($f.area_id)
            .bind($f.assignee_id)
            .bind($f.unacknowledged_before)
    }};
}

/// `$1`: the status set as ",a,b," (",," for any).
fn status_set(f: &Filter) -> String {
    format!(",{},", f.statuses.join(","))
}

/// `$12`, `$13`: which units (0 any, 1 this one, 2 none yet) and the unit.
fn unit_params(f: &Filter) -> (i32, Option<Uuid>) {
    match f.unit {
        UnitFilter::Any => (0, None),
        UnitFilter::Unit(u) => (1, Some(u)),
        UnitFilter::Unrouted => (2, None),
    }
}

/// Reports matching `f`: newest first by id (UUIDv7 sorts by creation; cursor = last id seen), or
/// soonest deadline first.
pub async fn list(db: &Db, f: &Filter) -> Result<Vec<ReportRow>, sqlx::Error> {
    let sql = if f.by_deadline {
        select_reports!(concat!(
            "WHERE ",
            feed_filter!("($4 IS NULL OR (lat >= $4 AND lat <= $6 AND lon >= $5 AND lon <= $7))"),
            " ORDER BY CASE WHEN acknowledged_at IS NULL THEN ack_by ELSE resolve_by END, report_id LIMIT $15"
        ))
    } else if let Some(b) = f.bbox {
        return list_in_box(db, f, b).await;
    } else {
        select_reports!(concat!(
            "WHERE ",
            feed_filter!("($4 IS NULL OR (lat >= $4 AND lat <= $6 AND lon >= $5 AND lon <= $7))"),
            " ORDER BY report_id DESC LIMIT $15"
        ))
    };
    let coords = f.bbox.map(|b| (b.min_lat, b.min_lon, b.max_lat, b.max_lon));
    let coords = (
        coords.map(|c| c.0),
        coords.map(|c| c.1),
        coords.map(|c| c.2),
        coords.map(|c| c.3),
    );
    on_db!(db, pool => bind_filter!(sqlx::query_as::<_, ReportRow>(sql), f, coords)
        .fetch_all(pool)
        .await)
}

/// The filters of [`list`] with a box (the box unwrapped from `$4 IS NULL OR …` so an index on
/// the coordinates can serve it).
const BOX_FILTER: &str = feed_filter!("lat >= $4 AND lat <= $6 AND lon >= $5 AND lon <= $7");

/// A box list reads the reports in the box newest first, in one of two ways:
///
/// - through the H3 cells covering the box (resolution 10, ~0.015 km² each, for a small box;
///   resolution 8, ~0.74 km², for a larger one where reports are few): the cells' index holds
///   everything the public filter reads, so the cost follows the reports in those cells;
/// - down the index of ids (newest first) holding the same columns, stopping at a full page: the
///   cost follows how rare the box's reports are among all, so it serves boxes holding many.
///
/// Which one is decided from the map's counters (resolution 6 cells, so a few rows per cell).
const LIST_R10_CELLS: usize = 300;
const LIST_R8_CELLS: usize = 400;
/// Past this many reports in the cells, a box is read newest first.
const LIST_BY_CELLS_MAX: i64 = 5_000;

/// The filters of [`BOX_FILTER`] that read columns outside the box indexes, when set: without them
/// the candidates are found from the index alone, and only the page's rows are read.
/// `coordinates`: how the box's columns are written (`+lat` keeps SQLite off their index).
///
/// PostgreSQL gets the statuses as an `IN` list: it cannot estimate the portable `LIKE` form,
/// guesses that a box holds a few dozen reports, and sorts thousands read from the heap instead of
/// walking the ids' index (measured: 920 ms instead of 0.14 ms for a 5 km box). SQLite keeps the
/// `LIKE`, which keeps it off the status index.
fn box_filter_on_index(f: &Filter, unit_mode: i32, db: &Db, coordinates: &str) -> String {
    let c = coordinates;
    let statuses = match db {
        Db::Postgres(_) if !f.statuses.is_empty() => {
            // Only known statuses, written by us: nothing from the request reaches the SQL text.
            let known: Vec<String> = f
                .statuses
                .iter()
                .filter_map(|s| crate::reports::Status::parse(s))
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            if known.is_empty() {
                "FALSE".to_string()
            } else {
                format!("status IN ({})", known.join(", "))
            }
        }
        _ => "($1 = ',,' OR $1 LIKE '%,' || status || ',%')".to_string(),
    };
    let mut sql = format!(
        "{statuses}
       AND {c}lat >= $4 AND {c}lat <= $6 AND {c}lon >= $5 AND {c}lon <= $7
       AND ($10 IS NULL OR status IN {open} OR updated_at >= $10)
       AND ($11 IS NULL OR report_id < $11)",
        open = crate::open_statuses_sql!(),
    );
    if f.category_id.is_some() {
        sql.push_str(" AND category_id = $2");
    }
    if f.reporter_id.is_some() {
        sql.push_str(" AND reporter_id = $3");
    }
    if f.since.is_some() {
        sql.push_str(" AND created_at >= $8");
    }
    if f.until.is_some() {
        sql.push_str(" AND created_at < $9");
    }
    if unit_mode != 0 {
        sql.push_str(" AND (($12 = 1 AND unit_id = $13) OR ($12 = 2 AND unit_id IS NULL))");
    }
    if f.due_before.is_some() {
        sql.push_str(" AND resolve_by < $14");
    }
    if f.area_id.is_some() {
        sql.push_str(" AND area_id = $16");
    }
    if f.assignee_id.is_some() {
        sql.push_str(" AND assignee_id = $17");
    }
    if f.unacknowledged_before.is_some() {
        sql.push_str(" AND acknowledged_at IS NULL AND ack_by < $18");
    }
    sql
}

/// Reports the public map counts in the resolution-6 cells covering the box, and how many cells
/// those are, if the box is small enough to ask.
async fn counted_near(
    ex: impl Into<Ex<'_>>,
    b: BBox,
    since: Option<DateTime<Utc>>,
) -> Result<Option<(i64, usize)>, sqlx::Error> {
    let Some(cells) = crate::geo::cover(b, h3o::Resolution::Six, 200, false) else {
        return Ok(None);
    };
    let day = since.map_or(-1, |s| s.timestamp().div_euclid(86_400));
    let cells: Vec<String> = cells.iter().map(i64::to_string).collect();
    let sql = format!(
        "SELECT COALESCE(SUM(n), 0) FROM report_cells WHERE res = 6 AND cell IN ({}) AND (day = -1 OR day >= $1)",
        cells.join(",")
    );
    let n = on_ex!(ex.into(), pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()))
        .persistent(false)
        .bind(day)
        .fetch_one(pool)
        .await)?;
    Ok(Some((n, cells.len())))
}

/// The end of a box list's query, after `SELECT … FROM reports`: the page's ids found by the
/// cheapest way ([`box_candidates`]), then checked against the whole filter again (which names
/// every parameter: PostgreSQL refuses one it cannot type).
async fn box_query(db: &Db, f: &Filter, b: BBox, unit_mode: i32) -> Result<String, sqlx::Error> {
    Ok(format!(
        " WHERE report_id IN (SELECT report_id FROM reports{}) AND {BOX_FILTER} ORDER BY report_id DESC",
        box_candidates(db, f, b, unit_mode).await?
    ))
}

/// The end of the query that finds a box page's ids, after `SELECT report_id FROM reports`: its
/// filter reads only columns of the index it walks, so SQLite can also read a map point's five
/// columns from it alone.
async fn box_candidates(
    db: &Db,
    f: &Filter,
    b: BBox,
    unit_mode: i32,
) -> Result<String, sqlx::Error> {
    let mut by_cells = crate::geo::cover(b, h3o::Resolution::Ten, LIST_R10_CELLS, true)
        .map(|cells| ("h3_r10", cells));
    if by_cells.is_none()
        && let Some(r8) = crate::geo::cover(b, h3o::Resolution::Eight, LIST_R8_CELLS, true)
        && let Some((n, r6)) = counted_near(db, b, f.open_or_updated_since).await?
    {
        // The reports in the resolution-8 cells, estimated from the coarser count by area.
        let area = |cells: usize, res: h3o::Resolution| cells as f64 * res.area_m2();
        let expected = n as f64 * area(r8.len(), h3o::Resolution::Eight)
            / area(r6, h3o::Resolution::Six).max(1.0);
        if expected <= LIST_BY_CELLS_MAX as f64 {
            by_cells = Some(("h3_r8", r8));
        }
    }
    let candidates = match by_cells {
        Some((column, cells)) => {
            let cells: Vec<String> = cells.iter().map(i64::to_string).collect();
            format!(
                " WHERE {column} IN ({}) AND {} ORDER BY report_id DESC LIMIT $15",
                cells.join(","),
                box_filter_on_index(f, unit_mode, db, "")
            )
        }
        // SQLite: `+lat` keeps it off the coordinates' index (a band across the whole city) and on
        // the ids'. PostgreSQL chooses that itself, and would misjudge `+lat`.
        None => format!(
            " WHERE {} ORDER BY report_id DESC LIMIT $15",
            box_filter_on_index(
                f,
                unit_mode,
                db,
                if matches!(db, Db::Sqlite(..)) {
                    "+"
                } else {
                    ""
                }
            )
        ),
    };
    Ok(candidates)
}

async fn list_in_box(db: &Db, f: &Filter, b: BBox) -> Result<Vec<ReportRow>, sqlx::Error> {
    let (unit_mode, _) = unit_params(f);
    let sql = format!(
        "{}{}",
        select_reports!(""),
        box_query(db, f, b, unit_mode).await?
    );
    on_db!(db, pool => bind_filter!(sqlx::query_as::<_, ReportRow>(sqlx::AssertSqlSafe(sql.clone())).persistent(false), f, (b.min_lat, b.min_lon, b.max_lat, b.max_lon))
        .fetch_all(pool)
        .await)
}

/// A report as a point on the public map.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MapPoint {
    pub report_id: Uuid,
    pub category_id: Uuid,
    pub lat: f64,
    pub lon: f64,
    pub status: Status,
}

/// [`list`] over a box (`f.bbox`, required), reading only what a map point shows.
pub async fn map_points(db: &Db, f: &Filter) -> Result<Vec<MapPoint>, sqlx::Error> {
    let Some(b) = f.bbox else {
        return Ok(vec![]);
    };
    let (unit_mode, _) = unit_params(f);
    // The points are read straight from the index the page's ids come from (each point's own
    // entry elsewhere would be one random page read when the cache is cold). Parameters the
    // filter does not name are still declared: sqlx tells PostgreSQL every parameter's type, and
    // SQLite ignores the ones a statement does not name.
    let sql = format!(
        "SELECT report_id, category_id, lat, lon, status FROM reports{}",
        box_candidates(db, f, b, unit_mode).await?
    );
    on_db!(db, pool => bind_filter!(sqlx::query_as::<_, MapPoint>(sqlx::AssertSqlSafe(sql.clone())).persistent(false), f, (b.min_lat, b.min_lon, b.max_lat, b.max_lon))
        .fetch_all(pool)
        .await)
}

/// Open reports of a category in a box (for "nearby" duplicates).
pub async fn open_in_box(
    ex: impl Into<Ex<'_>>,
    category_id: Uuid,
    b: BBox,
    before: Option<Uuid>,
    limit: usize,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, ReportRow>(select_reports!(
        "WHERE category_id = $1 AND status IN ", crate::open_statuses_sql!(), "
           AND lat >= $2 AND lat <= $4 AND lon >= $3 AND lon <= $5 AND ($7 IS NULL OR report_id < $7)
         ORDER BY report_id DESC LIMIT $6"
    ))
    .bind(category_id)
    .bind(b.min_lat)
    .bind(b.min_lon)
    .bind(b.max_lat)
    .bind(b.max_lon)
    .bind(limit as i64)
    .bind(before)
    .fetch_all(pool)
    .await)
}

/// Most cells one map answer counts: a box needing more is answered at a coarser resolution.
const MAX_CLUSTER_CELLS: usize = 1500;

/// Map clusters: how many reports the public map shows in each H3 cell (resolution 8, 6 or 4)
/// covering the box: open ones, and resolved or closed ones last changed on or after `since_day`
/// (days since 1970-01-01, UTC). Read from the counters the `report_cells` triggers keep, so the
/// cost follows the number of cells, not of reports. A box needing more than
/// [`MAX_CLUSTER_CELLS`] cells is answered at the next coarser resolution; past resolution 4, every
/// counted resolution-4 cell whose centre is in the box.
pub async fn clusters(
    ex: impl Into<Ex<'_>>,
    res: h3o::Resolution,
    b: BBox,
    since_day: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    use h3o::Resolution;
    let mut res = res;
    let cells = loop {
        if let Some(cells) = crate::geo::cover(b, res, MAX_CLUSTER_CELLS, false) {
            break Some(cells);
        }
        res = match res {
            Resolution::Eight | Resolution::Nine | Resolution::Ten => Resolution::Six,
            Resolution::Six | Resolution::Seven => Resolution::Four,
            _ => break None,
        };
    };
    let level = u8::from(res);
    let sql = match &cells {
        Some(cells) => {
            let cells: Vec<String> = cells.iter().map(i64::to_string).collect();
            format!(
                "SELECT cell, SUM(n) FROM report_cells WHERE res = {level} AND cell IN ({}) AND (day = -1 OR day >= $1) GROUP BY cell HAVING SUM(n) > 0",
                cells.join(",")
            )
        }
        None => format!(
            "SELECT cell, SUM(n) FROM report_cells WHERE res = {level} AND (day = -1 OR day >= $1) GROUP BY cell HAVING SUM(n) > 0"
        ),
    };
    let rows = on_ex!(ex.into(), pool => sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql.clone()))
        .persistent(cells.is_none())
        .bind(since_day)
        .fetch_all(pool)
        .await)?;
    Ok(match cells {
        Some(_) => rows,
        None => rows
            .into_iter()
            .filter(|(cell, _)| crate::geo::cell_center(*cell).is_some_and(|p| b.contains(p)))
            .collect(),
    })
}

/// An Open311 search (`GET requests`): category codes and statuses as lists, windows on creation
/// and on the last change, a box, and pages.
#[derive(Debug, Default, Clone)]
pub struct Search {
    pub category_codes: Vec<String>,
    pub statuses: Vec<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    pub bbox: Option<BBox>,
    pub limit: i64,
    pub offset: i64,
}

/// Reports matching `s`, newest first.
pub async fn search(ex: impl Into<Ex<'_>>, s: &Search) -> Result<Vec<ReportRow>, sqlx::Error> {
    // Lists as ",a,b," matched with LIKE, as in `list`: portable, no arrays on SQLite.
    let codes = format!(",{},", s.category_codes.join(","));
    let statuses = format!(",{},", s.statuses.join(","));
    let (min_lat, min_lon, max_lat, max_lon) = match s.bbox {
        Some(b) => (
            Some(b.min_lat),
            Some(b.min_lon),
            Some(b.max_lat),
            Some(b.max_lon),
        ),
        None => (None, None, None, None),
    };
    on_ex!(ex.into(), pool => sqlx::query_as::<_, ReportRow>(select_reports!(
        "WHERE ($1 = ',,' OR $1 LIKE '%,' || (SELECT c.code FROM categories c WHERE c.category_id = reports.category_id) || ',%')
           AND ($2 = ',,' OR $2 LIKE '%,' || status || ',%')
           AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at <= $4)
           AND ($5 IS NULL OR updated_at >= $5) AND ($6 IS NULL OR updated_at <= $6)
           AND ($7 IS NULL OR (lat >= $7 AND lat <= $9 AND lon >= $8 AND lon <= $10))
         ORDER BY created_at DESC, report_id DESC LIMIT $11 OFFSET $12"
    ))
    .bind(&codes)
    .bind(&statuses)
    .bind(s.created_from)
    .bind(s.created_to)
    .bind(s.updated_from)
    .bind(s.updated_to)
    .bind(min_lat)
    .bind(min_lon)
    .bind(max_lat)
    .bind(max_lon)
    .bind(s.limit)
    .bind(s.offset)
    .fetch_all(pool)
    .await)
}

/// A public history entry with its report, for feeds of changes across reports.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PublicEventRow {
    pub report_event_id: Uuid,
    pub report_id: Uuid,
    pub kind: crate::reports::EventKind,
    pub to_status: Option<Status>,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

/// Public history entries (status changes and public replies) of every report in a window, oldest
/// first.
pub async fn public_events_between(
    ex: impl Into<Ex<'_>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PublicEventRow>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, PublicEventRow>(
        "SELECT report_event_id, report_id, kind, to_status, note, created_at FROM report_events
         WHERE visibility = 'public' AND created_at >= $1 AND created_at <= $2
           AND (to_status IS NOT NULL OR note <> '')
         ORDER BY created_at, report_event_id LIMIT $3",
    )
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await)
}
