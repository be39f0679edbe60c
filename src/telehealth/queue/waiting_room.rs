//! The waiting room: joining and leaving it, the place in the queue, the station's queue, and
//! doctors going on and off duty.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::consultation::{ConsultationRow, load};
use super::lifecycle::{Event, finish, settle_appointment};
use super::participants::{Relation, relation};
use super::{ConsultationStatus, EndReason};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::{Tx, idempotency, is_unique_violation};
use crate::telehealth::Ctx;
use crate::telehealth::repo::queue as repo;
use crate::telehealth::shared::AppointmentStatus;
use crate::telehealth::shared::{is_station_doctor, station};
use crate::telehealth::{Symptom, validate_reason};

pub use crate::telehealth::repo::queue::Enqueue;

/// Insert a waiting consultation inside the caller's transaction.
pub async fn enqueue(tx: &mut Tx, e: Enqueue, now: DateTime<Utc>) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let res = repo::insert_waiting(tx, id, &e, now).await;
    match res {
        Err(err)
            if is_unique_violation(
                &err,
                "consultations_active_resident_key",
                "consultations.resident_id",
            ) =>
        {
            Err(Error::Conflict("already_in_consultation"))
        }
        Err(err) => Err(err.into()),
        Ok(()) => Ok(id),
    }
}

/// A resident joins a station's waiting room now (on-demand consultation).
pub async fn join(
    state: &Ctx,
    caller: &Caller,
    station_id: Uuid,
    reason: &str,
    symptom: Option<Symptom>,
    idempotency: Option<&idempotency::Key>,
) -> Result<ConsultationRow> {
    caller.require(&[Role::Resident])?;
    let reason = validate_reason(reason)?;
    station(&state.db, station_id).await?;
    let now = state.clock.now();
    let id = state
        .db
        .transaction(async |tx| {
            let id = enqueue(
                tx,
                Enqueue {
                    station_id,
                    resident_id: caller.account_id,
                    doctor_id: None,
                    appointment_id: None,
                    reason,
                    symptom,
                    priority_at: now,
                },
                now,
            )
            .await?;
            if let Some(k) = idempotency {
                idempotency::complete(tx, k, &id.to_string(), now).await?;
            }
            Ok::<_, Error>(id)
        })
        .await?;
    load(state, id).await
}

/// The resident's place in the queue (1 = next) and an estimate of the wait in minutes.
pub async fn position(state: &Ctx, row: &ConsultationRow) -> Result<Option<(i64, i64)>> {
    if row.status != ConsultationStatus::Waiting {
        return Ok(None);
    }
    let ahead = repo::ahead_of(&state.db, row).await?;
    let on_duty = repo::on_duty(&state.db, row.station_id).await?;
    let recent = repo::recent_calls(&state.db, row.station_id).await?;
    let minutes = average_minutes(&recent).unwrap_or(10.0);
    Ok(Some((
        ahead + 1,
        estimate_minutes(ahead + 1, minutes, on_duty),
    )))
}

fn average_minutes(calls: &[(DateTime<Utc>, DateTime<Utc>)]) -> Option<f64> {
    if calls.is_empty() {
        return None;
    }
    let total: i64 = calls
        .iter()
        .map(|(a, b)| (*b - *a).num_seconds().max(0))
        .sum();
    Some(total as f64 / 60.0 / calls.len() as f64)
}

/// Everyone up to and including the resident is seen, shared among the doctors on duty (at least
/// one: someone will come).
pub fn estimate_minutes(position: i64, minutes_per_call: f64, doctors_on_duty: i64) -> i64 {
    let doctors = doctors_on_duty.max(1) as f64;
    ((position.max(1) as f64) * minutes_per_call / doctors).ceil() as i64
}

pub async fn require_station_doctor(state: &Ctx, caller: &Caller, station_id: Uuid) -> Result<()> {
    caller.require(&[Role::Doctor])?;
    station(&state.db, station_id).await?;
    if !is_station_doctor(&state.db, station_id, caller.account_id).await? {
        return Err(Error::Forbidden);
    }
    Ok(())
}

/// The station's waiting room, in calling order (doctors of the station).
pub async fn station_queue(
    state: &Ctx,
    caller: &Caller,
    station_id: Uuid,
) -> Result<Vec<ConsultationRow>> {
    require_station_doctor(state, caller, station_id).await?;
    Ok(repo::waiting(&state.db, station_id).await?)
}

/// Put the doctor on duty at a station (taking on-demand patients), or off duty.
pub async fn set_duty(state: &Ctx, caller: &Caller, station_id: Option<Uuid>) -> Result<()> {
    caller.require(&[Role::Doctor])?;
    let now = state.clock.now();
    match station_id {
        Some(s) => {
            require_station_doctor(state, caller, s).await?;
            repo::set_duty(&state.db, caller.account_id, s, now).await?;
        }
        None => {
            repo::off_duty(&state.db, caller.account_id).await?;
        }
    }
    Ok(())
}

/// The resident leaves the waiting room (or does not take the call after all).
pub async fn cancel(state: &Ctx, caller: &Caller, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    if relation(state, caller, &row).await? != Relation::Patient {
        return Err(Error::Forbidden);
    }
    let now = state.clock.now();
    state
        .db
        .transaction(async |tx| {
            finish(tx, &row, Event::Cancel, EndReason::ResidentLeft, now).await?;
            settle_appointment(tx, &row, AppointmentStatus::Cancelled, now).await
        })
        .await?;
    crate::rtc::end_call(&*state.bus, id, "resident_left").await;
    load(state, id).await
}
