//! Telehealth at the ward health station (*Trạm Y tế phường*): the public directory of stations and
//! doctors, weekly availability and bookable slots, appointments, the on-demand waiting room,
//! consultations (encounters) and their lifecycle, consent, clinical records and the audit trail of
//! every access to medical data.
//!
//! The shape follows FHIR so records can be exported later: availability is a Schedule, slots are
//! computed Slots, an [`schedule::Appointment`] is an Appointment, a consultation is an Encounter of
//! class VR (virtual), consent rows are Consents and prescription items are MedicationRequests.
//!
//! Who sees what, everywhere in this module:
//! - a resident sees their own appointments, consultations and signed records;
//! - a doctor sees the appointments booked with them, the waiting room of their stations, and the
//!   consultations (with records) they take part in;
//! - staff never see any of it; admins see counts only.
//!
//! The WebRTC broker asks [`queue::participant`] who may join which consultation, and moves the
//! consultation with [`queue::connect_call`] and [`queue::end_call`] (through [`calls`]). The SQL
//! of every use case is in [`repo`].

pub mod api;
pub mod calls;
pub mod live;
pub mod quality;
pub mod queue;
pub mod readiness;
pub mod records;
pub mod repo;
pub mod schedule;
mod shared;
pub mod stats;

use chrono::{DateTime, FixedOffset, Utc};
use uuid::Uuid;

use std::sync::Arc;

use crate::auth::Auth;
use crate::bus::Bus;
use crate::calendar::WorkCalendar;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::reports::push::Notifier;
use crate::reports::push::Push;
use crate::store::Db;
use crate::store::Tx;

/// What telehealth works with, and nothing more: built by the app (`app.rs`).
#[derive(Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub auth: Auth,
    pub clock: Clock,
    /// The ward's working days and holidays (the station's opening hours follow them).
    pub calendar: Arc<WorkCalendar>,
    /// Reminders and waiting-room news to phones.
    pub notifier: Arc<dyn Notifier>,
    /// Ends calls: the broker listens (`rtc::end_call`); carries waiting-room changes (`live`).
    pub bus: Arc<dyn Bus>,
    /// Closes the waiting-room sockets when the server stops.
    pub shutdown: crate::shutdown::Shutdown,
}

/// What brings the resident (its column type lives with the rows).
pub use repo::consultations::Symptom;

/// The ward's UTC offset (slots and reminders are in local time).
pub fn ward_offset(state: &Ctx) -> FixedOffset {
    state.calendar.utc_offset()
}

/// The free-text reason a resident gives: required, up to 1000 characters, no control characters
/// other than line breaks.
pub fn validate_reason(raw: &str) -> Result<String> {
    let reason = crate::text::clean_required(raw, true);
    let bad = reason.is_empty()
        || reason.chars().count() > 1000
        || reason
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t');
    if bad {
        return Err(Error::validation(
            "reason",
            "invalid_reason",
            "Hãy mô tả lý do khám (tối đa 1000 ký tự)",
            "Describe the reason for the consultation (up to 1000 characters)",
        ));
    }
    Ok(reason.to_string())
}

/// Free text in clinical fields and comments: up to `max` characters, no control characters other
/// than line breaks and tabs.
pub fn validate_text(raw: &str, field: &str, max: usize) -> Result<String> {
    let Ok(text) = crate::text::clean(raw, true) else {
        return Err(Error::validation(
            field,
            "invalid_text",
            "Nội dung quá dài hoặc có ký tự không hợp lệ",
            "Text too long or contains invalid characters",
        ));
    };
    if text.chars().count() > max
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Error::validation(
            field,
            "invalid_text",
            "Nội dung quá dài hoặc có ký tự không hợp lệ",
            "Text too long or contains invalid characters",
        ));
    }
    Ok(text.to_string())
}

/// What an inbox item is about.
#[derive(Debug, Clone, Copy)]
pub enum About {
    Appointment(Uuid),
    Consultation(Uuid),
}

/// Put an item in an account's notifications inbox (inside the caller's transaction) and return the
/// push to send once it commits. Texts never carry clinical content.
pub async fn notify(
    tx: &mut Tx,
    account: Uuid,
    about: About,
    kind: NotificationKind,
    vi: String,
    en: String,
    now: DateTime<Utc>,
) -> Result<Push> {
    let (appointment, consultation) = match about {
        About::Appointment(id) => (Some(id), None),
        About::Consultation(id) => (None, Some(id)),
    };
    repo::notifications::insert(
        &mut *tx,
        &repo::notifications::NewNotification {
            account_id: account,
            appointment_id: appointment,
            consultation_id: consultation,
            kind,
            body_vi: &vi,
            body_en: &en,
        },
        now,
    )
    .await?;
    Ok(Push {
        account_id: account,
        report_id: None,
        appointment_id: appointment,
        consultation_id: consultation,
        kind,
        text_vi: vi,
        text_en: en,
    })
}

pub use crate::reports::push::NotificationKind;
pub use crate::reports::push::send_all as send_pushes;

/// Local wall-clock text of a time, for notification texts: `14:30 26/11/2026`.
pub fn local_text(at: DateTime<Utc>, offset: FixedOffset) -> String {
    at.with_timezone(&offset)
        .format("%H:%M %d/%m/%Y")
        .to_string()
}

/// Periodic work: reminders for upcoming appointments, missed calls, no-shows. Safe to run on every
/// instance at once: each change is claimed by a conditional update.
pub async fn sweep(state: &Ctx) -> Result<SweepOutcome> {
    let reminders = schedule::send_reminders(state).await?;
    let missed = queue::expire_unanswered(state).await?;
    if missed > 0 {
        live::nudge(state, None).await;
    }
    let no_shows = schedule::mark_no_shows(state).await?;
    Ok(SweepOutcome {
        reminders,
        missed,
        no_shows,
    })
}

/// What one [`sweep`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    pub reminders: usize,
    pub missed: usize,
    pub no_shows: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symptoms_round_trip() {
        for s in [Symptom::ChronicFollowUp, Symptom::Other, Symptom::General] {
            assert_eq!(Symptom::parse(s.as_str()), Some(s));
        }
        assert_eq!(Symptom::parse("nope"), None);
    }

    #[test]
    fn reasons_are_bounded() {
        assert!(validate_reason("  ").is_err());
        assert!(validate_reason(&"x".repeat(1001)).is_err());
        assert!(validate_reason("sốt\u{0}").is_err());
        assert_eq!(
            validate_reason(" Ho, sốt 3 ngày\n").ok().as_deref(),
            Some("Ho, sốt 3 ngày")
        );
    }
}
