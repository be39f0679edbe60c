//! The directory: stations and doctors as residents see them, and what admins keep up to date
//! about them.

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::Db;
use crate::telehealth::Ctx;
use crate::telehealth::repo::stations as repo;
use crate::telehealth::shared::{StationRow, require_doctor, station};
use crate::telehealth::validate_text;

/// A doctor as residents see them.
#[derive(Debug, Clone)]
pub struct Doctor {
    pub account_id: Uuid,
    pub name: String,
    pub title: String,
    pub specialty: String,
    /// Set for visiting specialists from a city hospital.
    pub hospital: Option<String>,
    pub stations: Vec<Uuid>,
    /// The station where the doctor is taking on-demand patients now.
    pub on_duty_at: Option<Uuid>,
}

pub async fn stations(db: &Db) -> Result<Vec<StationRow>> {
    Ok(repo::stations(db).await?)
}

/// Every enabled doctor account, with profile, stations and duty.
pub async fn doctors(db: &Db) -> Result<Vec<Doctor>> {
    let rows = repo::doctors(db).await?;
    let memberships = repo::memberships(db).await?;
    Ok(rows
        .into_iter()
        .map(|d| Doctor {
            account_id: d.account_id,
            name: d.display_name,
            title: d.title.unwrap_or_default(),
            specialty: d.specialty.unwrap_or_default(),
            hospital: d.hospital,
            stations: memberships
                .iter()
                .filter(|(a, _)| *a == d.account_id)
                .map(|(_, s)| *s)
                .collect(),
            on_duty_at: d.on_duty_at,
        })
        .collect())
}

/// Station details an admin maintains.
#[derive(Debug, Default, Clone)]
pub struct StationPatch {
    pub address: Option<String>,
    pub phone: Option<String>,
    pub location: Option<(f64, f64)>,
    pub opening_hours: Option<String>,
}

pub async fn update_station(state: &Ctx, id: Uuid, patch: StationPatch) -> Result<StationRow> {
    let current = station(&state.db, id).await?;
    let address = match patch.address {
        Some(a) => validate_text(&a, "address", 300)?,
        None => current.address,
    };
    let phone = match patch.phone {
        Some(p) => {
            let p = p.trim().to_string();
            if p.chars().count() > 30
                || !p
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
            {
                return Err(Error::validation(
                    "phone",
                    "invalid_phone",
                    "Số điện thoại không hợp lệ",
                    "Invalid phone number",
                ));
            }
            p
        }
        None => current.phone,
    };
    let (lat, lon) = match patch.location {
        Some((lat, lon)) => {
            let p = crate::geo::Point::parse(lat, lon)?;
            (Some(p.lat), Some(p.lon))
        }
        None => (current.lat, current.lon),
    };
    let opening_hours = match patch.opening_hours {
        Some(h) => validate_text(&h, "opening_hours", 200)?,
        None => current.opening_hours,
    };
    let changed = StationRow {
        address,
        phone,
        lat,
        lon,
        opening_hours,
        ..current
    };
    repo::update_station(&state.db, &changed, state.clock.now()).await?;
    station(&state.db, id).await
}

/// Set what residents see about a doctor (admins).
pub async fn set_profile(
    state: &Ctx,
    doctor: Uuid,
    title: &str,
    specialty: &str,
    hospital: Option<&str>,
) -> Result<()> {
    require_doctor(&state.db, doctor).await?;
    let title = validate_text(title, "title", 100)?;
    let specialty = validate_text(specialty, "specialty", 200)?;
    let hospital = match hospital {
        Some(h) => Some(validate_text(h, "hospital", 200)?).filter(|h| !h.is_empty()),
        None => None,
    };
    let now = state.clock.now();
    repo::set_profile(
        &state.db,
        doctor,
        &title,
        &specialty,
        hospital.as_deref(),
        now,
    )
    .await?;
    Ok(())
}
