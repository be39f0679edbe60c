//! Cancelling an appointment and moving it to another slot.

use crate::telehealth::NotificationKind;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::appointments::{AppointmentRow, AppointmentStatus, appointment_row, set_cancelled};
use super::booking::{bookable, claim_slot};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::is_unique_violation;
use crate::telehealth::Ctx;
use crate::telehealth::repo::appointments as repo;
use crate::telehealth::{About, local_text, notify, send_pushes, validate_text, ward_offset};

/// Who is acting on an appointment, and whether the resident's cut-off applies.
fn actor_on(caller: &Caller, row: &AppointmentRow) -> Result<Role> {
    if caller.role == Role::Resident && row.resident_id == caller.account_id {
        Ok(Role::Resident)
    } else if caller.role == Role::Doctor && row.doctor_id == caller.account_id {
        Ok(Role::Doctor)
    } else if matches!(caller.role, Role::Resident | Role::Doctor) {
        Err(Error::NotFound("appointment_not_found"))
    } else {
        Err(Error::Forbidden)
    }
}

fn check_cutoff(state: &Ctx, row: &AppointmentRow) -> Result<()> {
    let cutoff =
        row.starts_at - Duration::minutes(state.settings.telehealth_cancel_cutoff_minutes.into());
    if state.clock.now() > cutoff {
        return Err(Error::Conflict("cutoff_passed"));
    }
    Ok(())
}

/// Cancel: the resident up to the cut-off before the start, the doctor at any time. The other
/// side is notified.
pub async fn cancel(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    reason: &str,
) -> Result<AppointmentRow> {
    let row = appointment_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("appointment_not_found"))?;
    let actor = actor_on(caller, &row)?;
    let reason = validate_text(reason, "reason", 500)?;
    if row.status != AppointmentStatus::Booked {
        return Err(Error::Conflict("appointment_not_booked"));
    }
    if actor == Role::Resident {
        check_cutoff(state, &row)?;
    }
    let now = state.clock.now();
    let offset = ward_offset(state);
    let when = local_text(row.starts_at, offset);
    let push = state
        .db
        .transaction(async |tx| {
            if !set_cancelled(tx, id, caller.account_id, &reason, now).await? {
                return Err(Error::Conflict("appointment_not_booked"));
            }
            if actor == Role::Doctor {
                notify(
                    tx,
                    row.resident_id,
                    About::Appointment(id),
                    NotificationKind::AppointmentCancelled,
                    format!("Bác sĩ đã huỷ lịch khám lúc {when}. Vui lòng đặt lịch khác."),
                    format!("The doctor cancelled your appointment at {when}. Please book again."),
                    now,
                )
                .await
            } else {
                notify(
                    tx,
                    row.doctor_id,
                    About::Appointment(id),
                    NotificationKind::AppointmentCancelled,
                    format!("Người dân đã huỷ lịch khám lúc {when}."),
                    format!("The resident cancelled the appointment at {when}."),
                    now,
                )
                .await
            }
        })
        .await?;
    send_pushes(&*state.notifier, vec![push]).await;
    appointment_row(&state.db, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("appointment vanished")))
}

/// Move an appointment to another free slot of the same doctor and station (the resident up to
/// the cut-off, the doctor at any time). The reminders start over; the other side is notified.
pub async fn reschedule(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    start: DateTime<Utc>,
) -> Result<AppointmentRow> {
    let row = appointment_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("appointment_not_found"))?;
    let actor = actor_on(caller, &row)?;
    if row.status != AppointmentStatus::Booked {
        return Err(Error::Conflict("appointment_not_booked"));
    }
    if actor == Role::Resident {
        check_cutoff(state, &row)?;
    }
    let end = bookable(state, row.doctor_id, row.station_id, start).await?;
    let now = state.clock.now();
    let push = state
        .db
        .transaction(async |tx| {
            tx.lock_key(row.doctor_id).await?;
            claim_slot(
                tx,
                state,
                row.resident_id,
                row.doctor_id,
                start,
                end,
                Some(id),
            )
            .await?;
            let moved = repo::move_to(&mut *tx, id, start, end, now).await;
            match moved {
                Err(e)
                    if is_unique_violation(
                        &e,
                        "appointments_slot_key",
                        "appointments.doctor_id",
                    ) =>
                {
                    return Err(Error::Conflict("slot_taken"));
                }
                Ok(0) => return Err(Error::Conflict("appointment_not_booked")),
                other => {
                    other?;
                }
            }
            let offset = ward_offset(state);
            let (old, new) = (local_text(row.starts_at, offset), local_text(start, offset));
            let (to, vi, en) = if actor == Role::Doctor {
                (
                    row.resident_id,
                    format!("Bác sĩ đã dời lịch khám từ {old} sang {new}."),
                    format!("The doctor moved your appointment from {old} to {new}."),
                )
            } else {
                (
                    row.doctor_id,
                    format!("Người dân đã dời lịch khám từ {old} sang {new}."),
                    format!("The resident moved the appointment from {old} to {new}."),
                )
            };
            notify(
                tx,
                to,
                About::Appointment(id),
                NotificationKind::AppointmentRescheduled,
                vi,
                en,
                now,
            )
            .await
        })
        .await?;
    send_pushes(&*state.notifier, vec![push]).await;
    appointment_row(&state.db, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("appointment vanished")))
}
