//! The pre-call test peer (after Janus's echotest): a resident's phone offers a call to the
//! server, which answers with its own WebRTC peer, sends every audio/video RTP packet and every
//! data-channel message straight back, and measures the path while it does.
//!
//! What it measures, and how:
//! - loss and jitter of what the phone sends (the uplink, usually the weak side of a 3G/4G call),
//!   from the RTP sequence numbers and timestamps as they arrive (RFC 3550 §6.4.1, A.3, A.8);
//! - round-trip time from the phone's RTCP receiver reports on the echoed streams (now − LSR −
//!   DLSR, RFC 3550 §6.4.1);
//! - the selected ICE candidate pair's type (host, srflx, prflx or relay).
//!
//! Bounded: one live session per account, `rtc_echo_max_sessions` at once on this instance,
//! `rtc_echo_max_secs` each. Finished sessions keep their report for ten minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;
use webrtc::api::APIBuilder;
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtcp::receiver_report::ReceiverReport;
use webrtc::rtcp::reception_report::ReceptionReport;
use webrtc::rtcp::sender_report::SenderReport;
use webrtc::rtp_transceiver::rtp_codec::{RTCRtpCodecCapability, RTPCodecType};
use webrtc::rtp_transceiver::rtp_sender::RTCRtpSender;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::{TrackLocal, TrackLocalWriter};

use crate::auth::api::BearerAuth;
use crate::error::{ApiError, Error, NoBodyError};
use crate::rtc::Ctx;
use crate::tags::ApiTags;

/// Finished sessions keep their report this long.
const KEEP_REPORT: Duration = Duration::from_secs(600);
/// A session that has not connected by then has failed (ICE gives up after ~10 s of checks).
const CONNECT_WITHIN: Duration = Duration::from_secs(20);
/// Longest wait for the server's candidates before answering (non-trickle).
const GATHER_WITHIN: Duration = Duration::from_secs(10);
/// Packets needed before a verdict on media.
const ENOUGH_PACKETS: u64 = 10;

/// The phone's offer: the standard `RTCSessionDescriptionInit` shape, with its candidates in it.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EchoOffer {
    /// Must be `offer`.
    #[oai(rename = "type")]
    pub kind: String,
    /// The offer, candidates included (wait for ICE gathering to complete before sending).
    pub sdp: String,
    /// Make the server's peer use only TURN relay candidates, to test the relay path.
    #[oai(default)]
    pub force_relay: bool,
}

/// The server's answer, candidates included, and the session to ask about.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EchoAnswer {
    /// Always `answer`.
    #[oai(rename = "type")]
    pub kind: String,
    pub sdp: String,
    /// For `GET /v1/rtc/echo/{session_id}`.
    pub session_id: Uuid,
    /// The session closes itself after this many seconds.
    pub max_secs: u64,
}

/// Where the test call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
#[oai(rename_all = "snake_case")]
pub enum EchoState {
    /// ICE and DTLS are being negotiated.
    #[default]
    Connecting,
    /// Media and data flow.
    Connected,
    /// The connection broke or never came up.
    Failed,
    /// Ended (time is up, or the phone hung up).
    Closed,
}

/// What the test says about this phone and network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Verdict {
    /// Video came through with loss ≤ 5 %, jitter ≤ 30 ms and round trip ≤ 300 ms.
    VideoOk,
    /// Connected, but no video, or not good enough for video: suggest an audio call.
    AudioOnly,
    /// No connection could be made (firewall, no TURN path, wrong credentials).
    CannotConnect,
    /// Too early to tell.
    Pending,
}

/// The test's measurements so far.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EchoReport {
    pub session_id: Uuid,
    pub state: EchoState,
    /// Round-trip time from the phone's RTCP reports; absent until one arrives.
    pub rtt_ms: Option<f64>,
    /// Fraction of the phone's RTP packets that never arrived (0 to 1).
    pub loss: Option<f64>,
    /// Interarrival jitter of the phone's RTP, in milliseconds (the worst stream).
    pub jitter_ms: Option<f64>,
    /// RTP packets sent back to the phone.
    pub packets_echoed: u64,
    /// Data-channel messages sent back.
    pub messages_echoed: u64,
    /// Audio RTP packets received from the phone.
    pub audio_packets: u64,
    /// Video RTP packets received from the phone.
    pub video_packets: u64,
    /// `host`, `srflx`, `prflx` or `relay` (relay when either end of the pair is relayed).
    pub selected_candidate_type: Option<String>,
    pub verdict: Verdict,
}

