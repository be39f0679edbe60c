//! Around the appointment's time: reminders before it, checking in to the waiting room, and
//! no-shows after it.

use crate::telehealth::NotificationKind;
use chrono::Duration;
use uuid::Uuid;

use super::appointments::{AppointmentStatus, appointment};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::reports::push::Push;
use crate::telehealth::Ctx;
use crate::telehealth::queue;
use crate::telehealth::repo::appointments as repo;
use crate::telehealth::{About, local_text, notify, send_pushes, ward_offset};

/// Check in for a booked appointment: the resident enters the station's waiting room, ahead of
/// on-demand patients who came later than the booked time. Allowed from
/// `telehealth_check_in_minutes` before the start until that long after it.
pub async fn check_in(state: &Ctx, caller: &Caller, id: Uuid) -> Result<queue::ConsultationRow> {
    caller.require(&[Role::Resident])?;
    let row = appointment(state, caller, id).await?;
    if row.resident_id != caller.account_id {
        return Err(Error::NotFound("appointment_not_found"));
    }
    if row.status != AppointmentStatus::Booked {
        return Err(Error::Conflict("appointment_not_booked"));
    }
    let now = state.clock.now();
    let window = Duration::minutes(state.settings.telehealth_check_in_minutes.into());
    if now < row.starts_at - window || now > row.starts_at + window {
        return Err(Error::Conflict("outside_check_in_window"));
    }
    let consultation = state
        .db
        .transaction(async |tx| {
            let n = repo::check_in(&mut *tx, id, now).await?;
            if n != 1 {
                return Err(Error::Conflict("appointment_not_booked"));
            }
            let entry = queue::Enqueue {
                station_id: row.station_id,
                resident_id: row.resident_id,
                doctor_id: Some(row.doctor_id),
                appointment_id: Some(id),
                reason: row.reason.clone(),
                symptom: row.symptom,
                priority_at: row.starts_at,
            };
            queue::enqueue(tx, entry, now).await
        })
        .await?;
    queue::consultation_row(&state.db, consultation)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("consultation vanished")))
}

/// Inbox reminders 24 hours and 15 minutes before each booked appointment. Each is claimed by a
/// conditional update, so several instances sweeping at once send it once.
pub async fn send_reminders(state: &Ctx) -> Result<usize> {
    let now = state.clock.now();
    let offset = ward_offset(state);
    let due = repo::reminders_due(
        &state.db,
        now,
        now + Duration::hours(24),
        now + Duration::minutes(15),
    )
    .await?;
    let mut pushes: Vec<Push> = vec![];
    let mut sent = 0;
    for a in due {
        let soon = a.starts_at <= now + Duration::minutes(15);
        let when = local_text(a.starts_at, offset);
        // One transaction per appointment. A lost claim wrote nothing (the update matched no
        // row: `appointment_id` is the key), so its transaction commits empty.
        let push = state
            .db
            .transaction(async |tx| {
                // The 15-minute reminder makes the day-before one moot when both fall due together.
                let claimed = if soon {
                    repo::claim_reminder_15m(&mut *tx, a.appointment_id, now).await?
                } else {
                    repo::claim_reminder_24h(&mut *tx, a.appointment_id, now).await?
                };
                if claimed != 1 {
                    return Ok(None);
                }
                let (kind, vi, en) = if soon {
                    (
                        NotificationKind::AppointmentReminder15m,
                        format!("Sắp đến giờ khám ({when}). Hãy vào phòng chờ trên ứng dụng."),
                        format!(
                            "Your consultation starts soon ({when}). Check in to the waiting room in the app."
                        ),
                    )
                } else {
                    (
                        NotificationKind::AppointmentReminder24h,
                        format!("Nhắc lịch: bạn có lịch khám từ xa lúc {when}."),
                        format!("Reminder: you have a video consultation at {when}."),
                    )
                };
                let push = notify(
                    tx,
                    a.resident_id,
                    About::Appointment(a.appointment_id),
                    kind,
                    vi,
                    en,
                    now,
                )
                .await?;
                Ok::<_, Error>(Some(push))
            })
            .await?;
        if let Some(push) = push {
            pushes.push(push);
            sent += 1;
        }
    }
    send_pushes(&*state.notifier, pushes).await;
    Ok(sent)
}

/// Booked appointments whose check-in window closed without the resident arriving are no-shows.
pub async fn mark_no_shows(state: &Ctx) -> Result<usize> {
    let now = state.clock.now();
    let window = Duration::minutes(state.settings.telehealth_check_in_minutes.into());
    let n = repo::mark_no_shows(&state.db, now, now - window).await?;
    Ok(n as usize)
}
