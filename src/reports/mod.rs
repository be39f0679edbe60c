//! Field reports (*phản ánh hiện trường*): a resident's geotagged report with photos, the ward's
//! lifecycle from receipt to resolution inside working-hour deadlines, history, subscriptions,
//! notifications, ratings and reopening.

pub mod api;
pub mod calendar;
pub mod catalog;
pub mod live;
pub mod push;
pub mod repo;
pub mod stats;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use std::sync::Arc;

use crate::auth::Auth;
use crate::auth::{Caller, Role};
use crate::bus::Bus;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error::{Error, FieldError, Result};
use crate::geo::{self, Point};
use crate::objects::Objects;
use crate::shutdown::Shutdown;
use crate::store::Db;
use crate::store::Exec;
use calendar::WorkCalendar;
use catalog::{Category, Severity};
use repo::ReportRow;

/// What the reports domain works with, and nothing more: built by the app (`app.rs`), shared by
/// its handlers, its rules and the Open311 facade.
#[derive(Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub objects: Objects,
    /// Live updates for the staff consoles.
    pub bus: Arc<dyn Bus>,
    pub auth: Auth,
    pub clock: Clock,
    /// Working time for deadlines.
    pub calendar: Arc<WorkCalendar>,
    /// The areas' outlines, kept in memory.
    pub areas: Arc<crate::areas::Cache>,
    /// The service catalog, kept in memory.
    pub categories: Arc<catalog::Cache>,
    /// Push notifications to phones (logs by default).
    pub notifier: Arc<dyn push::Notifier>,
    /// Closes the staff live sockets when the server stops.
    pub shutdown: Shutdown,
}

/// Where a report is in the ward's process. Vietnamese terms are the ones staff use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Enum,
)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum Status {
    /// Sent by the resident, not yet looked at.
    Submitted,
    /// *Tiếp nhận*: acknowledged by the ward.
    Received,
    /// *Chuyển xử lý*: routed to a unit (and maybe a person).
    Assigned,
    /// *Đang xử lý*.
    InProgress,
    /// *Đã xử lý*: done, with evidence and a public reply; may be reopened for 7 days.
    Resolved,
    /// *Từ chối*: not the ward's to handle, or not a real problem (reason given).
    Rejected,
    /// The same problem as another report, which carries on.
    Duplicate,
    /// Resolved and past the reopen window.
    Closed,
    /// The resident says it is not fixed; goes back to a unit.
    Reopened,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Received => "received",
            Status::Assigned => "assigned",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Rejected => "rejected",
            Status::Duplicate => "duplicate",
            Status::Closed => "closed",
            Status::Reopened => "reopened",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "submitted" => Status::Submitted,
            "received" => Status::Received,
            "assigned" => Status::Assigned,
            "in_progress" => Status::InProgress,
            "resolved" => Status::Resolved,
            "rejected" => Status::Rejected,
            "duplicate" => Status::Duplicate,
            "closed" => Status::Closed,
            "reopened" => Status::Reopened,
            _ => return None,
        })
    }
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Submitted
                | Status::Received
                | Status::Assigned
                | Status::InProgress
                | Status::Reopened
        )
    }
    pub const OPEN: [Status; 5] = [
        Status::Submitted,
        Status::Received,
        Status::Assigned,
        Status::InProgress,
        Status::Reopened,
    ];
}

/// How the report reached the ward: the app (online) or staff entering it for a walk-in or a call.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Enum,
)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum Channel {
    App,
    Counter,
    Phone,
    /// A third-party civic app through the Open311 facade (counts as online).
    Open311,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Counter => "counter",
            Channel::Phone => "phone",
            Channel::Open311 => "open311",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Some(match s {
            "app" => Channel::App,
            "counter" => Channel::Counter,
            "phone" => Channel::Phone,
            "open311" => Channel::Open311,
            _ => return None,
        })
    }
}

/// Who submits a report: a signed-in person, or a third-party app through Open311.
#[derive(Debug, Clone, Copy)]
pub enum Submitter<'a> {
    Account(&'a Caller),
    /// An Open311 client app. `staff_note` (the contact details the app sent, a link to its photo)
    /// goes into the history as an internal note, which only staff read.
    Open311 {
        staff_note: &'a str,
    },
}

/// A staff action on a report.
#[derive(Debug, Clone)]
pub enum Action {
    Receive,
    Assign {
        unit_id: Uuid,
        assignee_id: Option<Uuid>,
    },
    Start,
    Resolve {
        public_reply: String,
        evidence: Vec<Uuid>,
    },
    Reject {
        reason: String,
    },
    MarkDuplicate {
        of: Uuid,
    },
    Close,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Receive => "receive",
            Action::Assign { .. } => "assign",
            Action::Start => "start",
            Action::Resolve { .. } => "resolve",
            Action::Reject { .. } => "reject",
            Action::MarkDuplicate { .. } => "duplicate",
            Action::Close => "close",
        }
    }
}

/// The lifecycle: which status an action leads to from which status. Anything else is a 409.
pub fn next_status(from: Status, action: &Action) -> Option<Status> {
    use Status::*;
    match (from, action) {
        (Submitted, Action::Receive) => Some(Received),
        (Submitted | Received | Assigned | InProgress | Reopened, Action::Assign { .. }) => {
            Some(Assigned)
        }
        (Assigned, Action::Start) => Some(InProgress),
        (Assigned | InProgress, Action::Resolve { .. }) => Some(Resolved),
        (Submitted | Received | Assigned | InProgress | Reopened, Action::Reject { .. }) => {
            Some(Rejected)
        }
        (Submitted | Received | Assigned | InProgress | Reopened, Action::MarkDuplicate { .. }) => {
            Some(Duplicate)
        }
        (Resolved, Action::Close) => Some(Closed),
        _ => None,
    }
}