/// One RTP stream as received: RFC 3550 sequence and jitter bookkeeping.
#[derive(Debug, Default)]
struct StreamStats {
    base_seq: Option<u16>,
    max_seq: u16,
    cycles: u64,
    received: u64,
    /// In RTP timestamp units.
    jitter: f64,
    last: Option<(f64, u32)>,
    clock_rate: u32,
}

impl StreamStats {
    fn on_packet(&mut self, seq: u16, timestamp: u32, arrival_secs: f64, clock_rate: u32) {
        self.received += 1;
        self.clock_rate = clock_rate.max(1);
        match self.base_seq {
            None => {
                self.base_seq = Some(seq);
                self.max_seq = seq;
            }
            Some(_) => {
                let delta = seq.wrapping_sub(self.max_seq);
                if delta != 0 && delta < 0x8000 {
                    if seq < self.max_seq {
                        self.cycles += 1 << 16;
                    }
                    self.max_seq = seq;
                }
            }
        }
        let arrival = arrival_secs * f64::from(self.clock_rate);
        if let Some((last_arrival, last_ts)) = self.last {
            let d = (arrival - last_arrival) - f64::from(timestamp.wrapping_sub(last_ts) as i32);
            self.jitter += (d.abs() - self.jitter) / 16.0;
        }
        self.last = Some((arrival, timestamp));
    }

    fn expected(&self) -> u64 {
        match self.base_seq {
            None => 0,
            Some(base) => {
                (self.cycles + u64::from(self.max_seq)).saturating_sub(u64::from(base)) + 1
            }
        }
    }

    fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    fn jitter_ms(&self) -> Option<f64> {
        (self.received >= 2).then(|| self.jitter * 1000.0 / f64::from(self.clock_rate.max(1)))
    }
}

#[derive(Debug, Default)]
struct Measure {
    state: EchoState,
    ever_connected: bool,
    finished_at: Option<Instant>,
    audio: StreamStats,
    video: StreamStats,
    packets_echoed: u64,
    messages_echoed: u64,
    rtt_ms: Option<f64>,
    selected: Option<String>,
}

impl Measure {
    fn loss(&self) -> Option<f64> {
        let expected = self.audio.expected() + self.video.expected();
        (expected > 0).then(|| (self.audio.lost() + self.video.lost()) as f64 / expected as f64)
    }

    fn jitter_ms(&self) -> Option<f64> {
        match (self.audio.jitter_ms(), self.video.jitter_ms()) {
            (Some(a), Some(v)) => Some(a.max(v)),
            (a, v) => a.or(v),
        }
    }

    fn verdict(&self, age: Duration) -> Verdict {
        if !self.ever_connected {
            let gave_up = matches!(self.state, EchoState::Failed | EchoState::Closed)
                || age >= CONNECT_WITHIN;
            return if gave_up {
                Verdict::CannotConnect
            } else {
                Verdict::Pending
            };
        }
        let live = matches!(self.state, EchoState::Connecting | EchoState::Connected);
        let media = self.audio.received + self.video.received;
        if live && media < ENOUGH_PACKETS && self.messages_echoed == 0 {
            return Verdict::Pending;
        }
        let good = self.loss().is_none_or(|l| l <= 0.05)
            && self.jitter_ms().is_none_or(|j| j <= 30.0)
            && self.rtt_ms.is_none_or(|r| r <= 300.0);
        if self.video.received >= ENOUGH_PACKETS && good {
            Verdict::VideoOk
        } else {
            Verdict::AudioOnly
        }
    }
}

struct Session {
    owner: Uuid,
    started: Instant,
    measure: Arc<Mutex<Measure>>,
}

fn lock(m: &Mutex<Measure>) -> MutexGuard<'_, Measure> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Session {
    fn live(&self) -> bool {
        lock(&self.measure).finished_at.is_none()
    }

    fn report(&self, id: Uuid) -> EchoReport {
        let m = lock(&self.measure);
        let round = |v: f64| (v * 10.0).round() / 10.0;
        EchoReport {
            session_id: id,
            state: m.state,
            rtt_ms: m.rtt_ms.map(round),
            loss: m.loss().map(|l| (l * 1000.0).round() / 1000.0),
            jitter_ms: m.jitter_ms().map(round),
            packets_echoed: m.packets_echoed,
            messages_echoed: m.messages_echoed,
            audio_packets: m.audio.received,
            video_packets: m.video.received,
            selected_candidate_type: m.selected.clone(),
            verdict: m.verdict(self.started.elapsed()),
        }
    }
}

