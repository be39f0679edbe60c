//! The rooms' events on the bus ([`TOPIC`]), as they travel between instances.
//!
//! Instances of different versions may share a bus (a rolling deploy), so what is written here is
//! the wire format: the tag `k`, the key names, the kind and state strings, which keys may be
//! absent and what their absence means. Keys an instance does not know are ignored; an event it
//! cannot read at all (a kind from a newer version) is skipped by the listener.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{ParticipantRole, TOPIC};
use crate::bus::Bus;

/// One event of a room. `from` is the instance that published it (for kinds whose publisher
/// applies them itself before publishing); `room` is the consultation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A participant is present, reconnecting, resumed, or left.
    Presence {
        from: Uuid,
        account: Uuid,
        role: ParticipantRole,
        state: PresenceState,
        /// Why they left (`null` otherwise); absent means "left".
        #[serde(default)]
        reason: Option<String>,
        /// A re-announcement answering a `who` (not news to anyone who knew).
        #[serde(default)]
        again: bool,
        room: Uuid,
    },
    /// An instance that just opened the room asks the others to announce their participants.
    Who { from: Uuid, room: Uuid },
    /// An offer, answer or candidate for one participant, copied through as it came: one JSON
    /// object as its `text`, or (from instances of an older version) as the `message` object.
    Relay {
        to: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<Value>,
        room: Uuid,
    },
    /// A participant's network changed: its peers expect an ICE restart.
    Net {
        from: Uuid,
        account: Uuid,
        room: Uuid,
    },
    /// The call is over; absent `reason` means "ended".
    End {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        room: Uuid,
    },
}

/// A participant's presence as announced. A state this version does not know counts as left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    Present,
    Reconnecting,
    Resumed,
    #[serde(other)]
    Left,
}

impl RoomEvent {
    /// The consultation whose room this concerns.
    pub fn room(&self) -> Uuid {
        match self {
            RoomEvent::Presence { room, .. }
            | RoomEvent::Who { room, .. }
            | RoomEvent::Relay { room, .. }
            | RoomEvent::Net { room, .. }
            | RoomEvent::End { room, .. } => *room,
        }
    }

    /// A message for one participant, as its text.
    pub fn relay(room: Uuid, to: Uuid, text: String) -> RoomEvent {
        RoomEvent::Relay {
            to,
            text: Some(text),
            message: None,
            room,
        }
    }

    /// The relayed message as its text: `text`, or else an older instance's `message` object.
    pub fn relayed_text(text: Option<String>, message: Option<Value>) -> Option<String> {
        text.or_else(|| message.filter(Value::is_object).map(|m| m.to_string()))
    }

    /// Publish on the rooms' topic.
    pub async fn publish(&self, bus: &dyn Bus) -> anyhow::Result<()> {
        bus.publish(TOPIC, serde_json::to_value(self)?).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Each event as this version writes it, and the JSON the code before the typed events built
    /// for it (`event(room, json!(…))`).
    fn cases() -> Vec<(RoomEvent, Value)> {
        let (room, from, account, to) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let role = ParticipantRole::Specialist;
        let text = r#"{"type":"candidate","candidate":{"candidate":"x","sdpMid":"0"}}"#.to_string();
        let with_room = |mut v: Value| {
            v["room"] = json!(room);
            v
        };
        let mut cases = vec![];
        for (state, what) in [
            (PresenceState::Present, "present"),
            (PresenceState::Reconnecting, "reconnecting"),
            (PresenceState::Resumed, "resumed"),
            (PresenceState::Left, "left"),
        ] {
            for (reason, again) in [(None, false), (Some("timeout"), false), (None, true)] {
                cases.push((
                    RoomEvent::Presence {
                        from,
                        account,
                        role,
                        state,
                        reason: reason.map(str::to_string),
                        again,
                        room,
                    },
                    with_room(json!({
                        "k": "presence",
                        "from": from,
                        "account": account,
                        "role": role,
                        "state": what,
                        "reason": reason,
                        "again": again,
                    })),
                ));
            }
        }
        cases.push((
            RoomEvent::Who { from, room },
            with_room(json!({ "k": "who", "from": from })),
        ));
        cases.push((
            RoomEvent::relay(room, to, text.clone()),
            with_room(json!({ "k": "relay", "to": to, "text": text })),
        ));
        cases.push((
            RoomEvent::Net {
                from,
                account,
                room,
            },
            with_room(json!({ "k": "net", "from": from, "account": account })),
        ));
        cases.push((
            RoomEvent::End {
                reason: Some("declined".into()),
                room,
            },
            with_room(json!({ "k": "end", "reason": "declined" })),
        ));
        cases
    }

    #[test]
    fn room_events_are_written_as_before_and_read_back() {
        for (event, old) in cases() {
            let written = serde_json::to_value(&event).unwrap();
            assert_eq!(written, old, "{event:?}");
            // What crosses instances is the payload's text.
            assert_eq!(written.to_string(), old.to_string(), "{event:?}");
            let read: RoomEvent = serde_json::from_value(old).unwrap();
            assert_eq!(read, event);
        }
    }

    #[test]
    fn room_events_of_other_versions_are_read_with_their_defaults() {
        let (room, from, account, to) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        // No reason, no `again`, a state this version does not know, unknown keys.
        let presence: RoomEvent = serde_json::from_value(json!({
            "k": "presence", "from": from, "account": account, "role": "doctor",
            "state": "on_hold", "room": room, "extra": 1,
        }))
        .unwrap();
        assert_eq!(
            presence,
            RoomEvent::Presence {
                from,
                account,
                role: ParticipantRole::Doctor,
                state: PresenceState::Left,
                reason: None,
                again: false,
                room,
            }
        );
        // An older instance relays the message as an object.
        let message = json!({ "type": "answer", "sdp": "v=0" });
        let relay: RoomEvent = serde_json::from_value(
            json!({ "k": "relay", "to": to, "message": message, "room": room }),
        )
        .unwrap();
        let RoomEvent::Relay {
            to: got_to,
            text,
            message: got,
            room: got_room,
        } = relay
        else {
            panic!("not a relay: {relay:?}");
        };
        assert_eq!((got_to, got_room), (to, room));
        let relayed = RoomEvent::relayed_text(text, got).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&relayed).unwrap(), message);
        // The text wins over the object; a message that is not an object is none.
        assert_eq!(
            RoomEvent::relayed_text(Some("{}".into()), Some(message)),
            Some("{}".into())
        );
        assert_eq!(RoomEvent::relayed_text(None, Some(json!("x"))), None);
        assert_eq!(
            serde_json::from_value::<RoomEvent>(json!({ "k": "end", "room": room })).unwrap(),
            RoomEvent::End { reason: None, room }
        );
        // Unreadable: a kind from a newer version, a missing room, a bad id. None panics.
        for bad in [
            json!({ "k": "mute", "from": from, "room": room }),
            json!({ "k": "who", "from": from }),
            json!({ "k": "net", "from": from, "account": "nope", "room": room }),
            json!({ "room": room }),
            json!("who"),
        ] {
            assert!(serde_json::from_value::<RoomEvent>(bad).is_err());
        }
    }
}
