//! The room's bus topic: this instance's listener applying what other instances publish, presence
//! changes told to the local participants (and announced to the others), and network changes.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use uuid::Uuid;

use super::relay::publish_relay;
use super::{
    HOLD, Held, Hub, Out, ParticipantRole, Presence, Room, TOPIC, close, event, impolite_toward,
    lock, polite,
};
use crate::bus::Received;
use crate::rtc::Ctx;

impl Hub {
    /// The instance's listener: apply what the bus carries to the participants of the rooms here.
    pub(super) async fn listen(self: Arc<Self>, state: Ctx, mut sub: crate::bus::Subscription) {
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
    pub(super) async fn announce(
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
