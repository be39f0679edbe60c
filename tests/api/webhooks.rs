//! Signed webhooks against a real HTTP receiver on this machine: a report's life arrives in order,
//! signed, without the reporter; a receiver that fails then recovers gets everything, in order,
//! with the attempts recorded; deliveries pending at a stop arrive after a restart; a consultation's
//! end is announced without clinical content; bad registrations, hanging receivers and redirects.
//!
//! Retries wait on the server's clock, which the tests move forward (by more than the longest
//! backoff) once the worker has recorded a failure, so nothing here sleeps for minutes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use wardline::auth::Role;

use crate::helpers::TestApp;
use crate::photos::{jpeg, upload_ok};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    event: String,
    delivery: String,
    signature: String,
    body: String,
    /// The status it answered.
    answered: u16,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    /// Never answers (until the request is cut).
    Hang,
    /// 302 to another path of its own.
    Redirect,
}

#[derive(Clone)]
struct Shared {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Requests still to answer 500 before the others.
    fail_first: Arc<AtomicUsize>,
    answer: Arc<Mutex<Answer>>,
}

impl Shared {
    async fn handle(&self, mut req: poem::Request) -> poem::Response {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (event, delivery, signature) = (
            header("wardline-event"),
            header("wardline-delivery"),
            header("wardline-signature"),
        );
        let path = req.uri().path().to_string();
        let body = req.take_body().into_string().await.unwrap_or_default();
        let answer = *self.answer.lock().unwrap();
        let status = if path != "/hook" {
            200
        } else if self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            500
        } else {
            match answer {
                Answer::Ok => 200,
                Answer::Redirect => 302,
                Answer::Hang => 0,
            }
        };
        self.hits.lock().unwrap().push(Hit {
            path,
            event,
            delivery,
            signature,
            body,
            answered: status,
        });
        match status {
            0 => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                poem::Response::builder().status(StatusCode::OK).finish()
            }
            302 => poem::Response::builder()
                .status(StatusCode::FOUND)
                .header("location", "/elsewhere")
                .finish(),
            s => poem::Response::builder()
                .status(StatusCode::from_u16(s).unwrap())
                .body("{}"),
        }
    }
}

/// A real HTTP server on 127.0.0.1 that records what it gets; it can be stopped and started again
/// on the same port.
struct Receiver {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Receiver {
    async fn start() -> Receiver {
        let shared = Shared {
            hits: Arc::default(),
            fail_first: Arc::default(),
            answer: Arc::new(Mutex::new(Answer::Ok)),
        };
        let mut r = Receiver {
            addr: "127.0.0.1:0".parse().unwrap(),
            shared,
            stop: None,
        };
        r.up().await;
        r
    }

    /// A receiver that is down: its port is known, nothing listens there yet.
    async fn down() -> Receiver {
        let mut r = Receiver::start().await;
        r.stop().await;
        r
    }

    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        let shared = self.shared.clone();
        let app = poem::endpoint::make(move |req| {
            let shared = shared.clone();
            async move { shared.handle(req).await }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async move {
                        let _ = rx.await;
                    },
                    Some(Duration::from_millis(200)),
                )
                .await;
        });
        self.stop = Some((tx, task));
    }

    async fn stop(&mut self) {
        if let Some((tx, task)) = self.stop.take() {
            let _ = tx.send(());
            let _ = task.await;
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// The requests answered 2xx, in arrival order.
    fn delivered(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.answered == 200 && h.path == "/hook")
            .collect()
    }

    fn answer(&self, a: Answer) {
        *self.shared.answer.lock().unwrap() = a;
    }
}

/// Whether `hit` carries a valid signature made with `secret` over its body as received.
fn signed_by(hit: &Hit, secret: &str) -> bool {
    let Some((t, v1)) = hit
        .signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", hit.body).as_bytes());
    t.parse::<i64>().is_ok() && mac.verify_slice(&expected).is_ok()
}

