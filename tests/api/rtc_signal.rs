//! The signaling WebSocket with real WebSocket clients (tokio-tungstenite): joining, relaying the
//! negotiation, perfect-negotiation roles, held candidates, resume after a dropped socket, the
//! consultation following the room, and hostile clients.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use wardline::auth::Role;

use crate::helpers::TestApp;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A signaling client.
pub struct Sig {
    ws: Socket,
    pub last_seq: u64,
}

const SDP: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n";

impl Sig {
    pub async fn connect(url: &str) -> Result<Sig, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Sig { ws, last_seq: 0 })
    }

    pub async fn join(url: &str) -> (Sig, Value) {
        let mut s = Sig::connect(url).await.expect("connect");
        s.send(json!({ "type": "join", "protocol": 1 })).await;
        let joined = s.recv_type("joined").await;
        (s, joined)
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    /// The next server message (5 s at most); checks sequence numbers increase by one.
    pub async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("a message within 5 s")
                .expect("socket open")
                .expect("frame");
            match m {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("json");
                    let seq = v["seq"].as_u64().expect("every server message has seq");
                    assert_eq!(seq, self.last_seq + 1, "sequence gap: {v}");
                    self.last_seq = seq;
                    return v;
                }
                Message::Close(f) => panic!("closed: {f:?}"),
                _ => continue,
            }
        }
    }

    /// Skip to the next message of this type.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        for _ in 0..50 {
            let v = self.recv().await;
            if v["type"] == kind {
                return v;
            }
        }
        panic!("no {kind} message");
    }

    /// Wait for the server to close; returns the code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.ws.next()).await {
                Err(_) => panic!("not closed within 10 s"),
                Ok(None) => return (1006, String::new()),
                Ok(Some(Err(_))) => return (1006, String::new()),
                Ok(Some(Ok(Message::Close(Some(f))))) => {
                    return (u16::from(f.code), f.reason.to_string());
                }
                Ok(Some(Ok(Message::Close(None)))) => return (1005, String::new()),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// A station, a doctor, a consenting resident admitted into a consultation.
#[allow(dead_code)] // `admin` and `station` serve tests that add participants
pub struct Call {
    pub consultation: String,
    pub resident: String,
    pub resident_id: String,
    pub doctor: String,
    pub doctor_id: String,
    pub admin: String,
    pub staff: String,
    pub station: String,
}

pub async fn admitted_call(app: &TestApp) -> Call {
    let (_, admin) = app.member(Role::Admin, "0961000001").await;
    let (_, staff) = app.member(Role::Staff, "0961000002").await;
    let (doctor_id, doctor) = app.member(Role::Doctor, "0961000003").await;
    let r = app
        .post(
            "/v1/admin/stations",
            Some(&admin),
            json!({ "name": "Trạm Y tế phường 1" }),
        )
        .await;
    let station = r.body["id"].as_str().unwrap().to_string();
    app.call(
        reqwest::Method::PUT,
        &format!("/v1/admin/stations/{station}/doctors/{doctor_id}"),
        Some(&admin),
        None,
    )
    .await;
    let resident = app.resident_token("0962000001").await;
    let me = app.get("/v1/me", Some(&resident)).await;
    let version = app.get("/v1/telehealth/consent", None).await.body[0]["version"].clone();
    app.post(
        "/v1/telehealth/consent",
        Some(&resident),
        json!({ "kind": "telehealth", "version": version, "accepted": true }),
    )
    .await;
    let r = app
        .post(
            "/v1/telehealth/queue",
            Some(&resident),
            json!({ "station_id": station, "reason": "Sốt cao" }),
        )
        .await;
    let consultation = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/v1/telehealth/stations/{station}/queue/admit"),
            Some(&doctor),
            json!({}),
        )
        .await;
    assert_eq!(r.body["status"], "admitted", "{:?}", r.body);
    Call {
        consultation,
        resident,
        resident_id: me.body["id"].as_str().unwrap().to_string(),
        doctor,
        doctor_id: doctor_id.to_string(),
        admin,
        staff,
        station,
    }
}

