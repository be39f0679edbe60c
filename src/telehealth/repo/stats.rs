//! The facts behind a station's figures (no clinical content).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::appointments::AppointmentStatus;
use super::consultations::ConsultationStatus;
use crate::on_ex;
use crate::store::Ex;

/// A consultation's times and outcome.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsultationFacts {
    pub status: ConsultationStatus,
    pub doctor_id: Option<Uuid>,
    pub queued_at: DateTime<Utc>,
    pub admitted_at: Option<DateTime<Utc>>,
    pub call_started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub rating: Option<i32>,
}

/// The station's consultations created in `[from, to)`.
pub async fn consultations(
    ex: impl Into<Ex<'_>>,
    station: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ConsultationFacts>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ConsultationFacts>(
        "SELECT status, doctor_id, queued_at, admitted_at, call_started_at, ended_at, rating FROM consultations
         WHERE station_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(station)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await)
}

/// The station's appointments starting in `[from, to)`, counted by status.
pub async fn appointments(
    ex: impl Into<Ex<'_>>,
    station: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(AppointmentStatus, i64)>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, (AppointmentStatus, i64)>(
        "SELECT status, COUNT(*) FROM appointments WHERE station_id = $1 AND starts_at >= $2 AND starts_at < $3
         GROUP BY status",
    )
    .bind(station)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await)
}

/// Records of the station's consultations signed in `[from, to)`.
pub async fn records_signed(
    ex: impl Into<Ex<'_>>,
    station: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM clinical_records r JOIN consultations c ON c.consultation_id = r.consultation_id
         WHERE c.station_id = $1 AND r.status = 'signed' AND r.signed_at >= $2 AND r.signed_at < $3",
    )
    .bind(station)
    .bind(from)
    .bind(to)
    .fetch_one(c)
    .await)
}
