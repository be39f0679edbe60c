//! The signaling WebSocket: `GET /v1/rtc/signal?token=<room token>`.
//!
//! Protocol (JSON text frames, version [`super::PROTOCOL`]). The first client message is
//! `{"type":"join","protocol":1}` or `{"type":"resume","protocol":1,"session_id","last_seq"}`
//! (within 10 s). Then:
//!
//! | client → server | |
//! |---|---|
//! | `offer` / `answer` `{to, sdp}` | relayed to participant `to` as `{type, from, sdp}` |
//! | `candidate` `{to, candidate}`, `end_of_candidates` `{to}` | relayed; held up to 10 s for a participant not yet present |
//! | `ping` | answered by `pong`; a socket silent for three ping intervals is dropped |
//! | `network_changed` | answered by `ice_restart` with fresh ICE servers; peers get `peer_network_changed` |
//! | `leave` | gone at once (peers: `peer_left`, reason `left`) |
//! | `end_call` | the consultation's doctor ends the call for everyone |
//!
//! Server messages all carry `seq` (per participant, from 1): `joined` (session id, peers with the
//! `polite` role of perfect negotiation, ICE servers, ping interval and timeout, limits),
//! `peer_joined`, `peer_left` (with `reason`), `peer_reconnecting`, `peer_resumed`, the relayed
//! messages, `resumed` (after a resume: the missed messages come first, then this, with fresh ICE
//! servers and `ice_restart: true`), `ice_restart`, `pong`, `error` `{code}` (the socket stays
//! open), `call_ended`.
//!
//! A participant whose socket drops may resume within `rtc_resume_grace_secs`; past that they
//! have left. Every close carries a code and reason: 1000 `left`/`call_ended`, 1001 shutting down,
//! 1009 message too big, 4400 bad message, 4401 ticket missing, invalid or expired (fetch a
//! fresh one), 4403 not allowed now / room full, 4408 timeout, 4409 replaced by a newer
//! connection, 4410 session expired, 4429 too many messages. A refused ticket is refused after
//! the upgrade, with one of these codes, so browser code can tell it from a server that is down
//! (a refusal before the upgrade reaches a page only as 1006). A client's own close is answered
//! with a close frame (RFC 6455 §5.5.1), so the browser sees a clean close.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketConfig};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, handler};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ParticipantRole;
use super::RoomPass;
use super::room::{Entry, Out, close};
use crate::error::problem_response;
use crate::rtc::Ctx;

/// The protocol's machine-readable description, served at `/asyncapi.yaml`.
pub const ASYNCAPI: &str = include_str!("../../openapi/signaling.asyncapi.yaml");

/// What a client may send (the `type` of its message). The protocol's document,
/// `openapi/signaling.asyncapi.yaml`, lists the same set; a test holds the two together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientMessage {
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

impl ClientMessage {
    pub const ALL: [ClientMessage; 10] = [
        ClientMessage::Join,
        ClientMessage::Resume,
        ClientMessage::Offer,
        ClientMessage::Answer,
        ClientMessage::Candidate,
        ClientMessage::EndOfCandidates,
        ClientMessage::Ping,
        ClientMessage::NetworkChanged,
        ClientMessage::Leave,
        ClientMessage::EndCall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientMessage::Join => "join",
            ClientMessage::Resume => "resume",
            ClientMessage::Offer => "offer",
            ClientMessage::Answer => "answer",
            ClientMessage::Candidate => "candidate",
            ClientMessage::EndOfCandidates => "end_of_candidates",
            ClientMessage::Ping => "ping",
            ClientMessage::NetworkChanged => "network_changed",
            ClientMessage::Leave => "leave",
            ClientMessage::EndCall => "end_call",
        }
    }

    pub fn parse(s: &str) -> Option<ClientMessage> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// What the server sends (the `type` of its messages), as the protocol's document lists them.
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

#[derive(serde::Deserialize)]
pub struct SignalQuery {
    token: Option<String>,
}

