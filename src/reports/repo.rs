//! SQL of reports, their photos, history, subscribers and notifications.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::geo::{BBox, Cells};
use crate::store::{Db, Exec, Tx};
use crate::{on_db, on_tx};

/// A report as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub report_id: Uuid,
    pub category_id: Uuid,
    pub reporter_id: Option<Uuid>,
    pub channel: String,
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
    pub status: String,
    pub severity: String,
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
    ($rest:literal) => {
        concat!(
            "SELECT report_id, category_id, reporter_id, channel, entered_by, description, lat, lon, accuracy_m, ",
            "address, h3_r10, area_id, unit_id, assignee_id, status, severity, answers, public_reply, duplicate_of, ",
            "me_too_count, ack_by, resolve_by, acknowledged_at, resolved_at, closed_at, rating, rating_comment, ",
            "captured_at, missed_deadline, created_at, updated_at FROM reports ",
            $rest
        )
    };
}

/// A report as filed: what [`insert_report`] writes.
pub struct NewReportRow {
    pub report_id: Uuid,
    pub category_id: Uuid,
    pub reporter_id: Option<Uuid>,
    pub channel: &'static str,
    pub entered_by: Option<Uuid>,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub address: String,
    pub cells: Cells,
    pub area_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    pub severity: &'static str,
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
            channel: self.channel.to_string(),
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
            status: "submitted".to_string(),
            severity: self.severity.to_string(),
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
            r.channel.into(),
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
            r.severity.into(),
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
    db: &Db,
    reporter: Uuid,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT COUNT(*), MIN(created_at) FROM reports WHERE reporter_id = $1 AND created_at > $2",
    )
    .bind(reporter)
    .bind(since)
    .fetch_one(pool)
    .await)
}

