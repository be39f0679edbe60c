//! The ward's service area and its neighbourhoods (*khu phố*), imported from GeoJSON.
//!
//! An admin imports the boundaries once, and again whenever they change, with
//! `wardline admin import-areas FILE` or `POST /v1/admin/areas/import` (the console's Areas page). Report intake then asks [`locate`] where a point falls: whether
//! the ward serves it at all, and which neighbourhood (and so which unit) it belongs to.
//!
//! Geometry stays portable: the normalised GeoJSON is stored as text beside its bounding box in plain
//! columns. Both databases prefilter with an ordinary range test on the box, and the exact
//! point-in-polygon test runs here with `geo`, so neither PostGIS nor SpatiaLite is needed.
//!
//! Until an area of kind `ward` exists every valid coordinate is in service: a fresh installation
//! must accept reports before anyone has drawn the ward's boundary.

mod geojson;
mod import;
mod locate;
mod stored;

use std::fmt;

use ::geo::MultiPolygon;
use uuid::Uuid;

use crate::error::FieldError;
use crate::geo::BBox;

pub use geojson::{MAX_LISTED_ERRORS, parse_document, parse_geojson};
pub use import::{import, progress_line};
pub use locate::Cache;
pub use stored::{list, outlines_geojson};

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

crate::text_column!(AreaKind);

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

impl AreaError {
    /// This error as one entry of a 422 problem's `errors`: the field is the feature
    /// (`features/3`, or `features` for the document as a whole) and the message is the import's
    /// own text, naming the feature by index and name.
    pub fn field_error(&self) -> FieldError {
        let (field, code) = match self {
            AreaError::Json(_) | AreaError::Document(_) => {
                ("features".to_string(), "invalid_geojson")
            }
            AreaError::Feature { index, .. } => (format!("features/{index}"), "invalid_feature"),
        };
        FieldError {
            field,
            code: code.to_string(),
            message: self.to_string(),
        }
    }
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
