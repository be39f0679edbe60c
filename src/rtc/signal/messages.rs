//! The signaling protocol's messages, typed: what a client sends ([`ClientMessage`]) and what
//! this endpoint answers or relays ([`ServerMessage`]). The messages a room sends on its own
//! (`joined`, `resumed`, `peer_*`, `call_ended`) are built in [`crate::rtc::room`].
//!
//! What a client writes for its peer stays raw JSON, borrowed from the frame, and is copied into
//! the relayed message as it came: the ICE candidate (never parsed into a tree and serialized
//! again) and the ping's `ts`.
//!
//! A client message is not `#[derive(Deserialize)]` with `#[serde(tag = "type")]`: serde reads an
//! internally tagged enum through its own buffer, which cannot hold a borrowed [`RawValue`]
//! (serde-rs/json#545), and its errors are serde's, not the protocol's codes. Instead each frame
//! is read once: a message after the join into its fields (`Fields`, derived, borrowed and
//! unparsed), the first message of a socket as a tree, as it always was; then each field the
//! message's type needs is read as its Rust type, in the order that decides which error a bad
//! message gets ([`Rejected`]).

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::rtc::{IceServer, PROTOCOL};

/// The `type` of a message a client may send. The protocol's document,
/// `openapi/signaling.asyncapi.yaml`, lists the same set; a test holds the two together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    Join,
    Resume,
    Offer,
    Answer,
    Candidate,
    EndOfCandidates,
    Ping,
    NetworkChanged,
    Leave,
    EndCall,
}

impl ClientKind {
    pub const ALL: [ClientKind; 10] = [
        ClientKind::Join,
        ClientKind::Resume,
        ClientKind::Offer,
        ClientKind::Answer,
        ClientKind::Candidate,
        ClientKind::EndOfCandidates,
        ClientKind::Ping,
        ClientKind::NetworkChanged,
        ClientKind::Leave,
        ClientKind::EndCall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Join => "join",
            ClientKind::Resume => "resume",
            ClientKind::Offer => "offer",
            ClientKind::Answer => "answer",
            ClientKind::Candidate => "candidate",
            ClientKind::EndOfCandidates => "end_of_candidates",
            ClientKind::Ping => "ping",
            ClientKind::NetworkChanged => "network_changed",
            ClientKind::Leave => "leave",
            ClientKind::EndCall => "end_call",
        }
    }

    pub fn parse(s: &str) -> Option<ClientKind> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// What the server sends (the `type` of its messages), as the protocol's document lists them:
/// [`ServerMessage`]'s and the rooms' own.
pub const SERVER_MESSAGES: [&str; 15] = [
    "joined",
    "resumed",
    "peer_joined",
    "peer_reconnecting",
    "peer_resumed",
    "peer_left",
    "peer_network_changed",
    "offer",
    "answer",
    "candidate",
    "end_of_candidates",
    "ice_restart",
    "pong",
    "error",
    "call_ended",
];

/// A message from a client, read by [`ClientMessage::parse_first`] (the first one of a socket)
/// or [`ClientMessage::parse`] (the others). Fields the server does not read are ignored.
#[derive(Debug)]
pub enum ClientMessage<'a> {
    /// `{"type":"join","protocol":1}`: a new participant.
    Join { protocol: u32 },
    /// `{"type":"resume","protocol":1,"session_id":…,"last_seq":…}`: a socket taking a dropped
    /// one's place; `last_seq`, the last message it had, is 0 when absent or not an unsigned
    /// integer.
    Resume {
        protocol: u32,
        session_id: Uuid,
        last_seq: u64,
    },
    /// `{"type":"offer","to":…,"sdp":…}`, relayed to `to`.
    Offer { to: Uuid, sdp: String },
    /// `{"type":"answer","to":…,"sdp":…}`, relayed to `to`.
    Answer { to: Uuid, sdp: String },
    /// `{"type":"candidate","to":…,"candidate":{"candidate":…,"sdpMid":…,…}}`, relayed to `to`
    /// with the candidate as its sender wrote it.
    Candidate { to: Uuid, candidate: &'a RawValue },
    /// `{"type":"end_of_candidates","to":…}`, relayed to `to`.
    EndOfCandidates { to: Uuid },
    /// `{"type":"ping","ts":…}`: `ts` (any JSON, as written) comes back in the `pong`.
    Ping { ts: Option<&'a RawValue> },
    /// `{"type":"network_changed"}`.
    NetworkChanged,
    /// `{"type":"leave"}`.
    Leave,
    /// `{"type":"end_call"}` (the doctor's).
    EndCall,
}

/// Why a frame is not a message the server takes now, each with the code the protocol gives it.
/// Before the join ([`ClientMessage::parse_first`]) the socket is closed with 4400 and the code
/// as the reason; after it ([`ClientMessage::parse`]) the sender gets an `error`
/// ([`Rejected::answer`]) and the socket stays open, except for [`Rejected::AlreadyJoined`]
/// (closed with 4400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Not JSON.
    BadJson,
    /// JSON, but not an object with a `type` the server knows.
    UnknownType,
    /// The first message is not a `join` or a `resume`.
    ExpectedJoin,
    /// A `join` or `resume` whose `protocol` is not [`PROTOCOL`].
    UnsupportedProtocol,
    /// A `resume` without a session id.
    BadSessionId,
    /// A `join` or `resume` after the first message.
    AlreadyJoined,
    /// An `offer`, `answer`, `candidate` or `end_of_candidates` without a participant id `to`.
    MissingTo,
    /// An `offer` or `answer` (the type, sent back as `ref`) whose `sdp` does not look like one.
    InvalidSdp(ClientKind),
    /// A `candidate` that does not look like one.
    InvalidCandidate,
}

