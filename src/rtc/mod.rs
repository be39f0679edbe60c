//! The WebRTC broker: who may join which consultation's call (room tokens), the signaling
//! WebSocket that relays the session negotiation between the participants, and the ICE servers
//! (STUN/TURN with coturn's REST credentials) handed to them.
//!
//! Media between participants never passes through here: it flows peer to peer, or through
//! TURN (coturn, or the embedded server in [`turn`]). The one exception is the pre-call test
//! peer in [`echo`], which a phone calls to check its camera, microphone and network.

/// The pre-call test peer: `POST /v1/rtc/echo` echoes media back and measures the path.
pub mod echo;
/// The embedded STUN/TURN server, checking the same REST credentials as coturn.
pub mod turn;

pub mod api;
pub mod port;
pub mod room;
pub mod signal;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use std::sync::Arc;

use crate::auth::Auth;
use crate::bus::Bus;
use crate::clock::Clock;
use crate::config::{Secret, Settings};
use crate::objects::Objects;
use crate::shutdown::Shutdown;
pub use port::{Calls, Participant, ParticipantRole, PrecallCheck, end_call};

/// What the broker works with, and nothing more: built by the app (`app.rs`), which also gives it
/// the calls' owner ([`Calls`], implemented by telehealth).
#[derive(Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub clock: Clock,
    /// Rooms span instances through the bus.
    pub bus: Arc<dyn Bus>,
    pub auth: Auth,
    /// The server's address as clients reach it (for the signaling URL).
    pub objects: Objects,
    /// Signs and checks room tokens (audience `rtc`).
    pub room_keys: Arc<RoomKeys>,
    /// The TURN REST secret shared with coturn or the embedded TURN server.
    pub turn_secret: Arc<Secret>,
    /// Where the embedded STUN/TURN server listens, once it runs.
    pub turn_addr: Arc<std::sync::OnceLock<turn::TurnAddrs>>,
    /// Peers the embedded TURN server refused lately (the pre-call test's `turn_peer_refused`).
    pub turn_refusals: Arc<turn::Refusals>,
    /// This instance's call rooms (signaling).
    pub hub: Arc<room::Hub>,
    /// Who may be in a call, and what a call's start and end mean.
    pub calls: Arc<dyn Calls>,
    /// Closes the sockets when the server stops.
    pub shutdown: Shutdown,
}

/// The signaling protocol version clients speak.
pub const PROTOCOL: u32 = 1;

/// Audience of room tokens: never accepted as API access tokens, and API tokens are never
/// accepted here.
pub const RTC_AUDIENCE: &str = "rtc";

/// What a room token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomClaims {
    pub iss: String,
    pub aud: String,
    /// The participant's account.
    pub sub: String,
    /// The consultation (room).
    pub cid: String,
    pub role: ParticipantRole,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Signs and checks room tokens with the shared secret (a different audience from API tokens).
#[derive(Clone)]
pub struct RoomKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// A checked room token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomPass {
    pub account_id: Uuid,
    pub consultation_id: Uuid,
    pub role: ParticipantRole,
    pub expires_at: i64,
}

