//! The operations: `POST /v1/rtc/echo` (the phone's offer in, the server's answer out) and
//! `GET /v1/rtc/echo/{session_id}` (the report), with the offer's checks.

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;

use super::peer::start_peer;
use super::sessions::EchoSessions;
use super::stats::{EchoReport, Verdict};
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::rtc::{Ctx, PrecallCheck};
use crate::tags::ApiTags;

/// The phone's offer: the standard `RTCSessionDescriptionInit` shape, with its candidates in it.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EchoOffer {
    /// Must be `offer`.
    #[oai(rename = "type")]
    pub kind: String,
    /// The offer, candidates included (wait for ICE gathering to complete before sending).
    pub sdp: String,
    /// Make the server's peer use only TURN relay candidates, to test the relay path.
    #[oai(default)]
    pub force_relay: bool,
}

/// The server's answer, candidates included, and the session to ask about.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EchoAnswer {
    /// Always `answer`.
    #[oai(rename = "type")]
    pub kind: String,
    pub sdp: String,
    /// For `GET /v1/rtc/echo/{session_id}`.
    pub session_id: Uuid,
    /// The session closes itself after this many seconds.
    pub max_secs: u64,
}

pub struct EchoApi {
    pub state: Ctx,
    pub sessions: Arc<EchoSessions>,
}

impl EchoApi {
    pub fn new(state: Ctx) -> Self {
        EchoApi {
            state,
            sessions: Arc::default(),
        }
    }
}

#[OpenApi(tag = "ApiTags::Calls")]
impl EchoApi {
    /// Start a pre-call test
    ///
    /// Send the phone's offer (non-trickle: wait for ICE gathering to complete, so the SDP carries
    /// the candidates). The answer comes back in the same shape. The server's peer then sends
    /// every audio/video RTP packet and every data-channel message back and measures the path;
    /// read the report with `GET /v1/rtc/echo/{session_id}`. One live test per account (409),
    /// a few at once per server (503, retry later); each ends after `max_secs`.
    #[oai(
        path = "/v1/rtc/echo",
        method = "post",
        operation_id = "rtc_echo_start"
    )]
    async fn start(
        &self,
        auth: BearerAuth,
        body: Json<EchoOffer>,
    ) -> Result<Json<EchoAnswer>, Problems<{ SIGNED_IN | CONFLICT | BODY | INVALID }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let offer = parse_offer(&body.0, self.state.settings.rtc_max_message_bytes)?;
        let settings = &self.state.settings;
        let (id, measure) = self.sessions.reserve(
            caller.account_id,
            settings.rtc_echo_max_sessions.max(1) as usize,
        )?;
        // On its own task: a phone that hangs up mid-request must not leave a half-built peer
        // (or a slot that never frees) behind; the task finishes, and the supervisor ends it.
        let started = tokio::spawn(start_peer(
            self.state.clone(),
            id,
            offer,
            body.0.force_relay,
            measure,
        ));
        let sessions = self.sessions.clone();
        let outcome = match started.await {
            Ok(outcome) => outcome,
            Err(e) => Err(Error::Internal(anyhow::anyhow!("echo peer task: {e}"))),
        };
        if outcome.is_err() {
            sessions.forget(id);
        }
        match outcome {
            Ok(sdp) => Ok(Json(EchoAnswer {
                kind: "answer".into(),
                sdp,
                session_id: id,
                max_secs: settings.rtc_echo_max_secs,
            })),
            Err(e) => Err(e.into()),
        }
    }

    /// The report of a pre-call test
    ///
    /// Only the account that started the test sees it (404 for anyone else).
    #[oai(
        path = "/v1/rtc/echo/:session_id",
        method = "get",
        operation_id = "rtc_echo_report"
    )]
    async fn report(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
    ) -> Result<Json<EchoReport>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let report = self
            .sessions
            .report(session_id.0, caller.account_id, &self.state.turn_refusals)
            .ok_or(Error::NotFound("echo_session_not_found"))?;
        // What the test showed the resident is what the doctors see in the waiting room.
        let check = PrecallCheck {
            verdict: report.verdict,
            rtt_ms: report.rtt_ms,
            relay: report.selected_candidate_type.as_deref() == Some("relay"),
        };
        let handed = (check.verdict, check.rtt_ms.is_some(), check.relay);
        if report.verdict != Verdict::Pending
            && self.sessions.hand_over(session_id.0, handed)
            && let Err(e) = self
                .state
                .calls
                .precall_checked(caller.account_id, check)
                .await
        {
            tracing::warn!(error = %e, "keeping the pre-call test's verdict");
        }
        Ok(Json(report))
    }
}

/// Check the offer's type, size and syntax before any peer exists.
fn parse_offer(offer: &EchoOffer, max_bytes: usize) -> Result<RTCSessionDescription, Error> {
    if offer.kind != "offer" {
        return Err(Error::validation(
            "type",
            "not_an_offer",
            "Phải là một offer (type = \"offer\")",
            "Must be an offer (type = \"offer\")",
        ));
    }
    let invalid = || {
        Error::validation(
            "sdp",
            "invalid_sdp",
            "SDP không hợp lệ",
            "Not a valid session description",
        )
    };
    if offer.sdp.len() > max_bytes {
        return Err(Error::PayloadTooLarge);
    }
    if !offer.sdp.trim_start().starts_with("v=0") {
        return Err(invalid());
    }
    // The SDP parser is not ours: a panic on hostile input must still be a 422, not a 500.
    let sdp = offer.sdp.clone();
    let parsed = std::panic::catch_unwind(move || {
        let desc = RTCSessionDescription::offer(sdp).ok()?;
        let parsed = desc.unmarshal().ok()?;
        (!parsed.media_descriptions.is_empty()).then_some(desc)
    });
    match parsed {
        Ok(Some(desc)) => Ok(desc),
        _ => Err(invalid()),
    }
}
