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
use crate::telehealth::repo::appointments as repo;
use crate::telehealth::repo::availability as leave;
use crate::telehealth::shared::require_doctor;
use crate::telehealth::{Symptom, validate_reason, ward_offset};

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
    let on_leave = leave::on_leave(&state.db, doctor, day).await?;
    if on_leave || state.calendar.holidays().contains(&day) {
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
    let clash = repo::doctor_clashes(&mut *tx, doctor, start, end, except).await?;
    if clash > 0 {
        return Err(Error::Conflict("slot_taken"));
    }
    let mine = repo::resident_clashes(&mut *tx, resident, start, end, except).await?;
    if mine > 0 {
        return Err(Error::Conflict("overlapping_appointment"));
    }
    if except.is_none() {
        let open = repo::open_of_resident(&mut *tx, resident, state.clock.now()).await?;
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
            let inserted = repo::insert(
                &mut *tx,
                &repo::NewAppointment {
                    appointment_id: id,
                    resident_id: caller.account_id,
                    doctor_id: new.doctor_id,
                    station_id: new.station_id,
                    starts_at: new.start,
                    ends_at: end,
                    reason: &reason,
                    symptom: new.symptom,
                },
                now,
            )
            .await;
            match inserted {
                Err(e)
                    if is_unique_violation(
                        &e,
                        "appointments_slot_key",
                        "appointments.doctor_id",
                    ) =>
                {
                    return Err(Error::Conflict("slot_taken"));
                }
                other => other?,
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
