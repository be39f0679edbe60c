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

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use super::queue::{self, ConsultationStatus, Relation};
use super::{About, notify, send_pushes, validate_text};
use crate::auth::{Caller, Role};
use crate::error::{Error, FieldError, Result};
use crate::store::{Db, Tx};
use crate::telehealth::Ctx;
use crate::{on_db, on_tx};

// ---------------------------------------------------------------------------------------------
// Consent
// ---------------------------------------------------------------------------------------------

/// Which consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum ConsentKind {
    /// To be seen by video at all.
    Telehealth,
    /// To have the call recorded (off unless given).
    Recording,
}

impl ConsentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Telehealth => "telehealth",
            ConsentKind::Recording => "recording",
        }
    }
    pub fn parse(s: &str) -> Option<ConsentKind> {
        match s {
            "telehealth" => Some(ConsentKind::Telehealth),
            "recording" => Some(ConsentKind::Recording),
            _ => None,
        }
    }
}

/// A consent text residents read and accept.
#[derive(Debug, Clone, Copy)]
pub struct ConsentText {
    pub kind: ConsentKind,
    pub version: &'static str,
    pub text_vi: &'static str,
    pub text_en: &'static str,
}

/// The current texts. Changing a text means a new version: everyone accepts it again.
pub const CONSENTS: [ConsentText; 2] = [
    ConsentText {
        kind: ConsentKind::Telehealth,
        version: "2026-11-01",
        text_vi: "Tôi đồng ý được khám, tư vấn từ xa qua video với bác sĩ của Trạm Y tế phường. \
                  Tôi hiểu rằng khám từ xa có giới hạn so với khám trực tiếp, bác sĩ có thể đề nghị \
                  tôi đến khám tại trạm, và trong trường hợp cấp cứu tôi sẽ gọi 115. Thông tin khám \
                  bệnh của tôi chỉ bác sĩ tham gia buổi khám và tôi được xem; mọi lần truy cập đều \
                  được ghi lại và tôi có thể xem nhật ký truy cập.",
        text_en: "I agree to be seen and advised by video by doctors of the ward health station. I \
                  understand that a remote consultation has limits compared with an in-person visit, \
                  that the doctor may ask me to come to the station, and that in an emergency I will \
                  call 115. Only the doctors of the consultation and I can read my medical \
                  information; every access is logged and I can read the log.",
    },
    ConsentText {
        kind: ConsentKind::Recording,
        version: "2026-11-01",
        text_vi: "Tôi đồng ý để buổi khám từ xa được ghi lại nhằm bảo đảm chất lượng chuyên môn. \
                  Bản ghi được lưu trữ bảo mật và tôi có thể rút lại sự đồng ý này bất cứ lúc nào.",
        text_en: "I agree that my video consultations may be recorded for quality of care. \
                  Recordings are kept confidential, and I can withdraw this consent at any time.",
    },
];

