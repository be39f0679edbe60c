//! The server's peer: built for a session, it answers the offer, sends every RTP packet and
//! data-channel message back while measuring them, and is closed by its supervisor.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
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

use super::stats::{EchoState, Measure, lock, rtt_from_report};
use super::{CONNECT_WITHIN, GATHER_WITHIN};
use crate::error::Error;
use crate::rtc::Ctx;

fn media_engine() -> Result<MediaEngine, Error> {
    let mut media = MediaEngine::default();
    media
        .register_default_codecs()
        .map_err(|e| Error::Internal(anyhow::anyhow!("registering codecs: {e}")))?;
    Ok(media)
}

/// Build the server's peer for session `id`, answer `offer` and leave the peer running.
pub(super) async fn start_peer(
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
        && crate::rtc::turn::is_public(ip)
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
            // This peer's ICE agent relays over UDP only (and warns about the other URLs).
            urls: s
                .urls
                .into_iter()
                .filter(|u| {
                    u.starts_with("stun:")
                        || (u.starts_with("turn:") && !u.contains("transport=tcp"))
                })
                .collect(),
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
}