/// The test sessions of this instance (the phone talks to the instance that answered it).
#[derive(Default)]
pub struct EchoSessions {
    sessions: Mutex<HashMap<Uuid, Session>>,
}

impl EchoSessions {
    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Take a slot for `owner`, or say why not.
    fn reserve(&self, owner: Uuid, max_live: usize) -> Result<(Uuid, Arc<Mutex<Measure>>), Error> {
        let mut map = self.map();
        map.retain(|_, s| {
            let finished = lock(&s.measure).finished_at;
            finished.is_none_or(|at| at.elapsed() < KEEP_REPORT)
        });
        if map.values().any(|s| s.owner == owner && s.live()) {
            return Err(Error::Conflict("echo_session_live"));
        }
        if map.values().filter(|s| s.live()).count() >= max_live {
            return Err(Error::Unavailable("echo_busy"));
        }
        let id = Uuid::now_v7();
        let measure = Arc::new(Mutex::new(Measure::default()));
        map.insert(
            id,
            Session {
                owner,
                started: Instant::now(),
                measure: measure.clone(),
            },
        );
        Ok((id, measure))
    }

    fn forget(&self, id: Uuid) {
        self.map().remove(&id);
    }

    fn report(&self, id: Uuid, caller: Uuid) -> Option<EchoReport> {
        let map = self.map();
        let s = map.get(&id).filter(|s| s.owner == caller)?;
        Some(s.report(id))
    }
}

pub struct EchoApi {
    pub state: Ctx,
    pub sessions: Arc<EchoSessions>,
}

impl EchoApi {
    pub fn new(state: Ctx) -> Self {
        EchoApi {
            state,
            sessions: Arc::default(),
        }
    }
}

#[OpenApi(tag = "ApiTags::Calls")]
impl EchoApi {
    /// Start a pre-call test
    ///
    /// Send the phone's offer (non-trickle: wait for ICE gathering to complete, so the SDP carries
    /// the candidates). The answer comes back in the same shape. The server's peer then sends
    /// every audio/video RTP packet and every data-channel message back and measures the path;
    /// read the report with `GET /v1/rtc/echo/{session_id}`. One live test per account (409),
    /// a few at once per server (503, retry later); each ends after `max_secs`.
    #[oai(
        path = "/v1/rtc/echo",
        method = "post",
        operation_id = "rtc_echo_start"
    )]
    async fn start(
        &self,
        auth: BearerAuth,
        body: Json<EchoOffer>,
    ) -> Result<Json<EchoAnswer>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let offer = parse_offer(&body.0, self.state.settings.rtc_max_message_bytes)?;
        let settings = &self.state.settings;
        let (id, measure) = self.sessions.reserve(
            caller.account_id,
            settings.rtc_echo_max_sessions.max(1) as usize,
        )?;
        // On its own task: a phone that hangs up mid-request must not leave a half-built peer
        // (or a slot that never frees) behind; the task finishes, and the supervisor ends it.
        let started = tokio::spawn(start_peer(
            self.state.clone(),
            id,
            offer,
            body.0.force_relay,
            measure,
        ));
        let sessions = self.sessions.clone();
        let outcome = match started.await {
            Ok(outcome) => outcome,
            Err(e) => Err(Error::Internal(anyhow::anyhow!("echo peer task: {e}"))),
        };
        if outcome.is_err() {
            sessions.forget(id);
        }
        match outcome {
            Ok(sdp) => Ok(Json(EchoAnswer {
                kind: "answer".into(),
                sdp,
                session_id: id,
                max_secs: settings.rtc_echo_max_secs,
            })),
            Err(e) => Err(e.into()),
        }
    }

    /// The report of a pre-call test
    ///
    /// Only the account that started the test sees it (404 for anyone else).
    #[oai(
        path = "/v1/rtc/echo/:session_id",
        method = "get",
        operation_id = "rtc_echo_report"
    )]
    async fn report(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
    ) -> Result<Json<EchoReport>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        self.sessions
            .report(session_id.0, caller.account_id)
            .map(Json)
            .ok_or_else(|| Error::NotFound("echo_session_not_found").into())
    }
}