pub async fn report(db: &Db, id: Uuid) -> Result<Option<ReportRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, ReportRow>(select_reports!("WHERE report_id = $1")).bind(id).fetch_optional(pool).await)
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
    tx: &mut Tx,
    id: Uuid,
    from: &str,
    c: &StatusChange<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = on_tx!(tx, conn => sqlx::query(
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
    db: &Db,
    report_id: Uuid,
    kind: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar::<_, DateTime<Utc>>(
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
    tx: &mut Tx,
    id: Uuid,
    from: &str,
    to: &str,
    ack_by: DateTime<Utc>,
    resolve_by: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = on_tx!(tx, conn => sqlx::query(
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

// One history row is naturally this wide; a struct would only rename the columns.
#[allow(clippy::too_many_arguments)]
pub async fn add_event(
    tx: &mut dyn Exec,
    report_id: Uuid,
    actor: Option<Uuid>,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    note: &str,
    visibility: &str,
    now: DateTime<Utc>,
) -> crate::error::Result<Uuid> {
    let id = Uuid::now_v7();
    tx.exec(
        "INSERT INTO report_events (report_event_id, report_id, actor_id, kind, from_status, to_status, note, visibility, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        &[
            id.into(),
            report_id.into(),
            actor.into(),
            kind.into(),
            from.into(),
            to.into(),
            note.into(),
            visibility.into(),
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
    pub actor_role: Option<String>,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub note: String,
    pub visibility: String,
    pub created_at: DateTime<Utc>,
}

pub async fn events(db: &Db, report_id: Uuid) -> Result<Vec<EventRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, EventRow>(
        "SELECT e.report_event_id, e.actor_id, a.role AS actor_role, e.kind, e.from_status, e.to_status, e.note,
                e.visibility, e.created_at
         FROM report_events e LEFT JOIN accounts a ON a.account_id = e.actor_id
         WHERE e.report_id = $1 ORDER BY e.created_at, e.report_event_id",
    )
    .bind(report_id)
    .fetch_all(pool)
    .await)
}

/// What a photo is attached to a report as.
#[derive(Debug, Clone, Copy)]
pub enum Attach {
    /// The reporter's own photos of the problem.
    Report,
    /// Staff's "after" photos, with the resolution.
    Evidence,
    /// Photos sent with a comment: this history entry.
    Comment(Uuid),
}

impl Attach {
    fn role(self) -> &'static str {
        match self {
            Attach::Report => "report",
            Attach::Evidence => "evidence",
            Attach::Comment(_) => "comment",
        }
    }
}

/// Attach those of `media` that `owner` uploaded, in order; how many were. The ownership check and
/// the write are one statement per photo, so nobody attaches a photo they do not own.
pub async fn attach_owned_media(
    tx: &mut dyn Exec,
    report_id: Uuid,
    owner: Uuid,
    media: &[Uuid],
    attach: Attach,
    now: DateTime<Utc>,
) -> crate::error::Result<usize> {
    let event = match attach {
        Attach::Comment(e) => Some(e),
        _ => None,
    };
    let mut attached = 0;
    for (i, m) in media.iter().enumerate() {
        attached += tx
            .exec(
                "INSERT INTO report_media (report_id, media_id, role, position, report_event_id, created_at, updated_at)
                 SELECT $1, media_id, $3, $4, $7, $5, $5 FROM media WHERE media_id = $2 AND owner_id = $6
                 ON CONFLICT (report_id, media_id) DO NOTHING",
                &[
                    report_id.into(),
                    (*m).into(),
                    attach.role().into(),
                    (i as i64).into(),
                    now.into(),
                    owner.into(),
                    event.into(),
                ],
            )
            .await? as usize;
    }
    Ok(attached)
}

/// The photos sent with a report's comments, by history entry, in order.
pub async fn comment_photos(
    db: &Db,
    report_id: Uuid,
) -> Result<std::collections::HashMap<Uuid, Vec<Uuid>>, sqlx::Error> {
    let rows = on_db!(db, pool => sqlx::query_as::<_, (Uuid, Uuid)>(
        "SELECT report_event_id, media_id FROM report_media
         WHERE report_id = $1 AND report_event_id IS NOT NULL ORDER BY position",
    )
    .bind(report_id)
    .fetch_all(pool)
    .await)?;
    let mut by_event: std::collections::HashMap<Uuid, Vec<Uuid>> = Default::default();
    for (event, media) in rows {
        by_event.entry(event).or_default().push(media);
    }
    Ok(by_event)
}

/// (media id, role) of a report's photos, in order.
pub async fn report_media(db: &Db, report_id: Uuid) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, (Uuid, String)>(
        "SELECT media_id, role FROM report_media WHERE report_id = $1 ORDER BY created_at, position",
    )
    .bind(report_id)
    .fetch_all(pool)
    .await)
}

/// (media id, role) of the photos of each of `reports`, in order: one query for a page.
pub async fn media_of_reports(
    db: &Db,
    reports: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<(Uuid, String)>>, sqlx::Error> {
    let mut out: std::collections::HashMap<Uuid, Vec<(Uuid, String)>> = Default::default();
    for chunk in reports.chunks(500) {
        // Only placeholders are formatted into the text; every value is bound.
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT report_id, media_id, role FROM report_media WHERE report_id IN ({})
             ORDER BY report_id, created_at, position",
            marks.join(", ")
        );
        let rows = on_db!(db, pool => {
            let mut q = sqlx::query_as::<_, (Uuid, Uuid, String)>(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await
        })?;
        for (report, media, role) in rows {
            out.entry(report).or_default().push((media, role));
        }
    }
    Ok(out)
}

pub async fn subscribe(
    tx: &mut dyn Exec,
    report_id: Uuid,
    account: Uuid,
    kind: &str,
    now: DateTime<Utc>,
) -> crate::error::Result<bool> {
    let n = tx
        .exec(
            "INSERT INTO report_subscribers (report_id, account_id, kind, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (report_id, account_id) DO NOTHING",
            &[report_id.into(), account.into(), kind.into(), now.into()],
        )
        .await?;
    Ok(n == 1)
}

pub async fn subscribers_tx(tx: &mut Tx, report_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    on_tx!(tx, conn => sqlx::query_scalar::<_, Uuid>("SELECT account_id FROM report_subscribers WHERE report_id = $1 ORDER BY created_at")
        .bind(report_id).fetch_all(conn).await)
}

pub async fn is_subscriber(db: &Db, report_id: Uuid, account: Uuid) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM report_subscribers WHERE report_id = $1 AND account_id = $2")
        .bind(report_id).bind(account).fetch_one(pool).await)?;
    Ok(n > 0)
}

