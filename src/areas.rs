//! The ward's service area and its neighbourhoods (*khu phố*), imported from GeoJSON.
//!
//! An admin imports the boundaries once, and again whenever they change, with
//! `wardline admin import-areas FILE`. Report intake then asks [`locate`] where a point falls: whether
//! the ward serves it at all, and which neighbourhood (and so which unit) it belongs to.
//!
//! Geometry stays portable: the normalised GeoJSON is stored as text beside its bounding box in plain
//! columns. Both databases prefilter with an ordinary range test on the box, and the exact
//! point-in-polygon test runs here with `geo`, so neither PostGIS nor SpatiaLite is needed.
//!
//! Until an area of kind `ward` exists every valid coordinate is in service: a fresh installation
//! must accept reports before anyone has drawn the ward's boundary.

use std::collections::HashMap;
use std::fmt;

use ::geo::coordinate_position::{CoordPos, CoordinatePosition};
use ::geo::{Coord, LineString, MultiPolygon, Polygon};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::Result;
use crate::geo::{BBox, Point};
use crate::store::{Db, Tx};
use crate::{on_db, on_tx};

/// What an area is: the ward as a whole (its outline decides what is in service) or one of its
/// neighbourhoods (which decides tagging and routing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum AreaKind {
    /// The ward (*phường*) itself.
    Ward,
    /// A neighbourhood (*khu phố*) inside the ward.
    Neighbourhood,
}

impl AreaKind {
    /// The value stored in `areas.kind` and used in GeoJSON properties.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Ward => "ward",
            AreaKind::Neighbourhood => "neighbourhood",
        }
    }

    pub fn parse(s: &str) -> Option<AreaKind> {
        match s {
            "ward" => Some(AreaKind::Ward),
            "neighbourhood" => Some(AreaKind::Neighbourhood),
            _ => None,
        }
    }
}

/// A stored area, without its geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub area_id: Uuid,
    pub name: String,
    pub kind: AreaKind,
    /// The unit that handles reports here when the report's category names none.
    pub unit_id: Option<Uuid>,
}

/// Where a point falls.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// Inside (or on the edge of) some ward area, or no ward area has been imported yet.
    pub in_service: bool,
    /// The neighbourhood containing the point, if any. Reported even when `in_service` is false
    /// (a neighbourhood drawn outside the ward), so callers can tell a data mistake from a point
    /// that is simply elsewhere.
    pub neighbourhood: Option<Area>,
}

/// One feature of a GeoJSON file, checked and normalised, ready for [`import`].
///
/// Only [`parse_geojson`] makes these, so the geometry and its box always agree.
#[derive(Debug, Clone)]
pub struct ParsedArea {
    pub name: String,
    pub kind: AreaKind,
    /// The `unit` property: a unit's exact name, resolved to its id at import.
    pub unit: Option<String>,
    geometry: MultiPolygon<f64>,
    bbox: BBox,
}

impl ParsedArea {
    /// The outline, always as a multipolygon (a Polygon feature becomes a one-part multipolygon).
    pub fn geometry(&self) -> &MultiPolygon<f64> {
        &self.geometry
    }

    /// The bounding box of every position, holes included.
    pub fn bbox(&self) -> BBox {
        self.bbox
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub wards: usize,
    pub neighbourhoods: usize,
    /// Areas whose name and kind were new.
    pub created: usize,
    /// Areas that replaced the stored area with the same name and kind (keeping its id).
    pub replaced: usize,
}

impl ImportSummary {
    pub fn total(&self) -> usize {
        self.wards + self.neighbourhoods
    }
}

impl fmt::Display for ImportSummary {
    /// `imported 3 areas (1 ward, 2 neighbourhoods): 2 new, 1 replaced`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        write!(
            f,
            "imported {} {} ({} {}, {} {}): {} new, {} replaced",
            self.total(),
            plural(self.total(), "area", "areas"),
            self.wards,
            plural(self.wards, "ward", "wards"),
            self.neighbourhoods,
            plural(self.neighbourhoods, "neighbourhood", "neighbourhoods"),
            self.created,
            self.replaced
        )
    }
}

