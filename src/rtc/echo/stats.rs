//! What a test measures: RTP loss and jitter per stream (RFC 3550), round-trip time from RTCP
//! reception reports, the verdict drawn from them, and the report types the API answers with.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use poem_openapi::{Enum, Object};
use uuid::Uuid;

use super::{CONNECT_WITHIN, ENOUGH_PACKETS};

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

crate::text_enum! {
    /// What the test says about this phone and network.
    #[derive(Enum)]
    #[oai(rename_all = "snake_case")]
    pub enum Verdict {
        /// Video came through with loss ≤ 5 %, jitter ≤ 30 ms and round trip ≤ 300 ms.
        VideoOk = "video_ok",
        /// Connected, but no video, or not good enough for video: suggest an audio call.
        AudioOnly = "audio_only",
        /// No connection could be made (firewall, no TURN path, wrong credentials).
        CannotConnect = "cannot_connect",
        /// Too early to tell.
        Pending = "pending",
    }
}

/// Why a test could not connect, when the server knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum EchoReason {
    /// The embedded TURN server refused to relay between the phone and the test peer (its policy
    /// refuses private and other non-public peers): the relay path cannot work from this network.
    TurnPeerRefused,
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
    /// Why the test could not connect, when known (with `cannot_connect`).
    pub reason: Option<EchoReason>,
}

/// One RTP stream as received: RFC 3550 sequence and jitter bookkeeping.
#[derive(Debug, Default)]
pub(super) struct StreamStats {
    base_seq: Option<u16>,
    max_seq: u16,
    cycles: u64,
    pub(super) received: u64,
    /// In RTP timestamp units.
    jitter: f64,
    last: Option<(f64, u32)>,
    clock_rate: u32,
}

impl StreamStats {
    pub(super) fn on_packet(
        &mut self,
        seq: u16,
        timestamp: u32,
        arrival_secs: f64,
        clock_rate: u32,
    ) {
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
pub(super) struct Measure {
    pub(super) state: EchoState,
    pub(super) ever_connected: bool,
    pub(super) finished_at: Option<Instant>,
    pub(super) audio: StreamStats,
    pub(super) video: StreamStats,
    pub(super) packets_echoed: u64,
    pub(super) messages_echoed: u64,
    pub(super) rtt_ms: Option<f64>,
    pub(super) selected: Option<String>,
}

impl Measure {
    pub(super) fn loss(&self) -> Option<f64> {
        let expected = self.audio.expected() + self.video.expected();
        (expected > 0).then(|| (self.audio.lost() + self.video.lost()) as f64 / expected as f64)
    }

    pub(super) fn jitter_ms(&self) -> Option<f64> {
        match (self.audio.jitter_ms(), self.video.jitter_ms()) {
            (Some(a), Some(v)) => Some(a.max(v)),
            (a, v) => a.or(v),
        }
    }

    pub(super) fn verdict(&self, age: Duration) -> Verdict {
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

pub(super) fn lock(m: &Mutex<Measure>) -> MutexGuard<'_, Measure> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// RFC 3550 §6.4.1: RTT = A − LSR − DLSR, all in 1/65536 s, where A is the middle 32 bits of the
/// NTP time the report arrived.
pub(super) fn rtt_from_report(lsr: u32, dlsr: u32, now: SystemTime) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