/// What staff may do to a report in status `from` (action names as the API spells them).
pub fn allowed_actions(from: Status) -> Vec<&'static str> {
    let samples = [
        Action::Receive,
        Action::Assign {
            unit_id: Uuid::nil(),
            assignee_id: None,
        },
        Action::Start,
        Action::Resolve {
            public_reply: String::new(),
            evidence: Vec::new(),
        },
        Action::Reject {
            reason: String::new(),
        },
        Action::MarkDuplicate { of: Uuid::nil() },
        Action::Close,
    ];
    samples
        .iter()
        .filter(|a| next_status(from, a).is_some())
        .map(Action::name)
        .collect()
}

/// Days after resolution during which the reporter may reopen.
pub const REOPEN_WINDOW_DAYS: i64 = 7;
const MAX_PHOTOS: usize = 5;
const MAX_DESCRIPTION: usize = 4000;

/// Acknowledge-by and resolve-by for a report of `category` at `severity` filed at `at`.
pub fn deadlines(
    cal: &WorkCalendar,
    at: DateTime<Utc>,
    category: &Category,
    severity: Severity,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (ack, resolve) = category.deadlines_hours(severity);
    let minutes = |h: f64| chrono::Duration::minutes((h * 60.0).round() as i64);
    (
        cal.add_working(at, minutes(ack)),
        cal.add_working(at, minutes(resolve)),
    )
}

/// What a resident (or staff, for a walk-in) submits.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub category_code: String,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub address: Option<String>,
    pub media_ids: Vec<Uuid>,
    pub answers: BTreeMap<String, serde_json::Value>,
    pub captured_at: Option<DateTime<Utc>>,
    /// Staff only: counter or phone, and the resident's phone if they have one.
    pub channel: Channel,
    pub reporter_phone: Option<String>,
}

fn text_error(field: &str) -> FieldError {
    FieldError::new(
        field,
        "invalid_text",
        "Nội dung không hợp lệ hoặc quá dài",
        "Invalid or too long",
    )
}

/// Create a report. Residents report through the app; staff enter walk-ins and calls.
pub async fn create(
    state: &Ctx,
    caller: &Caller,
    new: NewReport,
    idempotency: Option<&crate::store::idempotency::Key>,
) -> Result<ReportRow> {
    create_as(state, Submitter::Account(caller), new, idempotency).await
}

