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

mod api;
mod peer;
mod sessions;
mod stats;

pub use api::{EchoAnswer, EchoApi, EchoOffer};
pub use sessions::EchoSessions;
pub use stats::{EchoReason, EchoReport, EchoState, Verdict};

use std::time::Duration;

/// Finished sessions keep their report this long.
const KEEP_REPORT: Duration = Duration::from_secs(600);
/// A session that has not connected by then has failed (ICE gives up after ~10 s of checks).
const CONNECT_WITHIN: Duration = Duration::from_secs(20);
/// Longest wait for the server's candidates before answering (non-trickle).
const GATHER_WITHIN: Duration = Duration::from_secs(10);
/// Packets needed before a verdict on media.
const ENOUGH_PACKETS: u64 = 10;
