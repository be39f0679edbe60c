//! HTTP: the resident's log of who read or wrote their medical data.

use chrono::{DateTime, Utc};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::views::PersonRef;
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{Problems, SIGNED_IN};
use crate::store::column::Spelled;
use crate::tags::ApiTags;
use crate::telehealth::Ctx;
use crate::telehealth::records::{self, AccessAction, AccessPurpose};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AccessView {
    id: Uuid,
    actor: PersonRef,
    actor_role: Spelled<Role>,
    action: AccessAction,
    record_id: Option<Uuid>,
    consultation_id: Option<Uuid>,
    /// Why: `treatment` (a doctor of the consultation) or `patient_access` (you).
    purpose: Spelled<AccessPurpose>,
    at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AccessPage {
    items: Vec<AccessView>,
    /// Pass as `before` for the next page.
    next_before: Option<Uuid>,
}

/// The access log of medical data.
pub struct RecordAccessApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::MedicalRecords")]
impl RecordAccessApi {
    /// Who read or wrote my medical data, newest first
    #[oai(
        path = "/v1/me/record-access",
        method = "get",
        operation_id = "me_record_access"
    )]
    async fn access_log(
        &self,
        auth: BearerAuth,
        before: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> Result<Json<AccessPage>, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        let limit = limit.0.unwrap_or(50);
        let rows = records::access_log(&self.state, &caller, before.0, limit).await?;
        let next_before = if rows.len() as i64 == limit {
            rows.last().map(|r| r.access_id)
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|r| AccessView {
                id: r.access_id,
                actor: PersonRef {
                    id: r.actor_id,
                    name: r.actor_name,
                    phone: None,
                },
                actor_role: Spelled(r.actor_role),
                action: r.action,
                record_id: r.record_id,
                consultation_id: r.consultation_id,
                purpose: Spelled(r.purpose),
                at: r.created_at,
            })
            .collect();
        Ok(Json(AccessPage { items, next_before }))
    }
}