impl Rejected {
    pub fn code(self) -> &'static str {
        match self {
            Rejected::BadJson => "bad_json",
            Rejected::UnknownType => "unknown_type",
            Rejected::ExpectedJoin => "expected_join",
            Rejected::UnsupportedProtocol => "unsupported_protocol",
            Rejected::BadSessionId => "bad_session_id",
            Rejected::AlreadyJoined => "already_joined",
            Rejected::MissingTo => "missing_to",
            Rejected::InvalidSdp(_) => "invalid_sdp",
            Rejected::InvalidCandidate => "invalid_candidate",
        }
    }

    /// The `error` message answering a refused message after the join.
    pub fn answer(self) -> ServerMessage<'static> {
        match self {
            Rejected::InvalidSdp(kind) => ServerMessage::Error {
                code: self.code(),
                about: Some(kind),
                to: None,
            },
            _ => ServerMessage::error(self.code()),
        }
    }
}

/// The fields of a message after the join that the server reads, borrowed from the frame and
/// unparsed until needed. Any other field is ignored; one of these twice makes the frame
/// unreadable (`unknown_type`).
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    to: Option<&'a RawValue>,
    #[serde(borrow)]
    sdp: Option<&'a RawValue>,
    #[serde(borrow)]
    candidate: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
}

/// A raw field as `T`, if it is one.
fn read<T: serde::de::DeserializeOwned>(raw: &RawValue) -> Option<T> {
    serde_json::from_str(raw.get()).ok()
}

/// A raw field as a string, if it is one (borrowed unless it has escapes).
fn read_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    match serde_json::from_str::<&str>(raw.get()) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => read::<String>(raw).map(Cow::Owned),
    }
}

/// An ICE candidate is an object whose `candidate` is a string of reasonable length.
fn plausible_candidate(raw: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Candidate<'a> {
        #[serde(borrow)]
        candidate: Cow<'a, str>,
    }
    serde_json::from_str::<Candidate>(raw.get()).is_ok_and(|c| c.candidate.len() < 2048)
}

/// An SDP must look like one: starts with `v=0` and has at least one media section.
pub fn plausible_sdp(sdp: &str) -> bool {
    sdp.starts_with("v=0") && (sdp.contains("\nm=") || sdp.contains("\rm=")) && !sdp.contains('\0')
}

impl ClientMessage<'_> {
    /// Every type a client may send.
    pub const ALL: [ClientKind; 10] = ClientKind::ALL;

    pub fn kind(&self) -> ClientKind {
        match self {
            ClientMessage::Join { .. } => ClientKind::Join,
            ClientMessage::Resume { .. } => ClientKind::Resume,
            ClientMessage::Offer { .. } => ClientKind::Offer,
            ClientMessage::Answer { .. } => ClientKind::Answer,
            ClientMessage::Candidate { .. } => ClientKind::Candidate,
            ClientMessage::EndOfCandidates { .. } => ClientKind::EndOfCandidates,
            ClientMessage::Ping { .. } => ClientKind::Ping,
            ClientMessage::NetworkChanged => ClientKind::NetworkChanged,
            ClientMessage::Leave => ClientKind::Leave,
            ClientMessage::EndCall => ClientKind::EndCall,
        }
    }

    /// The first message of a socket: a `join` or a `resume`, or why not. It is read as a whole
    /// tree, as it always was (it is small, and comes once a socket): a repeated key counts as
    /// its last value, and nesting deeper than 128 or a number out of range anywhere is not
    /// JSON. The errors come in this order: `bad_json`, `expected_join`, `unsupported_protocol`,
    /// `bad_session_id`.
    pub fn parse_first(text: &str) -> Result<ClientMessage<'static>, Rejected> {
        let v: Value = serde_json::from_str(text).map_err(|_| Rejected::BadJson)?;
        let kind = match v
            .get("type")
            .and_then(Value::as_str)
            .and_then(ClientKind::parse)
        {
            Some(kind @ (ClientKind::Join | ClientKind::Resume)) => kind,
            _ => return Err(Rejected::ExpectedJoin),
        };
        let protocol = v
            .get("protocol")
            .and_then(|p| u32::deserialize(p).ok())
            .filter(|p| *p == PROTOCOL)
            .ok_or(Rejected::UnsupportedProtocol)?;
        if kind == ClientKind::Join {
            return Ok(ClientMessage::Join { protocol });
        }
        let session_id = v
            .get("session_id")
            .and_then(|s| Uuid::deserialize(s).ok())
            .ok_or(Rejected::BadSessionId)?;
        let last_seq = v
            .get("last_seq")
            .and_then(|n| u64::deserialize(n).ok())
            .unwrap_or_default();
        Ok(ClientMessage::Resume {
            protocol,
            session_id,
            last_seq,
        })
    }
}

