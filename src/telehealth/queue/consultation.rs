//! A consultation as stored: its status, its row, and the caller's own list.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::on_db;
use crate::store::Db;
use crate::telehealth::Ctx;

/// Where a consultation is (FHIR Encounter.status, in the ward's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum ConsultationStatus {
    /// In the waiting room (*phòng chờ*).
    Waiting,
    /// A doctor called the resident in; the call is being set up.
    Admitted,
    InCall,
    Ended,
    /// The resident did not answer the doctor's call in time.
    Missed,
    /// The resident left the waiting room.
    Cancelled,
    /// The doctor turned the request down (e.g. needs an in-person visit).
    Declined,
}

impl ConsultationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsultationStatus::Waiting => "waiting",
            ConsultationStatus::Admitted => "admitted",
            ConsultationStatus::InCall => "in_call",
            ConsultationStatus::Ended => "ended",
            ConsultationStatus::Missed => "missed",
            ConsultationStatus::Cancelled => "cancelled",
            ConsultationStatus::Declined => "declined",
        }
    }
    pub fn parse(s: &str) -> Option<ConsultationStatus> {
        [
            ConsultationStatus::Waiting,
            ConsultationStatus::Admitted,
            ConsultationStatus::InCall,
            ConsultationStatus::Ended,
            ConsultationStatus::Missed,
            ConsultationStatus::Cancelled,
            ConsultationStatus::Declined,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
    pub fn is_live(self) -> bool {
        matches!(
            self,
            ConsultationStatus::Waiting | ConsultationStatus::Admitted | ConsultationStatus::InCall
        )
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsultationRow {
    pub consultation_id: Uuid,
    pub station_id: Uuid,
    pub resident_id: Uuid,
    pub doctor_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub status: ConsultationStatus,
    pub reason: String,
    pub symptom: Option<crate::telehealth::Symptom>,
    pub priority_at: DateTime<Utc>,
    pub queued_at: DateTime<Utc>,
    pub admitted_at: Option<DateTime<Utc>>,
    pub answer_by: Option<DateTime<Utc>>,
    pub call_started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
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

crate::text_column!(ConsultationStatus);

crate::text_enum! {
    /// Why a consultation ended (the API shows the same spelling).
    pub enum EndReason {
        /// The resident hung up.
        ResidentEnded = "resident_ended",
        /// The admitting doctor hung up.
        DoctorEnded = "doctor_ended",
        /// Everyone left the call.
        AllLeft = "all_left",
        /// Admitted, but the resident never connected in time.
        NoAnswer = "no_answer",
        /// The resident left the waiting room.
        ResidentLeft = "resident_left",
        /// The doctor declined it from the queue.
        DoctorDeclined = "doctor_declined",
    }
}
