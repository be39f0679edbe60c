//! The directory: stations and doctors as residents see them, and what admins keep up to date
//! about them.

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::on_db;
use crate::store::Db;
use crate::telehealth::Ctx;
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
    Ok(on_db!(db, pool => sqlx::query_as::<_, StationRow>(
        "SELECT station_id, name, address, phone, lat, lon, opening_hours FROM stations ORDER BY name",
    )
    .fetch_all(pool)
    .await)?)
}

/// Every enabled doctor account, with profile, stations and duty.
pub async fn doctors(db: &Db) -> Result<Vec<Doctor>> {
    type Row = (
        Uuid,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<Uuid>,
    );
    let rows = on_db!(db, pool => sqlx::query_as::<_, Row>(
        "SELECT a.account_id, a.display_name, p.title, p.specialty, p.hospital, d.station_id
         FROM accounts a
         LEFT JOIN doctor_profiles p ON p.account_id = a.account_id
         LEFT JOIN doctor_duty d ON d.doctor_id = a.account_id
         WHERE a.role = 'doctor' AND a.disabled_at IS NULL
         ORDER BY a.display_name, a.account_id",
    )
    .fetch_all(pool)
    .await)?;
    let memberships = on_db!(db, pool => sqlx::query_as::<_, (Uuid, Uuid)>(
        "SELECT account_id, station_id FROM station_doctors ORDER BY created_at",
    )
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .map(
            |(account_id, name, title, specialty, hospital, on_duty_at)| Doctor {
                account_id,
                name,
                title: title.unwrap_or_default(),
                specialty: specialty.unwrap_or_default(),
                hospital,
                stations: memberships
                    .iter()
                    .filter(|(a, _)| *a == account_id)
                    .map(|(_, s)| *s)
                    .collect(),
                on_duty_at,
            },
        )
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
    on_db!(&state.db, pool => sqlx::query(
        "UPDATE stations SET address = $2, phone = $3, lat = $4, lon = $5, opening_hours = $6, updated_at = $7
         WHERE station_id = $1",
    )
    .bind(id)
    .bind(&address)
    .bind(&phone)
    .bind(lat)
    .bind(lon)
    .bind(&opening_hours)
    .bind(state.clock.now())
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
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
    on_db!(&state.db, pool => sqlx::query(
        "INSERT INTO doctor_profiles (account_id, title, specialty, hospital, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (account_id) DO UPDATE SET title = $2, specialty = $3, hospital = $4, updated_at = $5",
    )
    .bind(doctor)
    .bind(&title)
    .bind(&specialty)
    .bind(&hospital)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
