//! Membership of a room on this instance: opening it, sockets attaching (join or resume) and
//! detaching (left, or reconnecting within the grace), and closing it once nobody here is in it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    Attached, Conn, Entry, Hub, Inner, MAX_PARTICIPANTS, Member, OUTBOX, Out, ParticipantRole,
    PresenceState, Room, RoomEvent, RoomMessage, TOPIC, close, impolite_toward, lock,
    peers_as_seen_by,
};
use crate::rtc::Ctx;

impl Hub {
    pub(super) fn room(&self, id: Uuid) -> Option<Arc<Room>> {
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
        RoomEvent::Who {
            from: self.instance,
            room: id,
        }
        .publish(&*state.bus)
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
                        RoomMessage::Joined {
                            protocol: crate::rtc::PROTOCOL,
                            session_id: session,
                            participant_id: account,
                            role,
                            room: consultation,
                            peers,
                            ice_servers: &ice,
                            ping_interval_ms: ping_ms,
                            ping_timeout_ms: ping_ms * 3,
                            max_message_bytes: state.settings.rtc_max_message_bytes,
                            messages_per_sec: state.settings.rtc_messages_per_sec,
                        }
                        .to_value(),
                    );
                    (session, PresenceState::Present, old)
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
                        RoomMessage::Resumed {
                            session_id: session,
                            replayed: missed.len(),
                            gap,
                            peers,
                            ice_servers: &ice,
                            ice_restart: !restart_with.is_empty(),
                            restart_with,
                        }
                        .to_value(),
                    );
                    (session, PresenceState::Resumed, old)
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
            self.announce(
                state,
                room,
                account,
                role,
                PresenceState::Left,
                Some("left"),
            )
            .await;
            self.after_departure(state, room).await;
            self.close_if_idle(room);
            return;
        }
        self.announce(
            state,
            room,
            account,
            role,
            PresenceState::Reconnecting,
            None,
        )
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
                hub.announce(&st, &r, account, role, PresenceState::Left, Some("timeout"))
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
}
