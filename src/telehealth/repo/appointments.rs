//! Appointments: the row and its status, booking, moving, cancelling, checking in, reminders and
//! no-shows, and the checks a booking makes inside its transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::consultations::Symptom;
use crate::on_ex;
use crate::store::Ex;

// The calendar (`schedule`) books and cancels; the waiting room (`queue`) settles an appointment
// when the consultation behind it ends.
crate::text_enum! {
    /// Where an appointment is in its life (FHIR Appointment.status).
    #[derive(poem_openapi::Enum)]
    #[oai(rename_all = "snake_case")]
    pub enum AppointmentStatus {
        Booked = "booked",
        /// The resident arrived in the waiting room (FHIR `arrived`).
        CheckedIn = "checked_in",
        Fulfilled = "fulfilled",
        Cancelled = "cancelled",
        Noshow = "noshow",
    }
}

/// The appointments still ahead ([`AppointmentStatus::is_active`]) as an SQL list, written once.
#[macro_export]
macro_rules! active_appointment_statuses_sql {
    () => {
        "('booked', 'checked_in')"
    };
}

impl AppointmentStatus {
    /// Still ahead: it holds its slot and may be cancelled. SQL spells the same set as
    /// [`active_appointment_statuses_sql!`], which a test holds to this.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            AppointmentStatus::Booked | AppointmentStatus::CheckedIn
        )
    }
}

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
    pub symptom: Option<Symptom>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `SELECT <columns> FROM appointments <rest>` for an [`AppointmentRow`].
macro_rules! select_appointments {
    ($($rest:tt)*) => {
        concat!(
            "SELECT appointment_id, resident_id, doctor_id, station_id, starts_at, ends_at, status, reason, ",
            "symptom, cancelled_by, cancel_reason, created_at, updated_at FROM appointments ",
            $($rest)*
        )
    };
}

/// A new booking: what [`insert`] writes (status `booked`).
pub struct NewAppointment<'a> {
    pub appointment_id: Uuid,
    pub resident_id: Uuid,
    pub doctor_id: Uuid,
    pub station_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: &'a str,
    pub symptom: Option<Symptom>,
}

pub async fn appointment(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
) -> Result<Option<AppointmentRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, AppointmentRow>(
        select_appointments!("WHERE appointment_id = $1"),
    )
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// The account's appointments (as resident or as doctor) starting in `[from, to)`, by time.
pub async fn of_account(
    ex: impl Into<Ex<'_>>,
    account: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<AppointmentRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, AppointmentRow>(select_appointments!(
        "WHERE (resident_id = $1 OR doctor_id = $1) AND starts_at >= $2 AND starts_at < $3
         ORDER BY starts_at LIMIT 500"
    ))
    .bind(account)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await)
}

/// The doctor's booked appointments starting in `[from, to)`.
pub async fn booked_between(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<AppointmentRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, AppointmentRow>(select_appointments!(
        "WHERE doctor_id = $1 AND status = 'booked' AND starts_at >= $2 AND starts_at < $3"
    ))
    .bind(doctor)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await)
}

/// Insert a booking. A second live appointment of the doctor at the same start violates
/// `appointments_slot_key`.
pub async fn insert(
    ex: impl Into<Ex<'_>>,
    a: &NewAppointment<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO appointments (appointment_id, resident_id, doctor_id, station_id, starts_at, ends_at, status, reason, symptom, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $8, $9, $9)",
    )
    .bind(a.appointment_id)
    .bind(a.resident_id)
    .bind(a.doctor_id)
    .bind(a.station_id)
    .bind(a.starts_at)
    .bind(a.ends_at)
    .bind(a.reason)
    .bind(a.symptom.map(Symptom::as_str))
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Live appointments of the doctor overlapping `[start, end)`, other than `except`.
pub async fn doctor_clashes(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> Result<i64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM appointments
         WHERE doctor_id = $1 AND status <> 'cancelled' AND starts_at < $3 AND ends_at > $2
           AND ($4 IS NULL OR appointment_id <> $4)",
    )
    .bind(doctor)
    .bind(start)
    .bind(end)
    .bind(except)
    .fetch_one(c)
    .await)
}

