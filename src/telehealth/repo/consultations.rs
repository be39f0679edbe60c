//! A consultation's row, its status and end reason, the moves of its lifecycle, its doctors and
//! its rating.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::store::Ex;

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

crate::text_column!(ConsultationStatus);

crate::text_enum! {
    /// What brings the resident (optional, helps the doctor triage the queue).
    #[derive(serde::Serialize, serde::Deserialize, poem_openapi::Enum)]
    #[serde(rename_all = "snake_case")]
    #[oai(rename_all = "snake_case")]
    pub enum Symptom {
        General = "general",
        Fever = "fever",
        Respiratory = "respiratory",
        Digestive = "digestive",
        Skin = "skin",
        ChronicFollowUp = "chronic_follow_up",
        MaternalChild = "maternal_child",
        MentalHealth = "mental_health",
        Injury = "injury",
        Other = "other",
    }
}

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

crate::text_enum! {
    /// A doctor's part in a consultation (`consultation_doctors.role`).
    pub enum DoctorPart {
        /// The doctor who admitted the resident.
        Primary = "primary",
        /// A doctor the primary one invited.
        Specialist = "specialist",
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
    pub symptom: Option<Symptom>,
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

/// `SELECT <columns> FROM consultations <rest>` for a [`ConsultationRow`].
macro_rules! select_consultations {
    ($($rest:tt)*) => {
        concat!(
            "SELECT consultation_id, station_id, resident_id, doctor_id, appointment_id, status, reason, symptom, ",
            "priority_at, queued_at, admitted_at, answer_by, call_started_at, ended_at, end_reason, rating, ",
            "rating_comment, created_at, updated_at FROM consultations ",
            $($rest)*
        )
    };
}
pub(super) use select_consultations;

pub async fn consultation(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
) -> Result<Option<ConsultationRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ConsultationRow>(
        select_consultations!("WHERE consultation_id = $1"),
    )
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// A resident's consultations, newest first.
pub async fn of_resident(
    ex: impl Into<Ex<'_>>,
    resident: Uuid,
    limit: i64,
) -> Result<Vec<ConsultationRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ConsultationRow>(
        select_consultations!("WHERE resident_id = $1 ORDER BY created_at DESC LIMIT $2"),
    )
    .bind(resident)
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// The consultations a doctor took part in, newest first.
pub async fn of_doctor(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    limit: i64,
) -> Result<Vec<ConsultationRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ConsultationRow>(select_consultations!(
        "WHERE consultation_id IN (SELECT consultation_id FROM consultation_doctors WHERE doctor_id = $1)
         ORDER BY created_at DESC LIMIT $2"
    ))
    .bind(doctor)
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// Admitted consultations whose resident did not connect by `answer_by`, oldest first.
pub async fn unanswered(
    ex: impl Into<Ex<'_>>,
    now: DateTime<Utc>,
) -> Result<Vec<ConsultationRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ConsultationRow>(select_consultations!(
        "WHERE status = 'admitted' AND answer_by < $1 ORDER BY answer_by LIMIT 500"
    ))
    .bind(now)
    .fetch_all(c)
    .await)
}

/// Admit a waiting resident for `doctor` (only if still waiting and meant for anyone or for
/// them); how many rows moved.
pub async fn admit(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    doctor: Uuid,
    now: DateTime<Utc>,
    answer_by: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE consultations SET status = 'admitted', doctor_id = $2, admitted_at = $3, answer_by = $4, updated_at = $3
         WHERE consultation_id = $1 AND status = 'waiting' AND (doctor_id IS NULL OR doctor_id = $2)",
    )
    .bind(id)
    .bind(doctor)
    .bind(now)
    .bind(answer_by)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Back to the waiting room from `from`, meant for `meant_for` (or anyone); how many rows moved.
pub async fn requeue(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    from: ConsultationStatus,
    to: ConsultationStatus,
    meant_for: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE consultations SET status = $3, doctor_id = $5, admitted_at = NULL, answer_by = NULL, updated_at = $4
         WHERE consultation_id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .bind(meant_for)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// The call started: `from` → `to`, stamped; how many rows moved.
pub async fn start_call(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    from: ConsultationStatus,
    to: ConsultationStatus,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE consultations SET status = $3, call_started_at = $4, updated_at = $4
         WHERE consultation_id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Any other move `from` → `to`, stamped as an end with its reason; how many rows moved.
pub async fn close(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    from: ConsultationStatus,
    to: ConsultationStatus,
    now: DateTime<Utc>,
    reason: Option<EndReason>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE consultations SET status = $3, ended_at = $4, end_reason = $5, updated_at = $4
         WHERE consultation_id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .bind(reason.map(EndReason::as_str))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Rate a consultation not rated yet; how many rows changed.
pub async fn rate(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    stars: i32,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE consultations SET rating = $2, rating_comment = $3, rated_at = $4, updated_at = $4
         WHERE consultation_id = $1 AND rating IS NULL",
    )
    .bind(id)
    .bind(stars)
    .bind(comment)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// The doctors in a consultation and their parts, in the order they joined.
pub async fn doctors(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
) -> Result<Vec<(Uuid, DoctorPart)>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, (Uuid, DoctorPart)>(
        "SELECT doctor_id, role FROM consultation_doctors WHERE consultation_id = $1 ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(c)
    .await)
}

/// The admitting doctor joins (or becomes the primary one again).
pub async fn add_primary(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    doctor: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO consultation_doctors (consultation_id, doctor_id, role, invited_by, created_at, updated_at)
         VALUES ($1, $2, 'primary', NULL, $3, $3)
         ON CONFLICT (consultation_id, doctor_id) DO UPDATE SET role = 'primary', updated_at = $3",
    )
    .bind(id)
    .bind(doctor)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// An invited doctor joins.
pub async fn add_specialist(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    specialist: Uuid,
    invited_by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO consultation_doctors (consultation_id, doctor_id, role, invited_by, created_at, updated_at)
         VALUES ($1, $2, 'specialist', $3, $4, $4)",
    )
    .bind(id)
    .bind(specialist)
    .bind(invited_by)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Nobody is in the consultation any more (it went back to the waiting room).
pub async fn drop_doctors(ex: impl Into<Ex<'_>>, id: Uuid) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query("DELETE FROM consultation_doctors WHERE consultation_id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
}
