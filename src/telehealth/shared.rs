//! Station and doctor look-ups that both the calendar (`schedule`) and the waiting room (`queue`)
//! need; they live here so that neither of those has to import the other for them.

use uuid::Uuid;

use super::repo::stations as repo;
use crate::auth::{Role, repo as accounts};
use crate::error::{Error, Result};
use crate::store::Db;

// An appointment's status: the calendar (`schedule`) books and cancels, the waiting room (`queue`)
// settles it when the consultation behind it ends. It lives with its row.
pub use super::repo::appointments::AppointmentStatus;
pub use super::repo::stations::StationRow;

pub async fn station(db: &Db, id: Uuid) -> Result<StationRow> {
    repo::station(db, id)
        .await?
        .ok_or(Error::NotFound("station_not_found"))
}

/// Whether the account is a doctor of the station.
pub async fn is_station_doctor(db: &Db, station: Uuid, doctor: Uuid) -> Result<bool> {
    Ok(repo::is_station_doctor(db, station, doctor).await?)
}

/// The account must exist, be enabled and be a doctor.
pub async fn require_doctor(db: &Db, id: Uuid) -> Result<crate::auth::Account> {
    let account = accounts::account_by_id(db, id)
        .await?
        .filter(|a| a.role == Role::Doctor && a.disabled_at.is_none())
        .ok_or(Error::NotFound("doctor_not_found"))?;
    Ok(account)
}