/// Token bucket: `rate` per second, bursts of twice that.
struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u32) -> Bucket {
        Bucket {
            tokens: f64::from(rate) * 2.0,
            rate: f64::from(rate),
            last: Instant::now(),
        }
    }
    /// Refilled only when empty: no clock read per message while tokens last (never more lenient
    /// than refilling every time, as the cap applies to the whole pause).
    fn take(&mut self) -> bool {
        if self.tokens < 1.0 {
            let now = Instant::now();
            self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate)
                .min(self.rate * 2.0);
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// `GET /v1/rtc/signal` (WebSocket). A missing, invalid or expired room token is closed right
/// after the upgrade with 4401, a holder who may not join now with 4403 (a request that is not a
/// WebSocket upgrade is refused before any of this, 400 `bad_request`).
#[handler]
pub async fn signal(
    req: &Request,
    ws: WebSocket,
    Query(q): Query<SignalQuery>,
    Data(state): Data<&Ctx>,
) -> poem::Response {
    let token = q.token.or_else(|| {
        req.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
    });
    let refused = |ws: WebSocket, code: u16, reason: &'static str| {
        ws.on_upgrade(move |socket| async move {
            let (mut tx, mut rx) = socket.split();
            close_with(&mut tx, &mut rx, code, reason).await;
        })
        .into_response()
    };
    let Some(token) = token else {
        return refused(ws, close::TICKET, "missing_token");
    };
    let Some(pass) = state.room_keys.verify(&token, state.clock.now()) else {
        return refused(ws, close::TICKET, "invalid_room_token");
    };
    match state
        .calls
        .participant(pass.consultation_id, pass.account_id)
        .await
    {
        Ok(Some(p)) if p.role == pass.role => {}
        Ok(_) => return refused(ws, close::FORBIDDEN, "not_a_participant_now"),
        Err(e) => return problem_response(&e),
    }
    let max = state.settings.rtc_max_message_bytes;
    // Small read buffers: thousands of idle signaling sockets must stay cheap. Writes are buffered
    // (the buffer grows only as far as a burst needs) and written by the explicit flush after each
    // batch: eager writes (size 0) cost a system call per message.
    let config = WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(max)
        .max_write_buffer_size(max * 4)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let state = state.clone();
    ws.config(config)
        .on_upgrade(move |socket| run(state, pass, socket))
        .into_response()
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some((CloseCode::from(code), reason.to_string())))
}

/// Send a close frame and wait (briefly) for the client's, reading and dropping whatever it still
/// sends: closing the TCP connection with unread data would reset it and lose the close frame.
/// Boxed, like the other rare steps of a socket's life (see [`run`]).
fn close_with<'a, S, R>(
    tx: &'a mut S,
    rx: &'a mut R,
    code: u16,
    reason: &'a str,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>
where
    S: futures::Sink<Message> + Unpin + Send,
    R: futures::Stream<Item = std::io::Result<Message>> + Unpin + Send,
{
    Box::pin(close_now(tx, rx, code, reason))
}

async fn close_now<S, R>(tx: &mut S, rx: &mut R, code: u16, reason: &str)
where
    S: futures::Sink<Message> + Unpin,
    R: futures::Stream<Item = std::io::Result<Message>> + Unpin,
{
    if tx.send(close_frame(code, reason)).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(m)) = rx.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

fn error_message(code: &str) -> Value {
    json!({ "type": "error", "code": code })
}

