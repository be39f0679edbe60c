//! The ward's areas: GeoJSON parsing, import (with replacement and units), point location, and the
//! `admin import-areas` command. Runs on the backend under test.

use std::process::Command;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wardline::areas::{self, AreaError, AreaKind, ImportSummary};
use wardline::auth::Role;
use wardline::geo::Point;
use wardline::org::{self, UnitKind};
use wardline::store::Db;

use crate::helpers::{TestApp, test_settings};

async fn db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(dir.path()).await;
    let db = Db::connect(&settings.database_url(), 2).await.unwrap();
    db.migrate().await.unwrap();
    (db, dir)
}

/// A closed axis-aligned ring, `[lon, lat]` as GeoJSON has it.
fn square(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> Value {
    json!([
        [min_lon, min_lat],
        [max_lon, min_lat],
        [max_lon, max_lat],
        [min_lon, max_lat],
        [min_lon, min_lat]
    ])
}

fn feature(props: Value, geometry: Value) -> Value {
    json!({ "type": "Feature", "properties": props, "geometry": geometry })
}

fn polygon(rings: Vec<Value>) -> Value {
    json!({ "type": "Polygon", "coordinates": rings })
}

fn collection(features: Vec<Value>) -> String {
    json!({ "type": "FeatureCollection", "features": features }).to_string()
}

/// The ward is 106.690–106.710 E × 10.770–10.790 N; KP1 is its south-west quarter, KP2 its
/// north-east quarter (they touch only at the centre).
fn ward_file() -> String {
    collection(vec![
        feature(
            json!({ "name": "Phường Bến Nghé", "kind": "ward" }),
            polygon(vec![square(106.690, 10.770, 106.710, 10.790)]),
        ),
        feature(
            json!({ "name": "Khu phố 1" }),
            polygon(vec![square(106.690, 10.770, 106.700, 10.780)]),
        ),
        feature(
            json!({ "name": "Khu phố 2", "kind": "neighbourhood" }),
            polygon(vec![square(106.700, 10.780, 106.710, 10.790)]),
        ),
    ])
}

fn at(lat: f64, lon: f64) -> Point {
    Point::parse(lat, lon).unwrap()
}

async fn neighbourhood_at(db: &Db, lat: f64, lon: f64) -> Option<String> {
    areas::Cache::default()
        .locate(db, at(lat, lon))
        .await
        .unwrap()
        .neighbourhood
        .map(|a| a.name)
}

fn parse_err(text: &str) -> String {
    match areas::parse_geojson(text) {
        Ok(parsed) => panic!("accepted {text}: {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn parsing_refuses_broken_files_and_names_the_feature() {
    let ok = |props: Value, geometry: Value| collection(vec![feature(props, geometry)]);
    let name = || json!({ "name": "KP" });
    let good = || polygon(vec![square(106.69, 10.77, 106.70, 10.78)]);

    assert!(matches!(
        areas::parse_geojson("{ not json"),
        Err(AreaError::Json(_))
    ));
    assert!(matches!(
        areas::parse_geojson("[1, 2]"),
        Err(AreaError::Document(_))
    ));
    assert!(parse_err(&collection(vec![])).contains("no features"));
    assert!(parse_err(&good().to_string()).contains("wrap it in a Feature"));

    // Wrong geometry types, or none.
    let point = json!({ "type": "Point", "coordinates": [106.7, 10.77] });
    assert!(parse_err(&ok(name(), point)).contains("\"Point\" is not supported"));
    let line = json!({ "type": "LineString", "coordinates": [[106.7, 10.77], [106.8, 10.8]] });
    assert!(parse_err(&ok(name(), line)).contains("not supported"));
    assert!(parse_err(&ok(name(), Value::Null)).contains("no geometry"));

    // Rings: unclosed, too short, degenerate.
    let unclosed = json!([
        [106.69, 10.77],
        [106.70, 10.77],
        [106.70, 10.78],
        [106.69, 10.78]
    ]);
    assert!(parse_err(&ok(name(), polygon(vec![unclosed]))).contains("not closed"));
    let short = json!([[106.69, 10.77], [106.70, 10.77], [106.69, 10.77]]);
    assert!(parse_err(&ok(name(), polygon(vec![short]))).contains("at least 4"));
    let flat = json!([
        [106.69, 10.77],
        [106.70, 10.77],
        [106.71, 10.77],
        [106.69, 10.77]
    ]);
    assert!(parse_err(&ok(name(), polygon(vec![flat]))).contains("no area"));

    // Coordinates: out of range, swapped, not numbers.
    let far = polygon(vec![square(181.0, 10.77, 182.0, 10.78)]);
    assert!(parse_err(&ok(name(), far)).contains("longitude 181"));
    let swapped = polygon(vec![square(10.77, 106.69, 10.78, 106.70)]);
    let msg = parse_err(&ok(name(), swapped));
    assert!(
        msg.contains("latitude 106.69") && msg.contains("swapped"),
        "{msg}"
    );
    let text = json!([["a", 10.77], [106.70, 10.77], [106.70, 10.78], ["a", 10.77]]);
    assert!(parse_err(&ok(name(), polygon(vec![text]))).contains("numbers"));

    // Properties.
    assert!(parse_err(&ok(json!({}), good())).contains("properties.name is required"));
    assert!(parse_err(&ok(json!({ "name": "  " }), good())).contains("properties.name"));
    assert!(parse_err(&ok(json!({ "name": 7 }), good())).contains("must be a string"));
    assert!(
        parse_err(&ok(json!({ "name": "KP", "kind": "city" }), good()))
            .contains("\"ward\" or \"neighbourhood\"")
    );
    assert!(parse_err(&ok(json!({ "name": "KP", "unit": 3 }), good())).contains("unit"));

    // The message points at the broken feature by index and name.
    let second_broken = collection(vec![
        feature(name(), good()),
        feature(json!({ "name": "Khu phố 9" }), polygon(vec![])),
    ]);
    let msg = parse_err(&second_broken);
    assert!(
        msg.starts_with("features[1] (\"Khu phố 9\"):") && msg.contains("no rings"),
        "{msg}"
    );
    let hole = json!([[106.691, 10.771], [106.692, 10.771], [106.691, 10.771]]);
    let msg = parse_err(&ok(
        name(),
        polygon(vec![square(106.69, 10.77, 106.70, 10.78), hole]),
    ));
    assert!(msg.contains("ring 1 (hole)"), "{msg}");
    let multi = json!({ "type": "MultiPolygon", "coordinates": [[square(1.0, 1.0, 2.0, 2.0)], [[[1.0, 1.0]]]] });
    let msg = parse_err(&ok(name(), multi));
    assert!(msg.contains("polygon 1, ring 0 (outer)"), "{msg}");

    // The same name and kind twice is ambiguous for a replacing import; another kind is fine.
    let twice = collection(vec![feature(name(), good()), feature(name(), good())]);
    assert!(parse_err(&twice).contains("features[0] has the same name"));
    let both_kinds = collection(vec![
        feature(name(), good()),
        feature(json!({ "name": "KP", "kind": "ward" }), good()),
    ]);
    assert_eq!(areas::parse_geojson(&both_kinds).unwrap().len(), 2);
}

#[test]
fn parsing_normalises_features() {
    let single = feature(
        json!({ "name": "  Khu phố 3 ", "unit": "" }),
        // Altitude is allowed and ignored.
        polygon(vec![json!([
            [106.69, 10.77, 5.0],
            [106.70, 10.77, 5.0],
            [106.70, 10.78, 5.0],
            [106.69, 10.77, 5.0]
        ])]),
    );
    let parsed = areas::parse_geojson(&single.to_string()).unwrap();
    assert_eq!(parsed.len(), 1);
    let a = &parsed[0];
    assert_eq!(
        (a.name.as_str(), a.kind, a.unit.as_deref()),
        ("Khu phố 3", AreaKind::Neighbourhood, None)
    );
    let b = a.bbox();
    assert_eq!(
        (b.min_lon, b.min_lat, b.max_lon, b.max_lat),
        (106.69, 10.77, 106.70, 10.78)
    );
}

#[tokio::test]
async fn everything_is_in_service_until_a_ward_is_imported() {
    let (db, _d) = db().await;
    let here = areas::Cache::default()
        .locate(&db, at(10.775, 106.695))
        .await
        .unwrap();
    assert!(here.in_service && here.neighbourhood.is_none());
    let far = areas::Cache::default()
        .locate(&db, at(21.03, 105.85))
        .await
        .unwrap();
    assert!(far.in_service);

    // Neighbourhoods alone do not close the service area; only a ward does.
    let kp = collection(vec![feature(
        json!({ "name": "Khu phố 1" }),
        polygon(vec![square(106.690, 10.770, 106.700, 10.780)]),
    )]);
    areas::import(
        &db,
        areas::parse_geojson(&kp).unwrap(),
        Utc::now(),
        |_, _| {},
    )
    .await
    .unwrap();
    assert!(
        areas::Cache::default()
            .locate(&db, at(21.03, 105.85))
            .await
            .unwrap()
            .in_service
    );
    assert_eq!(
        neighbourhood_at(&db, 10.775, 106.695).await.as_deref(),
        Some("Khu phố 1")
    );
    db.close().await;
}

#[tokio::test]
async fn import_then_locate() {
    let (db, _d) = db().await;
    let mut calls = Vec::new();
    let summary = areas::import(
        &db,
        areas::parse_geojson(&ward_file()).unwrap(),
        Utc::now(),
        |done, total| calls.push((done, total)),
    )
    .await
    .unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            wards: 1,
            neighbourhoods: 2,
            created: 3,
            replaced: 0
        }
    );
    assert_eq!(
        summary.to_string(),
        "imported 3 areas (1 ward, 2 neighbourhoods): 3 new, 0 replaced"
    );
    assert_eq!(calls, vec![(1, 3), (2, 3), (3, 3)]);

    let stored = areas::list(&db).await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|a| (a.name.as_str(), a.kind))
            .collect::<Vec<_>>(),
        vec![
            ("Phường Bến Nghé", AreaKind::Ward),
            ("Khu phố 1", AreaKind::Neighbourhood),
            ("Khu phố 2", AreaKind::Neighbourhood),
        ]
    );

    // Inside a neighbourhood.
    let l = areas::Cache::default()
        .locate(&db, at(10.775, 106.695))
        .await
        .unwrap();
    assert!(l.in_service);
    let kp1 = l.neighbourhood.unwrap();
    assert_eq!(
        (kp1.name.as_str(), kp1.kind, kp1.unit_id),
        ("Khu phố 1", AreaKind::Neighbourhood, None)
    );
    assert_eq!(kp1.area_id, stored[1].area_id);
    assert_eq!(
        neighbourhood_at(&db, 10.785, 106.705).await.as_deref(),
        Some("Khu phố 2")
    );

    // In the ward, in no neighbourhood: the other two quarters.
    for (lat, lon) in [(10.785, 106.695), (10.775, 106.705)] {
        let l = areas::Cache::default()
            .locate(&db, at(lat, lon))
            .await
            .unwrap();
        assert!(l.in_service && l.neighbourhood.is_none(), "{lat} {lon}");
    }

    // Outside the ward: just beyond its edge, and far away.
    for (lat, lon) in [(10.7901, 106.700), (10.780, 106.7101), (21.03, 105.85)] {
        let l = areas::Cache::default()
            .locate(&db, at(lat, lon))
            .await
            .unwrap();
        assert!(!l.in_service && l.neighbourhood.is_none(), "{lat} {lon}");
    }

    // Edges count as inside: the ward's boundary street is served; KP1's east edge is KP1's.
    assert!(
        areas::Cache::default()
            .locate(&db, at(10.790, 106.700))
            .await
            .unwrap()
            .in_service
    );
    assert_eq!(
        neighbourhood_at(&db, 10.775, 106.700).await.as_deref(),
        Some("Khu phố 1")
    );
    // The centre touches both quarters: one of them, and always the same one.
    let centre = neighbourhood_at(&db, 10.780, 106.700).await;
    assert!(
        matches!(centre.as_deref(), Some("Khu phố 1" | "Khu phố 2")),
        "{centre:?}"
    );
    assert_eq!(neighbourhood_at(&db, 10.780, 106.700).await, centre);
    db.close().await;
}

