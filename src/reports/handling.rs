//! The ward handling reports: the staff queue, who may act, lifecycle actions, severity, closing expired ones.

use uuid::Uuid;

use super::{
    Action, Ctx, MAX_PHOTOS, REOPEN_WINDOW_DAYS, Status, allowed_actions, deadlines, next_status,
    notify_followers, text_error,
};
use crate::auth::{Caller, Role};
use crate::error::{Error, FieldError, Result};
use crate::reports::catalog::Severity;
use crate::reports::repo::{self, Filter, NewEvent, ReportRow, UnitFilter};
use crate::reports::{EventKind, Visibility};
use crate::reports::{live, push};

/// Tell live staff consoles (and, at scale, other instances) that a report changed. `unit` is the
/// unit it is routed to after the change (`None`: unrouted). Consoles decide from it, not from
/// the report as it stands when the message reaches them (later, on another instance): a report
/// that has since moved to a console's unit must not replay its earlier life there.
pub(super) async fn publish(state: &Ctx, report_id: Uuid, unit: Option<Uuid>, what: &str) {
    publish_from(state, report_id, unit, what, None).await;
}

/// [`publish`] for a report that may have left `previous_unit`: that unit's consoles hear it too
/// (so they can take it off their queue).
pub(super) async fn publish_from(
    state: &Ctx,
    report_id: Uuid,
    unit: Option<Uuid>,
    what: &str,
    previous_unit: Option<Uuid>,
) {
    let change = live::Change {
        report_id,
        event: what.to_string(),
        unit_id: Some(unit),
        previous_unit_id: previous_unit,
    };
    let published = match serde_json::to_value(&change) {
        Ok(payload) => state.bus.publish(live::TOPIC, payload).await,
        Err(e) => Err(e.into()),
    };
    if let Err(e) = published {
        tracing::warn!(error = %e, "could not publish report event");
    }
}

/// A report a staff member may act on (see [`require_handler`]): 404 if there is none, 403 if it
/// is another unit's.
pub(super) async fn report_to_handle(
    state: &Ctx,
    caller: &Caller,
    report_id: Uuid,
) -> Result<ReportRow> {
    caller.require(&[Role::Staff, Role::Admin])?;
    let report = repo::report(&state.db, report_id)
        .await?
        .ok_or(Error::NotFound("report_not_found"))?;
    require_handler(state, caller, &report).await?;
    Ok(report)
}

/// May this staff member act on the report? Admins always; staff on reports of their units and on
/// reports not yet routed to a unit (triage).
pub(super) async fn require_handler(
    state: &Ctx,
    caller: &Caller,
    report: &ReportRow,
) -> Result<()> {
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
    let from = report.status;
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
            if !(parent.status.is_open() || parent.status == Status::Resolved) {
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
    let category = state
        .categories
        .of_report(&state.db, report.category_id)
        .await?;
    let event = super::hooks::changed(&report, &change, to, &category, now)?;
    let pushes = state
        .db
        .transaction(async |tx| {
            if !repo::change_status(&mut *tx, report_id, from.as_str(), &change, now).await? {
                return Err(Error::Conflict("changed_concurrently"));
            }
            if let Action::Resolve { evidence, .. } = &action
                && repo::attach_owned_media(
                    tx,
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
                let moved = repo::move_subscribers(tx, report_id, *of, now).await?
                    + u64::from(report.reporter_id.is_none());
                if moved > 0 {
                    repo::bump_me_too(&mut *tx, *of, moved as i64).await?;
                }
            }
            repo::add_event(
                tx,
                &NewEvent {
                    report_id,
                    actor: Some(caller.account_id),
                    kind: action.kind(),
                    from: Some(from),
                    to: Some(to),
                    note: &public_note,
                    visibility: Visibility::Public,
                },
                now,
            )
            .await?;
            if !note.is_empty() {
                repo::add_event(
                    tx,
                    &NewEvent {
                        report_id,
                        actor: Some(caller.account_id),
                        kind: EventKind::InternalNote,
                        from: None,
                        to: None,
                        note,
                        visibility: Visibility::Internal,
                    },
                    now,
                )
                .await?;
            }
            crate::webhooks::enqueue(tx, &event, now).await?;
            let pushes = notify_followers(tx, report_id, Some(caller.account_id), to, now).await?;
            Ok(pushes)
        })
        .await?;
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
    if !report.status.is_open() {
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
    let from = report.severity;
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
    state
        .db
        .transaction(async |tx| {
            if !repo::change_severity(
                &mut *tx,
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
                tx,
                &NewEvent {
                    report_id,
                    actor: Some(caller.account_id),
                    kind: EventKind::Severity,
                    from: None,
                    to: None,
                    note: &format!("{} → {}: {reason}", from.as_str(), severity.as_str()),
                    visibility: Visibility::Internal,
                },
                now,
            )
            .await?;
            Ok(())
        })
        .await?;
    publish(state, report_id, report.unit_id, "severity").await;
    repo::report(&state.db, report_id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("report vanished")))
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
        let category = state
            .categories
            .of_report(&state.db, report.category_id)
            .await?;
        let event = super::hooks::changed(&report, &change, Status::Closed, &category, now)?;
        // Nothing is written when another change got there first.
        let pushes = state
            .db
            .transaction(async |tx| {
                if !repo::change_status(&mut *tx, id, "resolved", &change, now).await? {
                    return Ok(None);
                }
                repo::add_event(
                    tx,
                    &NewEvent {
                        report_id: id,
                        actor: None,
                        kind: EventKind::Close,
                        from: Some(Status::Resolved),
                        to: Some(Status::Closed),
                        note: "",
                        visibility: Visibility::Public,
                    },
                    now,
                )
                .await?;
                crate::webhooks::enqueue(tx, &event, now).await?;
                notify_followers(tx, id, None, Status::Closed, now)
                    .await
                    .map(Some)
            })
            .await?;
        if let Some(pushes) = pushes {
            push::send_all(&*state.notifier, pushes).await;
            publish(state, id, report.unit_id, "closed").await;
            closed += 1;
        }
    }
    Ok(closed)
}

