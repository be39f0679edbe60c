//! Faults at scale: PostgreSQL restarted under load, the S3 server stopped and started again.
//! Each test runs its own PostgreSQL cluster and s3s-fs (started by the test, stopped and
//! restarted by it), so the rest of the suite is not disturbed. PostgreSQL pass only.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use wardline::config::Secret;

use crate::helpers::TestApp;
use crate::photos::{jpeg, upload};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway PostgreSQL cluster run as the `postgres` user.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn pg(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(args)
            .output()
            .expect("pg_ctl")
    }

    fn start() -> Cluster {
        let bin =
            PathBuf::from(std::env::var("WARDLINE_TEST_PG_BIN").expect("WARDLINE_TEST_PG_BIN"));
        let dir =
            std::env::temp_dir().join(format!("wl-fault-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let chown = std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(chown.success());
        let init = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(dir.join("data"))
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        let c = Cluster {
            bin,
            dir,
            port: free_port(),
        };
        c.up();
        c
    }

    fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        let out = self.pg(&[
            "-D",
            &self.dir.join("data").display().to_string(),
            "-o",
            &opts,
            "-l",
            &log.display().to_string(),
            "-w",
            "start",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn down(&self) {
        let out = self.pg(&[
            "-D",
            &self.dir.join("data").display().to_string(),
            "-m",
            "fast",
            "-w",
            "stop",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg(&[
            "-D",
            &self.dir.join("data").display().to_string(),
            "-m",
            "immediate",
            "stop",
        ]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private s3s-fs on a fixed port and directory, so it can be stopped and started again.
struct S3 {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

const KEY: &str = "fault-test";
const SECRET: &str = "fault-test-secret-0123456789";

impl S3 {
    fn start() -> S3 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/faults")).unwrap();
        let mut s = S3 {
            port: free_port(),
            dir,
            child: None,
        };
        s.up();
        s
    }

    fn up(&mut self) {
        let bin = std::env::var("WARDLINE_TEST_S3S_BIN").expect("WARDLINE_TEST_S3S_BIN");
        let child = std::process::Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", KEY, "--secret-key", SECRET])
            .arg(self.dir.path().join("data"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("s3s-fs did not come up");
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.down();
    }
}

fn services_here() -> bool {
    crate::helpers::backend() == "postgres"
        && std::env::var("WARDLINE_TEST_PG_BIN")
            .is_ok_and(|b| Path::new(&b).join("pg_ctl").exists())
        && std::env::var("WARDLINE_TEST_S3S_BIN").is_ok()
}

async fn spawn_on(cluster: &Cluster, s3: &S3) -> TestApp {
    let (url, port) = (cluster.url(), s3.port);
    TestApp::spawn_with(move |s| {
        s.database_url = Some(Secret::new(url));
        s.storage_url = Some("s3://faults/photos-test".into());
        s.s3_endpoint = Some(format!("http://127.0.0.1:{port}"));
        s.s3_access_key_id = Some(KEY.into());
        s.s3_secret_access_key = Some(Secret::new(SECRET));
    })
    .await
}

#[tokio::test]
async fn postgresql_restarted_under_load_gives_503s_then_recovers() {
    if !services_here() {
        eprintln!("fault tests need the PostgreSQL pass of scripts/test-all; skipped");
        return;
    }
    let cluster = Cluster::start();
    let s3 = S3::start();
    let app = spawn_on(&cluster, &s3).await;
    let (_, token) = app.member(wardline::auth::Role::Staff, "0966000001").await;
    // Load: signed-in reads that hit the database, continuously.
    let statuses: Arc<Mutex<Vec<(u16, bool)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = vec![];
    for _ in 0..4 {
        let (client, url, token, statuses, stop) = (
            app.client.clone(),
            app.url("/v1/me"),
            token.clone(),
            statuses.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(r) = client
                    .get(&url)
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                {
                    let retry = r.headers().contains_key("retry-after");
                    statuses.lock().unwrap().push((r.status().as_u16(), retry));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.down();
    // Down: readiness fails, requests get 503 with Retry-After.
    let mut saw_unready = false;
    for _ in 0..50 {
        if app.get("/readyz", None).await.status == StatusCode::SERVICE_UNAVAILABLE {
            saw_unready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        saw_unready,
        "/readyz kept saying ready with PostgreSQL down"
    );
    let r = app.get("/v1/me", Some(&token)).await;
    r.assert_problem(503, "database_unavailable");
    assert!(r.headers.contains_key("retry-after"));
    cluster.up();
    let back = Instant::now();
    let mut recovered = None;
    while back.elapsed() < Duration::from_secs(10) {
        if app.get("/readyz", None).await.status == StatusCode::OK {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = recovered.expect("recovered");
    eprintln!(
        "PostgreSQL restart: ready again {} ms after it came back",
        recovered.as_millis()
    );
    assert!(recovered <= Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in load {
        let _ = t.await;
    }
    let statuses = statuses.lock().unwrap().clone();
    let served = statuses.iter().filter(|(s, _)| *s == 200).count();
    let unavailable: Vec<_> = statuses.iter().filter(|(s, _)| *s == 503).collect();
    eprintln!(
        "during the restart: {served} served, {} answered 503",
        unavailable.len()
    );
    assert!(
        statuses.iter().all(|(s, _)| *s == 200 || *s == 503),
        "only 200 or 503, never 500: {statuses:?}"
    );
    assert!(
        unavailable.iter().all(|(_, retry)| *retry),
        "every 503 has Retry-After"
    );
    assert_eq!(app.get("/v1/me", Some(&token)).await.status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn the_s3_server_stopped_gives_503_on_upload_and_nothing_half_written() {
    if !services_here() {
        eprintln!("fault tests need the PostgreSQL pass of scripts/test-all; skipped");
        return;
    }
    let cluster = Cluster::start();
    let mut s3 = S3::start();
    let app = spawn_on(&cluster, &s3).await;
    let token = app.resident_token("0966000002").await;
    let r = upload(&app, &token, &jpeg(64, 48, 1), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    s3.down();
    let r = upload(&app, &token, &jpeg(64, 48, 2), "image/jpeg").await;
    r.assert_problem(503, "storage_unavailable");
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(
        app.get("/readyz", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let rows: i64 =
        wardline::on_db!(&app.state.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM media")
        .fetch_one(pool).await)
        .unwrap();
    assert_eq!(rows, 1, "no row for the photo that could not be stored");
    s3.up();
    let r = upload(&app, &token, &jpeg(64, 48, 2), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);
    app.stop().await;
}
