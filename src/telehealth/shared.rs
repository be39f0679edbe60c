//! Station and doctor look-ups that both the calendar (`schedule`) and the waiting room (`queue`)
//! need; they live here so that neither of those has to import the other for them.

use uuid::Uuid;

use crate::auth::{Role, repo as accounts};
use crate::error::{Error, Result};
use crate::on_db;
use crate::store::Db;

// An appointment's status: the calendar (`schedule`) books and cancels, the waiting room (`queue`)
// settles it when the consultation behind it ends.
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

pub async fn station(db: &Db, id: Uuid) -> Result<StationRow> {
    on_db!(db, pool => sqlx::query_as::<_, StationRow>(
        "SELECT station_id, name, address, phone, lat, lon, opening_hours FROM stations WHERE station_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?
    .ok_or(Error::NotFound("station_not_found"))
}

/// Whether the account is a doctor of the station.
pub async fn is_station_doctor(db: &Db, station: Uuid, doctor: Uuid) -> Result<bool> {
    let n = on_db!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM station_doctors WHERE station_id = $1 AND account_id = $2",
    )
    .bind(station)
    .bind(doctor)
    .fetch_one(pool)
    .await)?;
    Ok(n > 0)
}

/// The account must exist, be enabled and be a doctor.
pub async fn require_doctor(db: &Db, id: Uuid) -> Result<crate::auth::Account> {
    let account = accounts::account_by_id(db, id)
        .await?
        .filter(|a| a.role == Role::Doctor && a.disabled_at.is_none())
        .ok_or(Error::NotFound("doctor_not_found"))?;
    Ok(account)
}