/// Check the offer's type, size and syntax before any peer exists.
fn parse_offer(offer: &EchoOffer, max_bytes: usize) -> Result<RTCSessionDescription, Error> {
    if offer.kind != "offer" {
        return Err(Error::validation(
            "type",
            "not_an_offer",
            "Phải là một offer (type = \"offer\")",
            "Must be an offer (type = \"offer\")",
        ));
    }
    let invalid = || {
        Error::validation(
            "sdp",
            "invalid_sdp",
            "SDP không hợp lệ",
            "Not a valid session description",
        )
    };
    if offer.sdp.len() > max_bytes {
        return Err(Error::PayloadTooLarge);
    }
    if !offer.sdp.trim_start().starts_with("v=0") {
        return Err(invalid());
    }
    // The SDP parser is not ours: a panic on hostile input must still be a 422, not a 500.
    let sdp = offer.sdp.clone();
    let parsed = std::panic::catch_unwind(move || {
        let desc = RTCSessionDescription::offer(sdp).ok()?;
        let parsed = desc.unmarshal().ok()?;
        (!parsed.media_descriptions.is_empty()).then_some(desc)
    });
    match parsed {
        Ok(Some(desc)) => Ok(desc),
        _ => Err(invalid()),
    }
}

fn media_engine() -> Result<MediaEngine, Error> {
    let mut media = MediaEngine::default();
    media
        .register_default_codecs()
        .map_err(|e| Error::Internal(anyhow::anyhow!("registering codecs: {e}")))?;
    Ok(media)
}

/// Build the server's peer for session `id`, answer `offer` and leave the peer running.
async fn start_peer(
    state: Ctx,
    id: Uuid,
    offer: RTCSessionDescription,
    force_relay: bool,
    measure: Arc<Mutex<Measure>>,
) -> Result<String, Error> {
    let internal = |what: &'static str| {
        move |e: webrtc::Error| Error::Internal(anyhow::anyhow!("echo peer: {what}: {e}"))
    };
    let mut media = media_engine()?;
    let registry = register_default_interceptors(Registry::new(), &mut media)
        .map_err(internal("interceptors"))?;
    let mut setting = SettingEngine::default();
    setting.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    setting.set_network_types(vec![NetworkType::Udp4, NetworkType::Udp6]);
    // Behind a 1:1 NAT (a cloud VM) the host's own addresses are private: also offer the
    // public IP the TURN server advertises, as a server-reflexive candidate on the same ports.
    if let Ok(ip) = state
        .settings
        .turn_public_ip
        .trim()
        .parse::<std::net::IpAddr>()
        && super::turn::is_public(ip)
    {
        setting.set_nat_1to1_ips(vec![ip.to_string()], RTCIceCandidateType::Srflx);
    }
    setting.set_ice_timeouts(
        Some(Duration::from_secs(5)),
        Some(Duration::from_secs(10)),
        Some(Duration::from_secs(2)),
    );
    let api = APIBuilder::new()
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(setting)
        .build();
    let ice_servers = state
        .ice_servers(&format!("echo-{id}"))
        .into_iter()
        .map(|s| RTCIceServer {
            urls: s.urls,
            username: s.username.unwrap_or_default(),
            credential: s.credential.unwrap_or_default(),
        })
        .collect::<Vec<_>>();
    if force_relay
        && !ice_servers
            .iter()
            .any(|s: &RTCIceServer| s.urls.iter().any(|u| u.starts_with("turn")))
    {
        return Err(Error::validation(
            "force_relay",
            "no_turn_server",
            "Máy chủ không cấu hình TURN nên không thể thử đường chuyển tiếp",
            "No TURN server is configured, so the relay path cannot be tested",
        ));
    }
    let config = RTCConfiguration {
        ice_servers,
        ice_transport_policy: if force_relay {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        },
        ..Default::default()
    };
    let pc = Arc::new(
        api.new_peer_connection(config)
            .await
            .map_err(internal("new peer"))?,
    );
    let outcome = negotiate(&pc, offer, &measure).await;
    if outcome.is_err() {
        let _ = pc.close().await;
        return outcome;
    }
    supervise(&state, pc, measure);
    outcome
}

