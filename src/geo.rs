//! Geography, portable over both databases: points are validated here, indexed as H3 cells at a few
//! resolutions (plain integers, so SQLite and PostgreSQL index them alike), and measured on the sphere.

use h3o::{CellIndex, LatLng, Resolution};

use crate::error::{Error, Result};

/// A checked WGS 84 point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    /// Finite, latitude in [-90, 90], longitude in [-180, 180]; NaN and infinities are refused.
    pub fn parse(lat: f64, lon: f64) -> Result<Point> {
        let mut errors = Vec::new();
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            errors.push(crate::error::FieldError::new(
                "lat",
                "invalid_latitude",
                "Vĩ độ phải trong khoảng -90 đến 90",
                "Latitude must be between -90 and 90",
            ));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            errors.push(crate::error::FieldError::new(
                "lon",
                "invalid_longitude",
                "Kinh độ phải trong khoảng -180 đến 180",
                "Longitude must be between -180 and 180",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(Point { lat, lon })
    }

    fn latlng(self) -> Option<LatLng> {
        LatLng::new(self.lat, self.lon).ok()
    }

    /// Great-circle distance in metres.
    pub fn distance_m(self, other: Point) -> f64 {
        match (self.latlng(), other.latlng()) {
            (Some(a), Some(b)) => a.distance_m(b),
            _ => f64::INFINITY,
        }
    }

    /// How far (degrees, on each axis) [`Point::rounded`] with `decimals` may move a point: half a
    /// step of its grid.
    pub fn rounding_margin(decimals: Option<i32>) -> f64 {
        match decimals {
            Some(d) if (0..=8).contains(&d) => 0.5 * 10f64.powi(-d),
            _ => 0.0,
        }
    }

    /// This point rounded to `decimals` places (3 decimals ≈ 110 m), for public display.
    pub fn rounded(self, decimals: Option<i32>) -> Point {
        match decimals {
            Some(d) if (0..=8).contains(&d) => {
                let f = 10f64.powi(d);
                Point {
                    lat: (self.lat * f).round() / f,
                    lon: (self.lon * f).round() / f,
                }
            }
            _ => self,
        }
    }
}

/// The cells a report is stored with. Resolution 10 (~65 m edge) for nearby search, coarser ones for
/// map clusters at low zoom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cells {
    pub r10: i64,
    pub r8: i64,
    pub r6: i64,
    pub r4: i64,
}

pub fn cells(p: Point) -> Cells {
    let cell = |res: Resolution| {
        p.latlng()
            .map(|ll| u64::from(ll.to_cell(res)) as i64)
            .unwrap_or(0)
    };
    Cells {
        r10: cell(Resolution::Ten),
        r8: cell(Resolution::Eight),
        r6: cell(Resolution::Six),
        r4: cell(Resolution::Four),
    }
}

/// The centre of a stored cell.
pub fn cell_center(cell: i64) -> Option<Point> {
    let index = CellIndex::try_from(cell as u64).ok()?;
    let ll = LatLng::from(index);
    Some(Point {
        lat: ll.lat(),
        lon: ll.lng(),
    })
}

/// The cells of resolution `res` covering a box, at most `max` of them (`None` if more would be
/// needed). The box is sampled on a grid of half a cell's edge; with `exact`, each sampled cell's
/// neighbours are added too, so every cell holding any point of the box is in the list (what a
/// list filtered by cells then by the box needs). Without it, cells touching the box only at a
/// sliver may be left out (enough for map clusters).
pub fn cover(b: BBox, res: Resolution, max: usize, exact: bool) -> Option<Vec<i64>> {
    let m_per_deg = 111_320.0;
    // The narrowest degree of longitude in the box, so the grid is fine enough everywhere.
    let cos = b
        .min_lat
        .abs()
        .max(b.max_lat.abs())
        .to_radians()
        .cos()
        .max(0.01);
    let height_m = (b.max_lat - b.min_lat) * m_per_deg;
    let width_m = (b.max_lon - b.min_lon) * m_per_deg * cos;
    let cell_m2 = res.area_m2();
    if (height_m + 2.0 * res.edge_length_m()) * (width_m + 2.0 * res.edge_length_m()) / cell_m2
        > max as f64
    {
        return None;
    }
    let step_m = res.edge_length_m() / 2.0;
    let steps = |span_m: f64| (span_m / step_m).ceil().max(1.0) as usize;
    let (rows, cols) = (steps(height_m), steps(width_m));
    let mut out = std::collections::HashSet::new();
    for i in 0..=rows {
        let lat = b.min_lat + (b.max_lat - b.min_lat) * i as f64 / rows as f64;
        for j in 0..=cols {
            let lon = b.min_lon + (b.max_lon - b.min_lon) * j as f64 / cols as f64;
            let cell = LatLng::new(lat, lon).ok()?.to_cell(res);
            out.insert(cell);
        }
    }
    if exact {
        let sampled: Vec<CellIndex> = out.iter().copied().collect();
        for c in sampled {
            out.extend(c.grid_disk_safe(1));
        }
    }
    if out.len() > max {
        return None;
    }
    let mut cells: Vec<i64> = out.into_iter().map(|c| u64::from(c) as i64).collect();
    cells.sort_unstable();
    Some(cells)
}

