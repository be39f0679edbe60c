//! A real WebRTC peer for tests (webrtc-rs 0.17), standing in for a phone or a doctor's browser.
//!
//! Build one from the ICE servers the API hands out, optionally relay-only, with a data channel
//! and audio (and video) tracks that send RTP. Negotiate non-trickle (SDP carries the
//! candidates) or trickle (candidates come out of [`TestPeer::next_candidate`] and go in through
//! [`TestPeer::add_candidate`]), restart ICE, and wait for data-channel messages and RTP packets
//! with timeouts. Descriptions and candidates are the browser's JSON shapes
//! (`{"type","sdp"}`, `{"candidate","sdpMid","sdpMLineIndex"}`), so they pass through any
//! signaling channel as they are.
//!
//! ```ignore
//! let a = TestPeer::new(PeerOptions::audio_and_data(ice_servers_json)).await;
//! let offer = a.offer(Gather::Wait).await;          // {"type":"offer","sdp":…}
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify, mpsc, watch};
use webrtc::api::APIBuilder;
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::data_channel::RTCDataChannel;
use webrtc::data_channel::data_channel_state::RTCDataChannelState;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::ice_transport::ice_candidate::RTCIceCandidateInit;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::offer_answer_options::RTCOfferOptions;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::signaling_state::RTCSignalingState;
use webrtc::rtp::header::Header;
use webrtc::rtp::packet::Packet;
use webrtc::rtp_transceiver::rtp_codec::RTCRtpCodecCapability;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::{TrackLocal, TrackLocalWriter};

/// How to build a peer.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    /// ICE servers as the API hands them out: `[{"urls":[…],"username":…,"credential":…}]`.
    pub ice_servers: Value,
    /// Use TURN relay candidates only (`iceTransportPolicy: "relay"`).
    pub relay_only: bool,
    /// Create this data channel before offering (the offerer's side; the answerer gets it
    /// through `on_data_channel`).
    pub data_channel: Option<String>,
    /// Add an Opus audio track that sends RTP every 20 ms once [`TestPeer::start_media`] runs.
    pub audio: bool,
    /// Add a VP8 video track that sends RTP (~30 packets/s) once media starts.
    pub video: bool,
}

impl PeerOptions {
    /// A data channel named `chat` and an audio track: the usual call.
    pub fn audio_and_data(ice_servers: Value) -> Self {
        PeerOptions {
            ice_servers,
            data_channel: Some("chat".into()),
            audio: true,
            ..Default::default()
        }
    }
}

/// Whether `offer`/`answer` wait for ICE gathering (non-trickle) or return at once (trickle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gather {
    /// The SDP carries every candidate (the echo test wants this).
    Wait,
    /// Candidates arrive through [`TestPeer::next_candidate`].
    Trickle,
}

