//! Relay of signaling messages to one participant wherever they are connected, holding candidates
//! briefly for an allowed participant who is not present yet, and replies to a local participant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{HOLD, Held, Hub, Out, Room, RoomEvent, lock};
use crate::rtc::Ctx;

impl Hub {
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
}

/// A message for a participant connected to another instance, as its text.
pub(super) async fn publish_relay(
    state: &Ctx,
    room: Uuid,
    to: Uuid,
    message: String,
) -> anyhow::Result<()> {
    RoomEvent::relay(room, to, message)
        .publish(&*state.bus)
        .await
}