/// Move the children's subscribers to the parent (a duplicate's followers follow the original).
pub async fn move_subscribers(
    tx: &mut Tx,
    from: Uuid,
    to: Uuid,
    now: DateTime<Utc>,
) -> crate::error::Result<u64> {
    let subs = subscribers_tx(tx, from).await?;
    let mut moved = 0;
    for s in subs {
        if subscribe(tx, to, s, "follower", now).await? {
            moved += 1;
        }
    }
    Ok(moved)
}

/// Count `by` more people with the same problem. `updated_at` is left alone: it dates the report's
/// public life (a resolved report that absorbs a duplicate is not news again).
pub async fn bump_me_too(tx: &mut Tx, report_id: Uuid, by: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query("UPDATE reports SET me_too_count = me_too_count + $2 WHERE report_id = $1")
        .bind(report_id).bind(by as i32).execute(conn).await.map(|_| ()))
}

pub async fn set_rating(
    db: &Db,
    report_id: Uuid,
    stars: i32,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, pool => sqlx::query(
        // `updated_at` is left alone: it dates the report's public life (the feed and the map
        // show resolved reports for six months after it), which a late rating must not restart.
        "UPDATE reports SET rating = $2, rating_comment = $3, rated_at = $4 WHERE report_id = $1 AND rating IS NULL",
    )
    .bind(report_id)
    .bind(stars)
    .bind(comment)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn notify(
    tx: &mut Tx,
    account: Uuid,
    report_id: Uuid,
    kind: &str,
    vi: &str,
    en: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO notifications (notification_id, account_id, report_id, kind, body_vi, body_en, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(account)
    .bind(report_id)
    .bind(kind)
    .bind(vi)
    .bind(en)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ()))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub notification_id: Uuid,
    pub report_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub consultation_id: Option<Uuid>,
    pub kind: String,
    pub body_vi: String,
    pub body_en: String,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn notifications(
    db: &Db,
    account: Uuid,
    unread_only: bool,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, NotificationRow>(
        "SELECT notification_id, report_id, appointment_id, consultation_id, kind, body_vi, body_en, read_at, created_at FROM notifications
         WHERE account_id = $1 AND (NOT $2 OR read_at IS NULL) AND ($3 IS NULL OR notification_id < $3)
         ORDER BY notification_id DESC LIMIT $4",
    )
    .bind(account)
    .bind(unread_only)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await)
}

