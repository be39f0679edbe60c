//! The signaling messages: what clients send today parses, bad messages get the codes they always
//! got, and what the server sends is byte for byte what the `json!` builders wrote.

use super::*;
use serde_json::json;

const PEER: &str = "0190b0a4-5c1e-7a3b-9d2f-6e4c8a1b2c3d";
const ME: &str = "0190b0a4-5c1e-7a3b-9d2f-000000000001";
const SDP: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n";
/// `candidate.toJSON()` in a browser, as `web/shared/call.js` sends it.
const CANDIDATE: &str = r#"{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"f3Xa"}"#;

fn id(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

/// What `parse` refuses `text` with, if it does.
fn refused(text: &str) -> Option<Rejected> {
    ClientMessage::parse(text).err()
}

#[test]
fn the_first_message_is_a_join_or_a_resume() {
    // web/shared/call.js: `{ type: 'join', protocol: PROTOCOL }`, and the resume.
    assert!(matches!(
        ClientMessage::parse_first(r#"{"type":"join","protocol":1}"#),
        Ok(ClientMessage::Join { protocol: 1 })
    ));
    let resume = format!(r#"{{"type":"resume","protocol":1,"session_id":"{PEER}","last_seq":12}}"#);
    assert!(matches!(
        ClientMessage::parse_first(&resume),
        Ok(ClientMessage::Resume { protocol: 1, session_id, last_seq: 12 }) if session_id == id(PEER)
    ));
    // `last_seq` is 0 when absent or not an unsigned integer, as before.
    for last in [
        "",
        r#","last_seq":-1"#,
        r#","last_seq":"5""#,
        r#","last_seq":1.5"#,
    ] {
        let text = format!(r#"{{"type":"resume","protocol":1,"session_id":"{PEER}"{last}}}"#);
        assert!(
            matches!(
                ClientMessage::parse_first(&text),
                Ok(ClientMessage::Resume { last_seq: 0, .. })
            ),
            "{text}"
        );
    }
    // A repeated key counts as its last value (the message is read as a tree, as before).
    assert!(matches!(
        ClientMessage::parse_first(r#"{"type":"leave","type":"join","protocol":1}"#),
        Ok(ClientMessage::Join { .. })
    ));
    let first = |text: &str| ClientMessage::parse_first(text).err().map(Rejected::code);
    for (text, code) in [
        ("{", "bad_json"),
        ("", "bad_json"),
        (r#"{"type":"join","protocol":1} x"#, "bad_json"),
        (r#"{"type":"join","protocol":1,"x":1e999}"#, "bad_json"),
        (r#"{"type":"offer"}"#, "expected_join"),
        (r#"{"type":"teleport","protocol":1}"#, "expected_join"),
        (r#"{"protocol":1}"#, "expected_join"),
        (r#"["join"]"#, "expected_join"),
        (r#""join""#, "expected_join"),
        (r#"{"type":"join"}"#, "unsupported_protocol"),
        (r#"{"type":"join","protocol":2}"#, "unsupported_protocol"),
        (r#"{"type":"join","protocol":"1"}"#, "unsupported_protocol"),
        (r#"{"type":"join","protocol":1.0}"#, "unsupported_protocol"),
        (
            r#"{"type":"join","protocol":4294967297}"#,
            "unsupported_protocol",
        ),
        (r#"{"type":"resume","protocol":2}"#, "unsupported_protocol"),
        (r#"{"type":"resume","protocol":1}"#, "bad_session_id"),
        (
            r#"{"type":"resume","protocol":1,"session_id":"nope"}"#,
            "bad_session_id",
        ),
        (
            r#"{"type":"resume","protocol":1,"session_id":[1,2]}"#,
            "bad_session_id",
        ),
    ] {
        assert_eq!(first(text), Some(code), "{text}");
    }
}

#[test]
fn each_message_after_the_join_parses_from_what_clients_send() {
    let offer = json!({ "type": "offer", "to": PEER, "sdp": SDP }).to_string();
    assert!(matches!(
        ClientMessage::parse(&offer),
        Ok(ClientMessage::Offer { to, sdp }) if to == id(PEER) && sdp == SDP
    ));
    let answer = json!({ "type": "answer", "to": PEER, "sdp": SDP }).to_string();
    assert!(matches!(
        ClientMessage::parse(&answer),
        Ok(ClientMessage::Answer { to, sdp }) if to == id(PEER) && sdp == SDP
    ));
    // The candidate is kept as its sender wrote it, key order and all.
    let candidate = format!(r#"{{"type":"candidate","to":"{PEER}","candidate":{CANDIDATE}}}"#);
    assert!(matches!(
        ClientMessage::parse(&candidate),
        Ok(ClientMessage::Candidate { to, candidate }) if to == id(PEER) && candidate.get() == CANDIDATE
    ));
    let spaced = r#"{ "candidate" : "candidate:2 1 udp 1 192.0.2.2 5000 typ host" , "z": 1.50 }"#;
    let text = format!(r#"{{"candidate":{spaced},"to":"{PEER}","type":"candidate"}}"#);
    assert!(matches!(
        ClientMessage::parse(&text),
        Ok(ClientMessage::Candidate { candidate, .. }) if candidate.get() == spaced
    ));
    let end = json!({ "type": "end_of_candidates", "to": PEER }).to_string();
    assert!(matches!(
        ClientMessage::parse(&end),
        Ok(ClientMessage::EndOfCandidates { to }) if to == id(PEER)
    ));
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"ping","ts":1718000000000}"#),
        Ok(ClientMessage::Ping { ts: Some(ts) }) if ts.get() == "1718000000000"
    ));
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"ping"}"#),
        Ok(ClientMessage::Ping { ts: None })
    ));
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"network_changed"}"#),
        Ok(ClientMessage::NetworkChanged)
    ));
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"leave"}"#),
        Ok(ClientMessage::Leave)
    ));
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"end_call"}"#),
        Ok(ClientMessage::EndCall)
    ));
    // Escapes in the type, whitespace around the frame, and unknown fields are fine.
    assert!(matches!(
        ClientMessage::parse(" {\"type\":\"p\\u0069ng\",\"x\":[1,{}]}\n"),
        Ok(ClientMessage::Ping { ts: None })
    ));
    // Each type reads as its kind.
    for kind in ClientKind::ALL {
        let text = match kind {
            ClientKind::Join | ClientKind::Resume => continue,
            ClientKind::Offer => offer.clone(),
            ClientKind::Answer => answer.clone(),
            ClientKind::Candidate => candidate.clone(),
            ClientKind::EndOfCandidates => end.clone(),
            _ => json!({ "type": kind.as_str() }).to_string(),
        };
        assert_eq!(
            ClientMessage::parse(&text).map(|m| m.kind()).ok(),
            Some(kind)
        );
    }
}

#[test]
fn bad_messages_after_the_join_get_the_same_codes_as_before() {
    let long = format!(r#"{{"candidate":"{}"}}"#, "a".repeat(2048));
    for (text, rejected) in [
        ("{not json".to_string(), Rejected::BadJson),
        (r#"{"type":"ping"} x"#.into(), Rejected::BadJson),
        (r#"{"type":"teleport"}"#.into(), Rejected::UnknownType),
        (r#"{"type":"PING"}"#.into(), Rejected::UnknownType),
        (r#"{"type":5}"#.into(), Rejected::UnknownType),
        (r#"{"type":{"leave":null}}"#.into(), Rejected::UnknownType),
        ("{}".into(), Rejected::UnknownType),
        (r#"["ping"]"#.into(), Rejected::UnknownType),
        ("5".into(), Rejected::UnknownType),
        // One of the fields the server reads, twice.
        (
            r#"{"type":"ping","type":"ping"}"#.into(),
            Rejected::UnknownType,
        ),
        (
            r#"{"type":"join","protocol":1}"#.into(),
            Rejected::AlreadyJoined,
        ),
        (r#"{"type":"resume"}"#.into(), Rejected::AlreadyJoined),
        (r#"{"type":"offer"}"#.into(), Rejected::MissingTo),
        (
            json!({ "type": "offer", "to": "nope", "sdp": SDP }).to_string(),
            Rejected::MissingTo,
        ),
        (
            json!({ "type": "answer", "to": 5, "sdp": SDP }).to_string(),
            Rejected::MissingTo,
        ),
        (
            json!({ "type": "candidate", "candidate": "x" }).to_string(),
            Rejected::MissingTo,
        ),
        (
            r#"{"type":"end_of_candidates"}"#.into(),
            Rejected::MissingTo,
        ),
        (
            json!({ "type": "offer", "to": PEER, "sdp": "not an sdp" }).to_string(),
            Rejected::InvalidSdp(ClientKind::Offer),
        ),
        (
            json!({ "type": "answer", "to": PEER }).to_string(),
            Rejected::InvalidSdp(ClientKind::Answer),
        ),
        (
            json!({ "type": "answer", "to": PEER, "sdp": 5 }).to_string(),
            Rejected::InvalidSdp(ClientKind::Answer),
        ),
        (
            json!({ "type": "candidate", "to": PEER }).to_string(),
            Rejected::InvalidCandidate,
        ),
        (
            json!({ "type": "candidate", "to": PEER, "candidate": "x" }).to_string(),
            Rejected::InvalidCandidate,
        ),
        (
            json!({ "type": "candidate", "to": PEER, "candidate": { "candidate": 5 } }).to_string(),
            Rejected::InvalidCandidate,
        ),
        (
            format!(r#"{{"type":"candidate","to":"{PEER}","candidate":{long}}}"#),
            Rejected::InvalidCandidate,
        ),
    ] {
        assert_eq!(refused(&text), Some(rejected), "{text}");
    }
    // Fields the server does not read may repeat, as before.
    assert!(refused(r#"{"type":"ping","protocol":1,"protocol":2}"#).is_none());
    // The answers, as `json!` wrote them.
    for (rejected, old) in [
        (
            Rejected::BadJson,
            json!({ "type": "error", "code": "bad_json" }),
        ),
        (
            Rejected::UnknownType,
            json!({ "type": "error", "code": "unknown_type" }),
        ),
        (
            Rejected::MissingTo,
            json!({ "type": "error", "code": "missing_to" }),
        ),
        (
            Rejected::InvalidCandidate,
            json!({ "type": "error", "code": "invalid_candidate" }),
        ),
        (
            Rejected::InvalidSdp(ClientKind::Answer),
            json!({ "type": "error", "code": "invalid_sdp", "ref": "answer" }),
        ),
    ] {
        assert_eq!(rejected.answer().to_text().ok(), Some(old.to_string()));
    }
    assert_eq!(
        Rejected::InvalidSdp(ClientKind::Offer)
            .answer()
            .to_text()
            .ok()
            .as_deref(),
        Some(r#"{"code":"invalid_sdp","ref":"offer","type":"error"}"#)
    );
}

#[test]
fn each_server_message_is_written_as_before() {
    let (me, to) = (id(ME), id(PEER));
    let text = |m: ServerMessage| m.to_text().unwrap_or_default();
    // Relayed: offers and answers (a `json!` tree, keys sorted), candidates (written by hand,
    // the sender's candidate copied in).
    let old = json!({ "type": "offer", "from": me, "sdp": SDP }).to_string();
    assert_eq!(text(ServerMessage::Offer { from: me, sdp: SDP }), old);
    assert_eq!(
        text(ServerMessage::Offer {
            from: me,
            sdp: "v=0\r\nm=audio"
        }),
        format!(r#"{{"from":"{ME}","sdp":"v=0\r\nm=audio","type":"offer"}}"#)
    );
    let old = json!({ "type": "answer", "from": me, "sdp": SDP }).to_string();
    assert_eq!(text(ServerMessage::Answer { from: me, sdp: SDP }), old);
    let frame = format!(r#"{{"type":"candidate","to":"{PEER}","candidate":{CANDIDATE}}}"#);
    let Ok(ClientMessage::Candidate { candidate, .. }) = ClientMessage::parse(&frame) else {
        panic!("a candidate");
    };
    let old = format!(
        r#"{{"type":"candidate","from":"{me}","candidate":{}}}"#,
        candidate.get()
    );
    assert_eq!(
        text(ServerMessage::Candidate {
            from: me,
            candidate
        }),
        old
    );
    assert_eq!(
        old,
        format!(r#"{{"type":"candidate","from":"{ME}","candidate":{CANDIDATE}}}"#)
    );
    let old = json!({ "type": "end_of_candidates", "from": me }).to_string();
    assert_eq!(text(ServerMessage::EndOfCandidates { from: me }), old);
    assert_eq!(
        old,
        format!(r#"{{"from":"{ME}","type":"end_of_candidates"}}"#)
    );
    // Answers: pong (`ts` as written, `null` without it).
    let ts = r#"{"at": 1.50}"#;
    let ping = format!(r#"{{"type":"ping","ts":{ts}}}"#);
    let Ok(ClientMessage::Ping { ts: Some(raw) }) = ClientMessage::parse(&ping) else {
        panic!("a ping");
    };
    assert_eq!(
        text(ServerMessage::Pong { ts: Some(raw) }),
        format!(r#"{{"type":"pong","ts":{ts}}}"#)
    );
    assert_eq!(
        text(ServerMessage::Pong { ts: None }),
        r#"{"type":"pong","ts":null}"#
    );
    // ice_restart.
    let ice = vec![
        IceServer {
            urls: vec!["stun:127.0.0.1:3478".into()],
            username: None,
            credential: None,
        },
        IceServer {
            urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
            username: Some("1700000000:p".into()),
            credential: Some("GE7MomdztAP9zWxH0NNjuZkPuik=".into()),
        },
    ];
    let with = vec![to];
    let old =
        json!({ "type": "ice_restart", "ice_servers": ice, "restart_with": with }).to_string();
    let restart = ServerMessage::IceRestart {
        ice_servers: ice.clone(),
        restart_with: with,
    };
    assert_eq!(text(restart), old);
    let old = json!({ "type": "ice_restart", "ice_servers": [], "restart_with": [] }).to_string();
    let restart = ServerMessage::IceRestart {
        ice_servers: vec![],
        restart_with: vec![],
    };
    assert_eq!(text(restart), old);
    // Errors: a code alone, with `ref`, with `ref` and `to`.
    let error = |code, about, to| ServerMessage::Error { code, about, to };
    for code in ["only_the_doctor_ends", "cannot_end"] {
        let old = json!({ "type": "error", "code": code }).to_string();
        assert_eq!(text(ServerMessage::error(code)), old);
    }
    let old =
        json!({ "type": "error", "code": "unknown_peer", "ref": "end_of_candidates", "to": to })
            .to_string();
    assert_eq!(
        text(error(
            "unknown_peer",
            Some(ClientKind::EndOfCandidates),
            Some(to)
        )),
        old
    );
    assert_eq!(
        old,
        format!(
            r#"{{"code":"unknown_peer","ref":"end_of_candidates","to":"{PEER}","type":"error"}}"#
        )
    );
}

#[test]
fn the_types_are_the_protocols() {
    // Every client type is spelled the same by serde (as `ref`) and by `as_str`.
    for kind in ClientKind::ALL {
        assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        assert_eq!(ClientKind::parse(kind.as_str()), Some(kind));
    }
    // Every server message's type is in the protocol's list.
    let me = id(ME);
    let raw = serde_json::from_str::<&RawValue>(CANDIDATE).ok();
    let mut messages = vec![
        ServerMessage::Offer { from: me, sdp: SDP },
        ServerMessage::Answer { from: me, sdp: SDP },
        ServerMessage::EndOfCandidates { from: me },
        ServerMessage::Pong { ts: None },
        ServerMessage::IceRestart {
            ice_servers: vec![],
            restart_with: vec![],
        },
        Rejected::BadJson.answer(),
    ];
    messages.extend(raw.map(|candidate| ServerMessage::Candidate {
        from: me,
        candidate,
    }));
    assert_eq!(messages.len(), 7);
    for m in messages {
        let v: Value = serde_json::from_str(&m.to_text().unwrap_or_default()).unwrap_or_default();
        let kind = v["type"].as_str().unwrap_or_default();
        assert!(SERVER_MESSAGES.contains(&kind), "{kind}");
    }
}
