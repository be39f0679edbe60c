//! The server's own promises, below the operations (issue 16, defects 1–3 and 7): stalled
//! connections are closed, connections are bounded, a wrong method says 405 with `Allow`, and the
//! answers made before any operation runs (414, 431, a malformed request, an overloaded server)
//! still carry the problem shape and the security headers. Raw sockets: an HTTP client library
//! would refuse to send most of these.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Read until the server closes (or `within` passes); returns what came and whether it closed.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Status, lower-cased head and JSON body of one raw answer.
fn parse(raw: &str) -> (u16, String, Value) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn assert_shaped(raw: &str, status: u16, code: &str) {
    let (got, head, body) = parse(raw);
    assert_eq!(got, status, "{raw}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{raw}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{raw}");
    assert!(head.contains("x-frame-options: deny"), "{raw}");
    assert!(head.contains("x-request-id: "), "{raw}");
    assert_eq!(body["status"], status, "{raw}");
    assert_eq!(body["code"], code, "{raw}");
}

fn quick(s: &mut wardline::config::Settings) {
    s.header_read_timeout_secs = 1;
    s.body_stall_timeout_secs = 1;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_closed() {
    let app = TestApp::spawn_with(quick).await;
    let mut s = connect(&app).await;
    s.write_all(b"GET /v1/categories HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(closed, "still open after 10 s");
    assert!(started.elapsed() < Duration::from_secs(5));
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_trickles_headers_is_closed() {
    let app = TestApp::spawn_with(quick).await;
    let mut s = connect(&app).await;
    s.write_all(b"GET /v1/categories HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if s.write_all(format!("X-Trickle-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        let mut b = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await {
            closed = true;
            break;
        }
    }
    if !closed {
        closed = read_until_closed(&mut s, Duration::from_secs(2)).await.1;
    }
    assert!(closed, "a trickling client kept its connection");
    assert!(started.elapsed() < Duration::from_secs(6));
    app.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = TestApp::spawn_with(quick).await;
    let mut s = connect(&app).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (raw, closed) = read_until_closed(&mut s, Duration::from_secs(6)).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(closed, "an idle keep-alive connection stayed open");
    app.stop().await;
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_is_closed() {
    let app = TestApp::spawn_with(quick).await;
    let mut s = connect(&app).await;
    s.write_all(
        b"POST /v1/auth/otp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"phone\":",
    )
    .await
    .unwrap();
    let (raw, closed) = read_until_closed(&mut s, Duration::from_secs(8)).await;
    assert_shaped(&raw, 408, "request_timeout");
    assert!(closed);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_method_says_405_and_what_is_allowed() {
    let app = TestApp::spawn().await;
    let r = app
        .call(reqwest::Method::DELETE, "/v1/reports", None, None)
        .await;
    r.assert_problem(405, "method_not_allowed");
    let allow = r.headers["allow"].to_str().unwrap().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert!(!allow.contains("DELETE"), "{allow}");
    // A templated path too.
    let r = app
        .call(
            reqwest::Method::PUT,
            "/v1/reports/0190e5c4-0000-7000-8000-000000000000",
            None,
            None,
        )
        .await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.headers["allow"], "GET, HEAD");
    app.stop().await;
}

#[tokio::test]
async fn answers_made_before_any_operation_are_problems_with_the_security_headers() {
    let app = TestApp::spawn().await;
    // A 100 kB URL.
    let mut s = connect(&app).await;
    let url = format!("/v1/reports?q={}", "a".repeat(100_000));
    s.write_all(format!("GET {url} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (raw, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert_shaped(&raw, 414, "uri_too_long");
    // Headers too large: one huge header, and too many.
    let mut s = connect(&app).await;
    s.write_all(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "b".repeat(300_000)
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (raw, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert_shaped(&raw, 431, "headers_too_large");
    let mut s = connect(&app).await;
    let many: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes())
        .await
        .unwrap();
    let (raw, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert_shaped(&raw, 431, "headers_too_large");
    // Two different Content-Lengths (request smuggling's favourite).
    let mut s = connect(&app).await;
    s.write_all(
        b"POST /v1/auth/otp HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}{}{}{",
    )
    .await
    .unwrap();
    let (raw, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert_shaped(&raw, 400, "malformed_request");
    // The server is fine afterwards.
    assert_eq!(app.get("/healthz", None).await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn connections_past_the_per_address_bound_get_503_at_once() {
    let app = TestApp::spawn_with(|s| s.max_connections_per_ip = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&app).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let mut s = connect(&app).await;
    let started = Instant::now();
    let (raw, closed) = read_until_closed(&mut s, Duration::from_secs(4)).await;
    assert!(closed && started.elapsed() < Duration::from_secs(3));
    assert_shaped(&raw, 503, "server_busy");
    assert!(raw.to_ascii_lowercase().contains("retry-after: "), "{raw}");
    // A place freed is a place for the next one.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s = connect(&app).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (raw, _) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    app.stop().await;
}

#[tokio::test]
async fn past_the_bound_on_requests_in_flight_the_excess_gets_503_never_500() {
    // Two requests at once at most: the third waits for none, it is told to come back.
    let app = TestApp::spawn_with(|s| s.max_requests_in_flight = 2).await;
    let resident = app.resident_token("0912000111").await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let client = app.client.clone();
        let url = app.url("/v1/me/reports");
        let token = resident.clone();
        tasks.push(tokio::spawn(async move {
            let r = client.get(url).bearer_auth(token).send().await.unwrap();
            let status = r.status().as_u16();
            let retry = r.headers().contains_key("retry-after");
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, retry, ct)
        }));
    }
    let mut busy = 0;
    for t in tasks {
        let (status, retry, ct) = t.await.unwrap();
        assert!(status == 200 || status == 503, "{status}");
        if status == 503 {
            busy += 1;
            assert!(retry);
            assert_eq!(ct.as_deref(), Some("application/problem+json"));
        }
    }
    // Probes are never refused, and the server serves normally once the burst is over.
    assert_eq!(app.get("/healthz", None).await.status, 200);
    assert_eq!(app.get("/v1/me/reports", Some(&resident)).await.status, 200);
    eprintln!("{busy} of 40 refused");
    app.stop().await;
}

/// Issue 16, defect 8: an upload cut off by the phone's network is metered as 499 (client
/// closed), not as a 400 that would set off the alerts on client errors.
#[tokio::test]
async fn an_upload_cut_off_by_the_client_is_metered_499() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0912800001").await;
    let mut s = connect(&app).await;
    let head = format!(
        "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n\
         --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n\u{FF}"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[0u8; 2000]).await.unwrap();
    drop(s);
    let metrics = async || app.get("/metrics", None).await.body;
    let mut seen = String::new();
    for _ in 0..50 {
        seen = metrics().await.as_str().unwrap_or("").to_string();
        if seen.contains("status=\"499\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = seen
        .lines()
        .find(|l| l.contains("status=\"499\""))
        .unwrap_or_else(|| panic!("no 499 in the metrics:\n{seen}"));
    assert!(line.contains("POST"), "{line}");
    assert!(
        !seen
            .lines()
            .any(|l| l.contains("media_upload") && l.contains("status=\"400\"")),
        "{seen}"
    );
    app.stop().await;
}

/// A connection that never sends a byte is closed like a slow one (it would otherwise hold its
/// place and its descriptor for ever).
#[tokio::test]
async fn a_silent_connection_is_closed() {
    let app = TestApp::spawn_with(quick).await;
    let mut s = connect(&app).await;
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(closed, "a connection that sent nothing stayed open");
    assert!(started.elapsed() < Duration::from_secs(5));
    app.stop().await;
}