/// Create a report for any submitter, by the same rules (text limits, service area, category,
/// required answers). Open311 apps have no account: no reporter, no photos of ours, no actor.
pub async fn create_as(
    state: &Ctx,
    submitter: Submitter<'_>,
    new: NewReport,
    idempotency: Option<&crate::store::idempotency::Key>,
) -> Result<ReportRow> {
    let mut errors = Vec::new();
    let caller = match submitter {
        Submitter::Account(c) => Some(*c),
        Submitter::Open311 { .. } => None,
    };
    let channel = match caller.map(|c| c.role) {
        None => Channel::Open311,
        Some(Role::Resident) => Channel::App,
        Some(Role::Staff | Role::Admin) => {
            if matches!(new.channel, Channel::App | Channel::Open311) {
                errors.push(FieldError::new(
                    "channel",
                    "invalid_channel",
                    "Cán bộ nhập phản ánh qua quầy hoặc điện thoại",
                    "Staff enter reports with channel counter or phone",
                ));
            }
            new.channel
        }
        Some(Role::Doctor) => return Err(Error::Forbidden),
    };
    let description = crate::text::clean_required(&new.description, true);
    if description.is_empty()
        || description.chars().count() > MAX_DESCRIPTION
        || description
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.push(FieldError::new(
            "description",
            "invalid_description",
            "Mô tả từ 1 đến 4000 ký tự",
            "Description must be 1 to 4000 characters",
        ));
    }
    let address = crate::text::clean(new.address.as_deref().unwrap_or(""), false);
    let address_ok = address.is_ok();
    let address = address.unwrap_or_default();
    if !address_ok || address.chars().count() > 300 {
        errors.push(text_error("address"));
    }
    if let Some(a) = new.accuracy_m
        && (!a.is_finite() || !(0.0..=100_000.0).contains(&a))
    {
        errors.push(FieldError::new(
            "accuracy_m",
            "invalid_accuracy",
            "Độ chính xác không hợp lệ",
            "Invalid accuracy",
        ));
    }
    if new.media_ids.len() > MAX_PHOTOS {
        errors.push(FieldError::new(
            "media_ids",
            "too_many_photos",
            "Tối đa 5 ảnh",
            "At most 5 photos",
        ));
    }
    let point = match Point::parse(new.lat, new.lon) {
        Ok(p) => Some(p),
        Err(Error::Validation(e)) => {
            errors.extend(e);
            None
        }
        Err(e) => return Err(e),
    };
    let category = state
        .categories
        .by_code(&state.db, &new.category_code)
        .await?
        .filter(|c| c.active);
    let Some(category) = category else {
        errors.push(FieldError::new(
            "category_code",
            "unknown_category",
            "Lĩnh vực không tồn tại",
            "No such category",
        ));
        return Err(Error::Validation(errors));
    };
    if category.photo_required && new.media_ids.is_empty() && channel == Channel::App {
        errors.push(FieldError::new(
            "media_ids",
            "photo_required",
            "Lĩnh vực này cần ít nhất một ảnh",
            "This category needs at least one photo",
        ));
    }
    let answers = match catalog::check_answers(&category, &new.answers) {
        Ok(a) => a,
        Err(Error::Validation(e)) => {
            errors.extend(e);
            serde_json::Value::Null
        }
        Err(e) => return Err(e),
    };
    let mut unique = new.media_ids.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != new.media_ids.len() {
        errors.push(FieldError::new(
            "media_ids",
            "duplicate_photo",
            "Ảnh bị lặp",
            "A photo is listed twice",
        ));
    }
    // Photos are uploaded by accounts; an app without one cannot own any. Whether the caller owns
    // each one is checked where they are attached, in the same statement.
    let media_owner = caller.map(|c| c.account_id);
    if !new.media_ids.is_empty() && media_owner.is_none() {
        errors.push(unknown_photo());
    }
    let (Some(point), true) = (point, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    // Inside the ward? Which khu phố? (Everything is accepted until the ward's area is imported.)
    let located = state.areas.locate(&state.db, point).await?;
    if !located.in_service {
        return Err(Error::validation(
            "lat",
            "outside_service_area",
            "Vị trí nằm ngoài địa bàn phường",
            "This place is outside the ward's service area",
        ));
    }
    let area_id = located.neighbourhood.as_ref().map(|a| a.area_id);
    let unit_id = category
        .unit_id
        .or_else(|| located.neighbourhood.as_ref().and_then(|a| a.unit_id));
    let reporter_id = match (caller, &new.reporter_phone) {
        (Some(c), _) if c.role == Role::Resident => Some(c.account_id),
        (Some(_), Some(phone)) => Some(state.auth.resident_for_phone(phone).await?),
        _ => None,
    };
    let actor = caller.map(|c| c.account_id);

    let now = state.clock.now();
    let severity = category.default_severity;
    let (ack_by, resolve_by) = deadlines(&state.calendar, now, &category, severity);
    let report_id = Uuid::now_v7();
    let row = repo::NewReportRow {
        report_id,
        category_id: category.category_id,
        reporter_id,
        channel: channel.as_str(),
        entered_by: caller
            .filter(|c| c.role != Role::Resident)
            .map(|c| c.account_id),
        description: description.to_string(),
        lat: point.lat,
        lon: point.lon,
        accuracy_m: new.accuracy_m,
        address,
        cells: geo::cells(point),
        area_id,
        unit_id,
        severity: severity.as_str(),
        answers: answers.to_string(),
        ack_by,
        resolve_by,
        // Stored to the microsecond on both backends: the answer built from this row must match.
        captured_at: new
            .captured_at
            .map(|t| chrono::SubsecRound::trunc_subsecs(t, 6)),
    };
    let filing = Filing {
        row,
        media: new.media_ids,
        media_owner,
        actor,
        staff_note: match submitter {
            Submitter::Open311 { staff_note } => staff_note.to_string(),
            Submitter::Account(_) => String::new(),
        },
        idempotency: idempotency.cloned(),
    };
    // One unit of the next group commit (SQLite) or one transaction (PostgreSQL). The write and its
    // announcement run to the end even if the phone hangs up meanwhile: a report that is stored is
    // also shown live to the staff consoles.
    let state = state.clone();
    tokio::spawn(async move {
        let created = state
            .db
            .write(move |tx| {
                Box::pin(async move {
                    file(tx, &filing, now).await?;
                    Ok(filing.row.stored(now))
                })
            })
            .await?;
        publish(&state, report_id, unit_id, "created").await;
        Ok(created)
    })
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!("report create task: {e}")))?
}

/// Everything a new report writes.
pub struct Filing {
    pub row: repo::NewReportRow,
    /// Its photos, which must be `media_owner`'s own uploads.
    pub media: Vec<Uuid>,
    pub media_owner: Option<Uuid>,
    /// Who filed it (the resident, or staff entering a walk-in); `None` for an Open311 app.
    pub actor: Option<Uuid>,
    /// An internal note for staff (what an Open311 app sent about its user), or empty.
    pub staff_note: String,
    pub idempotency: Option<crate::store::idempotency::Key>,
}

/// Write a new report: the report, its photos, its first history entry, its reporter's
/// subscription and the idempotency key stand or fall together (one unit of work). The photos'
/// ownership is checked in the statement that attaches them.
pub async fn file(tx: &mut dyn Exec, f: &Filing, now: DateTime<Utc>) -> Result<()> {
    let report_id = f.row.report_id;
    repo::insert_report(tx, &f.row, now).await?;
    if !f.media.is_empty() {
        let attached = match f.media_owner {
            Some(owner) => {
                repo::attach_owned_media(tx, report_id, owner, &f.media, repo::Attach::Report, now)
                    .await?
            }
            None => 0,
        };
        if attached != f.media.len() {
            // Someone else's photo, or none at all: the same answer, so ids cannot be probed.
            return Err(Error::Validation(vec![unknown_photo()]));
        }
    }
    repo::add_event(
        tx,
        report_id,
        f.actor,
        "status",
        None,
        Some("submitted"),
        "",
        "public",
        now,
    )
    .await?;
    if !f.staff_note.is_empty() {
        repo::add_event(
            tx,
            report_id,
            None,
            "internal_note",
            None,
            None,
            &f.staff_note,
            "internal",
            now,
        )
        .await?;
    }
    if let Some(r) = f.row.reporter_id {
        repo::subscribe(tx, report_id, r, "reporter", now).await?;
    }
    if let Some(k) = &f.idempotency {
        crate::store::idempotency::complete(tx, k, &report_id.to_string(), now).await?;
    }
    Ok(())
}

fn unknown_photo() -> FieldError {
    FieldError::new(
        "media_ids",
        "unknown_photo",
        "Ảnh không tồn tại",
        "No such photo",
    )
}

