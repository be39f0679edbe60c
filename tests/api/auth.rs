use reqwest::StatusCode;
use serde_json::json;
use wardline::auth::Role;

use crate::helpers::{TestApp, token_of};

#[tokio::test]
async fn resident_signs_in_by_code_refreshes_and_reads_me() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0912 345 678" }))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["expires_in"], 300);
    let code = app.last_code("+84912345678").await;

    let r = app
        .post(
            "/v1/auth/otp/verify",
            None,
            json!({ "phone": "+84 912 345 678", "code": code }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "first sign-in creates the account: {:?}",
        r.body
    );
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();

    let me = app.get("/v1/me", Some(&token_of(&r.body))).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["phone"], "+84912345678");
    assert_eq!(me.body["role"], "resident");
    assert_eq!(me.body["language"], "vi");

    let r2 = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await;
    assert_eq!(r2.status, StatusCode::OK, "{:?}", r2.body);
    assert_ne!(r2.body["refresh_token"], refresh.as_str());
    let me = app.get("/v1/me", Some(&token_of(&r2.body))).await;
    assert_eq!(me.status, StatusCode::OK);

    // The same code cannot be used twice.
    let again = app
        .post(
            "/v1/auth/otp/verify",
            None,
            json!({ "phone": "0912345678", "code": code }),
        )
        .await;
    again.assert_problem(401, "invalid_otp");
    app.stop().await;
}