/// A latitude/longitude box, as `min_lon,min_lat,max_lon,max_lat` (the GeoJSON / Open311 order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
}

impl BBox {
    pub fn parse(raw: &str) -> Result<BBox> {
        let invalid = || {
            Error::validation(
                "bbox",
                "invalid_bbox",
                "Khung bản đồ phải có dạng min_lon,min_lat,max_lon,max_lat",
                "bbox must be min_lon,min_lat,max_lon,max_lat",
            )
        };
        let parts: Vec<f64> = raw
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| invalid())?;
        let [min_lon, min_lat, max_lon, max_lat] = parts[..] else {
            return Err(invalid());
        };
        let a = Point::parse(min_lat, min_lon).map_err(|_| invalid())?;
        let b = Point::parse(max_lat, max_lon).map_err(|_| invalid())?;
        if a.lat > b.lat || a.lon > b.lon {
            return Err(invalid());
        }
        Ok(BBox {
            min_lat: a.lat,
            min_lon: a.lon,
            max_lat: b.lat,
            max_lon: b.lon,
        })
    }

    pub fn contains(&self, p: Point) -> bool {
        (self.min_lat..=self.max_lat).contains(&p.lat)
            && (self.min_lon..=self.max_lon).contains(&p.lon)
    }

    /// This box grown by `deg` degrees on every side (within the globe): the candidates of a public
    /// query, whose answer is then decided on the rounded points the public sees.
    pub fn grown(&self, deg: f64) -> BBox {
        BBox {
            min_lat: (self.min_lat - deg).max(-90.0),
            max_lat: (self.max_lat + deg).min(90.0),
            min_lon: (self.min_lon - deg).max(-180.0),
            max_lon: (self.max_lon + deg).min(180.0),
        }
    }

    /// A box around `p` that contains every point within `radius_m`.
    pub fn around(p: Point, radius_m: f64) -> BBox {
        let dlat = radius_m / 111_320.0;
        let dlon = radius_m / (111_320.0 * p.lat.to_radians().cos().abs().max(0.01));
        BBox {
            min_lat: p.lat - dlat,
            max_lat: p.lat + dlat,
            min_lon: p.lon - dlon,
            max_lon: p.lon + dlon,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cover_holds_the_cell_of_every_point_in_the_box() {
        let b = BBox::around(
            Point {
                lat: 10.77,
                lon: 106.70,
            },
            700.0,
        );
        for res in [Resolution::Ten, Resolution::Eight] {
            let cells = cover(b, res, 2000, true).unwrap();
            let n = 200;
            for i in 0..=n {
                for j in 0..=n {
                    let lat = b.min_lat + (b.max_lat - b.min_lat) * f64::from(i) / f64::from(n);
                    let lon = b.min_lon + (b.max_lon - b.min_lon) * f64::from(j) / f64::from(n);
                    let c = u64::from(LatLng::new(lat, lon).unwrap().to_cell(res)) as i64;
                    assert!(cells.binary_search(&c).is_ok(), "{res:?} {lat} {lon}");
                }
            }
        }
        // Too many cells: refused, not computed.
        let world = BBox::parse("-180,-85,180,85").unwrap();
        assert!(cover(world, Resolution::Ten, 500, true).is_none());
        assert!(cover(world, Resolution::Four, 500, false).is_none());
    }

    #[test]
    fn points_are_checked() {
        assert!(Point::parse(10.77, 106.70).is_ok());
        for (lat, lon) in [
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
            (91.0, 0.0),
            (0.0, -181.0),
        ] {
            assert!(Point::parse(lat, lon).is_err(), "{lat} {lon}");
        }
    }

    #[test]
    fn cells_nest_and_centres_are_close() {
        let p = Point::parse(10.7769, 106.7009).unwrap();
        let c = cells(p);
        assert!(c.r10 > 0 && c.r8 > 0 && c.r6 > 0 && c.r4 > 0);
        let centre = cell_center(c.r10).unwrap();
        assert!(p.distance_m(centre) < 100.0);
        assert_eq!(cells(centre).r8, c.r8);
    }

    #[test]
    fn bbox_parse_and_around() {
        let b = BBox::parse("106.69,10.77,106.71,10.79").unwrap();
        assert!(b.min_lat < b.max_lat);
        assert!(BBox::parse("1,2,3").is_err());
        assert!(BBox::parse("106.71,10.77,106.69,10.79").is_err());
        assert!(BBox::parse("a,b,c,d").is_err());
        let p = Point::parse(10.77, 106.70).unwrap();
        let around = BBox::around(p, 250.0);
        let east = Point {
            lat: 10.77,
            lon: around.max_lon,
        };
        assert!((p.distance_m(east) - 250.0).abs() < 5.0);
        assert_eq!(
            p.rounded(Some(2)),
            Point {
                lat: 10.77,
                lon: 106.70
            }
        );
    }
}
