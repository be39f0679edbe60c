//! Web Push against a real receiving endpoint on this machine (standing in for a push service):
//! a report's news reaches the resident's browser encrypted for it, and an independent
//! implementation (Python `http_ece` and `cryptography`, `tests/push_client/decrypt.py`)
//! decrypts it and verifies the VAPID token; a subscription answered 410 is forgotten; a push
//! service that hangs delays nobody's request. Subscribing and unsubscribing per role, the bound
//! per account, hostile subscriptions, and the VAPID key shared through the database.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wardline::auth::Role;

use crate::helpers::{Resp, TestApp};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    headers: poem::http::HeaderMap,
    body: Vec<u8>,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A push service on 127.0.0.1: `/ok/…` answers 201, `/gone/…` 410, `/hang/…` never (until cut).
struct Receiver {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let seen = hits.clone();
        let app = poem::endpoint::make(move |mut req: poem::Request| {
            let seen = seen.clone();
            async move {
                let path = req.uri().path().to_string();
                let body = req.take_body().into_vec().await.unwrap_or_default();
                seen.lock().unwrap().push(Hit {
                    path: path.clone(),
                    headers: req.headers().clone(),
                    body,
                });
                let status = if path.starts_with("/gone/") {
                    StatusCode::GONE
                } else if path.starts_with("/hang/") {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    StatusCode::CREATED
                } else {
                    StatusCode::CREATED
                };
                poem::Response::builder().status(status).finish()
            }
        });
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Receiver { addr, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }
}

/// A browser's side of a subscription: its P-256 key pair and auth secret.
struct Browser {
    private: p256::SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        let private = loop {
            if let Ok(k) = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
                break k;
            }
        };
        Browser {
            private,
            auth: rand::random(),
        }
    }

    fn p256dh(&self) -> String {
        B64.encode(self.private.public_key().to_encoded_point(false).as_bytes())
    }

    /// `PushSubscription.toJSON()` for `endpoint`.
    fn subscription(&self, endpoint: &str) -> Value {
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": { "p256dh": self.p256dh(), "auth": B64.encode(self.auth) }
        })
    }
}

fn allow_http(s: &mut wardline::config::Settings) {
    s.push_allow_http = true;
}

async fn subscribe(app: &TestApp, token: &str, body: Value) -> Resp {
    app.post("/v1/me/push-subscriptions", Some(token), body)
        .await
}

async fn unsubscribe(app: &TestApp, token: &str, endpoint: &str) -> Resp {
    app.call(
        Method::DELETE,
        "/v1/me/push-subscriptions",
        Some(token),
        Some(json!({ "endpoint": endpoint })),
    )
    .await
}

async fn endpoints(app: &TestApp, token: &str) -> Vec<String> {
    let r = app.get("/v1/me/push-subscriptions", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["endpoint"].as_str().unwrap().to_string())
        .collect()
}

