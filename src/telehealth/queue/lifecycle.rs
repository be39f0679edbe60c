//! The consultation's lifecycle: its statuses, the events that move it, and the conditional
//! update that applies a move.

use chrono::{DateTime, Utc};

use super::consultation::{ConsultationRow, ConsultationStatus, EndReason};
use crate::error::{Error, Result};
use crate::store::Tx;
use crate::telehealth::repo::{appointments, consultations};
use crate::telehealth::shared::AppointmentStatus;

/// What happens to a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Admit,
    /// Back to the waiting room (put back, or transferred to a colleague).
    Requeue,
    Connect,
    End,
    Miss,
    Cancel,
    Decline,
}

/// The lifecycle: the status after `event`, or `None` if it cannot happen now.
pub fn next(from: ConsultationStatus, event: Event) -> Option<ConsultationStatus> {
    use ConsultationStatus as S;
    Some(match (from, event) {
        (S::Waiting, Event::Admit) => S::Admitted,
        (S::Waiting | S::Admitted, Event::Requeue) => S::Waiting,
        (S::Admitted, Event::Connect) => S::InCall,
        (S::InCall, Event::End) => S::Ended,
        (S::Admitted, Event::Miss) => S::Missed,
        (S::Waiting | S::Admitted, Event::Cancel) => S::Cancelled,
        (S::Waiting | S::Admitted, Event::Decline) => S::Declined,
        _ => return None,
    })
}

/// Move a consultation on by `event` if it is still where it was read (a conditional update: of
/// two racing changes one wins, the other gets 409). Ending states record when and why.
pub(super) async fn change(
    tx: &mut Tx,
    row: &ConsultationRow,
    event: Event,
    now: DateTime<Utc>,
    end_reason: Option<EndReason>,
) -> Result<()> {
    let from = row.status;
    let to = next(from, event).ok_or(Error::Conflict("illegal_transition"))?;
    let id = row.consultation_id;
    let n = if to == ConsultationStatus::InCall {
        consultations::start_call(&mut *tx, id, from, to, now).await?
    } else {
        consultations::close(&mut *tx, id, from, to, now, end_reason).await?
    };
    if n != 1 {
        return Err(Error::Conflict("illegal_transition"));
    }
    Ok(())
}

/// Settle the booked appointment behind a consultation that has ended one way or another.
pub(super) async fn settle_appointment(
    tx: &mut Tx,
    row: &ConsultationRow,
    status: AppointmentStatus,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(a) = row.appointment_id {
        appointments::settle(&mut *tx, a, status, now).await?;
    }
    Ok(())
}

/// End a consultation one way or another (ended, missed, cancelled, declined), and tell the
/// integrations' webhooks in the same transaction (`consultation.ended`): when and how it went,
/// never who or why.
pub(super) async fn finish(
    tx: &mut Tx,
    row: &ConsultationRow,
    event: Event,
    reason: EndReason,
    now: DateTime<Utc>,
) -> Result<()> {
    change(tx, row, event, now, Some(reason)).await?;
    let status = next(row.status, event).unwrap_or(row.status);
    let ended = crate::webhooks::Event::consultation_ended(&crate::webhooks::ConsultationData {
        id: row.consultation_id,
        station_id: row.station_id,
        status: status.as_str(),
        end_reason: Some(reason.as_str()),
        queued_at: row.queued_at,
        started_at: row.call_started_at,
        ended_at: Some(now),
        duration_secs: row.call_started_at.map(|t| (now - t).num_seconds().max(0)),
    })?;
    crate::webhooks::enqueue(tx, &ended, now).await
}
