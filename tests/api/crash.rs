//! Crash safety: a server process is killed with SIGKILL while 100 residents upload photos and
//! create reports. After a restart every acknowledged report is there with its photo, nothing
//! half-written is visible, and stored photos without a row are collected by `wardline admin gc`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ServerProcess, TestApp};
use crate::photos::jpeg;

async fn one_report(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    seed: u8,
) -> Option<(String, String)> {
    let boundary = "crash-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").into_bytes();
    body.extend_from_slice(&jpeg(96, 64, seed));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = client
        .post(format!("{base}/v1/media"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .ok()?;
    if r.status() != StatusCode::CREATED {
        return None;
    }
    let media: Value = r.json().await.ok()?;
    let media_id = media["id"].as_str()?.to_string();
    let r = client
        .post(format!("{base}/v1/reports"))
        .bearer_auth(token)
        .json(&json!({
            "category_code": "road_damage",
            "description": format!("Ổ gà số {seed} trên đường Lê Lợi"),
            "lat": 10.7769, "lon": 106.7009, "accuracy_m": 8.0,
            "media_ids": [media_id],
            "answers": { "size": "large" }
        }))
        .send()
        .await
        .ok()?;
    if r.status() != StatusCode::CREATED {
        return None;
    }
    let report: Value = r.json().await.ok()?;
    Some((report["id"].as_str()?.to_string(), media_id))
}

#[tokio::test]
async fn acknowledged_reports_survive_sigkill_and_orphans_are_collected() {
    let app = TestApp::spawn().await;
    let token = app.resident_token("0965000001").await;
    let server = ServerProcess::start(&app).await;
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut tasks = vec![];
    for i in 0..100u8 {
        let (client, base, token, acked) = (
            client.clone(),
            server.base.clone(),
            token.clone(),
            acked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            if let Some(done) = one_report(&client, &base, &token, i).await {
                acked.lock().unwrap().push(done);
            }
        }));
    }
    // Kill midway: once some reports are acknowledged and others are still in flight.
    for _ in 0..400 {
        if acked.lock().unwrap().len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill().await;
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        !acked.is_empty() && acked.len() < 100,
        "killed midway: {} acknowledged",
        acked.len()
    );

    // Restart on the same database and store: every acknowledged report is there, with its photo.
    let server = ServerProcess::start(&app).await;
    for (report, media) in &acked {
        let r = client
            .get(format!("{}/v1/reports/{report}", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "acknowledged report {report} lost"
        );
        let body: Value = r.json().await.unwrap();
        let body = body["report"].clone();
        assert_eq!(body["photos"][0]["id"], media.as_str(), "{body}");
        let photo = client
            .get(format!(
                "{}{}",
                server.base,
                body["photos"][0]["url"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(photo.status(), StatusCode::OK);
        assert_eq!(&photo.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
    }
    let found: i64 =
        wardline::on_db!(&app.state.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM reports")
        .fetch_one(pool).await)
        .unwrap();
    eprintln!(
        "crash test: {} of 100 creates acknowledged before SIGKILL; {found} reports after restart",
        acked.len()
    );
    assert!(found >= acked.len() as i64);
    // Nothing half-written: every report has its one photo row, every photo row its objects.
    let db = &app.state.db;
    let orphan_reports: i64 = wardline::on_db!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM reports r WHERE NOT EXISTS (SELECT 1 FROM report_media m WHERE m.report_id = r.report_id)"
    ).fetch_one(pool).await)
    .unwrap();
    assert_eq!(orphan_reports, 0);
    let keys: Vec<(String, String)> = wardline::on_db!(db, pool => sqlx::query_as(
        "SELECT public_key, thumb_key FROM media"
    ).fetch_all(pool).await)
    .unwrap();
    for (public, thumb) in &keys {
        assert!(app.state.objects.exists(public).await.unwrap(), "{public}");
        assert!(app.state.objects.exists(thumb).await.unwrap(), "{thumb}");
    }
    server.stop().await;

    // A photo stored without its row (what a kill between the two leaves) is collected.
    let stray = format!("photos/ff/{}.jpg", "f".repeat(64));
    app.state
        .objects
        .put(&stray, bytes::Bytes::from_static(b"\xFF\xD8orphan"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = ServerProcess::command(&app, dir.path())
        .args(["admin", "gc", "--older-than-minutes", "0"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("deleted"), "{printed}");
    assert!(!app.state.objects.exists(&stray).await.unwrap());
    for (public, thumb) in &keys {
        assert!(
            app.state.objects.exists(public).await.unwrap(),
            "gc kept {public}"
        );
        assert!(app.state.objects.exists(thumb).await.unwrap());
    }
    app.stop().await;
}
