//! The waiting room and the consultation (FHIR Encounter, class VR) it becomes.
//!
//! ```text
//! waiting ──admit──▶ admitted ──connect──▶ in_call ──end──▶ ended
//!    ▲  │              │  │                         
//!    │  │   requeue /  │  └─ no answer in time ─▶ missed
//!    └──┼── transfer ──┘
//!       └─ resident leaves ─▶ cancelled      doctor declines ─▶ declined
//! ```
//!
//! A resident has at most one live consultation (`consultations_active_resident_key`). Two doctors
//! admitting at once never get the same resident: admission is a conditional update on `waiting`.
//! The WebRTC broker reads [`participant`] and drives [`call_connected`] / [`call_ended`].

macro_rules! consultation_columns {
    () => {
        "consultation_id, station_id, resident_id, doctor_id, appointment_id, status, reason, symptom, priority_at, queued_at, admitted_at, answer_by, call_started_at, ended_at, end_reason, rating, rating_comment, created_at, updated_at"
    };
}

mod admission;
mod call;
mod consultation;
mod lifecycle;
mod participants;
#[cfg(test)]
mod tests;
mod waiting_room;

pub use admission::{admit, decline, requeue, transfer};
pub use call::{call_connected, call_ended, end, expire_unanswered, rate, start};
pub use consultation::{ConsultationRow, ConsultationStatus, EndReason, consultation_row, mine};
pub use lifecycle::{Event, next};
pub use participants::{Relation, doctors_of, get, invite, participant, relation};
pub use waiting_room::{
    Enqueue, cancel, enqueue, estimate_minutes, join, position, require_station_doctor, set_duty,
    station_queue,
};

pub use crate::rtc::{Participant, ParticipantRole};
