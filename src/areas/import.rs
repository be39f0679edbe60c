//! Importing parsed areas in one transaction, and the CLI's progress line.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::geojson::geometry_json;
use super::locate::IMPORTS;
use super::{AreaError, AreaKind, ImportSummary, ParsedArea};
use crate::on_tx;
use crate::store::{Db, Tx};

/// Import parsed areas in one transaction, replacing any stored area with the same name and kind.
///
/// Replacing updates the row in place, so an area keeps its id and the reports already tagged with
/// it stay tagged. Areas not in the file are left alone. A feature without `unit` clears the stored
/// unit: the file is the truth for the areas it names. Units are resolved first, so an unknown unit
/// fails the import before anything is written. `progress(done, total)` is called after each area.
pub async fn import(
    db: &Db,
    areas: Vec<ParsedArea>,
    now: DateTime<Utc>,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ImportSummary> {
    let total = areas.len();
    let summary = db
        .transaction(async |tx| {
            // `areas` has no unique (name, kind) constraint, so two imports running at once on
            // PostgreSQL could both miss the row and both insert. This lock queues concurrent
            // imports while leaving reads (`locate`) alone. SQLite needs nothing: the transaction
            // already holds its single write lock.
            if let Tx::Postgres(t) = tx {
                sqlx::query("LOCK TABLE areas IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut **t)
                    .await
                    .context("locking the areas table")?;
            }

            let mut units: HashMap<&str, Uuid> = HashMap::new();
            for (index, area) in areas.iter().enumerate() {
                let Some(unit) = area.unit.as_deref() else {
                    continue;
                };
                if units.contains_key(unit) {
                    continue;
                }
                let id = on_tx!(tx, conn => sqlx::query_scalar::<_, Uuid>(
                    "SELECT unit_id FROM units WHERE name = $1",
                )
                .bind(unit)
                .fetch_optional(conn)
                .await)
                .context("looking up units")?;
                let id = id.ok_or_else(|| AreaError::Feature {
                    index,
                    name: Some(area.name.clone()),
                    reason: format!(
                        "unit {unit:?} does not exist; create it first (units are matched by exact name)"
                    ),
                })?;
                units.insert(unit, id);
            }

            let mut summary = ImportSummary::default();
            for (i, area) in areas.iter().enumerate() {
                let unit_id = area.unit.as_deref().and_then(|u| units.get(u).copied());
                let geojson = geometry_json(&area.geometry);
                let b = area.bbox;
                let replaced = on_tx!(tx, conn => sqlx::query(
                    "UPDATE areas SET geojson = $3, min_lat = $4, min_lon = $5, max_lat = $6, max_lon = $7,
                         unit_id = $8, updated_at = $9
                     WHERE name = $1 AND kind = $2",
                )
                .bind(&area.name)
                .bind(area.kind.as_str())
                .bind(&geojson)
                .bind(b.min_lat)
                .bind(b.min_lon)
                .bind(b.max_lat)
                .bind(b.max_lon)
                .bind(unit_id)
                .bind(now)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))
                .with_context(|| format!("updating area {:?}", area.name))?;
                if replaced == 0 {
                    on_tx!(tx, conn => sqlx::query(
                        "INSERT INTO areas (area_id, name, kind, geojson, min_lat, min_lon, max_lat, max_lon,
                             unit_id, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(&area.name)
                    .bind(area.kind.as_str())
                    .bind(&geojson)
                    .bind(b.min_lat)
                    .bind(b.min_lon)
                    .bind(b.max_lat)
                    .bind(b.max_lon)
                    .bind(unit_id)
                    .bind(now)
                    .execute(conn)
                    .await
                    .map(|r| r.rows_affected()))
                    .with_context(|| format!("inserting area {:?}", area.name))?;
                    summary.created += 1;
                } else {
                    summary.replaced += 1;
                }
                match area.kind {
                    AreaKind::Ward => summary.wards += 1,
                    AreaKind::Neighbourhood => summary.neighbourhoods += 1,
                }
                progress(i + 1, total);
            }
            Ok::<_, anyhow::Error>(summary)
        })
        .await?;
    IMPORTS.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    Ok(summary)
}

/// The CLI's progress line, e.g. `importing areas [#####...............] 120/480`.
pub fn progress_line(done: usize, total: usize) -> String {
    const WIDTH: usize = 20;
    let filled = (done.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    format!(
        "importing areas [{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar_fills() {
        assert_eq!(
            progress_line(0, 4),
            "importing areas [....................] 0/4"
        );
        assert_eq!(
            progress_line(120, 480),
            "importing areas [#####...............] 120/480"
        );
        assert_eq!(
            progress_line(480, 480),
            "importing areas [####################] 480/480"
        );
    }
}
