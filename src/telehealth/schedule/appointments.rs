//! An appointment (FHIR Appointment) and who may read it; its row and status live in the
//! repository.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::{Db, Tx};
use crate::telehealth::Ctx;
use crate::telehealth::repo::appointments as repo;

pub use crate::telehealth::repo::appointments::{AppointmentRow, AppointmentStatus};

pub async fn appointment_row(db: &Db, id: Uuid) -> Result<Option<AppointmentRow>> {
    Ok(repo::appointment(db, id).await?)
}

/// The appointment, if the caller is its resident or its doctor (404 for anyone else: another
/// person's appointment does not exist for you; staff and admins have no access at all).
pub async fn appointment(state: &Ctx, caller: &Caller, id: Uuid) -> Result<AppointmentRow> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let row = appointment_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("appointment_not_found"))?;
    if row.resident_id != caller.account_id && row.doctor_id != caller.account_id {
        return Err(Error::NotFound("appointment_not_found"));
    }
    Ok(row)
}

/// The caller's appointments (as resident or as doctor) starting in `[from, to)`, by time.
pub async fn appointments(
    state: &Ctx,
    caller: &Caller,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<AppointmentRow>> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let now = state.clock.now();
    let from = from.unwrap_or(now - Duration::days(30));
    let to = to.unwrap_or(now + Duration::days(90));
    if to <= from || to - from > Duration::days(366) {
        return Err(Error::validation(
            "to",
            "invalid_range",
            "Khoảng thời gian không hợp lệ (tối đa 366 ngày)",
            "Invalid range (at most 366 days)",
        ));
    }
    Ok(repo::of_account(&state.db, caller.account_id, from, to).await?)
}

/// Cancel a booked (or checked-in) appointment; false when it was no longer either.
pub(super) async fn set_cancelled(
    tx: &mut Tx,
    id: Uuid,
    by: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(repo::cancel(tx, id, by, reason, now).await? == 1)
}
