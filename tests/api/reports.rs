//! Field reports end to end: photos, a report with a retried Idempotency-Key, "me too", the staff
//! lifecycle, notifications, rating; privacy per role; hostile input.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wardline::auth::Role;

use crate::helpers::TestApp;
use crate::photos::{jpeg, jpeg_with_gps, png_bomb, upload, upload_ok};

struct Ward {
    admin: String,
    staff: String,
    staff_id: String,
    staff_password: String,
    unit_id: String,
}

const STAFF_PHONE: &str = "0970000002";

/// An admin, a public-works unit with one staff member, and `road_damage` routed to that unit.
async fn ward(app: &TestApp) -> Ward {
    let (_, admin) = app.member(Role::Admin, "0970000001").await;
    let (staff_id, staff, staff_password) =
        app.member_with_password(Role::Staff, STAFF_PHONE).await;
    let unit = app
        .post(
            "/v1/admin/units",
            Some(&admin),
            json!({ "name": "Tổ công trình", "kind": "team" }),
        )
        .await;
    let unit_id = unit.body["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/admin/units/{unit_id}/members/{staff_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .call(
            Method::PATCH,
            "/v1/admin/categories/road_damage",
            Some(&admin),
            Some(json!({ "unit_id": unit_id })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    Ward {
        admin,
        staff,
        staff_id: staff_id.to_string(),
        staff_password,
        unit_id,
    }
}

fn report_body(media: &[&str]) -> Value {
    json!({
        "category_code": "road_damage",
        "description": "Ổ gà lớn trước số 12 Lê Lợi, xe máy dễ ngã",
        "lat": 10.7769, "lon": 106.7009, "accuracy_m": 8.0,
        "address": "12 Lê Lợi",
        "media_ids": media,
        "answers": { "size": "large" }
    })
}

async fn create(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> crate::helpers::Resp {
    let mut req = app
        .client
        .post(app.url("/v1/reports"))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    crate::helpers::Resp::read(req.send().await.unwrap()).await
}

/// A resident's report with one photo of their own (`seed` varies the photo); its id.
async fn reported(app: &TestApp, token: &str, seed: u8) -> String {
    let photo = upload_ok(app, token, &jpeg(320, 240, seed)).await;
    let r = create(
        app,
        token,
        None,
        report_body(&[photo["id"].as_str().unwrap()]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// A staff action on report `id` that must succeed; the report as it then stands.
async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Value {
    let r = app
        .post(
            &format!("/v1/staff/reports/{id}/transition"),
            Some(token),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// Staff route report `id` to `unit` and resolve it with an evidence photo of theirs (`seed`).
async fn fix(app: &TestApp, staff: &str, unit: &str, id: &str, seed: u8) -> Value {
    act(
        app,
        staff,
        id,
        json!({ "action": "assign", "unit_id": unit }),
    )
    .await;
    let ev = upload_ok(app, staff, &jpeg(64, 64, seed)).await;
    act(
        app,
        staff,
        id,
        json!({ "action": "resolve", "public_reply": "Đã vá", "evidence_media_ids": [ev["id"]] }),
    )
    .await
}

/// The ward (Phường Bến Nghé, 106.69–106.71 E, 10.77–10.79 N) and its Khu phố 3 (106.70–106.705 E,
/// 10.775–10.78 N, routed to "Tổ công trình"), imported as an admin would.
async fn import_ward(app: &TestApp) {
    let square = |min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64| {
        json!([[
            [min_lon, min_lat],
            [max_lon, min_lat],
            [max_lon, max_lat],
            [min_lon, max_lat],
            [min_lon, min_lat]
        ]])
    };
    let geojson = json!({
        "type": "FeatureCollection",
        "features": [
            { "type": "Feature", "properties": { "name": "Phường Bến Nghé", "kind": "ward" }, "geometry": { "type": "Polygon", "coordinates": square(106.69, 10.77, 106.71, 10.79) } },
            { "type": "Feature", "properties": { "name": "Khu phố 3", "unit": "Tổ công trình" }, "geometry": { "type": "Polygon", "coordinates": square(106.70, 10.775, 106.705, 10.78) } }
        ]
    });
    let parsed = wardline::areas::parse_geojson(&geojson.to_string()).unwrap();
    wardline::areas::import(&app.state.db, parsed, app.state.clock.now(), |_, _| {})
        .await
        .unwrap();
}

/// How many entries of `kind` a report's history (as `GET /v1/reports/{id}` shows it) holds.
fn history_count(report: &Value, kind: &str) -> usize {
    report["history"]
        .as_array()
        .map_or(0, |h| h.iter().filter(|e| e["kind"] == kind).count())
}

#[tokio::test]
async fn the_whole_story_from_photo_to_rated_resolution() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0971000001").await;
    let b = app.resident_token("0971000002").await;

    // Photos first; one carries GPS, which comes back as a hint and is stripped from the copy.
    let p1 = upload_ok(&app, &a, &jpeg_with_gps(1)).await;
    let hint = &p1["location_hint"];
    assert!(
        (hint["lat"].as_f64().unwrap() - 10.7769).abs() < 1e-4,
        "{p1:?}"
    );
    assert!(
        (hint["lon"].as_f64().unwrap() - 106.7009).abs() < 1e-4,
        "{p1:?}"
    );
    let p2 = upload_ok(&app, &a, &jpeg(800, 600, 2)).await;
    assert!(p2["location_hint"].is_null());
    let (id1, id2) = (p1["id"].as_str().unwrap(), p2["id"].as_str().unwrap());

    // Before it is attached, only its uploader sees it.
    let url = p1["url"].as_str().unwrap();
    assert_eq!(
        app.client.get(app.url(url)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.client
            .get(app.url(url))
            .bearer_auth(&b)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let own = app
        .client
        .get(app.url(url))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let served = own.bytes().await.unwrap();
    assert_eq!(&served[..2], &[0xFF, 0xD8]);
    assert!(
        !served.windows(4).any(|w| w == b"Exif"),
        "the served copy has no EXIF"
    );

    // Report, then retry with the same key: still one report.
    let r1 = create(&app, &a, Some("send-1"), report_body(&[id1, id2])).await;
    assert_eq!(r1.status, StatusCode::CREATED, "{:?}", r1.body);
    let report_id = r1.body["id"].as_str().unwrap().to_string();
    assert_eq!(r1.body["status"], "submitted");
    assert_eq!(r1.body["mine"], true);
    assert_eq!(r1.body["photos"].as_array().unwrap().len(), 2);
    let r2 = create(&app, &a, Some("send-1"), report_body(&[id1, id2])).await;
    assert_eq!(r2.status, StatusCode::CREATED);
    assert_eq!(r2.body["id"], report_id.as_str());
    let mine = app.get("/v1/me/reports", Some(&a)).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    let reused = create(
        &app,
        &a,
        Some("send-1"),
        json!({ "category_code": "trash", "description": "x", "lat": 10.0, "lon": 106.0 }),
    )
    .await;
    reused.assert_problem(422, "validation_failed");
    assert_eq!(reused.body["errors"][0]["code"], "idempotency_key_reused");
    // Every field of the request counts, not a hand-kept list: the same report with another
    // accuracy is another request.
    let mut other = report_body(&[id1, id2]);
    other["accuracy_m"] = json!(50.0);
    let reused = create(&app, &a, Some("send-1"), other).await;
    reused.assert_problem(422, "validation_failed");
    assert_eq!(reused.body["errors"][0]["code"], "idempotency_key_reused");

    // Now the photo is public.
    assert_eq!(
        app.client.get(app.url(url)).send().await.unwrap().status(),
        StatusCode::OK
    );

    // A neighbour is offered the report before filing the same thing, and says "me too".
    let near = app
        .get(
            "/v1/reports/nearby?lat=10.7770&lon=106.7010&category=road_damage",
            Some(&b),
        )
        .await;
    assert_eq!(near.status, StatusCode::OK, "{:?}", near.body);
    assert_eq!(near.body[0]["report"]["id"], report_id.as_str());
    assert!(near.body[0]["distance_m"].as_f64().unwrap() < 50.0);
    let far = app
        .get(
            "/v1/reports/nearby?lat=10.80&lon=106.70&category=road_damage",
            Some(&b),
        )
        .await;
    assert_eq!(far.body.as_array().unwrap().len(), 0);
    let other_category = app
        .get(
            "/v1/reports/nearby?lat=10.7770&lon=106.7010&category=trash",
            Some(&b),
        )
        .await;
    assert_eq!(other_category.body.as_array().unwrap().len(), 0);
    let mt = app
        .post(
            &format!("/v1/reports/{report_id}/me-too"),
            Some(&b),
            json!({}),
        )
        .await;
    assert_eq!(mt.status, StatusCode::OK, "{:?}", mt.body);
    assert_eq!(mt.body["me_too_count"], 1);
    app.post(
        &format!("/v1/reports/{report_id}/me-too"),
        Some(&a),
        json!({}),
    )
    .await
    .assert_problem(409, "own_report");

    // Staff see it in their queue, with the reporter; the public never does.
    let queue = app.get("/v1/staff/reports", Some(&w.staff)).await;
    assert_eq!(queue.status, StatusCode::OK, "{:?}", queue.body);
    let item = queue
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == report_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["reporter"]["phone"], "+84971000001");
    assert_eq!(item["unit_id"], w.unit_id.as_str());
    let public = app.get(&format!("/v1/reports/{report_id}"), None).await;
    assert_eq!(public.status, StatusCode::OK);
    let text = public.body.to_string();
    assert!(
        !text.contains("+84971000001")
            && public.body["report"]["reporter"].is_null()
            && public.body["report"]["answers"].is_null(),
        "{text}"
    );

    // The lifecycle, with an illegal step on the way.
    let step = |body: Value| {
        let (app, staff, id) = (&app, &w.staff, report_id.clone());
        async move {
            app.post(
                &format!("/v1/staff/reports/{id}/transition"),
                Some(staff),
                body,
            )
            .await
        }
    };
    let refused = step(json!({ "action": "start" })).await;
    refused.assert_problem(409, "illegal_transition");
    // The problem says where the report is and what can be done there (issue 16).
    assert_eq!(refused.body["current_status"], "submitted");
    assert_eq!(
        refused.body["allowed_actions"],
        json!(["receive", "assign", "reject", "duplicate"])
    );
    assert_eq!(
        step(json!({ "action": "receive", "note": "đã xem" }))
            .await
            .status,
        StatusCode::OK
    );
    let assigned =
        step(json!({ "action": "assign", "unit_id": w.unit_id, "assignee_id": w.staff_id })).await;
    assert_eq!(assigned.status, StatusCode::OK, "{:?}", assigned.body);
    assert_eq!(
        step(json!({ "action": "start" })).await.status,
        StatusCode::OK
    );
    step(json!({ "action": "resolve", "public_reply": "Đã vá" }))
        .await
        .assert_problem(422, "validation_failed");
    let evidence = upload_ok(&app, &w.staff, &jpeg(640, 480, 9)).await;
    let resolved = step(json!({ "action": "resolve", "public_reply": "Đã vá ổ gà, cảm ơn bà con.", "evidence_media_ids": [evidence["id"]] })).await;
    assert_eq!(resolved.status, StatusCode::OK, "{:?}", resolved.body);
    assert_eq!(resolved.body["status"], "resolved");
    assert_eq!(resolved.body["evidence"].as_array().unwrap().len(), 1);
    assert_eq!(resolved.body["overdue"], false);
    step(json!({ "action": "resolve", "public_reply": "again", "evidence_media_ids": [evidence["id"]] })).await.assert_problem(409, "illegal_transition");
    step(json!({ "action": "close" }))
        .await
        .assert_problem(409, "reopen_window_open");

    // The reporter and the neighbour were told at each step; the reporter rates it.
    let notes = app.get("/v1/notifications", Some(&a)).await;
    let kinds: Vec<&str> = notes.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["resolved", "in_progress", "assigned", "received"],
        "{:?}",
        notes.body
    );
    assert_eq!(
        app.get("/v1/notifications?unread=true", Some(&b))
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let ids: Vec<Value> = notes.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(
        app.post("/v1/notifications/read", Some(&a), json!({ "ids": ids }))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/notifications?unread=true", Some(&a))
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.post(
        &format!("/v1/reports/{report_id}/rating"),
        Some(&b),
        json!({ "stars": 5 }),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        &format!("/v1/reports/{report_id}/rating"),
        Some(&a),
        json!({ "stars": 6 }),
    )
    .await
    .assert_problem(422, "validation_failed");
    let rated = app
        .post(
            &format!("/v1/reports/{report_id}/rating"),
            Some(&a),
            json!({ "stars": 5, "comment": "Nhanh" }),
        )
        .await;
    assert_eq!(rated.status, StatusCode::OK, "{:?}", rated.body);
    assert_eq!(rated.body["rating"], 5);
    app.post(
        &format!("/v1/reports/{report_id}/rating"),
        Some(&a),
        json!({ "stars": 4 }),
    )
    .await
    .assert_problem(409, "already_rated");

    // History: the public sees transitions, not internal notes; staff see both.
    let public = app.get(&format!("/v1/reports/{report_id}"), None).await;
    let history = public.body["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .all(|e| e["internal"] == false && e["note"] != "đã xem")
    );
    assert_eq!(
        history
            .iter()
            .filter(|e| e["to_status"].is_string())
            .count(),
        5
    );
    let staff_view = app
        .get(&format!("/v1/reports/{report_id}"), Some(&w.staff))
        .await;
    assert!(
        staff_view.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["note"] == "đã xem" && e["internal"] == true)
    );

    // After the window it closes by itself, and the reporter is told.
    app.state.clock.advance(chrono::Duration::days(8));
    assert_eq!(
        wardline::reports::close_expired(&app.state.reports)
            .await
            .unwrap(),
        1
    );
    let closed = app.get(&format!("/v1/reports/{report_id}"), None).await;
    assert_eq!(closed.body["report"]["status"], "closed");
    // (Signed in again: a week has passed.)
    let a = app.resident_token("0971000001").await;
    let inbox = app.get("/v1/notifications", Some(&a)).await;
    assert!(
        inbox.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "closed" && n["report_id"] == report_id.as_str()),
        "{:?}",
        inbox.body
    );
    let _ = w.admin;
    app.stop().await;
}

#[tokio::test]
async fn reopen_within_the_window_and_duplicates_merge_followers() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0972000001").await;
    let b = app.resident_token("0972000002").await;
    let first_id = reported(&app, &a, 3).await;
    let second_id = reported(&app, &b, 4).await;

    let dup = app
        .post(
            &format!("/v1/staff/reports/{second_id}/transition"),
            Some(&w.staff),
            json!({ "action": "duplicate", "duplicate_of": first_id }),
        )
        .await;
    assert_eq!(dup.status, StatusCode::OK, "{:?}", dup.body);
    assert_eq!(dup.body["duplicate_of"], first_id.as_str());
    let parent = app.get(&format!("/v1/reports/{first_id}"), Some(&b)).await;
    assert_eq!(parent.body["report"]["me_too_count"], 1);
    app.post(
        &format!("/v1/staff/reports/{first_id}/transition"),
        Some(&w.staff),
        json!({ "action": "duplicate", "duplicate_of": first_id }),
    )
    .await
    .assert_problem(422, "validation_failed");

    for body in [
        json!({ "action": "assign", "unit_id": w.unit_id }),
        json!({ "action": "start" }),
    ] {
        assert_eq!(
            app.post(
                &format!("/v1/staff/reports/{first_id}/transition"),
                Some(&w.staff),
                body
            )
            .await
            .status,
            StatusCode::OK
        );
    }
    let ev = upload_ok(&app, &w.staff, &jpeg(320, 240, 5)).await;
    let r = app.post(&format!("/v1/staff/reports/{first_id}/transition"), Some(&w.staff), json!({ "action": "resolve", "public_reply": "Xong", "evidence_media_ids": [ev["id"]] })).await;
    assert_eq!(r.status, StatusCode::OK);
    // B follows the parent now and hears about its resolution.
    let kinds: Vec<String> = app.get("/v1/notifications", Some(&b)).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.contains(&"resolved".to_string()), "{kinds:?}");

    app.post(
        &format!("/v1/reports/{first_id}/reopen"),
        Some(&b),
        json!({ "reason": "vẫn còn" }),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        &format!("/v1/reports/{first_id}/reopen"),
        Some(&a),
        json!({ "reason": "  " }),
    )
    .await
    .assert_problem(422, "validation_failed");
    let reopened = app
        .post(
            &format!("/v1/reports/{first_id}/reopen"),
            Some(&a),
            json!({ "reason": "Vẫn còn ổ gà" }),
        )
        .await;
    assert_eq!(reopened.status, StatusCode::OK, "{:?}", reopened.body);
    assert_eq!(reopened.body["status"], "reopened");
    let again = app
        .post(
            &format!("/v1/staff/reports/{first_id}/transition"),
            Some(&w.staff),
            json!({ "action": "assign", "unit_id": w.unit_id }),
        )
        .await;
    assert_eq!(again.body["status"], "assigned");
    app.stop().await;
}

#[tokio::test]
async fn who_may_do_what_with_reports() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0973000001").await;
    let b = app.resident_token("0973000002").await;
    let (_, doctor) = app.member(Role::Doctor, "0973000003").await;
    let (_, other_staff) = app.member(Role::Staff, "0973000004").await;
    let p = upload_ok(&app, &a, &jpeg(320, 240, 6)).await;
    let r = create(&app, &a, None, report_body(&[p["id"].as_str().unwrap()])).await;
    let id = r.body["id"].as_str().unwrap().to_string();

    create(&app, &doctor, None, report_body(&[]))
        .await
        .assert_problem(403, "forbidden");
    let tr = format!("/v1/staff/reports/{id}/transition");
    app.post(&tr, Some(&a), json!({ "action": "receive" }))
        .await
        .assert_problem(403, "forbidden");
    app.post(&tr, Some(&doctor), json!({ "action": "receive" }))
        .await
        .assert_problem(403, "forbidden");
    // Staff outside the report's unit may not act on it.
    app.post(&tr, Some(&other_staff), json!({ "action": "receive" }))
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/staff/reports", Some(&a))
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/staff/reports", None)
        .await
        .assert_problem(401, "missing_token");
    // B cannot comment on A's report (not a follower), A can; nobody else sees A's private fields.
    app.post(
        &format!("/v1/reports/{id}/comments"),
        Some(&b),
        json!({ "text": "hi" }),
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(
        app.post(
            &format!("/v1/reports/{id}/comments"),
            Some(&a),
            json!({ "text": "Thêm: ổ gà sâu 20 cm" })
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    app.post(
        &format!("/v1/reports/{id}/comments"),
        Some(&a),
        json!({ "text": "x", "internal": true }),
    )
    .await
    .assert_problem(403, "forbidden");
    let seen_by_b = app.get(&format!("/v1/reports/{id}"), Some(&b)).await;
    assert!(
        seen_by_b.body["report"]["answers"].is_null()
            && seen_by_b.body["report"]["reporter"].is_null()
    );
    assert!(
        seen_by_b.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] != "comment")
    );
    let seen_by_a = app.get(&format!("/v1/reports/{id}"), Some(&a)).await;
    assert_eq!(seen_by_a.body["report"]["answers"]["size"], "large");
    assert!(
        seen_by_a.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "comment")
    );
    // B's notifications are B's alone; marking A's ids read does nothing to A's.
    let _ = w.admin;
    app.stop().await;
}

#[tokio::test]
async fn anonymous_categories_hide_the_reporter_even_from_staff_and_round_public_coordinates() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0974000001").await;
    let p = upload_ok(&app, &a, &jpeg(320, 240, 7)).await;
    let mut body = report_body(&[p["id"].as_str().unwrap()]);
    body["category_code"] = json!("illegal_construction");
    body["answers"] = json!({});
    body["lat"] = json!(10.776912);
    let r = create(&app, &a, None, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let staff_view = app.get(&format!("/v1/reports/{id}"), Some(&w.staff)).await;
    assert!(staff_view.body["report"]["reporter"].is_null());
    assert!(!staff_view.body.to_string().contains("+84974000001"));
    let public = app.get(&format!("/v1/reports/{id}"), None).await;
    assert_eq!(public.body["report"]["lat"], 10.777);
    assert_eq!(staff_view.body["report"]["lat"], 10.776912);
    app.stop().await;
}

#[tokio::test]
async fn hostile_reports_and_photos_get_clean_4xx() {
    let app = TestApp::spawn().await;
    let _w = ward(&app).await;
    let a = app.resident_token("0975000001").await;
    let b = app.resident_token("0975000002").await;

    // Photos: truncated JPEG, a PNG bomb, random bytes, nothing at all.
    let good = jpeg(640, 480, 1);
    upload(&app, &a, &good[..good.len() / 2], "image/jpeg")
        .await
        .assert_problem(422, "validation_failed");
    let bomb = upload(&app, &a, &png_bomb(), "image/png").await;
    bomb.assert_problem(422, "validation_failed");
    assert_eq!(bomb.body["errors"][0]["code"], "too_many_pixels");
    upload(&app, &a, b"definitely not a photo", "image/jpeg")
        .await
        .assert_problem(415, "unsupported_photo_type");
    // An iPhone's default format: refused with a message that says what to send instead.
    let mut heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec();
    heic.resize(4096, 0);
    let refused = upload(&app, &a, &heic, "image/heic").await;
    refused.assert_problem(415, "unsupported_photo_type");
    assert!(
        refused.body["title"]
            .as_str()
            .unwrap_or("")
            .contains("JPEG"),
        "{:?}",
        refused.body
    );
    let empty = upload(&app, &a, b"", "image/jpeg").await;
    assert!(empty.status.is_client_error(), "{:?}", empty.body);
    let no_field = crate::helpers::Resp::read(
        app.client
            .post(app.url("/v1/media"))
            .bearer_auth(&a)
            .header("content-type", "multipart/form-data; boundary=x")
            .body("--x--\r\n")
            .send()
            .await
            .unwrap(),
    )
    .await;
    no_field.assert_problem(400, "bad_request");
    upload(&app, "not-a-token", &good, "image/jpeg")
        .await
        .assert_problem(401, "invalid_token");

    // Coordinates out of range, NaN as text, six photos, someone else's photo, unknown category.
    let mut body = report_body(&[]);
    body["lat"] = json!(91.0);
    let r = create(&app, &a, None, body).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "lat");
    let mut body = report_body(&[]);
    body["lon"] = json!("NaN");
    create(&app, &a, None, body)
        .await
        .assert_problem(400, "bad_request");
    let mut ids = vec![];
    for i in 0..6 {
        ids.push(
            upload_ok(&app, &a, &jpeg(64, 64, 100 + i)).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let r = create(&app, &a, None, report_body(&refs)).await;
    r.assert_problem(422, "validation_failed");
    assert!(
        r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "too_many_photos")
    );
    let r = create(&app, &b, None, report_body(&refs[..1])).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "unknown_photo");
    let mut body = report_body(&refs[..1]);
    body["category_code"] = json!("no_such_thing");
    create(&app, &a, None, body)
        .await
        .assert_problem(422, "validation_failed");
    let mut body = report_body(&refs[..1]);
    body["answers"] = json!({ "size": "gigantic", "bogus": 1 });
    let r = create(&app, &a, None, body).await;
    assert_eq!(
        r.body["errors"].as_array().unwrap().len(),
        2,
        "{:?}",
        r.body
    );
    // Photo required for road damage.
    create(&app, &a, None, report_body(&[]))
        .await
        .assert_problem(422, "validation_failed");
    let mut body = report_body(&refs[..1]);
    body["description"] = json!("x".repeat(4001));
    // The spec's limit (4,000, the rule's) is checked before the rule: 400 naming the field.
    let long = create(&app, &a, None, body).await;
    long.assert_problem(400, "bad_request");
    assert_eq!(long.body["errors"][0]["field"], "description");
    // Feed filters.
    app.get("/v1/reports?status=bogus", None)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/reports?bbox=1,2,3", None)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/v1/reports/map?bbox=106,10,107,11&zoom=99", None)
        .await
        .assert_problem(400, "bad_request");
    app.get(&format!("/v1/reports/{}", uuid::Uuid::now_v7()), None)
        .await
        .assert_problem(404, "report_not_found");
    app.stop().await;
}

#[tokio::test]
async fn feed_map_and_deadlines() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0976000001").await;
    let p = upload_ok(&app, &a, &jpeg(64, 64, 1)).await;
    let mut ids = vec![];
    for i in 0..3 {
        let mut body = report_body(&[p["id"].as_str().unwrap()]);
        body["lat"] = json!(10.7769 + f64::from(i) * 0.001);
        let r = create(&app, &a, None, body).await;
        ids.push(r.body["id"].as_str().unwrap().to_string());
        // Deadlines fall in working time after the report.
        let created: chrono::DateTime<chrono::Utc> =
            r.body["created_at"].as_str().unwrap().parse().unwrap();
        let ack: chrono::DateTime<chrono::Utc> =
            r.body["ack_by"].as_str().unwrap().parse().unwrap();
        let resolve: chrono::DateTime<chrono::Utc> =
            r.body["resolve_by"].as_str().unwrap().parse().unwrap();
        assert!(created < ack && ack < resolve);
        assert!(
            app.state
                .calendar
                .is_working(ack - chrono::Duration::seconds(1))
        );
    }
    let page = app.get("/v1/reports?limit=2", None).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["items"][0]["id"], ids[2].as_str(), "newest first");
    let next = page.body["next_before"].as_str().unwrap();
    let rest = app
        .get(&format!("/v1/reports?limit=2&before={next}"), None)
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    let boxed = app
        .get("/v1/reports?bbox=106.70,10.7765,106.71,10.7775", None)
        .await;
    assert_eq!(boxed.body["items"].as_array().unwrap().len(), 1);

    let clusters = app
        .get("/v1/reports/map?bbox=106.6,10.7,106.8,10.9&zoom=10", None)
        .await;
    assert_eq!(clusters.status, StatusCode::OK, "{:?}", clusters.body);
    let total: i64 = clusters
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3);
    let points = app
        .get("/v1/reports/map?bbox=106.6,10.7,106.8,10.9&zoom=16", None)
        .await;
    assert_eq!(points.body.as_array().unwrap().len(), 3);
    assert!(points.body[0]["report_id"].is_string());

    // Rejected reports leave the default feed; overdue ones lead the staff queue.
    let rej = app
        .post(
            &format!("/v1/staff/reports/{}/transition", ids[0]),
            Some(&w.staff),
            json!({ "action": "reject", "reason": "Không thuộc phạm vi phường" }),
        )
        .await;
    assert_eq!(rej.status, StatusCode::OK, "{:?}", rej.body);
    assert_eq!(
        app.get("/v1/reports", None).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        app.get("/v1/reports?status=rejected", None).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.state.clock.advance(chrono::Duration::days(30));
    let staff = app.login(STAFF_PHONE, &w.staff_password).await;
    let overdue = app
        .get("/v1/staff/reports?overdue=true", Some(&staff))
        .await;
    assert_eq!(overdue.body.as_array().unwrap().len(), 2);
    assert!(
        overdue
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["overdue"] == true)
    );
    app.stop().await;
}

