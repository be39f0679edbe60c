//! The views several telehealth resources answer with: people, consultations, and the shared
//! responses.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use uuid::Uuid;

use crate::error::Error;
use crate::telehealth::queue::{self, ConsultationRow, ConsultationStatus, ParticipantRole};
use crate::telehealth::{Ctx, Symptom, readiness, records};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(super) struct PersonRef {
    pub(super) id: Uuid,
    pub(super) name: String,
    /// The resident's phone, for the doctors in the call while it is live (to call them when
    /// video fails); to nobody else.
    pub(super) phone: Option<String>,
}

/// The resident's latest pre-call test (within a day), shown while the consultation is live.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ReadinessView {
    /// `video_ok`, `audio_only` or `cannot_connect`.
    verdict: crate::rtc::echo::Verdict,
    /// Round trip measured by the test.
    rtt_ms: Option<f64>,
    /// The test's media needed a TURN relay.
    relay: bool,
    checked_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsultationDoctor {
    id: Uuid,
    name: String,
    role: ParticipantRole,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(super) struct ConsultationView {
    id: Uuid,
    station_id: Uuid,
    status: ConsultationStatus,
    /// The patient (shown to doctors).
    pub(super) resident: PersonRef,
    /// The doctor it is with, or (while waiting) meant for.
    doctor_id: Option<Uuid>,
    appointment_id: Option<Uuid>,
    doctors: Vec<ConsultationDoctor>,
    reason: String,
    symptom: Option<Symptom>,
    /// The resident has not accepted the current telehealth consent: no admission until they do.
    consent_needed: bool,
    /// Place in the waiting room (1 = next), while waiting.
    position: Option<i64>,
    estimated_wait_minutes: Option<i64>,
    queued_at: DateTime<Utc>,
    admitted_at: Option<DateTime<Utc>>,
    /// An admitted resident who has not connected by then has missed the call.
    answer_by: Option<DateTime<Utc>>,
    call_started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    end_reason: Option<String>,
    /// From joining the waiting room to admission.
    wait_seconds: Option<i64>,
    /// Of the call.
    duration_seconds: Option<i64>,
    /// The resident's latest pre-call test, while the consultation is live.
    readiness: Option<ReadinessView>,
    rating: Option<i32>,
    rating_comment: Option<String>,
}

pub(super) async fn name_of(state: &Ctx, id: Uuid) -> Result<String, Error> {
    Ok(crate::auth::repo::account_by_id(&state.db, id)
        .await?
        .map(|a| a.display_name)
        .unwrap_or_default())
}

pub(super) async fn consultation_view(
    state: &Ctx,
    c: ConsultationRow,
) -> Result<ConsultationView, Error> {
    let status = c.status;
    let mut doctors = vec![];
    for (id, role) in queue::doctors_of(&state.db, c.consultation_id).await? {
        doctors.push(ConsultationDoctor {
            id,
            name: name_of(state, id).await?,
            role,
        });
    }
    let position = queue::position(state, &c).await?;
    let consent_needed = status.is_live() && !records::has_consent(state, c.resident_id).await?;
    let readiness = if status.is_live() {
        readiness::latest(state, c.resident_id)
            .await?
            .map(|r| ReadinessView {
                verdict: r.verdict,
                rtt_ms: r.rtt_ms,
                relay: r.relay,
                checked_at: r.checked_at,
            })
    } else {
        None
    };
    Ok(ConsultationView {
        id: c.consultation_id,
        station_id: c.station_id,
        status,
        resident: PersonRef {
            id: c.resident_id,
            name: name_of(state, c.resident_id).await?,
            phone: None,
        },
        doctor_id: c.doctor_id,
        appointment_id: c.appointment_id,
        doctors,
        symptom: c.symptom,
        reason: c.reason,
        consent_needed,
        position: position.map(|p| p.0),
        estimated_wait_minutes: position.map(|p| p.1),
        queued_at: c.queued_at,
        admitted_at: c.admitted_at,
        answer_by: c.answer_by,
        call_started_at: c.call_started_at,
        ended_at: c.ended_at,
        end_reason: c.end_reason.map(|r| r.as_str().to_string()),
        wait_seconds: c
            .admitted_at
            .map(|a| (a - c.queued_at).num_seconds().max(0)),
        duration_seconds: c
            .call_started_at
            .zip(c.ended_at)
            .map(|(s, e)| (e - s).num_seconds().max(0)),
        rating: c.rating,
        rating_comment: c.rating_comment,
        readiness,
    })
}

#[derive(ApiResponse)]
pub(super) enum ConsultationCreated {
    /// In the waiting room (or, for a retried `Idempotency-Key`, the first answer again).
    #[oai(status = 201)]
    Created(Json<ConsultationView>),
}

#[derive(ApiResponse)]
pub(super) enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}
