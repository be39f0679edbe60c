//! SQL of reports (one repository for the domain, in files by what the queries serve): a report's
//! row, its writes and history here; photos, followers and notifications, and bulk reads beside.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Role;
use crate::geo::Cells;
use crate::on_ex;
use crate::reports::catalog::Severity;
use crate::reports::{Channel, EventKind, Status, Visibility};
use crate::store::{Ex, Exec};

/// A report as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub report_id: Uuid,
    pub category_id: Uuid,
    pub reporter_id: Option<Uuid>,
    pub channel: Channel,
    pub entered_by: Option<Uuid>,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub address: String,
    pub h3_r10: i64,
    pub area_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub status: Status,
    pub severity: Severity,
    pub answers: String,
    pub public_reply: Option<String>,
    pub duplicate_of: Option<Uuid>,
    pub me_too_count: i32,
    pub ack_by: DateTime<Utc>,
    pub resolve_by: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub rating: Option<i32>,
    pub rating_comment: Option<String>,
    pub captured_at: Option<DateTime<Utc>>,
    /// Resolved after its deadline once, then reopened: it stays late in the on-time figures.
    pub missed_deadline: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! select_reports {
    ($($rest:tt)*) => {
        concat!(
            "SELECT report_id, category_id, reporter_id, channel, entered_by, description, lat, lon, accuracy_m, ",
            "address, h3_r10, area_id, unit_id, assignee_id, status, severity, answers, public_reply, duplicate_of, ",
            "me_too_count, ack_by, resolve_by, acknowledged_at, resolved_at, closed_at, rating, rating_comment, ",
            "captured_at, missed_deadline, created_at, updated_at FROM reports ",
            $($rest)*
        )
    };
}

mod feed;
mod followers;
mod media;

pub use feed::*;
pub use followers::*;
pub use media::*;

/// A report as filed: what [`insert_report`] writes.
pub struct NewReportRow {
    pub report_id: Uuid,
    pub category_id: Uuid,
    pub reporter_id: Option<Uuid>,
    pub channel: Channel,
    pub entered_by: Option<Uuid>,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub address: String,
    pub cells: Cells,
    pub area_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    pub severity: Severity,
    pub answers: String,
    pub ack_by: DateTime<Utc>,
    pub resolve_by: DateTime<Utc>,
    pub captured_at: Option<DateTime<Utc>>,
}

impl NewReportRow {
    /// The row as [`insert_report`] stores it at `now` (what reading it back would return).
    pub fn stored(self, now: DateTime<Utc>) -> ReportRow {
        ReportRow {
            report_id: self.report_id,
            category_id: self.category_id,
            reporter_id: self.reporter_id,
            channel: self.channel,
            entered_by: self.entered_by,
            description: self.description,
            lat: self.lat,
            lon: self.lon,
            accuracy_m: self.accuracy_m,
            address: self.address,
            h3_r10: self.cells.r10,
            area_id: self.area_id,
            unit_id: self.unit_id,
            assignee_id: None,
            status: Status::Submitted,
            severity: self.severity,
            answers: self.answers,
            public_reply: None,
            duplicate_of: None,
            me_too_count: 0,
            ack_by: self.ack_by,
            resolve_by: self.resolve_by,
            acknowledged_at: None,
            resolved_at: None,
            closed_at: None,
            rating: None,
            rating_comment: None,
            captured_at: self.captured_at,
            missed_deadline: false,
            created_at: now,
            updated_at: now,
        }
    }
}

pub async fn insert_report(
    tx: &mut dyn Exec,
    r: &NewReportRow,
    now: DateTime<Utc>,
) -> crate::error::Result<()> {
    tx.exec(
        "INSERT INTO reports (report_id, category_id, reporter_id, channel, entered_by, description, lat, lon,
             accuracy_m, address, h3_r10, h3_r8, h3_r6, h3_r4, area_id, unit_id, status, severity, answers,
             ack_by, resolve_by, captured_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'submitted', $17, $18,
             $19, $20, $21, $22, $22)",
        &[
            r.report_id.into(),
            r.category_id.into(),
            r.reporter_id.into(),
            r.channel.as_str().into(),
            r.entered_by.into(),
            (&r.description).into(),
            r.lat.into(),
            r.lon.into(),
            r.accuracy_m.into(),
            (&r.address).into(),
            r.cells.r10.into(),
            r.cells.r8.into(),
            r.cells.r6.into(),
            r.cells.r4.into(),
            r.area_id.into(),
            r.unit_id.into(),
            r.severity.as_str().into(),
            (&r.answers).into(),
            r.ack_by.into(),
            r.resolve_by.into(),
            r.captured_at.into(),
            now.into(),
        ],
    )
    .await
    .map(|_| ())
}

/// How many reports an account made since `since`, and when the oldest of them was made.
pub async fn reported_since(
    ex: impl Into<Ex<'_>>,
    reporter: Uuid,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT COUNT(*), MIN(created_at) FROM reports WHERE reporter_id = $1 AND created_at > $2",
    )
    .bind(reporter)
    .bind(since)
    .fetch_one(pool)
    .await)
}

pub async fn report(ex: impl Into<Ex<'_>>, id: Uuid) -> Result<Option<ReportRow>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, ReportRow>(select_reports!("WHERE report_id = $1")).bind(id).fetch_optional(pool).await)
}

/// The fields a transition may change, written together with the new status.
pub struct StatusChange<'a> {
    pub status: &'a str,
    pub unit_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub public_reply: Option<&'a str>,
    pub duplicate_of: Option<Uuid>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub resolve_by: DateTime<Utc>,
    pub missed_deadline: bool,
}