/// Wire the echo up, then answer.
async fn negotiate(
    pc: &Arc<RTCPeerConnection>,
    offer: RTCSessionDescription,
    measure: &Arc<Mutex<Measure>>,
) -> Result<String, Error> {
    let internal = |what: &'static str| {
        move |e: webrtc::Error| Error::Internal(anyhow::anyhow!("echo peer: {what}: {e}"))
    };
    // Outgoing tracks first, so the answer takes the offered audio/video as sendrecv.
    let audio_out = Arc::new(TrackLocalStaticRTP::new(
        RTCRtpCodecCapability {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48000,
            channels: 2,
            ..Default::default()
        },
        "echo-audio".into(),
        "wardline-echo".into(),
    ));
    let video_out = Arc::new(TrackLocalStaticRTP::new(
        RTCRtpCodecCapability {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90000,
            ..Default::default()
        },
        "echo-video".into(),
        "wardline-echo".into(),
    ));
    for track in [audio_out.clone(), video_out.clone()] {
        let sender = pc
            .add_track(track as Arc<dyn TrackLocal + Send + Sync>)
            .await
            .map_err(internal("add track"))?;
        read_reports(sender, measure.clone());
    }

    let on_track_measure = measure.clone();
    pc.on_track(Box::new(move |track, receiver, transceiver| {
        // Reading the receiver's RTCP lets the interceptors see the phone's sender reports, so
        // our receiver reports carry LSR/DLSR and the phone can measure its RTT too.
        tokio::spawn(async move { while receiver.read_rtcp().await.is_ok() {} });
        let measure = on_track_measure.clone();
        let kind = track.kind();
        let placeholder = match kind {
            RTPCodecType::Audio => audio_out.clone(),
            RTPCodecType::Video => video_out.clone(),
            _ => return Box::pin(async {}),
        };
        Box::pin(async move {
            let codec = track.codec().capability;
            // Echo in the phone's own codec when it is not the one we offered to send.
            let out = if codec
                .mime_type
                .eq_ignore_ascii_case(&placeholder.codec().mime_type)
            {
                placeholder
            } else {
                let own = Arc::new(TrackLocalStaticRTP::new(
                    codec.clone(),
                    format!("echo-{}", track.id()),
                    "wardline-echo".into(),
                ));
                let sender = transceiver.sender().await;
                if let Err(e) = sender
                    .replace_track(Some(own.clone() as Arc<dyn TrackLocal + Send + Sync>))
                    .await
                {
                    tracing::debug!(error = %e, "echo: cannot switch codec");
                }
                own
            };
            let clock_rate = codec.clock_rate;
            tokio::spawn(async move {
                let epoch = Instant::now();
                while let Ok((packet, _)) = track.read_rtp().await {
                    {
                        let mut m = lock(&measure);
                        let stream = if kind == RTPCodecType::Audio {
                            &mut m.audio
                        } else {
                            &mut m.video
                        };
                        stream.on_packet(
                            packet.header.sequence_number,
                            packet.header.timestamp,
                            epoch.elapsed().as_secs_f64(),
                            clock_rate,
                        );
                    }
                    if let Ok(n) = out.write_rtp(&packet).await
                        && n > 0
                    {
                        lock(&measure).packets_echoed += 1;
                    }
                }
            });
        })
    }));

    let dc_measure = measure.clone();
    pc.on_data_channel(Box::new(move |dc| {
        let measure = dc_measure.clone();
        let weak = Arc::downgrade(&dc);
        dc.on_message(Box::new(move |msg| {
            let measure = measure.clone();
            let weak: Weak<_> = weak.clone();
            Box::pin(async move {
                let Some(dc) = weak.upgrade() else { return };
                let sent = if msg.is_string {
                    dc.send_text(String::from_utf8_lossy(&msg.data).into_owned())
                        .await
                } else {
                    dc.send(&msg.data).await
                };
                if sent.is_ok() {
                    lock(&measure).messages_echoed += 1;
                }
            })
        }));
        Box::pin(async {})
    }));

    let state_measure = measure.clone();
    let ice = pc.sctp().transport();
    pc.on_peer_connection_state_change(Box::new(move |s| {
        let measure = state_measure.clone();
        let ice = ice.clone();
        Box::pin(async move {
            let next = match s {
                RTCPeerConnectionState::Connected => EchoState::Connected,
                RTCPeerConnectionState::Failed => EchoState::Failed,
                RTCPeerConnectionState::Closed => EchoState::Closed,
                RTCPeerConnectionState::Disconnected => EchoState::Connecting,
                _ => return,
            };
            let selected = if next == EchoState::Connected {
                ice.ice_transport()
                    .get_selected_candidate_pair()
                    .await
                    .map(|pair| {
                        if pair.local.typ == RTCIceCandidateType::Relay {
                            "relay".to_string()
                        } else {
                            pair.remote.typ.to_string()
                        }
                    })
            } else {
                None
            };
            let mut m = lock(&measure);
            if m.finished_at.is_some() && next != EchoState::Failed {
                return;
            }
            m.state = next;
            if next == EchoState::Connected {
                m.ever_connected = true;
                m.selected = selected.or(m.selected.take());
            }
        })
    }));

    // A hostile offer must not take the process down: a panic in the stack becomes a 422.
    let applied = std::panic::AssertUnwindSafe(pc.set_remote_description(offer))
        .catch_unwind()
        .await;
    match applied {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "echo: offer refused");
            return Err(Error::validation(
                "sdp",
                "unusable_sdp",
                "Không dùng được SDP này (thiếu ICE, DTLS hoặc không có codec chung)",
                "This offer cannot be used (missing ICE or DTLS attributes, or no common codec)",
            ));
        }
        Err(_) => {
            tracing::warn!("echo: the WebRTC stack panicked on an offer");
            return Err(Error::validation(
                "sdp",
                "invalid_sdp",
                "SDP không hợp lệ",
                "Not a valid session description",
            ));
        }
    }
    let answer = pc.create_answer(None).await.map_err(|e| {
        tracing::debug!(error = %e, "echo: cannot answer");
        Error::validation(
            "sdp",
            "unusable_sdp",
            "Không trả lời được offer này",
            "Cannot answer this offer",
        )
    })?;
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(answer)
        .await
        .map_err(internal("set local description"))?;
    let _ = tokio::time::timeout(GATHER_WITHIN, gathered.recv()).await;
    let local = pc
        .local_description()
        .await
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("echo peer: no local description")))?;
    Ok(without_rtcp_candidates(&local.sdp))
}