/// Active appointments of the resident overlapping `[start, end)`, other than `except`.
pub async fn resident_clashes(
    ex: impl Into<Ex<'_>>,
    resident: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> Result<i64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(concat!(
        "SELECT COUNT(*) FROM appointments WHERE resident_id = $1 AND status IN ",
        crate::active_appointment_statuses_sql!(),
        " AND starts_at < $3 AND ends_at > $2 AND ($4 IS NULL OR appointment_id <> $4)"
    ))
    .bind(resident)
    .bind(start)
    .bind(end)
    .bind(except)
    .fetch_one(c)
    .await)
}

/// The resident's booked appointments still to come after `now`.
pub async fn open_of_resident(
    ex: impl Into<Ex<'_>>,
    resident: Uuid,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM appointments WHERE resident_id = $1 AND status = 'booked' AND starts_at > $2",
    )
    .bind(resident)
    .bind(now)
    .fetch_one(c)
    .await)
}

/// Move a booked appointment to `[start, end)`, its reminders to be sent again; how many rows
/// moved. The slot may be taken meanwhile (`appointments_slot_key`).
pub async fn move_to(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE appointments SET starts_at = $2, ends_at = $3, reminded_24h_at = NULL, reminded_15m_at = NULL, updated_at = $4
         WHERE appointment_id = $1 AND status = 'booked'",
    )
    .bind(id)
    .bind(start)
    .bind(end)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Cancel an active appointment; how many rows changed.
pub async fn cancel(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    by: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(concat!(
        "UPDATE appointments SET status = 'cancelled', cancelled_by = $2, cancel_reason = $3, updated_at = $4
         WHERE appointment_id = $1 AND status IN ",
        crate::active_appointment_statuses_sql!()
    ))
    .bind(id)
    .bind(by)
    .bind(reason)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// A booked appointment's resident arrived; how many rows changed.
pub async fn check_in(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE appointments SET status = 'checked_in', updated_at = $2 WHERE appointment_id = $1 AND status = 'booked'",
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// A checked-in appointment is over: fulfilled, cancelled or a no-show.
pub async fn settle(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    status: AppointmentStatus,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE appointments SET status = $2, updated_at = $3 WHERE appointment_id = $1 AND status = 'checked_in'",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Booked appointments starting in `(now, day_ahead]` with a reminder still to send (the
/// 15-minute one from `soon`), by time.
pub async fn reminders_due(
    ex: impl Into<Ex<'_>>,
    now: DateTime<Utc>,
    day_ahead: DateTime<Utc>,
    soon: DateTime<Utc>,
) -> Result<Vec<AppointmentRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, AppointmentRow>(select_appointments!(
        "WHERE status = 'booked' AND starts_at > $1 AND starts_at <= $2
           AND (reminded_24h_at IS NULL OR (reminded_15m_at IS NULL AND starts_at <= $3))
         ORDER BY starts_at LIMIT 500"
    ))
    .bind(now)
    .bind(day_ahead)
    .bind(soon)
    .fetch_all(c)
    .await)
}

/// Claim the 15-minute reminder (and with it the day-before one); how many rows changed.
pub async fn claim_reminder_15m(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE appointments SET reminded_15m_at = $2, reminded_24h_at = COALESCE(reminded_24h_at, $2), updated_at = $2
         WHERE appointment_id = $1 AND reminded_15m_at IS NULL AND status = 'booked'",
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Claim the day-before reminder; how many rows changed.
pub async fn claim_reminder_24h(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE appointments SET reminded_24h_at = $2, updated_at = $2
         WHERE appointment_id = $1 AND reminded_24h_at IS NULL AND status = 'booked'",
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Booked appointments that started before `before` are no-shows; how many.
pub async fn mark_no_shows(
    ex: impl Into<Ex<'_>>,
    now: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE appointments SET status = 'noshow', updated_at = $1 WHERE status = 'booked' AND starts_at < $2",
    )
    .bind(now)
    .bind(before)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Starts held by live appointments in `[from, to)` (of one doctor, or all).
pub async fn taken(
    ex: impl Into<Ex<'_>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    doctor: Option<Uuid>,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, (Uuid, DateTime<Utc>)>(
        "SELECT doctor_id, starts_at FROM appointments
         WHERE status <> 'cancelled' AND starts_at >= $1 AND starts_at < $2 AND ($3 IS NULL OR doctor_id = $3)",
    )
    .bind(from)
    .bind(to)
    .bind(doctor)
    .fetch_all(c)
    .await)
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