/// Why an area file was refused. The messages are meant for the admin running the import, so each
/// names the feature (`features[i]`, as in the file, with its name when it has one) and the place
/// inside it.
#[derive(Debug, thiserror::Error)]
pub enum AreaError {
    /// The text is not JSON at all (the message carries the line and column). Not marked as the
    /// source, so a chained report (`{:#}`) does not print the parser's message twice.
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    /// JSON, but not a FeatureCollection or Feature.
    #[error("{0}")]
    Document(String),
    /// One feature is unusable.
    #[error("features[{index}]{label}: {reason}", label = name_label(.name.as_deref()))]
    Feature {
        index: usize,
        name: Option<String>,
        reason: String,
    },
}

fn name_label(name: Option<&str>) -> String {
    match name {
        Some(n) => {
            let short: String = n.chars().take(60).collect();
            format!(" ({short:?})")
        }
        None => String::new(),
    }
}

/// Names follow the same rule as unit names, so they fit the same screens.
const MAX_NAME_CHARS: usize = 100;

/// Parse a GeoJSON FeatureCollection (or a single Feature) of Polygon/MultiPolygon features.
///
/// Each feature's properties: `name` (required), `kind` (`"ward"` or `"neighbourhood"`, default
/// `"neighbourhood"`), optional `unit` (a unit's name, resolved at import). Positions are
/// `[longitude, latitude]` as RFC 7946 says; extra values (altitude) are ignored. Rings must be closed
/// (last position = first) with at least 4 positions and enclose some area. An unclosed ring is
/// refused rather than closed silently: in practice it means a truncated or hand-damaged file, and
/// closing it would import a wrong boundary. Two features with the same name and kind are refused
/// too, since the import replaces by name and kind and one would silently win.
pub fn parse_geojson(text: &str) -> Result<Vec<ParsedArea>, AreaError> {
    let doc: Value = serde_json::from_str(text).map_err(AreaError::Json)?;
    let doc_err = |m: String| Err(AreaError::Document(m));
    let features: Vec<&Value> = match doc.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => match doc.get("features").and_then(Value::as_array) {
            Some(list) => list.iter().collect(),
            None => return doc_err("a FeatureCollection needs a \"features\" array".into()),
        },
        Some("Feature") => vec![&doc],
        Some(t @ ("Polygon" | "MultiPolygon")) => {
            return doc_err(format!(
                "a bare {t} has no name: wrap it in a Feature with properties.name"
            ));
        }
        Some(other) => {
            return doc_err(format!(
                "expected a GeoJSON FeatureCollection or Feature, found type {other:?}"
            ));
        }
        None => {
            return doc_err(
                "expected a GeoJSON FeatureCollection or Feature (an object with a \"type\")"
                    .into(),
            );
        }
    };
    if features.is_empty() {
        return doc_err("the FeatureCollection has no features".into());
    }
    let mut out: Vec<ParsedArea> = Vec::with_capacity(features.len());
    let mut seen: HashMap<(String, AreaKind), usize> = HashMap::new();
    for (index, feature) in features.into_iter().enumerate() {
        let area = parse_feature(feature).map_err(|reason| AreaError::Feature {
            index,
            name: feature
                .get("properties")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            reason,
        })?;
        if let Some(first) = seen.insert((area.name.clone(), area.kind), index) {
            return Err(AreaError::Feature {
                index,
                name: Some(area.name),
                reason: format!(
                    "features[{first}] has the same name and kind ({}); names must be unique per kind",
                    area.kind.as_str()
                ),
            });
        }
        out.push(area);
    }
    Ok(out)
}