async fn run(state: Ctx, pass: RoomPass, socket: poem::web::websocket::WebSocketStream) {
    let (mut tx, mut rx) = socket.split();
    let mut shutdown = state.shutdown.signal();
    // The first message says whether this is a new join or a resume.
    let first = tokio::time::timeout(Duration::from_secs(10), rx.next()).await;
    let entry = match first {
        Ok(Some(Ok(Message::Text(text)))) => match parse_entry(&text) {
            Ok(e) => e,
            Err(reason) => {
                close_with(&mut tx, &mut rx, close::BAD_MESSAGE, reason).await;
                return;
            }
        },
        Ok(Some(Err(_))) => {
            close_with(&mut tx, &mut rx, close::TOO_BIG, "message_too_big").await;
            return;
        }
        Ok(_) => {
            close_with(&mut tx, &mut rx, close::BAD_MESSAGE, "expected_join").await;
            return;
        }
        Err(_) => {
            close_with(&mut tx, &mut rx, close::TIMEOUT, "join_timeout").await;
            return;
        }
    };
    let hub = state.hub.clone();
    // The rare steps (joining, handling a message, leaving) are boxed: a task is as large as the
    // largest state of its future for as long as it lives, and thousands of sockets sit idle in
    // the loop below, where none of these is running.
    let attached = match Box::pin(hub.attach(
        &state,
        pass.consultation_id,
        pass.account_id,
        pass.role,
        entry,
    ))
    .await
    {
        Ok(a) => a,
        Err((code, reason)) => {
            close_with(&mut tx, &mut rx, code, reason).await;
            return;
        }
    };
    let room = attached.room.clone();
    let mut outbox = attached.rx;
    let ping = Duration::from_secs(state.settings.rtc_ping_secs);
    let mut bucket = Bucket::new(state.settings.rtc_messages_per_sec);
    // When the client was last heard, as of the last check (a flag per message, not a clock read).
    let mut last_heard = Instant::now();
    let mut heard = false;
    let mut check = tokio::time::interval(ping);
    // Whether the participant left for good (leave, call ended) or may resume.
    let mut left = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                close_with(&mut tx, &mut rx, close::GOING_AWAY, "server_shutting_down").await;
                break;
            }
            _ = check.tick() => {
                if std::mem::take(&mut heard) {
                    last_heard = Instant::now();
                }
                if last_heard.elapsed() > ping * 3 {
                    close_with(&mut tx, &mut rx, close::TIMEOUT, "ping_timeout").await;
                    break;
                }
            }
            out = outbox.recv() => {
                // Write what is queued (up to a batch) with one flush: under a burst of
                // candidates that is one write to the socket instead of one per message.
                let mut next = out;
                let mut written = 0;
                let mut yielded = false;
                let mut failed = false;
                while let Some(Out::Text(text)) = &next {
                    if tx.feed(Message::Text(text.to_string())).await.is_err() {
                        failed = true;
                        break;
                    }
                    written += 1;
                    if written >= WRITE_BATCH {
                        next = None;
                        break;
                    }
                    next = outbox.try_recv().ok();
                    if next.is_none() && !yielded {
                        // Once per batch, let senders running on other threads queue more.
                        yielded = true;
                        tokio::task::yield_now().await;
                        next = outbox.try_recv().ok();
                    }
                }
                if failed || (written > 0 && tx.flush().await.is_err()) {
                    break;
                }
                match next {
                    Some(Out::Close(code, reason)) => {
                        close_with(&mut tx, &mut rx, code, reason).await;
                        // Replaced: the newer socket carries on. Call ended: nothing to resume.
                        left = code == close::NORMAL;
                        break;
                    }
                    None if written == 0 => {
                        close_with(&mut tx, &mut rx, close::TIMEOUT, "too_slow").await;
                        break;
                    }
                    _ => {}
                }
            }
            incoming = rx.next() => match incoming {
                None => break,
                Some(Ok(Message::Close(_))) => {
                    // The library queued the close reply when it read the client's close: send
                    // it, so the client sees a clean close (RFC 6455 §5.5.1), not 1006.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        let _ = tx.flush().await;
                        let _ = tx.close().await;
                    })
                    .await;
                    break;
                }
                Some(Err(_)) => {
                    // The frame broke a limit (size) or the stream is broken.
                    close_with(&mut tx, &mut rx, close::TOO_BIG, "message_too_big").await;
                    break;
                }
                Some(Ok(Message::Text(text))) => {
                    heard = true;
                    if !bucket.take() {
                        close_with(&mut tx, &mut rx, close::RATE_LIMITED, "rate_limited").await;
                        break;
                    }
                    match Box::pin(handle(&state, &room, &pass, &text)).await {
                        Flow::Continue => {}
                        Flow::Leave => {
                            left = true;
                            close_with(&mut tx, &mut rx, close::NORMAL, "left").await;
                            break;
                        }
                        Flow::Close(code, reason) => {
                            close_with(&mut tx, &mut rx, code, reason).await;
                            break;
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    close_with(&mut tx, &mut rx, close::BAD_MESSAGE, "text_only").await;
                    break;
                }
                Some(Ok(_)) => {
                    // Ping/pong frames keep the socket alive.
                    heard = true;
                }
            },
        }
    }
    Box::pin(hub.detach(&state, &room, pass.account_id, attached.conn, left)).await;
}

fn parse_entry(text: &str) -> Result<Entry, &'static str> {
    let v: Value = serde_json::from_str(text).map_err(|_| "bad_json")?;
    let kind = v.get("type").and_then(Value::as_str);
    if !matches!(kind, Some("join" | "resume")) {
        return Err("expected_join");
    }
    if v.get("protocol").and_then(Value::as_u64) != Some(u64::from(super::PROTOCOL)) {
        return Err("unsupported_protocol");
    }
    match kind {
        Some("join") => Ok(Entry::Join),
        Some("resume") => {
            let session = v
                .get("session_id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or("bad_session_id")?;
            let last_seq = v.get("last_seq").and_then(Value::as_u64).unwrap_or(0);
            Ok(Entry::Resume { session, last_seq })
        }
        _ => Err("expected_join"),
    }
}

/// Messages written to a socket before one flush.
const WRITE_BATCH: usize = 64;

enum Flow {
    Continue,
    Leave,
    Close(u16, &'static str),
}

/// The fields of a client's message that the server reads, unparsed until needed (any other
/// field is ignored).
#[derive(serde::Deserialize)]
struct Incoming<'a> {
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

/// A raw JSON value as a string, if it is one.
fn as_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str(raw.get()).ok()
}

