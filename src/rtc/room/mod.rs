//! Rooms: who is in each consultation's call, and the relay of signaling messages between them.
//!
//! Every instance keeps the participants connected to it (their sockets' outboxes, sequence numbers
//! and the recent messages a resuming participant may have missed). Everything that crosses
//! participants goes through the bus topic of the room, also between participants of the same
//! instance, so a room works the same when the resident's socket is on one instance and the
//! doctor's on another:
//!
//! - `presence`: a participant is present, reconnecting (socket dropped, within the grace), resumed,
//!   or left;
//! - `who`: an instance that just opened the room asks the others to announce their participants;
//! - `relay`: an offer, answer or candidate addressed to one participant;
//! - `net`: a participant's network changed (its peers expect an ICE restart);
//! - `end`: the call is over (the doctor ended it, or the consultation left `in_call`).
//!
//! Their wire format is [`RoomEvent`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::ParticipantRole;

mod events;
mod membership;
mod messages;
mod relay;
mod wire;

/// Most participants in one call: the resident, the doctor and up to three invited doctors.
pub const MAX_PARTICIPANTS: usize = 5;
/// Messages kept per participant for a resume.
const REPLAY: usize = 512;
/// Messages waiting to be written to one socket before it counts as stuck.
/// (A bounded channel allocates as it fills, so an idle socket pays for none of it.)
const OUTBOX: usize = 4096;
/// How long candidates for a participant who is not (yet) present are held.
const HOLD: Duration = Duration::from_secs(10);

pub use super::port::TOPIC;
use messages::{Peer, RoomMessage};
use wire::PresenceState;
pub(super) use wire::RoomEvent;

/// What a socket task receives to write.
#[derive(Debug, Clone)]
pub enum Out {
    Text(Arc<str>),
    /// Close with this code and reason, then stop.
    Close(u16, &'static str),
}

/// Close codes of the signaling socket (4000–4999 are the application's).
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const BAD_MESSAGE: u16 = 4400;
    /// The room ticket is missing, invalid or expired: fetch a fresh one (`…/join`).
    pub const TICKET: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const TIMEOUT: u16 = 4408;
    pub const REPLACED: u16 = 4409;
    pub const SESSION_EXPIRED: u16 = 4410;
    pub const RATE_LIMITED: u16 = 4429;
}

struct Conn {
    id: u64,
    tx: mpsc::Sender<Out>,
}

struct Member {
    session: Uuid,
    role: ParticipantRole,
    conn: Option<Conn>,
    next_seq: u64,
    replay: VecDeque<(u64, Arc<str>)>,
    /// The last sequence number dropped from `replay` for room: a resume from before it has a gap.
    evicted_upto: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Present,
    Reconnecting,
}

struct Held {
    to: Uuid,
    at: Instant,
    /// The message, serialized (see [`Room::deliver_text`]).
    message: String,
}

#[derive(Default)]
struct Inner {
    local: HashMap<Uuid, Member>,
    /// Participants connected to other instances, as announced on the bus.
    remote: HashMap<Uuid, (ParticipantRole, Presence)>,
    held: Vec<Held>,
    /// Participants the calls' owner admitted, until when: a message for one who is absent need
    /// not ask it again (and the database behind it) each time. Only admissions are kept; a
    /// refusal is asked again, since someone may be invited in meanwhile.
    admitted: HashMap<Uuid, chrono::DateTime<chrono::Utc>>,
    /// Closed on this instance: a new socket opens a fresh room.
    closed: bool,
}

pub struct Room {
    pub id: Uuid,
    inner: Mutex<Inner>,
}

/// This instance's rooms.
pub struct Hub {
    /// Distinguishes this instance's announcements on the bus from the others'.
    pub instance: Uuid,
    rooms: Mutex<HashMap<Uuid, Arc<Room>>>,
    next_conn: std::sync::atomic::AtomicU64,
    /// The instance's listener on the rooms' topic, started with the first room.
    listening: tokio::sync::OnceCell<()>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            instance: Uuid::new_v4(),
            rooms: Mutex::new(HashMap::new()),
            next_conn: std::sync::atomic::AtomicU64::new(1),
            listening: tokio::sync::OnceCell::new(),
        }
    }
}

/// How a socket enters a room.
#[derive(Debug, Clone, Copy)]
pub enum Entry {
    Join,
    Resume { session: Uuid, last_seq: u64 },
}

/// A socket attached to a room.
pub struct Attached {
    pub room: Arc<Room>,
    pub conn: u64,
    pub session: Uuid,
    pub rx: mpsc::Receiver<Out>,
}

fn rank(role: ParticipantRole) -> u8 {
    match role {
        ParticipantRole::Patient => 1,
        ParticipantRole::Specialist => 2,
        ParticipantRole::Doctor => 3,
    }
}

/// The others in a room as `me` is told of them (`joined`, `resumed`), with `me`'s part in each
/// pair.
fn peers_as_seen_by(
    roster: &[(Uuid, ParticipantRole, Presence)],
    me: Uuid,
    role: ParticipantRole,
) -> Vec<Peer> {
    roster
        .iter()
        .map(|(id, r, p)| Peer {
            participant_id: *id,
            role: *r,
            reconnecting: *p == Presence::Reconnecting,
            polite: polite((me, role), (*id, *r)),
        })
        .collect()
}

