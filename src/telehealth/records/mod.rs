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
//! `audit`; everything public is re-exported here. Their SQL is in `telehealth::repo` (`records`,
//! `consent`, `audit`).

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::Tx;
use crate::telehealth::repo::records as repo;

pub use crate::telehealth::repo::records::{RecordRow, RecordStatus};

mod audit;
mod consent;
mod content;
mod reading;
mod writing;

pub use audit::{AccessAction, AccessPurpose, AccessRow, access_log};
pub use consent::{
    CONSENTS, ConsentKind, ConsentRow, ConsentText, consents_to, current, decide, has_consent,
    history,
};
pub use content::{Content, Diagnosis, PrescriptionItem, is_icd10};
pub use reading::{get, list};
pub use writing::{amend, create, sign, update};

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
    Ok(repo::record(tx, id).await?)
}