/// Tell live staff consoles (and, at scale, other instances) that a report changed. `unit` is the
/// unit it is routed to after the change (`None`: unrouted). Consoles decide from it, not from
/// the report as it stands when the message reaches them (later, on another instance): a report
/// that has since moved to a console's unit must not replay its earlier life there.
async fn publish(state: &Ctx, report_id: Uuid, unit: Option<Uuid>, what: &str) {
    publish_from(state, report_id, unit, what, None).await;
}

/// [`publish`] for a report that may have left `previous_unit`: that unit's consoles hear it too
/// (so they can take it off their queue).
async fn publish_from(
    state: &Ctx,
    report_id: Uuid,
    unit: Option<Uuid>,
    what: &str,
    previous_unit: Option<Uuid>,
) {
    let payload = serde_json::json!({
        "report_id": report_id,
        "event": what,
        "unit_id": unit,
        "previous_unit_id": previous_unit,
    });
    if let Err(e) = state.bus.publish("reports", payload).await {
        tracing::warn!(error = %e, "could not publish report event");
    }
}

/// A report a staff member may act on (see [`require_handler`]): 404 if there is none, 403 if it
/// is another unit's.
async fn report_to_handle(state: &Ctx, caller: &Caller, report_id: Uuid) -> Result<ReportRow> {
    caller.require(&[Role::Staff, Role::Admin])?;
    let report = repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))?;
    require_handler(state, caller, &report).await?;
    Ok(report)
}

/// May this staff member act on the report? Admins always; staff on reports of their units and on
/// reports not yet routed to a unit (triage).
async fn require_handler(state: &Ctx, caller: &Caller, report: &ReportRow) -> Result<()> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Staff => match report.unit_id {
            None => Ok(()),
            Some(unit)
                if repo::units_of(&state.db, caller.account_id)
                    .await?
                    .contains(&unit) =>
            {
                Ok(())
            }
            Some(_) => Err(Error::Forbidden),
        },
        _ => Err(Error::Forbidden),
    }
}

/// Apply a staff action, enforcing the lifecycle; writes history and notifies followers.
pub async fn transition(
    state: &Ctx,
    caller: &Caller,
    report_id: Uuid,
    action: Action,
    note: &str,
) -> Result<ReportRow> {
    let report = report_to_handle(state, caller, report_id).await?;
    let from =
        Status::parse(&report.status).ok_or_else(|| anyhow::anyhow!("bad status in reports"))?;
    let to = next_status(from, &action).ok_or_else(|| Error::IllegalTransition {
        current: from.as_str(),
        allowed: allowed_actions(from),
    })?;
    let note = crate::text::clean(note, true)
        .ok()
        .filter(|n| n.chars().count() <= 2000)
        .ok_or_else(|| Error::Validation(vec![text_error("note")]))?;
    let note = note.as_str();
    let now = state.clock.now();
    let mut change = repo::StatusChange::keeping(&report, to.as_str());
    // The first staff action acknowledges the report (tiếp nhận), whatever it is.
    change.acknowledged_at = report.acknowledged_at.or(Some(now));
    let mut public_note = String::new();
    // The words the resident reads (a resolution's reply, a rejection's reason), cleaned here so
    // they outlive the match below that records them.
    let cleaned = match &action {
        Action::Resolve { public_reply, .. } => crate::text::clean_required(public_reply, true),
        Action::Reject { reason } => crate::text::clean_required(reason, true),
        _ => String::new(),
    };
    // The original's unit, when marking a duplicate of it.
    let mut parent_unit: Option<Option<Uuid>> = None;
    match &action {
        Action::Assign {
            unit_id,
            assignee_id,
        } => {
            if !repo::unit_exists(&state.db, *unit_id).await? {
                return Err(Error::NotFound("unit_not_found"));
            }
            if let Some(a) = assignee_id
                && !crate::org::is_member(&state.db, *unit_id, *a).await?
            {
                return Err(Error::validation(
                    "assignee_id",
                    "not_in_unit",
                    "Người được giao không thuộc đơn vị",
                    "The assignee is not in that unit",
                ));
            }
            change.unit_id = Some(*unit_id);
            change.assignee_id = *assignee_id;
        }
        Action::Resolve { evidence, .. } => {
            let reply = cleaned.as_str();
            let mut errors = Vec::new();
            if reply.is_empty() || reply.chars().count() > 2000 {
                errors.push(FieldError::new(
                    "public_reply",
                    "public_reply_required",
                    "Cần trả lời công khai cho người dân",
                    "A public reply to the resident is required",
                ));
            }
            if evidence.is_empty() || evidence.len() > MAX_PHOTOS {
                errors.push(FieldError::new(
                    "evidence_media_ids",
                    "evidence_required",
                    "Cần 1 đến 5 ảnh kết quả xử lý",
                    "1 to 5 evidence photos are required",
                ));
            }
            if !errors.is_empty() {
                return Err(Error::Validation(errors));
            }
            change.public_reply = Some(reply);
            change.resolved_at = Some(now);
            public_note = reply.to_string();
        }
        Action::Reject { .. } => {
            let reason = cleaned.as_str();
            if reason.is_empty() || reason.chars().count() > 2000 {
                return Err(Error::validation(
                    "reason",
                    "reason_required",
                    "Cần nêu lý do từ chối",
                    "A reason is required",
                ));
            }
            public_note = reason.to_string();
        }
        Action::MarkDuplicate { of } => {
            if *of == report_id {
                return Err(Error::validation(
                    "duplicate_of",
                    "invalid_parent",
                    "Không thể trùng với chính nó",
                    "A report cannot duplicate itself",
                ));
            }
            let parent = repo::report(&state.db, *of)
                .await?
                .ok_or(Error::NotFound("report_not_found"))?;
            parent_unit = Some(parent.unit_id);
            if !Status::parse(&parent.status).is_some_and(|s| s.is_open() || s == Status::Resolved)
            {
                return Err(Error::Conflict("parent_not_open"));
            }
            change.duplicate_of = Some(*of);
        }
        Action::Close => {
            let window_end = report
                .resolved_at
                .map(|t| t + chrono::Duration::days(REOPEN_WINDOW_DAYS));
            if window_end.is_none_or(|end| now < end) {
                return Err(Error::Conflict("reopen_window_open"));
            }
            change.closed_at = Some(now);
        }
        Action::Receive | Action::Start => {}
    }
    let mut tx = state.db.begin().await?;
    if !repo::change_status(&mut tx, report_id, from.as_str(), &change, now).await? {
        return Err(Error::Conflict("changed_concurrently"));
    }
    if let Action::Resolve { evidence, .. } = &action
        && repo::attach_owned_media(
            &mut tx,
            report_id,
            caller.account_id,
            evidence,
            repo::Attach::Evidence,
            now,
        )
        .await?
            != evidence.len()
    {
        // Someone else's photo, or none: the status change is dropped with the transaction.
        return Err(Error::validation(
            "evidence_media_ids",
            "unknown_photo",
            "Ảnh không tồn tại",
            "No such photo",
        ));
    }
    if let Action::MarkDuplicate { of } = &action {
        // The parent counts each person once: those who already follow it are not counted again.
        // A report without an account behind it (a call, an Open311 app) is one more person.
        let moved = repo::move_subscribers(&mut tx, report_id, *of, now).await?
            + u64::from(report.reporter_id.is_none());
        if moved > 0 {
            repo::bump_me_too(&mut tx, *of, moved as i64).await?;
        }
    }
    repo::add_event(
        &mut tx,
        report_id,
        Some(caller.account_id),
        action.name(),
        Some(from.as_str()),
        Some(to.as_str()),
        &public_note,
        "public",
        now,
    )
    .await?;
    if !note.is_empty() {
        repo::add_event(
            &mut tx,
            report_id,
            Some(caller.account_id),
            "internal_note",
            None,
            None,
            note,
            "internal",
            now,
        )
        .await?;
    }
    let pushes = notify_followers(&mut tx, report_id, Some(caller.account_id), to, now).await?;
    tx.commit().await?;
    push::send_all(&*state.notifier, pushes).await;
    publish_from(
        state,
        report_id,
        change.unit_id,
        to.as_str(),
        report.unit_id.filter(|u| Some(*u) != change.unit_id),
    )
    .await;
    if let (Action::MarkDuplicate { of }, Some(unit)) = (&action, parent_unit) {
        // The original now counts more people.
        publish(state, *of, unit, "me_too").await;
    }
    repo::report(&state.db, report_id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("report vanished")))
}

