//! Benchmark P2: report-create throughput on embedded SQLite against a bare poem handler that parses
//! the same JSON and answers the same JSON, in the same run, over real loopback HTTP.
//!
//! `cargo run --release --example create_bench -- [seconds] [concurrency]` (defaults 10 s, 16).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use wardline::app::{AppState, Server};
use wardline::config::{Secret, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let concurrency: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(16);

    let dir = std::env::temp_dir().join(format!("wardline-bench-{}", uuid::Uuid::now_v7()));
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.clone(),
        jwt_secret: Some(Secret::new("bench-secret-bench-secret-bench-secret")),
        log_filter: "error".into(),
        // One resident creates as fast as it can: this measures throughput, not the abuse limit.
        reports_per_resident_per_hour: 0,
        ..Settings::default()
    };
    let state = AppState::build(settings).await?;
    let server = Server::bind(state.clone()).await?;
    let base = format!("http://{}", server.local_addr);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.run_until(async move {
        let _ = stop_rx.await;
    }));

    // A resident, signed in by code, with one photo uploaded beforehand.
    let phone = "+84912000777";
    state
        .auth
        .request_otp(phone, "127.0.0.1")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sms = wardline::auth::sms::outbox_for(&state.db, phone, 1).await?;
    let code = sms
        .first()
        .and_then(|b| {
            b.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
        })
        .context("no code")?
        .to_string();
    let (session, _) = state
        .auth
        .verify_otp(phone, &code)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = session.access_token;
    // Idle connections go before the server's keep-alive time (15 s) closes them.
    let client = reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()?;
    let photo = jpeg();
    let boundary = "bench";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").into_bytes();
    body.extend_from_slice(&photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let media: serde_json::Value = client
        .post(format!("{base}/v1/media"))
        .bearer_auth(&token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await?
        .json()
        .await?;
    let media_id = media["id"].as_str().context("upload failed")?.to_string();
    let report = serde_json::json!({
        "category_code": "road_damage",
        "description": "Ổ gà lớn trước số 12 Lê Lợi, xe máy dễ ngã",
        "lat": 10.7769, "lon": 106.7009, "accuracy_m": 8.0,
        "address": "12 Lê Lợi",
        "media_ids": [media_id],
        "answers": { "size": "large" }
    });
    // The bare handler answers exactly what a real create answers.
    let sample = client
        .post(format!("{base}/v1/reports"))
        .bearer_auth(&token)
        .json(&report)
        .send()
        .await?
        .text()
        .await?;

    // The same create without HTTP: the rules (checks, cells, deadlines) and the storage, called
    // straight from 'concurrency' tasks. What HTTP, sign-in and JSON add is the difference.
    let caller = state
        .auth
        .identify(&token)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let new = wardline::reports::NewReport {
        category_code: "road_damage".into(),
        description: report["description"].as_str().unwrap_or_default().into(),
        lat: 10.7769,
        lon: 106.7009,
        accuracy_m: Some(8.0),
        address: Some("12 Lê Lợi".into()),
        media_ids: vec![media_id.parse()?],
        answers: [("size".to_string(), serde_json::json!("large"))].into(),
        captured_at: None,
        channel: wardline::reports::Channel::App,
        reporter_phone: None,
    };
    let rules = rules_alone(&state, caller, &new, seconds, concurrency).await;

    let bare_addr = bare_server(sample.clone()).await?;
    let wardline = load(
        &client,
        &format!("{base}/v1/reports"),
        &token,
        &report,
        seconds,
        concurrency,
        201,
    )
    .await;
    // The server's own view of the same requests (its latency histogram, read before the
    // refused run adds to it): the time spent between the socket and the handler is the rest.
    let served = server_mean_ms(&state.metrics.render(), "reports_create");
    let bare = load(
        &client,
        &format!("http://{bare_addr}/v1/reports"),
        &token,
        &report,
        seconds,
        concurrency,
        201,
    )
    .await;
    // Where the time goes: the same request through the same stack (middleware, sign-in, JSON,
    // checks, problem answer) but refused before storage, its latitude out of range.
    let mut refused = report.clone();
    refused["lat"] = serde_json::json!(91.0);
    let stack = load(
        &client,
        &format!("{base}/v1/reports"),
        &token,
        &refused,
        seconds,
        concurrency,
        422,
    )
    .await;
    // SQLite's own floor: the create's statements (`reports::file`, the server's unit of work) run
    // straight on one connection to the same file, `concurrency` creates per commit (the most that
    // `concurrency` callers in flight can share), no savepoints, no HTTP, no rules, no threads.
    let category = state
        .reports
        .categories
        .by_code(&state.db, "road_damage")
        .await?
        .context("no category")?;
    let floor = sqlite_floor(
        &dir.join("wardline.db"),
        &category,
        caller.account_id,
        media_id.parse()?,
        seconds,
        concurrency,
    )?;
    println!("wardline create (SQLite, {concurrency} concurrent, {seconds} s): {wardline}");
    if let Some(ms) = served {
        println!("  of which inside the server (mean, its histogram): {ms:.1} ms");
    }
    println!("the same create without HTTP (rules + storage):   {rules:.0} creates/s");
    println!("bare poem handler, same JSON in and out:          {bare}");
    println!("same stack, refused before storage (422):          {stack}");
    println!(
        "SQLite alone, same statements, {concurrency} per commit: {floor:.0} creates/s ({:.2}x bare)",
        floor / bare.rps
    );
    println!("ratio: {:.2}x (target >= 0.5x)", wardline.rps / bare.rps);
    println!(
        "stack without storage vs bare: {:.2}x",
        stack.rps / bare.rps
    );

    let _ = stop_tx.send(());
    let _ = handle.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Creates per second when the create's statements run on a bare connection, `batch` per commit.
fn sqlite_floor(
    path: &std::path::Path,
    category: &wardline::reports::catalog::Category,
    reporter: uuid::Uuid,
    media: uuid::Uuid,
    seconds: u64,
    batch: usize,
) -> anyhow::Result<f64> {
    use futures::FutureExt;
    use wardline::reports::repo;
    let mut conn = wardline::store::batch::open(path)?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut done = 0u64;
    while Instant::now() < deadline {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut exec = wardline::store::batch::Conn(&mut conn);
        for _ in 0..batch {
            let now = chrono::Utc::now();
            let point = wardline::geo::Point {
                lat: 10.7769,
                lon: 106.7009,
            };
            let row = repo::NewReportRow {
                report_id: uuid::Uuid::now_v7(),
                category_id: category.category_id,
                reporter_id: Some(reporter),
                channel: wardline::reports::Channel::App,
                entered_by: None,
                description: "Ổ gà lớn trước số 12 Lê Lợi, xe máy dễ ngã".into(),
                lat: point.lat,
                lon: point.lon,
                accuracy_m: Some(8.0),
                address: "12 Lê Lợi".into(),
                cells: wardline::geo::cells(point),
                area_id: None,
                unit_id: None,
                severity: wardline::reports::catalog::Severity::Normal,
                answers: r#"{"size":"large"}"#.into(),
                ack_by: now,
                resolve_by: now,
                captured_at: None,
            };
            let event = wardline::reports::hooks::created(&row, category, now)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let filing = wardline::reports::Filing {
                row,
                media: vec![media],
                media_owner: Some(reporter),
                actor: Some(reporter),
                staff_note: String::new(),
                idempotency: None,
                event,
            };
            // The server's own unit of work; statements on a bare connection are done when first
            // polled.
            let unit = wardline::reports::file(&mut exec, &filing, now);
            unit.now_or_never()
                .context("a statement did not complete at once")?
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        conn.execute_batch("COMMIT")?;
        done += batch as u64;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// Creates per second through `reports::create` alone, from `concurrency` tasks.
async fn rules_alone(
    state: &AppState,
    caller: wardline::auth::Caller,
    new: &wardline::reports::NewReport,
    seconds: u64,
    concurrency: usize,
) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (state, new, done, failed) =
                (state.clone(), new.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    match wardline::reports::create(&state.reports, &caller, new.clone(), None)
                        .await
                    {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("the same create without HTTP: {failed} creates failed");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Mean seconds (as ms) of a route's latency histogram in Prometheus text.
fn server_mean_ms(text: &str, route: &str) -> Option<f64> {
    let value = |suffix: &str| {
        text.lines()
            .find(|l| l.contains(suffix) && l.contains(route))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let (sum, count) = (value("_sum{")?, value("_count{")?);
    (count > 0.0).then(|| sum / count * 1000.0)
}

struct Figures {
    rps: f64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
            self.rps, self.p50_ms, self.p99_ms, self.errors
        )
    }
}

async fn load(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
    seconds: u64,
    concurrency: usize,
    expect: u16,
) -> Figures {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (client, url, token, body, errors) = (
            client.clone(),
            url.to_string(),
            token.to_string(),
            body.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = vec![];
            while Instant::now() < deadline {
                let t = Instant::now();
                match client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status().as_u16() == expect => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut all = vec![];
    for t in tasks {
        if let Ok(l) = t.await {
            all.extend(l);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Figures {
        rps: all.len() as f64 / elapsed,
        errors: errors.load(Ordering::Relaxed),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    }
}

/// A poem server whose one handler parses the request JSON and returns `answer`.
async fn bare_server(answer: String) -> anyhow::Result<std::net::SocketAddr> {
    use poem::listener::{Acceptor, Listener};
    use poem::web::Json;
    use poem::{EndpointExt, Route, handler, post};
    #[handler]
    async fn create(
        Json(body): Json<serde_json::Value>,
        answer: poem::web::Data<&Arc<String>>,
    ) -> poem::Response {
        let _ = body;
        poem::Response::builder()
            .status(poem::http::StatusCode::CREATED)
            .content_type("application/json")
            .body(answer.0.as_str().to_string())
    }
    let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("no address")?;
    let app = Route::new()
        .at("/v1/reports", post(create))
        .data(Arc::new(answer));
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    Ok(addr)
}

fn jpeg() -> Vec<u8> {
    use image::ImageEncoder;
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).write_image(
        img.as_raw(),
        640,
        480,
        image::ExtendedColorType::Rgb8,
    );
    out
}
