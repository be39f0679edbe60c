//! What a room tells its participants over their sockets: the answer to a join or a resume, the
//! others' comings and goings, and the end of the call. (What the signaling endpoint answers and
//! relays itself is `rtc::signal::ServerMessage`.) The JSON is the published protocol
//! (`openapi/signaling.asyncapi.yaml`): the tests below hold each message to what it has always been.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::ParticipantRole;
use crate::rtc::IceServer;

/// One message from the room to a participant.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum RoomMessage<'a> {
    /// The answer to a join: the session, the others, how to reach them and the socket's limits.
    Joined {
        protocol: u32,
        session_id: Uuid,
        participant_id: Uuid,
        role: ParticipantRole,
        room: Uuid,
        peers: Vec<Peer>,
        ice_servers: &'a [IceServer],
        ping_interval_ms: u64,
        ping_timeout_ms: u64,
        max_message_bytes: usize,
        messages_per_sec: u32,
    },
    /// The answer to a resume, after the missed messages were replayed.
    Resumed {
        session_id: Uuid,
        replayed: usize,
        /// Some missed messages were no longer kept.
        gap: bool,
        peers: Vec<Peer>,
        ice_servers: &'a [IceServer],
        ice_restart: bool,
        restart_with: Vec<Uuid>,
    },
    PeerJoined {
        participant_id: Uuid,
        role: ParticipantRole,
        polite: bool,
    },
    PeerResumed {
        participant_id: Uuid,
        /// The impolite side of the pair restarts ICE.
        ice_restart: bool,
    },
    PeerReconnecting {
        participant_id: Uuid,
    },
    PeerLeft {
        participant_id: Uuid,
        reason: &'a str,
    },
    PeerNetworkChanged {
        participant_id: Uuid,
        ice_restart: bool,
    },
    CallEnded {
        reason: &'a str,
    },
}

/// Another participant as one is told of them in `joined` and `resumed`.
#[derive(Debug, Serialize)]
pub(super) struct Peer {
    pub participant_id: Uuid,
    pub role: ParticipantRole,
    pub reconnecting: bool,
    /// The receiver's part in the pair.
    pub polite: bool,
}

impl RoomMessage<'_> {
    /// As a JSON tree, keys in the order every message of the protocol has (sorted).
    pub(super) fn to_value(&self) -> Value {
        // Nothing here can fail to serialize (no map has non-string keys).
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each message is the JSON the room built by hand before it had a type.
    #[test]
    fn room_messages_are_written_as_before() {
        let (me, other, session, room) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let ice = vec![IceServer {
            urls: vec!["stun:127.0.0.1:3478".into()],
            username: None,
            credential: None,
        }];
        let peers = || {
            vec![Peer {
                participant_id: other,
                role: ParticipantRole::Doctor,
                reconnecting: false,
                polite: true,
            }]
        };
        let old_peers = json!([{
            "participant_id": other,
            "role": ParticipantRole::Doctor,
            "reconnecting": false,
            "polite": true,
        }]);
        let cases = [
            (
                RoomMessage::Joined {
                    protocol: 1,
                    session_id: session,
                    participant_id: me,
                    role: ParticipantRole::Patient,
                    room,
                    peers: peers(),
                    ice_servers: &ice,
                    ping_interval_ms: 15_000,
                    ping_timeout_ms: 45_000,
                    max_message_bytes: 65_536,
                    messages_per_sec: 50,
                },
                json!({
                    "type": "joined",
                    "protocol": 1,
                    "session_id": session,
                    "participant_id": me,
                    "role": ParticipantRole::Patient,
                    "room": room,
                    "peers": old_peers,
                    "ice_servers": ice,
                    "ping_interval_ms": 15_000,
                    "ping_timeout_ms": 45_000,
                    "max_message_bytes": 65_536,
                    "messages_per_sec": 50,
                }),
            ),
            (
                RoomMessage::Resumed {
                    session_id: session,
                    replayed: 3,
                    gap: false,
                    peers: peers(),
                    ice_servers: &ice,
                    ice_restart: true,
                    restart_with: vec![other],
                },
                json!({
                    "type": "resumed",
                    "session_id": session,
                    "replayed": 3,
                    "gap": false,
                    "peers": old_peers,
                    "ice_servers": ice,
                    "ice_restart": true,
                    "restart_with": [other],
                }),
            ),
            (
                RoomMessage::PeerJoined {
                    participant_id: other,
                    role: ParticipantRole::Doctor,
                    polite: false,
                },
                json!({
                    "type": "peer_joined",
                    "participant_id": other,
                    "role": ParticipantRole::Doctor,
                    "polite": false,
                }),
            ),
            (
                RoomMessage::PeerResumed {
                    participant_id: other,
                    ice_restart: true,
                },
                json!({ "type": "peer_resumed", "participant_id": other, "ice_restart": true }),
            ),
            (
                RoomMessage::PeerReconnecting {
                    participant_id: other,
                },
                json!({ "type": "peer_reconnecting", "participant_id": other }),
            ),
            (
                RoomMessage::PeerLeft {
                    participant_id: other,
                    reason: "left",
                },
                json!({ "type": "peer_left", "participant_id": other, "reason": "left" }),
            ),
            (
                RoomMessage::PeerNetworkChanged {
                    participant_id: other,
                    ice_restart: false,
                },
                json!({ "type": "peer_network_changed", "participant_id": other, "ice_restart": false }),
            ),
            (
                RoomMessage::CallEnded { reason: "declined" },
                json!({ "type": "call_ended", "reason": "declined" }),
            ),
        ];
        for (message, old) in cases {
            let new = message.to_value();
            assert_eq!(new, old);
            assert_eq!(new.to_string(), old.to_string());
            // And the published protocol lists it.
            let kind = new["type"].as_str().unwrap_or_default();
            assert!(
                crate::rtc::signal::SERVER_MESSAGES.contains(&kind),
                "{kind}"
            );
        }
    }
}
