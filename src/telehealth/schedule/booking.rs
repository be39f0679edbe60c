//! Booking a slot: checking that it is real and free, and claiming it.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::appointments::{AppointmentRow, appointment_row};
use super::availability::windows;
use super::slots::{station_exists, window_for};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::{Tx, idempotency, is_unique_violation};
use crate::telehealth::Ctx;
use crate::telehealth::shared::require_doctor;
use crate::telehealth::{Symptom, validate_reason, ward_offset};
use crate::{on_db, on_tx};

/// A resident's booking request.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub doctor_id: Uuid,
    pub station_id: Uuid,
    pub start: DateTime<Utc>,
    pub reason: String,
    pub symptom: Option<Symptom>,
}

/// Check that `start` is a real, future, bookable slot of the doctor at the station; returns its end.
pub(super) async fn bookable(
    state: &Ctx,
    doctor: Uuid,
    station: Uuid,
    start: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    station_exists(&state.db, station).await?;
    require_doctor(&state.db, doctor).await?;
    let now = state.clock.now();
    if start <= now {
        return Err(Error::validation(
            "start",
            "slot_in_past",
            "Không thể đặt lịch vào thời điểm đã qua",
            "That time has passed",
        ));
    }
    if start > now + Duration::days(state.settings.telehealth_booking_days.into()) {
        return Err(Error::validation(
            "start",
            "beyond_booking_horizon",
            "Chưa mở đặt lịch cho ngày này",
            "Bookings are not open that far ahead",
        ));
    }
    let offset = ward_offset(state);
    let windows = windows(&state.db, doctor).await?;
    let Some(w) = window_for(&windows, station, start, offset) else {
        return Err(Error::validation(
            "start",
            "not_a_slot",
            "Bác sĩ không có lượt khám vào thời điểm này tại trạm này",
            "The doctor has no slot at this time at this station",
        ));
    };
    let day = start.with_timezone(&offset).date_naive();
    let on_leave = on_db!(&state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM leave_days WHERE doctor_id = $1 AND day = $2",
    )
    .bind(doctor)
    .bind(day)
    .fetch_one(pool)
    .await)?;
    if on_leave > 0 || state.calendar.holidays().contains(&day) {
        return Err(Error::validation(
            "start",
            "not_a_slot",
            "Bác sĩ nghỉ vào ngày này",
            "The doctor is not available that day",
        ));
    }
    Ok(start + Duration::minutes(w.slot_minutes.into()))
}

/// Inside a transaction holding the doctor's lock: the slot is still free (no live appointment of
/// the doctor overlaps it) and the resident is not double-booked or over their limit.
pub(super) async fn claim_slot(
    tx: &mut Tx,
    state: &Ctx,
    resident: Uuid,
    doctor: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> Result<()> {
    let clash = on_tx!(tx, conn => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM appointments
         WHERE doctor_id = $1 AND status <> 'cancelled' AND starts_at < $3 AND ends_at > $2
           AND ($4 IS NULL OR appointment_id <> $4)",
    )
    .bind(doctor)
    .bind(start)
    .bind(end)
    .bind(except)
    .fetch_one(conn)
    .await)?;
    if clash > 0 {
        return Err(Error::Conflict("slot_taken"));
    }
    let mine = on_tx!(tx, conn => sqlx::query_scalar::<_, i64>(
        concat!(
            "SELECT COUNT(*) FROM appointments WHERE resident_id = $1 AND status IN ",
            crate::active_appointment_statuses_sql!(),
            " AND starts_at < $3 AND ends_at > $2 AND ($4 IS NULL OR appointment_id <> $4)"
        ),
    )
    .bind(resident)
    .bind(start)
    .bind(end)
    .bind(except)
    .fetch_one(conn)
    .await)?;
    if mine > 0 {
        return Err(Error::Conflict("overlapping_appointment"));
    }
    if except.is_none() {
        let open = on_tx!(tx, conn => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM appointments WHERE resident_id = $1 AND status = 'booked' AND starts_at > $2",
        )
        .bind(resident)
        .bind(state.clock.now())
        .fetch_one(conn)
        .await)?;
        if open >= i64::from(state.settings.telehealth_max_open_appointments) {
            return Err(Error::Conflict("too_many_appointments"));
        }
    }
    Ok(())
}

/// Book a slot. Exactly one of any number of concurrent bookings of a slot succeeds; the others
/// get 409 `slot_taken`.
pub async fn book(
    state: &Ctx,
    caller: &Caller,
    new: NewBooking,
    idempotency: Option<&idempotency::Key>,
) -> Result<AppointmentRow> {
    caller.require(&[Role::Resident])?;
    let reason = validate_reason(&new.reason)?;
    let end = bookable(state, new.doctor_id, new.station_id, new.start).await?;
    let now = state.clock.now();
    let id = Uuid::now_v7();
    state
        .db
        .transaction(async |tx| {
        tx.lock_key(new.doctor_id).await?;
        claim_slot(
            tx,
            state,
            caller.account_id,
            new.doctor_id,
            new.start,
            end,
            None,
        )
        .await?;
        let inserted = on_tx!(tx, conn => sqlx::query(
            "INSERT INTO appointments (appointment_id, resident_id, doctor_id, station_id, starts_at, ends_at, status, reason, symptom, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $8, $9, $9)",
        )
        .bind(id)
        .bind(caller.account_id)
        .bind(new.doctor_id)
        .bind(new.station_id)
        .bind(new.start)
        .bind(end)
        .bind(&reason)
        .bind(new.symptom.map(Symptom::as_str))
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()));
        match inserted {
            Err(e) if is_unique_violation(&e, "appointments_slot_key", "appointments.doctor_id") => {
                return Err(Error::Conflict("slot_taken"));
            }
            other => {
                other?;
            }
        }
        if let Some(k) = idempotency {
            idempotency::complete(tx, k, &id.to_string(), now).await?;
        }
            Ok(())
        })
        .await?;
    appointment_row(&state.db, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("appointment vanished")))
}
