//! HTTP: a station's on-demand waiting room: joining, the calling order, admitting, and doctors'
//! duty.

use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::views::{ConsultationCreated, ConsultationView, Done, consultation_view};
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::store::idempotency;
use crate::tags::ApiTags;
use crate::telehealth::queue;
use crate::telehealth::{Ctx, Symptom};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct JoinQueue {
    station_id: Uuid,
    #[oai(validator(max_length = 4000))]
    reason: String,
    symptom: Option<Symptom>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AdmitRequest {
    /// Admit this resident instead of the next in line.
    consultation_id: Option<Uuid>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DutyRequest {
    station_id: Uuid,
}

/// The waiting room and who is on duty.
pub struct WaitingRoomApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Telehealth")]
impl WaitingRoomApi {
    /// Join a station's waiting room now (residents)
    ///
    /// One live consultation per resident (409 `already_in_consultation`). The answer shows the
    /// place in the queue and an estimated wait. Send an `Idempotency-Key` so a retry returns the
    /// first answer.
    #[oai(
        path = "/v1/telehealth/queue",
        method = "post",
        operation_id = "telehealth_queue_join"
    )]
    async fn join_queue(
        &self,
        auth: BearerAuth,
        /// Unique per attempt, up to 100 characters.
        #[oai(name = "Idempotency-Key", validator(max_length = 100))]
        idempotency_key: Header<Option<String>>,
        body: Json<JoinQueue>,
    ) -> Result<ConsultationCreated, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>>
    {
        let caller = self
            .state
            .auth
            .caller_with(&auth, &[Role::Resident])
            .await?;
        let b = body.0;
        let key = match idempotency::start(
            &self.state.db,
            caller.account_id,
            "telehealth_queue_join",
            idempotency_key.0,
            &ToJSON::to_json(&b).unwrap_or_default(),
            self.state.clock.now(),
        )
        .await?
        {
            idempotency::Start::Go(k) => k,
            idempotency::Start::Replay(id) => {
                let (row, _) = queue::get(&self.state, &caller, id).await?;
                return Ok(ConsultationCreated::Created(Json(
                    consultation_view(&self.state, row).await?,
                )));
            }
        };
        let joined = queue::join(
            &self.state,
            &caller,
            b.station_id,
            &b.reason,
            b.symptom,
            key.as_ref(),
        )
        .await;
        let row = idempotency::settle(&self.state.db, key.as_ref(), joined).await?;
        crate::telehealth::live::nudge(&self.state, Some(row.station_id)).await;
        Ok(ConsultationCreated::Created(Json(
            consultation_view(&self.state, row).await?,
        )))
    }

    /// A station's waiting room in calling order (the station's doctors)
    #[oai(
        path = "/v1/telehealth/stations/:station_id/queue",
        method = "get",
        operation_id = "telehealth_queue"
    )]
    async fn station_queue(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
    ) -> Result<Json<Vec<ConsultationView>>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let rows = queue::station_queue(&self.state, &caller, station_id.0).await?;
        let mut out = vec![];
        for r in rows {
            out.push(consultation_view(&self.state, r).await?);
        }
        Ok(Json(out))
    }

    /// Admit the next resident (or a chosen one) from the waiting room (the station's doctors)
    ///
    /// The next is the first in calling order who has given consent and is meant for any doctor or
    /// for the caller. 404 `queue_empty` when there is nobody to admit; 409 `consent_required`
    /// for a chosen resident without consent.
    #[oai(
        path = "/v1/telehealth/stations/:station_id/queue/admit",
        method = "post",
        operation_id = "telehealth_queue_admit"
    )]
    async fn admit(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
        body: Json<AdmitRequest>,
    ) -> Result<Json<ConsultationView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::admit(&self.state, &caller, station_id.0, body.consultation_id).await?;
        crate::telehealth::live::nudge(&self.state, Some(row.station_id)).await;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Go on duty at a station (doctors): take on-demand patients
    #[oai(
        path = "/v1/telehealth/duty",
        method = "put",
        operation_id = "telehealth_duty_on"
    )]
    async fn duty_on(
        &self,
        auth: BearerAuth,
        body: Json<DutyRequest>,
    ) -> Result<Done, Problems<{ SIGNED_IN | NOT_FOUND | BODY }>> {
        let caller = self.state.auth.caller(&auth).await?;
        queue::set_duty(&self.state, &caller, Some(body.station_id)).await?;
        Ok(Done::Done)
    }

    /// Go off duty (doctors)
    #[oai(
        path = "/v1/telehealth/duty",
        method = "delete",
        operation_id = "telehealth_duty_off"
    )]
    async fn duty_off(&self, auth: BearerAuth) -> Result<Done, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        queue::set_duty(&self.state, &caller, None).await?;
        Ok(Done::Done)
    }
}