/// An ICE candidate is an object whose `candidate` is a string of reasonable length.
fn plausible_candidate(raw: &RawValue) -> bool {
    #[derive(serde::Deserialize)]
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

async fn handle(state: &Ctx, room: &Arc<super::room::Room>, pass: &RoomPass, text: &str) -> Flow {
    let hub = &state.hub;
    let me = pass.account_id;
    // Read as borrowed, unparsed fields: a relayed candidate is copied through as its text.
    let fields = if text.trim_start().starts_with('{') {
        serde_json::from_str::<Incoming>(text).ok()
    } else {
        None
    };
    let Some(v) = fields else {
        let code = if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
            "unknown_type"
        } else {
            "bad_json"
        };
        hub.reply(room, me, error_message(code));
        return Flow::Continue;
    };
    let kind = v.kind.and_then(as_str).unwrap_or_default();
    let to = v.to.and_then(as_str).and_then(|s| Uuid::parse_str(&s).ok());
    let Some(message) = ClientMessage::parse(&kind) else {
        hub.reply(room, me, error_message("unknown_type"));
        return Flow::Continue;
    };
    match message {
        ClientMessage::Ping => {
            let ts = v.ts.map(RawValue::get).unwrap_or("null");
            hub.reply_text(room, me, format!(r#"{{"type":"pong","ts":{ts}}}"#));
        }
        ClientMessage::Offer | ClientMessage::Answer => {
            let Some(to) = to else {
                hub.reply(room, me, error_message("missing_to"));
                return Flow::Continue;
            };
            let sdp = v.sdp.and_then(as_str).unwrap_or_default();
            if !plausible_sdp(&sdp) {
                hub.reply(
                    room,
                    me,
                    json!({ "type": "error", "code": "invalid_sdp", "ref": kind }),
                );
                return Flow::Continue;
            }
            let message = json!({ "type": kind, "from": me, "sdp": sdp }).to_string();
            if let Err(code) = hub.relay(state, room, to, message, false).await {
                hub.reply(
                    room,
                    me,
                    json!({ "type": "error", "code": code, "ref": kind, "to": to }),
                );
            }
        }
        ClientMessage::Candidate | ClientMessage::EndOfCandidates => {
            let Some(to) = to else {
                hub.reply(room, me, error_message("missing_to"));
                return Flow::Continue;
            };
            let message = if message == ClientMessage::Candidate {
                let Some(candidate) = v.candidate.filter(|c| plausible_candidate(c)) else {
                    hub.reply(room, me, error_message("invalid_candidate"));
                    return Flow::Continue;
                };
                format!(
                    r#"{{"type":"candidate","from":"{me}","candidate":{}}}"#,
                    candidate.get()
                )
            } else {
                json!({ "type": "end_of_candidates", "from": me }).to_string()
            };
            if let Err(code) = hub.relay(state, room, to, message, true).await {
                hub.reply(
                    room,
                    me,
                    json!({ "type": "error", "code": code, "ref": kind, "to": to }),
                );
            }
        }
        ClientMessage::NetworkChanged => {
            let ice = state.ice_servers(&me.to_string());
            // Fresh ICE servers for the sender; it restarts only with the peers toward whom it is
            // the impolite side (the others are told to restart toward it).
            let with = super::room::Hub::restart_targets(room, me, pass.role);
            hub.reply(
                room,
                me,
                json!({ "type": "ice_restart", "ice_servers": ice, "restart_with": with }),
            );
            hub.network_changed(state, room, me).await;
        }
        ClientMessage::Leave => return Flow::Leave,
        ClientMessage::EndCall => {
            if pass.role != ParticipantRole::Doctor {
                hub.reply(room, me, error_message("only_the_doctor_ends"));
                return Flow::Continue;
            }
            match state.calls.ended_by_doctor(pass.consultation_id).await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "ending a call");
                    hub.reply(room, me, error_message("cannot_end"));
                }
            }
        }
        ClientMessage::Join | ClientMessage::Resume => {
            return Flow::Close(close::BAD_MESSAGE, "already_joined");
        }
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_sdp() {
        assert!(matches!(
            parse_entry(r#"{"type":"join","protocol":1}"#),
            Ok(Entry::Join)
        ));
        assert_eq!(
            parse_entry(r#"{"type":"join","protocol":2}"#).err(),
            Some("unsupported_protocol")
        );
        assert_eq!(parse_entry("{").err(), Some("bad_json"));
        assert_eq!(
            parse_entry(r#"{"type":"resume","protocol":1}"#).err(),
            Some("bad_session_id")
        );
        assert!(plausible_sdp(
            "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        ));
        assert!(!plausible_sdp("hello"));
        assert!(!plausible_sdp("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"));
    }

    #[test]
    fn the_bucket_allows_bursts_then_the_rate() {
        let mut b = Bucket::new(5);
        let allowed = (0..100).filter(|_| b.take()).count();
        assert_eq!(allowed, 10);
    }
}