/// With `a=rtcp-mux` RTCP shares the RTP port: candidates of component 2 (RTCP) are dead weight
/// a phone would still try to pair. Dropped from the answer when it muxes.
fn without_rtcp_candidates(sdp: &str) -> String {
    if !sdp.contains("a=rtcp-mux") {
        return sdp.to_string();
    }
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let component = line
            .strip_prefix("a=candidate:")
            .and_then(|rest| rest.split_whitespace().nth(1));
        if component.is_some_and(|c| c != "1") {
            continue;
        }
        out.push_str(line);
    }
    out
}

/// RTT from the phone's reception reports about our echoed streams.
fn read_reports(sender: Arc<RTCRtpSender>, measure: Arc<Mutex<Measure>>) {
    tokio::spawn(async move {
        while let Ok((packets, _)) = sender.read_rtcp().await {
            for p in packets {
                let any = p.as_any();
                let reports: &[ReceptionReport] =
                    if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                        &rr.reports
                    } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
                        &sr.reports
                    } else {
                        continue;
                    };
                for r in reports {
                    if let Some(rtt) =
                        rtt_from_report(r.last_sender_report, r.delay, SystemTime::now())
                    {
                        let mut m = lock(&measure);
                        // Smooth like RFC 6298's SRTT so one late report does not swing the figure.
                        m.rtt_ms = Some(m.rtt_ms.map_or(rtt, |prev| prev * 0.875 + rtt * 0.125));
                    }
                }
            }
        }
    });
}

/// RFC 3550 §6.4.1: RTT = A − LSR − DLSR, all in 1/65536 s, where A is the middle 32 bits of the
/// NTP time the report arrived.
fn rtt_from_report(lsr: u32, dlsr: u32, now: SystemTime) -> Option<f64> {
    if lsr == 0 {
        return None;
    }
    let since_unix = now.duration_since(UNIX_EPOCH).ok()?;
    let ntp_secs = since_unix.as_secs() + 2_208_988_800;
    let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    let ntp = (ntp_secs << 32) | frac;
    let arrival = (ntp >> 16) as u32;
    let rtt = arrival.wrapping_sub(lsr).wrapping_sub(dlsr);
    // More than a minute is a wrapped (bogus) report.
    (rtt < 60 * 65536).then(|| f64::from(rtt) * 1000.0 / 65536.0)
}

