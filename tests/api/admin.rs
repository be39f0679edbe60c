use reqwest::{Method, StatusCode};
use serde_json::json;
use wardline::auth::Role;

use crate::helpers::TestApp;

#[tokio::test]
async fn admin_creates_lists_resets_and_disables_accounts() {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.member(Role::Admin, "0911000001").await;

    let c = app
        .post(
            "/v1/admin/accounts",
            Some(&admin),
            json!({ "phone": "0911 000 002", "display_name": "Anh Tuấn", "role": "staff" }),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    assert_eq!(c.body["account"]["role"], "staff");
    assert_eq!(c.body["account"]["phone"], "+84911000002");
    let password = c.body["one_time_password"].as_str().unwrap().to_string();
    assert!(password.len() >= 12);
    let staff_id = c.body["account"]["id"].as_str().unwrap().to_string();

    let login = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0911000002", "password": password }),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);

    let dup = app
        .post(
            "/v1/admin/accounts",
            Some(&admin),
            json!({ "phone": "+84911000002", "display_name": "Again", "role": "doctor" }),
        )
        .await;
    dup.assert_problem(409, "phone_taken");
    let resident = app
        .post(
            "/v1/admin/accounts",
            Some(&admin),
            json!({ "phone": "0911000003", "display_name": "R", "role": "resident" }),
        )
        .await;
    resident.assert_problem(422, "validation_failed");
    let bad_role = app
        .post(
            "/v1/admin/accounts",
            Some(&admin),
            json!({ "phone": "0911000003", "display_name": "R", "role": "superuser" }),
        )
        .await;
    bad_role.assert_problem(400, "bad_request");

    let list = app.get("/v1/admin/accounts?role=staff", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], staff_id.as_str());

    // Pagination walks every account once.
    for i in 0..3 {
        app.post(
            "/v1/admin/accounts",
            Some(&admin),
            json!({ "phone": format!("09110001{i:02}"), "display_name": "D", "role": "doctor" }),
        )
        .await;
    }
    let mut seen = vec![];
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/admin/accounts?limit=2&after={a}"),
            None => "/v1/admin/accounts?limit=2".into(),
        };
        let page = app.get(&path, Some(&admin)).await;
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        match page.body["next_after"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    app.get("/v1/admin/accounts?limit=0", Some(&admin))
        .await
        .assert_problem(400, "bad_request");
    app.get("/v1/admin/accounts?limit=9999", Some(&admin))
        .await
        .assert_problem(400, "bad_request");

    let reset = app
        .post(
            &format!("/v1/admin/accounts/{staff_id}/reset-password"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    let new_password = reset.body["one_time_password"].as_str().unwrap();
    app.post(
        "/v1/auth/login",
        None,
        json!({ "phone": "0911000002", "password": password }),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    let ok = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0911000002", "password": new_password }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    app.post(
        &format!("/v1/admin/accounts/{admin_id}/disable"),
        Some(&admin),
        json!({}),
    )
    .await
    .assert_problem(409, "cannot_disable_self");
    let missing = uuid::Uuid::now_v7();
    app.post(
        &format!("/v1/admin/accounts/{missing}/disable"),
        Some(&admin),
        json!({}),
    )
    .await
    .assert_problem(404, "account_not_found");
    app.get(&format!("/v1/admin/accounts/{missing}"), Some(&admin))
        .await
        .assert_problem(404, "account_not_found");
    app.get("/v1/admin/accounts/not-a-uuid", Some(&admin))
        .await
        .assert_problem(400, "bad_request");
    app.stop().await;
}

#[tokio::test]
async fn only_admins_reach_admin_endpoints() {
    let app = TestApp::spawn().await;
    let resident = app.resident_token("0912000001").await;
    let (_, staff) = app.member(Role::Staff, "0912000002").await;
    let (doctor_id, doctor) = app.member(Role::Doctor, "0912000003").await;
    let (_, admin) = app.member(Role::Admin, "0912000004").await;
    let unit = app
        .post(
            "/v1/admin/units",
            Some(&admin),
            json!({ "name": "Tổ công trình", "kind": "team" }),
        )
        .await;
    let unit_id = unit.body["id"].as_str().unwrap().to_string();

    let calls: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, "/v1/admin/accounts".into(), None),
        (
            Method::POST,
            "/v1/admin/accounts".into(),
            Some(json!({ "phone": "0912000009", "display_name": "X", "role": "staff" })),
        ),
        (Method::GET, format!("/v1/admin/accounts/{doctor_id}"), None),
        (
            Method::POST,
            format!("/v1/admin/accounts/{doctor_id}/disable"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/admin/accounts/{doctor_id}/enable"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/admin/accounts/{doctor_id}/reset-password"),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/admin/units".into(),
            Some(json!({ "name": "Khu phố 1", "kind": "neighbourhood" })),
        ),
        (
            Method::PUT,
            format!("/v1/admin/units/{unit_id}/members/{doctor_id}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/admin/units/{unit_id}/members/{doctor_id}"),
            None,
        ),
        (
            Method::POST,
            "/v1/admin/stations".into(),
            Some(json!({ "name": "Trạm y tế phường", "address": "1 Lê Lợi" })),
        ),
        (
            Method::PUT,
            format!("/v1/admin/stations/{unit_id}/doctors/{doctor_id}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/admin/stations/{unit_id}/doctors/{doctor_id}"),
            None,
        ),
    ];
    for (method, path, body) in &calls {
        let anon = app.call(method.clone(), path, None, body.clone()).await;
        anon.assert_problem(401, "missing_token");
        for token in [&resident, &staff, &doctor] {
            let r = app
                .call(method.clone(), path, Some(token), body.clone())
                .await;
            r.assert_problem(403, "forbidden");
        }
    }
    // Units are for staff and admins; stations for anyone signed in.
    app.get("/v1/units", Some(&resident))
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/units", Some(&doctor))
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(
        app.get("/v1/units", Some(&staff)).await.status,
        StatusCode::OK
    );
    app.get("/v1/stations", None)
        .await
        .assert_problem(401, "missing_token");
    assert_eq!(
        app.get("/v1/stations", Some(&resident)).await.status,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn units_and_stations_take_only_the_right_roles() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.member(Role::Admin, "0913000001").await;
    let (staff_id, staff) = app.member(Role::Staff, "0913000002").await;
    let (doctor_id, _) = app.member(Role::Doctor, "0913000003").await;
    let resident = app.resident_token("0913000004").await;

    let unit = app
        .post(
            "/v1/admin/units",
            Some(&admin),
            json!({ "name": "Khu phố Trần Thánh Tông", "kind": "neighbourhood" }),
        )
        .await;
    assert_eq!(unit.status, StatusCode::CREATED, "{:?}", unit.body);
    let unit_id = unit.body["id"].as_str().unwrap();
    app.post(
        "/v1/admin/units",
        Some(&admin),
        json!({ "name": "Khu phố Trần Thánh Tông", "kind": "team" }),
    )
    .await
    .assert_problem(409, "unit_name_taken");
    app.post(
        "/v1/admin/units",
        Some(&admin),
        json!({ "name": "", "kind": "team" }),
    )
    .await
    .assert_problem(422, "validation_failed");

    let put = |path: String| {
        let (app, admin) = (&app, &admin);
        async move { app.call(Method::PUT, &path, Some(admin), None).await }
    };
    assert_eq!(
        put(format!("/v1/admin/units/{unit_id}/members/{staff_id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(format!("/v1/admin/units/{unit_id}/members/{staff_id}"))
            .await
            .status,
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    put(format!("/v1/admin/units/{unit_id}/members/{doctor_id}"))
        .await
        .assert_problem(409, "wrong_role");
    let nowhere = uuid::Uuid::now_v7();
    put(format!("/v1/admin/units/{nowhere}/members/{staff_id}"))
        .await
        .assert_problem(404, "unit_not_found");
    put(format!("/v1/admin/units/{unit_id}/members/{nowhere}"))
        .await
        .assert_problem(404, "account_not_found");

    let units = app.get("/v1/units", Some(&staff)).await;
    assert_eq!(units.body[0]["members"][0], staff_id.to_string());

    let station = app
        .post(
            "/v1/admin/stations",
            Some(&admin),
            json!({ "name": "Trạm y tế phường Bến Nghé", "address": "29 Nguyễn Trung Trực" }),
        )
        .await;
    assert_eq!(station.status, StatusCode::CREATED);
    let station_id = station.body["id"].as_str().unwrap();
    assert_eq!(
        put(format!(
            "/v1/admin/stations/{station_id}/doctors/{doctor_id}"
        ))
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    put(format!(
        "/v1/admin/stations/{station_id}/doctors/{staff_id}"
    ))
    .await
    .assert_problem(409, "wrong_role");

    let for_resident = app.get("/v1/stations", Some(&resident)).await;
    assert_eq!(for_resident.body[0]["name"], "Trạm y tế phường Bến Nghé");
    assert_eq!(
        for_resident.body[0]["doctors"].as_array().unwrap().len(),
        0,
        "residents do not get the roster"
    );
    let for_staff = app.get("/v1/stations", Some(&staff)).await;
    assert_eq!(for_staff.body[0]["doctors"][0], doctor_id.to_string());

    let del = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/stations/{station_id}/doctors/{doctor_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let for_staff = app.get("/v1/stations", Some(&staff)).await;
    assert_eq!(for_staff.body[0]["doctors"].as_array().unwrap().len(), 0);
    app.stop().await;
}
