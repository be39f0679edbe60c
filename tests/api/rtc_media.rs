//! The media side of calls with real peers on real sockets: the pre-call test peer
//! (`/v1/rtc/echo`) and the embedded STUN/TURN server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::UdpSocket;
use webrtc::peer_connection::signaling_state::RTCSignalingState;
use webrtc::turn::client::{Client, ClientConfig};
use webrtc::util::Conn;

use crate::helpers::{Resp, TestApp};
use crate::rtc_peer::{Gather, PeerOptions, TestPeer};

const WITHIN: Duration = Duration::from_secs(10);

fn ice_json(app: &TestApp, who: &str) -> Value {
    json!(app.state.rtc.ice_servers(who))
}

/// Poll the report until `done` holds (or 10 s pass); returns the last report.
async fn report_until(
    app: &TestApp,
    token: &str,
    session: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let r = app
            .get(&format!("/v1/rtc/echo/{session}"), Some(token))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if done(&r.body) || tokio::time::Instant::now() >= deadline {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn start_echo(app: &TestApp, token: &str, peer: &TestPeer, force_relay: bool) -> Resp {
    let offer = peer.offer(Gather::Wait).await;
    app.post(
        "/v1/rtc/echo",
        Some(token),
        json!({ "type": "offer", "sdp": offer["sdp"], "force_relay": force_relay }),
    )
    .await
}

/// Connect, echo a message and RTP, and read the report; returns it.
async fn echo_round_trip(app: &TestApp, token: &str, peer: &TestPeer, force_relay: bool) -> Value {
    let r = start_echo(app, token, peer, force_relay).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["type"], "answer");
    let session = r.body["session_id"]
        .as_str()
        .expect("session_id")
        .to_string();
    peer.accept_answer(&r.body).await;
    assert!(
        peer.wait_connected(WITHIN).await,
        "connected: {:?}",
        peer.connection_state()
    );
    peer.start_media();
    peer.send_text("xin chào 1").await;
    assert_eq!(
        peer.next_message(WITHIN).await.as_deref(),
        Some("xin chào 1")
    );
    let got = peer.wait_rtp(30, WITHIN).await;
    assert!(got >= 30, "echoed RTP packets received: {got}");
    report_until(app, token, &session, |b| {
        b["verdict"] != "pending" && b["rtt_ms"].is_number() && b["loss"].is_number()
    })
    .await
}

#[tokio::test]
async fn echo_peer_returns_data_and_media_and_reports_the_path() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0975000001").await;
    let peer = TestPeer::new(PeerOptions {
        video: true,
        ..PeerOptions::audio_and_data(ice_json(&app, "resident-a"))
    })
    .await;
    let report = echo_round_trip(&app, &token, &peer, false).await;
    eprintln!("echo report: {report}");
    assert_eq!(report["state"], "connected", "{report}");
    assert_eq!(report["verdict"], "video_ok", "{report}");
    assert!(
        report["packets_echoed"].as_u64().unwrap_or(0) >= 30,
        "{report}"
    );
    assert!(
        report["audio_packets"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    assert!(
        report["video_packets"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    assert_eq!(report["messages_echoed"], 1, "{report}");
    let rtt = report["rtt_ms"].as_f64().expect("rtt measured");
    assert!((0.0..200.0).contains(&rtt), "{report}");
    assert!(report["loss"].as_f64().unwrap_or(1.0) <= 0.05, "{report}");
    assert!(report["jitter_ms"].is_number(), "{report}");
    let kind = report["selected_candidate_type"].as_str().unwrap_or("");
    assert!(["host", "prflx", "srflx"].contains(&kind), "{report}");
    peer.close().await;
    app.stop().await;
}

#[tokio::test]
async fn echo_through_the_embedded_turn_relay() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0975000002").await;
    let ice = ice_json(&app, "resident-b");
    // The advertised TURN server is the embedded one, at the port it really bound.
    let turn_addr = app
        .state
        .rtc
        .turn_addr
        .get()
        .map(|a| a.udp)
        .expect("embedded TURN running");
    assert!(
        ice.to_string()
            .contains(&format!("turn:127.0.0.1:{}", turn_addr.port())),
        "{ice}"
    );
    let peer = TestPeer::new(PeerOptions {
        relay_only: true,
        ..PeerOptions::audio_and_data(ice)
    })
    .await;
    let offer = peer.offer(Gather::Wait).await;
    assert!(
        offer["sdp"].as_str().unwrap_or("").contains("typ relay"),
        "a relay candidate was gathered"
    );
    assert!(!offer["sdp"].as_str().unwrap_or("").contains("typ host"));
    peer.close().await;

    let peer = TestPeer::new(PeerOptions {
        relay_only: true,
        ..PeerOptions::audio_and_data(ice_json(&app, "resident-b"))
    })
    .await;
    let report = echo_round_trip(&app, &token, &peer, true).await;
    assert_eq!(report["selected_candidate_type"], "relay", "{report}");
    assert_eq!(
        report["verdict"], "audio_only",
        "no video was sent: {report}"
    );
    peer.close().await;
    app.stop().await;
}

async fn turn_client(server: SocketAddr, username: &str, password: &str) -> Client {
    let conn = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: username.to_string(),
        password: password.to_string(),
        realm: "wardline".into(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(conn),
        vnet: None,
    })
    .await
    .expect("turn client");
    client.listen().await.expect("listen");
    client
}

/// Through a fresh allocation, send a datagram to a local UDP peer; whether it arrives.
async fn relays_to_local_peer(client: &Client) -> bool {
    let relay = tokio::time::timeout(WITHIN, client.allocate())
        .await
        .expect("allocate in time")
        .expect("allocate");
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind peer");
    let to = peer.local_addr().expect("peer addr");
    // The first send creates the permission (refused or not); send a few.
    for _ in 0..3 {
        let _ = tokio::time::timeout(Duration::from_secs(3), relay.send_to(b"ping", to)).await;
    }
    let mut buf = [0u8; 16];
    let arrived = tokio::time::timeout(Duration::from_millis(1500), peer.recv_from(&mut buf))
        .await
        .is_ok_and(|r| r.is_ok_and(|(n, _)| &buf[..n] == b"ping"));
    let _ = relay.close().await;
    arrived
}

#[tokio::test]
async fn embedded_turn_checks_rest_credentials_and_survives_garbage() {
    let app = TestApp::spawn().await;
    let server = app
        .state
        .rtc
        .turn_addr
        .get()
        .map(|a| a.udp)
        .expect("embedded TURN");
    let now = chrono::Utc::now().timestamp();

    // Hostile datagrams first: truncated STUN, a bogus allocate, channel data, noise.
    let noise = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00, 0x01],
        vec![0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42],
        vec![0x40, 0x00, 0xff, 0xff, 1, 2, 3],
        vec![0xff; 1400],
    ];
    let mut allocate = vec![0x00, 0x03, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
    allocate.extend_from_slice(&[7; 12]);
    allocate.extend_from_slice(&[0x00, 0x19, 0x00, 0x40, 0x11, 0, 0, 0]); // bad attr length
    allocate.extend_from_slice(&[0; 4]);
    junk.push(allocate);
    for i in 0..200u32 {
        junk.push(
            (0..(i % 97))
                .map(|b| (b as u8).wrapping_mul(i as u8))
                .collect(),
        );
    }
    // STUN-framed messages of every TURN method with random attributes (usernames, integrity,
    // peer addresses, lifetimes, channel numbers…), and random ChannelData.
    {
        use rand::Rng;
        let mut rng = rand::rng();
        let types: [u16; 9] = [
            0x0001, 0x0003, 0x0004, 0x0008, 0x0009, 0x0016, 0x0017, 0x0111, 0x000a,
        ];
        let attrs: [u16; 12] = [
            0x0006, 0x0008, 0x0009, 0x000c, 0x000d, 0x0012, 0x0013, 0x0014, 0x0015, 0x0019, 0x0020,
            0x8028,
        ];
        for i in 0..600 {
            let mut body = Vec::new();
            for _ in 0..rng.random_range(0..7) {
                let len: u16 = rng.random_range(0..48);
                body.extend_from_slice(&attrs[rng.random_range(0..attrs.len())].to_be_bytes());
                body.extend_from_slice(&len.to_be_bytes());
                body.extend((0..len).map(|_| rng.random::<u8>()));
                body.resize(body.len().next_multiple_of(4), 0);
            }
            let mut m = types[i % types.len()].to_be_bytes().to_vec();
            m.extend_from_slice(&(body.len() as u16).to_be_bytes());
            m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
            m.extend((0..12).map(|_| rng.random::<u8>()));
            m.extend_from_slice(&body);
            junk.push(m);
            let mut cd = vec![rng.random_range(0x40..0x80), rng.random()];
            let len: u16 = rng.random_range(0..64);
            cd.extend_from_slice(&len.to_be_bytes());
            cd.extend((0..len).map(|_| rng.random::<u8>()));
            junk.push(cd);
        }
    }
    for j in &junk {
        let _ = noise.send_to(j, server).await;
    }
    // Make the kernel report ECONNREFUSED on the server socket: answer from a closed port.
    drop(noise);

    // Right credentials: an allocation on the public IP; the relay works (private peers allowed
    // in tests).
    let (user, pass) = wardline::rtc::turn_credentials(&app.state.rtc.turn_secret, "p1", now + 600);
    let good = turn_client(server, &user, &pass).await;
    assert_eq!(
        good.send_binding_request()
            .await
            .expect("STUN binding")
            .ip(),
        std::net::IpAddr::from([127, 0, 0, 1])
    );
    assert!(relays_to_local_peer(&good).await, "relay works");
    let _ = good.close().await;

    // Wrong password.
    let bad = turn_client(server, &user, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=").await;
    let r = tokio::time::timeout(WITHIN, bad.allocate()).await;
    assert!(matches!(r, Ok(Err(_))), "wrong password refused");
    let _ = bad.close().await;

    // Expired, though correctly signed.
    let (user, pass) = wardline::rtc::turn_credentials(&app.state.rtc.turn_secret, "p1", now - 5);
    let expired = turn_client(server, &user, &pass).await;
    let r = tokio::time::timeout(WITHIN, expired.allocate()).await;
    assert!(matches!(r, Ok(Err(_))), "expired credentials refused");
    let _ = expired.close().await;

    // Signed with another secret.
    let other = wardline::config::Secret::new("another-secret-entirely");
    let (user, pass) = wardline::rtc::turn_credentials(&other, "p1", now + 600);
    let forged = turn_client(server, &user, &pass).await;
    let r = tokio::time::timeout(WITHIN, forged.allocate()).await;
    assert!(matches!(r, Ok(Err(_))), "foreign secret refused");
    let _ = forged.close().await;

    // Moving the clock past the expiry refuses credentials that were good.
    let (user, pass) = wardline::rtc::turn_credentials(&app.state.rtc.turn_secret, "p2", now + 60);
    app.state.clock.advance(chrono::Duration::minutes(5));
    let late = turn_client(server, &user, &pass).await;
    let r = tokio::time::timeout(WITHIN, late.allocate()).await;
    assert!(matches!(r, Ok(Err(_))), "expired by the app clock");
    let _ = late.close().await;

    // A relay-only WebRTC peer with bad credentials never connects to the echo peer.
    let token = app.resident_token("0975000003").await;
    let mut ice = ice_json(&app, "resident-c");
    for s in ice.as_array_mut().expect("list") {
        if s.get("credential").is_some() {
            s["credential"] = json!("d3JvbmctcGFzc3dvcmQ=");
        }
    }
    let peer = TestPeer::new(PeerOptions {
        relay_only: true,
        ..PeerOptions::audio_and_data(ice)
    })
    .await;
    let r = start_echo(&app, &token, &peer, false).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    peer.accept_answer(&r.body).await;
    assert!(!peer.wait_connected(Duration::from_secs(6)).await);
    peer.close().await;
    app.stop().await;
}

#[tokio::test]
async fn embedded_turn_refuses_to_relay_to_private_peers_by_default() {
    let app = TestApp::spawn_with(|s| s.turn_allow_private_peers = false).await;
    let server = app
        .state
        .rtc
        .turn_addr
        .get()
        .map(|a| a.udp)
        .expect("embedded TURN");
    let now = chrono::Utc::now().timestamp();
    let (user, pass) = wardline::rtc::turn_credentials(&app.state.rtc.turn_secret, "p", now + 600);
    let client = turn_client(server, &user, &pass).await;
    // The permission for a loopback peer is refused outright (403, as coturn's denied-peer-ip).
    let relay = client.allocate().await.expect("allocate");
    let err = relay
        .send_to(b"x", "127.0.0.1:9".parse().expect("addr"))
        .await
        .expect_err("permission refused");
    assert!(err.to_string().contains("403"), "{err}");
    let _ = relay.close().await;
    let _ = client.close().await;
    // And nothing reaches a private peer (one allocation per client: a fresh one).
    let client = turn_client(server, &user, &pass).await;
    assert!(
        !relays_to_local_peer(&client).await,
        "a loopback peer must not be reachable through the relay"
    );
    // The server still serves after refusing.
    assert!(client.send_binding_request().await.is_ok());
    let _ = client.close().await;
    app.stop().await;
}

#[tokio::test]
async fn echo_refuses_hostile_and_excess_requests() {
    let app = TestApp::spawn_with(|s| s.rtc_echo_max_sessions = 2).await;
    let a = app.resident_token("0975000011").await;
    let b = app.resident_token("0975000012").await;
    let c = app.resident_token("0975000013").await;
    let ice = ice_json(&app, "x");
    let peer = TestPeer::new(PeerOptions::audio_and_data(ice.clone())).await;
    let offer = peer.offer(Gather::Wait).await;
    let good = json!({ "type": "offer", "sdp": offer["sdp"] });

    let r = app.post("/v1/rtc/echo", None, good.clone()).await;
    r.assert_problem(401, "missing_token");
    let r = app
        .post("/v1/rtc/echo", Some("not-a-token"), good.clone())
        .await;
    r.assert_problem(401, "invalid_token");

    for bad in [
        json!({ "type": "offer", "sdp": "hello" }),
        json!({ "type": "offer", "sdp": "v=0\r\nthis is not sdp\r\n" }),
        json!({ "type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" }),
        json!({ "type": "offer", "sdp": format!("v=0\r\n{}", "a=x\r\n".repeat(30000)) }),
        json!({ "type": "answer", "sdp": offer["sdp"] }),
    ] {
        let r = app.post("/v1/rtc/echo", Some(&a), bad.clone()).await;
        assert!(
            r.status.is_client_error(),
            "{bad:.80}: {} {:?}",
            r.status,
            r.body
        );
        assert!(
            r.body["type"]
                .as_str()
                .unwrap_or("")
                .starts_with("urn:wardline:problem:"),
            "{:?}",
            r.body
        );
    }
    let r = app
        .post(
            "/v1/rtc/echo",
            Some(&a),
            json!({ "type": "offer", "sdp": "v=0\r\ngarbage" }),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "sdp");
    let r = app
        .post("/v1/rtc/echo", Some(&a), json!({ "sdp": offer["sdp"] }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);

    // One live test per account.
    let r = app.post("/v1/rtc/echo", Some(&a), good.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let session = r.body["session_id"].as_str().expect("id").to_string();
    let r = app.post("/v1/rtc/echo", Some(&a), good.clone()).await;
    r.assert_problem(409, "echo_session_live");

    // Someone else's report is not found, like one that never existed.
    let r = app.get(&format!("/v1/rtc/echo/{session}"), Some(&b)).await;
    r.assert_problem(404, "echo_session_not_found");
    let r = app
        .get(&format!("/v1/rtc/echo/{}", uuid::Uuid::now_v7()), Some(&a))
        .await;
    r.assert_problem(404, "echo_session_not_found");
    let r = app.get("/v1/rtc/echo/not-a-uuid", Some(&a)).await;
    assert!(r.status.is_client_error(), "{:?}", r.body);
    let r = app.get(&format!("/v1/rtc/echo/{session}"), Some(&a)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["verdict"], "pending", "nobody connected yet");

    // The instance-wide cap (2 here): b takes the second slot, c is told to retry later.
    let peer_b = TestPeer::new(PeerOptions::audio_and_data(ice.clone())).await;
    let r = start_echo(&app, &b, &peer_b, false).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let peer_c = TestPeer::new(PeerOptions::audio_and_data(ice)).await;
    let r = start_echo(&app, &c, &peer_c, false).await;
    r.assert_problem(503, "echo_busy");
    assert!(r.headers.get("retry-after").is_some());

    for p in [peer, peer_b, peer_c] {
        p.close().await;
    }
    app.stop().await;
}

#[tokio::test]
async fn echo_session_ends_after_its_time_and_keeps_its_report() {
    let app = TestApp::spawn_with(|s| s.rtc_echo_max_secs = 5).await;
    let token = app.resident_token("0975000021").await;
    let peer = TestPeer::new(PeerOptions::audio_and_data(ice_json(&app, "r"))).await;
    let r = start_echo(&app, &token, &peer, false).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["max_secs"], 5);
    let session = r.body["session_id"].as_str().expect("id").to_string();
    peer.accept_answer(&r.body).await;
    assert!(peer.wait_connected(WITHIN).await);
    peer.start_media();
    let report = report_until(&app, &token, &session, |b| b["state"] == "closed").await;
    assert_eq!(report["state"], "closed", "{report}");
    assert_eq!(report["verdict"], "audio_only", "{report}");
    // The slot is free again.
    let again = TestPeer::new(PeerOptions::audio_and_data(ice_json(&app, "r"))).await;
    let r = start_echo(&app, &token, &again, false).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    peer.close().await;
    again.close().await;
    app.stop().await;
}

/// Pass every local candidate of `from` to `to` until `from` has finished gathering.
async fn trickle(from: Arc<TestPeer>, to: Arc<TestPeer>) {
    while let Some(c) = from.next_candidate(WITHIN).await {
        to.add_candidate(&c).await;
    }
}

#[tokio::test]
async fn two_test_peers_trickle_through_the_embedded_turn_and_restart_ice() {
    // The test peer as the signaling tests use it: two peers, candidates trickled through a
    // channel of our own (here: direct calls), relay-only through the embedded TURN.
    let app = TestApp::spawn().await;
    let resident = Arc::new(
        TestPeer::new(PeerOptions {
            relay_only: true,
            ..PeerOptions::audio_and_data(ice_json(&app, "resident"))
        })
        .await,
    );
    let doctor = Arc::new(
        TestPeer::new(PeerOptions {
            audio: true,
            ..PeerOptions {
                ice_servers: ice_json(&app, "doctor"),
                ..Default::default()
            }
        })
        .await,
    );
    let offer = resident.offer(Gather::Trickle).await;
    assert!(!offer["sdp"].as_str().unwrap_or("").contains("a=candidate"));
    assert_eq!(
        resident.signaling_state(),
        RTCSignalingState::HaveLocalOffer
    );
    let answer = doctor.answer(&offer, Gather::Trickle).await;
    resident.accept_answer(&answer).await;
    assert_eq!(resident.signaling_state(), RTCSignalingState::Stable);
    let a = tokio::spawn(trickle(resident.clone(), doctor.clone()));
    let b = tokio::spawn(trickle(doctor.clone(), resident.clone()));
    assert!(resident.wait_connected(WITHIN).await);
    assert!(doctor.wait_connected(WITHIN).await);
    resident.start_media();
    doctor.start_media();
    resident.send_text("hello doctor").await;
    assert_eq!(
        doctor.next_message(WITHIN).await.as_deref(),
        Some("hello doctor")
    );
    doctor.send_text("hello resident").await;
    assert_eq!(
        resident.next_message(WITHIN).await.as_deref(),
        Some("hello resident")
    );
    assert!(doctor.wait_rtp(20, WITHIN).await >= 20);
    assert!(resident.wait_rtp(20, WITHIN).await >= 20);
    let _ = tokio::join!(a, b);

    // ICE restart (what a resume triggers): new offer, new candidates, data flows again.
    let offer = resident.restart_offer(Gather::Trickle).await;
    let answer = doctor.answer(&offer, Gather::Trickle).await;
    resident.accept_answer(&answer).await;
    let a = tokio::spawn(trickle(resident.clone(), doctor.clone()));
    let b = tokio::spawn(trickle(doctor.clone(), resident.clone()));
    let before = doctor.rtp_received();
    resident.send_text("after restart").await;
    assert_eq!(
        doctor.next_message(WITHIN).await.as_deref(),
        Some("after restart")
    );
    assert!(doctor.wait_rtp(before + 20, WITHIN).await >= before + 20);
    let _ = tokio::join!(a, b);
    resident.close().await;
    doctor.close().await;
    app.stop().await;
}

#[tokio::test]
async fn without_any_turn_server_the_relay_test_is_refused_and_the_direct_one_still_works() {
    let app = TestApp::spawn_with(|s| s.turn_listen.clear()).await;
    assert!(app.state.rtc.turn_addr.get().is_none(), "no embedded TURN");
    assert_eq!(ice_json(&app, "r"), json!([]));
    let token = app.resident_token("0975000031").await;
    let peer = TestPeer::new(PeerOptions::audio_and_data(json!([]))).await;
    let r = start_echo(&app, &token, &peer, true).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "no_turn_server");
    // The refused attempt did not take the account's slot.
    let r = start_echo(&app, &token, &peer, false).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    peer.accept_answer(&r.body).await;
    assert!(peer.wait_connected(WITHIN).await);
    peer.send_text("direct").await;
    assert_eq!(peer.next_message(WITHIN).await.as_deref(), Some("direct"));
    peer.close().await;
    app.stop().await;
}

/// The verdict a resident's pre-call test showed them is what the station's doctors see beside
/// them in the waiting room; once admitted, the doctor in the call (and nobody else) may read the
/// resident's phone number, the fallback ladder's last rung.
#[tokio::test]
async fn the_waiting_room_shows_readiness_and_the_admitting_doctor_gets_the_phone() {
    use wardline::auth::Role;
    let app = TestApp::spawn().await;
    let (_, admin) = app.member(Role::Admin, "0975100001").await;
    let (doctor_id, doctor) = app.member(Role::Doctor, "0975100002").await;
    let (colleague_id, colleague) = app.member(Role::Doctor, "0975100003").await;
    let station = app
        .post(
            "/v1/admin/stations",
            Some(&admin),
            json!({ "name": "Trạm Y tế phường 1", "address": "1 Lê Lợi" }),
        )
        .await;
    assert_eq!(station.status, StatusCode::CREATED, "{:?}", station.body);
    let station = station.body["id"].as_str().unwrap().to_string();
    for d in [doctor_id, colleague_id] {
        let r = app
            .call(
                reqwest::Method::PUT,
                &format!("/v1/admin/stations/{station}/doctors/{d}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    }
    let resident = app.resident_token("0975100004").await;
    let texts = app.get("/v1/telehealth/consent", None).await;
    let r = app
        .post(
            "/v1/telehealth/consent",
            Some(&resident),
            json!({ "kind": "telehealth", "version": texts.body[0]["version"], "accepted": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Without a test there is nothing to show.
    let joined = app
        .post(
            "/v1/telehealth/queue",
            Some(&resident),
            json!({ "station_id": station, "reason": "Ho và sốt", "symptom": "respiratory" }),
        )
        .await;
    assert_eq!(joined.status, StatusCode::CREATED, "{:?}", joined.body);
    let consultation = joined.body["id"].as_str().unwrap().to_string();
    let queue_path = format!("/v1/telehealth/stations/{station}/queue");
    let q = app.get(&queue_path, Some(&doctor)).await;
    assert!(q.body[0].get("readiness").is_none(), "{:?}", q.body);

    // The pre-call test, then the doctors see its verdict.
    let peer = TestPeer::new(PeerOptions {
        video: true,
        ..PeerOptions::audio_and_data(ice_json(&app, "resident-r"))
    })
    .await;
    let report = echo_round_trip(&app, &resident, &peer, false).await;
    assert_eq!(report["verdict"], "video_ok", "{report}");
    peer.close().await;
    let q = app.get(&queue_path, Some(&doctor)).await;
    let readiness = &q.body[0]["readiness"];
    assert_eq!(readiness["verdict"], "video_ok", "{:?}", q.body);
    assert_eq!(readiness["relay"], false, "{readiness}");
    assert!(readiness["rtt_ms"].is_number(), "{readiness}");
    assert!(readiness["checked_at"].is_string(), "{readiness}");
    assert!(q.body[0]["resident"].get("phone").is_none(), "{:?}", q.body);

    // Admitted: the admitting doctor reads the phone; the resident's own view and the other
    // doctor (not in the call) do not carry it.
    let r = app
        .post(
            &format!("/v1/telehealth/stations/{station}/queue/admit"),
            Some(&doctor),
            json!({ "consultation_id": consultation }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let one = format!("/v1/telehealth/consultations/{consultation}");
    let as_doctor = app.get(&one, Some(&doctor)).await;
    assert_eq!(
        as_doctor.body["resident"]["phone"], "+84975100004",
        "{:?}",
        as_doctor.body
    );
    assert_eq!(as_doctor.body["readiness"]["verdict"], "video_ok");
    let as_resident = app.get(&one, Some(&resident)).await;
    assert_eq!(as_resident.status, StatusCode::OK);
    assert!(
        as_resident.body["resident"].get("phone").is_none(),
        "{:?}",
        as_resident.body
    );
    let as_colleague = app.get(&one, Some(&colleague)).await;
    assert!(
        as_colleague.status == StatusCode::NOT_FOUND
            || as_colleague.body["resident"].get("phone").is_none(),
        "{:?}",
        as_colleague.body
    );
    app.stop().await;
}

#[tokio::test]
async fn a_relay_test_refused_by_the_peer_policy_says_so() {
    // Production policy: the embedded TURN relays to public peers only, and everything here is
    // on loopback, so the echo peer's relay is refused every peer the phone offers.
    let app = TestApp::spawn_with(|s| s.turn_allow_private_peers = false).await;
    let token = app.resident_token("0975000041").await;
    let peer = TestPeer::new(PeerOptions::audio_and_data(ice_json(&app, "r"))).await;
    let r = start_echo(&app, &token, &peer, true).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let session = r.body["session_id"].as_str().expect("session").to_string();
    peer.accept_answer(&r.body).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let report = loop {
        let r = app
            .get(&format!("/v1/rtc/echo/{session}"), Some(&token))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if r.body["verdict"] != "pending" || tokio::time::Instant::now() >= deadline {
            break r.body;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(report["verdict"], "cannot_connect", "{report}");
    assert_eq!(report["reason"], "turn_peer_refused", "{report}");
    peer.close().await;

    // A test that connects has no reason, refusals or not (once the first one has closed).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let peer = TestPeer::new(PeerOptions::audio_and_data(ice_json(&app, "r"))).await;
    let report = echo_round_trip(&app, &token, &peer, false).await;
    assert!(report.get("reason").is_none(), "{report}");
    peer.close().await;
    app.stop().await;
}
