//! The call: connected, started and ended, missed when unanswered, and rated afterwards.

use crate::telehealth::NotificationKind;
use uuid::Uuid;

use super::ParticipantRole;
use super::consultation::{ConsultationRow, load};
use super::lifecycle::{Event, change, finish, settle_appointment};
use super::participants::{Relation, relation, require_primary};
use super::{ConsultationStatus, EndReason};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::telehealth::Ctx;
use crate::telehealth::repo::consultations as repo;
use crate::telehealth::shared::AppointmentStatus;
use crate::telehealth::{About, notify, send_pushes, validate_text};

/// The call connected (both sides present): `admitted` → `in_call`. The broker calls this; so does
/// the doctor's "start" for a call held by other means.
pub async fn call_connected(state: &Ctx, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    if row.status == ConsultationStatus::InCall {
        return Ok(row);
    }
    connect_call(state, &row).await?;
    load(state, id).await
}

/// Move the consultation as just read into its call (`admitted` → `in_call`; 409 if it moved
/// meanwhile).
pub async fn connect_call(state: &Ctx, row: &ConsultationRow) -> Result<()> {
    let now = state.clock.now();
    state
        .db
        .transaction(async |tx| change(tx, row, Event::Connect, now, None).await)
        .await
}

/// The call is over: `in_call` → `ended`; a booked appointment behind it is fulfilled.
pub async fn call_ended(state: &Ctx, id: Uuid, reason: EndReason) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    if row.status == ConsultationStatus::Ended {
        return Ok(row);
    }
    end_call(state, &row, reason).await?;
    load(state, id).await
}

/// End the call of the consultation as just read (`in_call` → `ended`, 409 if it is not in call),
/// fulfil the appointment behind it, and tell the broker to close the room.
pub async fn end_call(state: &Ctx, row: &ConsultationRow, reason: EndReason) -> Result<()> {
    let now = state.clock.now();
    state
        .db
        .transaction(async |tx| {
            finish(tx, row, Event::End, reason, now).await?;
            settle_appointment(tx, row, AppointmentStatus::Fulfilled, now).await
        })
        .await?;
    crate::rtc::end_call(&*state.bus, row.consultation_id, reason.as_str()).await;
    Ok(())
}

/// The admitting doctor marks the call as started.
pub async fn start(state: &Ctx, caller: &Caller, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    require_primary(state, caller, &row).await?;
    if row.status != ConsultationStatus::Admitted {
        return Err(Error::Conflict("illegal_transition"));
    }
    call_connected(state, id).await
}

/// End the call: the admitting doctor, or the resident hanging up.
pub async fn end(state: &Ctx, caller: &Caller, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    let reason = match relation(state, caller, &row).await? {
        Relation::Patient => EndReason::ResidentEnded,
        Relation::Participant(ParticipantRole::Doctor) => EndReason::DoctorEnded,
        _ => return Err(Error::Forbidden),
    };
    if row.status != ConsultationStatus::InCall {
        return Err(Error::Conflict("illegal_transition"));
    }
    call_ended(state, id, reason).await
}

/// The resident rates an ended consultation, once.
pub async fn rate(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    stars: i32,
    comment: &str,
) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    if relation(state, caller, &row).await? != Relation::Patient {
        return Err(Error::Forbidden);
    }
    if !(1..=5).contains(&stars) {
        return Err(Error::validation(
            "stars",
            "invalid_rating",
            "Đánh giá từ 1 đến 5 sao",
            "Rate from 1 to 5 stars",
        ));
    }
    let comment = validate_text(comment, "comment", 1000)?;
    if row.status != ConsultationStatus::Ended {
        return Err(Error::Conflict("not_ended"));
    }
    let now = state.clock.now();
    let n = repo::rate(&state.db, id, stars, &comment, now).await?;
    if n != 1 {
        return Err(Error::Conflict("already_rated"));
    }
    load(state, id).await
}

/// Admitted residents who did not connect by `answer_by` have missed the call.
pub async fn expire_unanswered(state: &Ctx) -> Result<usize> {
    let now = state.clock.now();
    let due = repo::unanswered(&state.db, now).await?;
    let mut pushes = vec![];
    let mut n = 0;
    for row in due {
        let push = state
            .db
            .transaction(async |tx| {
                match finish(tx, &row, Event::Miss, EndReason::NoAnswer, now).await {
                    Ok(()) => {}
                    // Connected or cancelled meanwhile; nothing was written (the update matched
                    // no row).
                    Err(Error::Conflict(_)) => return Ok(None),
                    Err(e) => return Err(e),
                }
                settle_appointment(tx, &row, AppointmentStatus::Noshow, now).await?;
                notify(
                    tx,
                    row.resident_id,
                    About::Consultation(row.consultation_id),
                    NotificationKind::ConsultationMissed,
                    "Bạn đã lỡ cuộc gọi của bác sĩ. Hãy vào phòng chờ lại khi sẵn sàng.".into(),
                    "You missed the doctor's call. Join the waiting room again when you are ready."
                        .into(),
                    now,
                )
                .await
                .map(Some)
            })
            .await?;
        let Some(push) = push else {
            continue;
        };
        pushes.push(push);
        crate::rtc::end_call(&*state.bus, row.consultation_id, "no_answer").await;
        n += 1;
    }
    send_pushes(&*state.notifier, pushes).await;
    Ok(n)
}
