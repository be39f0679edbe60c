//! The web apps in a real Chromium: each app's story (`tests/web/<app>.test.mjs`, playwright-core
//! driving Debian's `chromium` by role and accessible name, axe-core on every page) against a real
//! server on the selected backend. The Node script talks back over stdout/stdin for what only the
//! server side knows: the SMS code sent to a phone, a new account's one-time password.
//!
//! `scripts/test-all` installs the Node packages (`tests/web/package.json`, pinned) into the
//! cache and links them as `tests/web/node_modules`, and installs `chromium` with apt-get when it
//! is missing. Under it (`WARDLINE_TEST_REQUIRE_SERVICES`), a missing browser or package fails;
//! a bare `cargo test` skips with a message.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wardline::auth::Role;

use crate::helpers::TestApp;

/// One browser story at a time: Chromium is heavy on two cores.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web")
}

fn chromium() -> Option<String> {
    if let Ok(p) = std::env::var("WARDLINE_TEST_CHROMIUM") {
        return Some(p);
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_string)
}

/// Can the browser tests run here? Under the suite they must.
fn ready() -> bool {
    let modules = web_dir().join("node_modules/playwright-core");
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ok = modules.exists() && node && chromium().is_some();
    if !ok {
        let why = format!(
            "browser tests need node, {} and chromium ({:?})",
            modules.display(),
            chromium()
        );
        assert!(
            std::env::var("WARDLINE_TEST_REQUIRE_SERVICES").is_err(),
            "{why}: scripts/test-all installs them"
        );
        eprintln!("skipped: {why}");
    }
    ok
}

/// Answer one question of the Node script.
async fn answer(app: &TestApp, q: &Value) -> Value {
    match q["op"].as_str() {
        Some("otp") => {
            let phone = q["phone"].as_str().unwrap_or_default();
            let e164 = wardline::auth::phone::Phone::parse(phone)
                .expect("phone")
                .to_string();
            json!({ "code": app.last_code(&e164).await })
        }
        Some("account") => {
            let role = match q["role"].as_str() {
                Some("admin") => Role::Admin,
                Some("doctor") => Role::Doctor,
                Some("resident") => Role::Resident,
                _ => Role::Staff,
            };
            let (account, password) = app
                .state
                .auth
                .create_account(
                    q["phone"].as_str().unwrap_or_default(),
                    q["name"].as_str().unwrap_or("Người thử"),
                    role,
                )
                .await
                .expect("create account");
            json!({ "id": account.account_id, "password": password })
        }
        other => json!({ "error": format!("unknown op {other:?}") }),
    }
}

/// Run `tests/web/<script>` against `app` with `fixture`; panics with the script's output if
/// any of its steps failed.
pub async fn run_story(app: &TestApp, script: &str, fixture: Value) {
    let _one = ONE_BROWSER.lock().await;
    let mut child = tokio::process::Command::new("node")
        .arg(web_dir().join(script))
        .current_dir(web_dir())
        .env("WL_BASE", &app.base)
        .env("WL_FIXTURE", fixture.to_string())
        .env("WARDLINE_TEST_CHROMIUM", chromium().unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut output = String::new();
    let story = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(q) = line.strip_prefix("@@ask ") {
                let q: Value = serde_json::from_str(q).expect("a JSON question");
                let a = answer(app, &q).await;
                stdin
                    .write_all(format!("{a}\n").as_bytes())
                    .await
                    .expect("answer the script");
            } else {
                println!("{line}");
                output.push_str(&line);
                output.push('\n');
            }
        }
        child.wait().await.expect("node exits")
    };
    let status = tokio::time::timeout(std::time::Duration::from_secs(600), story)
        .await
        .expect("the browser story finished within 10 minutes");
    assert!(status.success(), "{script} failed:\n{output}");
}

/// An admin signed in through the API: the fixture every story starts from.
pub async fn admin_fixture(app: &TestApp) -> Value {
    let (admin_id, admin_token, admin_password) =
        app.member_with_password(Role::Admin, "0900000001").await;
    json!({
        "admin": { "id": admin_id, "phone": "0900000001", "password": admin_password, "token": admin_token },
    })
}

#[tokio::test]
async fn the_apps_are_served_with_a_strict_policy() {
    let app = TestApp::spawn().await;
    for path in ["/", "/staff/", "/doctor/"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        assert!(r.headers().contains_key("etag"));
        let html = r.text().await.unwrap();
        assert!(!html.contains("__BUILD__"), "{path}: placeholder left");
        assert!(!html.contains("<script>"), "{path}: inline script");
        // Every asset the page names is served immutable under the build prefix.
        for src in html
            .split(['"', '\''])
            .filter(|s| s.starts_with("/assets/"))
        {
            let a = app.client.get(app.url(src)).send().await.unwrap();
            assert_eq!(a.status(), 200, "{src}");
            assert_eq!(
                a.headers()["cache-control"],
                "public, max-age=31536000, immutable",
                "{src}"
            );
        }
    }
    let r = app
        .client
        .get(app.url("/staff"))
        .send()
        .await
        .unwrap()
        .url()
        .path()
        .to_string();
    assert_eq!(r, "/staff/");
    app.stop().await;
}

#[tokio::test]
async fn pages_revalidate_and_compress() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/staff/")).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .client
        .get(app.url("/staff/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // An unknown asset is a 404 problem, and a path escaping the tree finds nothing.
    for bad in [
        "/assets/0/none.js",
        "/assets/0/../Cargo.toml",
        "/assets/0/staff/index.html",
    ] {
        let r = app.client.get(app.url(bad)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    let r = app
        .client
        .post(app.url("/staff/"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    // Assets go out compressed for a client that accepts it; the bytes are the file's.
    let html = app
        .client
        .get(app.url("/staff/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css = html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with("base.css"))
        .expect("the page links the shared stylesheet")
        .to_string();
    let plain = app.client.get(app.url(&css)).send().await.unwrap();
    assert!(!plain.headers().contains_key("content-encoding"));
    let plain = plain.bytes().await.unwrap();
    let gz = app
        .client
        .get(app.url(&css))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert!(
        gz.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("accept-encoding")
    );
    let packed = gz.bytes().await.unwrap();
    assert!(packed.len() < plain.len());
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&packed[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, plain);
    let br = app
        .client
        .get(app.url(&css))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    app.stop().await;
}

#[tokio::test]
async fn api_answers_carry_validators_and_compress() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/v1/categories"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let again = app
        .client
        .get(app.url("/v1/categories"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.headers().contains_key("x-request-id"));
    assert_eq!(again.bytes().await.unwrap().len(), 0);
    // Without Accept-Encoding the body is plain JSON.
    let plain = app.get("/v1/categories", None).await;
    assert!(plain.body.is_array(), "{:?}", plain.body);
    app.stop().await;
}

/// A story per app: each starts from an admin and builds the rest through the API and the app.
async fn story(script: &str) {
    if !ready() {
        return;
    }
    let app = TestApp::spawn().await;
    let fixture = admin_fixture(&app).await;
    run_story(&app, script, fixture).await;
    app.stop().await;
}

#[tokio::test]
async fn staff_console_in_chromium() {
    story("staff.test.mjs").await;
}

#[tokio::test]
async fn doctor_console_in_chromium() {
    story("doctor.test.mjs").await;
}

#[tokio::test]
async fn resident_app_in_chromium() {
    story("resident.test.mjs").await;
}