pub async fn ticket(app: &TestApp, token: &str, consultation: &str) -> Value {
    let r = app
        .post(
            &format!("/v1/telehealth/consultations/{consultation}/join"),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn wait_for_status(app: &TestApp, call: &Call, want: &str) {
    for _ in 0..100 {
        if status(app, call).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("consultation never reached {want}");
}

async fn status(app: &TestApp, call: &Call) -> String {
    app.get(
        &format!("/v1/telehealth/consultations/{}", call.consultation),
        Some(&call.doctor),
    )
    .await
    .body["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn two_participants_negotiate_and_the_consultation_follows_the_room() {
    let app = TestApp::spawn().await;
    let call = admitted_call(&app).await;
    let rt = ticket(&app, &call.resident, &call.consultation).await;
    assert_eq!(rt["role"], "patient");
    assert_eq!(rt["protocol"], 1);
    assert!(rt["url"].as_str().unwrap().starts_with("ws://"));
    let turn = &rt["ice_servers"][1];
    assert!(turn["urls"][0].as_str().unwrap().starts_with("turn:"));
    assert!(
        turn["username"]
            .as_str()
            .unwrap()
            .ends_with(&call.resident_id)
    );
    let dt = ticket(&app, &call.doctor, &call.consultation).await;

    let (mut res, joined) = Sig::join(rt["url"].as_str().unwrap()).await;
    assert_eq!(joined["seq"], 1);
    assert_eq!(joined["peers"], json!([]));
    assert_eq!(joined["ping_interval_ms"], 15000);
    assert_eq!(status(&app, &call).await, "admitted");
    let (mut doc, joined) = Sig::join(dt["url"].as_str().unwrap()).await;
    assert_eq!(
        joined["peers"][0]["participant_id"],
        call.resident_id.as_str()
    );
    assert_eq!(
        joined["peers"][0]["polite"], false,
        "the doctor is impolite"
    );
    let pj = res.recv_type("peer_joined").await;
    assert_eq!(pj["participant_id"], call.doctor_id.as_str());
    assert_eq!(pj["polite"], true, "the resident yields on collisions");
    // Both present: the consultation is in call.
    let mut in_call = false;
    for _ in 0..50 {
        if status(&app, &call).await == "in_call" {
            in_call = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(in_call);

    // Offer, answer and trickled candidates reach the addressee, marked with the sender.
    res.send(json!({ "type": "offer", "to": call.doctor_id, "sdp": SDP }))
        .await;
    let offer = doc.recv_type("offer").await;
    assert_eq!(offer["from"], call.resident_id.as_str());
    assert_eq!(offer["sdp"], SDP);
    doc.send(json!({ "type": "answer", "to": call.resident_id, "sdp": SDP }))
        .await;
    assert_eq!(
        res.recv_type("answer").await["from"],
        call.doctor_id.as_str()
    );
    let cand = json!({ "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host", "sdpMid": "0", "sdpMLineIndex": 0 });
    res.send(json!({ "type": "candidate", "to": call.doctor_id, "candidate": cand }))
        .await;
    assert_eq!(doc.recv_type("candidate").await["candidate"], cand);
    res.send(json!({ "type": "end_of_candidates", "to": call.doctor_id }))
        .await;
    doc.recv_type("end_of_candidates").await;
    res.send(json!({ "type": "ping", "ts": 1 })).await;
    assert_eq!(res.recv_type("pong").await["ts"], 1);
    // The network changed: fresh ICE servers and an ICE restart, and the peer is told.
    res.send(json!({ "type": "network_changed" })).await;
    let restart = res.recv_type("ice_restart").await;
    assert!(restart["ice_servers"].as_array().unwrap().len() == 2);
    // Only the impolite side of the pair restarts: the doctor, not the resident (issue 19).
    assert_eq!(restart["restart_with"], json!([]));
    assert_eq!(
        doc.recv_type("peer_network_changed").await["ice_restart"],
        true
    );
    doc.send(json!({ "type": "network_changed" })).await;
    assert_eq!(
        doc.recv_type("ice_restart").await["restart_with"],
        json!([call.resident_id])
    );
    assert_eq!(
        res.recv_type("peer_network_changed").await["ice_restart"],
        false
    );
    // Only the doctor ends the call; then everyone is told and closed.
    res.send(json!({ "type": "end_call" })).await;
    assert_eq!(res.recv_type("error").await["code"], "only_the_doctor_ends");
    doc.send(json!({ "type": "end_call" })).await;
    assert_eq!(res.recv_type("call_ended").await["reason"], "doctor_ended");
    assert_eq!(res.closed().await, (1000, "call_ended".to_string()));
    assert_eq!(doc.recv_type("call_ended").await["reason"], "doctor_ended");
    assert_eq!(status(&app, &call).await, "ended");
    // An ended consultation gives no more tickets.
    app.post(
        &format!("/v1/telehealth/consultations/{}/join", call.consultation),
        Some(&call.resident),
        json!({}),
    )
    .await
    .assert_problem(409, "not_admitted");
    app.stop().await;
}

#[tokio::test]
async fn a_dropped_socket_resumes_with_what_it_missed_and_the_peer_is_told() {
    let app = TestApp::spawn().await;
    let call = admitted_call(&app).await;
    let rt = ticket(&app, &call.resident, &call.consultation).await;
    let dt = ticket(&app, &call.doctor, &call.consultation).await;
    let (mut res, joined) = Sig::join(rt["url"].as_str().unwrap()).await;
    let session = joined["session_id"].as_str().unwrap().to_string();
    let (mut doc, _) = Sig::join(dt["url"].as_str().unwrap()).await;
    res.recv_type("peer_joined").await;
    let last = res.last_seq;
    // The resident's socket dies without a close (network switch).
    drop(res);
    assert_eq!(
        doc.recv_type("peer_reconnecting").await["participant_id"],
        call.resident_id.as_str()
    );
    // Meanwhile the doctor sends a candidate: it waits in the resident's replay buffer.
    let cand = json!({ "candidate": "candidate:2 1 udp 1 192.0.2.2 5000 typ host" });
    doc.send(json!({ "type": "candidate", "to": call.resident_id, "candidate": cand }))
        .await;
    let mut res = Sig::connect(rt["url"].as_str().unwrap()).await.unwrap();
    res.last_seq = last;
    res.send(json!({ "type": "resume", "protocol": 1, "session_id": session, "last_seq": last }))
        .await;
    // The candidate comes replayed before `resumed` or, if it was still crossing the bus when the
    // resident came back, live right after it: never lost either way.
    let first = res.recv().await;
    let second = res.recv().await;
    let (candidate, resumed) = if first["type"] == "candidate" {
        assert_eq!(second["replayed"], 1);
        (first, second)
    } else {
        assert_eq!(first["replayed"], 0);
        (second, first)
    };
    assert_eq!(candidate["candidate"], cand);
    assert_eq!(resumed["type"], "resumed");
    // One side restarts ICE, the impolite one (the doctor), so the offers never collide; the
    // resumed participant learns who is in the room.
    assert_eq!(resumed["ice_restart"], false);
    assert_eq!(resumed["restart_with"], json!([]));
    assert_eq!(
        resumed["peers"][0]["participant_id"],
        call.doctor_id.as_str()
    );
    assert!(!resumed["ice_servers"].as_array().unwrap().is_empty());
    let pr = doc.recv_type("peer_resumed").await;
    assert_eq!(pr["ice_restart"], true);
    // A second connection of the same participant replaces the first, which is told why.
    let (mut res2, _) = Sig::join(rt["url"].as_str().unwrap()).await;
    assert_eq!(res.closed().await, (4409, "replaced".to_string()));
    res2.send(json!({ "type": "ping" })).await;
    res2.recv_type("pong").await;
    // Leaving is immediate; the peer learns why.
    res2.send(json!({ "type": "leave" })).await;
    assert_eq!(res2.closed().await, (1000, "left".to_string()));
    loop {
        let m = doc.recv().await;
        if m["type"] == "peer_left" {
            assert_eq!(m["reason"], "left");
            break;
        }
    }
    app.stop().await;
}

/// The messages replayed on a resume (their types), then `resumed` itself; any number of them
/// (`Sig::recv_type` stops at 50).
async fn until_resumed(sig: &mut Sig) -> (Vec<String>, Value) {
    let mut kinds = vec![];
    loop {
        let m = sig.recv().await;
        if m["type"] == "resumed" {
            return (kinds, m);
        }
        kinds.push(m["type"].as_str().unwrap_or("").to_string());
    }
}

/// The replay buffer keeps the last 512 messages: a participant away for more is told of the gap
/// (and gets the last 512); one away for less is not. The answers to a join or a resume are not
/// kept (whoever resumes has its session from `joined` and gets a fresh `resumed`), and leave no
/// false gap.
#[tokio::test]
async fn a_resume_past_the_replay_buffer_says_so() {
    let app = TestApp::spawn_with(|s| s.rtc_messages_per_sec = 1_000_000).await;
    let call = admitted_call(&app).await;
    let rt = ticket(&app, &call.resident, &call.consultation).await;
    let dt = ticket(&app, &call.doctor, &call.consultation).await;
    let (mut res, joined) = Sig::join(rt["url"].as_str().unwrap()).await;
    let session = joined["session_id"].as_str().unwrap().to_string();
    let (mut doc, _) = Sig::join(dt["url"].as_str().unwrap()).await;
    res.recv_type("peer_joined").await;
    let resume = |last: u64| json!({ "type": "resume", "protocol": 1, "session_id": session, "last_seq": last });
    // Away briefly, missing three candidates: all replayed, no gap. Resuming from `joined` (seq 1,
    // which is not kept) replays the rest in sequence.
    drop(res);
    doc.recv_type("peer_reconnecting").await;
    for i in 0..3 {
        doc.send(json!({ "type": "candidate", "to": call.resident_id, "candidate": { "candidate": format!("candidate:{i} 1 udp 1 192.0.2.2 5000 typ host") } }))
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut res = Sig::connect(rt["url"].as_str().unwrap()).await.unwrap();
    res.last_seq = 1;
    res.send(resume(1)).await;
    let (kinds, resumed) = until_resumed(&mut res).await;
    assert!(!kinds.iter().any(|k| k == "joined"), "{kinds:?}");
    assert_eq!(resumed["gap"], false, "{resumed}");
    assert_eq!(
        resumed["replayed"], 4,
        "peer_joined and three candidates: {resumed}"
    );
    // Away for 600 candidates: the oldest are gone, and the resume says so.
    let last = res.last_seq;
    drop(res);
    doc.recv_type("peer_reconnecting").await;
    for i in 0..600 {
        doc.send(json!({ "type": "candidate", "to": call.resident_id, "candidate": { "candidate": format!("candidate:{i} 1 udp 1 192.0.2.2 5000 typ host") } }))
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut res = Sig::connect(rt["url"].as_str().unwrap()).await.unwrap();
    // The last 512 of the 600 come back, in sequence.
    res.last_seq = last + 600 - 512;
    res.send(resume(last)).await;
    let (_, resumed) = until_resumed(&mut res).await;
    assert_eq!(resumed["gap"], true, "{resumed}");
    assert_eq!(resumed["replayed"], 512, "{resumed}");
    app.stop().await;
}

#[tokio::test]
async fn past_the_grace_a_participant_has_left_and_cannot_resume() {
    let app = TestApp::spawn_with(|s| s.rtc_resume_grace_secs = 1).await;
    let call = admitted_call(&app).await;
    let rt = ticket(&app, &call.resident, &call.consultation).await;
    let dt = ticket(&app, &call.doctor, &call.consultation).await;
    let (res, joined) = Sig::join(rt["url"].as_str().unwrap()).await;
    let session = joined["session_id"].as_str().unwrap().to_string();
    let (mut doc, _) = Sig::join(dt["url"].as_str().unwrap()).await;
    wait_for_status(&app, &call, "in_call").await;
    drop(res);
    doc.recv_type("peer_reconnecting").await;
    let left = doc.recv_type("peer_left").await;
    assert_eq!(left["reason"], "timeout");
    let mut late = Sig::connect(rt["url"].as_str().unwrap()).await.unwrap();
    late.send(json!({ "type": "resume", "protocol": 1, "session_id": session, "last_seq": 3 }))
        .await;
    assert_eq!(late.closed().await, (4410, "session_expired".to_string()));
    // The doctor leaves too: nobody is left, so the call is over.
    doc.send(json!({ "type": "leave" })).await;
    doc.closed().await;
    let mut ended = false;
    for _ in 0..50 {
        if status(&app, &call).await == "ended" {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended);
    app.stop().await;
}

#[tokio::test]
async fn candidates_for_a_peer_not_yet_present_are_held_not_lost() {
    let app = TestApp::spawn().await;
    let call = admitted_call(&app).await;
    let rt = ticket(&app, &call.resident, &call.consultation).await;
    let dt = ticket(&app, &call.doctor, &call.consultation).await;
    let (mut res, _) = Sig::join(rt["url"].as_str().unwrap()).await;
    let cand = json!({ "candidate": "candidate:3 1 udp 1 192.0.2.3 6000 typ host" });
    res.send(json!({ "type": "candidate", "to": call.doctor_id, "candidate": cand }))
        .await;
    // An offer cannot wait: the doctor is not there.
    res.send(json!({ "type": "offer", "to": call.doctor_id, "sdp": SDP }))
        .await;
    assert_eq!(res.recv_type("error").await["code"], "peer_not_present");
    let (mut doc, _) = Sig::join(dt["url"].as_str().unwrap()).await;
    let held = doc.recv_type("candidate").await;
    assert_eq!(held["candidate"], cand);
    assert_eq!(held["from"], call.resident_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn hostile_clients_are_refused_or_closed_and_others_are_unaffected() {
    let app = TestApp::spawn().await;
    let call = admitted_call(&app).await;
    let ws_base = app.base.replace("http://", "ws://");
    // No token, a garbage token, an API access token instead of a room token: the socket opens
    // and is closed at once with 4401, which a page can tell from a server that is down.
    for url in [
        format!("{ws_base}/v1/rtc/signal"),
        format!("{ws_base}/v1/rtc/signal?token=nope"),
        format!("{ws_base}/v1/rtc/signal?token={}", call.resident),
    ] {
        let mut s = Sig::connect(&url).await.expect("upgraded");
        let (code, reason) = s.closed().await;
        assert_eq!(code, 4401, "{url}: {reason}");
        assert!(reason.ends_with("token"), "{reason}");
    }
    // People outside the consultation get no ticket at all.
    let outsider = app.resident_token("0963000009").await;
    app.post(
        &format!("/v1/telehealth/consultations/{}/join", call.consultation),
        Some(&outsider),
        json!({}),
    )
    .await
    .assert_problem(404, "consultation_not_found");
    app.post(
        &format!("/v1/telehealth/consultations/{}/join", call.consultation),
        Some(&call.staff),
        json!({}),
    )
    .await
    .assert_problem(403, "forbidden");

    let rt = ticket(&app, &call.resident, &call.consultation).await;
    let dt = ticket(&app, &call.doctor, &call.consultation).await;
    let (mut doc, _) = Sig::join(dt["url"].as_str().unwrap()).await;
    // A wrong first message.
    let mut bad = Sig::connect(rt["url"].as_str().unwrap()).await.unwrap();
    bad.send(json!({ "type": "offer" })).await;
    assert_eq!(bad.closed().await, (4400, "expected_join".to_string()));
    // Malformed SDP, an unknown addressee, unknown types: answered, socket stays open.
    let (mut res, _) = Sig::join(rt["url"].as_str().unwrap()).await;
    res.send(json!({ "type": "offer", "to": call.doctor_id, "sdp": "not an sdp" }))
        .await;
    assert_eq!(res.recv_type("error").await["code"], "invalid_sdp");
    res.send(json!({ "type": "offer", "to": uuid::Uuid::now_v7(), "sdp": SDP }))
        .await;
    assert_eq!(res.recv_type("error").await["code"], "unknown_peer");
    res.send(json!({ "type": "teleport" })).await;
    assert_eq!(res.recv_type("error").await["code"], "unknown_type");
    res.ws
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    assert_eq!(res.recv_type("error").await["code"], "bad_json");
    // A 1 MiB frame closes that socket with 1009 ...
    res.ws
        .send(Message::Text("x".repeat(1024 * 1024).into()))
        .await
        .unwrap();
    assert_eq!(res.closed().await.0, 1009);
    // ... and 1000 messages a second close it with 4429.
    let (mut flood, _) = Sig::join(rt["url"].as_str().unwrap()).await;
    for i in 0..1000 {
        if flood
            .ws
            .send(Message::Text(
                json!({ "type": "ping", "ts": i }).to_string().into(),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut code = 0;
    for _ in 0..2000 {
        match tokio::time::timeout(Duration::from_secs(5), flood.ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(f))))) => {
                code = u16::from(f.code);
                break;
            }
            Ok(Some(Ok(_))) => continue,
            _ => break,
        }
    }
    assert_eq!(code, 4429);
    // The doctor was never disturbed.
    doc.send(json!({ "type": "ping", "ts": 7 })).await;
    assert_eq!(doc.recv_type("pong").await["ts"], 7);
    // An expired room token is refused.
    app.state.clock.advance(chrono::Duration::minutes(5));
    let mut expired = Sig::connect(rt["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(expired.closed().await, (4401, "invalid_room_token".into()));
    app.stop().await;
}

/// Issue 19, defect 1: a client's own close is answered with a close frame, so a browser sees
/// a clean close (1000, wasClean), not 1006.
#[tokio::test]
async fn a_clients_close_is_answered_with_a_close_frame() {
    let app = TestApp::spawn().await;
    let call = admitted_call(&app).await;
    let rt = ticket(&app, &call.resident, &call.consultation).await;
    let (mut res, _) = Sig::join(rt["url"].as_str().unwrap()).await;
    res.ws
        .send(Message::Close(Some(
            tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: 1000u16.into(),
                reason: "bye".into(),
            },
        )))
        .await
        .unwrap();
    let (code, _) = res.closed().await;
    assert_eq!(code, 1000, "the server's close reply");
    app.stop().await;
}

#[tokio::test]
async fn a_call_spans_two_instances_sharing_postgresql() {
    if crate::helpers::backend() != "postgres" {
        eprintln!(
            "two instances share PostgreSQL only; skipped on {}",
            crate::helpers::backend()
        );
        return;
    }
    let app = TestApp::spawn().await;
    let call = admitted_call(&app).await;
    let other = crate::helpers::ServerProcess::start(&app).await;
    // The resident talks to this instance, the doctor to the other one.
    let rt = ticket(&app, &call.resident, &call.consultation).await;
    let r = app
        .client
        .post(format!(
            "{}/v1/telehealth/consultations/{}/join",
            other.base, call.consultation
        ))
        .bearer_auth(&call.doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let dt: Value = r.json().await.unwrap();
    let doctor_url = dt["url"].as_str().unwrap().to_string();
    assert!(
        doctor_url.contains(&other.base.replace("http://", "")),
        "{doctor_url}"
    );
    let (mut res, _) = Sig::join(rt["url"].as_str().unwrap()).await;
    let (mut doc, joined) = Sig::join(&doctor_url).await;
    // The doctor learns of the resident in `joined` or right after, from the other instance.
    if joined["peers"].as_array().unwrap().is_empty() {
        let pj = doc.recv_type("peer_joined").await;
        assert_eq!(pj["participant_id"], call.resident_id.as_str());
        assert_eq!(pj["polite"], false);
    }
    let pj = res.recv_type("peer_joined").await;
    assert_eq!(pj["participant_id"], call.doctor_id.as_str());
    // A large offer (over NOTIFY's 8000 bytes) crosses too.
    let big_sdp = format!("{SDP}{}", "a=x-filler:0123456789\r\n".repeat(600));
    assert!(big_sdp.len() > 9000);
    res.send(json!({ "type": "offer", "to": call.doctor_id, "sdp": big_sdp }))
        .await;
    assert_eq!(doc.recv_type("offer").await["sdp"], big_sdp.as_str());
    doc.send(json!({ "type": "answer", "to": call.resident_id, "sdp": SDP }))
        .await;
    assert_eq!(
        res.recv_type("answer").await["from"],
        call.doctor_id.as_str()
    );
    let mut in_call = false;
    for _ in 0..50 {
        if status(&app, &call).await == "in_call" {
            in_call = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(in_call);
    doc.send(json!({ "type": "end_call" })).await;
    assert_eq!(res.recv_type("call_ended").await["reason"], "doctor_ended");
    assert_eq!(res.closed().await.0, 1000);
    other.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn call_quality_summaries_feed_the_station_figures() {
    let app = TestApp::spawn().await;
    let call = admitted_call(&app).await;
    let path = format!("/v1/telehealth/consultations/{}/quality", call.consultation);
    let good = json!({ "rtt_ms": 80.0, "jitter_ms": 8.0, "loss_percent": 0.5, "bitrate_kbps": 900.0, "candidate_type": "relay" });
    let r = app.post(&path, Some(&call.resident), good.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = app
        .post(
            &path,
            Some(&call.doctor),
            json!({ "rtt_ms": 600.0, "loss_percent": 9.0, "candidate_type": "relay" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Nonsense numbers, outsiders, staff.
    let r = app
        .post(
            &path,
            Some(&call.resident),
            json!({ "loss_percent": 250.0 }),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .post(
            &path,
            Some(&call.resident),
            json!({ "candidate_type": "carrier-pigeon" }),
        )
        .await;
    assert!(r.status.is_client_error());
    let outsider = app.resident_token("0964000009").await;
    app.post(&path, Some(&outsider), good.clone())
        .await
        .assert_problem(404, "consultation_not_found");
    app.post(&path, Some(&call.staff), good.clone())
        .await
        .assert_problem(403, "forbidden");
    let stats = app
        .get(
            &format!("/v1/telehealth/stations/{}/stats", call.station),
            Some(&call.admin),
        )
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{:?}", stats.body);
    assert_eq!(stats.body["calls_measured"], 1);
    assert_eq!(stats.body["relayed_share"], 1.0);
    // Fine for the resident, poor for the doctor (9 % loss, 600 ms): a poor call.
    assert_eq!(stats.body["poor_quality_share"], 1.0, "{:?}", stats.body);
    app.stop().await;
}

#[tokio::test]
async fn a_burst_is_relayed_whole_and_in_order() {
    let app = TestApp::spawn_with(|s| s.rtc_messages_per_sec = 1_000_000).await;
    let call = admitted_call(&app).await;
    let rt = ticket(&app, &call.resident, &call.consultation).await;
    let dt = ticket(&app, &call.doctor, &call.consultation).await;
    let (mut res, _) = Sig::join(rt["url"].as_str().unwrap()).await;
    let (mut doc, _) = Sig::join(dt["url"].as_str().unwrap()).await;
    res.recv_type("peer_joined").await;
    let n = 6000;
    let send = async {
        for i in 0..n {
            let m = json!({ "type": "candidate", "to": call.doctor_id, "candidate": { "candidate": format!("candidate:{i} 1 udp 1 192.0.2.1 5000 typ host") } });
            res.ws
                .feed(Message::Text(m.to_string().into()))
                .await
                .unwrap();
        }
        res.ws.flush().await.unwrap();
    };
    let recv = async {
        let mut next = 0;
        while next < n {
            let m = doc.recv().await;
            if m["type"] == "candidate" {
                let c = m["candidate"]["candidate"].as_str().unwrap();
                assert_eq!(
                    c,
                    format!("candidate:{next} 1 udp 1 192.0.2.1 5000 typ host")
                );
                next += 1;
            }
        }
    };
    tokio::join!(send, recv);
    app.stop().await;
}

/// Issue 19, defect 3: the published protocol (`openapi/signaling.asyncapi.yaml`, served at
/// `/asyncapi.yaml`) names exactly the messages the code reads and writes, in each direction.
#[tokio::test]
async fn the_published_protocol_names_the_codes_messages() {
    use std::collections::BTreeSet;
    let doc: serde_yaml::Value = serde_yaml::from_str(wardline::rtc::signal::ASYNCAPI)
        .expect("the AsyncAPI document parses");
    assert_eq!(doc["asyncapi"].as_str().unwrap_or("").get(..2), Some("3."));
    let mut client = BTreeSet::new();
    let mut server = BTreeSet::new();
    for (_, m) in doc["components"]["messages"].as_mapping().unwrap() {
        let kind = m["x-wardline-message-type"].as_str().unwrap().to_string();
        match m["x-wardline-direction"].as_str() {
            Some("client_to_server") => client.insert(kind),
            Some("server_to_client") => server.insert(kind),
            other => panic!("{kind}: direction {other:?}"),
        };
        assert!(
            m["examples"].as_sequence().is_some_and(|e| !e.is_empty()),
            "{m:?} has no example"
        );
    }
    let code_client: BTreeSet<String> = wardline::rtc::signal::ClientMessage::ALL
        .iter()
        .map(|m| m.as_str().to_string())
        .collect();
    let code_server: BTreeSet<String> = wardline::rtc::signal::SERVER_MESSAGES
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(client, code_client, "client → server messages");
    assert_eq!(server, code_server, "server → client messages");
    // Every message type the server code writes is in its list.
    for file in [
        "room/mod.rs",
        "room/membership.rs",
        "room/relay.rs",
        "room/events.rs",
        "signal.rs",
    ] {
        let text =
            std::fs::read_to_string(format!("{}/src/rtc/{file}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        for piece in text.split("\"type\":").skip(1) {
            let piece = piece.trim_start().trim_start_matches("\\\"");
            let Some(rest) = piece.strip_prefix('"') else {
                continue;
            };
            let kind: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !kind.is_empty() && !matches!(kind.as_str(), "join" | "resume") {
                assert!(
                    code_server.contains(&kind) || code_client.contains(&kind),
                    "{file} writes a `{kind}` message the protocol does not list"
                );
            }
        }
    }
    // It is served beside the OpenAPI spec.
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/asyncapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), wardline::rtc::signal::ASYNCAPI);
    app.stop().await;
}
