//! Where a point falls: every outline kept in memory, tested box first, then exactly.

use ::geo::coordinate_position::{CoordPos, CoordinatePosition};
use ::geo::{Coord, MultiPolygon};
use serde_json::Value;
use uuid::Uuid;

use super::geojson::parse_geometry;
use super::{Area, AreaKind, Located};
use crate::error::Result;
use crate::geo::Point;
use crate::on_db;
use crate::store::Db;

type OutlineRow = (
    Uuid,
    String,
    AreaKind,
    Option<Uuid>,
    String,
    f64,
    f64,
    f64,
    f64,
);

/// A stored area with its parsed outline and bounding box.
struct Outline {
    area: Area,
    shape: MultiPolygon<f64>,
    min_lat: f64,
    min_lon: f64,
    max_lat: f64,
    max_lon: f64,
}

impl TryFrom<OutlineRow> for Outline {
    type Error = crate::error::Error;
    fn try_from(row: OutlineRow) -> Result<Outline> {
        let (area_id, name, kind, unit_id, geojson, min_lat, min_lon, max_lat, max_lon) = row;
        let shape = serde_json::from_str::<Value>(&geojson)
            .map_err(|e| e.to_string())
            .and_then(|v| parse_geometry(Some(&v)))
            .map_err(|e| anyhow::anyhow!("stored outline of area {name:?} is unreadable: {e}"))?;
        Ok(Outline {
            area: Area {
                area_id,
                name,
                kind,
                unit_id,
            },
            shape,
            min_lat,
            min_lon,
            max_lat,
            max_lon,
        })
    }
}

/// Whether some ward area holds `p`, and the best neighbourhood holding it (see [`locate`]).
fn place(outlines: &[Outline], p: Point) -> (bool, Option<Area>) {
    let here = Coord { x: p.lon, y: p.lat };
    let mut in_ward = false;
    // (only on an edge, box area, name) of the best neighbourhood so far.
    let mut best: Option<((bool, f64, &str), &Area)> = None;
    for o in outlines {
        if !(o.min_lat <= p.lat && p.lat <= o.max_lat && o.min_lon <= p.lon && p.lon <= o.max_lon) {
            continue;
        }
        let position = position_in(&o.shape, here);
        if position == CoordPos::Outside {
            continue;
        }
        match o.area.kind {
            AreaKind::Ward => in_ward = true,
            AreaKind::Neighbourhood => {
                // Sorts best first: `false` (strictly inside) before `true` (edge only).
                let key = (
                    position != CoordPos::Inside,
                    (o.max_lat - o.min_lat) * (o.max_lon - o.min_lon),
                    o.area.name.as_str(),
                );
                if best.as_ref().is_none_or(|(k, _)| key < *k) {
                    best = Some((key, &o.area));
                }
            }
        }
    }
    (in_ward, best.map(|(_, a)| a.clone()))
}

/// Every area's outline kept in memory, so routing a new report reads no table. An import in this
/// process shows at once; one by another process (the CLI beside a running server) within
/// [`Kept::FRESH`](crate::store::kept::Kept::FRESH).
#[derive(Default)]
pub struct Cache(crate::store::kept::Kept<std::sync::Arc<Vec<Outline>>>);

/// Bumped by every import in this process.
pub(super) static IMPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Cache {
    /// Where a point falls: whether the ward serves it, and the neighbourhood that contains it.
    ///
    /// Every outline is kept in memory; each one's bounding box is checked before its exact outline.
    /// A point on an edge counts as inside: a resident standing on the ward's boundary street is
    /// served, not turned away. Should neighbourhoods overlap or share an edge, one whose
    /// interior holds the point beats one it merely touches, then the smaller box (the more specific
    /// area), then the name, so the answer never depends on row order.
    pub async fn locate(&self, db: &Db, p: Point) -> Result<Located> {
        let p = Point::parse(p.lat, p.lon)?;
        let outlines = self.outlines(db).await?;
        let (in_ward, neighbourhood) = place(&outlines, p);
        let any_ward = outlines.iter().any(|o| o.area.kind == AreaKind::Ward);
        Ok(Located {
            in_service: in_ward || !any_ward,
            neighbourhood,
        })
    }

    /// Every stored area (without its outline), from memory.
    pub async fn all(&self, db: &Db) -> Result<Vec<Area>> {
        Ok(self
            .outlines(db)
            .await?
            .iter()
            .map(|o| o.area.clone())
            .collect())
    }

    /// An area's name, from memory.
    pub async fn name_of(&self, db: &Db, area_id: Uuid) -> Result<Option<String>> {
        Ok(self
            .outlines(db)
            .await?
            .iter()
            .find(|o| o.area.area_id == area_id)
            .map(|o| o.area.name.clone()))
    }

    async fn outlines(&self, db: &Db) -> Result<std::sync::Arc<Vec<Outline>>> {
        self.0
            .get_or_read(&IMPORTS, || async {
                let rows = on_db!(db, pool => sqlx::query_as::<_, OutlineRow>(
                    "SELECT area_id, name, kind, unit_id, geojson, min_lat, min_lon, max_lat, max_lon FROM areas",
                )
                .fetch_all(pool)
                .await)?;
                Ok::<_, crate::error::Error>(std::sync::Arc::new(
                    rows.into_iter()
                        .map(Outline::try_from)
                        .collect::<Result<Vec<_>>>()?,
                ))
            })
            .await
    }
}

/// Inside if any part's interior holds the point, on the boundary if any part's edge does. Parts
/// are tested one by one because a multipolygon's own boundary rule (mod 2) would call a point on
/// an edge shared by two parts interior, and we want the same answer as for separate polygons.
fn position_in(mp: &MultiPolygon<f64>, c: Coord<f64>) -> CoordPos {
    let mut position = CoordPos::Outside;
    for polygon in mp {
        match polygon.coordinate_position(&c) {
            CoordPos::Inside => return CoordPos::Inside,
            CoordPos::OnBoundary => position = CoordPos::OnBoundary,
            CoordPos::Outside => {}
        }
    }
    position
}