/// Staff re-grade an open report's severity (*mức độ*) once they see it: an "open manhole" filed
/// as an ordinary road problem is urgent. Its deadlines are counted again from when the current
/// ones started (its filing, or its latest reopening). Raising it only ever brings them closer;
/// lowering it only ever gives more time, so only an admin may, and every change keeps its reason
/// in the history (staff are judged on those deadlines).
pub async fn set_severity(
    state: &Ctx,
    caller: &Caller,
    report_id: Uuid,
    severity: Severity,
    reason: &str,
) -> Result<ReportRow> {
    let report = report_to_handle(state, caller, report_id).await?;
    if !Status::parse(&report.status).is_some_and(Status::is_open) {
        return Err(Error::Conflict("report_not_open"));
    }
    let reason = crate::text::clean_required(reason, true);
    let reason = reason.as_str();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(Error::validation(
            "reason",
            "reason_required",
            "Cần nêu lý do thay đổi mức độ",
            "A reason is required",
        ));
    }
    let from = Severity::parse(&report.severity).unwrap_or(Severity::Normal);
    if severity == from {
        return Ok(report);
    }
    // Severities order from low to urgent.
    let lowering = severity < from;
    if lowering && caller.role != Role::Admin {
        return Err(Error::Forbidden);
    }
    let category = state
        .categories
        .of_report(&state.db, report.category_id)
        .await?;
    // Counted from the start of the current deadline: the filing, or the latest reopening (which
    // counted a fresh one).
    let start = repo::last_event_at(&state.db, report_id, "reopen")
        .await?
        .unwrap_or(report.created_at);
    let (ack_by, resolve_by) = deadlines(&state.calendar, start, &category, severity);
    let (ack_by, resolve_by) = if lowering {
        (ack_by.max(report.ack_by), resolve_by.max(report.resolve_by))
    } else {
        (ack_by.min(report.ack_by), resolve_by.min(report.resolve_by))
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if !repo::change_severity(
        &mut tx,
        report_id,
        from.as_str(),
        severity.as_str(),
        ack_by,
        resolve_by,
        now,
    )
    .await?
    {
        return Err(Error::Conflict("changed_concurrently"));
    }
    repo::add_event(
        &mut tx,
        report_id,
        Some(caller.account_id),
        "severity",
        None,
        None,
        &format!("{} → {}: {reason}", from.as_str(), severity.as_str()),
        "internal",
        now,
    )
    .await?;
    tx.commit().await?;
    publish(state, report_id, report.unit_id, "severity").await;
    repo::report(&state.db, report_id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("report vanished")))
}

