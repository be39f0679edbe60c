//! Telehealth end to end: calendars and slots, bookings (no double booking under 50 concurrent
//! requests), the waiting room, the consultation lifecycle, consent, clinical records, medical
//! privacy per role and the access log.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use wardline::auth::Role;

use crate::helpers::{Resp, TestApp};

/// A station with two doctors available around the clock in 15-minute slots.
struct Clinic {
    passwords: Vec<(String, String)>,
    admin: String,
    staff: String,
    station: String,
    doctor_id: Uuid,
    doctor: String,
    colleague_id: Uuid,
    colleague: String,
}

async fn clinic(app: &TestApp) -> Clinic {
    let (_, admin, p1) = app.member_with_password(Role::Admin, "0971000001").await;
    let (_, staff, p2) = app.member_with_password(Role::Staff, "0971000002").await;
    let (doctor_id, doctor, p3) = app.member_with_password(Role::Doctor, "0971000003").await;
    let (colleague_id, colleague, p4) = app.member_with_password(Role::Doctor, "0971000004").await;
    let r = app
        .post(
            "/v1/admin/stations",
            Some(&admin),
            json!({ "name": "Trạm Y tế phường Bến Nghé", "address": "12 Nguyễn Huệ" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let station = r.body["id"].as_str().unwrap().to_string();
    for d in [doctor_id, colleague_id] {
        let r = app
            .call(
                Method::PUT,
                &format!("/v1/admin/stations/{station}/doctors/{d}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    }
    let c = Clinic {
        passwords: vec![
            ("0971000001".into(), p1),
            ("0971000002".into(), p2),
            ("0971000003".into(), p3),
            ("0971000004".into(), p4),
        ],
        admin,
        staff,
        station,
        doctor_id,
        doctor,
        colleague_id,
        colleague,
    };
    set_all_week(app, &c, c.doctor_id, &c.doctor).await;
    c
}

impl Clinic {
    /// Sign everyone in again after the test moved the clock past the tokens' life.
    async fn relogin(&mut self, app: &TestApp) {
        let mut fresh = vec![];
        for (phone, password) in &self.passwords {
            fresh.push(app.login(phone, password).await);
        }
        self.admin = fresh[0].clone();
        self.staff = fresh[1].clone();
        self.doctor = fresh[2].clone();
        self.colleague = fresh[3].clone();
    }
}

async fn set_all_week(app: &TestApp, c: &Clinic, doctor_id: Uuid, token: &str) {
    let windows: Vec<Value> = (1..=7)
        .map(|d| json!({ "station_id": c.station, "weekday": d, "start": "00:00", "end": "24:00" }))
        .collect();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/telehealth/doctors/{doctor_id}/availability"),
            Some(token),
            Some(json!({ "windows": windows })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// The first free slot of the doctor at least `after` from now.
async fn slot_after(app: &TestApp, c: &Clinic, doctor: Uuid, after: Duration) -> String {
    let from = (app.state.clock.now() + after).to_rfc3339();
    let r = app
        .get(
            &format!(
                "/v1/telehealth/slots?doctor={doctor}&station={}&from={}",
                c.station,
                urlenc(&from)
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body[0]["start"]
        .as_str()
        .expect("a free slot")
        .to_string()
}

fn urlenc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn book(app: &TestApp, token: &str, c: &Clinic, doctor: Uuid, start: &str) -> Resp {
    app.post(
        "/v1/telehealth/appointments",
        Some(token),
        json!({ "doctor_id": doctor, "station_id": c.station, "start": start,
                "reason": "Ho và sốt nhẹ 3 ngày", "symptom": "respiratory" }),
    )
    .await
}

async fn consent(app: &TestApp, token: &str) {
    let texts = app.get("/v1/telehealth/consent", None).await;
    let version = texts.body[0]["version"].as_str().unwrap().to_string();
    assert_eq!(texts.body[0]["kind"], "telehealth");
    let r = app
        .post(
            "/v1/telehealth/consent",
            Some(token),
            json!({ "kind": "telehealth", "version": version, "accepted": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn join(app: &TestApp, token: &str, c: &Clinic) -> Resp {
    app.post(
        "/v1/telehealth/queue",
        Some(token),
        json!({ "station_id": c.station, "reason": "Đau bụng từ sáng", "symptom": "digestive" }),
    )
    .await
}

async fn admit(app: &TestApp, doctor: &str, c: &Clinic, chosen: Option<&str>) -> Resp {
    app.post(
        &format!("/v1/telehealth/stations/{}/queue/admit", c.station),
        Some(doctor),
        json!({ "consultation_id": chosen }),
    )
    .await
}

async fn act(app: &TestApp, token: &str, consultation: &str, action: &str, body: Value) -> Resp {
    app.post(
        &format!("/v1/telehealth/consultations/{consultation}/{action}"),
        Some(token),
        body,
    )
    .await
}

fn record_body() -> Value {
    json!({
        "subjective": "Đau thượng vị, buồn nôn từ sáng",
        "objective": "Tỉnh, tiếp xúc tốt; không sốt",
        "assessment": "Viêm dạ dày cấp",
        "plan": "Điều trị nội khoa, tái khám nếu không đỡ",
        "diagnoses": [{ "code": "K29.1", "text": "Viêm dạ dày cấp khác" }],
        "prescriptions": [{ "drug": "Omeprazole", "strength": "20 mg", "dose": "1 viên",
                            "frequency": "2 lần/ngày", "duration": "7 ngày",
                            "instructions": "Uống trước ăn 30 phút" }],
        "follow_up_on": (Utc::now() + Duration::days(7)).date_naive().to_string(),
        "in_person_advised": false
    })
}

/// The story: availability, a booking and a refused double booking, an on-demand patient
/// admitted and seen, notes with a prescription signed and read, privacy and the access log.
#[tokio::test]
async fn the_whole_telehealth_story() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let a = app.resident_token("0972000001").await;
    let b = app.resident_token("0972000002").await;
    let resident_c = app.resident_token("0972000003").await;

    // Residents find the station and its doctors without signing in.
    let stations = app.get("/v1/telehealth/stations", None).await;
    assert_eq!(stations.status, StatusCode::OK);
    assert_eq!(stations.body[0]["doctors"].as_array().unwrap().len(), 2);

    // A books a slot; B cannot book the same one.
    let start = slot_after(&app, &c, c.doctor_id, Duration::hours(24)).await;
    let r = book(&app, &a, &c, c.doctor_id, &start).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "booked");
    let r = book(&app, &b, &c, c.doctor_id, &start).await;
    r.assert_problem(409, "slot_taken");
    // The slot is no longer offered.
    let from = urlenc(&start);
    let slots = app
        .get(
            &format!("/v1/telehealth/slots?doctor={}&from={from}", c.doctor_id),
            None,
        )
        .await;
    assert_ne!(slots.body[0]["start"].as_str(), Some(start.as_str()));

    // C consents and joins the waiting room now.
    consent(&app, &resident_c).await;
    let r = join(&app, &resident_c, &c).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["status"], "waiting");
    assert_eq!(r.body["position"], 1);
    assert!(r.body["estimated_wait_minutes"].as_i64().unwrap() >= 1);
    let consultation = r.body["id"].as_str().unwrap().to_string();

    // The doctor sees the queue and admits C; C is told; the call starts and ends.
    let q = app
        .get(
            &format!("/v1/telehealth/stations/{}/queue", c.station),
            Some(&c.doctor),
        )
        .await;
    assert_eq!(q.status, StatusCode::OK, "{:?}", q.body);
    assert_eq!(q.body.as_array().unwrap().len(), 1);
    assert_eq!(q.body[0]["reason"], "Đau bụng từ sáng");
    let r = admit(&app, &c.doctor, &c, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["id"], consultation.as_str());
    assert_eq!(r.body["status"], "admitted");
    let inbox = app.get("/v1/notifications", Some(&resident_c)).await;
    assert_eq!(inbox.body["items"][0]["kind"], "consultation_admitted");
    assert_eq!(
        inbox.body["items"][0]["consultation_id"],
        consultation.as_str()
    );
    let r = act(&app, &c.doctor, &consultation, "start", json!({})).await;
    assert_eq!(r.body["status"], "in_call", "{:?}", r.body);
    app.state.clock.advance(Duration::minutes(9));
    let r = act(&app, &c.doctor, &consultation, "end", json!({})).await;
    assert_eq!(r.body["status"], "ended", "{:?}", r.body);
    assert!(r.body["duration_seconds"].as_i64().unwrap() >= 540);
    assert_eq!(r.body["end_reason"], "doctor_ended");

    // The doctor writes and signs notes with a prescription; C reads them.
    let r = app
        .post(
            &format!("/v1/telehealth/consultations/{consultation}/records"),
            Some(&c.doctor),
            record_body(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let record = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["status"], "draft");
    // A draft is not the resident's to read yet.
    app.get(
        &format!("/v1/telehealth/records/{record}"),
        Some(&resident_c),
    )
    .await
    .assert_problem(404, "record_not_found");
    let r = app
        .post(
            &format!("/v1/telehealth/records/{record}/sign"),
            Some(&c.doctor),
            json!({}),
        )
        .await;
    assert_eq!(r.body["status"], "signed", "{:?}", r.body);
    let mine = app
        .get(
            &format!("/v1/telehealth/records/{record}"),
            Some(&resident_c),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    assert_eq!(mine.body["prescriptions"][0]["drug"], "Omeprazole");
    assert_eq!(mine.body["diagnoses"][0]["code"], "K29.1");
    let history = app.get("/v1/telehealth/records", Some(&resident_c)).await;
    assert_eq!(history.body.as_array().unwrap().len(), 1);

    // Privacy: staff and admins never read clinical content; another resident cannot see it.
    app.get(&format!("/v1/telehealth/records/{record}"), Some(&c.staff))
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/v1/telehealth/records/{record}"), Some(&c.admin))
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/v1/telehealth/records/{record}"), Some(&a))
        .await
        .assert_problem(404, "record_not_found");
    app.get(
        &format!("/v1/telehealth/records/{record}"),
        Some(&c.colleague),
    )
    .await
    .assert_problem(404, "record_not_found");
    app.get(
        &format!("/v1/telehealth/consultations/{consultation}"),
        Some(&a),
    )
    .await
    .assert_problem(404, "consultation_not_found");
    app.get(
        &format!("/v1/telehealth/consultations/{consultation}"),
        Some(&c.staff),
    )
    .await
    .assert_problem(403, "forbidden");
    let listed = app.get("/v1/telehealth/records", Some(&a)).await;
    assert_eq!(listed.body, json!([]));
    app.get("/v1/telehealth/records", Some(&c.staff))
        .await
        .assert_problem(403, "forbidden");

    // The doctor reads the record again; C's access log shows the doctor's reads and writes.
    let r = app
        .get(&format!("/v1/telehealth/records/{record}"), Some(&c.doctor))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let log = app.get("/v1/me/record-access", Some(&resident_c)).await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    let entries: Vec<(String, String, String)> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"]["id"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["purpose"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let doctor = c.doctor_id.to_string();
    for action in ["create", "sign", "read"] {
        assert!(
            entries
                .iter()
                .any(|(who, what, why)| *who == doctor && what == action && why == "treatment"),
            "{action} missing in {entries:?}"
        );
    }
    // Nobody else's access log holds C's data.
    let other = app.get("/v1/me/record-access", Some(&a)).await;
    assert_eq!(other.body["items"], json!([]));

    // C rates the consultation once; the station's figures have no clinical content.
    let r = act(
        &app,
        &resident_c,
        &consultation,
        "rating",
        json!({ "stars": 5, "comment": "Bác sĩ tận tình" }),
    )
    .await;
    assert_eq!(r.body["rating"], 5, "{:?}", r.body);
    act(
        &app,
        &resident_c,
        &consultation,
        "rating",
        json!({ "stars": 1 }),
    )
    .await
    .assert_problem(409, "already_rated");
    let stats = app
        .get(
            &format!("/v1/telehealth/stations/{}/stats", c.station),
            Some(&c.admin),
        )
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{:?}", stats.body);
    assert_eq!(stats.body["consultations"]["ended"], 1);
    assert_eq!(stats.body["records_signed"], 1);
    assert_eq!(stats.body["average_rating"], 5.0);
    assert_eq!(stats.body["doctors"][0]["consultations"], 1);
    let text = stats.body.to_string();
    assert!(!text.contains("Omeprazole") && !text.contains("Đau bụng"));
    app.get(
        &format!("/v1/telehealth/stations/{}/stats", c.station),
        Some(&c.staff),
    )
    .await
    .assert_problem(403, "forbidden");
    app.stop().await;
}

/// 50 residents book the same slot at once: exactly one succeeds, 49 get a clean 409.
#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_make_one_appointment() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let mut tokens = vec![];
    for i in 0..50 {
        let (_, t) = app.member(Role::Resident, &format!("09730{:05}", i)).await;
        tokens.push(t);
    }
    let start = slot_after(&app, &c, c.doctor_id, Duration::hours(30)).await;
    let results = futures::future::join_all(
        tokens
            .iter()
            .map(|t| book(&app, t, &c, c.doctor_id, &start)),
    )
    .await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(
        created,
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        r.assert_problem(409, "slot_taken");
    }
    let n: i64 = wardline::on_db!(&app.state.db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM appointments WHERE status <> 'cancelled'"
    ).fetch_one(pool).await)
    .unwrap();
    assert_eq!(n, 1);
    app.stop().await;
}

#[tokio::test]
async fn hostile_calendar_and_booking_input_gets_clean_4xx() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let a = app.resident_token("0974000001").await;
    let avail = format!("/v1/telehealth/doctors/{}/availability", c.doctor_id);
    let put = |token: &str, windows: Value| {
        let token = token.to_string();
        let avail = avail.clone();
        let app = &app;
        async move {
            app.call(
                Method::PUT,
                &avail,
                Some(&token),
                Some(json!({ "windows": windows })),
            )
            .await
        }
    };
    // Overlapping windows.
    put(
        &c.doctor,
        json!([
            { "station_id": c.station, "weekday": 1, "start": "08:00", "end": "11:00" },
            { "station_id": c.station, "weekday": 1, "start": "10:30", "end": "12:00" }
        ]),
    )
    .await
    .assert_problem(422, "validation_failed");
    // Nonsense times, a window that ends before it starts, a station the doctor is not at.
    put(
        &c.doctor,
        json!([{ "station_id": c.station, "weekday": 1, "start": "8h", "end": "11:00" }]),
    )
    .await
    .assert_problem(422, "validation_failed");
    put(
        &c.doctor,
        json!([{ "station_id": c.station, "weekday": 1, "start": "11:00", "end": "08:00" }]),
    )
    .await
    .assert_problem(422, "validation_failed");
    let r = app
        .post(
            "/v1/admin/stations",
            Some(&c.admin),
            json!({ "name": "Trạm khác" }),
        )
        .await;
    let other_station = r.body["id"].as_str().unwrap().to_string();
    let r = put(
        &c.doctor,
        json!([{ "station_id": other_station, "weekday": 1, "start": "08:00", "end": "11:00" }]),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "not_at_station");
    // Someone else's calendar.
    put(&c.colleague, json!([]))
        .await
        .assert_problem(403, "forbidden");
    put(&a, json!([])).await.assert_problem(403, "forbidden");
    put(&c.staff, json!([]))
        .await
        .assert_problem(403, "forbidden");
    // The doctor's calendar survived all of that.
    let r = app.get(&avail, Some(&c.doctor)).await;
    assert_eq!(r.body["windows"].as_array().unwrap().len(), 7);

    // Booking in the past, off the grid, at another station, far ahead, with no reason.
    let past = (app.state.clock.now() - Duration::hours(1))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let r = book(&app, &a, &c, c.doctor_id, &past).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "slot_in_past");
    let start = slot_after(&app, &c, c.doctor_id, Duration::hours(26)).await;
    let off_grid =
        (DateTime::parse_from_rfc3339(&start).unwrap() + Duration::minutes(7)).to_rfc3339();
    let r = book(&app, &a, &c, c.doctor_id, &off_grid).await;
    assert_eq!(r.body["errors"][0]["code"], "not_a_slot", "{:?}", r.body);
    let r = app
        .post(
            "/v1/telehealth/appointments",
            Some(&a),
            json!({ "doctor_id": c.doctor_id, "station_id": other_station, "start": start,
                    "reason": "Khám" }),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "not_a_slot");
    let far = (app.state.clock.now() + Duration::days(90))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let r = book(&app, &a, &c, c.doctor_id, &far).await;
    assert_eq!(r.body["errors"][0]["code"], "beyond_booking_horizon");
    let r = app
        .post(
            "/v1/telehealth/appointments",
            Some(&a),
            json!({ "doctor_id": c.doctor_id, "station_id": c.station, "start": start, "reason": "  " }),
        )
        .await;
    assert_eq!(r.body["errors"][0]["code"], "invalid_reason");
    // Unknown doctor, a staff account, garbage.
    let r = book(&app, &a, &c, Uuid::now_v7(), &start).await;
    r.assert_problem(404, "doctor_not_found");
    book(&app, &c.staff, &c, c.doctor_id, &start)
        .await
        .assert_problem(403, "forbidden");
    let r = app
        .post(
            "/v1/telehealth/appointments",
            Some(&a),
            json!({ "doctor_id": "x", "start": "yesterday" }),
        )
        .await;
    assert!(r.status.is_client_error(), "{:?}", r.body);
    // Slot queries: reversed and overlong ranges.
    let now = app.state.clock.now();
    let r = app
        .get(
            &format!(
                "/v1/telehealth/slots?from={}&to={}",
                urlenc(&(now + Duration::days(2)).to_rfc3339()),
                urlenc(&(now + Duration::days(1)).to_rfc3339())
            ),
            None,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .get(
            &format!(
                "/v1/telehealth/slots?to={}",
                urlenc(&(now + Duration::days(60)).to_rfc3339())
            ),
            None,
        )
        .await;
    assert_eq!(r.body["errors"][0]["code"], "range_too_long");
    // Nothing was booked by any of it.
    let mine = app.get("/v1/telehealth/appointments", Some(&a)).await;
    assert_eq!(mine.body, json!([]));
    app.stop().await;
}

#[tokio::test]
async fn notes_only_by_the_consultations_doctors_and_signed_records_never_change() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let r1 = app.resident_token("0975000001").await;
    consent(&app, &r1).await;
    let id = join(&app, &r1, &c).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    // No notes before the call has begun.
    admit(&app, &c.doctor, &c, None).await;
    app.post(
        &format!("/v1/telehealth/consultations/{id}/records"),
        Some(&c.doctor),
        record_body(),
    )
    .await
    .assert_problem(409, "consultation_not_started");
    act(&app, &c.doctor, &id, "start", json!({})).await;
    // A doctor not in the consultation, a resident, staff: refused.
    let records = format!("/v1/telehealth/consultations/{id}/records");
    app.post(&records, Some(&c.colleague), record_body())
        .await
        .assert_problem(404, "consultation_not_found");
    app.post(&records, Some(&r1), record_body())
        .await
        .assert_problem(403, "forbidden");
    app.post(&records, Some(&c.staff), record_body())
        .await
        .assert_problem(403, "forbidden");
    // Bad clinical input.
    let mut bad = record_body();
    bad["diagnoses"][0]["code"] = json!("stomach ache");
    let r = app.post(&records, Some(&c.doctor), bad).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "diagnoses[0].code");
    let mut bad = record_body();
    bad["prescriptions"][0]["dose"] = json!("");
    bad["follow_up_on"] = json!("2001-01-01");
    let r = app.post(&records, Some(&c.doctor), bad).await;
    assert_eq!(
        r.body["errors"].as_array().unwrap().len(),
        2,
        "{:?}",
        r.body
    );

    let r = app.post(&records, Some(&c.doctor), record_body()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let record = r.body["id"].as_str().unwrap().to_string();
    app.post(&records, Some(&c.doctor), record_body())
        .await
        .assert_problem(409, "record_exists");
    // The author edits the draft, then signs it.
    let mut edited = record_body();
    edited["plan"] = json!("Uống thuốc, tái khám sau 7 ngày");
    let path = format!("/v1/telehealth/records/{record}");
    let r = app
        .call(Method::PUT, &path, Some(&c.doctor), Some(edited.clone()))
        .await;
    assert_eq!(
        r.body["plan"], "Uống thuốc, tái khám sau 7 ngày",
        "{:?}",
        r.body
    );
    app.post(&format!("{path}/sign"), Some(&c.doctor), json!({}))
        .await;
    // Signed: no edit, no second signature, not even straight in the database.
    app.call(Method::PUT, &path, Some(&c.doctor), Some(record_body()))
        .await
        .assert_problem(409, "record_signed");
    app.post(&format!("{path}/sign"), Some(&c.doctor), json!({}))
        .await
        .assert_problem(409, "record_signed");
    let record_id = Uuid::parse_str(&record).unwrap();
    let sneaky = wardline::on_db!(&app.state.db, pool => sqlx::query(
        "UPDATE clinical_records SET plan = 'tampered' WHERE record_id = $1"
    ).bind(record_id).execute(pool).await.map(|r| r.rows_affected()));
    assert!(sneaky.is_err(), "the database must refuse: {sneaky:?}");
    let deleted = wardline::on_db!(&app.state.db, pool => sqlx::query(
        "DELETE FROM clinical_records WHERE record_id = $1"
    ).bind(record_id).execute(pool).await.map(|r| r.rows_affected()));
    assert!(deleted.is_err(), "{deleted:?}");
    let audit_tamper = wardline::on_db!(&app.state.db, pool => sqlx::query(
        "DELETE FROM record_access"
    ).execute(pool).await.map(|r| r.rows_affected()));
    assert!(audit_tamper.is_err(), "{audit_tamper:?}");

    // An amendment is a new version superseding the signed one.
    let r = app
        .post(&format!("{path}/amend"), Some(&c.doctor), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["supersedes"], record.as_str());
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["plan"], "Uống thuốc, tái khám sau 7 ngày");
    let v2 = r.body["id"].as_str().unwrap().to_string();
    app.post(&format!("{path}/amend"), Some(&c.doctor), json!({}))
        .await
        .assert_problem(409, "record_superseded");
    // The colleague cannot touch it.
    app.call(
        Method::PUT,
        &format!("/v1/telehealth/records/{v2}"),
        Some(&c.colleague),
        Some(record_body()),
    )
    .await
    .assert_problem(404, "record_not_found");
    // The resident sees only signed versions.
    let list = app.get("/v1/telehealth/records", Some(&r1)).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["superseded_by"], v2.as_str());
    app.stop().await;
}

#[tokio::test]
async fn consent_is_required_before_admission_and_recording_is_off_by_default() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let r1 = app.resident_token("0976000001").await;
    let me = app.get("/v1/me/consents", Some(&r1)).await;
    assert_eq!(me.body["telehealth"], false);
    assert_eq!(me.body["recording"], false);
    // Decided (issue 16): booking only reserves a time and needs no consent; the consent is asked
    // for before the call, and the doctor cannot admit anyone who has not given it (below).
    let start = slot_after(&app, &c, c.doctor_id, Duration::hours(24)).await;
    let booked = book(&app, &r1, &c, c.doctor_id, &start).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    let id = join(&app, &r1, &c).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let view = app
        .get(&format!("/v1/telehealth/consultations/{id}"), Some(&r1))
        .await;
    assert_eq!(view.body["consent_needed"], true);
    // Next-in-line skips those without consent; choosing them is refused.
    admit(&app, &c.doctor, &c, None)
        .await
        .assert_problem(404, "queue_empty");
    admit(&app, &c.doctor, &c, Some(&id))
        .await
        .assert_problem(409, "consent_required");
    // An outdated text cannot be accepted.
    app.post(
        "/v1/telehealth/consent",
        Some(&r1),
        json!({ "kind": "telehealth", "version": "1999-01-01", "accepted": true }),
    )
    .await
    .assert_problem(409, "consent_version_outdated");
    // Staff do not consent on anyone's behalf.
    app.post(
        "/v1/telehealth/consent",
        Some(&c.staff),
        json!({ "kind": "telehealth", "version": "2026-11-01", "accepted": true }),
    )
    .await
    .assert_problem(403, "forbidden");
    consent(&app, &r1).await;
    let r = admit(&app, &c.doctor, &c, None).await;
    assert_eq!(r.body["status"], "admitted", "{:?}", r.body);
    let me = app.get("/v1/me/consents", Some(&r1)).await;
    assert_eq!(me.body["telehealth"], true);
    assert_eq!(me.body["recording"], false);
    assert_eq!(me.body["history"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_waiting_room_orders_requeues_transfers_and_expires_missed_calls() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let r1 = app.resident_token("0977000001").await;
    let r2 = app.resident_token("0977000002").await;
    let r3 = app.resident_token("0977000003").await;
    for t in [&r1, &r2, &r3] {
        consent(&app, t).await;
    }
    let first = join(&app, &r1, &c).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.state.clock.advance(Duration::seconds(5));
    let r = join(&app, &r2, &c).await;
    assert_eq!(r.body["position"], 2, "{:?}", r.body);
    let second = r.body["id"].as_str().unwrap().to_string();
    // One live consultation per resident.
    join(&app, &r1, &c)
        .await
        .assert_problem(409, "already_in_consultation");
    // Idempotent join: a retry with the same key returns the same consultation.
    let retry = |key: &str| {
        let key = key.to_string();
        let app = &app;
        let r3 = r3.clone();
        let station = c.station.clone();
        async move {
            let resp = app
                .client
                .post(app.url("/v1/telehealth/queue"))
                .bearer_auth(&r3)
                .header("Idempotency-Key", key)
                .json(&json!({ "station_id": station, "reason": "Chóng mặt" }))
                .send()
                .await
                .unwrap();
            Resp::read(resp).await
        }
    };
    let x = retry("join-1").await;
    let y = retry("join-1").await;
    assert_eq!(x.status, StatusCode::CREATED, "{:?}", x.body);
    assert_eq!(x.body["id"], y.body["id"]);
    let third = x.body["id"].as_str().unwrap().to_string();

    // Doctor admits the first, then puts them back: they keep their place.
    let r = admit(&app, &c.doctor, &c, None).await;
    assert_eq!(r.body["id"], first.as_str());
    // The admitted resident is no longer in the queue; their position is gone.
    let r = act(&app, &c.doctor, &first, "requeue", json!({})).await;
    assert_eq!(r.body["status"], "waiting", "{:?}", r.body);
    assert_eq!(r.body["position"], 1);
    // Transfer the second to the colleague: the doctor's next skips it, the colleague gets it.
    let r = act(
        &app,
        &c.doctor,
        &second,
        "transfer",
        json!({ "doctor_id": c.colleague_id }),
    )
    .await;
    assert_eq!(
        r.body["doctor_id"],
        c.colleague_id.to_string(),
        "{:?}",
        r.body
    );
    act(
        &app,
        &c.doctor,
        &third,
        "transfer",
        json!({ "doctor_id": Uuid::now_v7() }),
    )
    .await
    .assert_problem(404, "doctor_not_found");
    let r = admit(&app, &c.doctor, &c, None).await;
    assert_eq!(r.body["id"], first.as_str());
    let r = admit(&app, &c.doctor, &c, None).await;
    assert_eq!(r.body["id"], third.as_str(), "skips the transferred one");
    let r = admit(&app, &c.colleague, &c, None).await;
    assert_eq!(r.body["id"], second.as_str());
    // The colleague cannot act on the doctor's consultation or read it.
    act(&app, &c.colleague, &first, "start", json!({}))
        .await
        .assert_problem(404, "consultation_not_found");

    // The first connects; the third never answers and misses the call.
    act(&app, &c.doctor, &first, "start", json!({})).await;
    app.state.clock.advance(Duration::minutes(3));
    let swept = wardline::telehealth::sweep(&app.state.telehealth)
        .await
        .unwrap();
    assert_eq!(swept.missed, 2, "the third and the second: {swept:?}");
    let r = app
        .get(&format!("/v1/telehealth/consultations/{third}"), Some(&r3))
        .await;
    assert_eq!(r.body["status"], "missed");
    let inbox = app.get("/v1/notifications", Some(&r3)).await;
    assert_eq!(inbox.body["items"][0]["kind"], "consultation_missed");
    // A missed resident may join again.
    assert_eq!(join(&app, &r3, &c).await.status, StatusCode::CREATED);
    // Ending from the wrong state, by the wrong person.
    act(&app, &r2, &second, "end", json!({}))
        .await
        .assert_problem(409, "illegal_transition");
    act(&app, &c.staff, &first, "end", json!({}))
        .await
        .assert_problem(403, "forbidden");
    let r = act(&app, &r1, &first, "end", json!({})).await;
    assert_eq!(r.body["end_reason"], "resident_ended", "{:?}", r.body);
    // The broker's view: who may join which call.
    let first_id = Uuid::parse_str(&first).unwrap();
    let me1 = app.get("/v1/me", Some(&r1)).await;
    let r1_id = Uuid::parse_str(me1.body["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        wardline::telehealth::queue::participant(&app.state.telehealth, first_id, r1_id)
            .await
            .unwrap(),
        None,
        "an ended consultation admits nobody"
    );
    app.stop().await;
}

#[tokio::test]
async fn specialists_join_and_the_broker_knows_who_may_enter() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let (specialist_id, specialist) = app.member(Role::Doctor, "0978000009").await;
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/admin/doctors/{specialist_id}/profile"),
            Some(&c.admin),
            Some(json!({ "title": "TS.BS", "specialty": "Tim mạch", "hospital": "Bệnh viện Chợ Rẫy" })),
        )
        .await;
    assert_eq!(r.body["hospital"], "Bệnh viện Chợ Rẫy", "{:?}", r.body);
    let r1 = app.resident_token("0978000001").await;
    consent(&app, &r1).await;
    let id = join(&app, &r1, &c).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cid = Uuid::parse_str(&id).unwrap();
    // Waiting: nobody may enter the call yet.
    assert_eq!(
        wardline::telehealth::queue::participant(&app.state.telehealth, cid, c.doctor_id)
            .await
            .unwrap(),
        None
    );
    admit(&app, &c.doctor, &c, None).await;
    let p = wardline::telehealth::queue::participant(&app.state.telehealth, cid, c.doctor_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.role, wardline::telehealth::queue::ParticipantRole::Doctor);
    assert!(p.until > app.state.clock.now());
    // Only the admitting doctor invites; only doctors can be invited.
    act(
        &app,
        &c.colleague,
        &id,
        "specialists",
        json!({ "doctor_id": specialist_id }),
    )
    .await
    .assert_problem(404, "consultation_not_found");
    let r = act(
        &app,
        &c.doctor,
        &id,
        "specialists",
        json!({ "doctor_id": specialist_id }),
    )
    .await;
    assert_eq!(
        r.body["doctors"].as_array().unwrap().len(),
        2,
        "{:?}",
        r.body
    );
    act(
        &app,
        &c.doctor,
        &id,
        "specialists",
        json!({ "doctor_id": specialist_id }),
    )
    .await
    .assert_problem(409, "already_in_consultation");
    let p = wardline::telehealth::queue::participant(&app.state.telehealth, cid, specialist_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.role,
        wardline::telehealth::queue::ParticipantRole::Specialist
    );
    assert_eq!(
        wardline::telehealth::queue::participant(&app.state.telehealth, cid, c.colleague_id)
            .await
            .unwrap(),
        None
    );
    // The specialist sees the consultation and writes their own record.
    act(&app, &c.doctor, &id, "start", json!({})).await;
    let r = app
        .get(
            &format!("/v1/telehealth/consultations/{id}"),
            Some(&specialist),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post(
            &format!("/v1/telehealth/consultations/{id}/records"),
            Some(&specialist),
            record_body(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // The admitted resident's own part.
    let me = app.get("/v1/me", Some(&r1)).await;
    let r1_id = Uuid::parse_str(me.body["id"].as_str().unwrap()).unwrap();
    let p = wardline::telehealth::queue::participant(&app.state.telehealth, cid, r1_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.role,
        wardline::telehealth::queue::ParticipantRole::Patient
    );
    app.stop().await;
}

#[tokio::test]
async fn cancel_reschedule_check_in_reminders_and_no_shows() {
    let app = TestApp::spawn().await;
    let mut c = clinic(&app).await;
    let r1 = app.resident_token("0979100001").await;
    let r2 = app.resident_token("0979100002").await;
    consent(&app, &r1).await;
    let start = slot_after(&app, &c, c.doctor_id, Duration::hours(30)).await;
    let booked = book(&app, &r1, &c, c.doctor_id, &start).await;
    let id = booked.body["id"].as_str().unwrap().to_string();
    // Other people's appointments do not exist for you.
    app.get(&format!("/v1/telehealth/appointments/{id}"), Some(&r2))
        .await
        .assert_problem(404, "appointment_not_found");
    app.get(
        &format!("/v1/telehealth/appointments/{id}"),
        Some(&c.colleague),
    )
    .await
    .assert_problem(404, "appointment_not_found");
    app.get(&format!("/v1/telehealth/appointments/{id}"), Some(&c.staff))
        .await
        .assert_problem(403, "forbidden");
    let doctors_view = app
        .get("/v1/telehealth/appointments", Some(&c.doctor))
        .await;
    assert_eq!(doctors_view.body.as_array().unwrap().len(), 1);

    // Move it a day later, then check the reminders fire once each.
    let later = slot_after(&app, &c, c.doctor_id, Duration::hours(50)).await;
    let r = app
        .post(
            &format!("/v1/telehealth/appointments/{id}/reschedule"),
            Some(&r1),
            json!({ "start": later }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let later_at: DateTime<Utc> = DateTime::parse_from_rfc3339(&later).unwrap().into();
    let inbox = app.get("/v1/notifications", Some(&c.doctor)).await;
    assert_eq!(inbox.body["items"][0]["kind"], "appointment_rescheduled");
    let to = |t: DateTime<Utc>| t - app.state.clock.now();
    app.state.clock.advance(to(later_at - Duration::hours(23)));
    let s = wardline::telehealth::sweep(&app.state.telehealth)
        .await
        .unwrap();
    assert_eq!(s.reminders, 1);
    assert_eq!(
        wardline::telehealth::sweep(&app.state.telehealth)
            .await
            .unwrap()
            .reminders,
        0
    );
    app.state
        .clock
        .advance(to(later_at - Duration::minutes(10)));
    assert_eq!(
        wardline::telehealth::sweep(&app.state.telehealth)
            .await
            .unwrap()
            .reminders,
        1
    );
    let r1 = app.resident_token("0979100001").await;
    let kinds: Vec<String> = app.get("/v1/notifications", Some(&r1)).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["appointment_reminder_15m", "appointment_reminder_24h"]
    );

    // Too late to cancel for the resident; check in instead, be seen, and it is fulfilled.
    app.post(
        &format!("/v1/telehealth/appointments/{id}/cancel"),
        Some(&r1),
        json!({ "reason": "bận" }),
    )
    .await
    .assert_problem(409, "cutoff_passed");
    let r = app
        .post(
            &format!("/v1/telehealth/appointments/{id}/check-in"),
            Some(&r1),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["appointment_id"], id.as_str());
    let consultation = r.body["id"].as_str().unwrap().to_string();
    // Meant for the booked doctor: the colleague's next-in-line does not take it.
    c.relogin(&app).await;
    admit(&app, &c.colleague, &c, None)
        .await
        .assert_problem(404, "queue_empty");
    let r = admit(&app, &c.doctor, &c, None).await;
    assert_eq!(r.body["id"], consultation.as_str(), "{:?}", r.body);
    act(&app, &c.doctor, &consultation, "start", json!({})).await;
    act(&app, &c.doctor, &consultation, "end", json!({})).await;
    let r = app
        .get(&format!("/v1/telehealth/appointments/{id}"), Some(&r1))
        .await;
    assert_eq!(r.body["status"], "fulfilled", "{:?}", r.body);

    // The doctor may cancel at any time; the resident is told.
    let r2 = app.resident_token("0979100002").await;
    let soon = slot_after(&app, &c, c.doctor_id, Duration::hours(1)).await;
    let b2 = book(&app, &r2, &c, c.doctor_id, &soon).await;
    assert_eq!(b2.status, StatusCode::CREATED, "{:?}", b2.body);
    let b2_id = b2.body["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/v1/telehealth/appointments/{b2_id}/cancel"),
        Some(&r2),
        json!({}),
    )
    .await
    .assert_problem(409, "cutoff_passed");
    let r = app
        .post(
            &format!("/v1/telehealth/appointments/{b2_id}/cancel"),
            Some(&c.doctor),
            json!({ "reason": "Bác sĩ đi họp" }),
        )
        .await;
    assert_eq!(r.body["status"], "cancelled", "{:?}", r.body);
    let inbox = app.get("/v1/notifications", Some(&r2)).await;
    assert_eq!(inbox.body["items"][0]["kind"], "appointment_cancelled");
    assert_eq!(inbox.body["items"][0]["appointment_id"], b2_id.as_str());
    // The freed slot can be booked again; a resident who never checks in is a no-show.
    let b3 = book(&app, &r2, &c, c.doctor_id, &soon).await;
    assert_eq!(b3.status, StatusCode::CREATED, "{:?}", b3.body);
    let soon_at: DateTime<Utc> = DateTime::parse_from_rfc3339(&soon).unwrap().into();
    app.state
        .clock
        .advance(soon_at + Duration::minutes(31) - app.state.clock.now());
    let s = wardline::telehealth::sweep(&app.state.telehealth)
        .await
        .unwrap();
    assert_eq!(s.no_shows, 1, "{s:?}");
    c.relogin(&app).await;
    let stats = app
        .get(
            &format!("/v1/telehealth/stations/{}/stats", c.station),
            Some(&c.doctor),
        )
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{:?}", stats.body);
    assert_eq!(stats.body["no_show_rate"], 0.5, "{:?}", stats.body);
    app.stop().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message on `ws` within 3 s, parsed.
async fn next_text(ws: &mut Ws) -> Option<Value> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let fut = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).ok(),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(3), fut)
        .await
        .ok()
        .flatten()
}

/// The station's doctors hear at once that the waiting room changed (a resident joined, was
/// admitted, left); doctors of no station, staff and residents cannot listen; the message names
/// nobody.
#[tokio::test]
async fn the_waiting_room_is_pushed_to_the_stations_doctors() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let (_, stranger) = app.member(Role::Doctor, "0971000009").await;
    let resident = app.resident_token("0971000010").await;
    let url = format!(
        "{}/v1/telehealth/stations/{}/queue/live",
        app.base.replace("http://", "ws://"),
        c.station
    );
    for refused in [
        url.clone(),
        format!("{url}?access_token={stranger}"),
        format!("{url}?access_token={}", c.staff),
        format!("{url}?access_token={resident}"),
        format!("{url}?access_token=not-a-token"),
    ] {
        assert!(
            tokio_tungstenite::connect_async(refused.as_str())
                .await
                .is_err(),
            "{refused}"
        );
    }
    let (mut doctor, _) =
        tokio_tungstenite::connect_async(format!("{url}?access_token={}", c.doctor))
            .await
            .unwrap();
    let (mut colleague, _) =
        tokio_tungstenite::connect_async(format!("{url}?access_token={}", c.colleague))
            .await
            .unwrap();

    let joined = join(&app, &resident, &c).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{:?}", joined.body);
    let id = joined.body["id"].as_str().unwrap().to_string();
    for ws in [&mut doctor, &mut colleague] {
        let msg = next_text(ws).await.expect("a change after the join");
        assert_eq!(msg, json!({ "event": "queue_changed" }));
    }
    // The resident leaves the waiting room: the doctors hear it.
    let r = act(&app, &resident, &id, "cancel", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        next_text(&mut doctor).await,
        Some(json!({ "event": "queue_changed" }))
    );
    app.stop().await;
}
