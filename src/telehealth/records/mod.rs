//! Consent, clinical records and the audit trail of medical data.
//!
//! - Consent (FHIR Consent): a resident accepts the current telehealth consent text before their
//!   first consultation; recording consent is separate and off unless given. Decisions are
//!   append-only rows; the latest per kind holds. No consent, no admission.
//! - Clinical records: SOAP notes, ICD-10 diagnoses, prescription items (FHIR MedicationRequest),
//!   follow-up date and in-person advice, written by each doctor of the consultation. A draft is
//!   editable by its author; signing freezes it (the database refuses any change to a signed row);
//!   an amendment is a new version that supersedes the last.
//! - Every read and write of a record leaves a row in `record_access` (who, what, when, why) in the
//!   same transaction, and the resident can list them. Staff and admins never reach this content.
//!
//! The use cases are in `consent`, `content` (what a doctor writes), `writing`, `reading` and
//! `audit`; everything public is re-exported here.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::on_tx;
use crate::store::Tx;

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

macro_rules! record_columns {
    () => {
        "r.record_id, r.consultation_id, r.resident_id, r.author_id, r.version, r.supersedes, r.status, r.subjective, r.objective, r.assessment, r.plan, r.diagnoses, r.prescriptions, r.follow_up_on, r.in_person_advised, r.signed_at, r.created_at, r.updated_at, (SELECT n.record_id FROM clinical_records n WHERE n.supersedes = r.record_id) AS superseded_by"
    };
}

// Declared after `record_columns!` so the use cases can expand it.
mod audit;
mod consent;
mod content;
mod reading;
mod writing;

pub use audit::{AccessAction, AccessRow, access_log};
pub use consent::{
    CONSENTS, ConsentKind, ConsentRow, ConsentText, consents_to, current, decide, has_consent,
    history,
};
pub use content::{Content, Diagnosis, PrescriptionItem, is_icd10};
pub use reading::{get, list};
pub use writing::{amend, create, sign, update};

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

impl RecordRow {
    pub fn content(&self) -> Result<Content> {
        let bad =
            |e: serde_json::Error| Error::Internal(anyhow::anyhow!("stored record JSON: {e}"));
        Ok(Content {
            subjective: self.subjective.clone(),
            objective: self.objective.clone(),
            assessment: self.assessment.clone(),
            plan: self.plan.clone(),
            diagnoses: serde_json::from_str(&self.diagnoses).map_err(bad)?,
            prescriptions: serde_json::from_str(&self.prescriptions).map_err(bad)?,
            follow_up_on: self.follow_up_on,
            in_person_advised: self.in_person_advised,
        })
    }
}

async fn record_row_tx(tx: &mut Tx, id: Uuid) -> Result<Option<RecordRow>> {
    Ok(on_tx!(tx, conn => sqlx::query_as::<_, RecordRow>(concat!(
        "SELECT ", record_columns!(), " FROM clinical_records r WHERE r.record_id = $1",
    ))
    .bind(id)
    .fetch_optional(conn)
    .await)?)
}