/// Mark read; only the owner's own notifications are touched.
pub async fn mark_read(
    db: &Db,
    account: Uuid,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for id in ids {
        n += on_db!(db, pool => sqlx::query("UPDATE notifications SET read_at = $3, updated_at = $3 WHERE notification_id = $1 AND account_id = $2 AND read_at IS NULL")
            .bind(id).bind(account).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    }
    Ok(n)
}

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

/// Reports matching `f`: newest first by id (UUIDv7 sorts by creation; cursor = last id seen), or
/// soonest deadline first.
pub async fn list(db: &Db, f: &Filter) -> Result<Vec<ReportRow>, sqlx::Error> {
    // The status set as ",a,b," matched with a LIKE: portable, no arrays needed on SQLite.
    let statuses = format!(",{},", f.statuses.join(","));
    let (min_lat, min_lon, max_lat, max_lon) = match f.bbox {
        Some(b) => (
            Some(b.min_lat),
            Some(b.min_lon),
            Some(b.max_lat),
            Some(b.max_lon),
        ),
        None => (None, None, None, None),
    };
    let (unit_mode, unit_id) = match f.unit {
        UnitFilter::Any => (0i32, None),
        UnitFilter::Unit(u) => (1, Some(u)),
        UnitFilter::Unrouted => (2, None),
    };
    let sql = if f.by_deadline {
        select_reports!(
            "WHERE ($1 = ',,' OR $1 LIKE '%,' || status || ',%')
               AND ($2 IS NULL OR category_id = $2) AND ($3 IS NULL OR reporter_id = $3)
               AND ($4 IS NULL OR (lat >= $4 AND lat <= $6 AND lon >= $5 AND lon <= $7))
               AND ($8 IS NULL OR created_at >= $8) AND ($9 IS NULL OR created_at < $9)
               AND ($10 IS NULL OR status IN ('submitted', 'received', 'assigned', 'in_progress', 'reopened') OR updated_at >= $10)
               AND ($11 IS NULL OR report_id < $11)
               AND ($12 = 0 OR ($12 = 1 AND unit_id = $13) OR ($12 = 2 AND unit_id IS NULL))
               AND ($14 IS NULL OR resolve_by < $14)
               AND ($16 IS NULL OR area_id = $16) AND ($17 IS NULL OR assignee_id = $17)
               AND ($18 IS NULL OR (acknowledged_at IS NULL AND ack_by < $18))
             ORDER BY CASE WHEN acknowledged_at IS NULL THEN ack_by ELSE resolve_by END, report_id LIMIT $15"
        )
    } else if let Some(b) = f.bbox {
        return list_in_box(db, f, b, &statuses, unit_mode, unit_id).await;
    } else {
        select_reports!(
            "WHERE ($1 = ',,' OR $1 LIKE '%,' || status || ',%')
               AND ($2 IS NULL OR category_id = $2) AND ($3 IS NULL OR reporter_id = $3)
               AND ($4 IS NULL OR (lat >= $4 AND lat <= $6 AND lon >= $5 AND lon <= $7))
               AND ($8 IS NULL OR created_at >= $8) AND ($9 IS NULL OR created_at < $9)
               AND ($10 IS NULL OR status IN ('submitted', 'received', 'assigned', 'in_progress', 'reopened') OR updated_at >= $10)
               AND ($11 IS NULL OR report_id < $11)
               AND ($12 = 0 OR ($12 = 1 AND unit_id = $13) OR ($12 = 2 AND unit_id IS NULL))
               AND ($14 IS NULL OR resolve_by < $14)
               AND ($16 IS NULL OR area_id = $16) AND ($17 IS NULL OR assignee_id = $17)
               AND ($18 IS NULL OR (acknowledged_at IS NULL AND ack_by < $18))
             ORDER BY report_id DESC LIMIT $15"
        )
    };
    on_db!(db, pool => sqlx::query_as::<_, ReportRow>(sql)
        .bind(&statuses)
        .bind(f.category_id)
        .bind(f.reporter_id)
        .bind(min_lat)
        .bind(min_lon)
        .bind(max_lat)
        .bind(max_lon)
        .bind(f.since)
        .bind(f.until)
        .bind(f.open_or_updated_since)
        .bind(f.before)
        .bind(unit_mode)
        .bind(unit_id)
        .bind(f.due_before)
        .bind(f.limit)
        .bind(f.area_id)
        .bind(f.assignee_id)
        .bind(f.unacknowledged_before)
        .fetch_all(pool)
        .await)
}

/// The filters of [`list`] with a box (the box unwrapped from `$4 IS NULL OR …` so an index on
/// the coordinates can serve it).
const BOX_FILTER: &str = "($1 = ',,' OR $1 LIKE '%,' || status || ',%')
       AND ($2 IS NULL OR category_id = $2) AND ($3 IS NULL OR reporter_id = $3)
       AND lat >= $4 AND lat <= $6 AND lon >= $5 AND lon <= $7
       AND ($8 IS NULL OR created_at >= $8) AND ($9 IS NULL OR created_at < $9)
       AND ($10 IS NULL OR status IN ('submitted', 'received', 'assigned', 'in_progress', 'reopened') OR updated_at >= $10)
       AND ($11 IS NULL OR report_id < $11)
       AND ($12 = 0 OR ($12 = 1 AND unit_id = $13) OR ($12 = 2 AND unit_id IS NULL))
       AND ($14 IS NULL OR resolve_by < $14)
       AND ($16 IS NULL OR area_id = $16) AND ($17 IS NULL OR assignee_id = $17)
       AND ($18 IS NULL OR (acknowledged_at IS NULL AND ack_by < $18))";

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
       AND ($10 IS NULL OR status IN ('submitted', 'received', 'assigned', 'in_progress', 'reopened') OR updated_at >= $10)
       AND ($11 IS NULL OR report_id < $11)",
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
    db: &Db,
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
    let n = on_db!(db, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()))
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

