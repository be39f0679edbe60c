//! HTTP: joining a consultation's call.

use chrono::{DateTime, TimeZone, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::IceServer;
use super::ParticipantRole;
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{CONFLICT, Error, NOT_FOUND, Problems, SIGNED_IN};
use crate::rtc::Ctx;
use crate::tags::ApiTags;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RoomTicket {
    /// Short-lived room token (JWT, audience `rtc`) for the signaling socket.
    token: String,
    /// The signaling WebSocket, token included.
    url: String,
    /// Signaling protocol version.
    protocol: u32,
    participant_id: Uuid,
    role: ParticipantRole,
    consultation_id: Uuid,
    expires_at: DateTime<Utc>,
    /// STUN and TURN servers with fresh TURN credentials, as `RTCPeerConnection` takes them.
    ice_servers: Vec<IceServer>,
    ping_interval_ms: u64,
    ping_timeout_ms: u64,
}

/// ICE servers for a call or a pre-call test.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct IceServers {
    /// STUN and TURN servers with fresh TURN credentials, as `RTCPeerConnection` takes them.
    ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working.
    expires_at: DateTime<Utc>,
}

pub struct RtcApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Calls")]
impl RtcApi {
    /// ICE servers with fresh TURN credentials (anyone signed in)
    ///
    /// For the pre-call test: a phone builds its `RTCPeerConnection` with these before making its
    /// offer to `POST /v1/rtc/echo`, so its own STUN and TURN path is tested (with
    /// `iceTransportPolicy: "relay"` and `force_relay`, the relay path alone).
    #[oai(
        path = "/v1/rtc/ice-servers",
        method = "get",
        operation_id = "rtc_ice_servers"
    )]
    async fn ice_servers(&self, auth: BearerAuth) -> Result<Json<IceServers>, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        let ttl = chrono::Duration::seconds(self.state.settings.turn_ttl_secs as i64);
        Ok(Json(IceServers {
            ice_servers: self
                .state
                .ice_servers(&format!("echo-{}", caller.account_id)),
            expires_at: self.state.clock.now() + ttl,
        }))
    }

    /// Join a consultation's call
    ///
    /// For the consultation's resident and doctors while it is admitted or in call: a room token,
    /// the signaling WebSocket URL and the ICE servers. Staff and admins: 403; anyone else: 404;
    /// the right person at the wrong time (waiting, ended): 409 `not_admitted`.
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/join",
        method = "post",
        operation_id = "rtc_join"
    )]
    async fn join(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<RoomTicket>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let state = &self.state;
        let caller = state.auth.caller(&auth).await?;
        caller.require(&[Role::Resident, Role::Doctor])?;
        let p = state.calls.seat(&caller, consultation_id.0).await?;
        let now = state.clock.now();
        let token = state
            .room_keys
            .issue(p.account_id, p.consultation_id, p.role, now, p.until)
            .map_err(Error::Internal)?;
        // The server's address as clients reach it (the bound port when none is configured).
        let base = state.objects.public_url();
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base
        };
        let ping = state.settings.rtc_ping_secs * 1000;
        Ok(Json(RoomTicket {
            url: format!("{}/v1/rtc/signal?token={token}", ws.trim_end_matches('/')),
            token,
            protocol: super::PROTOCOL,
            participant_id: p.account_id,
            role: p.role,
            consultation_id: p.consultation_id,
            expires_at: Utc
                .timestamp_opt(p.until.timestamp(), 0)
                .single()
                .unwrap_or(p.until),
            ice_servers: state.ice_servers(&p.account_id.to_string()),
            ping_interval_ms: ping,
            ping_timeout_ms: ping * 3,
        }))
    }
}
