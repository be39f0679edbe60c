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
//! open), `call_ended`. What a client sends is read as a [`ClientMessage`]; what this endpoint
//! answers and relays is written from a [`ServerMessage`] (the rooms write their own).
//!
//! A participant whose socket drops may resume within `rtc_resume_grace_secs`; past that they
//! have left. Every close carries a code and reason: 1000 `left`/`call_ended`, 1001 shutting down,
//! 1009 message too big, 4400 bad message, 4401 ticket missing, invalid or expired (fetch a
//! fresh one), 4403 not allowed now / room full, 4408 timeout, 4409 replaced by a newer
//! connection, 4410 session expired, 4429 too many messages. A refused ticket is refused after
//! the upgrade, with one of these codes, so browser code can tell it from a server that is down
//! (a refusal before the upgrade reaches a page only as 1006). A client's own close is answered
//! with a close frame (RFC 6455 §5.5.1), so the browser sees a clean close.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketConfig};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, handler};
use uuid::Uuid;

use super::ParticipantRole;
use super::RoomPass;
use super::room::{Entry, Hub, Out, Room, close};
use crate::error::problem_response;
use crate::rtc::Ctx;

/// The protocol's machine-readable description, served at `/asyncapi.yaml`.
pub const ASYNCAPI: &str = include_str!("../../openapi/signaling.asyncapi.yaml");

mod messages;
pub use messages::{
    ClientKind, ClientMessage, Rejected, SERVER_MESSAGES, ServerMessage, plausible_sdp,
};

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

/// The first message: a join or a resume, or the reason the socket is closed (4400).
fn parse_entry(text: &str) -> Result<Entry, &'static str> {
    match ClientMessage::parse_first(text).map_err(Rejected::code)? {
        ClientMessage::Join { .. } => Ok(Entry::Join),
        ClientMessage::Resume {
            session_id,
            last_seq,
            ..
        } => Ok(Entry::Resume {
            session: session_id,
            last_seq,
        }),
        // `parse_first` reads nothing else.
        _ => Err(Rejected::ExpectedJoin.code()),
    }
}

/// Messages written to a socket before one flush.
const WRITE_BATCH: usize = 64;

enum Flow {
    Continue,
    Leave,
    Close(u16, &'static str),
}

/// Queue `message` for `me` alone (an answer to their own message).
fn reply(hub: &Hub, room: &Arc<Room>, me: Uuid, message: &ServerMessage) {
    match message.to_text() {
        Ok(text) => hub.reply_text(room, me, text),
        Err(e) => tracing::error!(error = %e, "writing a signaling message"),
    }
}

/// Relay `message` (a `kind` from `me`) to participant `to`; the sender is told if it cannot be
/// delivered. `hold_if_absent`: held a while for a participant not yet present.
async fn relay(
    state: &Ctx,
    room: &Arc<Room>,
    me: Uuid,
    kind: ClientKind,
    to: Uuid,
    message: ServerMessage<'_>,
    hold_if_absent: bool,
) {
    let text = match message.to_text() {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(error = %e, "writing a signaling message");
            return;
        }
    };
    if let Err(code) = state.hub.relay(state, room, to, text, hold_if_absent).await {
        let error = ServerMessage::Error {
            code,
            about: Some(kind),
            to: Some(to),
        };
        reply(&state.hub, room, me, &error);
    }
}

async fn handle(state: &Ctx, room: &Arc<Room>, pass: &RoomPass, text: &str) -> Flow {
    let hub = &state.hub;
    let me = pass.account_id;
    // Read once, as borrowed fields: a relayed candidate is copied through as its text.
    let message = match ClientMessage::parse(text) {
        Ok(message) => message,
        Err(Rejected::AlreadyJoined) => {
            return Flow::Close(close::BAD_MESSAGE, Rejected::AlreadyJoined.code());
        }
        Err(rejected) => {
            reply(hub, room, me, &rejected.answer());
            return Flow::Continue;
        }
    };
    let kind = message.kind();
    match message {
        ClientMessage::Ping { ts } => reply(hub, room, me, &ServerMessage::Pong { ts }),
        ClientMessage::Offer { to, sdp } => {
            let offer = ServerMessage::Offer {
                from: me,
                sdp: &sdp,
            };
            relay(state, room, me, kind, to, offer, false).await;
        }
        ClientMessage::Answer { to, sdp } => {
            let answer = ServerMessage::Answer {
                from: me,
                sdp: &sdp,
            };
            relay(state, room, me, kind, to, answer, false).await;
        }
        ClientMessage::Candidate { to, candidate } => {
            let candidate = ServerMessage::Candidate {
                from: me,
                candidate,
            };
            relay(state, room, me, kind, to, candidate, true).await;
        }
        ClientMessage::EndOfCandidates { to } => {
            let end = ServerMessage::EndOfCandidates { from: me };
            relay(state, room, me, kind, to, end, true).await;
        }
        ClientMessage::NetworkChanged => {
            // Fresh ICE servers for the sender; it restarts only with the peers toward whom it is
            // the impolite side (the others are told to restart toward it).
            let restart = ServerMessage::IceRestart {
                ice_servers: state.ice_servers(&me.to_string()),
                restart_with: Hub::restart_targets(room, me, pass.role),
            };
            reply(hub, room, me, &restart);
            hub.network_changed(state, room, me).await;
        }
        ClientMessage::Leave => return Flow::Leave,
        ClientMessage::EndCall => {
            if pass.role != ParticipantRole::Doctor {
                reply(hub, room, me, &ServerMessage::error("only_the_doctor_ends"));
                return Flow::Continue;
            }
            match state.calls.ended_by_doctor(pass.consultation_id).await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "ending a call");
                    reply(hub, room, me, &ServerMessage::error("cannot_end"));
                }
            }
        }
        // `parse` answers these with `AlreadyJoined`.
        ClientMessage::Join { .. } | ClientMessage::Resume { .. } => {
            return Flow::Close(close::BAD_MESSAGE, Rejected::AlreadyJoined.code());
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
