//! Around the appointment's time: reminders before it, checking in to the waiting room, and
//! no-shows after it.

use crate::telehealth::NotificationKind;
use chrono::Duration;
use uuid::Uuid;

use super::appointment_columns;
use super::appointments::{AppointmentRow, AppointmentStatus, appointment};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::reports::push::Push;
use crate::telehealth::Ctx;
use crate::telehealth::queue;
use crate::telehealth::{About, local_text, notify, send_pushes, ward_offset};
use crate::{on_db, on_tx};

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
            let n = on_tx!(tx, conn => sqlx::query(
                "UPDATE appointments SET status = 'checked_in', updated_at = $2 WHERE appointment_id = $1 AND status = 'booked'",
            )
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
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
    let due = on_db!(&state.db, pool => sqlx::query_as::<_, AppointmentRow>(concat!(
        "SELECT ", appointment_columns!(), " FROM appointments
         WHERE status = 'booked' AND starts_at > $1 AND starts_at <= $2
           AND (reminded_24h_at IS NULL OR (reminded_15m_at IS NULL AND starts_at <= $3))
         ORDER BY starts_at LIMIT 500",
    ))
    .bind(now)
    .bind(now + Duration::hours(24))
    .bind(now + Duration::minutes(15))
    .fetch_all(pool)
    .await)?;
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
                    on_tx!(tx, conn => sqlx::query(
                        "UPDATE appointments SET reminded_15m_at = $2, reminded_24h_at = COALESCE(reminded_24h_at, $2), updated_at = $2
                         WHERE appointment_id = $1 AND reminded_15m_at IS NULL AND status = 'booked'",
                    )
                    .bind(a.appointment_id)
                    .bind(now)
                    .execute(conn)
                    .await
                    .map(|r| r.rows_affected()))?
                } else {
                    on_tx!(tx, conn => sqlx::query(
                        "UPDATE appointments SET reminded_24h_at = $2, updated_at = $2
                         WHERE appointment_id = $1 AND reminded_24h_at IS NULL AND status = 'booked'",
                    )
                    .bind(a.appointment_id)
                    .bind(now)
                    .execute(conn)
                    .await
                    .map(|r| r.rows_affected()))?
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
    let n = on_db!(&state.db, pool => sqlx::query(
        "UPDATE appointments SET status = 'noshow', updated_at = $1 WHERE status = 'booked' AND starts_at < $2",
    )
    .bind(now)
    .bind(now - window)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n as usize)
}
