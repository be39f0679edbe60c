use reqwest::StatusCode;

use crate::helpers::{Resp, TestApp, backend};

#[tokio::test]
async fn probes_docs_spec_and_metrics() {
    let app = TestApp::spawn().await;
    let h = app.get("/healthz", None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.body["status"], "ok");
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let expected = if backend() == "postgres" {
        ("postgres", "s3")
    } else {
        ("sqlite", "file")
    };
    assert_eq!(r.body["database"], expected.0);
    assert_eq!(r.body["storage"], expected.1);

    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("swagger")
    );
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.body["info"]["title"], "Wardline");
    assert!(spec.body["paths"]["/v1/auth/otp"].is_object());
    let yaml = app
        .client
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.contains("/v1/auth/otp/verify"));

    // A request id is echoed when sane and made up otherwise.
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id\twith spaces");
    assert_eq!(replaced.headers()["x-content-type-options"], "nosniff");

    app.get("/v1/me", None).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "wardline_http_requests_total{method=\"GET\",route=\"ops_healthz\",status=\"200\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("route=\"me_get\",status=\"401\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("wardline_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(!metrics.contains("abc-123"));
    app.stop().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone_and_during_shutdown() {
    let app = TestApp::spawn().await;
    app.state.db.close().await;
    let r = app.get("/readyz", None).await;
    r.assert_problem(503, "database_unavailable");
    assert!(r.headers.get("retry-after").is_some());
    // Requests that need the database get 503 with Retry-After, not 500.
    let r = app
        .post(
            "/v1/auth/otp",
            None,
            serde_json::json!({ "phone": "0916000001" }),
        )
        .await;
    r.assert_problem(503, "database_unavailable");
    app.state.begin_shutdown();
    app.get("/readyz", None)
        .await
        .assert_problem(503, "shutting_down");
    app.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_and_then_refuses() {
    let app = TestApp::spawn().await;
    // A slow upload is in flight when the stop comes.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<bytes::Bytes, std::io::Error>>();
    let req = app
        .client
        .post(app.url("/v1/auth/otp"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(rx));
    let in_flight = tokio::spawn(async move { Resp::read(req.send().await.unwrap()).await });
    tx.unbounded_send(Ok("{\"phone\":".into())).unwrap();
    // Stop only once the server is serving the request (a loaded machine may take a while).
    for _ in 0..200 {
        if app.state.metrics.in_flight() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        app.state.metrics.in_flight() > 0,
        "the request never arrived"
    );
    let base = app.base.clone();
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    tx.unbounded_send(Ok("\"0917000001\"}".into())).unwrap();
    drop(tx);
    let r = in_flight.await.unwrap();
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    tokio::time::timeout(std::time::Duration::from_secs(10), stopping)
        .await
        .expect("stops within the grace period")
        .unwrap();
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "no longer accepting"
    );
}
