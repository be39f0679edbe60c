//! Gate 9 (abuse), the parts not covered elsewhere: per-account hourly limits on report creation
//! and photo uploads (429 with `Retry-After`), and the CORS allow-list for a browser console.
//! (OTP and sign-in limits: `auth.rs`; body and multipart limits, security headers: `ops.rs`,
//! `hostile.rs`, `reports.rs`.)

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wardline::auth::Role;

use crate::helpers::{Resp, TestApp};
use crate::photos::{jpeg, upload};

fn report(n: u32) -> Value {
    // Blocked drains need no photo; far enough apart not to be offered as duplicates.
    json!({
        "category_code": "drain_blocked",
        "description": format!("Cống tắc số {n}"),
        "lat": 10.77 + f64::from(n) * 0.01, "lon": 106.70
    })
}

async fn create(app: &TestApp, token: &str, key: Option<&str>, body: Value) -> Resp {
    let mut req = app
        .client
        .post(app.url("/v1/reports"))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    Resp::read(req.send().await.unwrap()).await
}

/// 429 with the limit's code and a `Retry-After` within the hour.
fn assert_limited(r: &Resp, code: &str) -> u64 {
    r.assert_problem(429, code);
    let retry: u64 = r
        .headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "Retry-After {retry}");
    retry
}

#[tokio::test]
async fn residents_create_a_bounded_number_of_reports_per_hour() {
    let app = TestApp::spawn_with(|s| {
        s.reports_per_resident_per_hour = 2;
        s.access_token_ttl_secs = 4 * 3600;
    })
    .await;
    let a = app.resident_token("0974100001").await;
    let b = app.resident_token("0974100002").await;
    let (_, staff) = app.member(Role::Staff, "0974100003").await;

    let first = create(&app, &a, Some("k-1"), report(1)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    app.state.clock.advance(Duration::minutes(10));
    let r = create(&app, &a, None, report(2)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = create(&app, &a, None, report(3)).await;
    let retry = assert_limited(&r, "report_rate_limited");
    // The window opened with the first report, ten minutes ago.
    assert!((2940..=3000).contains(&retry), "Retry-After {retry}");
    // Nothing was created by the refused request.
    let mine = app.get("/v1/me/reports", Some(&a)).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 2);

    // A phone retrying the first submission still gets its answer, not a 429.
    let again = create(&app, &a, Some("k-1"), report(1)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    // Others are not affected; staff entering walk-ins are not limited.
    let r = create(&app, &b, None, report(4)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    for n in 5..8 {
        let mut body = report(n);
        body["channel"] = json!("counter");
        let r = create(&app, &staff, None, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }

    // Once the first report is an hour old, A may report again.
    app.state.clock.advance(Duration::minutes(51));
    let r = create(&app, &a, None, report(9)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn photo_uploads_are_bounded_per_hour_and_zero_means_no_limit() {
    let app = TestApp::spawn_with(|s| s.uploads_per_resident_per_hour = 2).await;
    let a = app.resident_token("0974200001").await;
    for seed in 1..=2 {
        let r = upload(&app, &a, &jpeg(32, 32, seed), "image/jpeg").await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let r = upload(&app, &a, &jpeg(32, 32, 3), "image/jpeg").await;
    assert_limited(&r, "upload_rate_limited");
    let b = app.resident_token("0974200002").await;
    let r = upload(&app, &b, &jpeg(32, 32, 4), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    app.stop().await;

    let app = TestApp::spawn_with(|s| {
        s.uploads_per_resident_per_hour = 0;
        s.reports_per_resident_per_hour = 0;
    })
    .await;
    let a = app.resident_token("0974200003").await;
    for n in 1..=4 {
        let r = upload(&app, &a, &jpeg(32, 32, n as u8), "image/jpeg").await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = create(&app, &a, None, report(n)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    app.stop().await;
}

const CONSOLE: &str = "https://console.example-ward.vn";

async fn with_origin(app: &TestApp, method: Method, path: &str, origin: &str) -> Resp {
    let r = app
        .client
        .request(method, app.url(path))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    Resp::read(r).await
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> Resp {
    let r = app
        .client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    Resp::read(r).await
}

fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn cors_answers_only_the_listed_origins() {
    let app = TestApp::spawn_with(|s| {
        s.cors_origins = format!("{CONSOLE}, http://localhost:5173");
    })
    .await;
    // A listed console reads answers, problems included.
    let r = with_origin(&app, Method::GET, "/v1/reports", CONSOLE).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(CONSOLE));
    assert!(
        header(&r, "vary")
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("origin")
    );
    let exposed = header(&r, "access-control-expose-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(
        exposed.contains("retry-after") && exposed.contains("x-request-id"),
        "{exposed}"
    );
    let r = with_origin(&app, Method::GET, "/v1/me", "http://localhost:5173").await;
    r.assert_problem(401, "missing_token");
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    // The preflight of a signed-in POST.
    let r = preflight(&app, "/v1/reports", CONSOLE).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(CONSOLE));
    let methods = header(&r, "access-control-allow-methods").unwrap_or("");
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let headers = header(&r, "access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    for h in ["authorization", "content-type", "idempotency-key"] {
        assert!(headers.contains(h), "{headers}");
    }
    assert!(header(&r, "access-control-max-age").is_some());
    assert!(header(&r, "access-control-allow-credentials").is_none());

    // Anyone else gets no CORS headers (the browser then refuses to hand over the answer).
    for origin in [
        "https://evil.example",
        "https://console.example-ward.vn.evil.example",
        "null",
    ] {
        let r = with_origin(&app, Method::GET, "/v1/reports", origin).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            header(&r, "access-control-allow-origin").is_none(),
            "{origin}"
        );
        let r = preflight(&app, "/v1/reports", origin).await;
        assert!(
            header(&r, "access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert!(
            header(&r, "access-control-allow-methods").is_none(),
            "{origin}"
        );
    }
    app.stop().await;

    // Unset (the default): no CORS at all.
    let app = TestApp::spawn().await;
    let r = with_origin(&app, Method::GET, "/v1/reports", CONSOLE).await;
    assert!(header(&r, "access-control-allow-origin").is_none());
    let r = preflight(&app, "/v1/reports", CONSOLE).await;
    assert!(header(&r, "access-control-allow-origin").is_none());
    app.stop().await;
}

#[test]
fn cors_origins_must_be_bare_origins() {
    use wardline::config::Settings;
    let load = |v: &str| Settings::load_from(None, &[("WARDLINE_CORS_ORIGINS".into(), v.into())]);
    assert!(load("https://console.example-ward.vn, http://localhost:5173").is_ok());
    assert!(load("").is_ok());
    for bad in [
        "*",
        "console.example-ward.vn",
        "https://x.vn/app",
        "ftp://x.vn",
        "https://x.vn/",
    ] {
        assert!(load(bad).is_err(), "{bad}");
    }
}
