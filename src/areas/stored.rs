//! Stored areas read from the table: the list, and every outline as GeoJSON for maps.

use serde_json::Value;
use uuid::Uuid;

use super::{Area, AreaKind};
use crate::error::Result;
use crate::on_db;
use crate::store::Db;

/// Every stored area's outline as GeoJSON geometry, by id (for maps).
pub async fn outlines_geojson(db: &Db) -> Result<std::collections::HashMap<Uuid, Value>> {
    let rows = on_db!(db, pool => sqlx::query_as::<_, (Uuid, String)>(
        "SELECT area_id, geojson FROM areas",
    )
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, text)| Some((id, serde_json::from_str(&text).ok()?)))
        .collect())
}

/// Every stored area, wards first, then by name.
pub async fn list(db: &Db) -> Result<Vec<Area>> {
    let rows = on_db!(db, pool => sqlx::query_as::<_, (Uuid, String, AreaKind, Option<Uuid>)>(
        "SELECT area_id, name, kind, unit_id FROM areas ORDER BY kind DESC, name, area_id",
    )
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(area_id, name, kind, unit_id)| Area {
            area_id,
            name,
            kind,
            unit_id,
        })
        .collect())
}