impl<'a> StatusChange<'a> {
    /// A change to `status` that keeps everything else as the report has it.
    pub fn keeping(report: &'a ReportRow, status: &'a str) -> StatusChange<'a> {
        StatusChange {
            status,
            unit_id: report.unit_id,
            assignee_id: report.assignee_id,
            public_reply: report.public_reply.as_deref(),
            duplicate_of: report.duplicate_of,
            acknowledged_at: report.acknowledged_at,
            resolved_at: report.resolved_at,
            closed_at: report.closed_at,
            resolve_by: report.resolve_by,
            missed_deadline: report.missed_deadline,
        }
    }
}

/// Write a transition, but only if the report is still in `from` (optimistic: a concurrent change
/// makes this return false and the caller answers 409).
pub async fn change_status(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    from: &str,
    c: &StatusChange<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = on_ex!(ex.into(), conn => sqlx::query(
        "UPDATE reports SET status = $3, unit_id = $4, assignee_id = $5, public_reply = $6, duplicate_of = $7,
             acknowledged_at = $8, resolved_at = $9, closed_at = $10, resolve_by = $11, updated_at = $12,
             missed_deadline = $13
         WHERE report_id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(c.status)
    .bind(c.unit_id)
    .bind(c.assignee_id)
    .bind(c.public_reply)
    .bind(c.duplicate_of)
    .bind(c.acknowledged_at)
    .bind(c.resolved_at)
    .bind(c.closed_at)
    .bind(c.resolve_by)
    .bind(now)
    .bind(c.missed_deadline)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// When the report's latest history entry of `kind` was written.
pub async fn last_event_at(
    ex: impl Into<Ex<'_>>,
    report_id: Uuid,
    kind: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_scalar::<_, DateTime<Utc>>(
        "SELECT created_at FROM report_events WHERE report_id = $1 AND kind = $2
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(report_id)
    .bind(kind)
    .fetch_optional(pool)
    .await)
}

/// Write a new severity and its deadlines, if the report still has severity `from`.
pub async fn change_severity(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    from: &str,
    to: &str,
    ack_by: DateTime<Utc>,
    resolve_by: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = on_ex!(ex.into(), conn => sqlx::query(
        "UPDATE reports SET severity = $3, ack_by = $4, resolve_by = $5, updated_at = $6
         WHERE report_id = $1 AND severity = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(ack_by)
    .bind(resolve_by)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// One history entry to write.
pub struct NewEvent<'a> {
    pub report_id: Uuid,
    /// Who did it; `None` for the system or a third-party app.
    pub actor: Option<Uuid>,
    pub kind: EventKind,
    pub from: Option<Status>,
    pub to: Option<Status>,
    pub note: &'a str,
    pub visibility: Visibility,
}

pub async fn add_event(
    tx: &mut dyn Exec,
    e: &NewEvent<'_>,
    now: DateTime<Utc>,
) -> crate::error::Result<Uuid> {
    let id = Uuid::now_v7();
    tx.exec(
        "INSERT INTO report_events (report_event_id, report_id, actor_id, kind, from_status, to_status, note, visibility, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        &[
            id.into(),
            e.report_id.into(),
            e.actor.into(),
            e.kind.as_str().into(),
            e.from.map(Status::as_str).into(),
            e.to.map(Status::as_str).into(),
            e.note.into(),
            e.visibility.as_str().into(),
            now.into(),
        ],
    )
    .await
    .map(|_| id)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub report_event_id: Uuid,
    pub actor_id: Option<Uuid>,
    /// The actor's role (resident, staff, admin), while their account exists.
    pub actor_role: Option<Role>,
    pub kind: EventKind,
    pub from_status: Option<Status>,
    pub to_status: Option<Status>,
    pub note: String,
    pub visibility: Visibility,
    pub created_at: DateTime<Utc>,
}

impl EventRow {
    /// Written by the ward (staff or an admin), as opposed to a resident or a third-party app's
    /// user: what a reporter is shown of the conversation, and what Open311 calls the ward's note.
    pub fn from_the_ward(&self) -> bool {
        matches!(self.actor_role, Some(Role::Staff | Role::Admin))
    }
}

pub async fn events(ex: impl Into<Ex<'_>>, report_id: Uuid) -> Result<Vec<EventRow>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, EventRow>(
        "SELECT e.report_event_id, e.actor_id, a.role AS actor_role, e.kind, e.from_status, e.to_status, e.note,
                e.visibility, e.created_at
         FROM report_events e LEFT JOIN accounts a ON a.account_id = e.actor_id
         WHERE e.report_id = $1 ORDER BY e.created_at, e.report_event_id",
    )
    .bind(report_id)
    .fetch_all(pool)
    .await)
}

/// Resolved reports whose reopen window has passed (to close them).
pub async fn resolved_before(
    ex: impl Into<Ex<'_>>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_scalar::<_, Uuid>("SELECT report_id FROM reports WHERE status = 'resolved' AND resolved_at < $1 ORDER BY resolved_at LIMIT $2")
        .bind(before).bind(limit).fetch_all(pool).await)
}

/// The units a staff member belongs to.
pub async fn units_of(ex: impl Into<Ex<'_>>, account: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_scalar::<_, Uuid>("SELECT unit_id FROM unit_members WHERE account_id = $1").bind(account).fetch_all(pool).await)
}

pub async fn unit_exists(ex: impl Into<Ex<'_>>, unit: Uuid) -> Result<bool, sqlx::Error> {
    let n = on_ex!(ex.into(), pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM units WHERE unit_id = $1").bind(unit).fetch_one(pool).await)?;
    Ok(n > 0)
}
