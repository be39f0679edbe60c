//! HTTP: booked appointments: booking, listing, cancelling, rescheduling and checking in.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::views::{ConsultationCreated, consultation_view};
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::store::idempotency;
use crate::tags::ApiTags;
use crate::telehealth::schedule::{self, AppointmentRow, AppointmentStatus, NewBooking};
use crate::telehealth::{Ctx, Symptom};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AppointmentView {
    id: Uuid,
    status: AppointmentStatus,
    resident_id: Uuid,
    doctor_id: Uuid,
    station_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: String,
    symptom: Option<Symptom>,
    cancelled_by: Option<Uuid>,
    cancel_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn appointment_view(a: AppointmentRow) -> Result<AppointmentView, Error> {
    Ok(AppointmentView {
        id: a.appointment_id,
        status: a.status,
        resident_id: a.resident_id,
        doctor_id: a.doctor_id,
        station_id: a.station_id,
        start: a.starts_at,
        end: a.ends_at,
        symptom: a.symptom,
        reason: a.reason,
        cancelled_by: a.cancelled_by,
        cancel_reason: a.cancel_reason,
        created_at: a.created_at,
        updated_at: a.updated_at,
    })
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BookingRequest {
    doctor_id: Uuid,
    station_id: Uuid,
    /// The slot's start, as listed by `GET /v1/telehealth/slots`.
    start: DateTime<Utc>,
    #[oai(validator(max_length = 4000))]
    reason: String,
    symptom: Option<Symptom>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CancelRequest {
    #[oai(default, validator(max_length = 2000))]
    reason: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RescheduleRequest {
    start: DateTime<Utc>,
}

#[derive(ApiResponse)]
enum AppointmentCreated {
    /// Booked (or, for a retried `Idempotency-Key`, the first answer again).
    #[oai(status = 201)]
    Created(Json<AppointmentView>),
}

/// Appointments with a doctor at a station.
pub struct AppointmentsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Telehealth")]
impl AppointmentsApi {
    /// Book a slot (residents)
    ///
    /// Exactly one booking of a slot succeeds; the others get 409 `slot_taken`. Send an
    /// `Idempotency-Key` so a retry returns the first answer.
    #[oai(
        path = "/v1/telehealth/appointments",
        method = "post",
        operation_id = "telehealth_book"
    )]
    async fn book(
        &self,
        auth: BearerAuth,
        /// Unique per booking attempt, up to 100 characters.
        #[oai(name = "Idempotency-Key", validator(max_length = 100))]
        idempotency_key: Header<Option<String>>,
        body: Json<BookingRequest>,
    ) -> Result<AppointmentCreated, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>>
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
            "telehealth_book",
            idempotency_key.0,
            &ToJSON::to_json(&b).unwrap_or_default(),
            self.state.clock.now(),
        )
        .await?
        {
            idempotency::Start::Go(k) => k,
            idempotency::Start::Replay(id) => {
                let row = schedule::appointment(&self.state, &caller, id).await?;
                return Ok(AppointmentCreated::Created(Json(appointment_view(row)?)));
            }
        };
        let booked = schedule::book(
            &self.state,
            &caller,
            NewBooking {
                doctor_id: b.doctor_id,
                station_id: b.station_id,
                start: b.start,
                reason: b.reason,
                symptom: b.symptom,
            },
            key.as_ref(),
        )
        .await;
        let row = idempotency::settle(&self.state.db, key.as_ref(), booked).await?;
        Ok(AppointmentCreated::Created(Json(appointment_view(row)?)))
    }

    /// My appointments (residents: booked by me; doctors: booked with me)
    #[oai(
        path = "/v1/telehealth/appointments",
        method = "get",
        operation_id = "telehealth_appointments"
    )]
    async fn appointments(
        &self,
        auth: BearerAuth,
        /// Starting at or after (default 30 days ago).
        from: Query<Option<DateTime<Utc>>>,
        /// Starting before (default 90 days ahead).
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<Vec<AppointmentView>>, Problems<{ SIGNED_IN | INVALID }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let rows = schedule::appointments(&self.state, &caller, from.0, to.0).await?;
        Ok(Json(
            rows.into_iter()
                .map(appointment_view)
                .collect::<Result<_, _>>()?,
        ))
    }

    /// One appointment (its resident or doctor)
    #[oai(
        path = "/v1/telehealth/appointments/:appointment_id",
        method = "get",
        operation_id = "telehealth_appointment"
    )]
    async fn appointment(
        &self,
        auth: BearerAuth,
        appointment_id: Path<Uuid>,
    ) -> Result<Json<AppointmentView>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = schedule::appointment(&self.state, &caller, appointment_id.0).await?;
        Ok(Json(appointment_view(row)?))
    }

    /// Cancel an appointment
    ///
    /// The resident until `telehealth_cancel_cutoff_minutes` before the start (409 `cutoff_passed`
    /// after), the doctor at any time; the other side is notified.
    #[oai(
        path = "/v1/telehealth/appointments/:appointment_id/cancel",
        method = "post",
        operation_id = "telehealth_appointment_cancel"
    )]
    async fn cancel_appointment(
        &self,
        auth: BearerAuth,
        appointment_id: Path<Uuid>,
        body: Json<CancelRequest>,
    ) -> Result<
        Json<AppointmentView>,
        Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>,
    > {
        let caller = self.state.auth.caller(&auth).await?;
        let row = schedule::cancel(&self.state, &caller, appointment_id.0, &body.reason).await?;
        Ok(Json(appointment_view(row)?))
    }

    /// Move an appointment to another slot of the same doctor
    ///
    /// Same cut-off as cancelling for residents; the other side is notified.
    #[oai(
        path = "/v1/telehealth/appointments/:appointment_id/reschedule",
        method = "post",
        operation_id = "telehealth_appointment_reschedule"
    )]
    async fn reschedule(
        &self,
        auth: BearerAuth,
        appointment_id: Path<Uuid>,
        body: Json<RescheduleRequest>,
    ) -> Result<
        Json<AppointmentView>,
        Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY }>,
    > {
        let caller = self.state.auth.caller(&auth).await?;
        let row = schedule::reschedule(&self.state, &caller, appointment_id.0, body.start).await?;
        Ok(Json(appointment_view(row)?))
    }

    /// Check in for a booked appointment (its resident): enter the waiting room
    #[oai(
        path = "/v1/telehealth/appointments/:appointment_id/check-in",
        method = "post",
        operation_id = "telehealth_appointment_check_in"
    )]
    async fn check_in(
        &self,
        auth: BearerAuth,
        appointment_id: Path<Uuid>,
    ) -> Result<ConsultationCreated, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = schedule::check_in(&self.state, &caller, appointment_id.0).await?;
        crate::telehealth::live::nudge(&self.state, Some(row.station_id)).await;
        Ok(ConsultationCreated::Created(Json(
            consultation_view(&self.state, row).await?,
        )))
    }
}
