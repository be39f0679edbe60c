//! Residents on a report: me too, comments, ratings, reopening, and telling the followers.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Ctx, MAX_PHOTOS, REOPEN_WINDOW_DAYS, Status, deadlines, publish, require_handler, text_error,
    unknown_photo,
};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::reports::push;
use crate::reports::repo::{self, NewEvent, ReportRow};
use crate::reports::{EventKind, Visibility};

/// Tell the report's followers (its reporter and subscribers) of its new status, except whoever
/// made the change (`actor`; `None` when the ward's clock did).
pub(super) async fn notify_followers(
    tx: &mut crate::store::Tx,
    report_id: Uuid,
    actor: Option<Uuid>,
    to: Status,
    now: DateTime<Utc>,
) -> Result<Vec<push::Push>> {
    let Some(kind) = push::NotificationKind::for_report(to) else {
        return Ok(vec![]);
    };
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
    for account in repo::subscribers_tx(&mut *tx, report_id).await? {
        if Some(account) != actor {
            repo::notify(&mut *tx, account, report_id, kind, vi, en, now).await?;
            pushes.push(push::Push {
                account_id: account,
                report_id: Some(report_id),
                appointment_id: None,
                consultation_id: None,
                kind,
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
    if !report.status.is_open() {
        return Err(Error::Conflict("report_not_open"));
    }
    if report.reporter_id == Some(caller.account_id) {
        return Err(Error::Conflict("own_report"));
    }
    let now = state.clock.now();
    let counted = state
        .db
        .transaction(async |tx| {
            let counted = repo::subscribe(tx, report_id, caller.account_id, "me_too", now).await?;
            if counted {
                repo::bump_me_too(&mut *tx, report_id, 1).await?;
                repo::add_event(
                    tx,
                    &NewEvent {
                        report_id,
                        actor: Some(caller.account_id),
                        kind: EventKind::MeToo,
                        from: None,
                        to: None,
                        note: "",
                        visibility: Visibility::Public,
                    },
                    now,
                )
                .await?;
            }
            Ok::<_, Error>(counted)
        })
        .await?;
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
        if !report.status.is_open() {
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
    state
        .db
        .transaction(async |tx| {
            let event = repo::add_event(
                tx,
                &NewEvent {
                    report_id,
                    actor: Some(caller.account_id),
                    kind: if internal {
                        EventKind::InternalNote
                    } else {
                        EventKind::Comment
                    },
                    from: None,
                    to: None,
                    note: text,
                    visibility: if internal {
                        Visibility::Internal
                    } else {
                        Visibility::Reporter
                    },
                },
                now,
            )
            .await?;
            // Only the caller's own uploads, checked in the attaching statement itself. Anything else is
            // the same answer as an unknown id, and the comment is not stored (the transaction is dropped).
            if repo::attach_owned_media(
                tx,
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
            Ok(())
        })
        .await?;
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
    if !report.status.is_open() {
        return Err(Error::Conflict("report_not_open"));
    }
    let now = state.clock.now();
    let id = state
        .db
        .transaction(async |tx| {
            let id = repo::add_event(
                tx,
                &NewEvent {
                    report_id,
                    actor: None,
                    kind: EventKind::Comment,
                    from: None,
                    to: None,
                    note: text,
                    visibility: Visibility::Reporter,
                },
                now,
            )
            .await?;
            Ok::<_, Error>(id)
        })
        .await?;
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
    if !matches!(report.status, Status::Resolved | Status::Closed) {
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
    if report.status != Status::Resolved || !in_window {
        return Err(Error::Conflict("cannot_reopen"));
    }
    let severity = report.severity;
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
    let event = super::hooks::changed(&report, &change, Status::Reopened, &category, now)?;
    let pushes = state
        .db
        .transaction(async |tx| {
            if !repo::change_status(&mut *tx, report_id, "resolved", &change, now).await? {
                return Err(Error::Conflict("changed_concurrently"));
            }
            repo::add_event(
                tx,
                &NewEvent {
                    report_id,
                    actor: Some(caller.account_id),
                    kind: EventKind::Reopen,
                    from: Some(Status::Resolved),
                    to: Some(Status::Reopened),
                    note: reason,
                    visibility: Visibility::Public,
                },
                now,
            )
            .await?;
            crate::webhooks::enqueue(tx, &event, now).await?;
            let pushes = notify_followers(
                tx,
                report_id,
                Some(caller.account_id),
                Status::Reopened,
                now,
            )
            .await?;
            Ok(pushes)
        })
        .await?;
    push::send_all(&*state.notifier, pushes).await;
    publish(state, report_id, report.unit_id, "reopened").await;
    repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))
}
