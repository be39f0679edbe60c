//! Filing a report: checks, photos, routing, deadlines, and the one transaction that writes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Channel, Ctx, Status, Submitter, deadlines, publish};
use crate::auth::{Caller, Role};
use crate::error::{Error, FieldError, Result};
use crate::geo::{self, Point};
use crate::reports::catalog::{self};
use crate::reports::repo::{self, NewEvent, ReportRow};
use crate::reports::{EventKind, Visibility};
use crate::store::Exec;

pub(super) const MAX_PHOTOS: usize = 5;
pub(super) const MAX_DESCRIPTION: usize = 4000;

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

pub(super) fn text_error(field: &str) -> FieldError {
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
        channel,
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
        severity,
        answers: answers.to_string(),
        ack_by,
        resolve_by,
        // Stored to the microsecond on both backends: the answer built from this row must match.
        captured_at: new
            .captured_at
            .map(|t| chrono::SubsecRound::trunc_subsecs(t, 6)),
    };
    let event = super::hooks::created(&row, &category, now)?;
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
        event,
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
    /// What the integrations' webhooks are told (`report.created`).
    pub event: crate::webhooks::Event,
}

/// Write a new report: the report, its photos, its first history entry, its reporter's
/// subscription, the idempotency key and the webhooks' event stand or fall together (one unit of
/// work). The photos' ownership is checked in the statement that attaches them.
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
        &NewEvent {
            report_id,
            actor: f.actor,
            kind: EventKind::Status,
            from: None,
            to: Some(Status::Submitted),
            note: "",
            visibility: Visibility::Public,
        },
        now,
    )
    .await?;
    if !f.staff_note.is_empty() {
        repo::add_event(
            tx,
            &NewEvent {
                report_id,
                actor: None,
                kind: EventKind::InternalNote,
                from: None,
                to: None,
                note: &f.staff_note,
                visibility: Visibility::Internal,
            },
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
    crate::webhooks::enqueue(tx, &f.event, now).await?;
    Ok(())
}

pub(super) fn unknown_photo() -> FieldError {
    FieldError::new(
        "media_ids",
        "unknown_photo",
        "Ảnh không tồn tại",
        "No such photo",
    )
}
