//! The directory: stations, their doctors, doctors' public profiles and duty.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::store::Ex;

/// A health station as residents see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StationRow {
    pub station_id: Uuid,
    pub name: String,
    pub address: String,
    pub phone: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub opening_hours: String,
}

/// An enabled doctor account with its profile and the station it is on duty at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DoctorRow {
    pub account_id: Uuid,
    pub display_name: String,
    pub title: Option<String>,
    pub specialty: Option<String>,
    pub hospital: Option<String>,
    pub on_duty_at: Option<Uuid>,
}

pub async fn station(ex: impl Into<Ex<'_>>, id: Uuid) -> Result<Option<StationRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, StationRow>(
        "SELECT station_id, name, address, phone, lat, lon, opening_hours FROM stations WHERE station_id = $1",
    )
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// Every station by name.
pub async fn stations(ex: impl Into<Ex<'_>>) -> Result<Vec<StationRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, StationRow>(
        "SELECT station_id, name, address, phone, lat, lon, opening_hours FROM stations ORDER BY name",
    )
    .fetch_all(c)
    .await)
}

/// What an admin keeps up to date about a station.
pub async fn update_station(
    ex: impl Into<Ex<'_>>,
    s: &StationRow,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "UPDATE stations SET address = $2, phone = $3, lat = $4, lon = $5, opening_hours = $6, updated_at = $7
         WHERE station_id = $1",
    )
    .bind(s.station_id)
    .bind(&s.address)
    .bind(&s.phone)
    .bind(s.lat)
    .bind(s.lon)
    .bind(&s.opening_hours)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Whether the account is a doctor of the station.
pub async fn is_station_doctor(
    ex: impl Into<Ex<'_>>,
    station: Uuid,
    doctor: Uuid,
) -> Result<bool, sqlx::Error> {
    let n = on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM station_doctors WHERE station_id = $1 AND account_id = $2",
    )
    .bind(station)
    .bind(doctor)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Every enabled doctor, by name.
pub async fn doctors(ex: impl Into<Ex<'_>>) -> Result<Vec<DoctorRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, DoctorRow>(
        "SELECT a.account_id, a.display_name, p.title, p.specialty, p.hospital, d.station_id AS on_duty_at
         FROM accounts a
         LEFT JOIN doctor_profiles p ON p.account_id = a.account_id
         LEFT JOIN doctor_duty d ON d.doctor_id = a.account_id
         WHERE a.role = 'doctor' AND a.disabled_at IS NULL
         ORDER BY a.display_name, a.account_id",
    )
    .fetch_all(c)
    .await)
}

/// Which doctor works at which station, oldest membership first.
pub async fn memberships(ex: impl Into<Ex<'_>>) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, (Uuid, Uuid)>(
        "SELECT account_id, station_id FROM station_doctors ORDER BY created_at",
    )
    .fetch_all(c)
    .await)
}

/// What residents see about a doctor.
pub async fn set_profile(
    ex: impl Into<Ex<'_>>,
    doctor: Uuid,
    title: &str,
    specialty: &str,
    hospital: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO doctor_profiles (account_id, title, specialty, hospital, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (account_id) DO UPDATE SET title = $2, specialty = $3, hospital = $4, updated_at = $5",
    )
    .bind(doctor)
    .bind(title)
    .bind(specialty)
    .bind(hospital)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}
