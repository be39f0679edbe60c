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