/// Wait (up to 15 s) until `cond` (which may `.await`) holds.
macro_rules! until {
    ($what:expr, $cond:expr) => {{
        let started = Instant::now();
        while !$cond {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "timed out waiting for {}",
                $what
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }};
}

/// A staff member in a unit, and a resident's report (no photo) that the staff member may act on.
async fn reported(app: &TestApp, phones: [&str; 3]) -> (String, String, String) {
    let (_, admin) = app.member(Role::Admin, phones[0]).await;
    let (staff_id, staff) = app.member(Role::Staff, phones[1]).await;
    let resident = app.resident_token(phones[2]).await;
    let unit = app
        .post(
            "/v1/admin/units",
            Some(&admin),
            json!({ "name": "Tổ thoát nước", "kind": "team" }),
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
        .post(
            "/v1/reports",
            Some(&resident),
            json!({
                "category_code": "drain_blocked",
                "description": "Cống trước số 12 Lê Lợi bị tắc, nước tràn lên đường",
                "lat": 10.7769, "lon": 106.7009, "accuracy_m": 8.0,
                "address": "12 Lê Lợi"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    (staff, resident, r.body["id"].as_str().unwrap().to_string())
}

/// What `tests/push_client/decrypt.py` makes of a message, or `None` when no Python is given
/// (a bare `cargo test`; `scripts/test-all` always gives one).
async fn decrypt_independently(hit: &Hit, browser: &Browser, origin: &str) -> Option<Value> {
    let Ok(python) = std::env::var("WARDLINE_TEST_PUSH_PYTHON") else {
        assert!(
            std::env::var("WARDLINE_TEST_REQUIRE_SERVICES").is_err(),
            "scripts/test-all must set WARDLINE_TEST_PUSH_PYTHON"
        );
        eprintln!(
            "skipped decrypting: WARDLINE_TEST_PUSH_PYTHON is not set (scripts/test-all sets it)"
        );
        return None;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/push_client/decrypt.py");
    let input = json!({
        "body": B64.encode(&hit.body),
        "private_key": B64.encode(browser.private.to_bytes()),
        "auth": B64.encode(browser.auth),
        "authorization": hit.header("authorization"),
        "origin": origin,
        "now": chrono::Utc::now().timestamp(),
    })
    .to_string();
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(&python)
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run the push client");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "decrypt.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("decrypt.py prints JSON"))
}

#[tokio::test]
async fn a_reports_news_reaches_the_browser_encrypted_and_gone_subscriptions_are_dropped() {
    let app = TestApp::spawn_with(allow_http).await;
    let receiver = Receiver::start().await;
    let (staff, resident, report) =
        reported(&app, ["0977100001", "0977100002", "0977100003"]).await;

    // The key browsers subscribe with is public and stable.
    let key = app.get("/v1/push/vapid-public-key", None).await;
    assert_eq!(key.status, StatusCode::OK, "{:?}", key.body);
    let vapid_key = key.body["public_key"].as_str().unwrap().to_string();
    let raw = B64.decode(&vapid_key).unwrap();
    assert_eq!((raw.len(), raw[0]), (65, 4));
    let again = app.get("/v1/push/vapid-public-key", None).await;
    assert_eq!(again.body["public_key"], vapid_key.as_str());

    // Two browsers: one the push service keeps, one it has dropped (410).
    let phone = Browser::new();
    let old_tablet = Browser::new();
    let phone_endpoint = receiver.url("/ok/phone");
    let tablet_endpoint = receiver.url("/gone/tablet");
    let r = subscribe(&app, &resident, phone.subscription(&phone_endpoint)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(r.body.get("keys").is_none(), "{:?}", r.body);
    // Subscribing again (the app does on every start) refreshes the same subscription.
    let r = subscribe(&app, &resident, phone.subscription(&phone_endpoint)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    let r = subscribe(&app, &resident, old_tablet.subscription(&tablet_endpoint)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(endpoints(&app, &resident).await.len(), 2);

    // The ward receives the report: the resident's inbox gets an item, and both browsers a push.
    let r = app
        .post(
            &format!("/v1/staff/reports/{report}/transition"),
            Some(&staff),
            json!({ "action": "receive", "note": "Ghi chú nội bộ: nhà số 12 của ông Tư" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    until!(
        "both pushes",
        !receiver.hits("/ok/phone").is_empty() && !receiver.hits("/gone/tablet").is_empty()
    );
    // The dropped browser is forgotten; the phone stays.
    until!(
        "the 410 subscription forgotten",
        endpoints(&app, &resident).await == vec![phone_endpoint.clone()]
    );

    let hit = receiver.hits("/ok/phone").remove(0);
    assert_eq!(hit.header("content-encoding"), "aes128gcm");
    assert_eq!(hit.header("content-type"), "application/octet-stream");
    assert_eq!(hit.header("ttl"), "86400");
    assert_eq!(hit.header("urgency"), "normal");
    assert!(
        hit.header("authorization").starts_with("vapid t=")
            && hit
                .header("authorization")
                .ends_with(&format!(", k={vapid_key}")),
        "{}",
        hit.header("authorization")
    );
    // One record: header (86 bytes) + message + delimiter + tag, within a push service's 4 KB.
    assert!(hit.body.len() < 3 * 1024 + 103, "{}", hit.body.len());
    assert_eq!(&hit.body[16..21], &[0, 0, 16, 0, 65]);
    // The body is not the message in clear.
    assert!(!String::from_utf8_lossy(&hit.body).contains("received"));

    if let Some(got) = decrypt_independently(&hit, &phone, &receiver.origin()).await {
        let payload = &got["payload"];
        assert_eq!(payload["kind"], "received", "{got}");
        assert_eq!(payload["report_id"], report.as_str(), "{got}");
        assert!(!payload["vi"].as_str().unwrap().is_empty(), "{got}");
        assert!(!payload["en"].as_str().unwrap().is_empty(), "{got}");
        assert_eq!(got["k"], vapid_key.as_str());
        assert_eq!(got["claims"]["aud"], receiver.origin());
        // No internal note, no description, no phone number in a push.
        let text = payload.to_string();
        assert!(
            !text.contains("ông Tư") && !text.contains("Lê Lợi") && !text.contains("0977"),
            "{text}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_hanging_push_service_delays_no_request() {
    let app = TestApp::spawn_with(allow_http).await;
    let receiver = Receiver::start().await;
    let (staff, resident, report) =
        reported(&app, ["0977200001", "0977200002", "0977200003"]).await;
    for n in 0..3 {
        let r = subscribe(
            &app,
            &resident,
            Browser::new().subscription(&receiver.url(&format!("/hang/{n}"))),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let started = Instant::now();
    let r = app
        .post(
            &format!("/v1/staff/reports/{report}/transition"),
            Some(&staff),
            json!({ "action": "receive" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let took = started.elapsed();
    until!(
        "the pushes to be attempted",
        (0..3).all(|n| !receiver.hits(&format!("/hang/{n}")).is_empty())
    );
    assert!(
        took < Duration::from_secs(2),
        "the transition took {took:?}"
    );
    // Hanging is not gone: the subscriptions stay.
    assert_eq!(endpoints(&app, &resident).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn every_role_keeps_its_own_browsers_and_nobody_elses() {
    let app = TestApp::spawn().await;
    let a = app.resident_token("0977300001").await;
    let b = app.resident_token("0977300002").await;
    let (_, staff) = app.member(Role::Staff, "0977300003").await;
    let (_, doctor) = app.member(Role::Doctor, "0977300004").await;
    let (_, admin) = app.member(Role::Admin, "0977300005").await;
    let browser = Browser::new();
    let a_endpoint = "https://fcm.googleapis.com/fcm/send/a-phone";

    let anonymous = app
        .post(
            "/v1/me/push-subscriptions",
            None,
            browser.subscription(a_endpoint),
        )
        .await;
    anonymous.assert_problem(401, "missing_token");
    let r = app.get("/v1/me/push-subscriptions", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    for (n, token) in [&a, &staff, &doctor, &admin].into_iter().enumerate() {
        let endpoint = format!("https://updates.push.services.mozilla.com/wpush/v2/{n}");
        let r = subscribe(&app, token, browser.subscription(&endpoint)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(endpoints(&app, token).await, vec![endpoint]);
    }
    let r = subscribe(&app, &a, browser.subscription(a_endpoint)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert!(endpoints(&app, &b).await.is_empty());

    // Nobody else removes A's browser; A does, once.
    for token in [&b, &staff, &doctor, &admin] {
        unsubscribe(&app, token, a_endpoint)
            .await
            .assert_problem(404, "push_subscription_not_found");
    }
    assert_eq!(endpoints(&app, &a).await.len(), 2);
    let r = unsubscribe(&app, &a, a_endpoint).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    unsubscribe(&app, &a, a_endpoint)
        .await
        .assert_problem(404, "push_subscription_not_found");
    let r = app
        .call(
            Method::DELETE,
            "/v1/me/push-subscriptions",
            None,
            Some(json!({ "endpoint": a_endpoint })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A phone handed to another resident: the browser's endpoint goes with whoever subscribes it.
    let shared = "https://web.push.apple.com/QGx-shared-phone";
    assert_eq!(
        subscribe(&app, &a, browser.subscription(shared))
            .await
            .status,
        StatusCode::CREATED
    );
    let r = subscribe(&app, &b, Browser::new().subscription(shared)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(endpoints(&app, &b).await, vec![shared.to_string()]);
    assert!(!endpoints(&app, &a).await.contains(&shared.to_string()));
    app.stop().await;
}

#[tokio::test]
async fn an_account_keeps_its_most_recent_browsers_only() {
    let app = TestApp::spawn_with(|s| s.push_max_subscriptions_per_account = 3).await;
    let a = app.resident_token("0977400001").await;
    let browser = Browser::new();
    for n in 0..5 {
        let r = subscribe(
            &app,
            &a,
            browser.subscription(&format!("https://push.example.net/{n}")),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        // Distinct refresh times.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut kept = endpoints(&app, &a).await;
    kept.sort();
    assert_eq!(
        kept,
        (2..5)
            .map(|n| format!("https://push.example.net/{n}"))
            .collect::<Vec<_>>()
    );
    app.stop().await;
}

#[tokio::test]
async fn hostile_subscriptions_are_refused_with_stable_codes() {
    let app = TestApp::spawn().await;
    let a = app.resident_token("0977500001").await;
    let good = Browser::new();
    let keys = |p256dh: &str, auth: &str| json!({ "endpoint": "https://push.example.net/x", "keys": { "p256dh": p256dh, "auth": auth } });
    let auth = B64.encode(good.auth);
    let compressed = B64.encode(good.private.public_key().to_encoded_point(true).as_bytes());
    let mut off_curve = B64.decode(good.p256dh()).unwrap();
    off_curve[64] ^= 1;
    let cases: Vec<(Value, u16, &str)> = vec![
        // Endpoints: plain HTTP (not allowed here), other schemes, relative, credentials,
        // fragments, no host.
        (
            good.subscription("http://push.example.net/x"),
            422,
            "validation_failed",
        ),
        (
            good.subscription("ftp://push.example.net/x"),
            422,
            "validation_failed",
        ),
        (
            good.subscription("javascript:alert(1)"),
            422,
            "validation_failed",
        ),
        (good.subscription("/v1/reports"), 422, "validation_failed"),
        (
            good.subscription("https://user:pw@push.example.net/x"),
            422,
            "validation_failed",
        ),
        (
            good.subscription("https://push.example.net/x#frag"),
            422,
            "validation_failed",
        ),
        (good.subscription("https://"), 422, "validation_failed"),
        // The server's own network: addresses and localhost.
        (
            good.subscription("https://127.0.0.1:8080/v1/reports"),
            422,
            "validation_failed",
        ),
        (
            good.subscription("https://169.254.169.254/latest/meta-data"),
            422,
            "validation_failed",
        ),
        (
            good.subscription("https://[::1]/x"),
            422,
            "validation_failed",
        ),
        (
            good.subscription("https://LOCALHOST./x"),
            422,
            "validation_failed",
        ),
        (
            good.subscription("https://db.localhost/x"),
            422,
            "validation_failed",
        ),
        (
            good.subscription(&format!("https://push.example.net/{}", "a".repeat(1200))),
            400,
            "bad_request",
        ),
        // Keys: compressed point, off the curve, short, not base64url; auth too short or long.
        (keys(&compressed, &auth), 422, "validation_failed"),
        (
            keys(&B64.encode(&off_curve), &auth),
            422,
            "validation_failed",
        ),
        (
            keys(&B64.encode([4u8; 33]), &auth),
            422,
            "validation_failed",
        ),
        (keys("<script>", &auth), 422, "validation_failed"),
        (
            keys(&good.p256dh(), &B64.encode([1u8; 15])),
            422,
            "validation_failed",
        ),
        (
            keys(&good.p256dh(), &B64.encode([1u8; 17])),
            422,
            "validation_failed",
        ),
        (keys(&good.p256dh(), "!!!!"), 422, "validation_failed"),
        (keys(&"A".repeat(5000), &auth), 400, "bad_request"),
        // Not a subscription at all.
        (
            json!({ "endpoint": "https://push.example.net/x" }),
            400,
            "bad_request",
        ),
        (json!([1, 2, 3]), 400, "bad_request"),
    ];
    for (body, status, code) in cases {
        let r = subscribe(&app, &a, body.clone()).await;
        r.assert_problem(status, code);
        assert!(r.status.is_client_error(), "{body}: {:?}", r.body);
    }
    // The field at fault is named.
    let r = subscribe(&app, &a, keys(&compressed, &auth)).await;
    assert_eq!(r.body["errors"][0]["field"], "keys.p256dh", "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "invalid_push_key");
    let r = subscribe(&app, &a, keys(&good.p256dh(), "AAAA")).await;
    assert_eq!(r.body["errors"][0]["code"], "invalid_push_auth");
    let r = subscribe(&app, &a, good.subscription("http://push.example.net/x")).await;
    assert_eq!(r.body["errors"][0]["code"], "push_endpoint_not_https");
    assert!(endpoints(&app, &a).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_vapid_key_is_kept_for_every_instance_or_taken_from_the_settings() {
    // Generated once and kept in the database: a restarted (or another) instance signs with it.
    let app = TestApp::spawn().await;
    let first = app.get("/v1/push/vapid-public-key", None).await;
    assert_eq!(first.status, StatusCode::OK);
    let app = app.restart().await;
    let second = app.get("/v1/push/vapid-public-key", None).await;
    assert_eq!(first.body["public_key"], second.body["public_key"]);
    app.stop().await;

    // From the settings (PEM), whatever the database holds.
    let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let pem = {
        use p256::pkcs8::EncodePrivateKey;
        secret.to_pkcs8_pem(Default::default()).unwrap().to_string()
    };
    let app = TestApp::spawn_with(|s| {
        s.push_vapid_private_key = Some(wardline::config::Secret::new(pem));
    })
    .await;
    let r = app.get("/v1/push/vapid-public-key", None).await;
    assert_eq!(
        r.body["public_key"],
        B64.encode(secret.public_key().to_encoded_point(false).as_bytes())
    );
    app.stop().await;
}
