//! The station's directory (where, when open, which doctors), doctors' weekly availability and leave
//! days, the bookable slots computed from them, appointments and their reminders.
//!
//! Slots are never stored: a slot is a start time that a doctor's weekly window produces on a day
//! that is not a leave day or public holiday, and that no live appointment holds. The database keeps
//! the one rule that matters under load: at most one live appointment per doctor and start time
//! (`appointments_slot_key`), and bookings of one doctor run one at a time ([`Tx::lock_key`]).
//!
//! The SQL is in `telehealth::repo` (`appointments`, `availability`, `stations`).
//!
//! [`Tx::lock_key`]: crate::store::Tx::lock_key

mod appointments;
mod arrival;
mod availability;
mod booking;
mod cancel_reschedule;
mod directory;
mod slots;
#[cfg(test)]
mod tests;

pub use super::shared::{StationRow, is_station_doctor, require_doctor, station};
pub use appointments::{
    AppointmentRow, AppointmentStatus, appointment, appointment_row, appointments,
};
pub use arrival::{check_in, mark_no_shows, send_reminders};
pub use availability::{
    LeaveDay, Window, add_leave, availability, check_windows, format_clock, leave_days,
    parse_clock, remove_leave, replace_availability, windows,
};
pub use booking::{NewBooking, book};
pub use cancel_reschedule::{cancel, reschedule};
pub use directory::{Doctor, StationPatch, doctors, set_profile, stations, update_station};
pub use slots::{Calendar, Slot, free_slots, slots, window_for};
