//! An appointment (FHIR Appointment): its status and row, and who may read it.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::appointment_columns;
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::{Db, Tx};
use crate::telehealth::Ctx;
use crate::{on_db, on_tx};

pub use crate::telehealth::shared::AppointmentStatus;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppointmentRow {
    pub appointment_id: Uuid,
    pub resident_id: Uuid,
    pub doctor_id: Uuid,
    pub station_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: AppointmentStatus,
    pub reason: String,
    pub symptom: Option<crate::telehealth::Symptom>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn appointment_row(db: &Db, id: Uuid) -> Result<Option<AppointmentRow>> {
    Ok(
        on_db!(db, pool => sqlx::query_as::<_, AppointmentRow>(concat!(
        "SELECT ", appointment_columns!(), " FROM appointments WHERE appointment_id = $1",
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)?,
    )
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
    Ok(
        on_db!(&state.db, pool => sqlx::query_as::<_, AppointmentRow>(concat!(
        "SELECT ", appointment_columns!(), " FROM appointments
         WHERE (resident_id = $1 OR doctor_id = $1) AND starts_at >= $2 AND starts_at < $3
         ORDER BY starts_at LIMIT 500",
    ))
    .bind(caller.account_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?,
    )
}

/// Cancel a booked (or checked-in) appointment; false when it was no longer either.
pub(super) async fn set_cancelled(
    tx: &mut Tx,
    id: Uuid,
    by: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, conn => sqlx::query(
        concat!(
            "UPDATE appointments SET status = 'cancelled', cancelled_by = $2, cancel_reason = $3, updated_at = $4
             WHERE appointment_id = $1 AND status IN ",
            crate::active_appointment_statuses_sql!()
        ),
    )
    .bind(id)
    .bind(by)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::AppointmentStatus;

    #[test]
    fn the_sql_active_set_is_the_enums() {
        let sql: Vec<&str> =
            crate::store::column::sql_list(crate::active_appointment_statuses_sql!());
        let active: Vec<&str> = AppointmentStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_active())
            .map(AppointmentStatus::as_str)
            .collect();
        assert_eq!(sql, active);
    }
}