#[tokio::test]
async fn reimport_replaces_in_place() {
    let (db, _d) = db().await;
    areas::import(
        &db,
        areas::parse_geojson(&ward_file()).unwrap(),
        Utc::now(),
        |_, _| {},
    )
    .await
    .unwrap();
    let before = areas::list(&db).await.unwrap();

    // KP1 moves to the north-west quarter; a new KP3 arrives; the ward and KP2 are not in the file.
    let update = collection(vec![
        feature(
            json!({ "name": "Khu phố 1" }),
            polygon(vec![square(106.690, 10.780, 106.700, 10.790)]),
        ),
        feature(
            json!({ "name": "Khu phố 3" }),
            polygon(vec![square(106.700, 10.770, 106.710, 10.780)]),
        ),
    ]);
    let summary = areas::import(
        &db,
        areas::parse_geojson(&update).unwrap(),
        Utc::now(),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!((summary.created, summary.replaced), (1, 1));
    // Importing the same file again creates nothing.
    let again = areas::import(
        &db,
        areas::parse_geojson(&update).unwrap(),
        Utc::now(),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!((again.created, again.replaced), (0, 2));

    let after = areas::list(&db).await.unwrap();
    assert_eq!(after.len(), 4, "{after:?}");
    let id_of =
        |list: &[areas::Area], name: &str| list.iter().find(|a| a.name == name).unwrap().area_id;
    assert_eq!(
        id_of(&before, "Khu phố 1"),
        id_of(&after, "Khu phố 1"),
        "keeps its id"
    );
    assert_eq!(neighbourhood_at(&db, 10.775, 106.695).await, None);
    assert_eq!(
        neighbourhood_at(&db, 10.785, 106.695).await.as_deref(),
        Some("Khu phố 1")
    );
    assert_eq!(
        neighbourhood_at(&db, 10.775, 106.705).await.as_deref(),
        Some("Khu phố 3")
    );
    assert_eq!(
        neighbourhood_at(&db, 10.785, 106.705).await.as_deref(),
        Some("Khu phố 2")
    );
    db.close().await;
}

#[tokio::test]
async fn multipolygons_and_holes() {
    let (db, _d) = db().await;
    let file = collection(vec![
        feature(
            json!({ "name": "Phường", "kind": "ward" }),
            // Two islands.
            json!({ "type": "MultiPolygon", "coordinates": [
                [square(106.690, 10.770, 106.700, 10.780)],
                [square(106.720, 10.770, 106.730, 10.780)]
            ]}),
        ),
        feature(
            json!({ "name": "Khu phố Đảo" }),
            json!({ "type": "MultiPolygon", "coordinates": [
                [square(106.690, 10.770, 106.700, 10.780), square(106.694, 10.774, 106.696, 10.776)],
                [square(106.720, 10.770, 106.730, 10.780)]
            ]}),
        ),
    ]);
    areas::import(
        &db,
        areas::parse_geojson(&file).unwrap(),
        Utc::now(),
        |_, _| {},
    )
    .await
    .unwrap();
    for (lat, lon) in [(10.772, 106.692), (10.775, 106.725)] {
        let l = areas::Cache::default()
            .locate(&db, at(lat, lon))
            .await
            .unwrap();
        assert!(l.in_service, "{lat} {lon}");
        assert_eq!(l.neighbourhood.unwrap().name, "Khu phố Đảo");
    }
    // Between the islands: inside both boxes, in neither outline.
    let between = areas::Cache::default()
        .locate(&db, at(10.775, 106.710))
        .await
        .unwrap();
    assert!(!between.in_service && between.neighbourhood.is_none());
    // In the hole: in the ward, not in the neighbourhood.
    let hole = areas::Cache::default()
        .locate(&db, at(10.775, 106.695))
        .await
        .unwrap();
    assert!(hole.in_service && hole.neighbourhood.is_none());
    db.close().await;
}

#[tokio::test]
async fn units_are_resolved_by_name_and_unknown_ones_write_nothing() {
    let (db, _d) = db().await;
    let now = Utc::now();
    let unit = org::create_unit(&db, "Tổ dân phố KP1", UnitKind::Neighbourhood, now)
        .await
        .unwrap();
    let with_unit = |unit: &str| {
        collection(vec![
            feature(
                json!({ "name": "Khu phố 2" }),
                polygon(vec![square(106.700, 10.780, 106.710, 10.790)]),
            ),
            feature(
                json!({ "name": "Khu phố 1", "unit": unit }),
                polygon(vec![square(106.690, 10.770, 106.700, 10.780)]),
            ),
        ])
    };

    let err = areas::import(
        &db,
        areas::parse_geojson(&with_unit("Tổ không có")).unwrap(),
        now,
        |_, _| {},
    )
    .await
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("features[1]")
            && msg.contains("Tổ không có")
            && msg.contains("does not exist"),
        "{msg}"
    );
    assert!(areas::list(&db).await.unwrap().is_empty(), "all or nothing");

    areas::import(
        &db,
        areas::parse_geojson(&with_unit("Tổ dân phố KP1")).unwrap(),
        now,
        |_, _| {},
    )
    .await
    .unwrap();
    let kp1 = areas::Cache::default()
        .locate(&db, at(10.775, 106.695))
        .await
        .unwrap()
        .neighbourhood
        .unwrap();
    assert_eq!(kp1.unit_id, Some(unit.unit_id));
    let kp2 = areas::Cache::default()
        .locate(&db, at(10.785, 106.705))
        .await
        .unwrap()
        .neighbourhood
        .unwrap();
    assert_eq!(kp2.unit_id, None);
    db.close().await;
}

/// The command on embedded SQLite: a good file, a re-import, a broken file and a missing one.
#[test]
fn import_areas_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |file: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_wardline"))
            .args(["admin", "import-areas"])
            .arg(file)
            .env("WARDLINE_DATA_DIR", &data)
            .env_remove("WARDLINE_DATABASE_URL")
            .env_remove("WARDLINE_STORAGE_URL")
            .env_remove("WARDLINE_JWT_SECRET")
            .env_remove("WARDLINE_CONFIG")
            .output()
            .unwrap()
    };

    let good = dir.path().join("ward.geojson");
    std::fs::write(&good, ward_file()).unwrap();
    let out = run(&good);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("imported 3 areas (1 ward, 2 neighbourhoods): 3 new, 0 replaced"),
        "{stdout}"
    );
    assert!(stderr.contains("[####################] 3/3"), "{stderr}");
    assert!(data.join("wardline.db").exists());
    let again = run(&good);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 new, 3 replaced"));

    let broken = dir.path().join("broken.geojson");
    let text = ward_file().replacen("\"Khu phố 2\"", "42", 1);
    std::fs::write(&broken, text).unwrap();
    let out = run(&broken);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("broken.geojson is not a usable area file")
            && stderr.contains("features[2]: properties.name must be a string"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    let missing = run(&dir.path().join("nowhere.geojson"));
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("reading"));
}

