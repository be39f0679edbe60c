//! The test app: a real server on a real socket (port 0) over a fresh database and object store.
//!
//! `WARDLINE_TEST_BACKEND` picks the backend pair: `sqlite` (default: SQLite file + local disk) or
//! `postgres` (a fresh PostgreSQL database from `WARDLINE_TEST_POSTGRES_URL` + the S3 server from
//! `WARDLINE_TEST_S3_*`). `scripts/test-all` runs the whole suite once with each.

use std::sync::Once;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use wardline::app::{AppState, Server};
use wardline::config::{Secret, Settings};

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub state: AppState,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn backend() -> String {
    std::env::var("WARDLINE_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

fn require(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} must be set for WARDLINE_TEST_BACKEND=postgres (run scripts/test-all)")
    })
}

static CRYPTO: Once = Once::new();

/// Settings for a fresh, isolated app on the selected backend.
pub async fn test_settings(dir: &std::path::Path) -> Settings {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        jwt_secret: Some(Secret::new(format!("test-secret-{}", Uuid::new_v4()))),
        log_filter: "warn".into(),
        shutdown_grace_secs: 2,
        // Every test app runs its own embedded TURN server on a free port; peers in tests sit
        // on this machine's own (private) addresses.
        turn_listen: "127.0.0.1:0".into(),
        turn_allow_private_peers: true,
        ..Settings::default()
    };
    if backend() == "postgres" {
        let admin_url = require("WARDLINE_TEST_POSTGRES_URL");
        let name = format!("wl_test_{}", Uuid::new_v4().simple());
        let admin = wardline::store::Db::connect(&admin_url, 1)
            .await
            .expect("connect to PostgreSQL");
        if let wardline::store::Db::Postgres(pool) = &admin {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(pool)
                .await
                .expect("create test database");
        }
        admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("postgres url");
        url.set_path(&name);
        settings.database_url = Some(Secret::new(url.to_string()));
        settings.storage_url = Some(format!(
            "s3://{}/t-{}",
            require("WARDLINE_TEST_S3_BUCKET"),
            Uuid::new_v4().simple()
        ));
        settings.s3_endpoint = Some(require("WARDLINE_TEST_S3_ENDPOINT"));
        settings.s3_access_key_id = Some(require("WARDLINE_TEST_S3_ACCESS_KEY"));
        settings.s3_secret_access_key = Some(Secret::new(require("WARDLINE_TEST_S3_SECRET_KEY")));
        settings.s3_region =
            std::env::var("WARDLINE_TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".into());
        settings.s3_path_style = true;
    } else {
        assert!(
            std::env::var("WARDLINE_TEST_REQUIRE_SERVICES").is_err() || backend() == "sqlite",
            "unknown WARDLINE_TEST_BACKEND {}",
            backend()
        );
    }
    settings
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_custom(tweak, |_| {}).await
    }

    /// Tweak the settings, then the built state (e.g. swap the push notifier), then serve.
    pub async fn spawn_custom(
        tweak: impl FnOnce(&mut Settings),
        tweak_state: impl FnOnce(&mut AppState),
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = test_settings(dir.path()).await;
        tweak(&mut settings);
        Self::serve(dir, settings, tweak_state).await
    }

    /// Stop the server and start a new one on the same database, object store and settings: a
    /// restart, after which the new server knows only what was stored.
    pub async fn restart(mut self) -> TestApp {
        let settings = (*self.state.settings).clone();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        let TestApp { _dir: dir, .. } = self;
        Self::serve(dir, settings, |_| {}).await
    }

    async fn serve(
        dir: tempfile::TempDir,
        settings: Settings,
        tweak_state: impl FnOnce(&mut AppState),
    ) -> TestApp {
        let mut state = AppState::build(settings).await.expect("build app");
        tweak_state(&mut state);
        let server = Server::bind(state.clone()).await.expect("bind");
        let base = format!("http://{}", server.local_addr);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(server.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            base,
            client: client(),
            state,
            _dir: dir,
            stop: Some(tx),
            server: Some(handle),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Send JSON (or nothing) with an optional bearer token; returns status, headers and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method.clone(), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = Resp::read(req.send().await.expect("request")).await;
        assert_documented(&method, path, &resp);
        resp
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// The last code texted to `phone` (from the embedded SMS outbox).
    pub async fn last_code(&self, phone_e164: &str) -> String {
        let bodies = wardline::auth::sms::outbox_for(&self.state.db, phone_e164, 1)
            .await
            .expect("outbox");
        let body = bodies.first().expect("a message was sent");
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("a 6-digit code in the message")
            .to_string()
    }

    /// Sign a resident in by code; returns the token response.
    pub async fn resident(&self, phone: &str) -> Value {
        let r = self
            .post("/v1/auth/otp", None, json!({ "phone": phone }))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        let e164 = wardline::auth::phone::Phone::parse(phone)
            .expect("phone")
            .to_string();
        let code = self.last_code(&e164).await;
        let r = self
            .post(
                "/v1/auth/otp/verify",
                None,
                json!({ "phone": phone, "code": code }),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.body);
        r.body
    }

    pub async fn resident_token(&self, phone: &str) -> String {
        token_of(&self.resident(phone).await)
    }

    /// Create an account of `role` directly (as the CLI does) and sign it in; returns (id, token).
    pub async fn member(&self, role: wardline::auth::Role, phone: &str) -> (Uuid, String) {
        let (id, token, _) = self.member_with_password(role, phone).await;
        (id, token)
    }

    /// Like `member`, also returning the password (to sign in again after moving the clock).
    pub async fn member_with_password(
        &self,
        role: wardline::auth::Role,
        phone: &str,
    ) -> (Uuid, String, String) {
        let (account, password) = self
            .state
            .auth
            .create_account(phone, "Test Person", role)
            .await
            .expect("create account");
        let token = self.login(phone, &password).await;
        // A one-time password must be changed before anything else (issue 16, defect 5); residents
        // sign in by code and are not asked.
        let password = if role == wardline::auth::Role::Resident {
            password
        } else {
            self.change_password(&token, &password).await
        };
        (account.account_id, token, password)
    }

    /// Change a one-time password to a new one; returns the new password.
    pub async fn change_password(&self, token: &str, current: &str) -> String {
        let new = format!("Mk-{}", Uuid::new_v4().simple());
        let r = self
            .post(
                "/v1/me/password",
                Some(token),
                json!({ "current_password": current, "new_password": new }),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        new
    }

    pub async fn login(&self, phone: &str, password: &str) -> String {
        let r = self
            .post(
                "/v1/auth/login",
                None,
                json!({ "phone": phone, "password": password }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        token_of(&r.body)
    }
}

/// The tests' HTTP client. Idle pooled connections are dropped before the server's keep-alive time
/// (15 s): reusing one at the instant the server closes it is a client-side race.
pub fn client() -> Client {
    Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

pub fn token_of(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Assert this is a problem response with the given status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{:?}", self.body);
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            ct.starts_with("application/problem+json"),
            "content-type {ct}: {:?}",
            self.body
        );
        assert_eq!(self.body["code"], code, "{:?}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "{:?}",
            self.body
        );
        assert!(
            self.body["type"]
                .as_str()
                .unwrap_or("")
                .starts_with("urn:wardline:problem:")
        );
    }
}

/// A server process (the real binary) on the same database and object store as `app`, with the
/// same signing secret: a second instance, or the server of a crash test.
pub struct ServerProcess {
    pub base: String,
    pub child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    pub async fn start(app: &TestApp) -> ServerProcess {
        Self::start_with(app, &[]).await
    }

    pub async fn start_with(app: &TestApp, extra: &[(&str, &str)]) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Self::command(app, dir.path());
        cmd.arg("serve")
            .env("WARDLINE_LISTEN", format!("127.0.0.1:{port}"))
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start a server process");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..400 {
            if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
                && r.status() == StatusCode::OK
            {
                return ServerProcess {
                    base,
                    child,
                    _dir: dir,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server process did not become ready");
    }

    /// The binary with `app`'s database, object store and secrets in its environment.
    pub fn command(app: &TestApp, data_dir: &std::path::Path) -> tokio::process::Command {
        let s = &app.state.settings;
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_wardline"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("WARDLINE_DATA_DIR", data_dir)
            .env("WARDLINE_DATABASE_URL", s.database_url())
            .env(
                "WARDLINE_JWT_SECRET",
                s.jwt_secret.as_ref().unwrap().expose(),
            )
            .env("WARDLINE_STORAGE_URL", s.storage_url())
            .env(
                "WARDLINE_S3_ENDPOINT",
                s.s3_endpoint.clone().unwrap_or_default(),
            )
            .env(
                "WARDLINE_S3_ACCESS_KEY_ID",
                s.s3_access_key_id.clone().unwrap_or_default(),
            )
            .env(
                "WARDLINE_S3_SECRET_ACCESS_KEY",
                s.s3_secret_access_key
                    .as_ref()
                    .map(|x| x.expose().to_string())
                    .unwrap_or_default(),
            )
            .env("WARDLINE_S3_REGION", &s.s3_region)
            .env("WARDLINE_TURN_LISTEN", "")
            .env("WARDLINE_LOG_FILTER", "error");
        cmd
    }

    /// SIGKILL: no shutdown, no flush, like a power cut of the process.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    pub async fn stop(self) {
        self.kill().await;
    }
}

/// Every operation's documented statuses, from the checked-in spec: `(method, path segments,
/// statuses)`, a segment `None` standing for a `{parameter}`.
type Documented = Vec<(String, Vec<Option<String>>, Vec<u16>)>;

fn documented() -> &'static Documented {
    static SPEC: std::sync::OnceLock<Documented> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/wardline.yaml");
        let text = std::fs::read_to_string(path).expect("openapi/wardline.yaml");
        let spec: serde_yaml::Value = serde_yaml::from_str(&text).expect("spec YAML");
        let mut out = Documented::new();
        for (template, ops) in spec["paths"].as_mapping().expect("paths") {
            let template = template.as_str().expect("path");
            let segments: Vec<Option<String>> = template
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                .collect();
            for (method, op) in ops.as_mapping().expect("operations") {
                let statuses = op["responses"]
                    .as_mapping()
                    .map(|r| {
                        r.keys()
                            .filter_map(|k| k.as_str().and_then(|s| s.parse().ok()))
                            .collect()
                    })
                    .unwrap_or_default();
                let method = method.as_str().expect("method").to_ascii_uppercase();
                out.push((method, segments.clone(), statuses));
            }
        }
        out
    })
}

/// An operation's problem must be one its spec entry lists (each operation documents only what
/// it can answer, so a list that leaves one out fails here). Answers made around the operations
/// (405, 408, 414, 431) and paths outside the spec are not the operations'.
pub fn assert_documented(method: &Method, path: &str, resp: &Resp) {
    let status = resp.status.as_u16();
    if !matches!(status, 401 | 403 | 404 | 409 | 412 | 413 | 415 | 422 | 429) {
        return;
    }
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    // The most literal template wins (`/v1/reports/mine` over `/v1/reports/{id}`).
    let op = documented()
        .iter()
        .filter(|(m, tpl, _)| {
            m == method.as_str()
                && tpl.len() == segments.len()
                && tpl
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.as_deref().is_none_or(|t| t == *s))
        })
        .max_by_key(|(_, tpl, _)| tpl.iter().filter(|t| t.is_some()).count());
    if let Some((_, _, statuses)) = op {
        assert!(
            statuses.contains(&status),
            "{method} {path} answered {status}, which its spec entry does not list ({statuses:?}): {:?}",
            resp.body
        );
    }
}