/// Sum of the map's cluster counts over the test box at a zoom, and the number of points the map
/// and the feed show there: the counters behind the clusters must agree with the reports.
async fn map_counts(app: &TestApp, zoom: i32) -> i64 {
    let r = app
        .get(
            &format!("/v1/reports/map?bbox=106.6,10.7,106.8,10.9&zoom={zoom}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_i64().unwrap())
        .sum()
}

async fn assert_map_shows(app: &TestApp, want: i64) {
    for zoom in [5, 10, 13] {
        assert_eq!(map_counts(app, zoom).await, want, "clusters at zoom {zoom}");
    }
    let points = app
        .get("/v1/reports/map?bbox=106.6,10.7,106.8,10.9&zoom=16", None)
        .await;
    assert_eq!(points.body.as_array().unwrap().len() as i64, want, "points");
    let feed = app
        .get("/v1/reports?bbox=106.6,10.7,106.8,10.9", None)
        .await;
    assert_eq!(
        feed.body["items"].as_array().unwrap().len() as i64,
        want,
        "feed"
    );
    // A small box around them is read through its H3 cells: the same reports.
    let near = app
        .get("/v1/reports?bbox=106.699,10.776,106.702,10.780", None)
        .await;
    assert_eq!(
        near.body["items"].as_array().unwrap().len() as i64,
        want,
        "small box"
    );
}

#[tokio::test]
async fn map_clusters_follow_every_change_of_the_reports() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0977000003").await;
    let p = upload_ok(&app, &a, &jpeg(64, 64, 1)).await;
    let mut ids = vec![];
    for i in 0..4 {
        let mut body = report_body(&[p["id"].as_str().unwrap()]);
        body["lat"] = json!(10.7769 + f64::from(i) * 0.0005);
        let r = create(&app, &a, None, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    assert_map_shows(&app, 4).await;
    let step = |id: String, body: Value| {
        let (app, staff) = (&app, &w.staff);
        async move {
            let r = app
                .post(
                    &format!("/v1/staff/reports/{id}/transition"),
                    Some(staff),
                    body,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
    };
    // Rejected: off the map. Duplicate: off the map (its parent stays).
    step(
        ids[0].clone(),
        json!({ "action": "reject", "reason": "Không thuộc phạm vi" }),
    )
    .await;
    assert_map_shows(&app, 3).await;
    step(
        ids[1].clone(),
        json!({ "action": "duplicate", "duplicate_of": ids[2] }),
    )
    .await;
    assert_map_shows(&app, 2).await;
    // Open steps and a resolution keep it on the map (now counted by the day it changed).
    for body in [
        json!({ "action": "receive" }),
        json!({ "action": "assign", "unit_id": w.unit_id }),
        json!({ "action": "start" }),
    ] {
        step(ids[2].clone(), body).await;
    }
    assert_map_shows(&app, 2).await;
    let evidence = upload_ok(&app, &w.staff, &jpeg(64, 48, 2)).await;
    step(
        ids[2].clone(),
        json!({ "action": "resolve", "public_reply": "Đã xử lý", "evidence_media_ids": [evidence["id"]] }),
    )
    .await;
    assert_map_shows(&app, 2).await;
    // Seven months on: the resolved one has left the public window, the open one stays.
    app.state.clock.advance(chrono::Duration::days(213));
    assert_map_shows(&app, 1).await;
    app.stop().await;
}

#[tokio::test]
async fn statistics_count_on_time_online_share_and_satisfaction() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0977000001").await;
    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let p = upload_ok(&app, &a, &jpeg(64, 64, 1)).await;
    let online = create(&app, &a, None, report_body(&[p["id"].as_str().unwrap()])).await;
    let online_id = online.body["id"].as_str().unwrap().to_string();
    // A walk-in entered at the counter for a resident with a phone.
    let mut walk_in = report_body(&[]);
    walk_in["channel"] = json!("counter");
    walk_in["reporter_phone"] = json!("0977000002");
    let counter = create(&app, &w.staff, None, walk_in).await;
    assert_eq!(counter.status, StatusCode::CREATED, "{:?}", counter.body);
    assert_eq!(counter.body["channel"], "counter");
    assert_eq!(counter.body["reporter"]["phone"], "+84977000002");
    let mut app_channel = report_body(&[]);
    app_channel["channel"] = json!("app");
    create(&app, &w.staff, None, app_channel)
        .await
        .assert_problem(422, "validation_failed");

    for body in [
        json!({ "action": "assign", "unit_id": w.unit_id }),
        json!({ "action": "start" }),
    ] {
        assert_eq!(
            app.post(
                &format!("/v1/staff/reports/{online_id}/transition"),
                Some(&w.staff),
                body
            )
            .await
            .status,
            StatusCode::OK
        );
    }
    let ev = upload_ok(&app, &w.staff, &jpeg(64, 64, 2)).await;
    app.post(
        &format!("/v1/staff/reports/{online_id}/transition"),
        Some(&w.staff),
        json!({ "action": "resolve", "public_reply": "Xong", "evidence_media_ids": [ev["id"]] }),
    )
    .await;
    app.post(
        &format!("/v1/reports/{online_id}/rating"),
        Some(&a),
        json!({ "stars": 4 }),
    )
    .await;

    app.state.clock.advance(chrono::Duration::days(30));
    let staff = app.login(STAFF_PHONE, &w.staff_password).await;
    let to = (app.state.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    let q = format!("from={}&to={}", urlencode(&from), urlencode(&to));
    let s = app
        .get(
            &format!("/v1/stats/reports?{q}&group_by=category"),
            Some(&staff),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    let rows = s.body.as_array().unwrap();
    let road = rows.iter().find(|r| r["group"] == "road_damage").unwrap();
    assert_eq!(road["received"], 2);
    assert_eq!(road["resolved"], 1);
    assert_eq!(road["resolved_on_time"], 1);
    assert_eq!(road["on_time_rate"], 1.0);
    assert_eq!(road["online_share"], 0.5);
    assert_eq!(road["overdue_open"], 1);
    assert_eq!(road["satisfaction_avg"], 4.0);
    assert!(road["median_resolve_hours"].as_f64().unwrap() >= 0.0);
    assert_eq!(rows.last().unwrap()["group"], "all");
    let by_unit = app
        .get(
            &format!("/v1/stats/reports?{q}&group_by=unit"),
            Some(&staff),
        )
        .await;
    assert!(
        by_unit
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["group"] == "Tổ công trình")
    );

    let csv = app
        .client
        .get(app.url(&format!("/v1/stats/reports.csv?{q}&group_by=month")))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    // Browsers save it as a file with a name that says what it holds (issue 16).
    let disposition = csv.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"wardline-reports-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("group,received,resolved,resolved_on_time,on_time_rate"),
        "{text}"
    );
    assert!(text.contains("\"all\",2,1,1,1,1,"), "{text}");

    let resident = app.resident_token("0977000003").await;
    app.get(&format!("/v1/stats/reports?{q}"), Some(&resident))
        .await
        .assert_problem(403, "forbidden");
    app.get(
        &format!(
            "/v1/stats/reports?from={}&to={}",
            urlencode(&to),
            urlencode(&from)
        ),
        Some(&staff),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn staff_receive_their_units_reports_live_over_a_websocket() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let (_, outsider) = app.member(Role::Staff, "0978000009").await;
    let a = app.resident_token("0978000001").await;
    let ws_url = app.base.replace("http://", "ws://") + "/v1/staff/reports/live";

    // Residents and anonymous callers are refused before the upgrade.
    assert!(
        tokio_tungstenite::connect_async(format!("{ws_url}?access_token={a}"))
            .await
            .is_err()
    );
    assert!(
        tokio_tungstenite::connect_async(ws_url.clone())
            .await
            .is_err()
    );

    let (mut mine, _) =
        tokio_tungstenite::connect_async(format!("{ws_url}?access_token={}", w.staff))
            .await
            .unwrap();
    let (mut theirs, _) =
        tokio_tungstenite::connect_async(format!("{ws_url}?access_token={outsider}"))
            .await
            .unwrap();
    let p = upload_ok(&app, &a, &jpeg(64, 64, 1)).await;
    let created = create(&app, &a, None, report_body(&[p["id"].as_str().unwrap()])).await;
    let id = created.body["id"].as_str().unwrap();

    let msg = next_text(&mut mine).await.unwrap();
    assert_eq!(msg["event"], "created");
    assert_eq!(msg["report"]["id"], id);
    assert_eq!(msg["report"]["reporter"]["phone"], "+84978000001");
    // Staff of another unit hear nothing about a report routed to this unit.
    assert!(
        next_text(&mut theirs).await.is_none(),
        "the outsider got a message"
    );

    app.post(
        &format!("/v1/staff/reports/{id}/transition"),
        Some(&w.staff),
        json!({ "action": "receive" }),
    )
    .await;
    let msg = next_text(&mut mine).await.unwrap();
    assert_eq!(msg["event"], "received");
    assert_eq!(msg["report"]["status"], "received");

    // A neighbour's "me too" changes the count the console shows.
    let b = app.resident_token("0978000002").await;
    let r = app
        .post(&format!("/v1/reports/{id}/me-too"), Some(&b), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let msg = next_text(&mut mine).await.unwrap();
    assert_eq!(msg["event"], "me_too");
    assert_eq!(msg["report"]["me_too_count"], 1);

    // Routed to another unit: that unit's console gets it, and this one hears it leave.
    let other_unit = app
        .post(
            "/v1/admin/units",
            Some(&w.admin),
            json!({ "name": "Tổ vệ sinh", "kind": "team" }),
        )
        .await;
    let other_unit = other_unit.body["id"].as_str().unwrap().to_string();
    let outsider_id = app.get("/v1/me", Some(&outsider)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/admin/units/{other_unit}/members/{outsider_id}"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    act(
        &app,
        &w.staff,
        id,
        json!({ "action": "assign", "unit_id": other_unit }),
    )
    .await;
    let left = next_text(&mut mine).await.unwrap();
    assert_eq!(left["event"], "assigned");
    assert_eq!(left["report"]["unit_id"], other_unit.as_str());
    let arrived = next_text(&mut theirs).await.unwrap();
    assert_eq!(arrived["event"], "assigned");
    // From then on it is the other unit's: this console hears no more of it.
    app.post(
        &format!("/v1/staff/reports/{id}/transition"),
        Some(&outsider),
        json!({ "action": "start" }),
    )
    .await;
    assert_eq!(
        next_text(&mut theirs).await.unwrap()["event"],
        "in_progress"
    );
    assert!(next_text(&mut mine).await.is_none());
    let r = app
        .post(
            &format!("/v1/staff/reports/{id}/severity"),
            Some(&outsider),
            json!({ "severity": "urgent", "reason": "Nắp cống mở" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let graded = next_text(&mut theirs).await.unwrap();
    assert_eq!(graded["event"], "severity");
    assert_eq!(graded["report"]["severity"], "urgent");

    // On shutdown the socket is closed with 1001 (going away).
    app.state.begin_shutdown();
    let msg = next_text(&mut mine).await.unwrap();
    assert_eq!(msg["close"], 1001);
    app.stop().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message as JSON (or `{"close": code}`), or None after 3 s of silence.
async fn next_text(ws: &mut Ws) -> Option<Value> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let fut = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).ok(),
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| json!({ "close": u16::from(f.code) }));
                }
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(3), fut)
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn reports_outside_the_ward_are_refused_and_inside_are_routed_by_khu_pho() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0979000001").await;
    // Before any area exists, anywhere valid is accepted.
    let mut body = report_body(&[]);
    body["category_code"] = json!("trash");
    body["answers"] = json!({});
    let p = upload_ok(&app, &a, &jpeg(64, 64, 1)).await;
    body["media_ids"] = json!([p["id"]]);
    body["lat"] = json!(21.0);
    body["lon"] = json!(105.8);
    assert_eq!(
        create(&app, &a, None, body.clone()).await.status,
        StatusCode::CREATED
    );

    import_ward(&app).await;

    let outside = create(&app, &a, None, body.clone()).await;
    outside.assert_problem(422, "validation_failed");
    assert_eq!(outside.body["errors"][0]["code"], "outside_service_area");

    body["lat"] = json!(10.7769);
    body["lon"] = json!(106.7009);
    let inside = create(&app, &a, None, body).await;
    assert_eq!(inside.status, StatusCode::CREATED, "{:?}", inside.body);
    let id = inside.body["id"].as_str().unwrap();
    // Trash has no unit of its own; the khu phố's unit takes it.
    let staff_view = app.get(&format!("/v1/reports/{id}"), Some(&w.staff)).await;
    assert_eq!(staff_view.body["report"]["unit_id"], w.unit_id.as_str());
    // Everyone sees which khu phố, and can list those and filter by one.
    let areas = app.get("/v1/areas", None).await;
    assert_eq!(areas.status, StatusCode::OK, "{:?}", areas.body);
    let names: Vec<&str> = areas
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Khu phố 3", "Phường Bến Nghé"]);
    assert!(
        areas.body[0]["geometry"].is_null(),
        "outlines only when asked"
    );
    // Maps drawn without tiles ask for the outlines (issue 18).
    let shaped = app.get("/v1/areas?geometry=true", None).await;
    for a in shaped.body.as_array().unwrap() {
        let kind = a["geometry"]["type"].as_str().unwrap_or("");
        assert!(matches!(kind, "Polygon" | "MultiPolygon"), "{a}");
    }
    let kp3 = areas.body[0]["id"].as_str().unwrap().to_string();
    let ward_id = areas.body[1]["id"].as_str().unwrap().to_string();
    let public = app.get(&format!("/v1/reports/{id}"), None).await;
    assert_eq!(public.body["report"]["area"]["name"], "Khu phố 3");
    assert_eq!(public.body["report"]["area"]["id"], kp3.as_str());
    let in_kp3 = app.get(&format!("/v1/reports?area={kp3}"), None).await;
    assert_eq!(ids_in(&in_kp3.body, "/id"), [id.to_string()]);
    let elsewhere = app.get(&format!("/v1/reports?area={ward_id}"), None).await;
    assert!(ids_in(&elsewhere.body, "/id").is_empty());
    let queue = app
        .get(&format!("/v1/staff/reports?area_id={kp3}"), Some(&w.staff))
        .await;
    assert_eq!(ids_in(&queue.body, "/id"), [id.to_string()]);
    let queue = app
        .get(
            &format!("/v1/staff/reports?area_id={ward_id}"),
            Some(&w.staff),
        )
        .await;
    assert!(ids_in(&queue.body, "/id").is_empty());
    let from = urlencode(&(app.state.clock.now() - chrono::Duration::hours(1)).to_rfc3339());
    let to = urlencode(&(app.state.clock.now() + chrono::Duration::hours(1)).to_rfc3339());
    let s = app
        .get(
            &format!("/v1/stats/reports?from={from}&to={to}&group_by=area"),
            Some(&w.staff),
        )
        .await;
    assert!(
        s.body
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["group"] == "Khu phố 3" && r["received"] == 1),
        "{:?}",
        s.body
    );
    app.stop().await;
}

/// Records what would be pushed to phones.
#[derive(Clone)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<wardline::reports::push::Push>>>);

#[async_trait::async_trait]
impl wardline::reports::push::Notifier for Recorder {
    async fn push(&self, push: wardline::reports::push::Push) -> anyhow::Result<()> {
        self.0.lock().unwrap().push(push);
        Ok(())
    }
}

#[tokio::test]
async fn every_inbox_item_is_also_pushed_to_the_phone_but_not_to_the_actor() {
    let recorder = Recorder(Default::default());
    let r2 = recorder.clone();
    let app = TestApp::spawn_custom(
        |_| {},
        move |state| state.set_notifier(std::sync::Arc::new(r2)),
    )
    .await;
    let w = ward(&app).await;
    let a = app.resident_token("0979500001").await;
    let me = app.get("/v1/me", Some(&a)).await;
    let p = upload_ok(&app, &a, &jpeg(64, 64, 1)).await;
    let r = create(&app, &a, None, report_body(&[p["id"].as_str().unwrap()])).await;
    let id = r.body["id"].as_str().unwrap();
    app.post(
        &format!("/v1/staff/reports/{id}/transition"),
        Some(&w.staff),
        json!({ "action": "receive" }),
    )
    .await;
    let pushed = recorder.0.lock().unwrap().clone();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(
        pushed[0].account_id.to_string(),
        me.body["id"].as_str().unwrap()
    );
    assert_eq!(pushed[0].kind.as_str(), "received");
    assert!(pushed[0].text_vi.contains("tiếp nhận"));
    app.stop().await;
}

#[tokio::test]
async fn a_chunked_photo_over_the_upload_limit_gets_413() {
    let app = TestApp::spawn_with(|s| s.max_upload_bytes = 64 * 1024).await;
    let a = app.resident_token("0979600001").await;
    let photo = jpeg(1200, 900, 3);
    assert!(photo.len() > 64 * 1024);
    let mut body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".to_vec();
    body.extend_from_slice(&photo);
    body.extend_from_slice(b"\r\n--b--\r\n");
    // Chunked (no Content-Length), so only the streaming limit can catch it.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let r = app
        .client
        .post(app.url("/v1/media"))
        .bearer_auth(&a)
        .header("content-type", "multipart/form-data; boundary=b")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::read(r)
        .await
        .assert_problem(413, "payload_too_large");
    // With Content-Length it is refused before reading.
    upload(&app, &a, &photo, "image/jpeg")
        .await
        .assert_problem(413, "payload_too_large");
    // A small one still goes through.
    upload_ok(&app, &a, &jpeg(64, 64, 1)).await;
    app.stop().await;
}

#[tokio::test]
async fn category_administration_photos_and_notifications_per_role() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let resident = app.resident_token("0979700001").await;
    let (_, doctor) = app.member(Role::Doctor, "0979700002").await;
    let new_category = json!({ "code": "stray_dogs", "name_vi": "Chó thả rông", "name_en": "Stray dogs", "group": "urban_order" });
    for token in [&resident, &w.staff, &doctor] {
        app.get("/v1/admin/categories", Some(token))
            .await
            .assert_problem(403, "forbidden");
        app.post("/v1/admin/categories", Some(token), new_category.clone())
            .await
            .assert_problem(403, "forbidden");
        app.call(
            Method::PATCH,
            "/v1/admin/categories/trash",
            Some(token),
            Some(json!({ "active": false })),
        )
        .await
        .assert_problem(403, "forbidden");
    }
    app.get("/v1/admin/categories", None)
        .await
        .assert_problem(401, "missing_token");
    let created = app
        .post("/v1/admin/categories", Some(&w.admin), new_category.clone())
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    app.post("/v1/admin/categories", Some(&w.admin), new_category)
        .await
        .assert_problem(409, "category_code_taken");
    let off = app
        .call(
            Method::PATCH,
            "/v1/admin/categories/stray_dogs",
            Some(&w.admin),
            Some(json!({ "active": false })),
        )
        .await;
    assert_eq!(off.body["active"], false);
    let public = app.get("/v1/categories", None).await;
    assert!(
        public
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["code"] != "stray_dogs"),
        "inactive categories are not offered"
    );
    app.call(
        Method::PATCH,
        "/v1/admin/categories/nope",
        Some(&w.admin),
        Some(json!({})),
    )
    .await
    .assert_problem(404, "category_not_found");

    // Doctors do not upload report photos; nobody anonymous reads notifications.
    upload(&app, &doctor, &jpeg(64, 64, 1), "image/jpeg")
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/notifications", None)
        .await
        .assert_problem(401, "missing_token");
    app.get("/v1/me/reports", None)
        .await
        .assert_problem(401, "missing_token");
    // Marking someone else's notification read does nothing to it.
    let a = app.resident_token("0979700003").await;
    let p = upload_ok(&app, &a, &jpeg(64, 64, 2)).await;
    let r = create(&app, &a, None, report_body(&[p["id"].as_str().unwrap()])).await;
    let id = r.body["id"].as_str().unwrap();
    app.post(
        &format!("/v1/staff/reports/{id}/transition"),
        Some(&w.staff),
        json!({ "action": "receive" }),
    )
    .await;
    let theirs = app.get("/v1/notifications", Some(&a)).await.body["items"][0]["id"].clone();
    assert_eq!(
        app.post(
            "/v1/notifications/read",
            Some(&resident),
            json!({ "ids": [theirs] })
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/notifications?unread=true", Some(&a))
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
}

/// SQLite commits the creates that arrive together in one transaction (one `fsync`), each under its
/// own savepoint: a create that fails there (someone else's photo) leaves nothing behind and spoils
/// none of the others.
#[tokio::test]
async fn creates_arriving_together_commit_together_and_a_failing_one_leaves_nothing() {
    let app = TestApp::spawn().await;
    let _w = ward(&app).await;
    let thief = app.resident_token("0975100002").await;
    let mut residents = vec![];
    for i in 0..4 {
        let token = app.resident_token(&format!("09751000{}", 10 + i)).await;
        let photo = upload_ok(&app, &token, &jpeg(64, 64, 30 + i as u8)).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        residents.push((token, photo));
    }
    let stolen = residents[0].1.clone();
    let mut calls = vec![];
    for (token, photo) in &residents {
        for _ in 0..5 {
            calls.push(create(&app, token, None, report_body(&[photo])));
        }
    }
    for _ in 0..5 {
        calls.push(create(&app, &thief, None, report_body(&[&stolen])));
    }
    let answers = futures::future::join_all(calls).await;
    let (good, bad) = answers.split_at(20);
    for r in good {
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    for r in bad {
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["code"], "unknown_photo");
    }
    let theirs = app.get("/v1/me/reports", Some(&thief)).await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);
    for (token, photo) in &residents {
        let mine = app.get("/v1/me/reports", Some(token)).await;
        let items = mine.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 5, "{:?}", mine.body);
        for item in items {
            // Each was written whole: its photo and its first history entry are there.
            let id = item["id"].as_str().unwrap();
            let full = app.get(&format!("/v1/reports/{id}"), Some(token)).await;
            assert_eq!(full.status, StatusCode::OK);
            assert_eq!(full.body["report"]["photos"][0]["id"], json!(photo));
            assert_eq!(
                full.body["history"][0]["to_status"], "submitted",
                "{:?}",
                full.body
            );
        }
    }
}

/// A photo attached to a comment or to a resolution must be the caller's own upload: someone else's
/// photo gets the same 422 as an unknown id, and the comment or the status change is not stored.
#[tokio::test]
async fn comments_and_evidence_take_only_the_callers_own_photos() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0977100001").await;
    let b = app.resident_token("0977100002").await;
    let id = reported(&app, &a, 6).await;
    let a_photo = upload_ok(&app, &a, &jpeg(64, 48, 7)).await;
    let b_photo = upload_ok(&app, &b, &jpeg(64, 48, 8)).await;
    let staff_photo = upload_ok(&app, &w.staff, &jpeg(64, 48, 9)).await;
    let comments = format!("/v1/reports/{id}/comments");

    // A comments with B's photo: refused, nothing stored.
    let r = app
        .post(
            &comments,
            Some(&a),
            json!({ "text": "ảnh", "media_ids": [b_photo["id"]] }),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "unknown_photo");
    let seen = app.get(&format!("/v1/reports/{id}"), Some(&a)).await;
    assert_eq!(history_count(&seen.body, "comment"), 0, "{:?}", seen.body);
    // With A's own photo: stored.
    let r = app
        .post(
            &comments,
            Some(&a),
            json!({ "text": "ảnh", "media_ids": [a_photo["id"]] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let seen = app.get(&format!("/v1/reports/{id}"), Some(&a)).await;
    assert_eq!(history_count(&seen.body, "comment"), 1, "{:?}", seen.body);
    // The photo shows with its comment, to the reporter and staff, not among the report's own.
    let comment_photos = |v: &Value| -> Vec<String> {
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "comment")
            .flat_map(|e| e["photos"].as_array().unwrap().clone())
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let a_photo_id = a_photo["id"].as_str().unwrap().to_string();
    assert_eq!(
        comment_photos(&seen.body),
        std::slice::from_ref(&a_photo_id)
    );
    assert!(
        !seen.body["report"]["photos"]
            .to_string()
            .contains(&a_photo_id)
    );
    let staff_seen = app.get(&format!("/v1/reports/{id}"), Some(&w.staff)).await;
    assert_eq!(
        comment_photos(&staff_seen.body),
        std::slice::from_ref(&a_photo_id)
    );
    // It is not public: the public and another resident get 404 for its URL; staff get it.
    let url = format!("/v1/media/{a_photo_id}/public.jpg");
    app.get(&url, None)
        .await
        .assert_problem(404, "media_not_found");
    app.get(&url, Some(&b))
        .await
        .assert_problem(404, "media_not_found");
    assert_eq!(app.get(&url, Some(&w.staff)).await.status, StatusCode::OK);
    // Staff answer with a photo alone; the reporter sees it and may open it.
    let r = app
        .post(
            &comments,
            Some(&w.staff),
            json!({ "media_ids": [staff_photo["id"]] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let seen = app.get(&format!("/v1/reports/{id}"), Some(&a)).await;
    let staff_photo_id = staff_photo["id"].as_str().unwrap().to_string();
    assert_eq!(
        comment_photos(&seen.body),
        [a_photo_id.clone(), staff_photo_id.clone()]
    );
    let url = format!("/v1/media/{staff_photo_id}/thumbnail.jpg");
    assert_eq!(app.get(&url, Some(&a)).await.status, StatusCode::OK);
    app.get(&url, Some(&b))
        .await
        .assert_problem(404, "media_not_found");
    // Neither text nor photo: refused.
    app.post(&comments, Some(&a), json!({ "text": "  " }))
        .await
        .assert_problem(422, "validation_failed");
    let staff_photo = upload_ok(&app, &w.staff, &jpeg(64, 48, 10)).await;

    // An internal note has nowhere to show a photo: refused, not dropped in silence.
    let r = app
        .post(
            &comments,
            Some(&w.staff),
            json!({ "text": "nội bộ", "internal": true, "media_ids": [staff_photo["id"]] }),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "photos_not_allowed");

    // Staff resolve with the resident's photo as evidence: refused, the report stays in progress.
    let tr = format!("/v1/staff/reports/{id}/transition");
    for body in [
        json!({ "action": "assign", "unit_id": w.unit_id }),
        json!({ "action": "start" }),
    ] {
        assert_eq!(
            app.post(&tr, Some(&w.staff), body).await.status,
            StatusCode::OK
        );
    }
    let r = app
        .post(
            &tr,
            Some(&w.staff),
            json!({ "action": "resolve", "public_reply": "Xong", "evidence_media_ids": [a_photo["id"]] }),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "unknown_photo");
    let seen = app.get(&format!("/v1/reports/{id}"), Some(&a)).await;
    assert_eq!(seen.body["report"]["status"], "in_progress");
    // With their own photo: resolved.
    let r = app
        .post(
            &tr,
            Some(&w.staff),
            json!({ "action": "resolve", "public_reply": "Xong", "evidence_media_ids": [staff_photo["id"]] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "resolved");
    app.stop().await;
}

/// Ids of the reports in a feed page or a map answer.
fn ids_in(v: &Value, path: &str) -> Vec<String> {
    v.as_array()
        .or_else(|| v["items"].as_array())
        .unwrap_or(&vec![])
        .iter()
        .filter_map(|i| i.pointer(path).and_then(Value::as_str).map(String::from))
        .collect()
}

#[tokio::test]
async fn a_rounded_location_stays_rounded_in_every_public_answer() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    import_ward(&app).await;
    let a = app.resident_token("0974100001").await;
    // 44 m north and 44 m east of the 3-decimal grid point (10.776, 106.700) the public sees.
    let (lat, lon) = (10.7764, 106.7004);
    let p = upload_ok(&app, &a, &jpeg(320, 240, 11)).await;
    let mut body = report_body(&[p["id"].as_str().unwrap()]);
    body["category_code"] = json!("illegal_construction");
    body["answers"] = json!({});
    body["lat"] = json!(lat);
    body["lon"] = json!(lon);
    body["address"] = json!("Hẻm 12/3 Lê Lợi, nhà số 7");
    let r = create(&app, &a, None, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();

    // The address would give away what rounding hides: staff have it, the public does not.
    let public = app.get(&format!("/v1/reports/{id}"), None).await;
    assert_eq!(public.body["report"]["address"], "");
    assert_eq!(public.body["report"]["lat"], 10.776);
    let staff = app.get(&format!("/v1/reports/{id}"), Some(&w.staff)).await;
    assert_eq!(staff.body["report"]["address"], "Hẻm 12/3 Lê Lợi, nhà số 7");
    // Nor which khu phố it is in (which side of a street), in the app or through Open311.
    assert_eq!(staff.body["report"]["area"]["name"], "Khu phố 3");
    assert!(public.body["report"]["area"].is_null());
    let kp3 = app.get("/v1/areas", None).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_area = app.get(&format!("/v1/reports?area={kp3}"), None).await;
    assert!(!ids_in(&by_area.body, "/id").contains(&id));
    let o311 = app
        .get(
            &format!("/open311/v2/requests/{id}.json?extensions=true"),
            None,
        )
        .await;
    assert!(
        o311.body[0]["extended_attributes"]["area"].is_null(),
        "{:?}",
        o311.body
    );

    // A box around the exact point that leaves out the rounded one: the public finds nothing
    // (in the feed and on the map), staff find the report.
    let around_exact = "106.70035,10.77635,106.70045,10.77645";
    let feed = |token: Option<String>, bbox: &str| {
        let (app, bbox) = (&app, bbox.to_string());
        async move {
            app.get(&format!("/v1/reports?bbox={bbox}"), token.as_deref())
                .await
                .body
        }
    };
    assert!(!ids_in(&feed(None, around_exact).await, "/id").contains(&id));
    assert!(ids_in(&feed(Some(w.staff.clone()), around_exact).await, "/id").contains(&id));
    let map = app
        .get(
            &format!("/v1/reports/map?bbox={around_exact}&zoom=17"),
            None,
        )
        .await;
    assert!(
        !ids_in(&map.body, "/report_id").contains(&id),
        "{:?}",
        map.body
    );
    // And a box around the rounded point that leaves out the exact one finds it.
    let around_shown = "106.69995,10.77595,106.70005,10.77605";
    assert!(ids_in(&feed(None, around_shown).await, "/id").contains(&id));
    let map = app
        .get(
            &format!("/v1/reports/map?bbox={around_shown}&zoom=17"),
            None,
        )
        .await;
    assert!(
        ids_in(&map.body, "/report_id").contains(&id),
        "{:?}",
        map.body
    );

    // "Nearby" measures from the rounded point too: asked from the exact spot, it is ~62 m away.
    let near = app
        .get(
            &format!("/v1/reports/nearby?lat={lat}&lon={lon}&category=illegal_construction"),
            None,
        )
        .await;
    let found = near.body.as_array().unwrap();
    assert_eq!(found.len(), 1, "{:?}", near.body);
    let d = found[0]["distance_m"].as_f64().unwrap();
    assert!((55.0..70.0).contains(&d), "{d}");

    // The feed's cursor says nothing either. Boxes whose (grown) lower edge lies just below and
    // just above the exact latitude, both inside the rounding square: the same answer, cursor
    // included, so no search narrows the exact point down.
    let uid: uuid::Uuid = id.parse().unwrap();
    let before = uuid::Uuid::from_u128(uid.as_u128() + 1);
    let probe = |t: f64| {
        let app = &app;
        async move {
            let bbox = format!("106.699,{},106.702,{}", t + 0.0005, t + 0.0006);
            let r = app
                .get(
                    &format!(
                        "/v1/reports?bbox={bbox}&limit=1&before={before}&category=illegal_construction"
                    ),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            (r.body["items"].clone(), r.body["next_before"].clone())
        }
    };
    assert_eq!(probe(lat - 0.00002).await, probe(lat + 0.00002).await);

    // Open311: radius searches leave the category out (which page a report lands on would tell
    // its distance); a plain listing shows it rounded, without the address.
    let o = |q: String| {
        let app = &app;
        async move {
            app.get(&format!("/open311/v2/requests.json?{q}"), None)
                .await
                .body
        }
    };
    for q in [
        format!("lat={lat}&long={lon}&radius=500"),
        "lat=10.776&long=106.700&radius=500".to_string(),
        format!("lat={lat}&long={lon}&radius=500&service_code=illegal_construction"),
    ] {
        let near = o(q).await;
        assert!(
            !ids_in(&near, "/service_request_id").contains(&id),
            "{near:?}"
        );
    }
    let listed = o("service_code=illegal_construction".into()).await;
    let found: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["service_request_id"] == id.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{listed:?}");
    assert_eq!(found[0]["address"], "");
    assert_eq!(found[0]["lat"], 10.776);
    app.stop().await;
}

#[tokio::test]
async fn the_conversation_is_between_the_reporter_and_staff_and_neighbours_are_residents() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0974200001").await;
    let b = app.resident_token("0974200002").await;
    let id = reported(&app, &a, 21).await;
    let comment = |token: String, text: &'static str| {
        let (app, id) = (&app, id.clone());
        async move {
            let r = app
                .post(
                    &format!("/v1/reports/{id}/comments"),
                    Some(&token),
                    json!({ "text": text }),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        }
    };
    comment(a.clone(), "Tôi ở nhà số 14, gọi tôi lúc 18 giờ").await;
    comment(w.staff.clone(), "Chiều mai tổ sẽ đến kiểm tra").await;
    let mt = app
        .post(&format!("/v1/reports/{id}/me-too"), Some(&b), json!({}))
        .await;
    assert_eq!(mt.status, StatusCode::OK, "{:?}", mt.body);
    comment(b.clone(), "Nhà tôi cũng bị ngập").await;
    // A neighbour's photo with their comment: staff may open it, the reporter may not.
    let b_photo = upload_ok(&app, &b, &jpeg(64, 48, 23)).await;
    let r = app
        .post(
            &format!("/v1/reports/{id}/comments"),
            Some(&b),
            json!({ "media_ids": [b_photo["id"]] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let url = format!("/v1/media/{}/public.jpg", b_photo["id"].as_str().unwrap());
    app.get(&url, Some(&a))
        .await
        .assert_problem(404, "media_not_found");
    assert_eq!(app.get(&url, Some(&w.staff)).await.status, StatusCode::OK);

    let notes = |v: &Value| -> Vec<String> {
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "comment")
            .map(|e| e["note"].as_str().unwrap().to_string())
            .collect()
    };
    let seen_by_b = app.get(&format!("/v1/reports/{id}"), Some(&b)).await.body;
    assert_eq!(notes(&seen_by_b), ["Nhà tôi cũng bị ngập", ""]);
    let me_too = seen_by_b["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "me_too")
        .unwrap();
    assert_eq!(me_too["actor"], "resident");
    let seen_by_a = app.get(&format!("/v1/reports/{id}"), Some(&a)).await.body;
    assert_eq!(
        notes(&seen_by_a),
        [
            "Tôi ở nhà số 14, gọi tôi lúc 18 giờ",
            "Chiều mai tổ sẽ đến kiểm tra"
        ]
    );
    let staff_comment = seen_by_a["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["note"] == "Chiều mai tổ sẽ đến kiểm tra")
        .unwrap();
    assert_eq!(staff_comment["actor"], "staff");
    // A third-party app's user writes through Open311: for staff only, like a neighbour.
    let (_, _, key) = crate::open311::issue_key(&app, "0974200009").await;
    let c = crate::open311::post(
        &app,
        "/open311/v2/servicerequestupdates.json",
        &[
            ("api_key", &key),
            ("service_request_id", &id),
            ("description", "Qua đây thấy vẫn ngập"),
        ],
    )
    .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let seen_by_a = app.get(&format!("/v1/reports/{id}"), Some(&a)).await.body;
    assert_eq!(notes(&seen_by_a).len(), 2, "{seen_by_a:?}");
    let seen_by_staff = app
        .get(&format!("/v1/reports/{id}"), Some(&w.staff))
        .await
        .body;
    assert_eq!(notes(&seen_by_staff).len(), 5);
    assert!(notes(&app.get(&format!("/v1/reports/{id}"), None).await.body).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_late_resolution_stays_late_after_a_reopening_and_the_window_closes() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let phone_a = "0974300001";
    let a = app.resident_token(phone_a).await;
    let from = (app.state.clock.now() - chrono::Duration::hours(1)).to_rfc3339();
    let late = reported(&app, &a, 31).await;
    let timely = reported(&app, &a, 32).await;
    let resolve = |staff: String, id: String, seed: u8| {
        let (app, unit) = (&app, w.unit_id.clone());
        // (Back to the unit first: a new or reopened report is assigned before it is resolved.)
        async move { fix(app, &staff, &unit, &id, seed).await }
    };
    let reopen = |token: String, id: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/v1/reports/{id}/reopen"),
                Some(&token),
                json!({ "reason": "Vẫn còn ổ gà" }),
            )
            .await
        }
    };
    // One is fixed at once, reopened, and fixed again at once: on time.
    resolve(w.staff.clone(), timely.clone(), 1).await;
    let r = reopen(a.clone(), timely.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let reopened = app.get(&format!("/v1/reports/{timely}"), None).await;
    assert!(reopened.body["report"]["public_reply"].is_null());
    assert_eq!(reopened.body["report"]["evidence"], json!([]));
    // Open311 alike: no status notes (the reopening's reason is the reporter's), no evidence.
    let o311 = app
        .get(
            &format!("/open311/v2/requests/{timely}.json?extensions=true"),
            None,
        )
        .await;
    assert!(o311.body[0]["status_notes"].is_null(), "{:?}", o311.body);
    assert_eq!(
        o311.body[0]["extended_attributes"]["evidence_photos"],
        json!([]),
        "{:?}",
        o311.body
    );
    resolve(w.staff.clone(), timely.clone(), 2).await;

    // The other is fixed two months late, reopened, then fixed within its fresh deadline.
    app.state.clock.advance(chrono::Duration::days(60));
    let staff = app.login(STAFF_PHONE, &w.staff_password).await;
    let a = app.resident_token(phone_a).await;
    resolve(staff.clone(), late.clone(), 3).await;
    let r = reopen(a.clone(), late.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["overdue"], false, "{:?}", r.body);
    resolve(staff.clone(), late.clone(), 4).await;

    let to = (app.state.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    let s = app
        .get(
            &format!(
                "/v1/stats/reports?from={}&to={}",
                urlencode(&from),
                urlencode(&to)
            ),
            Some(&staff),
        )
        .await;
    let all = s.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(all["resolved"], 2, "{all:?}");
    assert_eq!(all["resolved_on_time"], 1, "{all:?}");

    // Past the 7-day window the reporter can no longer reopen; staff may close it.
    app.state.clock.advance(chrono::Duration::days(8));
    let staff = app.login(STAFF_PHONE, &w.staff_password).await;
    let a = app.resident_token(phone_a).await;
    reopen(a, late.clone())
        .await
        .assert_problem(409, "cannot_reopen");
    let closed = act(&app, &staff, &late, json!({ "action": "close" })).await;
    assert_eq!(closed["status"], "closed");
    app.stop().await;
}

#[tokio::test]
async fn the_staff_queue_puts_what_waits_longest_first_and_filters_and_pages() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0974400001").await;
    let first = reported(&app, &a, 41).await;
    let second = reported(&app, &a, 42).await;
    let third = reported(&app, &a, 43).await;
    let staff_id = w.staff_id.clone();
    // The second is acknowledged and assigned to the staff member; the others wait for
    // acknowledgement, which is due long before any resolution.
    act(
        &app,
        &w.staff,
        &second,
        json!({ "action": "assign", "unit_id": w.unit_id, "assignee_id": staff_id }),
    )
    .await;
    let queue = |q: &str| {
        let (app, staff, q) = (&app, w.staff.clone(), q.to_string());
        async move {
            let r = app
                .get(&format!("/v1/staff/reports{q}"), Some(&staff))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            ids_in(&r.body, "/id")
        }
    };
    assert_eq!(
        queue("").await,
        [first.clone(), third.clone(), second.clone()]
    );
    // Pages.
    assert_eq!(queue("?limit=2").await, [first.clone(), third.clone()]);
    assert_eq!(queue("?limit=2&offset=2").await, [second.as_str()]);
    assert!(queue("?limit=2&offset=4").await.is_empty());
    // Filters.
    assert_eq!(
        queue(&format!("?assignee_id={}", w.staff_id)).await,
        [second.as_str()]
    );
    assert_eq!(queue("?category=road_damage").await.len(), 3);
    assert!(queue("?category=trash").await.is_empty());
    app.get("/v1/staff/reports?category=no_such_thing", Some(&w.staff))
        .await
        .assert_problem(404, "category_not_found");
    assert!(queue("?ack_overdue=true").await.is_empty());

    // Days later, the two still unacknowledged are overdue for it, in the view and the filter.
    app.state.clock.advance(chrono::Duration::days(10));
    let staff = app.login(STAFF_PHONE, &w.staff_password).await;
    let late = app
        .get("/v1/staff/reports?ack_overdue=true", Some(&staff))
        .await;
    assert_eq!(ids_in(&late.body, "/id"), [first.clone(), third.clone()]);
    assert_eq!(late.body[0]["ack_overdue"], true);
    let seen = app
        .get(&format!("/v1/reports/{second}"), Some(&staff))
        .await;
    assert_eq!(seen.body["report"]["ack_overdue"], false);
    assert_eq!(seen.body["report"]["overdue"], true);
    app.get("/v1/staff/reports?offset=5001", Some(&staff))
        .await
        .assert_problem(400, "bad_request");
    app.stop().await;
}

#[tokio::test]
async fn a_category_sets_its_own_deadlines_and_admins_can_clear_its_unit_and_rounding() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let patch = |body: Value| {
        let (app, admin) = (&app, w.admin.clone());
        async move {
            app.call(
                Method::PATCH,
                "/v1/admin/categories/road_damage",
                Some(&admin),
                Some(body),
            )
            .await
        }
    };
    // A pothole on a main road is fixed within a working day here, acknowledged within two hours.
    let r = patch(json!({ "deadlines": [
        { "severity": "normal", "ack_hours": 2.0, "resolve_hours": 7.5 }
    ] }))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let listed = app.get("/v1/categories", None).await;
    let road = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "road_damage")
        .unwrap()
        .clone();
    let hours = |severity: &str| {
        let d = road["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["severity"] == severity)
            .unwrap();
        (
            d["ack_hours"].as_f64().unwrap(),
            d["resolve_hours"].as_f64().unwrap(),
        )
    };
    assert_eq!(hours("normal"), (2.0, 7.5));
    assert_eq!(hours("urgent"), (1.0, 7.5));
    assert_eq!(road["unit_id"], w.unit_id.as_str());

    let a = app.resident_token("0974500001").await;
    let id = reported(&app, &a, 51).await;
    let seen = app.get(&format!("/v1/reports/{id}"), None).await.body["report"].clone();
    let at = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(seen[k].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let cal = &app.state.calendar;
    assert_eq!(
        at("ack_by"),
        cal.add_working(at("created_at"), chrono::Duration::hours(2))
    );
    assert_eq!(
        at("resolve_by"),
        cal.add_working(at("created_at"), chrono::Duration::minutes(450))
    );

    // Nonsense is refused: acknowledging after resolving, past 100 working days, twice the same.
    for bad in [
        json!([{ "severity": "low", "ack_hours": 8.0, "resolve_hours": 4.0 }]),
        json!([{ "severity": "low", "ack_hours": 8.0, "resolve_hours": 1000.0 }]),
        json!([{ "severity": "low", "ack_hours": 0.0, "resolve_hours": 4.0 }]),
        json!([
            { "severity": "low", "ack_hours": 1.0, "resolve_hours": 4.0 },
            { "severity": "low", "ack_hours": 2.0, "resolve_hours": 4.0 }
        ]),
    ] {
        patch(json!({ "deadlines": bad }))
            .await
            .assert_problem(422, "validation_failed");
    }

    // `null` clears the unit and the rounding; leaving them out keeps them.
    let r = patch(json!({ "public_decimals": 3 })).await;
    assert_eq!(r.body["public_decimals"], 3);
    let r = patch(json!({ "name_en": "Damaged road" })).await;
    assert_eq!(r.body["public_decimals"], 3);
    assert_eq!(r.body["unit_id"], w.unit_id.as_str());
    let r = patch(json!({ "unit_id": null, "public_decimals": null })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["unit_id"].is_null(), "{:?}", r.body);
    assert!(r.body["public_decimals"].is_null(), "{:?}", r.body);
    // And `[]` puts the ward's defaults back.
    let r = patch(json!({ "deadlines": [] })).await;
    let normal = r.body["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["severity"] == "normal")
        .unwrap()
        .clone();
    assert_eq!(normal["resolve_hours"], 37.5);
    app.stop().await;
}

#[tokio::test]
async fn a_late_rating_does_not_bring_an_old_report_back_to_the_public_feed() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let phone = "0974600001";
    let a = app.resident_token(phone).await;
    let id = reported(&app, &a, 61).await;
    fix(&app, &w.staff, &w.unit_id, &id, 62).await;
    async fn in_feed(app: &TestApp, id: &str) -> bool {
        let feed = app.get("/v1/reports?limit=100", None).await;
        ids_in(&feed.body, "/id").iter().any(|i| i == id)
    }
    assert!(in_feed(&app, &id).await);
    // Seven months on it has left the public feed (and the map); the reporter rates it only now.
    app.state.clock.advance(chrono::Duration::days(213));
    assert!(!in_feed(&app, &id).await);
    let a = app.resident_token(phone).await;
    let r = app
        .post(
            &format!("/v1/reports/{id}/rating"),
            Some(&a),
            json!({ "stars": 5, "comment": "Tốt" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["rating"], 5);
    assert!(!in_feed(&app, &id).await, "a rating brought it back");
    // Nor does a new report marked as its duplicate (its me-too count grows).
    let staff = app.login(STAFF_PHONE, &w.staff_password).await;
    let again = reported(&app, &a, 63).await;
    act(
        &app,
        &staff,
        &again,
        json!({ "action": "duplicate", "duplicate_of": id }),
    )
    .await;
    assert!(!in_feed(&app, &id).await, "a duplicate brought it back");
    app.stop().await;
}

#[tokio::test]
async fn staff_raise_a_reports_severity_and_only_admins_lower_it() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0974700001").await;
    let id = reported(&app, &a, 71).await;
    let before = app
        .get(&format!("/v1/reports/{id}"), Some(&w.staff))
        .await
        .body["report"]
        .clone();
    assert_eq!(before["severity"], "normal");
    let grade = |token: String, severity: &'static str, reason: &'static str| {
        let (app, id) = (&app, id.clone());
        async move {
            app.post(
                &format!("/v1/staff/reports/{id}/severity"),
                Some(&token),
                json!({ "severity": severity, "reason": reason }),
            )
            .await
        }
    };
    // An open manhole: urgent. The deadlines come closer, counted from the filing.
    grade(w.staff.clone(), "urgent", "  ")
        .await
        .assert_problem(422, "validation_failed");
    let r = grade(w.staff.clone(), "urgent", "Nắp cống mở, nguy hiểm").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["severity"], "urgent");
    assert!(r.body["resolve_by"].as_str() < before["resolve_by"].as_str());
    assert!(r.body["ack_by"].as_str() <= before["ack_by"].as_str());
    // Staff may not lower it again (that would give them more time); an admin may.
    grade(w.staff.clone(), "low", "Không gấp")
        .await
        .assert_problem(403, "forbidden");
    let r = grade(w.admin.clone(), "normal", "Đã che chắn tạm").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["resolve_by"], before["resolve_by"]);
    // Residents cannot; the reason stays in the internal history, hidden from the reporter.
    grade(a.clone(), "urgent", "Gấp lắm")
        .await
        .assert_problem(403, "forbidden");
    let staff_view = app.get(&format!("/v1/reports/{id}"), Some(&w.staff)).await;
    assert_eq!(history_count(&staff_view.body, "severity"), 2);
    // Not a severity we know: 400; another unit's staff: 403; a report no longer open: 409.
    app.post(
        &format!("/v1/staff/reports/{id}/severity"),
        Some(&w.staff),
        json!({ "severity": "catastrophic", "reason": "?" }),
    )
    .await
    .assert_problem(400, "bad_request");
    let outsider_unit = app
        .post(
            "/v1/admin/units",
            Some(&w.admin),
            json!({ "name": "Tổ khác", "kind": "team" }),
        )
        .await;
    let outsider_unit = outsider_unit.body["id"].as_str().unwrap().to_string();
    act(
        &app,
        &w.admin,
        &id,
        json!({ "action": "assign", "unit_id": outsider_unit }),
    )
    .await;
    grade(w.staff.clone(), "urgent", "Gấp")
        .await
        .assert_problem(403, "forbidden");
    act(
        &app,
        &w.admin,
        &id,
        json!({ "action": "reject", "reason": "Không thuộc phường" }),
    )
    .await;
    grade(w.admin.clone(), "urgent", "Gấp")
        .await
        .assert_problem(409, "report_not_open");
    let reporter_view = app.get(&format!("/v1/reports/{id}"), Some(&a)).await;
    assert_eq!(history_count(&reporter_view.body, "severity"), 0);
    app.stop().await;
}

#[tokio::test]
async fn re_grading_a_reopened_report_counts_from_its_reopening() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let phone = "0974800001";
    let a = app.resident_token(phone).await;
    let id = reported(&app, &a, 81).await;
    // Fixed a month later, reopened by the reporter: a fresh deadline from the reopening.
    app.state.clock.advance(chrono::Duration::days(30));
    let staff = app.login(STAFF_PHONE, &w.staff_password).await;
    let a = app.resident_token(phone).await;
    fix(&app, &staff, &w.unit_id, &id, 82).await;
    let reopened = app
        .post(
            &format!("/v1/reports/{id}/reopen"),
            Some(&a),
            json!({ "reason": "Vẫn còn" }),
        )
        .await;
    assert_eq!(reopened.body["overdue"], false, "{:?}", reopened.body);
    let grade = |token: String, severity: &'static str| {
        let (app, id) = (&app, id.clone());
        async move {
            let r = app
                .post(
                    &format!("/v1/staff/reports/{id}/severity"),
                    Some(&token),
                    json!({ "severity": severity, "reason": "Xem lại" }),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
        }
    };
    // Raised: closer than the reopening's deadline, but not already past.
    let high = grade(staff.clone(), "high").await;
    assert_eq!(high["overdue"], false, "{high:?}");
    assert!(high["resolve_by"].as_str() < reopened.body["resolve_by"].as_str());
    // Lowered by an admin below where it started: never less time than it had.
    let admin = app.member(Role::Admin, "0974800009").await.1;
    let low = grade(admin, "low").await;
    assert!(
        low["resolve_by"].as_str() >= high["resolve_by"].as_str(),
        "{low:?}"
    );
    assert!(low["resolve_by"].as_str() > reopened.body["resolve_by"].as_str());
    app.stop().await;
}

#[tokio::test]
async fn a_duplicate_counts_each_person_once_and_the_capture_time_is_private() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0974900001").await;
    let b = app.resident_token("0974900002").await;
    let p = upload_ok(&app, &a, &jpeg(64, 48, 91)).await;
    let mut body = report_body(&[p["id"].as_str().unwrap()]);
    body["captured_at"] = json!("2026-12-01T08:30:00Z");
    let parent = create(&app, &a, None, body).await;
    assert_eq!(parent.status, StatusCode::CREATED, "{:?}", parent.body);
    let parent = parent.body["id"].as_str().unwrap().to_string();
    // When the photo was taken is the reporter's and staff's to see, not the public's.
    let public = app.get(&format!("/v1/reports/{parent}"), None).await;
    assert!(public.body["report"]["captured_at"].is_null());
    let own = app.get(&format!("/v1/reports/{parent}"), Some(&a)).await;
    assert!(own.body["report"]["captured_at"].is_string());

    let same_person = reported(&app, &a, 92).await;
    let other_person = reported(&app, &b, 93).await;
    let mut call = report_body(&[]);
    call["channel"] = json!("phone");
    let by_phone = create(&app, &w.staff, None, call).await;
    assert_eq!(by_phone.status, StatusCode::CREATED, "{:?}", by_phone.body);
    let by_phone = by_phone.body["id"].as_str().unwrap().to_string();
    let count = || {
        let (app, parent) = (&app, parent.clone());
        async move {
            app.get(&format!("/v1/reports/{parent}"), None).await.body["report"]["me_too_count"]
                .as_i64()
                .unwrap()
        }
    };
    for (child, want) in [(same_person, 0), (other_person, 1), (by_phone, 2)] {
        act(
            &app,
            &w.staff,
            &child,
            json!({ "action": "duplicate", "duplicate_of": parent }),
        )
        .await;
        assert_eq!(count().await, want);
    }
    app.stop().await;
}

/// Issue 16, defect 4: text made of invisible characters is empty, and a bidi override cannot
/// spoof a name in the staff and doctor screens; text is stored in NFC.
#[tokio::test]
async fn invisible_and_bidi_override_text_is_refused_and_text_is_normalised() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912555001").await;
    let photo = upload_ok(&app, &token, &jpeg(64, 64, 1)).await;
    let media = [photo["id"].as_str().unwrap()];
    let mut body = report_body(&media);
    body["description"] = json!("\u{200B}\u{200C}\u{2060}\u{FEFF}");
    create(&app, &token, None, body)
        .await
        .assert_problem(422, "validation_failed");
    let mut body = report_body(&media);
    body["description"] = json!("Cống tràn \u{202E}gnóđ ưhc");
    create(&app, &token, None, body)
        .await
        .assert_problem(422, "validation_failed");
    // Decomposed Vietnamese (a + combining tilde) is stored precomposed.
    let mut body = report_body(&media);
    body["description"] = json!("Đèn đường hỏng ở nga\u{0303} tư");
    let r = create(&app, &token, None, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["description"], "Đèn đường hỏng ở ngã tư");
    // Names: zero-width only, and a right-to-left override, are refused.
    for name in ["\u{200B}\u{200B}", "Lan\u{202E}nấhn", "\u{2067}Admin"] {
        let r = app
            .call(
                reqwest::Method::PATCH,
                "/v1/me",
                Some(&token),
                Some(json!({ "display_name": name })),
            )
            .await;
        r.assert_problem(422, "validation_failed");
    }
    // A comment of invisible characters alone is refused too.
    let id = r.body["id"].as_str().unwrap();
    let c = app
        .post(
            &format!("/v1/reports/{id}/comments"),
            Some(&token),
            json!({ "text": "\u{200B}\u{200B}" }),
        )
        .await;
    c.assert_problem(422, "validation_failed");
    app.stop().await;
}

/// Issue 16, defect 8: the spec's limit on a description is the rule's, 4,000 characters.
#[tokio::test]
async fn the_spec_and_the_rules_agree_on_the_description_limit() {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../openapi/wardline.yaml")).unwrap();
    let max =
        &spec["components"]["schemas"]["CreateReport"]["properties"]["description"]["maxLength"];
    assert_eq!(max.as_u64(), Some(4000));
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912555002").await;
    let photo = upload_ok(&app, &token, &jpeg(64, 64, 2)).await;
    let media = [photo["id"].as_str().unwrap()];
    let mut body = report_body(&media);
    body["description"] = json!("đ".repeat(4000));
    let r = create(&app, &token, None, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let mut body = report_body(&media);
    body["description"] = json!("đ".repeat(4001));
    let r = create(&app, &token, None, body).await;
    assert!(r.status.is_client_error(), "{:?}", r.status);
    app.stop().await;
}

/// Issue 18's deadline clock: staff see the deadline a report waits on and the working minutes
/// to it (the ward's calendar), negative once late; nobody else sees them.
#[tokio::test]
async fn staff_see_the_working_time_left_to_the_deadline() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let token = app.resident_token("0912700001").await;
    let id = reported(&app, &token, 4).await;
    let item = |body: &Value| {
        body.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id.as_str())
            .unwrap()
            .clone()
    };
    let queue = app.get("/v1/staff/reports", Some(&w.staff)).await;
    let r = item(&queue.body);
    assert_eq!(r["deadline"], r["ack_by"], "waiting to be acknowledged");
    let total = r["working_minutes_total"].as_i64().unwrap();
    let left = r["working_minutes_left"].as_i64().unwrap();
    assert!(total > 0 && (0..=total).contains(&left), "{total} {left}");
    assert!(r["acknowledged_at"].is_null());
    // Acknowledged: the clock moves on to resolve-by.
    act(&app, &w.staff, &id, json!({ "action": "receive" })).await;
    let r = item(&app.get("/v1/staff/reports", Some(&w.staff)).await.body);
    assert_eq!(r["deadline"], r["resolve_by"]);
    assert!(r["acknowledged_at"].is_string());
    // A month later it is late, by working time.
    app.state.clock.advance(chrono::Duration::days(30));
    let staff = app.login(STAFF_PHONE, &w.staff_password).await;
    let r = item(&app.get("/v1/staff/reports", Some(&staff)).await.body);
    assert!(r["working_minutes_left"].as_i64().unwrap() < 0, "{r}");
    // The public sees no clock (nor does the reporter: the clock is staff's).
    let mine = app.get(&format!("/v1/reports/{id}"), None).await;
    assert!(mine.body["report"]["working_minutes_left"].is_null());
    assert!(mine.body["report"]["deadline"].is_null());
    app.stop().await;
}

/// Issue 18: staff assign reports to colleagues by name: a unit lists its staff with their names
/// (no phone numbers).
#[tokio::test]
async fn units_name_their_staff_for_colleagues() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let units = app.get("/v1/units", Some(&w.staff)).await;
    assert_eq!(units.status, StatusCode::OK, "{:?}", units.body);
    let unit = units
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == w.unit_id.as_str())
        .unwrap();
    assert_eq!(unit["staff"][0]["id"], w.staff_id.as_str());
    assert_eq!(unit["staff"][0]["display_name"], "Test Person");
    assert!(unit["staff"][0]["phone"].is_null());
    app.stop().await;
}
