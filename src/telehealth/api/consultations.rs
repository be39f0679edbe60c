//! HTTP: consultations (encounters) and their lifecycle: listing, requeue, transfer, decline,
//! cancel, start, end, specialists and rating.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::views::{ConsultationView, consultation_view};
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::tags::ApiTags;
use crate::telehealth::queue::{self, ConsultationStatus, Relation};
use crate::telehealth::{Ctx, live};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DoctorRef {
    doctor_id: Uuid,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeclineRequest {
    /// Shown to the resident, e.g. "please come to the station".
    #[oai(default, validator(max_length = 2000))]
    reason: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RatingRequest {
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    stars: i32,
    #[oai(default, validator(max_length = 4000))]
    comment: String,
}

/// A consultation once it exists, from the waiting room to the rating.
pub struct ConsultationsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Telehealth")]
impl ConsultationsApi {
    /// My consultations, newest first (residents: mine; doctors: those I took part in)
    #[oai(
        path = "/v1/telehealth/consultations",
        method = "get",
        operation_id = "telehealth_consultations"
    )]
    async fn consultations(
        &self,
        auth: BearerAuth,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> Result<Json<Vec<ConsultationView>>, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        let rows = queue::mine(&self.state, &caller, limit.0.unwrap_or(50)).await?;
        let mut out = vec![];
        for r in rows {
            out.push(consultation_view(&self.state, r).await?);
        }
        Ok(Json(out))
    }

    /// One consultation (its resident and doctors; the station's doctors while it waits)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id",
        method = "get",
        operation_id = "telehealth_consultation"
    )]
    async fn consultation(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let (row, relation) = queue::get(&self.state, &caller, consultation_id.0).await?;
        let in_call = matches!(
            row.status,
            ConsultationStatus::Admitted | ConsultationStatus::InCall
        );
        let resident = row.resident_id;
        let mut view = consultation_view(&self.state, row).await?;
        // The fallback ladder's last rung: the doctors in the call may phone the resident.
        if in_call && matches!(relation, Relation::Participant(_)) {
            view.resident.phone = crate::auth::repo::account_by_id(&self.state.db, resident)
                .await?
                .map(|a| a.phone);
        }
        Ok(Json(view))
    }

    /// Put an admitted resident back in the waiting room, keeping their place (admitting doctor)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/requeue",
        method = "post",
        operation_id = "telehealth_consultation_requeue"
    )]
    async fn requeue(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::requeue(&self.state, &caller, consultation_id.0).await?;
        live::nudge(&self.state, Some(row.station_id)).await;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Transfer to a colleague at the same station (back in the waiting room, meant for them)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/transfer",
        method = "post",
        operation_id = "telehealth_consultation_transfer"
    )]
    async fn transfer(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<DoctorRef>,
    ) -> Result<
        Json<ConsultationView>,
        Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>,
    > {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::transfer(&self.state, &caller, consultation_id.0, body.doctor_id).await?;
        live::nudge(&self.state, Some(row.station_id)).await;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Decline a waiting or admitted resident, with a reason they read (doctors)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/decline",
        method = "post",
        operation_id = "telehealth_consultation_decline"
    )]
    async fn decline(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<DeclineRequest>,
    ) -> Result<
        Json<ConsultationView>,
        Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>,
    > {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::decline(&self.state, &caller, consultation_id.0, &body.reason).await?;
        live::nudge(&self.state, Some(row.station_id)).await;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Leave the waiting room (the resident)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/cancel",
        method = "post",
        operation_id = "telehealth_consultation_cancel"
    )]
    async fn cancel_consultation(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::cancel(&self.state, &caller, consultation_id.0).await?;
        live::nudge(&self.state, Some(row.station_id)).await;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Mark the call as connected (admitting doctor)
    ///
    /// The WebRTC room does this by itself when both sides connect; this is for a call held by
    /// other means (e.g. the doctor phoned).
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/start",
        method = "post",
        operation_id = "telehealth_consultation_start"
    )]
    async fn start(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::start(&self.state, &caller, consultation_id.0).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// End the call (admitting doctor, or the resident hanging up)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/end",
        method = "post",
        operation_id = "telehealth_consultation_end"
    )]
    async fn end(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::end(&self.state, &caller, consultation_id.0).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Invite a specialist (any doctor, e.g. from a city hospital) into the consultation (admitting doctor)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/specialists",
        method = "post",
        operation_id = "telehealth_consultation_invite"
    )]
    async fn invite(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<DoctorRef>,
    ) -> Result<Json<ConsultationView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::invite(&self.state, &caller, consultation_id.0, body.doctor_id).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Rate an ended consultation, once (the resident)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/rating",
        method = "post",
        operation_id = "telehealth_consultation_rate"
    )]
    async fn rate(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<RatingRequest>,
    ) -> Result<
        Json<ConsultationView>,
        Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>,
    > {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::rate(
            &self.state,
            &caller,
            consultation_id.0,
            body.stars,
            &body.comment,
        )
        .await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }
}