pub fn current(kind: ConsentKind) -> ConsentText {
    match kind {
        ConsentKind::Telehealth => CONSENTS[0],
        ConsentKind::Recording => CONSENTS[1],
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub consent_id: Uuid,
    pub kind: String,
    pub version: String,
    pub accepted: bool,
    pub created_at: DateTime<Utc>,
}

/// Record a consent decision of the caller (residents) for the current version of a text.
pub async fn decide(
    state: &Ctx,
    caller: &Caller,
    kind: ConsentKind,
    version: &str,
    accepted: bool,
) -> Result<ConsentRow> {
    caller.require(&[Role::Resident])?;
    if version != current(kind).version {
        return Err(Error::Conflict("consent_version_outdated"));
    }
    let id = Uuid::now_v7();
    let now = state.clock.now();
    on_db!(&state.db, pool => sqlx::query(
        "INSERT INTO consents (consent_id, account_id, kind, version, accepted, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id)
    .bind(caller.account_id)
    .bind(kind.as_str())
    .bind(version)
    .bind(accepted)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(ConsentRow {
        consent_id: id,
        kind: kind.as_str().into(),
        version: version.into(),
        accepted,
        created_at: now,
    })
}

/// The caller's consent decisions, newest first.
pub async fn history(state: &Ctx, caller: &Caller) -> Result<Vec<ConsentRow>> {
    Ok(on_db!(&state.db, pool => sqlx::query_as::<_, ConsentRow>(
        "SELECT consent_id, kind, version, accepted, created_at FROM consents
         WHERE account_id = $1 ORDER BY created_at DESC, consent_id DESC LIMIT 200",
    )
    .bind(caller.account_id)
    .fetch_all(pool)
    .await)?)
}

/// Whether the resident's latest decision accepts the current version of `kind`.
pub async fn consents_to(db: &Db, resident: Uuid, kind: ConsentKind) -> Result<bool> {
    let latest = on_db!(db, pool => sqlx::query_as::<_, (String, bool)>(
        "SELECT version, accepted FROM consents WHERE account_id = $1 AND kind = $2
         ORDER BY created_at DESC, consent_id DESC LIMIT 1",
    )
    .bind(resident)
    .bind(kind.as_str())
    .fetch_optional(pool)
    .await)?;
    Ok(matches!(latest, Some((v, true)) if v == current(kind).version))
}

/// The telehealth consent admission requires.
pub async fn has_consent(state: &Ctx, resident: Uuid) -> Result<bool> {
    consents_to(&state.db, resident, ConsentKind::Telehealth).await
}

// ---------------------------------------------------------------------------------------------
// Clinical records
// ---------------------------------------------------------------------------------------------

/// A diagnosis: an ICD-10 code with its text.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Object,
)]
pub struct Diagnosis {
    /// ICD-10 code, e.g. `J06.9` (422 `invalid_icd10` otherwise).
    #[oai(validator(max_length = 40))]
    pub code: String,
    #[oai(validator(max_length = 300))]
    pub text: String,
}

/// One prescribed medicine (FHIR MedicationRequest).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Object,
)]
pub struct PrescriptionItem {
    /// Drug name (generic preferred), e.g. `Paracetamol`.
    #[oai(validator(max_length = 200))]
    pub drug: String,
    /// e.g. `500 mg`.
    #[oai(default, validator(max_length = 100))]
    #[serde(default)]
    pub strength: String,
    /// e.g. `1 viên` (one tablet).
    #[oai(validator(max_length = 100))]
    pub dose: String,
    /// e.g. `3 lần/ngày`.
    #[oai(validator(max_length = 100))]
    pub frequency: String,
    /// e.g. `5 ngày`.
    #[oai(validator(max_length = 100))]
    pub duration: String,
    /// e.g. `Uống sau ăn`.
    #[oai(default, validator(max_length = 500))]
    #[serde(default)]
    pub instructions: String,
}

/// What a doctor writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Content {
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    pub diagnoses: Vec<Diagnosis>,
    pub prescriptions: Vec<PrescriptionItem>,
    pub follow_up_on: Option<NaiveDate>,
    pub in_person_advised: bool,
}

/// ICD-10 code shape: a letter, two digits (the third character may be a letter in some national
/// extensions), then optionally a dot and up to four characters.
pub fn is_icd10(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() < 3 || b.len() > 8 {
        return false;
    }
    let head = b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_alphanumeric();
    let tail = match &b[3..] {
        [] => true,
        [b'.', rest @ ..] => {
            !rest.is_empty()
                && rest.len() <= 4
                && rest
                    .iter()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        }
        _ => false,
    };
    head && tail && !b[2].is_ascii_lowercase()
}