/// The others toward whom `me` is the impolite side: those `me` restarts ICE with.
fn impolite_toward(
    roster: &[(Uuid, ParticipantRole, Presence)],
    me: Uuid,
    role: ParticipantRole,
) -> Vec<Uuid> {
    roster
        .iter()
        .filter(|(id, r, _)| !polite((me, role), (*id, *r)))
        .map(|(id, _, _)| *id)
        .collect()
}

/// Perfect negotiation: of each pair exactly one is polite (it yields on an offer collision). The
/// doctor's side is impolite towards the resident; between equals, the smaller id yields.
pub fn polite(me: (Uuid, ParticipantRole), them: (Uuid, ParticipantRole)) -> bool {
    (rank(me.1), me.0) < (rank(them.1), them.0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Room {
    /// Number a message for a local member, keep it for a resume, and queue it on its socket.
    fn deliver(inner: &mut Inner, to: Uuid, message: Value) {
        Self::deliver_text(inner, to, message.to_string());
    }

    /// [`Room::deliver`] for the answer to a join or a resume, which is not kept for a later
    /// resume: whoever resumes has had `joined` (it names the session), and gets a fresh
    /// `resumed`. Thousands of idle sockets would otherwise each hold their `joined`.
    fn deliver_session(inner: &mut Inner, to: Uuid, message: Value) {
        Self::number_and_send(inner, to, message.to_string(), false);
    }

    /// [`Room::deliver`] for a message already serialized: one JSON object, to which the sequence
    /// number is appended as text (relayed offers, answers and candidates are never parsed into a
    /// tree and serialized again).
    fn deliver_text(inner: &mut Inner, to: Uuid, message: String) {
        Self::number_and_send(inner, to, message, true);
    }

    fn number_and_send(inner: &mut Inner, to: Uuid, message: String, keep: bool) {
        let Some(m) = inner.local.get_mut(&to) else {
            return;
        };
        let seq = m.next_seq;
        m.next_seq += 1;
        let text: Arc<str> = Arc::from(with_seq(message, seq));
        if keep {
            m.replay.push_back((seq, text.clone()));
            while m.replay.len() > REPLAY {
                if let Some((dropped, _)) = m.replay.pop_front() {
                    m.evicted_upto = dropped;
                }
            }
        }
        if let Some(c) = &m.conn
            && c.tx.try_send(Out::Text(text)).is_err()
        {
            // The socket cannot keep up (or is gone): drop it; the participant resumes from the
            // replay buffer.
            m.conn = None;
        }
    }

    /// Everyone present in the room (here and elsewhere) except `except`.
    fn roster(inner: &Inner, except: Option<Uuid>) -> Vec<(Uuid, ParticipantRole, Presence)> {
        let mut out: Vec<_> = inner
            .local
            .iter()
            .map(|(id, m)| {
                let p = if m.conn.is_some() {
                    Presence::Present
                } else {
                    Presence::Reconnecting
                };
                (*id, m.role, p)
            })
            .chain(inner.remote.iter().map(|(id, (r, p))| (*id, *r, *p)))
            .filter(|(id, _, _)| Some(*id) != except)
            .collect();
        out.sort_by_key(|(id, _, _)| *id);
        out.dedup_by_key(|(id, _, _)| *id);
        out
    }
}

/// Append `"seq": seq` to a serialized JSON object.
fn with_seq(mut text: String, seq: u64) -> String {
    use std::fmt::Write as _;
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    if text.pop() != Some('}') {
        // Not an object (never built here): wrap it rather than send broken JSON.
        return json!({ "message": text, "seq": seq }).to_string();
    }
    if !text.trim_end().ends_with('{') {
        text.push(',');
    }
    let _ = write!(text, "\"seq\":{seq}}}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_number_is_appended_to_the_object() {
        for (text, seq) in [
            (r#"{"type":"candidate","candidate":{"candidate":"x"}}"#, 7),
            ("{}", 0),
            ("{ \"a\": [1, {\"b\": 2}] }  ", 42),
        ] {
            let v: Value = serde_json::from_str(&with_seq(text.to_string(), seq)).unwrap();
            let mut want: Value = serde_json::from_str(text).unwrap();
            want["seq"] = json!(seq);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn each_pair_has_exactly_one_polite_side() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let patient = (a, ParticipantRole::Patient);
        let doctor = (b, ParticipantRole::Doctor);
        let specialist = (c, ParticipantRole::Specialist);
        for (x, y) in [
            (patient, doctor),
            (patient, specialist),
            (doctor, specialist),
        ] {
            assert_ne!(polite(x, y), polite(y, x));
        }
        assert!(polite(patient, doctor));
        assert!(polite(specialist, doctor));
        let other = (Uuid::now_v7(), ParticipantRole::Specialist);
        assert_ne!(polite(specialist, other), polite(other, specialist));
    }
}
