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
    step(json!({ "action": "start" }))
        .await
        .assert_problem(409, "illegal_transition");
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

    // After the window it closes by itself.
    app.state.clock.advance(chrono::Duration::days(8));
    assert_eq!(
        wardline::reports::close_expired(&app.state).await.unwrap(),
        1
    );
    let closed = app.get(&format!("/v1/reports/{report_id}"), None).await;
    assert_eq!(closed.body["report"]["status"], "closed");
    let _ = w.admin;
    app.stop().await;
}

#[tokio::test]
async fn reopen_within_the_window_and_duplicates_merge_followers() {
    let app = TestApp::spawn().await;
    let w = ward(&app).await;
    let a = app.resident_token("0972000001").await;
    let b = app.resident_token("0972000002").await;
    let p = upload_ok(&app, &a, &jpeg(320, 240, 3)).await;
    let first = create(&app, &a, None, report_body(&[p["id"].as_str().unwrap()])).await;
    let first_id = first.body["id"].as_str().unwrap().to_string();
    let pb = upload_ok(&app, &b, &jpeg(320, 240, 4)).await;
    let second = create(&app, &b, None, report_body(&[pb["id"].as_str().unwrap()])).await;
    let second_id = second.body["id"].as_str().unwrap().to_string();

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
        .assert_problem(415, "unsupported_media_type");
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
    create(&app, &a, None, body)
        .await
        .assert_problem(422, "validation_failed");
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
