//! What the broker needs to know about the calls it carries, and tells back: a port that the
//! consultations (telehealth) implement, so the broker depends on no domain above it.
//!
//! The broker asks who may be in a call and in which part, says when a call has connected (both
//! sides present) and when it is over (everyone left, or the doctor ended it). Telehealth, the
//! other way, ends a call by publishing [`end_call`] on the bus: it never calls into the rooms.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Caller;
use crate::bus::Bus;
use crate::error::Result;

/// A participant's part in a consultation: the resident being seen (`patient`), the doctor who
/// admitted them, or a doctor invited in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum, serde::Serialize, serde::Deserialize,
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    /// The resident being seen.
    Patient,
    /// The doctor who admitted the resident.
    Doctor,
    /// A doctor invited in, often from a city hospital.
    Specialist,
}

/// Someone who may be in a call now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Participant {
    pub consultation_id: Uuid,
    pub account_id: Uuid,
    pub role: ParticipantRole,
    /// The admission expires at `answer_by` unless the call connects; a call is capped at
    /// `telehealth_max_call_minutes`.
    pub until: DateTime<Utc>,
}

/// What a resident's last pre-call test found, handed to the consultations so the doctors see
/// it beside the resident in the waiting room.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecallCheck {
    /// Never `Pending`: only a test that has a verdict is handed on.
    pub verdict: super::echo::Verdict,
    pub rtt_ms: Option<f64>,
    /// The test's media went through a TURN relay.
    pub relay: bool,
}

/// The calls' owner, as the broker sees it.
#[async_trait::async_trait]
pub trait Calls: Send + Sync + 'static {
    /// May `account` be in the call of `consultation` now, in which part, until when?
    async fn participant(&self, consultation: Uuid, account: Uuid) -> Result<Option<Participant>>;
    /// The caller's seat for a ticket, or the refusal to answer (404 to strangers, 409 to the
    /// right person at the wrong time).
    async fn seat(&self, caller: &Caller, consultation: Uuid) -> Result<Participant>;
    /// Both sides are present: the call has connected (a second report is a harmless no-op).
    async fn connected(&self, consultation: Uuid) -> Result<()>;
    /// Nobody is left in the room on any instance: a call in progress is over.
    async fn emptied(&self, consultation: Uuid) -> Result<()>;
    /// The doctor ended the call.
    async fn ended_by_doctor(&self, consultation: Uuid) -> Result<()>;
    /// `account`'s pre-call test has a verdict (the latest one a test showed them).
    async fn precall_checked(&self, account: Uuid, check: PrecallCheck) -> Result<()>;
}

/// The bus topic of every room's events (each names its room): one channel and one listener
/// per instance, however many rooms it holds.
pub const TOPIC: &str = "rtc";

/// Close a consultation's room on every instance: its participants are told `reason` and
/// disconnected. What telehealth publishes when a call ends outside the room (declined, left the
/// queue, no answer).
pub async fn end_call(bus: &dyn Bus, consultation: Uuid, reason: &str) {
    let end = super::room::RoomEvent::End {
        reason: Some(reason.to_string()),
        room: consultation,
    };
    if let Err(e) = end.publish(bus).await {
        tracing::warn!(error = %e, "ending the room");
    }
}