async fn register(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let r = app
        .post(
            "/v1/admin/webhooks",
            Some(admin),
            json!({ "url": url, "events": events, "description": "Hệ thống của thành phố" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    (r.body["id"].as_str().unwrap().to_string(), secret)
}

/// Wait (up to 15 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deliveries a worker holds right now (posting them).
async fn leased(app: &TestApp) -> i64 {
    wardline::on_db!(&app.state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE leased_until IS NOT NULL",
    )
    .fetch_one(pool)
    .await)
    .unwrap()
}

/// Once the worker has recorded the attempts in hand, move the clock past the longest backoff:
/// whatever failed is due again.
async fn retry_now(app: &TestApp) {
    let started = Instant::now();
    while leased(app).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "a lease held on"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.state.clock.advance(chrono::Duration::minutes(61));
}

/// File a report in a category without photo or questions; returns its id.
async fn file(app: &TestApp, resident: &str, description: &str) -> String {
    let r = app
        .post(
            "/v1/reports",
            Some(resident),
            json!({
                "category_code": "drain_blocked",
                "description": description,
                "lat": 10.7769, "lon": 106.7009, "accuracy_m": 8.0,
                "address": "12 Lê Lợi"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn step(app: &TestApp, staff: &str, report: &str, body: Value) {
    let r = app
        .post(
            &format!("/v1/staff/reports/{report}/transition"),
            Some(staff),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// The tests' receivers listen on 127.0.0.1 over plain HTTP.
fn allow_http(s: &mut wardline::config::Settings) {
    s.webhooks_allow_http = true;
    s.outbound_allow_private = true;
}

#[tokio::test]
async fn a_reports_life_arrives_signed_in_order_without_the_reporter() {
    let app = TestApp::spawn_with(allow_http).await;
    let (_, admin) = app.member(Role::Admin, "0976100001").await;
    let (staff_id, staff) = app.member(Role::Staff, "0976100002").await;
    let session = app.resident("0976100003").await;
    let resident = crate::helpers::token_of(&session);
    let me = app.get("/v1/me", Some(&resident)).await;
    let resident_id = me.body["id"].as_str().unwrap().to_string();
    let name = "Nguyễn Thị Hoa";
    let r = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&resident),
            Some(json!({ "display_name": name })),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);

    let all = Receiver::start().await;
    let resolved_only = Receiver::start().await;
    let (all_id, secret) = register(
        &app,
        &admin,
        &all.url(),
        &["report.created", "report.changed", "report.resolved"],
    )
    .await;
    let (_, other_secret) =
        register(&app, &admin, &resolved_only.url(), &["report.resolved"]).await;

    // The list never shows a secret.
    let list = app.get("/v1/admin/webhooks", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    assert!(!list.body.to_string().contains(&secret), "{:?}", list.body);
    assert!(list.body[0].get("secret").is_none());

    // A unit with the staff member; the report's life through staff hands.
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
    let description = "Cống trước nhà chị Hoa 0976100003 bị tắc";
    let report = file(&app, &resident, description).await;
    step(
        &app,
        &staff,
        &report,
        json!({ "action": "receive", "note": "Ghi chú nội bộ XYZ" }),
    )
    .await;
    step(
        &app,
        &staff,
        &report,
        json!({ "action": "assign", "unit_id": unit_id }),
    )
    .await;
    step(&app, &staff, &report, json!({ "action": "start" })).await;
    let evidence = upload_ok(&app, &staff, &jpeg(64, 64, 7)).await;
    step(
        &app,
        &staff,
        &report,
        json!({ "action": "resolve", "public_reply": "Đã thông cống", "evidence_media_ids": [evidence["id"]] }),
    )
    .await;

    until("five deliveries", || all.delivered().len() >= 5).await;
    until("the resolution", || !resolved_only.delivered().is_empty()).await;
    let got = all.delivered();
    let events: Vec<&str> = got.iter().map(|h| h.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "report.created",
            "report.changed",
            "report.changed",
            "report.changed",
            "report.resolved"
        ]
    );
    let statuses: Vec<Value> = got
        .iter()
        .map(|h| h.json()["data"]["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [
            "submitted",
            "received",
            "assigned",
            "in_progress",
            "resolved"
        ]
    );
    for hit in &got {
        assert!(signed_by(hit, &secret), "{hit:?}");
        assert!(!signed_by(hit, &other_secret));
        let body = hit.json();
        assert_eq!(body["id"], hit.delivery.as_str());
        assert_eq!(body["event"], hit.event.as_str());
        assert_eq!(body["data"]["id"], report.as_str());
        assert!(body["occurred_at"].is_string());
        // Nothing names the reporter or says what the ward noted internally.
        for secret_text in [
            resident_id.as_str(),
            "976100003",
            name,
            description,
            "Ghi chú nội bộ",
        ] {
            assert!(
                !hit.body.contains(secret_text),
                "{secret_text} in {}",
                hit.body
            );
        }
    }
    assert_eq!(got[2].json()["data"]["unit_id"], unit_id.as_str());
    assert_eq!(got[4].json()["data"]["previous_status"], "in_progress");
    // Each delivery is its own event.
    let ids: std::collections::BTreeSet<&str> = got.iter().map(|h| h.delivery.as_str()).collect();
    assert_eq!(ids.len(), 5);
    // The endpoint that wants resolutions got that one only.
    let only = resolved_only.hits();
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!(only[0].event, "report.resolved");
    assert!(signed_by(&only[0], &other_secret));

    // The admins see every delivery made, newest first.
    let d = app
        .get(
            &format!("/v1/admin/webhooks/{all_id}/deliveries?limit=10"),
            Some(&admin),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    let rows = d.body.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["event"], "report.resolved");
    assert_eq!(rows[4]["event"], "report.created");
    assert_eq!(rows[4]["id"], got[0].delivery.as_str());
    for row in rows {
        assert_eq!(row["status"], "delivered", "{row}");
        assert_eq!(row["attempts"], 1);
        assert_eq!(row["last_status"], 200);
        assert_eq!(row["subject_id"], report.as_str());
    }
    let list = app.get("/v1/admin/webhooks", Some(&admin)).await;
    let mine = &list.body[0];
    assert_eq!(mine["id"], all_id.as_str());
    assert_eq!(mine["pending"], 0);
    assert_eq!(mine["dead"], 0);
    assert!(mine["last_delivered_at"].is_string(), "{mine}");
    app.stop().await;
}

#[tokio::test]
async fn a_receiver_that_fails_then_recovers_gets_everything_in_order() {
    let app = TestApp::spawn_with(allow_http).await;
    let (_, admin) = app.member(Role::Admin, "0976200001").await;
    let (_, staff) = app.member(Role::Staff, "0976200002").await;
    let resident = app.resident_token("0976200003").await;
    let receiver = Receiver::start().await;
    receiver.shared.fail_first.store(3, Ordering::SeqCst);
    let (id, secret) = register(
        &app,
        &admin,
        &receiver.url(),
        &["report.created", "report.changed"],
    )
    .await;
    let first = file(&app, &resident, "Cống tắc ở hẻm 5").await;
    step(&app, &staff, &first, json!({ "action": "receive" })).await;
    let second = file(&app, &resident, "Cống tắc ở hẻm 7").await;

    // Three failures, each retried once the clock has passed its backoff; then all of it.
    let started = Instant::now();
    while receiver.delivered().len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            receiver.hits()
        );
        retry_now(&app).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hits = receiver.hits();
    assert_eq!(hits.iter().filter(|h| h.answered == 500).count(), 3);
    assert!(hits.iter().all(|h| signed_by(h, &secret)));
    let order = |report: &str| -> Vec<String> {
        receiver
            .delivered()
            .iter()
            .filter(|h| h.json()["data"]["id"] == report)
            .map(|h| h.event.clone())
            .collect()
    };
    assert_eq!(order(&first), ["report.created", "report.changed"]);
    assert_eq!(order(&second), ["report.created"]);
    // A retry is the same event: the same id, the same body.
    let first_created: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.json()["data"]["id"] == first.as_str() && h.event == "report.created")
        .collect();
    assert!(first_created.len() >= 2, "{hits:?}");
    assert!(
        first_created
            .iter()
            .all(|h| h.delivery == first_created[0].delivery && h.body == first_created[0].body)
    );
    // The report's change was never sent before its creation was delivered.
    let first_changed = hits
        .iter()
        .position(|h| h.json()["data"]["id"] == first.as_str() && h.event == "report.changed")
        .unwrap();
    let created_ok = hits
        .iter()
        .position(|h| {
            h.json()["data"]["id"] == first.as_str()
                && h.event == "report.created"
                && h.answered == 200
        })
        .unwrap();
    assert!(created_ok < first_changed, "{hits:?}");

    // The attempts are recorded (a fresh admin: the clock has outrun the first one's token).
    let (_, admin) = app.member(Role::Admin, "0976200009").await;
    let d = app
        .get(&format!("/v1/admin/webhooks/{id}/deliveries"), Some(&admin))
        .await;
    let rows = d.body.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["status"] == "delivered"), "{rows:?}");
    let attempts: i64 = rows.iter().map(|r| r["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 6, "{rows:?}");
    let list = app.get("/v1/admin/webhooks", Some(&admin)).await;
    assert_eq!(list.body[0]["last_error"], "HTTP 500", "{:?}", list.body);
    app.stop().await;
}

#[tokio::test]
async fn deliveries_pending_at_a_stop_arrive_after_a_restart() {
    let app = TestApp::spawn_with(allow_http).await;
    let (_, admin) = app.member(Role::Admin, "0976300001").await;
    let resident = app.resident_token("0976300003").await;
    let mut receiver = Receiver::down().await;
    let (id, secret) = register(&app, &admin, &receiver.url(), &["report.created"]).await;
    let reports = [
        file(&app, &resident, "Cống tắc số 1").await,
        file(&app, &resident, "Cống tắc số 2").await,
    ];
    // The worker tried and could not connect.
    let failed = async || {
        wardline::on_db!(&app.state.db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE attempts > 0 AND delivered_at IS NULL",
        )
        .fetch_one(pool)
        .await)
        .unwrap()
    };
    let started = Instant::now();
    while failed().await < 2 {
        assert!(started.elapsed() < Duration::from_secs(15));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A new server on the same database; the receiver comes back.
    let app = app.restart().await;
    receiver.up().await;
    app.state.clock.advance(chrono::Duration::minutes(61));
    until("both deliveries", || receiver.delivered().len() >= 2).await;
    let got = receiver.delivered();
    // Two reports: each arrives; their order between them is not promised (only within one).
    let mut ids: Vec<String> = got
        .iter()
        .map(|h| {
            h.json()["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    ids.sort();
    let mut want = vec![reports[0].to_string(), reports[1].to_string()];
    want.sort();
    assert_eq!(ids, want);
    assert!(got.iter().all(|h| signed_by(h, &secret)));
    let (_, admin) = app.member(Role::Admin, "0976300009").await;
    let d = app
        .get(&format!("/v1/admin/webhooks/{id}/deliveries"), Some(&admin))
        .await;
    for row in d.body.as_array().unwrap() {
        assert_eq!(row["status"], "delivered", "{row}");
        assert!(row["attempts"].as_i64().unwrap() >= 2, "{row}");
    }
    receiver.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_consultations_end_is_announced_without_clinical_content() {
    let app = TestApp::spawn_with(allow_http).await;
    let (_, admin) = app.member(Role::Admin, "0976400001").await;
    let (doctor_id, doctor) = app.member(Role::Doctor, "0976400002").await;
    let resident = app.resident_token("0976400003").await;
    let resident_id = app.get("/v1/me", Some(&resident)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let receiver = Receiver::start().await;
    let (_, secret) = register(&app, &admin, &receiver.url(), &["consultation.ended"]).await;

    let r = app
        .post(
            "/v1/admin/stations",
            Some(&admin),
            json!({ "name": "Trạm Y tế phường", "address": "12 Nguyễn Huệ" }),
        )
        .await;
    let station = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/admin/stations/{station}/doctors/{doctor_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let texts = app.get("/v1/telehealth/consent", None).await;
    let version = texts.body[0]["version"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/v1/telehealth/consent",
            Some(&resident),
            json!({ "kind": "telehealth", "version": version, "accepted": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let reason = "Đau bụng âm ỉ từ sáng";
    let r = app
        .post(
            "/v1/telehealth/queue",
            Some(&resident),
            json!({ "station_id": station, "reason": reason, "symptom": "digestive" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let consultation = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/v1/telehealth/stations/{station}/queue/admit"),
            Some(&doctor),
            json!({ "consultation_id": consultation }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for action in ["start", "end"] {
        let r = app
            .post(
                &format!("/v1/telehealth/consultations/{consultation}/{action}"),
                Some(&doctor),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    until("the consultation's end", || {
        !receiver.delivered().is_empty()
    })
    .await;
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let hit = &hits[0];
    assert!(signed_by(hit, &secret));
    assert_eq!(hit.event, "consultation.ended");
    let data = &hit.json()["data"];
    assert_eq!(data["id"], consultation.as_str());
    assert_eq!(data["station_id"], station.as_str());
    assert_eq!(data["status"], "ended");
    assert_eq!(data["end_reason"], "doctor_ended");
    assert!(data["started_at"].is_string() && data["ended_at"].is_string());
    assert!(data["duration_secs"].as_i64().unwrap() >= 0);
    for private in [
        reason,
        "digestive",
        resident_id.as_str(),
        &doctor_id.to_string(),
        "976400003",
    ] {
        assert!(!hit.body.contains(private), "{private} in {}", hit.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_registrations_are_refused_with_stable_codes() {
    // Plain HTTP is refused here: the server does not allow it.
    let app = TestApp::spawn().await;
    let (_, admin) = app.member(Role::Admin, "0976500001").await;
    let post = async |body: Value| app.post("/v1/admin/webhooks", Some(&admin), body).await;
    let events = json!(["report.created"]);
    for (url, code) in [
        ("http://city.example.vn/hooks", "url_not_https"),
        ("ftp://city.example.vn/hooks", "url_not_https"),
        (
            "https://user:pw@city.example.vn/hooks",
            "url_has_credentials",
        ),
        ("https://city.example.vn/hooks#part", "url_has_fragment"),
        ("city.example.vn/hooks", "invalid_url"),
    ] {
        let r = post(json!({ "url": url, "events": events })).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "url", "{url}");
        assert_eq!(r.body["errors"][0]["code"], code, "{url}");
    }
    let long = format!("https://city.example.vn/{}", "a".repeat(2000));
    post(json!({ "url": long, "events": events }))
        .await
        .assert_problem(400, "bad_request");
    let url = "https://city.example.vn/hooks";
    let r = post(json!({ "url": url, "events": [] })).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "events_required");
    post(json!({ "url": url, "events": ["report.deleted"] }))
        .await
        .assert_problem(400, "bad_request");
    post(json!({ "url": url }))
        .await
        .assert_problem(400, "bad_request");
    // Listed events are stored once each, in their order.
    let r = post(
        json!({ "url": url, "events": ["report.resolved", "report.created", "report.resolved"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body["events"],
        json!(["report.created", "report.resolved"])
    );
    let id = r.body["id"].as_str().unwrap().to_string();

    // Unknown endpoints are 404; removing one is 204, and again 204.
    let unknown = Uuid::now_v7();
    app.get(
        &format!("/v1/admin/webhooks/{unknown}/deliveries"),
        Some(&admin),
    )
    .await
    .assert_problem(404, "webhook_not_found");
    app.call(
        Method::DELETE,
        &format!("/v1/admin/webhooks/{unknown}"),
        Some(&admin),
        None,
    )
    .await
    .assert_problem(404, "webhook_not_found");
    for _ in 0..2 {
        let r = app
            .call(
                Method::DELETE,
                &format!("/v1/admin/webhooks/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    }
    let list = app.get("/v1/admin/webhooks", Some(&admin)).await;
    assert!(list.body[0]["disabled_at"].is_string(), "{:?}", list.body);
    // Only admins.
    let (_, staff) = app.member(Role::Staff, "0976500002").await;
    app.get("/v1/admin/webhooks", Some(&staff))
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/admin/webhooks", None)
        .await
        .assert_problem(401, "missing_token");
    app.stop().await;
}

#[tokio::test]
async fn hanging_and_redirecting_receivers_count_as_failures_and_removed_endpoints_get_nothing() {
    let app = TestApp::spawn_with(|s| {
        allow_http(s);
        s.webhooks_timeout_secs = 1;
    })
    .await;
    let (_, admin) = app.member(Role::Admin, "0976600001").await;
    let resident = app.resident_token("0976600003").await;
    let hanging = Receiver::start().await;
    hanging.answer(Answer::Hang);
    let redirecting = Receiver::start().await;
    redirecting.answer(Answer::Redirect);
    let removed = Receiver::start().await;
    let (hanging_id, _) = register(&app, &admin, &hanging.url(), &["report.created"]).await;
    let (redirect_id, _) = register(&app, &admin, &redirecting.url(), &["report.created"]).await;
    let (removed_id, _) = register(&app, &admin, &removed.url(), &["report.created"]).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/webhooks/{removed_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    file(&app, &resident, "Cống tắc trước chợ").await;

    // The hanging receiver is cut off by the timeout; the redirect is not followed.
    let deliveries = async |id: &str| {
        app.get(&format!("/v1/admin/webhooks/{id}/deliveries"), Some(&admin))
            .await
            .body
    };
    let started = Instant::now();
    loop {
        let (h, r) = (
            deliveries(&hanging_id).await,
            deliveries(&redirect_id).await,
        );
        if h[0]["attempts"] == 1 && r[0]["attempts"] == 1 {
            assert_eq!(h[0]["status"], "pending");
            assert_eq!(h[0]["last_error"], "timed out after 1 s", "{h}");
            assert!(h[0]["last_status"].is_null());
            assert_eq!(r[0]["status"], "pending");
            assert_eq!(r[0]["last_status"], 302, "{r}");
            assert_eq!(r[0]["last_error"], "HTTP 302 (redirects are not followed)");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{h} {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        redirecting.hits().iter().all(|h| h.path == "/hook"),
        "{:?}",
        redirecting.hits()
    );
    assert!(removed.hits().is_empty(), "{:?}", removed.hits());
    let list = app.get("/v1/admin/webhooks", Some(&admin)).await;
    let removed_view = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == removed_id.as_str())
        .unwrap()
        .clone();
    assert!(removed_view["disabled_at"].is_string());
    assert_eq!(removed_view["pending"], 0, "{removed_view}");

    // The hanging receiver recovers; its retry goes through.
    hanging.answer(Answer::Ok);
    retry_now(&app).await;
    until("the retry", || !hanging.delivered().is_empty()).await;
    assert_eq!(hanging.hits().len(), 2);
    assert_eq!(hanging.hits()[0].delivery, hanging.hits()[1].delivery);
    assert!(removed.hits().is_empty());
    app.stop().await;
}

/// Without `WARDLINE_OUTBOUND_ALLOW_PRIVATE`, an inside address is refused when registered, and a
/// name that resolves only inside (here `localhost`, where a receiver listens) is refused when a
/// delivery is sent: the receiver gets nothing and the delivery says why.
#[tokio::test]
async fn inside_addresses_are_refused_unless_the_server_allows_them() {
    let app = TestApp::spawn_with(|s| s.webhooks_allow_http = true).await;
    let (_, admin) = app.member(Role::Admin, "0976500101").await;
    let resident = app.resident_token("0976500102").await;
    let receiver = Receiver::start().await;
    for url in [
        receiver.url(),
        "https://169.254.169.254/latest/meta-data".to_string(),
        "https://[::1]:8443/hook".to_string(),
        "https://10.0.0.5/hook".to_string(),
    ] {
        let r = app
            .post(
                "/v1/admin/webhooks",
                Some(&admin),
                json!({ "url": url, "events": ["report.created"] }),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["code"], "url_not_public", "{url}");
    }
    let by_name = format!("http://localhost:{}/hook", receiver.addr.port());
    let (id, _) = register(&app, &admin, &by_name, &["report.created"]).await;
    file(&app, &resident, "Cống tắc trước chợ").await;
    let started = Instant::now();
    loop {
        let d = app
            .get(&format!("/v1/admin/webhooks/{id}/deliveries"), Some(&admin))
            .await
            .body;
        if d[0]["attempts"] == 1 {
            assert_eq!(
                d[0]["last_error"], "the name resolves to no public address (refused)",
                "{d}"
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(receiver.hits().is_empty(), "{:?}", receiver.hits());
    app.stop().await;
}
