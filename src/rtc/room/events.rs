//! The room's bus topic: this instance's listener applying what other instances publish, presence
//! changes told to the local participants (and announced to the others), and network changes.

use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use super::relay::publish_relay;
use super::{
    HOLD, Held, Hub, Out, ParticipantRole, Presence, PresenceState, Room, RoomEvent, RoomMessage,
    close, impolite_toward, lock, polite,
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
            // Another instance (perhaps of another version) wrote it: what cannot be read is
            // skipped.
            let event = match serde_json::from_value::<RoomEvent>(payload) {
                Ok(event) => event,
                Err(e) => {
                    tracing::debug!(error = %e, "skipping a room event this instance cannot read");
                    continue;
                }
            };
            // Rooms with nobody here are none of this instance's business.
            if let Some(room) = self.room(event.room()) {
                self.apply(&state, &room, event).await;
            }
        }
    }

    /// Apply one bus event; true when the room is closed for good.
    async fn apply(&self, state: &Ctx, room: &Arc<Room>, event: RoomEvent) -> bool {
        match event {
            RoomEvent::Presence {
                from,
                account,
                role,
                state: what,
                reason,
                again,
                room: _,
            } => {
                // This instance applied its own changes when it made them.
                if from == self.instance {
                    return false;
                }
                let reason = reason.as_deref().unwrap_or("left");
                self.presence_changed(state, room, account, role, what, reason, again, true)
                    .await;
                false
            }
            RoomEvent::Who { from, room: _ } => {
                if from != self.instance {
                    let members: Vec<(Uuid, ParticipantRole, bool)> = lock(&room.inner)
                        .local
                        .iter()
                        .map(|(id, m)| (*id, m.role, m.conn.is_some()))
                        .collect();
                    for (id, role, connected) in members {
                        let what = if connected {
                            PresenceState::Present
                        } else {
                            PresenceState::Reconnecting
                        };
                        announce_as(state, room.id, self.instance, id, role, what, None, true)
                            .await;
                    }
                }
                false
            }
            RoomEvent::Relay {
                to, text, message, ..
            } => {
                // The message travels as its text; an object is what instances of an older
                // version send.
                if let Some(message) = RoomEvent::relayed_text(text, message) {
                    let mut inner = lock(&room.inner);
                    if inner.local.contains_key(&to) {
                        Room::deliver_text(&mut inner, to, message);
                    }
                }
                false
            }
            RoomEvent::Net {
                from,
                account,
                room: _,
            } => {
                if from != self.instance {
                    Self::tell_network_changed(room, account);
                }
                false
            }
            RoomEvent::End { reason, room: _ } => {
                let reason = reason.as_deref().unwrap_or("ended");
                let mut inner = lock(&room.inner);
                let ids: Vec<Uuid> = inner.local.keys().copied().collect();
                for id in &ids {
                    Room::deliver(
                        &mut inner,
                        *id,
                        RoomMessage::CallEnded { reason }.to_value(),
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
        what: PresenceState,
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
                    PresenceState::Present | PresenceState::Resumed => {
                        inner.remote.insert(account, (role, Presence::Present));
                    }
                    PresenceState::Reconnecting => {
                        inner.remote.insert(account, (role, Presence::Reconnecting));
                    }
                    PresenceState::Left => {
                        inner.remote.remove(&account);
                    }
                }
            }
            // A re-announcement of someone already known is not news.
            let news =
                !(again && known == Some(Presence::Present) && what == PresenceState::Present);
            let others: Vec<(Uuid, ParticipantRole)> = inner
                .local
                .iter()
                .filter(|(id, _)| news && **id != account)
                .map(|(id, m)| (*id, m.role))
                .collect();
            for (id, my_role) in others {
                let message = match what {
                    PresenceState::Present => RoomMessage::PeerJoined {
                        participant_id: account,
                        role,
                        polite: polite((id, my_role), (account, role)),
                    },
                    PresenceState::Resumed => RoomMessage::PeerResumed {
                        participant_id: account,
                        // The impolite side of the pair restarts.
                        ice_restart: !polite((id, my_role), (account, role)),
                    },
                    PresenceState::Reconnecting => RoomMessage::PeerReconnecting {
                        participant_id: account,
                    },
                    PresenceState::Left => RoomMessage::PeerLeft {
                        participant_id: account,
                        reason,
                    },
                }
                .to_value();
                Room::deliver(&mut inner, id, message);
            }
            if matches!(what, PresenceState::Present | PresenceState::Resumed) {
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
            connect_call = matches!(what, PresenceState::Present | PresenceState::Resumed)
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
        what: PresenceState,
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
        let net = RoomEvent::Net {
            from: self.instance,
            account,
            room: room.id,
        };
        let _ = net.publish(&*state.bus).await;
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
                RoomMessage::PeerNetworkChanged {
                    participant_id: from,
                    ice_restart: restart,
                }
                .to_value(),
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
    what: PresenceState,
    reason: Option<&str>,
    again: bool,
) {
    let presence = RoomEvent::Presence {
        from: instance,
        account,
        role,
        state: what,
        reason: reason.map(str::to_string),
        again,
        room,
    };
    if let Err(e) = presence.publish(&*state.bus).await {
        tracing::warn!(error = %e, "announcing presence");
    }
}