/// Tell the report's followers (its reporter and subscribers) of its new status, except whoever
/// made the change (`actor`; `None` when the ward's clock did).
async fn notify_followers(
    tx: &mut crate::store::Tx,
    report_id: Uuid,
    actor: Option<Uuid>,
    to: Status,
    now: DateTime<Utc>,
) -> Result<Vec<push::Push>> {
    let (vi, en) = match to {
        Status::Received => (
            "Phường đã tiếp nhận phản ánh của bạn.",
            "The ward has received your report.",
        ),
        Status::Assigned => (
            "Phản ánh đã được chuyển đến đơn vị xử lý.",
            "Your report was routed to the unit that handles it.",
        ),
        Status::InProgress => ("Phản ánh đang được xử lý.", "Your report is being handled."),
        Status::Resolved => (
            "Phản ánh đã được xử lý. Hãy đánh giá kết quả.",
            "Your report was resolved. Please rate the result.",
        ),
        Status::Rejected => (
            "Phản ánh không được tiếp nhận; xem lý do.",
            "Your report was declined; see the reason.",
        ),
        Status::Duplicate => (
            "Phản ánh trùng với một phản ánh khác; bạn sẽ nhận tin từ phản ánh đó.",
            "Your report duplicates another; you now follow that one.",
        ),
        Status::Closed => ("Phản ánh đã đóng.", "Your report is closed."),
        Status::Reopened => ("Phản ánh đã được mở lại.", "The report was reopened."),
        Status::Submitted => return Ok(vec![]),
    };
    let mut pushes = vec![];
    for account in repo::subscribers_tx(tx, report_id).await? {
        if Some(account) != actor {
            repo::notify(tx, account, report_id, to.as_str(), vi, en, now).await?;
            pushes.push(push::Push {
                account_id: account,
                report_id: Some(report_id),
                appointment_id: None,
                consultation_id: None,
                kind: to.as_str().into(),
                text_vi: vi.into(),
                text_en: en.into(),
            });
        }
    }
    Ok(pushes)
}

/// "Me too": a resident has the same problem; counts it and subscribes them.
pub async fn me_too(state: &Ctx, caller: &Caller, report_id: Uuid) -> Result<ReportRow> {
    caller.require(&[Role::Resident])?;
    let report = repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))?;
    if !Status::parse(&report.status).is_some_and(Status::is_open) {
        return Err(Error::Conflict("report_not_open"));
    }
    if report.reporter_id == Some(caller.account_id) {
        return Err(Error::Conflict("own_report"));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let counted = repo::subscribe(&mut tx, report_id, caller.account_id, "me_too", now).await?;
    if counted {
        repo::bump_me_too(&mut tx, report_id, 1).await?;
        repo::add_event(
            &mut tx,
            report_id,
            Some(caller.account_id),
            "me_too",
            None,
            None,
            "",
            "public",
            now,
        )
        .await?;
    }
    tx.commit().await?;
    if counted {
        publish(state, report_id, report.unit_id, "me_too").await;
    }
    repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))
}

/// A comment (with photos) by the reporter or a follower while open, or by staff any time. Staff
/// comments with `internal` are notes other residents never see.
pub async fn comment(
    state: &Ctx,
    caller: &Caller,
    report_id: Uuid,
    text: &str,
    media: &[Uuid],
    internal: bool,
) -> Result<()> {
    let report = repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))?;
    let staff = matches!(caller.role, Role::Staff | Role::Admin);
    if staff {
        require_handler(state, caller, &report).await?;
    } else {
        let own = report.reporter_id == Some(caller.account_id)
            || repo::is_subscriber(&state.db, report_id, caller.account_id).await?;
        if caller.role != Role::Resident || !own {
            return Err(Error::Forbidden);
        }
        if internal {
            return Err(Error::Forbidden);
        }
        if !Status::parse(&report.status).is_some_and(Status::is_open) {
            return Err(Error::Conflict("report_not_open"));
        }
    }
    let text =
        crate::text::clean(text, true).map_err(|_| Error::Validation(vec![text_error("text")]))?;
    let text = text.as_str();
    // A photo can say it all ("still flooded"): text is needed only without one.
    if (text.is_empty() && media.is_empty()) || text.chars().count() > 2000 {
        return Err(Error::Validation(vec![text_error("text")]));
    }
    if media.len() > MAX_PHOTOS {
        return Err(Error::validation(
            "media_ids",
            "too_many_photos",
            "Tối đa 5 ảnh",
            "At most 5 photos",
        ));
    }
    if internal && !media.is_empty() {
        // Photos of a report are shown to its reporter; an internal note has nowhere to put them.
        return Err(Error::validation(
            "media_ids",
            "photos_not_allowed",
            "Ghi chú nội bộ không kèm ảnh",
            "An internal note takes no photos",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let visibility = if internal { "internal" } else { "reporter" };
    let event = repo::add_event(
        &mut tx,
        report_id,
        Some(caller.account_id),
        if internal { "internal_note" } else { "comment" },
        None,
        None,
        text,
        visibility,
        now,
    )
    .await?;
    // Only the caller's own uploads, checked in the attaching statement itself. Anything else is
    // the same answer as an unknown id, and the comment is not stored (the transaction is dropped).
    if repo::attach_owned_media(
        &mut tx,
        report_id,
        caller.account_id,
        media,
        repo::Attach::Comment(event),
        now,
    )
    .await?
        != media.len()
    {
        return Err(Error::Validation(vec![unknown_photo()]));
    }
    tx.commit().await?;
    publish(state, report_id, report.unit_id, "comment").await;
    Ok(())
}

/// A comment from a third-party app (Open311 `servicerequestupdates`) while the report is open.
/// Its author is someone using that app, not the ward: like a neighbour's comment it is for the
/// ward's staff only (the reporter is never shown another resident's words). Returns the history
/// entry's id.
pub async fn app_comment(state: &Ctx, report_id: Uuid, text: &str) -> Result<Uuid> {
    let report = repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))?;
    let text = crate::text::clean_required(text, true);
    let text = text.as_str();
    if text.is_empty()
        || text.chars().count() > 2000
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Error::Validation(vec![text_error("description")]));
    }
    if !Status::parse(&report.status).is_some_and(Status::is_open) {
        return Err(Error::Conflict("report_not_open"));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let id = repo::add_event(
        &mut tx, report_id, None, "comment", None, None, text, "reporter", now,
    )
    .await?;
    tx.commit().await?;
    publish(state, report_id, report.unit_id, "comment").await;
    Ok(id)
}

