//! The consultations' side of the video calls: who may be in a call and what its start and end
//! mean (the broker's [`Calls`] port), and the call-quality summaries the apps post.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::Ctx;
use super::quality::{self, CandidateType, Sample};
use super::queue::{self, ConsultationStatus, Relation};
use crate::auth::Caller;
use crate::auth::api::BearerAuth;
use crate::error::{
    BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, RATE_LIMITED, Result, SIGNED_IN,
};
use crate::rtc::{Calls, Participant, PrecallCheck};
use crate::tags::ApiTags;

/// The broker's view of the consultations.
pub struct ConsultationCalls(pub Ctx);

#[async_trait::async_trait]
impl Calls for ConsultationCalls {
    async fn participant(&self, consultation: Uuid, account: Uuid) -> Result<Option<Participant>> {
        queue::participant(&self.0, consultation, account).await
    }

    async fn seat(&self, caller: &Caller, consultation: Uuid) -> Result<Participant> {
        let (row, relation) = queue::get(&self.0, caller, consultation).await?;
        match queue::participant(&self.0, row.consultation_id, caller.account_id).await? {
            Some(p) => Ok(p),
            None => Err(match (relation, row.status) {
                (Relation::StationDoctor, _) => Error::NotFound("consultation_not_found"),
                (_, ConsultationStatus::Admitted | ConsultationStatus::InCall) => {
                    Error::NotFound("consultation_not_found")
                }
                _ => Error::Conflict("not_admitted"),
            }),
        }
    }

    async fn connected(&self, consultation: Uuid) -> Result<()> {
        // Whichever instance first sees both sides present starts the call; the others find it
        // started already.
        match queue::consultation_row(&self.0.db, consultation).await? {
            Some(c) if c.status == ConsultationStatus::Admitted => {
                match queue::connect_call(&self.0, &c).await {
                    Ok(()) | Err(Error::Conflict(_)) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(()),
        }
    }

    async fn emptied(&self, consultation: Uuid) -> Result<()> {
        match queue::consultation_row(&self.0.db, consultation).await? {
            Some(c) if c.status == ConsultationStatus::InCall => {
                queue::end_call(&self.0, &c, queue::EndReason::AllLeft).await
            }
            _ => Ok(()),
        }
    }

    async fn ended_by_doctor(&self, consultation: Uuid) -> Result<()> {
        match queue::consultation_row(&self.0.db, consultation).await? {
            Some(c) if c.status == ConsultationStatus::Ended => Ok(()),
            Some(c) => queue::end_call(&self.0, &c, queue::EndReason::DoctorEnded).await,
            None => Err(Error::NotFound("consultation_not_found")),
        }
    }

    async fn precall_checked(&self, account: Uuid, check: PrecallCheck) -> Result<()> {
        super::readiness::record(&self.0, account, check).await
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct QualitySample {
    /// Round-trip time of the selected candidate pair.
    rtt_ms: Option<f64>,
    jitter_ms: Option<f64>,
    /// Inbound packets lost, in percent, since the previous summary.
    loss_percent: Option<f64>,
    bitrate_kbps: Option<f64>,
    /// How the media flows: `relay` means through TURN.
    candidate_type: Option<CandidateType>,
}

#[derive(ApiResponse)]
enum Stored {
    /// Stored.
    #[oai(status = 204)]
    Stored,
}

pub struct CallQualityApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Calls")]
impl CallQualityApi {
    /// Post a call-quality summary (a participant's app, every few seconds during the call)
    ///
    /// Summaries of the app's WebRTC stats; the station's figures show the share of relayed and
    /// of poor-quality calls. Up to 1000 per participant and consultation (429 after).
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/quality",
        method = "post",
        operation_id = "rtc_quality"
    )]
    async fn quality(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<QualitySample>,
    ) -> std::result::Result<
        Stored,
        Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | INVALID | BODY | RATE_LIMITED }>,
    > {
        let caller = self.state.auth.caller(&auth).await?;
        let b = body.0;
        quality::record(
            &self.state,
            &caller,
            consultation_id.0,
            Sample {
                rtt_ms: b.rtt_ms,
                jitter_ms: b.jitter_ms,
                loss_percent: b.loss_percent,
                bitrate_kbps: b.bitrate_kbps,
                candidate_type: b.candidate_type,
            },
        )
        .await?;
        Ok(Stored::Stored)
    }
}
