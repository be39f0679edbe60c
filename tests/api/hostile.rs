//! Hostile input: always a problem response with a 4xx, never a 500, a panic or a hang.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Resp, TestApp};

#[tokio::test]
async fn malformed_bodies_wrong_types_and_content_types() {
    let app = TestApp::spawn().await;
    let send = |body: &'static str, ct: &'static str| {
        let req = app
            .client
            .post(app.url("/v1/auth/otp"))
            .header("content-type", ct)
            .body(body);
        async move { Resp::read(req.send().await.unwrap()).await }
    };
    send("{\"phone\":", "application/json")
        .await
        .assert_problem(400, "bad_request");
    send("[]", "application/json")
        .await
        .assert_problem(400, "bad_request");
    // A number where a string belongs is read as its digits, then refused as a phone.
    send("{\"phone\": 12}", "application/json")
        .await
        .assert_problem(422, "validation_failed");
    send("{}", "application/json")
        .await
        .assert_problem(400, "bad_request");
    send("\u{0}\u{1}", "application/json")
        .await
        .assert_problem(400, "bad_request");
    send("phone=0912345678", "application/x-www-form-urlencoded")
        .await
        .assert_problem(415, "unsupported_media_type");
    let none = Resp::read(
        app.client
            .post(app.url("/v1/auth/otp"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(none.status.is_client_error());
    assert_eq!(none.headers["content-type"], "application/problem+json");
    let long = format!("{{\"phone\":\"{}\"}}", "9".repeat(100));
    let r = Resp::read(
        app.client
            .post(app.url("/v1/auth/otp"))
            .header("content-type", "application/json")
            .body(long)
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Past the spec's limit: the field and the limit are named, in the caller's language.
    r.assert_problem(400, "bad_request");
    assert_eq!(r.body["errors"][0]["field"], "phone", "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("maxLength") && detail.contains("vượt giới hạn"),
        "{detail}"
    );
    let garbage_phone = app
        .post("/v1/auth/otp", None, json!({ "phone": "call me maybe" }))
        .await;
    garbage_phone.assert_problem(422, "validation_failed");
    assert_eq!(garbage_phone.body["errors"][0]["field"], "phone");
    assert_eq!(garbage_phone.body["errors"][0]["code"], "invalid_phone");
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_however_they_are_sent() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4096).await;
    let big = format!("{{\"phone\":\"{}\"}}", " ".repeat(8000));
    let r = Resp::read(
        app.client
            .post(app.url("/v1/auth/otp"))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(413, "payload_too_large");
    // Chunked, no Content-Length.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = big
        .as_bytes()
        .chunks(1000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = Resp::read(
        app.client
            .post(app.url("/v1/auth/otp"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(413, "payload_too_large");
    // A small chunked body still works.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        vec![Ok("{\"phone\":".into()), Ok("\"0914000001\"}".into())];
    let r = Resp::read(
        app.client
            .post(app.url("/v1/auth/otp"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    app.stop().await;
}

fn jwt(header: serde_json::Value, claims: serde_json::Value, key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        B64.encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn forged_expired_none_and_foreign_tokens_get_401() {
    let app = TestApp::spawn().await;
    let real = app.resident("0915000001").await;
    let me = app
        .get("/v1/me", Some(real["access_token"].as_str().unwrap()))
        .await;
    let sub = me.body["id"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, iat: i64, exp: i64| json!({"iss":"wardline","aud":aud,"sub":sub,"role":"admin","jti":"j","iat":iat,"nbf":iat,"exp":exp});
    let hs = json!({"alg":"HS256","typ":"JWT"});
    let secret = app
        .state
        .settings
        .jwt_secret
        .as_ref()
        .unwrap()
        .expose()
        .as_bytes()
        .to_vec();

    let mut bad = vec![
        ("garbage", "not.a.jwt".to_string()),
        (
            "forged key",
            jwt(
                hs.clone(),
                claims("wardline:access", now, now + 600),
                b"someone else's key that is long enough",
            ),
        ),
        (
            "expired",
            jwt(
                hs.clone(),
                claims("wardline:access", now - 7200, now - 3600),
                &secret,
            ),
        ),
        (
            "not yet valid",
            jwt(
                hs.clone(),
                claims("wardline:access", now + 3600, now + 7200),
                &secret,
            ),
        ),
        (
            "wrong audience",
            jwt(
                hs.clone(),
                claims("wardline:refresh", now, now + 600),
                &secret,
            ),
        ),
        (
            "no audience",
            jwt(
                hs.clone(),
                json!({"iss":"wardline","sub":sub,"role":"admin","jti":"j","iat":now,"nbf":now,"exp":now+600}),
                &secret,
            ),
        ),
        (
            "HS512",
            jwt(
                json!({"alg":"HS512","typ":"JWT"}),
                claims("wardline:access", now, now + 600),
                &secret,
            ),
        ),
    ];
    let none = format!(
        "{}.{}.",
        B64.encode(json!({"alg":"none","typ":"JWT"}).to_string()),
        B64.encode(claims("wardline:access", now, now + 600).to_string())
    );
    bad.push(("alg none", none));
    // The real token with its signature tampered.
    let real_token = real["access_token"].as_str().unwrap();
    let mut tampered = real_token.to_string();
    tampered.pop();
    tampered.push(if real_token.ends_with('A') { 'B' } else { 'A' });
    bad.push(("tampered", tampered));
    for (what, token) in bad {
        let r = app.get("/v1/me", Some(&token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", r.body);
        r.assert_problem(401, "invalid_token");
    }
    // A well-signed token for an account that does not exist.
    let ghost = jwt(
        hs,
        json!({"iss":"wardline","aud":"wardline:access","sub":uuid::Uuid::now_v7().to_string(),"role":"admin","jti":"j","iat":now,"nbf":now,"exp":now+600}),
        &secret,
    );
    app.get("/v1/me", Some(&ghost))
        .await
        .assert_problem(401, "invalid_token");
    let r = Resp::read(
        app.client
            .get(app.url("/v1/me"))
            .header("authorization", "Basic Zm9vOmJhcg==")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(401, "missing_token");
    app.stop().await;
}

#[tokio::test]
async fn problems_speak_the_callers_language() {
    let app = TestApp::spawn().await;
    let vi = app.get("/v1/me", None).await;
    let en = Resp::read(
        app.client
            .get(app.url("/v1/me"))
            .header("accept-language", "en-GB,en;q=0.9")
            .send()
            .await
            .unwrap(),
    )
    .await;
    vi.assert_problem(401, "missing_token");
    en.assert_problem(401, "missing_token");
    assert_eq!(en.body["title"], "Not authenticated or credentials invalid");
    assert_ne!(vi.body["title"], en.body["title"]);
    assert!(vi.body["request_id"].is_string());
    assert_eq!(
        vi.body["request_id"].as_str(),
        vi.headers["x-request-id"].to_str().ok()
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = TestApp::spawn().await;
    app.get("/v1/nothing-here", None)
        .await
        .assert_problem(404, "route_not_found");
    let r = app
        .call(reqwest::Method::DELETE, "/v1/auth/otp", None, None)
        .await;
    assert!(r.status.is_client_error(), "{:?}", r.status);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    app.stop().await;
}

/// Issue 16, defect 8: the framework's parse errors are problems in the caller's language that
/// name the field, not poem's English text.
#[tokio::test]
async fn unreadable_parameters_and_bodies_name_the_field_in_the_callers_language() {
    let app = TestApp::spawn().await;
    let r = app.get("/v1/reports?limit=abc", None).await;
    r.assert_problem(400, "bad_request");
    assert_eq!(r.body["errors"][0]["field"], "limit", "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "unreadable");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("limit") && detail.starts_with("Không đọc được"),
        "{detail}"
    );
    let r = Resp::read(
        app.client
            .get(app.url("/v1/reports/not-a-uuid"))
            .header("accept-language", "en")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(400, "bad_request");
    assert!(r.body["errors"][0]["field"].is_string(), "{:?}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Could not read")
    );
    let r = app
        .post("/v1/auth/otp", None, json!({ "phone": ["0912", "345"] }))
        .await;
    r.assert_problem(400, "bad_request");
    assert!(r.body["errors"][0]["field"].is_string(), "{:?}", r.body);
    app.stop().await;
}