/// The ICE servers in the API's JSON, as webrtc-rs takes them.
pub fn ice_servers_from_json(v: &Value) -> Vec<RTCIceServer> {
    v.as_array()
        .map(|list| {
            list.iter()
                .map(|s| RTCIceServer {
                    urls: match &s["urls"] {
                        Value::String(u) => vec![u.clone()],
                        Value::Array(us) => us
                            .iter()
                            .filter_map(|u| u.as_str().map(str::to_string))
                            .collect(),
                        _ => vec![],
                    },
                    username: s["username"].as_str().unwrap_or_default().to_string(),
                    credential: s["credential"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One test peer. Cheap to share behind an `Arc`.
pub struct TestPeer {
    pub pc: Arc<RTCPeerConnection>,
    channel: Arc<Mutex<Option<Arc<RTCDataChannel>>>>,
    channel_ready: Arc<Notify>,
    messages: Mutex<mpsc::UnboundedReceiver<String>>,
    candidates: Mutex<mpsc::UnboundedReceiver<Option<Value>>>,
    rtp_received: Arc<AtomicU64>,
    rtp_arrived: Arc<Notify>,
    state: watch::Receiver<RTCPeerConnectionState>,
    audio: Option<Arc<TrackLocalStaticRTP>>,
    video: Option<Arc<TrackLocalStaticRTP>>,
    sending: Arc<AtomicBool>,
}

impl TestPeer {
    pub async fn new(opts: PeerOptions) -> TestPeer {
        let mut media = MediaEngine::default();
        media.register_default_codecs().expect("codecs");
        let registry =
            register_default_interceptors(Registry::new(), &mut media).expect("interceptors");
        let mut setting = SettingEngine::default();
        setting.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
        setting.set_network_types(vec![NetworkType::Udp4]);
        setting.set_include_loopback_candidate(true);
        setting.set_ice_timeouts(
            Some(Duration::from_secs(4)),
            Some(Duration::from_secs(8)),
            Some(Duration::from_secs(1)),
        );
        let api = APIBuilder::new()
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(setting)
            .build();
        let pc = Arc::new(
            api.new_peer_connection(RTCConfiguration {
                ice_servers: ice_servers_from_json(&opts.ice_servers),
                ice_transport_policy: if opts.relay_only {
                    RTCIceTransportPolicy::Relay
                } else {
                    RTCIceTransportPolicy::All
                },
                ..Default::default()
            })
            .await
            .expect("peer connection"),
        );

        let (msg_tx, msg_rx) = mpsc::unbounded_channel();
        let channel: Arc<Mutex<Option<Arc<RTCDataChannel>>>> = Arc::default();
        let channel_ready = Arc::new(Notify::new());
        if let Some(label) = &opts.data_channel {
            let dc = pc
                .create_data_channel(label, None)
                .await
                .expect("data channel");
            wire_channel(&dc, msg_tx.clone(), channel_ready.clone());
            *channel.lock().await = Some(dc);
        }
        {
            let channel = channel.clone();
            let ready = channel_ready.clone();
            pc.on_data_channel(Box::new(move |dc| {
                let channel = channel.clone();
                let msg_tx = msg_tx.clone();
                let ready = ready.clone();
                Box::pin(async move {
                    wire_channel(&dc, msg_tx, ready);
                    *channel.lock().await = Some(dc);
                })
            }));
        }

        let (cand_tx, cand_rx) = mpsc::unbounded_channel();
        pc.on_ice_candidate(Box::new(move |c| {
            let json = c.and_then(|c| c.to_json().ok()).map(|init| json!(init));
            let _ = cand_tx.send(json);
            Box::pin(async {})
        }));

        let (state_tx, state_rx) = watch::channel(RTCPeerConnectionState::New);
        pc.on_peer_connection_state_change(Box::new(move |s| {
            let _ = state_tx.send(s);
            Box::pin(async {})
        }));

        let rtp_received = Arc::new(AtomicU64::new(0));
        let rtp_arrived = Arc::new(Notify::new());
        {
            let count = rtp_received.clone();
            let arrived = rtp_arrived.clone();
            pc.on_track(Box::new(move |track, receiver, _| {
                let count = count.clone();
                let arrived = arrived.clone();
                // As a browser does: process the sender's reports (then our receiver reports
                // carry LSR/DLSR, which is how the far end measures round-trip time).
                tokio::spawn(async move { while receiver.read_rtcp().await.is_ok() {} });
                tokio::spawn(async move {
                    while track.read_rtp().await.is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                        arrived.notify_waiters();
                    }
                });
                Box::pin(async {})
            }));
        }

        let add = |mime: &str, clock_rate: u32, channels: u16, id: &str| {
            Arc::new(TrackLocalStaticRTP::new(
                RTCRtpCodecCapability {
                    mime_type: mime.to_owned(),
                    clock_rate,
                    channels,
                    ..Default::default()
                },
                id.to_owned(),
                "test-peer".to_owned(),
            ))
        };
        let audio = opts.audio.then(|| add(MIME_TYPE_OPUS, 48000, 2, "mic"));
        let video = opts.video.then(|| add(MIME_TYPE_VP8, 90000, 0, "camera"));
        for track in audio.iter().chain(video.iter()) {
            let sender = pc
                .add_track(track.clone() as Arc<dyn TrackLocal + Send + Sync>)
                .await
                .expect("add track");
            // RTCP must be read for the interceptors (reports, NACK) to run.
            tokio::spawn(async move { while sender.read_rtcp().await.is_ok() {} });
        }

        TestPeer {
            pc,
            channel,
            channel_ready,
            messages: Mutex::new(msg_rx),
            candidates: Mutex::new(cand_rx),
            rtp_received,
            rtp_arrived,
            state: state_rx,
            audio,
            video,
            sending: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Create an offer and set it locally; `Gather::Wait` returns it with every candidate in it.
    pub async fn offer(&self, gather: Gather) -> Value {
        self.make_offer(false, gather).await
    }

    /// An ICE-restart offer (new ufrag/pwd: the path is re-established, the DTLS session kept).
    pub async fn restart_offer(&self, gather: Gather) -> Value {
        self.make_offer(true, gather).await
    }

    async fn make_offer(&self, ice_restart: bool, gather: Gather) -> Value {
        let offer = self
            .pc
            .create_offer(Some(RTCOfferOptions {
                ice_restart,
                ..Default::default()
            }))
            .await
            .expect("create offer");
        self.set_local(offer, gather).await
    }

    /// Take the remote offer (`{"type":"offer","sdp":…}`) and return the answer.
    pub async fn answer(&self, offer: &Value, gather: Gather) -> Value {
        let sdp = offer["sdp"].as_str().expect("offer.sdp").to_string();
        self.pc
            .set_remote_description(RTCSessionDescription::offer(sdp).expect("offer sdp"))
            .await
            .expect("set remote offer");
        let answer = self.pc.create_answer(None).await.expect("create answer");
        self.set_local(answer, gather).await
    }

    /// `stable`, `have-local-offer`, … (perfect negotiation looks at it on every remote offer).
    ///
    /// webrtc-rs 0.17 cannot roll back a local offer (its signaling state machine has no
    /// `rollback` transition: `ErrSignalingStateProposedTransitionInvalid`), so a polite test
    /// peer caught in an offer collision cannot answer the other offer on the same connection;
    /// on the first negotiation, build a fresh `TestPeer` and answer with it.
    pub fn signaling_state(&self) -> RTCSignalingState {
        self.pc.signaling_state()
    }

    /// Take the remote answer (`{"type":"answer","sdp":…}`).
    pub async fn accept_answer(&self, answer: &Value) {
        let sdp = answer["sdp"].as_str().expect("answer.sdp").to_string();
        self.pc
            .set_remote_description(RTCSessionDescription::answer(sdp).expect("answer sdp"))
            .await
            .expect("set remote answer");
    }

    async fn set_local(&self, desc: RTCSessionDescription, gather: Gather) -> Value {
        let mut done = self.pc.gathering_complete_promise().await;
        self.pc
            .set_local_description(desc)
            .await
            .expect("set local description");
        if gather == Gather::Wait {
            let _ = tokio::time::timeout(Duration::from_secs(10), done.recv()).await;
        }
        let local = self
            .pc
            .local_description()
            .await
            .expect("local description");
        json!({ "type": local.sdp_type.to_string(), "sdp": local.sdp })
    }

    /// The next local candidate as `{"candidate","sdpMid","sdpMLineIndex",…}`; `None` once
    /// gathering is complete (end-of-candidates) or nothing came within `within`.
    pub async fn next_candidate(&self, within: Duration) -> Option<Value> {
        let mut rx = self.candidates.lock().await;
        tokio::time::timeout(within, rx.recv())
            .await
            .ok()
            .flatten()
            .flatten()
    }

    /// Feed a remote candidate in the browser's JSON shape.
    pub async fn add_candidate(&self, candidate: &Value) {
        let init: RTCIceCandidateInit =
            serde_json::from_value(candidate.clone()).expect("candidate JSON");
        self.pc
            .add_ice_candidate(init)
            .await
            .expect("add ice candidate");
    }

    /// Wait until the peer connection is connected (false on timeout or failure).
    pub async fn wait_connected(&self, within: Duration) -> bool {
        let mut state = self.state.clone();
        tokio::time::timeout(within, async {
            loop {
                match *state.borrow_and_update() {
                    RTCPeerConnectionState::Connected => return true,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        return false;
                    }
                    _ => {}
                }
                if state.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await
        .unwrap_or(false)
    }

    pub fn connection_state(&self) -> RTCPeerConnectionState {
        *self.state.borrow()
    }

    /// Send a text message on the data channel, waiting (up to 10 s) for it to open.
    pub async fn send_text(&self, text: &str) {
        let dc = self.open_channel(Duration::from_secs(10)).await;
        dc.send_text(text.to_string())
            .await
            .expect("send on data channel");
    }

    async fn open_channel(&self, within: Duration) -> Arc<RTCDataChannel> {
        tokio::time::timeout(within, async {
            loop {
                let ready = self.channel_ready.notified();
                if let Some(dc) = self.channel.lock().await.clone()
                    && dc.ready_state() == RTCDataChannelState::Open
                {
                    return dc;
                }
                // Poll too: the open event may have fired before we listened.
                let _ = tokio::time::timeout(Duration::from_millis(100), ready).await;
            }
        })
        .await
        .expect("data channel open in time")
    }

    /// The next text message received on the data channel, or `None` after `within`.
    pub async fn next_message(&self, within: Duration) -> Option<String> {
        let mut rx = self.messages.lock().await;
        tokio::time::timeout(within, rx.recv()).await.ok().flatten()
    }

    /// Start sending RTP on the audio (every 20 ms) and video (~30/s) tracks until
    /// [`TestPeer::stop_media`] or [`TestPeer::close`].
    pub fn start_media(&self) {
        if self.sending.swap(true, Ordering::SeqCst) {
            return;
        }
        let spawn = |track: Arc<TrackLocalStaticRTP>, pt: u8, step: u32, every: Duration| {
            let sending = self.sending.clone();
            tokio::spawn(async move {
                let mut seq: u16 = rand::random();
                let mut ts: u32 = rand::random();
                let mut tick = tokio::time::interval(every);
                while sending.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let packet = Packet {
                        header: Header {
                            version: 2,
                            payload_type: pt,
                            sequence_number: seq,
                            timestamp: ts,
                            marker: pt != 111,
                            ..Default::default()
                        },
                        // Opus's shortest valid frame (silence); for VP8 a keyframe-ish
                        // placeholder: nobody decodes it.
                        payload: if pt == 111 {
                            Bytes::from_static(&[0xf8, 0xff, 0xfe])
                        } else {
                            Bytes::from(vec![0x10, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01])
                        },
                    };
                    if track.write_rtp(&packet).await.is_err() {
                        break;
                    }
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(step);
                }
            });
        };
        if let Some(a) = &self.audio {
            spawn(a.clone(), 111, 960, Duration::from_millis(20));
        }
        if let Some(v) = &self.video {
            spawn(v.clone(), 96, 3000, Duration::from_millis(33));
        }
    }

    pub fn stop_media(&self) {
        self.sending.store(false, Ordering::SeqCst);
    }

    /// RTP packets received so far on every remote track.
    pub fn rtp_received(&self) -> u64 {
        self.rtp_received.load(Ordering::Relaxed)
    }

    /// Wait until at least `n` RTP packets have arrived in total; returns the count reached.
    pub async fn wait_rtp(&self, n: u64, within: Duration) -> u64 {
        let _ = tokio::time::timeout(within, async {
            loop {
                let arrived = self.rtp_arrived.notified();
                if self.rtp_received() >= n {
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), arrived).await;
            }
        })
        .await;
        self.rtp_received()
    }

    pub async fn close(&self) {
        self.stop_media();
        let _ = self.pc.close().await;
    }
}

fn wire_channel(dc: &Arc<RTCDataChannel>, tx: mpsc::UnboundedSender<String>, ready: Arc<Notify>) {
    dc.on_message(Box::new(move |msg| {
        let _ = tx.send(String::from_utf8_lossy(&msg.data).into_owned());
        Box::pin(async {})
    }));
    dc.on_open(Box::new(move || {
        ready.notify_waiters();
        Box::pin(async {})
    }));
}
