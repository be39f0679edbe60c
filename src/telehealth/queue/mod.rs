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
//! The WebRTC broker reads [`participant`] and drives [`connect_call`] / [`end_call`] on the row
//! it read. The SQL is in `telehealth::repo` (`consultations`, `queue`).

mod admission;
mod call;
mod consultation;
mod lifecycle;
mod participants;
#[cfg(test)]
mod tests;
mod waiting_room;

pub use admission::{admit, decline, requeue, transfer};
pub use call::{
    call_connected, call_ended, connect_call, end, end_call, expire_unanswered, rate, start,
};
pub use consultation::{ConsultationRow, ConsultationStatus, EndReason, consultation_row, mine};
pub use lifecycle::{Event, next};
pub use participants::{Relation, doctors_of, get, invite, participant, relation};
pub use waiting_room::{
    Enqueue, cancel, enqueue, estimate_minutes, join, position, require_station_doctor, set_duty,
    station_queue,
};

pub use crate::rtc::{Participant, ParticipantRole};
