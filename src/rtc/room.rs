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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::ParticipantRole;
use crate::bus::Received;
use crate::rtc::Ctx;

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

/// An event for the room's bus topic.
pub(super) fn event(room: Uuid, mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.insert("room".into(), json!(room));
    }
    body
}

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
) -> Vec<Value> {
    roster
        .iter()
        .map(|(id, r, p)| {
            json!({
                "participant_id": id,
                "role": r,
                "reconnecting": *p == Presence::Reconnecting,
                "polite": polite((me, role), (*id, *r)),
            })
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

impl Hub {
    fn room(&self, id: Uuid) -> Option<Arc<Room>> {
        lock(&self.rooms).get(&id).cloned()
    }

    /// Open the room on this instance (listening on the rooms' topic first, so no announcement is
    /// missed), or return it if open.
    async fn open(self: &Arc<Self>, state: &Ctx, id: Uuid) -> anyhow::Result<Arc<Room>> {
        self.listening
            .get_or_try_init(|| async {
                let sub = state.bus.subscribe(TOPIC).await?;
                let hub = self.clone();
                let st = state.clone();
                tokio::spawn(async move { hub.listen(st, sub).await });
                anyhow::Ok(())
            })
            .await?;
        if let Some(r) = self.room(id) {
            return Ok(r);
        }
        let room = {
            let mut rooms = lock(&self.rooms);
            if let Some(r) = rooms.get(&id) {
                return Ok(r.clone());
            }
            let room = Arc::new(Room {
                id,
                inner: Mutex::new(Inner::default()),
            });
            rooms.insert(id, room.clone());
            room
        };
        state
            .bus
            .publish(
                TOPIC,
                event(id, json!({ "k": "who", "from": self.instance })),
            )
            .await?;
        Ok(room)
    }

    /// Attach a socket of `account` to the consultation's room.
    pub async fn attach(
        self: &Arc<Self>,
        state: &Ctx,
        consultation: Uuid,
        account: Uuid,
        role: ParticipantRole,
        entry: Entry,
    ) -> Result<Attached, (u16, &'static str)> {
        let (tx, rx) = mpsc::channel(OUTBOX);
        let conn = self
            .next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ice = state.ice_servers(&account.to_string());
        let ping_ms = state.settings.rtc_ping_secs * 1000;
        let mut attempts = 0;
        let room = loop {
            let room = self
                .open(state, consultation)
                .await
                .map_err(|_| (close::GOING_AWAY, "unavailable"))?;
            if !lock(&room.inner).closed {
                break room;
            }
            attempts += 1;
            if attempts > 3 {
                return Err((close::GOING_AWAY, "unavailable"));
            }
        };
        let (session, presence, old) = {
            let mut inner = lock(&room.inner);
            if inner.closed {
                return Err((close::GOING_AWAY, "unavailable"));
            }
            let roster = Room::roster(&inner, Some(account));
            match entry {
                Entry::Join => {
                    if roster.len() + 1 > MAX_PARTICIPANTS {
                        return Err((close::FORBIDDEN, "room_full"));
                    }
                    let old = inner.local.remove(&account).and_then(|m| m.conn);
                    let session = Uuid::new_v4();
                    inner.local.insert(
                        account,
                        Member {
                            session,
                            role,
                            conn: Some(Conn { id: conn, tx }),
                            next_seq: 1,
                            replay: VecDeque::new(),
                            evicted_upto: 0,
                        },
                    );
                    let peers = peers_as_seen_by(&roster, account, role);
                    Room::deliver_session(
                        &mut inner,
                        account,
                        json!({
                            "type": "joined",
                            "protocol": super::PROTOCOL,
                            "session_id": session,
                            "participant_id": account,
                            "role": role,
                            "room": consultation,
                            "peers": peers,
                            "ice_servers": ice,
                            "ping_interval_ms": ping_ms,
                            "ping_timeout_ms": ping_ms * 3,
                            "max_message_bytes": state.settings.rtc_max_message_bytes,
                            "messages_per_sec": state.settings.rtc_messages_per_sec,
                        }),
                    );
                    (session, "present", old)
                }
                Entry::Resume { session, last_seq } => {
                    let Some(m) = inner.local.get_mut(&account) else {
                        return Err((close::SESSION_EXPIRED, "session_expired"));
                    };
                    if m.session != session {
                        return Err((close::SESSION_EXPIRED, "session_expired"));
                    }
                    let old = m.conn.take();
                    // Replay what the participant missed, then tell it to restart ICE.
                    let missed: Vec<Arc<str>> = m
                        .replay
                        .iter()
                        .filter(|(s, _)| *s > last_seq)
                        .map(|(_, t)| t.clone())
                        .collect();
                    let gap = m.evicted_upto > last_seq;
                    for t in &missed {
                        let _ = tx.try_send(Out::Text(t.clone()));
                    }
                    m.conn = Some(Conn { id: conn, tx });
                    // One side of each pair restarts ICE, the impolite one: both offering at once
                    // would collide every time.
                    let restart_with = impolite_toward(&roster, account, role);
                    let peers = peers_as_seen_by(&roster, account, role);
                    Room::deliver_session(
                        &mut inner,
                        account,
                        json!({
                            "type": "resumed",
                            "session_id": session,
                            "replayed": missed.len(),
                            "gap": gap,
                            "peers": peers,
                            "ice_servers": ice,
                            "ice_restart": !restart_with.is_empty(),
                            "restart_with": restart_with,
                        }),
                    );
                    (session, "resumed", old)
                }
            }
        };
        if let Some(old) = old {
            let _ = old.tx.try_send(Out::Close(close::REPLACED, "replaced"));
        }
        self.announce(state, &room, account, role, presence, None)
            .await;
        Ok(Attached {
            room,
            conn,
            session,
            rx,
        })
    }

    /// A socket ended. If the participant left on purpose they are gone at once; otherwise they
    /// are reconnecting until the grace runs out.
    pub async fn detach(
        self: &Arc<Self>,
        state: &Ctx,
        room: &Arc<Room>,
        account: Uuid,
        conn: u64,
        left: bool,
    ) {
        let role = {
            let mut inner = lock(&room.inner);
            let Some(m) = inner.local.get_mut(&account) else {
                return;
            };
            // A newer socket replaced this one: nothing changes.
            if m.conn.as_ref().is_some_and(|c| c.id != conn) {
                return;
            }
            let role = m.role;
            if left {
                inner.local.remove(&account);
            } else {
                m.conn = None;
            }
            role
        };
        if left {
            self.announce(state, room, account, role, "left", Some("left"))
                .await;
            self.after_departure(state, room).await;
            self.close_if_idle(room);
            return;
        }
        self.announce(state, room, account, role, "reconnecting", None)
            .await;
        let session = {
            let inner = lock(&room.inner);
            inner.local.get(&account).map(|m| m.session)
        };
        let hub = self.clone();
        let st = state.clone();
        let r = room.clone();
        let grace = Duration::from_secs(state.settings.rtc_resume_grace_secs);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let expired = {
                let mut inner = lock(&r.inner);
                match inner.local.get(&account) {
                    Some(m) if m.conn.is_none() && Some(m.session) == session => {
                        inner.local.remove(&account);
                        true
                    }
                    _ => false,
                }
            };
            if expired {
                hub.announce(&st, &r, account, role, "left", Some("timeout"))
                    .await;
                hub.after_departure(&st, &r).await;
                hub.close_if_idle(&r);
            }
        });
    }

    /// Close the room on this instance once nobody here is in it.
    fn close_if_idle(&self, room: &Arc<Room>) {
        let mut rooms = lock(&self.rooms);
        let mut inner = lock(&room.inner);
        if inner.local.is_empty() && !inner.closed {
            inner.closed = true;
            if rooms.get(&room.id).is_some_and(|r| Arc::ptr_eq(r, room)) {
                rooms.remove(&room.id);
            }
        }
    }

    /// When nobody is left in the room anywhere, an ongoing call is over.
    async fn after_departure(&self, state: &Ctx, room: &Arc<Room>) {
        let empty = {
            let inner = lock(&room.inner);
            Room::roster(&inner, None).is_empty()
        };
        if empty && let Err(e) = state.calls.emptied(room.id).await {
            tracing::warn!(error = %e, consultation = %room.id, "ending an empty call");
        }
    }

    /// The instance's listener: apply what the bus carries to the participants of the rooms here.
    async fn listen(self: Arc<Self>, state: Ctx, mut sub: crate::bus::Subscription) {
        loop {
            let payload = match sub.recv().await {
                Received::Event(e) => e.payload,
                Received::Lagged(n) => {
                    tracing::warn!(missed = n, "signaling fell behind the bus");
                    continue;
                }
                Received::Closed => break,
            };
            let room = payload
                .get("room")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
                .and_then(|id| self.room(id));
            // Rooms with nobody here are none of this instance's business.
            if let Some(room) = room {
                self.apply(&state, &room, payload).await;
            }
        }
    }

    /// Apply one bus event; true when the room is closed for good.
    async fn apply(&self, state: &Ctx, room: &Arc<Room>, event: Value) -> bool {
        let kind = event.get("k").and_then(Value::as_str).unwrap_or("");
        let from_instance = event
            .get("from")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok());
        let mine = from_instance == Some(self.instance);
        match kind {
            "presence" => {
                let (Some(account), Some(role), Some(what)) = (
                    event
                        .get("account")
                        .and_then(Value::as_str)
                        .and_then(|s| Uuid::parse_str(s).ok()),
                    event
                        .get("role")
                        .cloned()
                        .and_then(|r| serde_json::from_value::<ParticipantRole>(r).ok()),
                    event.get("state").and_then(Value::as_str),
                ) else {
                    return false;
                };
                let reason = event
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("left");
                let again = event.get("again").and_then(Value::as_bool).unwrap_or(false);
                // This instance applied its own changes when it made them.
                if mine {
                    return false;
                }
                self.presence_changed(state, room, account, role, what, reason, again, true)
                    .await;
                false
            }
            "who" => {
                if !mine {
                    let members: Vec<(Uuid, ParticipantRole, bool)> = lock(&room.inner)
                        .local
                        .iter()
                        .map(|(id, m)| (*id, m.role, m.conn.is_some()))
                        .collect();
                    for (id, role, connected) in members {
                        let what = if connected { "present" } else { "reconnecting" };
                        announce_as(state, room.id, self.instance, id, role, what, None, true)
                            .await;
                    }
                }
                false
            }
            "relay" => {
                let to = event
                    .get("to")
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok());
                // The message travels as its text; an object is what instances of an older
                // version send.
                let message = match event.get("text") {
                    Some(Value::String(t)) => Some(t.clone()),
                    _ => event
                        .get("message")
                        .filter(|m| m.is_object())
                        .map(Value::to_string),
                };
                if let (Some(to), Some(message)) = (to, message) {
                    let mut inner = lock(&room.inner);
                    if inner.local.contains_key(&to) {
                        Room::deliver_text(&mut inner, to, message);
                    }
                }
                false
            }
            "net" => {
                let from = event
                    .get("account")
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok());
                if let Some(from) = from
                    && !mine
                {
                    Self::tell_network_changed(room, from);
                }
                false
            }
            "end" => {
                let reason = event
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("ended")
                    .to_string();
                let mut inner = lock(&room.inner);
                let ids: Vec<Uuid> = inner.local.keys().copied().collect();
                for id in &ids {
                    Room::deliver(
                        &mut inner,
                        *id,
                        json!({ "type": "call_ended", "reason": reason }),
                    );
                    if let Some(m) = inner.local.get(id)
                        && let Some(c) = &m.conn
                    {
                        let _ = c.tx.try_send(Out::Close(close::NORMAL, "call_ended"));
                    }
                }
                inner.local.clear();
                inner.remote.clear();
                inner.closed = true;
                drop(inner);
                let mut rooms = lock(&self.rooms);
                if rooms.get(&room.id).is_some_and(|r| Arc::ptr_eq(r, room)) {
                    rooms.remove(&room.id);
                }
                true
            }
            _ => false,
        }
    }

    /// Someone's presence changed: here (`remote` false, applied as it happens) or on another
    /// instance (from the bus). Tells this instance's other participants, hands over candidates
    /// that waited, and starts the call when both sides are present.
    #[allow(clippy::too_many_arguments)]
    async fn presence_changed(
        &self,
        state: &Ctx,
        room: &Arc<Room>,
        account: Uuid,
        role: ParticipantRole,
        what: &str,
        reason: &str,
        again: bool,
        remote: bool,
    ) {
        let mut relays = vec![];
        let connect_call;
        {
            let mut inner = lock(&room.inner);
            let known = inner.remote.get(&account).map(|(_, p)| *p);
            if remote {
                match what {
                    "present" | "resumed" => {
                        inner.remote.insert(account, (role, Presence::Present));
                    }
                    "reconnecting" => {
                        inner.remote.insert(account, (role, Presence::Reconnecting));
                    }
                    _ => {
                        inner.remote.remove(&account);
                    }
                }
            }
            // A re-announcement of someone already known is not news.
            let news = !(again && known == Some(Presence::Present) && what == "present");
            let others: Vec<(Uuid, ParticipantRole)> = inner
                .local
                .iter()
                .filter(|(id, _)| news && **id != account)
                .map(|(id, m)| (*id, m.role))
                .collect();
            for (id, my_role) in others {
                let message = match what {
                    "present" => json!({
                        "type": "peer_joined",
                        "participant_id": account,
                        "role": role,
                        "polite": polite((id, my_role), (account, role)),
                    }),
                    "resumed" => json!({
                        "type": "peer_resumed",
                        "participant_id": account,
                        // The impolite side of the pair restarts.
                        "ice_restart": !polite((id, my_role), (account, role)),
                    }),
                    "reconnecting" => json!({
                        "type": "peer_reconnecting",
                        "participant_id": account,
                    }),
                    _ => json!({
                        "type": "peer_left",
                        "participant_id": account,
                        "reason": reason,
                    }),
                };
                Room::deliver(&mut inner, id, message);
            }
            if matches!(what, "present" | "resumed") {
                // Candidates that waited for this participant.
                let now = Instant::now();
                inner.held.retain(|h| now.duration_since(h.at) < HOLD);
                let (ready, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut inner.held)
                    .into_iter()
                    .partition(|h| h.to == account);
                inner.held = keep;
                for h in ready {
                    if inner.local.contains_key(&account) {
                        Room::deliver_text(&mut inner, account, h.message);
                    } else {
                        relays.push(h.message);
                    }
                }
            }
            let roster = Room::roster(&inner, None);
            // Whichever instance first sees both sides present starts the call (the
            // change is conditional, so a second start is a harmless no-op).
            connect_call = matches!(what, "present" | "resumed")
                && roster
                    .iter()
                    .any(|(_, r, p)| *r == ParticipantRole::Patient && *p == Presence::Present)
                && roster
                    .iter()
                    .any(|(_, r, p)| *r != ParticipantRole::Patient && *p == Presence::Present);
        }
        for message in relays {
            let _ = publish_relay(state, room.id, account, message).await;
        }
        if connect_call && let Err(e) = state.calls.connected(room.id).await {
            tracing::warn!(error = %e, consultation = %room.id, "starting the call")
        }
    }

    /// A local participant's presence changed: apply it here at once, then tell the other instances.
    #[allow(clippy::too_many_arguments)]
    async fn announce(
        &self,
        state: &Ctx,
        room: &Arc<Room>,
        account: Uuid,
        role: ParticipantRole,
        what: &str,
        reason: Option<&str>,
    ) {
        self.presence_changed(
            state,
            room,
            account,
            role,
            what,
            reason.unwrap_or("left"),
            false,
            false,
        )
        .await;
        announce_as(
            state,
            room.id,
            self.instance,
            account,
            role,
            what,
            reason,
            false,
        )
        .await;
    }

    /// Hand a message (one serialized JSON object) to a participant of the room wherever they are
    /// connected. If they are an allowed participant who is not present yet, candidates wait
    /// briefly; anything else is refused.
    pub async fn relay(
        &self,
        state: &Ctx,
        room: &Arc<Room>,
        to: Uuid,
        message: String,
        hold_if_absent: bool,
    ) -> Result<(), &'static str> {
        // Here: straight into their outbox, in order with everything else they receive. If their
        // socket is behind, the sender waits (up to 5 s) instead of the message being dropped:
        // backpressure reaches the sender's socket.
        enum Next {
            Wait(mpsc::Sender<Out>),
            Elsewhere,
            Absent,
        }
        let mut waited = false;
        loop {
            let next = {
                let mut inner = lock(&room.inner);
                match inner.local.get(&to) {
                    Some(m) => match &m.conn {
                        Some(c) if c.tx.capacity() == 0 && !waited => Next::Wait(c.tx.clone()),
                        // Room, or stuck after waiting (delivering drops a stuck socket: it
                        // resumes), or reconnecting (kept for the resume).
                        _ => {
                            Room::deliver_text(&mut inner, to, message);
                            return Ok(());
                        }
                    },
                    // Present, or reconnecting, on another instance.
                    None if inner.remote.contains_key(&to) => Next::Elsewhere,
                    None => Next::Absent,
                }
            };
            match next {
                Next::Wait(tx) => {
                    waited = true;
                    // Capacity back (deliver on the next turn), or stuck or gone after 5 s.
                    let _ = tokio::time::timeout(Duration::from_secs(5), tx.reserve()).await;
                }
                Next::Elsewhere => break,
                Next::Absent => {
                    return self.hold(state, room, to, message, hold_if_absent).await;
                }
            }
        }
        publish_relay(state, room.id, to, message)
            .await
            .map_err(|_| "unavailable")
    }

    /// A message for someone not present: held briefly for an allowed participant (candidates
    /// only), refused otherwise.
    async fn hold(
        &self,
        state: &Ctx,
        room: &Arc<Room>,
        to: Uuid,
        message: String,
        hold_if_absent: bool,
    ) -> Result<(), &'static str> {
        let now = state.clock.now();
        let known = lock(&room.inner)
            .admitted
            .get(&to)
            .is_some_and(|until| *until > now);
        let allowed = known
            || match state.calls.participant(room.id, to).await {
                Ok(Some(p)) => {
                    lock(&room.inner).admitted.insert(to, p.until);
                    true
                }
                _ => false,
            };
        if !allowed {
            return Err("unknown_peer");
        }
        if !hold_if_absent {
            return Err("peer_not_present");
        }
        let mut inner = lock(&room.inner);
        let now = Instant::now();
        inner.held.retain(|h| now.duration_since(h.at) < HOLD);
        if inner.held.len() >= 256 {
            return Err("too_many_held");
        }
        inner.held.push(Held {
            to,
            at: now,
            message,
        });
        Ok(())
    }

    /// [`Hub::reply`] for a message already serialized (one JSON object).
    pub fn reply_text(&self, room: &Arc<Room>, to: Uuid, message: String) {
        let mut inner = lock(&room.inner);
        Room::deliver_text(&mut inner, to, message);
    }

    /// Queue a message for one local participant (answers to their own requests).
    pub fn reply(&self, room: &Arc<Room>, to: Uuid, message: Value) {
        let mut inner = lock(&room.inner);
        Room::deliver(&mut inner, to, message);
    }

    /// Tell the room a participant's network changed.
    pub async fn network_changed(&self, state: &Ctx, room: &Arc<Room>, account: Uuid) {
        Self::tell_network_changed(room, account);
        let _ = state
            .bus
            .publish(
                TOPIC,
                event(
                    room.id,
                    json!({ "k": "net", "from": self.instance, "account": account }),
                ),
            )
            .await;
    }

    fn tell_network_changed(room: &Arc<Room>, from: Uuid) {
        let mut inner = lock(&room.inner);
        let from_role = inner
            .local
            .get(&from)
            .map(|m| m.role)
            .or_else(|| inner.remote.get(&from).map(|(r, _)| *r));
        let others: Vec<(Uuid, ParticipantRole)> = inner
            .local
            .iter()
            .filter(|(id, _)| **id != from)
            .map(|(id, m)| (*id, m.role))
            .collect();
        for (id, my_role) in others {
            // The impolite side of the pair restarts. If the changer's role is not known here yet,
            // the changer restarts (its `ice_restart` names whom), never both.
            let restart = from_role.is_some_and(|r| !polite((id, my_role), (from, r)));
            Room::deliver(
                &mut inner,
                id,
                json!({ "type": "peer_network_changed", "participant_id": from, "ice_restart": restart }),
            );
        }
    }

    /// The participants toward whom `me` is the impolite side: those `me` restarts ICE with.
    pub fn restart_targets(room: &Arc<Room>, me: Uuid, role: ParticipantRole) -> Vec<Uuid> {
        let inner = lock(&room.inner);
        impolite_toward(&Room::roster(&inner, Some(me)), me, role)
    }
}

/// A message for a participant connected to another instance, as its text.
async fn publish_relay(state: &Ctx, room: Uuid, to: Uuid, message: String) -> anyhow::Result<()> {
    state
        .bus
        .publish(
            TOPIC,
            event(room, json!({ "k": "relay", "to": to, "text": message })),
        )
        .await
}

/// `again`: a re-announcement answering another instance's `who` (not news to anyone who knew).
#[allow(clippy::too_many_arguments)]
async fn announce_as(
    state: &Ctx,
    room: Uuid,
    instance: Uuid,
    account: Uuid,
    role: ParticipantRole,
    what: &str,
    reason: Option<&str>,
    again: bool,
) {
    let body = json!({
        "k": "presence",
        "from": instance,
        "account": account,
        "role": role,
        "state": what,
        "reason": reason,
        "again": again,
    });
    if let Err(e) = state.bus.publish(TOPIC, event(room, body)).await {
        tracing::warn!(error = %e, "announcing presence");
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