impl Content {
    /// Check every field; all problems are reported at once.
    pub fn validate(mut self, consultation_day: NaiveDate) -> Result<Content> {
        let mut errors: Vec<FieldError> = vec![];
        for (field, value) in [
            ("subjective", &mut self.subjective),
            ("objective", &mut self.objective),
            ("assessment", &mut self.assessment),
            ("plan", &mut self.plan),
        ] {
            match validate_text(value, field, 10_000) {
                Ok(v) => *value = v,
                Err(Error::Validation(mut e)) => errors.append(&mut e),
                Err(e) => return Err(e),
            }
        }
        if self.diagnoses.len() > 20 {
            errors.push(FieldError::new(
                "diagnoses",
                "too_many",
                "Tối đa 20 chẩn đoán",
                "At most 20 diagnoses",
            ));
        }
        for (i, d) in self.diagnoses.iter_mut().enumerate() {
            d.code = d.code.trim().to_ascii_uppercase();
            if !is_icd10(&d.code) {
                errors.push(FieldError::new(
                    &format!("diagnoses[{i}].code"),
                    "invalid_icd10",
                    "Mã ICD-10 không hợp lệ (ví dụ J06.9)",
                    "Not an ICD-10 code (e.g. J06.9)",
                ));
            }
            match validate_text(&d.text, &format!("diagnoses[{i}].text"), 300) {
                Ok(t) => d.text = t,
                Err(Error::Validation(mut e)) => errors.append(&mut e),
                Err(e) => return Err(e),
            }
        }
        if self.prescriptions.len() > 30 {
            errors.push(FieldError::new(
                "prescriptions",
                "too_many",
                "Tối đa 30 thuốc",
                "At most 30 items",
            ));
        }
        for (i, p) in self.prescriptions.iter_mut().enumerate() {
            for (name, value, required) in [
                ("drug", &mut p.drug, true),
                ("strength", &mut p.strength, false),
                ("dose", &mut p.dose, true),
                ("frequency", &mut p.frequency, true),
                ("duration", &mut p.duration, true),
                ("instructions", &mut p.instructions, false),
            ] {
                let field = format!("prescriptions[{i}].{name}");
                match validate_text(value, &field, 500) {
                    Ok(v) if required && v.is_empty() => {
                        errors.push(FieldError::new(&field, "required", "Bắt buộc", "Required"))
                    }
                    Ok(v) => *value = v,
                    Err(Error::Validation(mut e)) => errors.append(&mut e),
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(day) = self.follow_up_on
            && (day < consultation_day || day > consultation_day + Duration::days(366))
        {
            errors.push(FieldError::new(
                "follow_up_on",
                "invalid_follow_up",
                "Ngày tái khám phải trong vòng một năm sau buổi khám",
                "Follow-up must be within a year after the consultation",
            ));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(Error::Validation(errors))
        }
    }
}

/// A record status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum RecordStatus {
    Draft,
    Signed,
}

macro_rules! record_columns {
    () => {
        "r.record_id, r.consultation_id, r.resident_id, r.author_id, r.version, r.supersedes, r.status, r.subjective, r.objective, r.assessment, r.plan, r.diagnoses, r.prescriptions, r.follow_up_on, r.in_person_advised, r.signed_at, r.created_at, r.updated_at, (SELECT n.record_id FROM clinical_records n WHERE n.supersedes = r.record_id) AS superseded_by"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordRow {
    pub record_id: Uuid,
    pub consultation_id: Uuid,
    pub resident_id: Uuid,
    pub author_id: Uuid,
    pub version: i32,
    pub supersedes: Option<Uuid>,
    pub status: String,
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
    pub fn status(&self) -> RecordStatus {
        if self.status == "signed" {
            RecordStatus::Signed
        } else {
            RecordStatus::Draft
        }
    }
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

/// What was done to clinical data, for the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum AccessAction {
    Read,
    List,
    Create,
    Update,
    Sign,
    Amend,
}

impl AccessAction {
    fn as_str(self) -> &'static str {
        match self {
            AccessAction::Read => "read",
            AccessAction::List => "list",
            AccessAction::Create => "create",
            AccessAction::Update => "update",
            AccessAction::Sign => "sign",
            AccessAction::Amend => "amend",
        }
    }
    pub fn parse(s: &str) -> Option<AccessAction> {
        [
            AccessAction::Read,
            AccessAction::List,
            AccessAction::Create,
            AccessAction::Update,
            AccessAction::Sign,
            AccessAction::Amend,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// Why the data was touched: the doctors' treatment of this patient, or the patient reading their
/// own record.
fn purpose(caller: &Caller) -> &'static str {
    if caller.role == Role::Resident {
        "patient_access"
    } else {
        "treatment"
    }
}

/// Write one access-log row inside the transaction that reads or writes the data.
async fn audit(
    tx: &mut Tx,
    resident: Uuid,
    caller: &Caller,
    action: AccessAction,
    record: Option<Uuid>,
    consultation: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO record_access (access_id, resident_id, actor_id, actor_role, action, record_id, consultation_id, purpose, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(resident)
    .bind(caller.account_id)
    .bind(caller.role.as_str())
    .bind(action.as_str())
    .bind(record)
    .bind(consultation)
    .bind(purpose(caller))
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The consultation, if the caller is one of its doctors (404 for other doctors and residents,
/// 403 for staff and admins).
async fn as_consultation_doctor(
    state: &Ctx,
    caller: &Caller,
    consultation: Uuid,
) -> Result<queue::ConsultationRow> {
    caller.require(&[Role::Doctor, Role::Resident])?;
    let (row, rel) = queue::get(state, caller, consultation).await?;
    match rel {
        Relation::Participant(_) => Ok(row),
        Relation::StationDoctor => Err(Error::NotFound("consultation_not_found")),
        Relation::Patient => Err(Error::Forbidden),
    }
}

/// Start the caller's record of a consultation (a doctor in it, once the call has begun).
pub async fn create(
    state: &Ctx,
    caller: &Caller,
    consultation: Uuid,
    content: Content,
) -> Result<RecordRow> {
    let c = as_consultation_doctor(state, caller, consultation).await?;
    if !matches!(
        c.status()?,
        ConsultationStatus::InCall | ConsultationStatus::Ended
    ) {
        return Err(Error::Conflict("consultation_not_started"));
    }
    let offset = super::ward_offset(state);
    let day = c
        .call_started_at
        .unwrap_or(c.created_at)
        .with_timezone(&offset)
        .date_naive();
    let content = content.validate(day)?;
    let now = state.clock.now();
    let id = Uuid::now_v7();
    let mut tx = state.db.begin().await?;
    let existing = on_tx!(&mut tx, conn => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM clinical_records WHERE consultation_id = $1 AND author_id = $2",
    )
    .bind(consultation)
    .bind(caller.account_id)
    .fetch_one(conn)
    .await)?;
    if existing > 0 {
        return Err(Error::Conflict("record_exists"));
    }
    insert(&mut tx, id, &c, caller.account_id, 1, None, &content, now).await?;
    audit(
        &mut tx,
        c.resident_id,
        caller,
        AccessAction::Create,
        Some(id),
        Some(consultation),
        now,
    )
    .await?;
    let row = record_row_tx(&mut tx, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("record vanished")))?;
    tx.commit().await?;
    Ok(row)
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &mut Tx,
    id: Uuid,
    c: &queue::ConsultationRow,
    author: Uuid,
    version: i32,
    supersedes: Option<Uuid>,
    content: &Content,
    now: DateTime<Utc>,
) -> Result<()> {
    let diagnoses = serde_json::to_string(&content.diagnoses).map_err(anyhow::Error::from)?;
    let prescriptions =
        serde_json::to_string(&content.prescriptions).map_err(anyhow::Error::from)?;
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO clinical_records (record_id, consultation_id, resident_id, author_id, version, supersedes, status,
             subjective, objective, assessment, plan, diagnoses, prescriptions, follow_up_on, in_person_advised, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
    )
    .bind(id)
    .bind(c.consultation_id)
    .bind(c.resident_id)
    .bind(author)
    .bind(version)
    .bind(supersedes)
    .bind(&content.subjective)
    .bind(&content.objective)
    .bind(&content.assessment)
    .bind(&content.plan)
    .bind(&diagnoses)
    .bind(&prescriptions)
    .bind(content.follow_up_on)
    .bind(content.in_person_advised)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A record the caller authored, still open to change.
async fn own_draft(
    state: &Ctx,
    tx: &mut Tx,
    caller: &Caller,
    id: Uuid,
) -> Result<(RecordRow, queue::ConsultationRow)> {
    caller.require(&[Role::Doctor, Role::Resident])?;
    let row = record_row_tx(tx, id)
        .await?
        .ok_or(Error::NotFound("record_not_found"))?;
    // Not a doctor of the consultation: the record does not exist for them.
    let c = as_consultation_doctor(state, caller, row.consultation_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) | Error::Forbidden => Error::NotFound("record_not_found"),
            other => other,
        })?;
    if row.author_id != caller.account_id {
        return Err(Error::Conflict("not_author"));
    }
    if row.status() == RecordStatus::Signed {
        return Err(Error::Conflict("record_signed"));
    }
    Ok((row, c))
}

/// Replace the content of the caller's draft.
pub async fn update(state: &Ctx, caller: &Caller, id: Uuid, content: Content) -> Result<RecordRow> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let (row, c) = own_draft(state, &mut tx, caller, id).await?;
    let day = c
        .call_started_at
        .unwrap_or(c.created_at)
        .with_timezone(&super::ward_offset(state))
        .date_naive();
    let content = content.validate(day)?;
    let diagnoses = serde_json::to_string(&content.diagnoses).map_err(anyhow::Error::from)?;
    let prescriptions =
        serde_json::to_string(&content.prescriptions).map_err(anyhow::Error::from)?;
    on_tx!(&mut tx, conn => sqlx::query(
        "UPDATE clinical_records SET subjective = $2, objective = $3, assessment = $4, plan = $5, diagnoses = $6,
             prescriptions = $7, follow_up_on = $8, in_person_advised = $9, updated_at = $10
         WHERE record_id = $1 AND status = 'draft'",
    )
    .bind(id)
    .bind(&content.subjective)
    .bind(&content.objective)
    .bind(&content.assessment)
    .bind(&content.plan)
    .bind(&diagnoses)
    .bind(&prescriptions)
    .bind(content.follow_up_on)
    .bind(content.in_person_advised)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    audit(
        &mut tx,
        row.resident_id,
        caller,
        AccessAction::Update,
        Some(id),
        Some(row.consultation_id),
        now,
    )
    .await?;
    let row = record_row_tx(&mut tx, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("record vanished")))?;
    tx.commit().await?;
    Ok(row)
}

/// Sign the caller's draft: from now on it never changes. The resident is told it is ready.
pub async fn sign(state: &Ctx, caller: &Caller, id: Uuid) -> Result<RecordRow> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let (row, _) = own_draft(state, &mut tx, caller, id).await?;
    let n = on_tx!(&mut tx, conn => sqlx::query(
        "UPDATE clinical_records SET status = 'signed', signed_at = $2, updated_at = $2 WHERE record_id = $1 AND status = 'draft'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if n != 1 {
        return Err(Error::Conflict("record_signed"));
    }
    audit(
        &mut tx,
        row.resident_id,
        caller,
        AccessAction::Sign,
        Some(id),
        Some(row.consultation_id),
        now,
    )
    .await?;
    let push = notify(
        &mut tx,
        row.resident_id,
        About::Consultation(row.consultation_id),
        "record_signed",
        "Kết quả buổi khám từ xa của bạn đã sẵn sàng.".into(),
        "The notes of your video consultation are ready.".into(),
        now,
    )
    .await?;
    let row = record_row_tx(&mut tx, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("record vanished")))?;
    tx.commit().await?;
    send_pushes(&*state.notifier, vec![push]).await;
    Ok(row)
}

/// Amend a signed record: a new draft version with the same content, superseding it.
pub async fn amend(state: &Ctx, caller: &Caller, id: Uuid) -> Result<RecordRow> {
    caller.require(&[Role::Doctor, Role::Resident])?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let row = record_row_tx(&mut tx, id)
        .await?
        .ok_or(Error::NotFound("record_not_found"))?;
    let c = as_consultation_doctor(state, caller, row.consultation_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) | Error::Forbidden => Error::NotFound("record_not_found"),
            other => other,
        })?;
    if row.author_id != caller.account_id {
        return Err(Error::Conflict("not_author"));
    }
    if row.status() != RecordStatus::Signed {
        return Err(Error::Conflict("record_not_signed"));
    }
    if row.superseded_by.is_some() {
        return Err(Error::Conflict("record_superseded"));
    }
    let new_id = Uuid::now_v7();
    let content = row.content()?;
    insert(
        &mut tx,
        new_id,
        &c,
        caller.account_id,
        row.version + 1,
        Some(id),
        &content,
        now,
    )
    .await?;
    audit(
        &mut tx,
        row.resident_id,
        caller,
        AccessAction::Amend,
        Some(new_id),
        Some(row.consultation_id),
        now,
    )
    .await?;
    let new = record_row_tx(&mut tx, new_id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("record vanished")))?;
    tx.commit().await?;
    Ok(new)
}

