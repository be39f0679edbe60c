//! HTTP: clinical records of a consultation: writing, signing, amending and reading them.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::views::{PersonRef, name_of};
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::tags::ApiTags;
use crate::telehealth::Ctx;
use crate::telehealth::records::{
    self, Content, Diagnosis, PrescriptionItem, RecordRow, RecordStatus,
};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RecordInput {
    #[oai(default, validator(max_length = 40000))]
    subjective: String,
    #[oai(default, validator(max_length = 40000))]
    objective: String,
    #[oai(default, validator(max_length = 40000))]
    assessment: String,
    #[oai(default, validator(max_length = 40000))]
    plan: String,
    #[oai(default, validator(max_items = 20))]
    diagnoses: Vec<Diagnosis>,
    #[oai(default, validator(max_items = 30))]
    prescriptions: Vec<PrescriptionItem>,
    follow_up_on: Option<NaiveDate>,
    /// The doctor advises coming to the station in person.
    #[oai(default)]
    in_person_advised: bool,
}

impl From<RecordInput> for Content {
    fn from(r: RecordInput) -> Self {
        Content {
            subjective: r.subjective,
            objective: r.objective,
            assessment: r.assessment,
            plan: r.plan,
            diagnoses: r.diagnoses,
            prescriptions: r.prescriptions,
            follow_up_on: r.follow_up_on,
            in_person_advised: r.in_person_advised,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RecordView {
    id: Uuid,
    consultation_id: Uuid,
    resident_id: Uuid,
    author: PersonRef,
    version: i32,
    /// The version this one amends.
    supersedes: Option<Uuid>,
    /// The amendment that replaced this version, if any.
    superseded_by: Option<Uuid>,
    status: RecordStatus,
    subjective: String,
    objective: String,
    assessment: String,
    plan: String,
    diagnoses: Vec<Diagnosis>,
    prescriptions: Vec<PrescriptionItem>,
    follow_up_on: Option<NaiveDate>,
    in_person_advised: bool,
    signed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

async fn record_view(state: &Ctx, r: RecordRow) -> Result<RecordView, Error> {
    let content = r.content()?;
    Ok(RecordView {
        id: r.record_id,
        consultation_id: r.consultation_id,
        resident_id: r.resident_id,
        author: PersonRef {
            id: r.author_id,
            name: name_of(state, r.author_id).await?,
            phone: None,
        },
        version: r.version,
        supersedes: r.supersedes,
        superseded_by: r.superseded_by,
        status: r.status,
        subjective: content.subjective,
        objective: content.objective,
        assessment: content.assessment,
        plan: content.plan,
        diagnoses: content.diagnoses,
        prescriptions: content.prescriptions,
        follow_up_on: content.follow_up_on,
        in_person_advised: content.in_person_advised,
        signed_at: r.signed_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

#[derive(ApiResponse)]
enum RecordCreated {
    /// Created as a draft.
    #[oai(status = 201)]
    Created(Json<RecordView>),
}

/// Clinical records.
pub struct ClinicalRecordsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::MedicalRecords")]
impl ClinicalRecordsApi {
    /// Start my record of a consultation (its doctors, once the call has begun)
    ///
    /// One record per doctor and consultation (409 `record_exists`; amend a signed one instead).
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/records",
        method = "post",
        operation_id = "telehealth_record_create"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<RecordInput>,
    ) -> Result<RecordCreated, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>>
    {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::create(&self.state, &caller, consultation_id.0, body.0.into()).await?;
        Ok(RecordCreated::Created(Json(
            record_view(&self.state, row).await?,
        )))
    }

    /// Medical records: residents' own signed records, doctors' records of their consultations
    ///
    /// Newest first. Every listing is written to the resident's access log.
    #[oai(
        path = "/v1/telehealth/records",
        method = "get",
        operation_id = "telehealth_records"
    )]
    async fn list(
        &self,
        auth: BearerAuth,
        consultation_id: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> Result<Json<Vec<RecordView>>, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        let rows = records::list(
            &self.state,
            &caller,
            consultation_id.0,
            limit.0.unwrap_or(50),
        )
        .await?;
        let mut out = vec![];
        for r in rows {
            out.push(record_view(&self.state, r).await?);
        }
        Ok(Json(out))
    }

    /// One medical record (the resident once signed; the consultation's doctors)
    ///
    /// Staff and admins never read clinical content (403). The read is written to the resident's
    /// access log.
    #[oai(
        path = "/v1/telehealth/records/:record_id",
        method = "get",
        operation_id = "telehealth_record"
    )]
    async fn get(
        &self,
        auth: BearerAuth,
        record_id: Path<Uuid>,
    ) -> Result<Json<RecordView>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::get(&self.state, &caller, record_id.0).await?;
        Ok(Json(record_view(&self.state, row).await?))
    }

    /// Replace the content of my draft record (its author)
    ///
    /// 409 `record_signed` once signed: amend instead.
    #[oai(
        path = "/v1/telehealth/records/:record_id",
        method = "put",
        operation_id = "telehealth_record_update"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        record_id: Path<Uuid>,
        body: Json<RecordInput>,
    ) -> Result<Json<RecordView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>>
    {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::update(&self.state, &caller, record_id.0, body.0.into()).await?;
        Ok(Json(record_view(&self.state, row).await?))
    }

    /// Sign my draft record: it never changes again; the resident is notified (its author)
    #[oai(
        path = "/v1/telehealth/records/:record_id/sign",
        method = "post",
        operation_id = "telehealth_record_sign"
    )]
    async fn sign(
        &self,
        auth: BearerAuth,
        record_id: Path<Uuid>,
    ) -> Result<Json<RecordView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::sign(&self.state, &caller, record_id.0).await?;
        Ok(Json(record_view(&self.state, row).await?))
    }

    /// Amend a signed record: a new draft version superseding it (its author)
    #[oai(
        path = "/v1/telehealth/records/:record_id/amend",
        method = "post",
        operation_id = "telehealth_record_amend"
    )]
    async fn amend(
        &self,
        auth: BearerAuth,
        record_id: Path<Uuid>,
    ) -> Result<RecordCreated, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::amend(&self.state, &caller, record_id.0).await?;
        Ok(RecordCreated::Created(Json(
            record_view(&self.state, row).await?,
        )))
    }
}
