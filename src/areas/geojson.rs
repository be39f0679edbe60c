//! Reading GeoJSON: features parsed, checked and normalised, and the stored geometry's form.

use std::collections::HashMap;

use ::geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{Value, json};

use super::{AreaError, AreaKind, ParsedArea};
use crate::error::Result;
use crate::geo::BBox;

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
    parse_document(&doc).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or_else(|| AreaError::Document("the file could not be read".into()))
    })
}

/// At most this many feature errors are listed by [`parse_document`]: enough to fix a file in a few
/// rounds, bounded however broken the file is.
pub const MAX_LISTED_ERRORS: usize = 100;

/// Like [`parse_geojson`] on an already-read JSON document, but listing every unusable feature
/// (up to [`MAX_LISTED_ERRORS`]) instead of stopping at the first, in the order of the file. The
/// list is never empty when it is an `Err`.
pub fn parse_document(doc: &Value) -> Result<Vec<ParsedArea>, Vec<AreaError>> {
    let doc_err = |m: String| Err(vec![AreaError::Document(m)]);
    let features: Vec<&Value> = match doc.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => match doc.get("features").and_then(Value::as_array) {
            Some(list) => list.iter().collect(),
            None => return doc_err("a FeatureCollection needs a \"features\" array".into()),
        },
        Some("Feature") => vec![doc],
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
    let mut errors: Vec<AreaError> = Vec::new();
    let mut seen: HashMap<(String, AreaKind), usize> = HashMap::new();
    for (index, feature) in features.into_iter().enumerate() {
        if errors.len() >= MAX_LISTED_ERRORS {
            break;
        }
        let area = match parse_feature(feature) {
            Ok(area) => area,
            Err(reason) => {
                errors.push(AreaError::Feature {
                    index,
                    name: feature
                        .get("properties")
                        .and_then(|p| p.get("name"))
                        .and_then(Value::as_str)
                        .map(|n| n.trim().to_string())
                        .filter(|n| !n.is_empty()),
                    reason,
                });
                continue;
            }
        };
        if let Some(first) = seen.insert((area.name.clone(), area.kind), index) {
            errors.push(AreaError::Feature {
                index,
                name: Some(area.name),
                reason: format!(
                    "features[{first}] has the same name and kind ({}); names must be unique per kind",
                    area.kind.as_str()
                ),
            });
            continue;
        }
        out.push(area);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
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
pub(super) fn parse_geometry(g: Option<&Value>) -> Result<MultiPolygon<f64>, String> {
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
pub(super) fn geometry_json(mp: &MultiPolygon<f64>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
