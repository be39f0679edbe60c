//! The ward's organisation: units that handle reports (teams, neighbourhood offices) with their staff,
//! and health stations with their doctors. Admins shape it; reports and telehealth route through it.

pub mod api;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Role, repo as accounts};
use crate::error::{Error, Result};
use crate::on_db;
use crate::store::{Db, is_unique_violation};

/// What the organisation's handlers work with: built by the app (`app.rs`).
#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub auth: crate::auth::Auth,
    pub clock: crate::clock::Clock,
}

/// What kind of unit (*đơn vị*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum UnitKind {
    /// A field team, e.g. public works (*tổ công trình*).
    Team,
    /// A neighbourhood office (*khu phố*).
    Neighbourhood,
    /// A ward office desk (*bộ phận*).
    Office,
}

impl UnitKind {
    fn as_str(self) -> &'static str {
        match self {
            UnitKind::Team => "team",
            UnitKind::Neighbourhood => "neighbourhood",
            UnitKind::Office => "office",
        }
    }
    fn parse(s: &str) -> Option<UnitKind> {
        match s {
            "team" => Some(UnitKind::Team),
            "neighbourhood" => Some(UnitKind::Neighbourhood),
            "office" => Some(UnitKind::Office),
            _ => None,
        }
    }
}

crate::text_column!(UnitKind);

#[derive(Debug, Clone)]
pub struct Unit {
    pub unit_id: Uuid,
    pub name: String,
    pub kind: UnitKind,
    pub members: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Station {
    pub station_id: Uuid,
    pub name: String,
    pub address: String,
    pub doctors: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub async fn create_unit(db: &Db, name: &str, kind: UnitKind, now: DateTime<Utc>) -> Result<Unit> {
    let name = crate::auth::validate_name(name, "name")?;
    let id = Uuid::now_v7();
    let res = on_db!(db, pool => sqlx::query(
        "INSERT INTO units (unit_id, name, kind, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id)
    .bind(&name)
    .bind(kind.as_str())
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()));
    match res {
        Err(e) if is_unique_violation(&e, "units_name_key", "units.name") => {
            Err(Error::Conflict("unit_name_taken"))
        }
        other => {
            other?;
            Ok(Unit {
                unit_id: id,
                name,
                kind,
                members: vec![],
                created_at: now,
            })
        }
    }
}

pub async fn list_units(db: &Db) -> Result<Vec<Unit>> {
    let rows = on_db!(db, pool => sqlx::query_as::<_, (Uuid, String, UnitKind, DateTime<Utc>)>(
        "SELECT unit_id, name, kind, created_at FROM units ORDER BY name",
    )
    .fetch_all(pool)
    .await)?;
    let members = on_db!(db, pool => sqlx::query_as::<_, (Uuid, Uuid)>(
        "SELECT unit_id, account_id FROM unit_members ORDER BY created_at",
    )
    .fetch_all(pool)
    .await)?;
    rows.into_iter()
        .map(|(unit_id, name, kind, created_at)| {
            let members = members
                .iter()
                .filter(|(u, _)| *u == unit_id)
                .map(|(_, a)| *a)
                .collect();
            Ok(Unit {
                unit_id,
                name,
                kind,
                members,
                created_at,
            })
        })
        .collect()
}

/// Put a staff account in a unit (idempotent).
pub async fn add_unit_member(
    db: &Db,
    unit_id: Uuid,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    require_role(db, account_id, Role::Staff).await?;
    let exists = on_db!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM units WHERE unit_id = $1")
        .bind(unit_id).fetch_one(pool).await)?;
    if exists == 0 {
        return Err(Error::NotFound("unit_not_found"));
    }
    on_db!(db, pool => sqlx::query(
        "INSERT INTO unit_members (unit_id, account_id, created_at, updated_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (unit_id, account_id) DO NOTHING",
    )
    .bind(unit_id)
    .bind(account_id)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn remove_unit_member(db: &Db, unit_id: Uuid, account_id: Uuid) -> Result<()> {
    on_db!(db, pool => sqlx::query("DELETE FROM unit_members WHERE unit_id = $1 AND account_id = $2")
        .bind(unit_id).bind(account_id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn create_station(
    db: &Db,
    name: &str,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Station> {
    let name = crate::auth::validate_name(name, "name")?;
    let address = crate::text::clean(address, false);
    let address_ok = address.is_ok();
    let address = address.unwrap_or_default();
    if !address_ok || address.chars().count() > 300 {
        return Err(Error::validation(
            "address",
            "invalid_address",
            "Địa chỉ tối đa 300 ký tự",
            "Address up to 300 characters",
        ));
    }
    let id = Uuid::now_v7();
    let res = on_db!(db, pool => sqlx::query(
        "INSERT INTO stations (station_id, name, address, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id)
    .bind(&name)
    .bind(&address)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()));
    match res {
        Err(e) if is_unique_violation(&e, "stations_name_key", "stations.name") => {
            Err(Error::Conflict("station_name_taken"))
        }
        other => {
            other?;
            Ok(Station {
                station_id: id,
                name,
                address,
                doctors: vec![],
                created_at: now,
            })
        }
    }
}

pub async fn list_stations(db: &Db) -> Result<Vec<Station>> {
    let rows = on_db!(db, pool => sqlx::query_as::<_, (Uuid, String, String, DateTime<Utc>)>(
        "SELECT station_id, name, address, created_at FROM stations ORDER BY name",
    )
    .fetch_all(pool)
    .await)?;
    let doctors = on_db!(db, pool => sqlx::query_as::<_, (Uuid, Uuid)>(
        "SELECT station_id, account_id FROM station_doctors ORDER BY created_at",
    )
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(station_id, name, address, created_at)| {
            let doctors = doctors
                .iter()
                .filter(|(s, _)| *s == station_id)
                .map(|(_, a)| *a)
                .collect();
            Station {
                station_id,
                name,
                address,
                doctors,
                created_at,
            }
        })
        .collect())
}

/// Put a doctor in a station (idempotent).
pub async fn add_station_doctor(
    db: &Db,
    station_id: Uuid,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    require_role(db, account_id, Role::Doctor).await?;
    let exists = on_db!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM stations WHERE station_id = $1")
        .bind(station_id).fetch_one(pool).await)?;
    if exists == 0 {
        return Err(Error::NotFound("station_not_found"));
    }
    on_db!(db, pool => sqlx::query(
        "INSERT INTO station_doctors (station_id, account_id, created_at, updated_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (station_id, account_id) DO NOTHING",
    )
    .bind(station_id)
    .bind(account_id)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn remove_station_doctor(db: &Db, station_id: Uuid, account_id: Uuid) -> Result<()> {
    on_db!(db, pool => sqlx::query("DELETE FROM station_doctors WHERE station_id = $1 AND account_id = $2")
        .bind(station_id).bind(account_id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether the account is in the unit.
pub async fn is_member(db: &Db, unit_id: Uuid, account_id: Uuid) -> Result<bool> {
    let n = on_db!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM unit_members WHERE unit_id = $1 AND account_id = $2")
        .bind(unit_id).bind(account_id).fetch_one(pool).await)?;
    Ok(n > 0)
}

async fn require_role(db: &Db, account_id: Uuid, role: Role) -> Result<()> {
    let account = accounts::account_by_id(db, account_id)
        .await?
        .ok_or(Error::NotFound("account_not_found"))?;
    if account.role != role {
        return Err(Error::Conflict("wrong_role"));
    }
    Ok(())
}
