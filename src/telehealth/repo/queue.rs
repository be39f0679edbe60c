//! The waiting room: new entries, the station's queue in calling order, the facts behind a place
//! in it, and doctors on duty.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::consultations::{ConsultationRow, Symptom, select_consultations};
use crate::on_ex;
use crate::store::Ex;

/// A new waiting-room entry.
#[derive(Debug, Clone)]
pub struct Enqueue {
    pub station_id: Uuid,
    pub resident_id: Uuid,
    /// The doctor it is meant for (a booking), or any doctor of the station.
    pub doctor_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub reason: String,
    pub symptom: Option<Symptom>,
    pub priority_at: DateTime<Utc>,
}

/// Insert a waiting consultation. A resident with a live one already violates
/// `consultations_active_resident_key`.
pub async fn insert_waiting(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    e: &Enqueue,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO consultations (consultation_id, station_id, resident_id, doctor_id, appointment_id, status, reason, symptom, priority_at, queued_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'waiting', $6, $7, $8, $9, $9, $9)",
    )
    .bind(id)
    .bind(e.station_id)
    .bind(e.resident_id)
    .bind(e.doctor_id)
    .bind(e.appointment_id)
    .bind(&e.reason)
    .bind(e.symptom.map(Symptom::as_str))
    .bind(e.priority_at)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// The station's waiting room in calling order.
pub async fn waiting(
    ex: impl Into<Ex<'_>>,
    station: Uuid,
) -> Result<Vec<ConsultationRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ConsultationRow>(select_consultations!(
        "WHERE station_id = $1 AND status = 'waiting' ORDER BY priority_at, consultation_id LIMIT 500"
    ))
    .bind(station)
    .fetch_all(c)
    .await)
}

/// The first 50 waiting at the station that `doctor` may admit (meant for anyone or for them),
/// in calling order.
pub async fn waiting_for(
    ex: impl Into<Ex<'_>>,
    station: Uuid,
    doctor: Uuid,
) -> Result<Vec<ConsultationRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ConsultationRow>(select_consultations!(
        "WHERE station_id = $1 AND status = 'waiting' AND (doctor_id IS NULL OR doctor_id = $2)
         ORDER BY priority_at, consultation_id LIMIT 50"
    ))
    .bind(station)
    .bind(doctor)
    .fetch_all(c)
    .await)
}

/// How many wait ahead of `row` at its station.
pub async fn ahead_of(ex: impl Into<Ex<'_>>, row: &ConsultationRow) -> Result<i64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM consultations
         WHERE station_id = $1 AND status = 'waiting'
           AND (priority_at < $2 OR (priority_at = $2 AND consultation_id < $3))",
    )
    .bind(row.station_id)
    .bind(row.priority_at)
    .bind(row.consultation_id)
    .fetch_one(c)
    .await)
}

/// How many doctors are on duty at the station.
pub async fn on_duty(ex: impl Into<Ex<'_>>, station: Uuid) -> Result<i64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM doctor_duty WHERE station_id = $1",
    )
    .bind(station)
    .fetch_one(c)
    .await)
}

/// Start and end of the station's last 50 ended calls.
pub async fn recent_calls(
    ex: impl Into<Ex<'_>>,
    station: Uuid,
) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
        "SELECT call_started_at, ended_at FROM consultations
         WHERE station_id = $1 AND status = 'ended' AND call_started_at IS NOT NULL AND ended_at IS NOT NULL
         ORDER BY ended_at DESC LIMIT 50",
    )
    .bind(station)
    .fetch_all(c)
    .await)
}

/// The doctor is on duty at `station` from `now`.
pub async fn set_duty(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    station: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO doctor_duty (doctor_id, station_id, since, created_at, updated_at) VALUES ($1, $2, $3, $3, $3)
         ON CONFLICT (doctor_id) DO UPDATE SET station_id = $2, since = $3, updated_at = $3",
    )
    .bind(doctor)
    .bind(station)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// The doctor is off duty.
pub async fn off_duty(ex: impl Into<Ex<'_>>, doctor: Uuid) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query("DELETE FROM doctor_duty WHERE doctor_id = $1")
        .bind(doctor)
        .execute(c)
        .await
        .map(|_| ()))
}