/// May the caller read this record? The resident: their own, once signed. A doctor: any version of
/// a consultation they are in. Anyone else: it does not exist (404); staff and admins: 403.
async fn may_read(state: &Ctx, caller: &Caller, row: &RecordRow) -> Result<()> {
    match caller.role {
        Role::Staff | Role::Admin => Err(Error::Forbidden),
        Role::Resident => {
            if row.resident_id == caller.account_id && row.status() == RecordStatus::Signed {
                Ok(())
            } else {
                Err(Error::NotFound("record_not_found"))
            }
        }
        Role::Doctor => {
            let doctors = queue::doctors_of(&state.db, row.consultation_id).await?;
            if doctors.iter().any(|(d, _)| *d == caller.account_id) {
                Ok(())
            } else {
                Err(Error::NotFound("record_not_found"))
            }
        }
    }
}

/// Read one record; the read is logged first (no log, no data).
pub async fn get(state: &Ctx, caller: &Caller, id: Uuid) -> Result<RecordRow> {
    let row = on_db!(&state.db, pool => sqlx::query_as::<_, RecordRow>(concat!(
        "SELECT ", record_columns!(), " FROM clinical_records r WHERE r.record_id = $1",
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)?
    .ok_or(Error::NotFound("record_not_found"))?;
    may_read(state, caller, &row).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    audit(
        &mut tx,
        row.resident_id,
        caller,
        AccessAction::Read,
        Some(id),
        Some(row.consultation_id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// A history list: the resident's signed records (every version), or the records of the
/// consultations a doctor took part in; optionally of one consultation. Newest first.
pub async fn list(
    state: &Ctx,
    caller: &Caller,
    consultation: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RecordRow>> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let rows = if caller.role == Role::Resident {
        on_db!(&state.db, pool => sqlx::query_as::<_, RecordRow>(concat!(
            "SELECT ", record_columns!(), " FROM clinical_records r
             WHERE r.resident_id = $1 AND r.status = 'signed' AND ($2 IS NULL OR r.consultation_id = $2)
             ORDER BY r.created_at DESC, r.record_id DESC LIMIT $3",
        ))
        .bind(caller.account_id)
        .bind(consultation)
        .bind(limit)
        .fetch_all(pool)
        .await)?
    } else {
        on_db!(&state.db, pool => sqlx::query_as::<_, RecordRow>(concat!(
            "SELECT ", record_columns!(), " FROM clinical_records r
             WHERE r.consultation_id IN (SELECT consultation_id FROM consultation_doctors WHERE doctor_id = $1)
               AND ($2 IS NULL OR r.consultation_id = $2)
             ORDER BY r.created_at DESC, r.record_id DESC LIMIT $3",
        ))
        .bind(caller.account_id)
        .bind(consultation)
        .bind(limit)
        .fetch_all(pool)
        .await)?
    };
    if !rows.is_empty() {
        let now = state.clock.now();
        let mut tx = state.db.begin().await?;
        let mut seen = std::collections::BTreeSet::new();
        for r in &rows {
            // One log row per patient and consultation whose records were listed.
            if seen.insert((r.resident_id, r.consultation_id)) {
                audit(
                    &mut tx,
                    r.resident_id,
                    caller,
                    AccessAction::List,
                    None,
                    Some(r.consultation_id),
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(rows)
}

/// One access-log entry as the resident sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessRow {
    pub access_id: Uuid,
    pub actor_id: Uuid,
    pub actor_name: String,
    pub actor_role: String,
    pub action: String,
    pub record_id: Option<Uuid>,
    pub consultation_id: Option<Uuid>,
    pub purpose: String,
    pub created_at: DateTime<Utc>,
}

/// Who touched the caller's medical data, newest first (cursor: `before` an access id).
pub async fn access_log(
    state: &Ctx,
    caller: &Caller,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AccessRow>> {
    Ok(on_db!(&state.db, pool => sqlx::query_as::<_, AccessRow>(
        "SELECT l.access_id, l.actor_id, a.display_name AS actor_name, l.actor_role, l.action, l.record_id,
                l.consultation_id, l.purpose, l.created_at
         FROM record_access l JOIN accounts a ON a.account_id = l.actor_id
         WHERE l.resident_id = $1 AND ($2 IS NULL OR l.access_id < $2)
         ORDER BY l.access_id DESC LIMIT $3",
    )
    .bind(caller.account_id)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_codes_are_recognised() {
        for ok in ["J06.9", "A09", "E11.65", "I10", "U07.1", "S52.5"] {
            assert!(is_icd10(ok), "{ok}");
        }
        for bad in [
            "j06.9",
            "J6",
            "J06.",
            "J06.12345",
            "06.9",
            "J06-9",
            "J06.9 ",
            "",
        ] {
            assert!(!is_icd10(bad), "{bad}");
        }
    }

    #[test]
    fn content_validation_reports_every_field() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
        let bad = Content {
            diagnoses: vec![Diagnosis {
                code: "nope".into(),
                text: "x".into(),
            }],
            prescriptions: vec![PrescriptionItem {
                drug: "".into(),
                strength: "".into(),
                dose: "1".into(),
                frequency: "2".into(),
                duration: "3".into(),
                instructions: "".into(),
            }],
            follow_up_on: Some(day - Duration::days(1)),
            ..Content::default()
        };
        let Err(Error::Validation(errors)) = bad.validate(day) else {
            panic!("should fail");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["diagnoses[0].code", "prescriptions[0].drug", "follow_up_on"]
        );
        let good = Content {
            subjective: " Ho 3 ngày ".into(),
            diagnoses: vec![Diagnosis {
                code: "j06.9".into(),
                text: "Viêm họng cấp".into(),
            }],
            ..Content::default()
        };
        let Ok(good) = good.validate(day) else {
            panic!("should pass");
        };
        assert_eq!(good.diagnoses[0].code, "J06.9");
        assert_eq!(good.subjective, "Ho 3 ngày");
    }

    #[test]
    fn consent_kinds_round_trip() {
        for k in [ConsentKind::Telehealth, ConsentKind::Recording] {
            assert_eq!(ConsentKind::parse(k.as_str()), Some(k));
            assert_eq!(current(k).kind, k);
        }
    }
}