fn parse_feature(f: &Value) -> Result<ParsedArea, String> {
    match f.get("type").and_then(Value::as_str) {
        Some("Feature") => {}
        Some(other) => return Err(format!("expected a Feature, found type {other:?}")),
        None => return Err("expected a Feature (an object with \"type\": \"Feature\")".into()),
    }
    let props = f.get("properties").unwrap_or(&Value::Null);
    let name = match props.get("name") {
        Some(Value::String(s)) => {
            let name = s.trim();
            if name.is_empty()
                || name.chars().count() > MAX_NAME_CHARS
                || name.chars().any(char::is_control)
            {
                return Err(format!(
                    "properties.name must be 1 to {MAX_NAME_CHARS} characters without control characters"
                ));
            }
            name.to_string()
        }
        None | Some(Value::Null) => return Err("properties.name is required".into()),
        Some(_) => return Err("properties.name must be a string".into()),
    };
    let kind = match props.get("kind") {
        None | Some(Value::Null) => AreaKind::Neighbourhood,
        Some(Value::String(s)) => AreaKind::parse(s.trim()).ok_or_else(|| {
            format!("properties.kind must be \"ward\" or \"neighbourhood\", not {s:?}")
        })?,
        Some(_) => return Err("properties.kind must be \"ward\" or \"neighbourhood\"".into()),
    };
    // Spreadsheet and GIS exports write an empty string for "no value", so that means no unit.
    let unit = match props.get("unit") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err("properties.unit must be a unit name (a string)".into()),
    };
    let geometry = parse_geometry(f.get("geometry"))?;
    let bbox = bbox_of(&geometry);
    Ok(ParsedArea {
        name,
        kind,
        unit,
        geometry,
        bbox,
    })
}

/// A Polygon or MultiPolygon geometry object, as a multipolygon. Also reads back what [`import`]
/// stored, so the stored text goes through the same checks it was written with.
fn parse_geometry(g: Option<&Value>) -> Result<MultiPolygon<f64>, String> {
    let g = match g {
        None | Some(Value::Null) => return Err("the feature has no geometry".into()),
        Some(g) => g,
    };
    let coords = g.get("coordinates");
    match g.get("type").and_then(Value::as_str) {
        Some("Polygon") => Ok(MultiPolygon::new(vec![parse_polygon(coords, "")?])),
        Some("MultiPolygon") => {
            let parts = coords
                .and_then(Value::as_array)
                .ok_or("MultiPolygon coordinates must be an array of polygons")?;
            if parts.is_empty() {
                return Err("the MultiPolygon has no polygons".into());
            }
            let polygons = parts
                .iter()
                .enumerate()
                .map(|(i, p)| parse_polygon(Some(p), &format!("polygon {i}, ")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(MultiPolygon::new(polygons))
        }
        Some(other) => Err(format!(
            "geometry type {other:?} is not supported; use Polygon or MultiPolygon"
        )),
        None => Err("the geometry has no \"type\"".into()),
    }
}

/// `at` prefixes messages with the polygon's place in a multipolygon (empty for a Polygon).
fn parse_polygon(v: Option<&Value>, at: &str) -> Result<Polygon<f64>, String> {
    let rings = v
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{at}polygon coordinates must be an array of rings"))?;
    if rings.is_empty() {
        return Err(format!("{at}the polygon has no rings"));
    }
    let mut parsed = rings.iter().enumerate().map(|(j, ring)| {
        let label = if j == 0 {
            format!("{at}ring 0 (outer)")
        } else {
            format!("{at}ring {j} (hole)")
        };
        parse_ring(ring, &label)
    });
    let exterior = parsed
        .next()
        .ok_or_else(|| format!("{at}the polygon has no rings"))??;
    let interiors = parsed.collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

fn parse_ring(v: &Value, label: &str) -> Result<LineString<f64>, String> {
    let positions = v
        .as_array()
        .ok_or_else(|| format!("{label} must be an array of positions"))?;
    let coords = positions
        .iter()
        .enumerate()
        .map(|(k, p)| parse_position(p).map_err(|e| format!("{label}, position {k}: {e}")))
        .collect::<Result<Vec<Coord<f64>>, _>>()?;
    if coords.len() < 4 {
        return Err(format!(
            "{label} has {} positions; a ring needs at least 4 (3 corners, then the first repeated)",
            coords.len()
        ));
    }
    let (first, last) = (coords[0], coords[coords.len() - 1]);
    if first != last {
        return Err(format!(
            "{label} is not closed: its last position [{}, {}] must repeat its first [{}, {}]",
            last.x, last.y, first.x, first.y
        ));
    }
    if shoelace(&coords) == 0.0 {
        return Err(format!(
            "{label} encloses no area (all its corners are on one line)"
        ));
    }
    Ok(LineString::new(coords))
}

/// `[longitude, latitude, …]` with both in range. A latitude beyond ±90 whose longitude would be a
/// valid latitude is almost always a `[lat, lon]` file, so the message says so.
fn parse_position(p: &Value) -> Result<Coord<f64>, String> {
    let arr = p
        .as_array()
        .filter(|a| a.len() >= 2)
        .ok_or("a position must be an array [longitude, latitude]")?;
    let (Some(lon), Some(lat)) = (arr[0].as_f64(), arr[1].as_f64()) else {
        return Err("a position must hold numbers [longitude, latitude]".into());
    };
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} is out of range [-180, 180]"));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        let hint = if (-90.0..=90.0).contains(&lon) {
            " (GeoJSON positions are [longitude, latitude]; are they swapped?)"
        } else {
            ""
        };
        return Err(format!("latitude {lat} is out of range [-90, 90]{hint}"));
    }
    Ok(Coord { x: lon, y: lat })
}

