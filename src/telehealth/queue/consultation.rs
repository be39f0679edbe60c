//! Reading consultations: the row, one consultation for a caller who may see it, and the
//! caller's own list.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::lifecycle::ConsultationStatus;
use super::participants::{Relation, relation};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::on_db;
use crate::store::Db;
use crate::telehealth::Ctx;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsultationRow {
    pub consultation_id: Uuid,
    pub station_id: Uuid,
    pub resident_id: Uuid,
    pub doctor_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub status: ConsultationStatus,
    pub reason: String,
    pub symptom: Option<String>,
    pub priority_at: DateTime<Utc>,
    pub queued_at: DateTime<Utc>,
    pub admitted_at: Option<DateTime<Utc>>,
    pub answer_by: Option<DateTime<Utc>>,
    pub call_started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    pub rating: Option<i32>,
    pub rating_comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn consultation_row(db: &Db, id: Uuid) -> Result<Option<ConsultationRow>> {
    Ok(
        on_db!(db, pool => sqlx::query_as::<_, ConsultationRow>(concat!(
        "SELECT ", consultation_columns!(), " FROM consultations WHERE consultation_id = $1",
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)?,
    )
}

pub(super) async fn load(state: &Ctx, id: Uuid) -> Result<ConsultationRow> {
    consultation_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("consultation_not_found"))
}

/// The consultation, if the caller may see it.
pub async fn get(state: &Ctx, caller: &Caller, id: Uuid) -> Result<(ConsultationRow, Relation)> {
    let row = load(state, id).await?;
    let rel = relation(state, caller, &row).await?;
    Ok((row, rel))
}

/// Consultations the caller is in (resident: theirs; doctor: those they took part in), newest first.
pub async fn mine(state: &Ctx, caller: &Caller, limit: i64) -> Result<Vec<ConsultationRow>> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let sql = if caller.role == Role::Resident {
        concat!(
            "SELECT ",
            consultation_columns!(),
            " FROM consultations WHERE resident_id = $1
             ORDER BY created_at DESC LIMIT $2"
        )
    } else {
        concat!(
            "SELECT ", consultation_columns!(), " FROM consultations
             WHERE consultation_id IN (SELECT consultation_id FROM consultation_doctors WHERE doctor_id = $1)
             ORDER BY created_at DESC LIMIT $2"
        )
    };
    Ok(
        on_db!(&state.db, pool => sqlx::query_as::<_, ConsultationRow>(sql)
        .bind(caller.account_id)
        .bind(limit)
        .fetch_all(pool)
        .await)?,
    )
}
