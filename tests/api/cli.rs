//! The binary itself: spec drift, settings, admin bootstrap, serving and stopping on a signal.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_wardline");

#[test]
fn the_checked_in_spec_is_current() {
    let out = Command::new(BIN)
        .args(["openapi", "--format", "yaml"])
        .env("WARDLINE_DATABASE_URL", "postgres://nowhere.invalid/db")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/wardline.yaml");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    if generated != checked_in {
        let diff: Vec<String> = generated
            .lines()
            .zip(checked_in.lines().chain(std::iter::repeat("")))
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(20)
            .map(|(i, (a, b))| format!("line {}:\n  generated:  {a}\n  checked in: {b}", i + 1))
            .collect();
        panic!(
            "openapi/wardline.yaml is stale; regenerate with `cargo run -- openapi > openapi/wardline.yaml`\n{}\n(generated {} lines, checked in {} lines)",
            diff.join("\n"),
            generated.lines().count(),
            checked_in.lines().count()
        );
    }
    let json_out = Command::new(BIN)
        .args(["openapi", "--format", "json"])
        .output()
        .unwrap();
    let spec: serde_json::Value = serde_json::from_slice(&json_out.stdout).unwrap();
    // Every operation has an id and documents its problems.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path}");
            if path.starts_with("/open311/") {
                // Open311 answers errors the spec's way, not with problem+json: a list of
                // {code, description} in the format of the path's suffix, 400/403/404 (plus 429
                // for a key over its limit and 500/503), and no 401/422 (the spec has none: a
                // missing key is 403, invalid input 400).
                let types: &[&str] = if path.ends_with(".json") {
                    &["application/json; charset=utf-8"]
                } else if path.ends_with(".xml") {
                    &["text/xml; charset=utf-8"]
                } else {
                    &["application/json; charset=utf-8", "text/xml; charset=utf-8"]
                };
                for status in ["200", "400", "403", "404", "429", "500", "503"] {
                    let content = op["responses"][status]["content"].as_object();
                    let listed: Vec<&str> = content
                        .map(|c| c.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    assert_eq!(listed, types, "{method} {path} {status}");
                }
                assert!(op["responses"]["401"].is_null() && op["responses"]["422"].is_null());
                assert_eq!(
                    op["tags"],
                    serde_json::json!(["Open311"]),
                    "{method} {path}"
                );
                continue;
            }
            // Each operation documents the problems it can answer (its own list; the API tests
            // hold each list to what the operation answers): always 400, 500 and 503, and 401
            // when it takes a bearer token. Every problem is problem+json.
            let signed_in = op["security"].is_array();
            let mut always = vec!["400", "500", "503"];
            if signed_in {
                always.push("401");
            }
            for status in always {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} {path} lacks a {status} problem"
                );
            }
            for (status, answer) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        answer["content"]["application/problem+json"].is_object(),
                        "{method} {path}: its {status} is not a problem"
                    );
                }
            }
        }
    }
    assert!(spec["components"]["securitySchemes"]["BearerAuth"].is_object());
}