#[tokio::test]
async fn second_sign_in_is_200_and_profile_updates() {
    let app = TestApp::spawn().await;
    app.resident("0901000001").await;
    app.state.clock.advance(chrono::Duration::minutes(2));
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0901000001" }))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let code = app.last_code("+84901000001").await;
    let r = app
        .post(
            "/v1/auth/otp/verify",
            None,
            json!({ "phone": "0901000001", "code": code }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let token = token_of(&r.body);
    let p = app
        .call(
            reqwest::Method::PATCH,
            "/v1/me",
            Some(&token),
            Some(json!({ "display_name": "  Nguyễn Văn A ", "language": "en" })),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["display_name"], "Nguyễn Văn A");
    assert_eq!(p.body["language"], "en");
    let bad = app
        .call(
            reqwest::Method::PATCH,
            "/v1/me",
            Some(&token),
            Some(json!({ "display_name": "   " })),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    let bad = app
        .call(
            reqwest::Method::PATCH,
            "/v1/me",
            Some(&token),
            Some(json!({ "language": "fr" })),
        )
        .await;
    bad.assert_problem(400, "bad_request");
    app.stop().await;
}

#[tokio::test]
async fn codes_are_stored_hashed_expire_and_allow_five_attempts() {
    let app = TestApp::spawn().await;
    app.post("/v1/auth/otp", None, json!({ "phone": "0902000002" }))
        .await;
    let code = app.last_code("+84902000002").await;
    let stored: Vec<String> = wardline::on_db!(&app.state.db, pool => sqlx::query_scalar("SELECT code_hash FROM otp_challenges").fetch_all(pool).await).unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&code), "the code itself is not stored");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = app
            .post(
                "/v1/auth/otp/verify",
                None,
                json!({ "phone": "0902000002", "code": wrong }),
            )
            .await;
        r.assert_problem(401, "invalid_otp");
    }
    // The sixth try is refused even with the right code.
    let r = app
        .post(
            "/v1/auth/otp/verify",
            None,
            json!({ "phone": "0902000002", "code": code }),
        )
        .await;
    r.assert_problem(429, "otp_attempts_exceeded");
    assert!(r.headers.get("retry-after").is_some());

    // A new code, left to expire.
    app.state.clock.advance(chrono::Duration::minutes(1));
    app.post("/v1/auth/otp", None, json!({ "phone": "0902000002" }))
        .await;
    let code = app.last_code("+84902000002").await;
    app.state.clock.advance(chrono::Duration::minutes(6));
    let r = app
        .post(
            "/v1/auth/otp/verify",
            None,
            json!({ "phone": "0902000002", "code": code }),
        )
        .await;
    r.assert_problem(401, "invalid_otp");

    let r = app
        .post(
            "/v1/auth/otp/verify",
            None,
            json!({ "phone": "0902000002", "code": "12ab56" }),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    app.stop().await;
}

#[tokio::test]
async fn code_requests_are_rate_limited_per_phone_and_per_address() {
    let app = TestApp::spawn_with(|s| {
        s.otp_per_phone_per_hour = 3;
        s.otp_per_ip_per_hour = 5;
        s.otp_resend_secs = 30;
    })
    .await;
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0903000003" }))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // Too soon after the last one.
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0903000003" }))
        .await;
    r.assert_problem(429, "otp_rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    for _ in 0..2 {
        app.state.clock.advance(chrono::Duration::seconds(31));
        let r = app
            .post("/v1/auth/otp", None, json!({ "phone": "0903000003" }))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    app.state.clock.advance(chrono::Duration::seconds(31));
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0903000003" }))
        .await;
    r.assert_problem(429, "otp_rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 30 && retry <= 3600, "{retry}");

    // Per address: 3 used already; two other phones pass, the third is refused.
    for phone in ["0903000004", "0903000005"] {
        let r = app
            .post("/v1/auth/otp", None, json!({ "phone": phone }))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0903000006" }))
        .await;
    r.assert_problem(429, "otp_rate_limited");

    // An hour later everything is allowed again.
    app.state.clock.advance(chrono::Duration::minutes(61));
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0903000006" }))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    app.stop().await;
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_whole_sign_in() {
    let app = TestApp::spawn().await;
    let first = app.resident("0904000004").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second = app
        .post("/v1/auth/refresh", None, json!({ "refresh_token": r1 }))
        .await;
    assert_eq!(second.status, StatusCode::OK);
    let r2 = second.body["refresh_token"].as_str().unwrap();

    // Someone replays the first token: refused, and the family dies.
    let replay = app
        .post("/v1/auth/refresh", None, json!({ "refresh_token": r1 }))
        .await;
    replay.assert_problem(401, "refresh_token_reused");
    let after = app
        .post("/v1/auth/refresh", None, json!({ "refresh_token": r2 }))
        .await;
    after.assert_problem(401, "invalid_refresh_token");

    // Garbage and logout.
    app.post("/v1/auth/refresh", None, json!({ "refresh_token": "nope" }))
        .await
        .assert_problem(401, "invalid_refresh_token");
    let fresh = app.resident_token("0904000005").await;
    let _ = fresh;
    app.state.clock.advance(chrono::Duration::minutes(1));
    let s = app.resident("0904000006").await;
    let out = app
        .post(
            "/v1/auth/logout",
            None,
            json!({ "refresh_token": s["refresh_token"] }),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    app.post(
        "/v1/auth/refresh",
        None,
        json!({ "refresh_token": s["refresh_token"] }),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");
    app.stop().await;
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let s = app.resident("0905000005").await;
    let body = json!({ "refresh_token": s["refresh_token"] });
    let (a, b) = tokio::join!(
        app.post("/v1/auth/refresh", None, body.clone()),
        app.post("/v1/auth/refresh", None, body.clone())
    );
    let ok = [a.status, b.status]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{:?} {:?}", a.body, b.body);
    app.stop().await;
}

#[tokio::test]
async fn staff_sign_in_with_password_and_failures_look_alike_and_are_limited() {
    let app = TestApp::spawn_with(|s| s.login_failures_per_15min = 3).await;
    let (account, password) = app
        .state
        .auth
        .create_account("0906000006", "Chị Lan", Role::Staff)
        .await
        .unwrap();
    let ok = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0906 000 006", "password": password }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let me = app.get("/v1/me", Some(&token_of(&ok.body))).await;
    assert_eq!(me.body["id"], account.account_id.to_string());
    assert_eq!(me.body["role"], "staff");
    assert_eq!(me.body["password_must_change"], true);

    let wrong = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0906000006", "password": "wrong-password" }),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    let unknown = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0906999999", "password": "whatever-pass" }),
        )
        .await;
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
    let garbage = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "not a phone", "password": "x" }),
        )
        .await;
    garbage.assert_problem(401, "invalid_credentials");

    // Residents have no password.
    app.resident("0906000007").await;
    app.post(
        "/v1/auth/login",
        None,
        json!({ "phone": "0906000007", "password": "" }),
    )
    .await
    .assert_problem(401, "invalid_credentials");

    for _ in 0..2 {
        app.post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0906000006", "password": "wrong-again" }),
        )
        .await;
    }
    let limited = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0906000006", "password": password }),
        )
        .await;
    limited.assert_problem(429, "login_rate_limited");
    assert!(limited.headers.get("retry-after").is_some());
    app.state.clock.advance(chrono::Duration::minutes(16));
    let ok = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0906000006", "password": password }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    // Change the one-time password.
    let t = token_of(&ok.body);
    let short = app
        .post(
            "/v1/me/password",
            Some(&t),
            json!({ "current_password": password, "new_password": "short" }),
        )
        .await;
    short.assert_problem(422, "validation_failed");
    let changed = app
        .post(
            "/v1/me/password",
            Some(&t),
            json!({ "current_password": password, "new_password": "a much longer secret" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    let me = app.get("/v1/me", Some(&t)).await;
    assert_eq!(me.body["password_must_change"], false);
    app.post(
        "/v1/auth/login",
        None,
        json!({ "phone": "0906000006", "password": password }),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    let ok = app
        .post(
            "/v1/auth/login",
            None,
            json!({ "phone": "0906000006", "password": "a much longer secret" }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_code_does_not_sign_in_staff() {
    let app = TestApp::spawn().await;
    app.state
        .auth
        .create_account("0907000007", "Bác sĩ Minh", Role::Doctor)
        .await
        .unwrap();
    app.post("/v1/auth/otp", None, json!({ "phone": "0907000007" }))
        .await;
    let code = app.last_code("+84907000007").await;
    let r = app
        .post(
            "/v1/auth/otp/verify",
            None,
            json!({ "phone": "0907000007", "code": code }),
        )
        .await;
    r.assert_problem(401, "wrong_role");
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_account_is_refused_even_with_a_valid_token() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.member(Role::Admin, "0908000001").await;
    let resident = app.resident("0908000002").await;
    let token = token_of(&resident);
    let me = app.get("/v1/me", Some(&token)).await;
    let id = me.body["id"].as_str().unwrap().to_string();

    let d = app
        .post(
            &format!("/v1/admin/accounts/{id}/disable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(d.body["disabled"], true);
    app.get("/v1/me", Some(&token))
        .await
        .assert_problem(401, "account_disabled");
    app.post(
        "/v1/auth/refresh",
        None,
        json!({ "refresh_token": resident["refresh_token"] }),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");
    app.state.clock.advance(chrono::Duration::minutes(1));
    app.post("/v1/auth/otp", None, json!({ "phone": "0908000002" }))
        .await;
    let code = app.last_code("+84908000002").await;
    app.post(
        "/v1/auth/otp/verify",
        None,
        json!({ "phone": "0908000002", "code": code }),
    )
    .await
    .assert_problem(401, "account_disabled");

    let e = app
        .post(
            &format!("/v1/admin/accounts/{id}/enable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(e.body["disabled"], false);
    app.get("/v1/me", Some(&token)).await;
    assert_eq!(app.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn codes_go_to_the_configured_sms_gateway() {
    use poem::{EndpointExt, handler, web::Json as PJson};
    // A real HTTP gateway on loopback that records what it is sent.
    let (tx, mut rx) =
        tokio::sync::mpsc::unbounded_channel::<(Option<String>, serde_json::Value)>();
    #[handler]
    async fn gateway(
        req: &poem::Request,
        body: PJson<serde_json::Value>,
        tx: poem::web::Data<
            &tokio::sync::mpsc::UnboundedSender<(Option<String>, serde_json::Value)>,
        >,
    ) -> &'static str {
        let auth = req.header("authorization").map(str::to_string);
        let _ = tx.send((auth, body.0));
        "ok"
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let server = poem::Server::new(poem::listener::TcpListener::bind(addr.to_string()));
    let gw = tokio::spawn(server.run(poem::Route::new().at("/sms", poem::post(gateway)).data(tx)));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let app = TestApp::spawn_with(|s| {
        s.sms_webhook_url = Some(format!("http://{addr}/sms"));
        s.sms_webhook_token = Some(wardline::config::Secret::new("gateway-token"));
    })
    .await;
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0918000001" }))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let (auth, body) = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer gateway-token"));
    assert_eq!(body["to"], "+84918000001");
    let text = body["body"].as_str().unwrap();
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_string();
    let v = app
        .post(
            "/v1/auth/otp/verify",
            None,
            json!({ "phone": "0918000001", "code": code }),
        )
        .await;
    assert_eq!(v.status, StatusCode::CREATED);
    app.stop().await;

    // A gateway that is down: the resident is told to retry later, not a 500.
    gw.abort();
    let _ = gw.await;
    let app = TestApp::spawn_with(|s| s.sms_webhook_url = Some(format!("http://{addr}/sms"))).await;
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": "0918000002" }))
        .await;
    r.assert_problem(503, "sms_unavailable");
    app.stop().await;
}