impl<'a> ClientMessage<'a> {
    /// A message after the first one, or why not: the frame is read once, as borrowed fields,
    /// then the fields its type needs, in this order: the type (`bad_json`, `unknown_type`,
    /// `already_joined`), `to` (`missing_to`), then `sdp` or `candidate` (`invalid_sdp`,
    /// `invalid_candidate`).
    pub fn parse(text: &'a str) -> Result<ClientMessage<'a>, Rejected> {
        // Only an object is a message (serde would read a struct from an array too).
        let fields = if text.trim_start().starts_with('{') {
            serde_json::from_str::<Fields>(text).ok()
        } else {
            None
        };
        let Some(f) = fields else {
            return Err(if serde_json::from_str::<IgnoredAny>(text).is_ok() {
                Rejected::UnknownType
            } else {
                Rejected::BadJson
            });
        };
        let kind = f
            .kind
            .and_then(read_str)
            .and_then(|k| ClientKind::parse(&k))
            .ok_or(Rejected::UnknownType)?;
        let to = || f.to.and_then(read::<Uuid>).ok_or(Rejected::MissingTo);
        Ok(match kind {
            ClientKind::Join | ClientKind::Resume => return Err(Rejected::AlreadyJoined),
            ClientKind::Offer | ClientKind::Answer => {
                let to = to()?;
                let sdp = f
                    .sdp
                    .and_then(read::<String>)
                    .filter(|s| plausible_sdp(s))
                    .ok_or(Rejected::InvalidSdp(kind))?;
                if kind == ClientKind::Offer {
                    ClientMessage::Offer { to, sdp }
                } else {
                    ClientMessage::Answer { to, sdp }
                }
            }
            ClientKind::Candidate => {
                let to = to()?;
                let candidate = f
                    .candidate
                    .filter(|c| plausible_candidate(c))
                    .ok_or(Rejected::InvalidCandidate)?;
                ClientMessage::Candidate { to, candidate }
            }
            ClientKind::EndOfCandidates => ClientMessage::EndOfCandidates { to: to()? },
            ClientKind::Ping => ClientMessage::Ping { ts: f.ts },
            ClientKind::NetworkChanged => ClientMessage::NetworkChanged,
            ClientKind::Leave => ClientMessage::Leave,
            ClientKind::EndCall => ClientMessage::EndCall,
        })
    }
}

/// A message this endpoint sends: relayed to a peer (`offer`, `answer`, `candidate`,
/// `end_of_candidates`, with the sender as `from`) or answering the sender. Written by
/// [`ServerMessage::to_text`]; the room adds `seq`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    Offer {
        from: Uuid,
        sdp: &'a str,
    },
    Answer {
        from: Uuid,
        sdp: &'a str,
    },
    /// The candidate as its sender wrote it.
    Candidate {
        from: Uuid,
        candidate: &'a RawValue,
    },
    EndOfCandidates {
        from: Uuid,
    },
    /// The answer to `ping`: its `ts` as written (`null` without one).
    Pong {
        ts: Option<&'a RawValue>,
    },
    /// The answer to `network_changed`: fresh ICE servers, and the peers toward whom the sender
    /// restarts ICE (the others restart toward it).
    IceRestart {
        ice_servers: Vec<IceServer>,
        restart_with: Vec<Uuid>,
    },
    /// A message refused or not delivered: `ref` is its type and `to` its addressee, when they
    /// apply.
    Error {
        code: &'static str,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        about: Option<ClientKind>,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<Uuid>,
    },
}

impl ServerMessage<'_> {
    /// An `error` with only its code.
    pub fn error(code: &'static str) -> ServerMessage<'static> {
        ServerMessage::Error {
            code,
            about: None,
            to: None,
        }
    }

    /// The message's text. The ones carrying a client's raw JSON (`candidate`, `pong`) are
    /// written straight, `type` first, the JSON copied in; the others go through a
    /// [`serde_json::Value`], as the `json!` builders they replace did, so their keys come in the
    /// same order as ever.
    pub fn to_text(&self) -> serde_json::Result<String> {
        match self {
            ServerMessage::Candidate { .. } | ServerMessage::Pong { .. } => {
                serde_json::to_string(self)
            }
            _ => serde_json::to_value(self).map(|v| v.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