/// Bind [`list`]'s parameters, in order, to a query over a box.
macro_rules! bind_box {
    ($q:expr, $f:expr, $b:expr, $statuses:expr, $unit_mode:expr, $unit_id:expr) => {
        $q.persistent(false)
            .bind($statuses)
            .bind($f.category_id)
            .bind($f.reporter_id)
            .bind($b.min_lat)
            .bind($b.min_lon)
            .bind($b.max_lat)
            .bind($b.max_lon)
            .bind($f.since)
            .bind($f.until)
            .bind($f.open_or_updated_since)
            .bind($f.before)
            .bind($unit_mode)
            .bind($unit_id)
            .bind($f.due_before)
            .bind($f.limit)
            .bind($f.area_id)
            .bind($f.assignee_id)
            .bind($f.unacknowledged_before)
    };
}

async fn list_in_box(
    db: &Db,
    f: &Filter,
    b: BBox,
    statuses: &str,
    unit_mode: i32,
    unit_id: Option<Uuid>,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let sql = format!(
        "{}{}",
        select_reports!(""),
        box_query(db, f, b, unit_mode).await?
    );
    on_db!(db, pool => bind_box!(sqlx::query_as::<_, ReportRow>(sqlx::AssertSqlSafe(sql.clone())), f, b, statuses, unit_mode, unit_id)
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
    pub status: String,
}

/// [`list`] over a box (`f.bbox`, required), reading only what a map point shows.
pub async fn map_points(db: &Db, f: &Filter) -> Result<Vec<MapPoint>, sqlx::Error> {
    let Some(b) = f.bbox else {
        return Ok(vec![]);
    };
    let statuses = format!(",{},", f.statuses.join(","));
    let (unit_mode, unit_id) = match f.unit {
        UnitFilter::Any => (0i32, None),
        UnitFilter::Unit(u) => (1, Some(u)),
        UnitFilter::Unrouted => (2, None),
    };
    // The points are read straight from the index the page's ids come from (each point's own
    // entry elsewhere would be one random page read when the cache is cold). Parameters the
    // filter does not name are still declared: sqlx tells PostgreSQL every parameter's type, and
    // SQLite ignores the ones a statement does not name.
    let sql = format!(
        "SELECT report_id, category_id, lat, lon, status FROM reports{}",
        box_candidates(db, f, b, unit_mode).await?
    );
    on_db!(db, pool => bind_box!(sqlx::query_as::<_, MapPoint>(sqlx::AssertSqlSafe(sql.clone())), f, b, &statuses, unit_mode, unit_id)
        .fetch_all(pool)
        .await)
}

/// Open reports of a category in a box (for "nearby" duplicates).
pub async fn open_in_box(
    db: &Db,
    category_id: Uuid,
    b: BBox,
    before: Option<Uuid>,
    limit: usize,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, ReportRow>(select_reports!(
        "WHERE category_id = $1 AND status IN ('submitted', 'received', 'assigned', 'in_progress', 'reopened')
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
    db: &Db,
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
    let rows = on_db!(db, pool => sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql.clone()))
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

/// Resolved reports whose reopen window has passed (to close them).
pub async fn resolved_before(
    db: &Db,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar::<_, Uuid>("SELECT report_id FROM reports WHERE status = 'resolved' AND resolved_at < $1 ORDER BY resolved_at LIMIT $2")
        .bind(before).bind(limit).fetch_all(pool).await)
}

/// The units a staff member belongs to.
pub async fn units_of(db: &Db, account: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar::<_, Uuid>("SELECT unit_id FROM unit_members WHERE account_id = $1").bind(account).fetch_all(pool).await)
}

pub async fn unit_exists(db: &Db, unit: Uuid) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM units WHERE unit_id = $1").bind(unit).fetch_one(pool).await)?;
    Ok(n > 0)
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
pub async fn search(db: &Db, s: &Search) -> Result<Vec<ReportRow>, sqlx::Error> {
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
    on_db!(db, pool => sqlx::query_as::<_, ReportRow>(select_reports!(
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
    pub kind: String,
    pub to_status: Option<String>,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

/// Public history entries (status changes and public replies) of every report in a window, oldest
/// first.
pub async fn public_events_between(
    db: &Db,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PublicEventRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, PublicEventRow>(
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
