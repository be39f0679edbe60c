//! Doctors' weekly windows (what slots are cut from) and leave days.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::store::Ex;

/// One weekly window as stored (minutes after local midnight, ISO weekday).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct WindowRow {
    pub station_id: Uuid,
    pub weekday: i32,
    pub start_minute: i32,
    pub end_minute: i32,
    pub slot_minutes: i32,
}

/// A window with its doctor, for slot generation.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct DoctorWindowRow {
    pub doctor_id: Uuid,
    #[sqlx(flatten)]
    pub window: WindowRow,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeaveDay {
    pub day: NaiveDate,
    pub reason: String,
}

/// The doctor's windows by weekday and start.
pub async fn windows(ex: impl Into<Ex<'_>>, doctor: Uuid) -> Result<Vec<WindowRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, WindowRow>(
        "SELECT station_id, weekday, start_minute, end_minute, slot_minutes FROM availability
         WHERE doctor_id = $1 ORDER BY weekday, start_minute",
    )
    .bind(doctor)
    .fetch_all(c)
    .await)
}

/// Windows of enabled doctors, of one station and/or one doctor (or all).
pub async fn bookable_windows(
    ex: impl Into<Ex<'_>>,
    station: Option<Uuid>,
    doctor: Option<Uuid>,
) -> Result<Vec<DoctorWindowRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, DoctorWindowRow>(
        "SELECT av.doctor_id, av.station_id, av.weekday, av.start_minute, av.end_minute, av.slot_minutes
         FROM availability av JOIN accounts a ON a.account_id = av.doctor_id
         WHERE a.disabled_at IS NULL AND ($1 IS NULL OR av.station_id = $1) AND ($2 IS NULL OR av.doctor_id = $2)",
    )
    .bind(station)
    .bind(doctor)
    .fetch_all(c)
    .await)
}

/// Remove every window of the doctor.
pub async fn delete_windows(ex: impl Into<Ex<'_>>, doctor: Uuid) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query("DELETE FROM availability WHERE doctor_id = $1")
        .bind(doctor)
        .execute(c)
        .await
        .map(|_| ()))
}

pub async fn insert_window(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    w: &WindowRow,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO availability (availability_id, doctor_id, station_id, weekday, start_minute, end_minute, slot_minutes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(doctor)
    .bind(w.station_id)
    .bind(w.weekday)
    .bind(w.start_minute)
    .bind(w.end_minute)
    .bind(w.slot_minutes)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// The doctor's leave days from `from` on.
pub async fn leave_days(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    from: NaiveDate,
) -> Result<Vec<LeaveDay>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, LeaveDay>(
        "SELECT day, reason FROM leave_days WHERE doctor_id = $1 AND day >= $2 ORDER BY day",
    )
    .bind(doctor)
    .bind(from)
    .fetch_all(c)
    .await)
}

/// Whether the doctor is on leave that day.
pub async fn on_leave(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    day: NaiveDate,
) -> Result<bool, sqlx::Error> {
    let n = on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM leave_days WHERE doctor_id = $1 AND day = $2",
    )
    .bind(doctor)
    .bind(day)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Every doctor's leave days in `[from, to]`.
pub async fn leave_between(
    ex: impl Into<Ex<'_>>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(Uuid, NaiveDate)>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, (Uuid, NaiveDate)>(
        "SELECT doctor_id, day FROM leave_days WHERE day >= $1 AND day <= $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await)
}

/// Mark a leave day (or change its reason).
pub async fn add_leave_day(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    day: NaiveDate,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO leave_days (doctor_id, day, reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (doctor_id, day) DO UPDATE SET reason = $3, updated_at = $4",
    )
    .bind(doctor)
    .bind(day)
    .bind(reason)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

pub async fn remove_leave_day(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    day: NaiveDate,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query("DELETE FROM leave_days WHERE doctor_id = $1 AND day = $2")
        .bind(doctor)
        .bind(day)
        .execute(c)
        .await
        .map(|_| ()))
}