/// `POST /v1/admin/areas/import`: the same import over HTTP, for admins only, all or nothing, with
/// every unusable feature listed in the 422 problem.
#[tokio::test]
async fn import_over_http() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.member(Role::Admin, "0976300001").await;
    let (_, staff) = app.member(Role::Staff, "0976300002").await;
    let file: Value = serde_json::from_str(&ward_file()).unwrap();
    let path = "/v1/admin/areas/import";

    app.post(path, None, file.clone())
        .await
        .assert_problem(401, "missing_token");
    app.post(path, Some(&staff), file.clone())
        .await
        .assert_problem(403, "forbidden");
    assert!(areas::list(&app.state.db).await.unwrap().is_empty());

    // Two unusable features and a good one: each bad one listed, nothing written.
    let broken = json!({ "type": "FeatureCollection", "features": [
        feature(json!({ "name": "Khu phố 1" }), polygon(vec![square(106.690, 10.770, 106.700, 10.780)])),
        feature(json!({ "kind": "neighbourhood" }), polygon(vec![square(106.700, 10.780, 106.710, 10.790)])),
        feature(json!({ "name": "Khu phố 3", "kind": "village" }), polygon(vec![square(106.700, 10.770, 106.710, 10.780)])),
    ]});
    let r = app.post(path, Some(&admin), broken).await;
    r.assert_problem(422, "validation_failed");
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{:?}", r.body);
    assert_eq!(errors[0]["field"], "features/1");
    assert_eq!(errors[0]["code"], "invalid_feature");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("properties.name is required")
    );
    assert_eq!(errors[1]["field"], "features/2");
    let msg = errors[1]["message"].as_str().unwrap();
    assert!(
        msg.contains("Khu phố 3") && msg.contains("properties.kind"),
        "{msg}"
    );
    assert!(
        areas::list(&app.state.db).await.unwrap().is_empty(),
        "all or nothing"
    );

    // Not a FeatureCollection at all.
    let r = app
        .post(path, Some(&admin), json!({ "type": "Point" }))
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "features");
    assert_eq!(r.body["errors"][0]["code"], "invalid_geojson");

    // A unit that does not exist is found inside the transaction: still a 422, nothing written.
    let with_unit = json!({ "type": "FeatureCollection", "features": [
        feature(json!({ "name": "Khu phố 1", "unit": "Tổ không có" }), polygon(vec![square(106.690, 10.770, 106.700, 10.780)])),
    ]});
    let r = app.post(path, Some(&admin), with_unit).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "features/0");
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    assert!(
        areas::list(&app.state.db).await.unwrap().is_empty(),
        "all or nothing"
    );

    // The good file, larger than the ordinary body limit (a real ward's file is a few MB).
    let mut big = file.clone();
    big["features"][0]["properties"]["note"] = json!("x".repeat(1_500_000));
    // Only an admin's token opens the larger limit, before the body is read: anyone else (a
    // staff token, a made-up one) is held to the ordinary limit, so cannot make the server hold
    // a 16 MiB body only to be refused after it.
    app.post(path, Some(&staff), big.clone())
        .await
        .assert_problem(413, "payload_too_large");
    app.post(path, Some("not-a-token"), big.clone())
        .await
        .assert_problem(413, "payload_too_large");
    let r = app.post(path, Some(&admin), big).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "created": 3, "replaced": 0, "total": 3, "wards": 1, "neighbourhoods": 2 })
    );
    let r = app.post(path, Some(&admin), file).await;
    assert_eq!(r.body["created"], 0, "{:?}", r.body);
    assert_eq!(r.body["replaced"], 3);
    let listed = app.get("/v1/areas", Some(&staff)).await;
    let names: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Khu phố 1", "Khu phố 2", "Phường Bến Nghé"]);
    app.stop().await;
}