/// Close the peer when its time is up, when it never connects, when it fails or when the server
/// stops; record when.
fn supervise(state: &Ctx, pc: Arc<RTCPeerConnection>, measure: Arc<Mutex<Measure>>) {
    let max = Duration::from_secs(state.settings.rtc_echo_max_secs.max(1));
    let mut shutdown = state.shutdown.signal();
    tokio::spawn(async move {
        let started = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.changed() => break,
            }
            let m = lock(&measure);
            let over = started.elapsed() >= max
                || (!m.ever_connected && started.elapsed() >= CONNECT_WITHIN.min(max))
                || matches!(m.state, EchoState::Failed | EchoState::Closed);
            if over {
                break;
            }
        }
        let _ = pc.close().await;
        let mut m = lock(&measure);
        if m.state != EchoState::Failed {
            m.state = if m.ever_connected {
                EchoState::Closed
            } else {
                EchoState::Failed
            };
        }
        m.finished_at = Some(Instant::now());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtcp_candidates_leave_a_muxed_answer() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtcp-mux\r\n\
                   a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host\r\n\
                   a=candidate:1 2 udp 2130706430 192.0.2.1 5001 typ host\r\n";
        let out = without_rtcp_candidates(sdp);
        assert!(out.contains(" 1 udp 2130706431"));
        assert!(!out.contains(" 2 udp 2130706430"));
        let plain = sdp.replace("a=rtcp-mux\r\n", "");
        assert_eq!(without_rtcp_candidates(&plain), plain);
    }

    #[test]
    fn loss_and_jitter_follow_rfc3550() {
        let mut s = StreamStats::default();
        // 20 ms Opus frames, every third one lost, arriving exactly on time: no jitter.
        for i in 0u16..30 {
            if i % 3 == 2 {
                continue;
            }
            s.on_packet(i, u32::from(i) * 960, f64::from(i) * 0.020, 48000);
        }
        assert_eq!(s.expected(), 29);
        assert_eq!(s.lost(), 9);
        assert!(s.jitter_ms().unwrap_or(1.0) < 0.01);
        // Sequence numbers wrap.
        let mut w = StreamStats::default();
        for (k, seq) in [65534u16, 65535, 0, 1].into_iter().enumerate() {
            w.on_packet(seq, k as u32 * 960, k as f64 * 0.020, 48000);
        }
        assert_eq!((w.expected(), w.lost()), (4, 0));
        // Late packets make jitter.
        let mut j = StreamStats::default();
        for i in 0u16..50 {
            let late = if i % 2 == 0 { 0.0 } else { 0.010 };
            j.on_packet(i, u32::from(i) * 960, f64::from(i) * 0.020 + late, 48000);
        }
        let jitter = j.jitter_ms().unwrap_or(0.0);
        assert!((5.0..=10.5).contains(&jitter), "{jitter}");
    }

    #[test]
    fn rtt_from_a_reception_report() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let sent = now - Duration::from_millis(120);
        let since = sent.duration_since(UNIX_EPOCH).unwrap_or_default();
        let ntp = ((since.as_secs() + 2_208_988_800) << 32)
            | ((u64::from(since.subsec_nanos()) << 32) / 1_000_000_000);
        let lsr = (ntp >> 16) as u32;
        // The phone held the report 20 ms: RTT 100 ms.
        let rtt = rtt_from_report(lsr, 65536 / 50, now).unwrap_or(0.0);
        assert!((rtt - 100.0).abs() < 1.0, "{rtt}");
        assert_eq!(rtt_from_report(0, 0, now), None);
    }

    #[test]
    fn verdicts() {
        let mut m = Measure::default();
        assert_eq!(m.verdict(Duration::from_secs(1)), Verdict::Pending);
        assert_eq!(m.verdict(CONNECT_WITHIN), Verdict::CannotConnect);
        m.ever_connected = true;
        m.state = EchoState::Connected;
        assert_eq!(m.verdict(Duration::from_secs(1)), Verdict::Pending);
        for i in 0u16..20 {
            m.audio
                .on_packet(i, u32::from(i) * 960, f64::from(i) * 0.02, 48000);
        }
        assert_eq!(m.verdict(Duration::from_secs(1)), Verdict::AudioOnly);
        for i in 0u16..20 {
            m.video
                .on_packet(i, u32::from(i) * 3000, f64::from(i) / 30.0, 90000);
        }
        assert_eq!(m.verdict(Duration::from_secs(1)), Verdict::VideoOk);
        m.rtt_ms = Some(900.0);
        assert_eq!(m.verdict(Duration::from_secs(1)), Verdict::AudioOnly);
    }
}