impl RoomKeys {
    pub fn new(secret: &Secret) -> RoomKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_audience(&[RTC_AUDIENCE]);
        validation.set_issuer(&[crate::auth::tokens::ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        // Checked against the app clock in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        RoomKeys {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    pub fn issue(
        &self,
        account: Uuid,
        consultation: Uuid,
        role: ParticipantRole,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let claims = RoomClaims {
            iss: crate::auth::tokens::ISSUER.into(),
            aud: RTC_AUDIENCE.into(),
            sub: account.to_string(),
            cid: consultation.to_string(),
            role,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: until.timestamp(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Check signature, audience, issuer and times (30 s leeway).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<RoomPass> {
        let data =
            jsonwebtoken::decode::<RoomClaims>(token, &self.decoding, &self.validation).ok()?;
        let c = data.claims;
        let now = now.timestamp();
        if c.exp + 30 < now || c.nbf - 30 > now {
            return None;
        }
        Some(RoomPass {
            account_id: Uuid::parse_str(&c.sub).ok()?,
            consultation_id: Uuid::parse_str(&c.cid).ok()?,
            role: c.role,
            expires_at: c.exp,
        })
    }
}

/// One ICE server as `RTCPeerConnection` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// coturn's REST credentials (the scheme LiveKit and Janus use too): the username is
/// `expiry:participant`, the password is base64(HMAC-SHA1(secret, username)).
pub fn turn_credentials(secret: &Secret, participant: &str, expires: i64) -> (String, String) {
    let username = format!("{expires}:{participant}");
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(username.as_bytes());
    (username, B64.encode(mac.finalize().into_bytes()))
}

/// Whether `password` is what [`turn_credentials`] gives for `username`, and the username's
/// expiry has not passed (what a TURN server checks).
pub fn check_turn_credentials(secret: &Secret, username: &str, password: &str, now: i64) -> bool {
    let Some((expiry, participant)) = username.split_once(':') else {
        return false;
    };
    let Ok(expiry) = expiry.parse::<i64>() else {
        return false;
    };
    if expiry < now {
        return false;
    }
    let (_, expected) = turn_credentials(secret, participant, expiry);
    // Constant-time comparison of the two base64 strings.
    expected.len() == password.len()
        && expected
            .bytes()
            .zip(password.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The embedded server's STUN and TURN URLs (none when it does not run).
fn embedded_urls(
    settings: &Settings,
    bound: Option<&turn::TurnAddrs>,
) -> (Vec<String>, Vec<String>) {
    let port_of = |listen: &str, default: &str| {
        let listen = listen.trim();
        (!listen.is_empty()).then(|| listen.rsplit(':').next().unwrap_or(default).to_string())
    };
    let Some(udp) = port_of(&settings.turn_listen, "3478") else {
        return (vec![], vec![]);
    };
    let (udp, tcp, tls) = match bound {
        Some(b) => (
            b.udp.port().to_string(),
            b.tcp.map(|a| a.port().to_string()),
            b.tls.map(|a| a.port().to_string()),
        ),
        None => (
            udp.clone(),
            match settings.turn_tcp_listen.trim() {
                "same" => Some(udp),
                other => port_of(other, "3478"),
            },
            settings
                .turn_tls_cert
                .as_ref()
                .and_then(|_| port_of(&settings.turn_tls_listen, "5349")),
        ),
    };
    let host = settings.turn_public_ip.trim();
    let mut turn = vec![format!("turn:{host}:{udp}?transport=udp")];
    if let Some(tcp) = tcp {
        turn.push(format!("turn:{host}:{tcp}?transport=tcp"));
    }
    if let Some(tls) = tls {
        let name = settings
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| host.to_string());
        turn.push(format!("turns:{name}:{tls}?transport=tcp"));
    }
    (vec![format!("stun:{host}:{udp}")], turn)
}

fn split_urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

impl crate::rtc::Ctx {
    /// The ICE servers to hand `participant` now (fresh TURN credentials each time).
    pub fn ice_servers(&self, participant: &str) -> Vec<IceServer> {
        ice_servers(
            &self.settings,
            &self.turn_secret,
            participant,
            self.clock.now(),
            self.turn_addr.get(),
        )
    }
}

/// The ICE servers for one participant: STUN without credentials, TURN with fresh REST
/// credentials. With no servers configured, the embedded STUN/TURN server: its UDP, TCP and TLS
/// ports (as bound once it runs, `embedded`, else as configured), TLS under the public URL's host
/// (the name its certificate carries) or the public IP.
pub fn ice_servers(
    settings: &Settings,
    turn_secret: &Secret,
    participant: &str,
    now: DateTime<Utc>,
    embedded: Option<&turn::TurnAddrs>,
) -> Vec<IceServer> {
    let (stun, turn) =
        if settings.stun_urls.trim().is_empty() && settings.turn_urls.trim().is_empty() {
            embedded_urls(settings, embedded)
        } else {
            (
                split_urls(&settings.stun_urls),
                split_urls(&settings.turn_urls),
            )
        };
    let mut out = vec![];
    if !stun.is_empty() {
        out.push(IceServer {
            urls: stun,
            username: None,
            credential: None,
        });
    }
    if !turn.is_empty() {
        let expires = now.timestamp() + settings.turn_ttl_secs as i64;
        let (username, credential) = turn_credentials(turn_secret, participant, expires);
        out.push(IceServer {
            urls: turn,
            username: Some(username),
            credential: Some(credential),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_coturns_rest_scheme() {
        // Reference value computed independently:
        // printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 'north-ward-secret' -binary | base64
        let secret = Secret::new("north-ward-secret");
        let (user, pass) = turn_credentials(&secret, "alice", 1_700_000_000);
        assert_eq!(user, "1700000000:alice");
        assert_eq!(pass, "GE7MomdztAP9zWxH0NNjuZkPuik=");
        assert!(check_turn_credentials(&secret, &user, &pass, 1_699_999_999));
        assert!(
            !check_turn_credentials(&secret, &user, &pass, 1_700_000_001),
            "expired"
        );
        assert!(!check_turn_credentials(&secret, &user, "AAAA", 0));
        assert!(!check_turn_credentials(
            &Secret::new("other-secret-xx"),
            &user,
            &pass,
            0
        ));
        assert!(!check_turn_credentials(&secret, "alice", &pass, 0));
    }

    #[test]
    fn room_tokens_are_not_access_tokens_and_expire() {
        let secret = Secret::new("x".repeat(40));
        let keys = RoomKeys::new(&secret);
        let now = Utc::now();
        let (a, c) = (Uuid::now_v7(), Uuid::now_v7());
        let t = keys
            .issue(
                a,
                c,
                ParticipantRole::Patient,
                now,
                now + chrono::Duration::minutes(2),
            )
            .unwrap_or_default();
        let pass = keys.verify(&t, now);
        assert_eq!(
            pass.map(|p| (p.account_id, p.consultation_id)),
            Some((a, c))
        );
        assert!(
            keys.verify(&t, now + chrono::Duration::minutes(3))
                .is_none()
        );
        assert!(
            RoomKeys::new(&Secret::new("y".repeat(40)))
                .verify(&t, now)
                .is_none()
        );
        // An API access token is refused here.
        let access = crate::auth::tokens::TokenKeys::new(&secret)
            .issue(a, crate::auth::Role::Resident, now.timestamp(), 600)
            .unwrap_or_default();
        assert!(keys.verify(&access, now).is_none());
    }

    #[test]
    fn embedded_ice_servers_by_default_configured_ones_otherwise() {
        let secret = Secret::new("s".repeat(20));
        let now = Utc::now();
        let mut s = Settings::default();
        let servers = ice_servers(&s, &secret, "p", now, None);
        assert_eq!(servers[0].urls, ["stun:127.0.0.1:3478"]);
        assert_eq!(
            servers[1].urls,
            [
                "turn:127.0.0.1:3478?transport=udp",
                "turn:127.0.0.1:3478?transport=tcp"
            ]
        );
        // TLS once a certificate is given, under the public URL's host; the ports as bound.
        s.turn_tls_cert = Some("cert.pem".into());
        s.turn_tls_key = Some("key.pem".into());
        s.public_url = Some("https://phuong.example.vn".into());
        let bound = turn::TurnAddrs {
            udp: ([127, 0, 0, 1], 40001).into(),
            tcp: Some(([127, 0, 0, 1], 40002).into()),
            tls: Some(([127, 0, 0, 1], 40003).into()),
        };
        let servers = ice_servers(&s, &secret, "p", now, Some(&bound));
        assert_eq!(servers[0].urls, ["stun:127.0.0.1:40001"]);
        assert_eq!(
            servers[1].urls,
            [
                "turn:127.0.0.1:40001?transport=udp",
                "turn:127.0.0.1:40002?transport=tcp",
                "turns:phuong.example.vn:40003?transport=tcp"
            ]
        );
        s.turn_tcp_listen.clear();
        let servers = ice_servers(&s, &secret, "p", now, None);
        assert_eq!(
            servers[1].urls,
            [
                "turn:127.0.0.1:3478?transport=udp",
                "turns:phuong.example.vn:5349?transport=tcp"
            ]
        );
        assert!(servers[1].username.as_deref().unwrap_or("").ends_with(":p"));
        s.turn_urls = "turn:turn.example.vn:3478?transport=udp, turns:turn.example.vn:5349".into();
        s.stun_urls = "stun:stun.example.vn:3478".into();
        let servers = ice_servers(&s, &secret, "p", now, None);
        assert_eq!(servers[1].urls.len(), 2);
        s.turn_urls.clear();
        s.stun_urls.clear();
        s.turn_listen.clear();
        assert!(ice_servers(&s, &secret, "p", now, None).is_empty());
    }
}