/// What a staff member asks of the queue (parsed by the handler).
pub struct QueueQuery {
    /// A unit; `None`: every unit of the caller plus unrouted reports (admins: every report).
    pub unit_id: Option<Uuid>,
    /// Empty: the open statuses.
    pub statuses: Vec<String>,
    pub category_id: Option<Uuid>,
    pub area_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    /// Only reports past their resolve-by deadline.
    pub overdue: bool,
    /// Only reports not acknowledged past their acknowledge-by deadline.
    pub ack_overdue: bool,
    /// Only reports due within this many hours (wall-clock).
    pub due_within_hours: Option<u32>,
    pub limit: i64,
    pub offset: i64,
}

/// The staff queue's policy: which units a person sees (theirs and the unrouted reports; admins
/// everything), open statuses by default, the deadline each report waits on soonest first, and
/// the page cut from the units' merged lists.
pub async fn staff_queue(state: &Ctx, caller: &Caller, q: QueueQuery) -> Result<Vec<ReportRow>> {
    let mut statuses = q.statuses;
    if statuses.is_empty() {
        statuses = Status::OPEN
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
    }
    let now = state.clock.now();
    let due_before = if q.overdue {
        Some(now)
    } else {
        q.due_within_hours
            .map(|h| now + chrono::Duration::hours(i64::from(h.min(10_000))))
    };
    let (limit, offset) = (q.limit, q.offset);
    let units: Vec<UnitFilter> = match q.unit_id {
        Some(u) => vec![UnitFilter::Unit(u)],
        None if caller.role == Role::Admin => vec![UnitFilter::Any],
        None => {
            let mut u: Vec<UnitFilter> = repo::units_of(&state.db, caller.account_id)
                .await?
                .into_iter()
                .map(UnitFilter::Unit)
                .collect();
            u.push(UnitFilter::Unrouted);
            u
        }
    };
    let mut rows = vec![];
    for unit in units {
        let f = Filter {
            statuses: statuses.clone(),
            unit,
            category_id: q.category_id,
            area_id: q.area_id,
            assignee_id: q.assignee_id,
            due_before,
            unacknowledged_before: q.ack_overdue.then_some(now),
            by_deadline: true,
            // Each unit's first `offset + limit`: the page is cut from their merge.
            limit: offset + limit,
            ..Filter::default()
        };
        rows.extend(repo::list(&state.db, &f).await?);
    }
    // The deadline each report waits on, soonest first (the order of each unit's list).
    let waits_on = |r: &ReportRow| {
        if r.acknowledged_at.is_none() {
            r.ack_by
        } else {
            r.resolve_by
        }
    };
    rows.sort_by(|a, b| {
        waits_on(a)
            .cmp(&waits_on(b))
            .then(a.report_id.cmp(&b.report_id))
    });
    Ok(rows
        .into_iter()
        .skip(offset.max(0) as usize)
        .take(limit.max(0) as usize)
        .collect())
}