/// The reporter rates the result once, after resolution.
pub async fn rate(
    state: &Ctx,
    caller: &Caller,
    report_id: Uuid,
    stars: i32,
    comment: &str,
) -> Result<ReportRow> {
    let report = repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))?;
    if report.reporter_id != Some(caller.account_id) {
        return Err(Error::Forbidden);
    }
    if !(1..=5).contains(&stars) {
        return Err(Error::validation(
            "stars",
            "out_of_range",
            "Đánh giá từ 1 đến 5 sao",
            "Rate 1 to 5 stars",
        ));
    }
    let comment = crate::text::clean(comment, true)
        .map_err(|_| Error::Validation(vec![text_error("comment")]))?;
    let comment = comment.as_str();
    if comment.chars().count() > 2000 {
        return Err(Error::Validation(vec![text_error("comment")]));
    }
    if !matches!(
        Status::parse(&report.status),
        Some(Status::Resolved | Status::Closed)
    ) {
        return Err(Error::Conflict("not_resolved"));
    }
    if !repo::set_rating(&state.db, report_id, stars, comment, state.clock.now()).await? {
        return Err(Error::Conflict("already_rated"));
    }
    publish(state, report_id, report.unit_id, "rated").await;
    repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))
}

/// The reporter says it is not fixed, within the window; it goes back to the unit with a new deadline.
pub async fn reopen(
    state: &Ctx,
    caller: &Caller,
    report_id: Uuid,
    reason: &str,
) -> Result<ReportRow> {
    let report = repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))?;
    if report.reporter_id != Some(caller.account_id) {
        return Err(Error::Forbidden);
    }
    let reason = crate::text::clean_required(reason, true);
    let reason = reason.as_str();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(Error::validation(
            "reason",
            "reason_required",
            "Cần nêu lý do mở lại",
            "A reason is required",
        ));
    }
    let now = state.clock.now();
    let in_window = report
        .resolved_at
        .is_some_and(|t| now < t + chrono::Duration::days(REOPEN_WINDOW_DAYS));
    if report.status != Status::Resolved.as_str() || !in_window {
        return Err(Error::Conflict("cannot_reopen"));
    }
    let severity = Severity::parse(&report.severity).unwrap_or(Severity::Normal);
    let category = state
        .categories
        .of_report(&state.db, report.category_id)
        .await?;
    let (_, resolve_by) = deadlines(&state.calendar, now, &category, severity);
    let mut change = repo::StatusChange::keeping(&report, Status::Reopened.as_str());
    // Not fixed after all: the resolution's reply no longer describes it (its history keeps it).
    change.public_reply = None;
    // The fresh deadline must not make a late resolution count as on time.
    change.missed_deadline =
        report.missed_deadline || report.resolved_at.is_some_and(|t| t > report.resolve_by);
    change.duplicate_of = None;
    change.resolved_at = None;
    change.closed_at = None;
    change.resolve_by = resolve_by;
    let mut tx = state.db.begin().await?;
    if !repo::change_status(&mut tx, report_id, "resolved", &change, now).await? {
        return Err(Error::Conflict("changed_concurrently"));
    }
    repo::add_event(
        &mut tx,
        report_id,
        Some(caller.account_id),
        "reopen",
        Some("resolved"),
        Some("reopened"),
        reason,
        "public",
        now,
    )
    .await?;
    let pushes = notify_followers(
        &mut tx,
        report_id,
        Some(caller.account_id),
        Status::Reopened,
        now,
    )
    .await?;
    tx.commit().await?;
    push::send_all(&*state.notifier, pushes).await;
    publish(state, report_id, report.unit_id, "reopened").await;
    repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))
}

/// Pages of a newest-first list a public answer reads before it has enough.
const KEPT_PAGE_ROUNDS: usize = 20;

/// A page of a newest-first list whose rows are chosen after reading (on the rounded points the
/// public sees). Reads `batch` rows at a time (`read(before)`) until more than `want` pass `keep`
/// or none are left. Returns at most `want` kept rows and the next page's cursor: the last kept
/// row when more were kept, so neither the page nor its cursor tells anything about rows read and
/// not kept (an exact point just inside a box). Only after [`KEPT_PAGE_ROUNDS`] pages with too few
/// kept rows is the cursor the last row read (so that a next page makes progress).
pub(crate) async fn kept_page<R, Fut>(
    mut read: impl FnMut(Option<Uuid>) -> Fut,
    keep: impl Fn(&R) -> bool,
    id: impl Fn(&R) -> Uuid,
    start: Option<Uuid>,
    batch: usize,
    want: usize,
) -> Result<(Vec<R>, Option<Uuid>)>
where
    Fut: std::future::Future<Output = Result<Vec<R>>>,
{
    let mut kept = Vec::new();
    let mut cursor = start;
    for _ in 0..KEPT_PAGE_ROUNDS {
        let rows = read(cursor).await?;
        let read_all = rows.len() < batch;
        if let Some(last) = rows.last() {
            cursor = Some(id(last));
        }
        kept.extend(rows.into_iter().filter(|r| keep(r)));
        if kept.len() > want {
            kept.truncate(want);
            let next = kept.last().map(&id);
            return Ok((kept, next));
        }
        if read_all {
            return Ok((kept, None));
        }
    }
    Ok((kept, cursor))
}