/// Twice the signed area of a closed ring; zero means the ring is degenerate.
fn shoelace(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum()
}

fn bbox_of(mp: &MultiPolygon<f64>) -> BBox {
    let mut b = BBox {
        min_lat: f64::INFINITY,
        min_lon: f64::INFINITY,
        max_lat: f64::NEG_INFINITY,
        max_lon: f64::NEG_INFINITY,
    };
    for c in mp
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|ring| ring.coords())
    {
        b.min_lon = b.min_lon.min(c.x);
        b.max_lon = b.max_lon.max(c.x);
        b.min_lat = b.min_lat.min(c.y);
        b.max_lat = b.max_lat.max(c.y);
    }
    b
}

/// The stored form: always a MultiPolygon geometry object, rings closed, `[lon, lat]`.
fn geometry_json(mp: &MultiPolygon<f64>) -> String {
    let ring_json =
        |ring: &LineString<f64>| Value::Array(ring.coords().map(|c| json!([c.x, c.y])).collect());
    let polygons: Vec<Value> = mp
        .iter()
        .map(|p| {
            Value::Array(
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(ring_json)
                    .collect(),
            )
        })
        .collect();
    json!({ "type": "MultiPolygon", "coordinates": polygons }).to_string()
}

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
    let mut tx = db.begin().await.context("starting the import")?;
    // `areas` has no unique (name, kind) constraint, so two imports running at once on PostgreSQL
    // could both miss the row and both insert. This lock queues concurrent imports while leaving
    // reads (`locate`) alone. SQLite needs nothing: `begin` already holds its single write lock.
    if let Tx::Postgres(t) = &mut tx {
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
        let id = on_tx!(&mut tx, conn => sqlx::query_scalar::<_, Uuid>(
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
        let replaced = on_tx!(&mut tx, conn => sqlx::query(
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
            on_tx!(&mut tx, conn => sqlx::query(
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
    tx.commit().await.context("committing the import")?;
    IMPORTS.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    Ok(summary)
}

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
    let rows = on_db!(db, pool => sqlx::query_as::<_, (Uuid, String, String, Option<Uuid>)>(
        "SELECT area_id, name, kind, unit_id FROM areas ORDER BY kind DESC, name, area_id",
    )
    .fetch_all(pool)
    .await)?;
    rows.into_iter()
        .map(|(area_id, name, kind, unit_id)| area(area_id, name, &kind, unit_id))
        .collect()
}

fn area(area_id: Uuid, name: String, kind: &str, unit_id: Option<Uuid>) -> Result<Area> {
    let kind =
        AreaKind::parse(kind).ok_or_else(|| anyhow::anyhow!("unknown area kind {kind:?}"))?;
    Ok(Area {
        area_id,
        name,
        kind,
        unit_id,
    })
}

type OutlineRow = (
    Uuid,
    String,
    String,
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
            area: area(area_id, name, &kind, unit_id)?,
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
static IMPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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

    #[test]
    fn stored_outline_round_trips() {
        let text = r#"{"type":"Feature","properties":{"name":"A"},"geometry":{"type":"Polygon",
            "coordinates":[[[106.1,10.1],[106.2,10.1],[106.2,10.2],[106.1,10.1]]]}}"#;
        let parsed = parse_geojson(text).unwrap();
        let stored = geometry_json(parsed[0].geometry());
        let back: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(&parse_geometry(Some(&back)).unwrap(), parsed[0].geometry());
    }
}
