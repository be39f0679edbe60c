//! Clinical records: the row and its status, drafts, edits, signing, and the lists residents and
//! doctors read. A signed row never changes (the database refuses it).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::store::Ex;

/// A record status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum RecordStatus {
    Draft,
    Signed,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Draft => "draft",
            RecordStatus::Signed => "signed",
        }
    }

    pub fn parse(s: &str) -> Option<RecordStatus> {
        match s {
            "draft" => Some(RecordStatus::Draft),
            "signed" => Some(RecordStatus::Signed),
            _ => None,
        }
    }
}

crate::text_column!(RecordStatus);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordRow {
    pub record_id: Uuid,
    pub consultation_id: Uuid,
    pub resident_id: Uuid,
    pub author_id: Uuid,
    pub version: i32,
    pub supersedes: Option<Uuid>,
    pub status: RecordStatus,
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    pub diagnoses: String,
    pub prescriptions: String,
    pub follow_up_on: Option<NaiveDate>,
    pub in_person_advised: bool,
    pub signed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub superseded_by: Option<Uuid>,
}

/// `SELECT <columns> FROM clinical_records r <rest>` for a [`RecordRow`].
macro_rules! select_records {
    ($($rest:tt)*) => {
        concat!(
            "SELECT r.record_id, r.consultation_id, r.resident_id, r.author_id, r.version, r.supersedes, r.status, ",
            "r.subjective, r.objective, r.assessment, r.plan, r.diagnoses, r.prescriptions, r.follow_up_on, ",
            "r.in_person_advised, r.signed_at, r.created_at, r.updated_at, ",
            "(SELECT n.record_id FROM clinical_records n WHERE n.supersedes = r.record_id) AS superseded_by ",
            "FROM clinical_records r ",
            $($rest)*
        )
    };
}

/// What a doctor wrote, as stored (diagnoses and prescriptions as JSON text).
pub struct Written<'a> {
    pub subjective: &'a str,
    pub objective: &'a str,
    pub assessment: &'a str,
    pub plan: &'a str,
    pub diagnoses: &'a str,
    pub prescriptions: &'a str,
    pub follow_up_on: Option<NaiveDate>,
    pub in_person_advised: bool,
}

/// A new draft: what [`insert`] writes.
pub struct NewRecord<'a> {
    pub record_id: Uuid,
    pub consultation_id: Uuid,
    pub resident_id: Uuid,
    pub author_id: Uuid,
    pub version: i32,
    pub supersedes: Option<Uuid>,
    pub written: Written<'a>,
}

pub async fn record(ex: impl Into<Ex<'_>>, id: Uuid) -> Result<Option<RecordRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, RecordRow>(select_records!("WHERE r.record_id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// The resident's signed records (every version), optionally of one consultation; newest first.
pub async fn signed_of_resident(
    ex: impl Into<Ex<'_>>,
    resident: Uuid,
    consultation: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RecordRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, RecordRow>(select_records!(
        "WHERE r.resident_id = $1 AND r.status = 'signed' AND ($2 IS NULL OR r.consultation_id = $2)
         ORDER BY r.created_at DESC, r.record_id DESC LIMIT $3"
    ))
    .bind(resident)
    .bind(consultation)
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// The records of the consultations a doctor took part in, optionally of one; newest first.
pub async fn of_doctor(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    consultation: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RecordRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, RecordRow>(select_records!(
        "WHERE r.consultation_id IN (SELECT consultation_id FROM consultation_doctors WHERE doctor_id = $1)
           AND ($2 IS NULL OR r.consultation_id = $2)
         ORDER BY r.created_at DESC, r.record_id DESC LIMIT $3"
    ))
    .bind(doctor)
    .bind(consultation)
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// Whether `author` has a record of the consultation already.
pub async fn has_authored(
    ex: impl Into<Ex<'_>>,
    consultation: Uuid,
    author: Uuid,
) -> Result<bool, sqlx::Error> {
    let n = on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM clinical_records WHERE consultation_id = $1 AND author_id = $2",
    )
    .bind(consultation)
    .bind(author)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Insert a draft.
pub async fn insert(
    ex: impl Into<Ex<'_>>,
    r: &NewRecord<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let w = &r.written;
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO clinical_records (record_id, consultation_id, resident_id, author_id, version, supersedes, status,
             subjective, objective, assessment, plan, diagnoses, prescriptions, follow_up_on, in_person_advised, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
    )
    .bind(r.record_id)
    .bind(r.consultation_id)
    .bind(r.resident_id)
    .bind(r.author_id)
    .bind(r.version)
    .bind(r.supersedes)
    .bind(w.subjective)
    .bind(w.objective)
    .bind(w.assessment)
    .bind(w.plan)
    .bind(w.diagnoses)
    .bind(w.prescriptions)
    .bind(w.follow_up_on)
    .bind(w.in_person_advised)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Replace a draft's content (a signed record is left alone).
pub async fn update_draft(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    w: &Written<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE clinical_records SET subjective = $2, objective = $3, assessment = $4, plan = $5, diagnoses = $6,
             prescriptions = $7, follow_up_on = $8, in_person_advised = $9, updated_at = $10
         WHERE record_id = $1 AND status = 'draft'",
    )
    .bind(id)
    .bind(w.subjective)
    .bind(w.objective)
    .bind(w.assessment)
    .bind(w.plan)
    .bind(w.diagnoses)
    .bind(w.prescriptions)
    .bind(w.follow_up_on)
    .bind(w.in_person_advised)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Sign a draft; how many rows changed.
pub async fn sign(ex: impl Into<Ex<'_>>, id: Uuid, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE clinical_records SET status = 'signed', signed_at = $2, updated_at = $2 WHERE record_id = $1 AND status = 'draft'",
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}