/// Open reports of the same category near a point, nearest first (to offer "me too" instead).
///
/// For the public (`public`), a category that rounds its public coordinates is searched and
/// measured on the rounded points the public sees: neither which reports come back nor how far
/// they are may tell more about where the reporter stood than the map does.
pub async fn nearby(
    state: &Ctx,
    lat: f64,
    lon: f64,
    category_code: &str,
    public: bool,
) -> Result<Vec<(ReportRow, f64)>> {
    let p = Point::parse(lat, lon)?;
    let category: Category = state
        .categories
        .by_code(&state.db, category_code)
        .await?
        .ok_or(Error::NotFound("category_not_found"))?;
    let radius = f64::from(category.duplicate_radius_m);
    let decimals = category.public_decimals.filter(|_| public);
    let shown_distance = |r: &ReportRow| {
        p.distance_m(
            Point {
                lat: r.lat,
                lon: r.lon,
            }
            .rounded(decimals),
        )
    };
    // Every candidate is read (pages of 200), so which ones come back depends only on the
    // points the caller sees.
    let area = geo::BBox::around(p, radius).grown(Point::rounding_margin(decimals));
    let (rows, _) = kept_page(
        |before| {
            let db = state.db.clone();
            async move {
                Ok(repo::open_in_box(&db, category.category_id, area, before, 200).await?)
            }
        },
        |r| shown_distance(r) <= radius,
        |r| r.report_id,
        None,
        200,
        usize::MAX,
    )
    .await?;
    let mut near: Vec<(ReportRow, f64)> = rows
        .into_iter()
        .map(|r| {
            let d = shown_distance(&r);
            (r, d)
        })
        .collect();
    near.sort_by(|a, b| a.1.total_cmp(&b.1));
    near.truncate(10);
    Ok(near)
}

/// Close resolved reports whose reopen window has passed. Run periodically; returns how many.
pub async fn close_expired(state: &Ctx) -> Result<usize> {
    let cutoff = state.clock.now() - chrono::Duration::days(REOPEN_WINDOW_DAYS);
    let ids = repo::resolved_before(&state.db, cutoff, 500).await?;
    let mut closed = 0;
    for id in ids {
        let now = state.clock.now();
        let Some(report) = repo::report(&state.db, id).await? else {
            continue;
        };
        let mut change = repo::StatusChange::keeping(&report, Status::Closed.as_str());
        change.closed_at = Some(now);
        let mut tx = state.db.begin().await?;
        if repo::change_status(&mut tx, id, "resolved", &change, now).await? {
            repo::add_event(
                &mut tx,
                id,
                None,
                "close",
                Some("resolved"),
                Some("closed"),
                "",
                "public",
                now,
            )
            .await?;
            let pushes = notify_followers(&mut tx, id, None, Status::Closed, now).await?;
            tx.commit().await?;
            push::send_all(&*state.notifier, pushes).await;
            publish(state, id, report.unit_id, "closed").await;
            closed += 1;
        }
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows 99 down to 0 (newest first), read `batch` at a time below a cursor.
    fn reader(batch: usize) -> impl FnMut(Option<Uuid>) -> std::future::Ready<Result<Vec<u128>>> {
        move |before| {
            let below = before.map_or(100, |b| b.as_u128());
            std::future::ready(Ok((0..below).rev().take(batch).collect()))
        }
    }

    fn id(r: &u128) -> Uuid {
        Uuid::from_u128(*r)
    }

    #[tokio::test]
    async fn a_kept_page_and_its_cursor_depend_only_on_the_rows_kept() {
        // Every third row is kept: a page of 5 ends at the fifth kept row, whatever was read after.
        let third = |r: &u128| r.is_multiple_of(3);
        let (page, next) = kept_page(reader(6), third, id, None, 6, 5).await.unwrap();
        assert_eq!(page, [99, 96, 93, 90, 87]);
        assert_eq!(next, Some(Uuid::from_u128(87)));
        // The same page whatever the batch size (how much was read and dropped).
        for batch in [1, 2, 7, 50, 200] {
            let got = kept_page(reader(batch), third, id, None, batch, 5)
                .await
                .unwrap();
            assert_eq!(got, (page.clone(), next), "batch {batch}");
        }
        // The last page: no cursor once everything has been read.
        let (page, next) = kept_page(reader(6), third, id, Some(Uuid::from_u128(10)), 6, 5)
            .await
            .unwrap();
        assert_eq!(page, [9, 6, 3, 0]);
        assert_eq!(next, None);
    }

    #[tokio::test]
    async fn a_kept_page_gives_up_after_its_rounds_with_the_last_row_read() {
        // Nothing kept: after KEPT_PAGE_ROUNDS reads the cursor moves on, so a next page progresses.
        let (page, next) = kept_page(reader(2), |_| false, id, None, 2, 5)
            .await
            .unwrap();
        assert!(page.is_empty());
        assert_eq!(
            next,
            Some(Uuid::from_u128(100 - 2 * KEPT_PAGE_ROUNDS as u128))
        );
    }
}