/// The spec is true per operation about bodies: an operation that takes a body documents 413 (too
/// large) and 415 (wrong type); one that takes none documents neither. Not held to it: Open311,
/// whose errors are GeoReport's own documents, and the presigned-URL upload, whose body is read raw
/// (any content type, as S3 takes it) and so is not described as a request body; and the creation
/// of a resumable upload, which has no body but announces the photo's size and type in headers
/// (`Upload-Length`, `Upload-Metadata`) and is refused 413 or 415 on them before any byte is sent.
#[test]
fn only_operations_with_a_body_document_413_and_415() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/wardline.yaml");
    let spec: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut untrue = vec![];
    let mut with_body = 0;
    for (route, item) in spec["paths"].as_mapping().unwrap() {
        let route_text = route.as_str().unwrap_or("");
        if route_text.starts_with("/open311/") || route_text == "/v1/objects/{token}" {
            continue;
        }
        for (method, op) in item.as_mapping().unwrap() {
            let Some(responses) = op.get("responses").and_then(|r| r.as_mapping()) else {
                continue;
            };
            if route_text == "/v1/media/uploads" && method.as_str() == Some("post") {
                continue;
            }
            let has_body = op.get("requestBody").is_some();
            with_body += usize::from(has_body);
            for status in ["413", "415"] {
                let documented = responses.contains_key(serde_yaml::Value::from(status));
                if documented != has_body {
                    untrue.push(format!(
                        "{} {}: body {has_body}, documents {status}: {documented}",
                        method.as_str().unwrap_or("?"),
                        route.as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    assert!(with_body > 30, "operations with a body: {with_body}");
    assert!(untrue.is_empty(), "{}", untrue.join("\n"));
}

#[test]
fn config_prints_effective_settings_without_secrets() {
    let out = Command::new(BIN)
        .arg("config")
        .env(
            "WARDLINE_JWT_SECRET",
            "an-operator-secret-that-is-long-enough-to-pass",
        )
        .env(
            "WARDLINE_DATABASE_URL",
            "postgres://wardline:hunter2@db:5432/wardline",
        )
        .env("WARDLINE_LISTEN", "0.0.0.0:9999")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listen = \"0.0.0.0:9999\""), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("operator-secret"),
        "{text}"
    );
    let bad = Command::new(BIN)
        .arg("config")
        .env("WARDLINE_MAX_BODY_BYTES", "lots")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("WARDLINE_MAX_BODY_BYTES"));
}

#[test]
fn postgres_without_a_shared_secret_refuses_to_start() {
    let out = Command::new(BIN)
        .arg("serve")
        .env("WARDLINE_DATABASE_URL", "postgres://127.0.0.1:1/none")
        .env_remove("WARDLINE_JWT_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARDLINE_JWT_SECRET"));
}

/// The embedded experience end to end: create an admin with the CLI, serve, sign in, create staff,
/// restart (tokens survive: the secret is kept in the data dir), stop on SIGTERM.
#[tokio::test]
async fn embedded_first_run_admin_bootstrap_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("WARDLINE_DATA_DIR", &data)
            .env_remove("WARDLINE_DATABASE_URL")
            .env_remove("WARDLINE_STORAGE_URL")
            .env_remove("WARDLINE_JWT_SECRET")
            .output()
            .unwrap()
    };
    let out = run(&[
        "admin",
        "create-user",
        "--role",
        "admin",
        "--phone",
        "0988 000 111",
        "--name",
        "Quản trị",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let password = stdout.lines().last().unwrap().trim().to_string();
    assert_eq!(password.len(), 16, "{stdout}");
    let again = run(&[
        "admin",
        "create-user",
        "--role",
        "staff",
        "--phone",
        "0988000111",
        "--name",
        "X",
    ]);
    assert!(!again.status.success(), "duplicate phone is refused");
    let bad = run(&[
        "admin",
        "create-user",
        "--role",
        "staff",
        "--phone",
        "garbage",
        "--name",
        "X",
    ]);
    assert!(!bad.status.success());
    // The refusal names the flag that carried the bad value (issue 16).
    let said = String::from_utf8_lossy(&bad.stderr).to_string();
    assert!(said.contains("--phone: "), "{said}");
    let unnamed = run(&[
        "admin",
        "create-user",
        "--role",
        "staff",
        "--phone",
        "0988000333",
        "--name",
        "\u{200B}",
    ]);
    assert!(!unnamed.status.success());
    let said = String::from_utf8_lossy(&unnamed.stderr).to_string();
    assert!(said.contains("--name: "), "{said}");

    let (mut child, base) = serve(&data);
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({ "phone": "+84988000111", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let tokens: serde_json::Value = login.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_string();
    // The one-time password opens nothing but its own change (and the account's view).
    let early = client
        .post(format!("{base}/v1/admin/accounts"))
        .bearer_auth(&token)
        .json(&json!({ "phone": "0988000222", "display_name": "Cán bộ", "role": "staff" }))
        .send()
        .await
        .unwrap();
    assert_eq!(early.status(), StatusCode::FORBIDDEN);
    let problem: serde_json::Value = early.json().await.unwrap();
    assert_eq!(problem["code"], "password_change_required");
    let me = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["password_must_change"], true);
    let changed = client
        .post(format!("{base}/v1/me/password"))
        .bearer_auth(&token)
        .json(&json!({ "current_password": password, "new_password": "Mat-khau-moi-2026" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let created = client
        .post(format!("{base}/v1/admin/accounts"))
        .bearer_auth(&token)
        .json(&json!({ "phone": "0988000222", "display_name": "Cán bộ", "role": "staff" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    stop(&mut child);

    // Restart: same secret from the data dir, so the token still works.
    let (mut child, base) = serve(&data);
    let me = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert!(
        data.join("wardline.db").exists()
            && data.join("objects").is_dir()
            && data.join("jwt_secret").exists()
    );
    stop(&mut child);
}

/// Start `wardline serve` on a free port with JSON logs; wait for its "serving" line.
fn serve(data: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("WARDLINE_DATA_DIR", data)
        .env("WARDLINE_LISTEN", "127.0.0.1:0")
        .env("WARDLINE_TURN_LISTEN", "127.0.0.1:0")
        .env("WARDLINE_LOG_FORMAT", "json")
        .env_remove("WARDLINE_DATABASE_URL")
        .env_remove("WARDLINE_STORAGE_URL")
        .env_remove("WARDLINE_JWT_SECRET")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && let Some(addr) = v["addr"].as_str()
            {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server announced its address");
    (child, format!("http://{addr}"))
}

fn stop(child: &mut std::process::Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit on SIGTERM: {status:?}");
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
