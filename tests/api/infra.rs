//! The deployment files in `infra/` stay consistent with the code: every `WARDLINE_*` variable they
//! name is a real setting, ports and probe paths match the server, the secret names agree between the
//! Kubernetes Secret, the pods that read it, compose and coturn, and the migration step runs
//! `wardline migrate`. Plain file parsing: no container engine or cluster needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value as Yaml;
use wardline::config::Settings;

const BIN: &str = env!("CARGO_BIN_EXE_wardline");

fn infra_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("infra")
}

fn read(rel: &str) -> String {
    let path = infra_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every document of a YAML file (Kubernetes files hold several, separated by `---`).
fn yaml_docs(rel: &str) -> Vec<Yaml> {
    let text = read(rel);
    let mut docs = vec![];
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut value = <Yaml as serde::Deserialize>::deserialize(doc)
            .unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"));
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{rel}: merge keys: {e}"));
        if !value.is_null() {
            docs.push(value);
        }
    }
    docs
}

fn s(v: &Yaml) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

fn seq(v: &Yaml) -> &Vec<Yaml> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("expected a list, got {v:?}"))
}

/// The setting keys the binary knows (the flat table `src/config.rs` builds its environment from).
fn setting_keys() -> BTreeSet<String> {
    let table = serde_json::to_value(Settings::default()).unwrap();
    table.as_object().unwrap().keys().cloned().collect()
}

/// Setting keys a deployment file may name.
fn accepted_keys() -> BTreeSet<String> {
    setting_keys()
}

/// The settings whose values are secrets (they serialize redacted).
fn secret_keys() -> BTreeSet<String> {
    let table = serde_json::to_value(Settings {
        database_url: Some(wardline::config::Secret::new("x")),
        s3_secret_access_key: Some(wardline::config::Secret::new("x")),
        jwt_secret: Some(wardline::config::Secret::new("x")),
        sms_webhook_token: Some(wardline::config::Secret::new("x")),
        turn_secret: Some(wardline::config::Secret::new("x")),
        ..Settings::default()
    })
    .unwrap();
    let keys: BTreeSet<String> = table
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.as_str() == Some("[redacted]"))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(keys.contains("jwt_secret") && keys.contains("turn_secret"));
    keys
}

fn setting_of(var: &str) -> Option<String> {
    var.strip_prefix("WARDLINE_").map(str::to_ascii_lowercase)
}

/// Every `WARDLINE_*` word in a text.
fn wardline_vars(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("WARDLINE_") {
        let start = i + pos;
        let preceded_by_word =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start + "WARDLINE_".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_uppercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        // `WARDLINE_*` (the pattern, in prose) is not a variable.
        if !preceded_by_word && end > start + "WARDLINE_".len() {
            out.insert(text[start..end].trim_end_matches('_').to_string());
        }
        i = end;
    }
    out
}

/// Every file under `infra/`, relative paths.
fn infra_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = vec![];
    walk(&infra_dir(), &infra_dir(), &mut out);
    out.sort();
    out
}

/// The port of a `host:port` listen address.
fn port_of(listen: &str) -> u16 {
    listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{listen:?} is not host:port"))
}

/// The paths of the liveness and readiness operations, from the spec the server publishes.
fn probe_paths() -> (String, String) {
    let spec: serde_json::Value =
        serde_json::from_str(&wardline::app::spec(false).unwrap()).unwrap();
    let mut found = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op["operationId"].as_str() {
                found.insert(id.to_string(), path.clone());
            }
        }
    }
    (
        found
            .get("ops_healthz")
            .expect("a liveness operation")
            .clone(),
        found
            .get("ops_readyz")
            .expect("a readiness operation")
            .clone(),
    )
}

/// Kubernetes objects of every file the kustomization lists, by (kind, name).
fn k8s_objects() -> BTreeMap<(String, String), Yaml> {
    let kustomization = &yaml_docs("k8s/kustomization.yaml")[0];
    let listed: BTreeSet<String> = seq(&kustomization["resources"])
        .iter()
        .map(|r| s(r).to_string())
        .collect();
    let on_disk: BTreeSet<String> = infra_files()
        .into_iter()
        .filter_map(|f| f.strip_prefix("k8s/").map(str::to_string))
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, on_disk,
        "k8s/kustomization.yaml must list exactly the manifests in infra/k8s"
    );
    let mut objects = BTreeMap::new();
    for file in listed {
        for doc in yaml_docs(&format!("k8s/{file}")) {
            let kind = s(&doc["kind"]).to_string();
            let name = s(&doc["metadata"]["name"]).to_string();
            assert!(
                objects.insert((kind.clone(), name.clone()), doc).is_none(),
                "{kind} {name} is defined twice"
            );
        }
    }
    objects
}

fn k8s<'a>(objects: &'a BTreeMap<(String, String), Yaml>, kind: &str, name: &str) -> &'a Yaml {
    objects
        .get(&(kind.to_string(), name.to_string()))
        .unwrap_or_else(|| panic!("infra/k8s has no {kind} {name}"))
}

/// The first container of a pod template.
fn container(workload: &Yaml) -> &Yaml {
    &seq(&workload["spec"]["template"]["spec"]["containers"])[0]
}

/// (variable, secret name, secret key) for every `secretKeyRef` of a container.
fn secret_refs(c: &Yaml) -> Vec<(String, String, String)> {
    c["env"]
        .as_sequence()
        .map(|env| {
            env.iter()
                .filter(|e| !e["valueFrom"]["secretKeyRef"].is_null())
                .map(|e| {
                    let r = &e["valueFrom"]["secretKeyRef"];
                    (
                        s(&e["name"]).to_string(),
                        s(&r["name"]).to_string(),
                        s(&r["key"]).to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every variable a container sets directly (`env`) or through ConfigMaps (`envFrom`).
fn container_vars(c: &Yaml, objects: &BTreeMap<(String, String), Yaml>) -> BTreeSet<String> {
    let mut vars: BTreeSet<String> = c["env"]
        .as_sequence()
        .map(|env| env.iter().map(|e| s(&e["name"]).to_string()).collect())
        .unwrap_or_default();
    if let Some(from) = c["envFrom"].as_sequence() {
        for f in from {
            let name = s(&f["configMapRef"]["name"]);
            let cm = k8s(objects, "ConfigMap", name);
            for key in cm["data"].as_mapping().unwrap().keys() {
                vars.insert(s(key).to_string());
            }
        }
    }
    vars
}

/// A container port by name or number.
fn resolve_port(c: &Yaml, port: &Yaml) -> u16 {
    if let Some(n) = port.as_u64() {
        return n as u16;
    }
    let name = s(port);
    let p = seq(&c["ports"])
        .iter()
        .find(|p| p["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no container port named {name}"));
    p["containerPort"].as_u64().unwrap() as u16
}

/// `${NAME}` or `${NAME:?message}` / `${NAME:-default}` → `NAME`, for a value that is exactly one.
fn interpolation(value: &str) -> Option<&str> {
    let inner = value.strip_prefix("${")?.strip_suffix('}')?;
    let name = inner.split([':', '-', '?']).next()?;
    (!name.is_empty() && !inner[name.len()..].contains('$')).then_some(name)
}

/// A value with every `${...}` replaced by a stand-in long enough for any secret.
fn substitute(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let end = rest[pos..].find('}').expect("unclosed ${") + pos;
        out.push_str(&"x".repeat(48));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The server accepts these variables as its settings (types, ranges, lengths).
fn assert_loads(what: &str, vars: impl IntoIterator<Item = (String, String)>) {
    let env: Vec<(String, String)> = vars.into_iter().collect();
    if let Err(e) = Settings::load_from(None, &env) {
        panic!("{what}: the server refuses these settings: {e:#}");
    }
}

/// The compose file's services.
fn compose() -> Yaml {
    let mut docs = yaml_docs("compose.yaml");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// Environment of a compose service as a map (compose accepts a map or a `K=V` list).
fn compose_env(service: &Yaml) -> BTreeMap<String, String> {
    match &service["environment"] {
        Yaml::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Yaml::String(s) => s.clone(),
                    Yaml::Null => String::new(),
                    other => panic!("compose env values must be quoted strings, got {other:?}"),
                };
                (s(k).to_string(), v)
            })
            .collect(),
        Yaml::Sequence(list) => list
            .iter()
            .map(|kv| {
                let (k, v) = s(kv).split_once('=').unwrap_or((s(kv), ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn compose_command(service: &Yaml) -> Vec<String> {
    match &service["command"] {
        Yaml::Sequence(list) => list.iter().map(|v| s(v).to_string()).collect(),
        Yaml::String(line) => line.split_whitespace().map(str::to_string).collect(),
        _ => vec![],
    }
}

/// The Dockerfile's instructions of the final stage, as (INSTRUCTION, arguments), continuations joined.
fn dockerfile_final_stage() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut lines = vec![];
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        if !current.trim().is_empty() {
            lines.push(current.trim().to_string());
        }
        current.clear();
    }
    let last_from = lines
        .iter()
        .rposition(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .expect("a FROM");
    assert!(last_from > 0, "the Dockerfile must be multi-stage");
    assert!(
        lines[..last_from]
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("FROM ")),
        "the Dockerfile must build in a separate stage"
    );
    lines[last_from..]
        .iter()
        .map(|l| {
            let (ins, rest) = l.split_once(' ').unwrap_or((l, ""));
            (ins.to_ascii_uppercase(), rest.trim().to_string())
        })
        .collect()
}

/// `KEY=VALUE ...` pairs of ENV instructions.
fn dockerfile_env(stage: &[(String, String)]) -> BTreeMap<String, String> {
    stage
        .iter()
        .filter(|(ins, _)| ins == "ENV")
        .flat_map(|(_, rest)| {
            rest.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn json_array(rest: &str) -> Vec<String> {
    serde_json::from_str(rest).unwrap_or_else(|_| panic!("use the exec (JSON) form: {rest}"))
}

#[test]
fn every_wardline_variable_in_infra_is_a_setting() {
    let accepted = accepted_keys();
    let mut unknown = vec![];
    let mut seen = BTreeSet::new();
    for file in infra_files() {
        for var in wardline_vars(&read(&file)) {
            let key = setting_of(&var).unwrap();
            if key != "config" && !accepted.contains(&key) {
                unknown.push(format!("{file}: {var}"));
            }
            seen.insert(var);
        }
    }
    assert!(
        unknown.is_empty(),
        "not Wardline settings (see src/config.rs):\n{}",
        unknown.join("\n")
    );
    // The scan itself works: the files do name the settings a city needs.
    for needed in [
        "WARDLINE_LISTEN",
        "WARDLINE_DATABASE_URL",
        "WARDLINE_STORAGE_URL",
        "WARDLINE_JWT_SECRET",
        "WARDLINE_TURN_SECRET",
    ] {
        assert!(seen.contains(needed), "infra/ never sets {needed}");
    }
    assert!(wardline_vars("x WARDLINE_NOPE=1 ${WARDLINE_JWT_SECRET:?}").contains("WARDLINE_NOPE"));
}

#[test]
fn the_container_image_runs_the_server_unprivileged_with_a_health_check() {
    let stage = dockerfile_final_stage();
    let (healthz, _) = probe_paths();
    let env = dockerfile_env(&stage);
    let port = port_of(
        env.get("WARDLINE_LISTEN")
            .expect("the image sets WARDLINE_LISTEN"),
    );
    assert!(
        env["WARDLINE_LISTEN"].starts_with("0.0.0.0:"),
        "in a container the server must listen on every interface"
    );
    let exposed: Vec<u16> = stage
        .iter()
        .filter(|(i, _)| i == "EXPOSE")
        .map(|(_, r)| r.trim_end_matches("/tcp").parse().unwrap())
        .collect();
    assert_eq!(exposed, vec![port], "EXPOSE matches WARDLINE_LISTEN");
    let user = stage
        .iter()
        .rfind(|(i, _)| i == "USER")
        .map(|(_, r)| r.clone())
        .expect("a USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "the image runs as root");
    let health = stage
        .iter()
        .find(|(i, _)| i == "HEALTHCHECK")
        .map(|(_, r)| r.clone())
        .expect("a HEALTHCHECK");
    let cmd = json_array(
        health
            .split_once("CMD")
            .expect("HEALTHCHECK ... CMD")
            .1
            .trim(),
    );
    assert!(
        cmd.iter()
            .any(|a| a == &format!("http://127.0.0.1:{port}{healthz}")),
        "the health check probes {healthz} on the listen port: {cmd:?}"
    );
    let entry = stage
        .iter()
        .rfind(|(i, _)| i == "ENTRYPOINT")
        .map(|(_, r)| json_array(r))
        .unwrap_or_default();
    let cmd = stage
        .iter()
        .rfind(|(i, _)| i == "CMD")
        .map(|(_, r)| json_array(r))
        .unwrap_or_default();
    assert!(entry.last().is_some_and(|e| e.ends_with("/wardline")));
    assert_eq!(cmd, vec!["serve"]);
    for sub in ["serve", "migrate"] {
        let out = Command::new(BIN).args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "`wardline {sub}` is not a command");
    }
}

#[test]
fn compose_runs_two_instances_behind_a_proxy_with_settings_by_environment() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    let accepted = accepted_keys();
    let secrets = secret_keys();
    let (_, readyz) = probe_paths();

    let instances: Vec<(&str, &Yaml)> = services
        .iter()
        .map(|(k, v)| (s(k), v))
        .filter(|(_, v)| compose_command(v) == ["serve"])
        .collect();
    assert_eq!(instances.len(), 2, "two Wardline instances");
    let migrate: Vec<(&str, &Yaml)> = services
        .iter()
        .map(|(k, v)| (s(k), v))
        .filter(|(_, v)| compose_command(v) == ["migrate"])
        .collect();
    assert_eq!(migrate.len(), 1, "one migration step running `migrate`");
    let (migrate_name, migrate) = migrate[0];
    let image = s(&instances[0].1["image"]);

    let mut listen_port = None;
    for (name, svc) in instances.iter().chain([(migrate_name, migrate)].iter()) {
        assert_eq!(s(&svc["image"]), image, "{name} runs the same image");
        let env = compose_env(svc);
        assert!(!env.is_empty(), "{name} is configured by environment");
        for (var, value) in &env {
            let key = setting_of(var).unwrap_or_else(|| panic!("{name}: {var} is not WARDLINE_*"));
            assert!(accepted.contains(&key), "{name}: {var} is not a setting");
            if secrets.contains(&key) {
                assert!(
                    value.contains("${"),
                    "{name}: {var} must come from infra/.env, not be written in compose.yaml"
                );
            }
        }
        assert!(
            svc["volumes"].is_null() && svc["env_file"].is_null(),
            "{name}: settings by environment only"
        );
        let port = port_of(&env["WARDLINE_LISTEN"]);
        assert_eq!(*listen_port.get_or_insert(port), port);
        assert_loads(name, env.iter().map(|(k, v)| (k.clone(), substitute(v))));
        assert!(env["WARDLINE_DATABASE_URL"].starts_with("postgres://"));
        assert!(env["WARDLINE_STORAGE_URL"].starts_with("s3://"));
    }
    for (name, svc) in &instances {
        assert_eq!(
            s(&svc["depends_on"][migrate_name]["condition"]),
            "service_completed_successfully",
            "{name} starts after the migration step"
        );
    }
    let port = listen_port.unwrap();

    // The store and the database the instances are pointed at exist in the file.
    for needed in ["db", "minio", "coturn"] {
        assert!(services.contains_key(needed), "compose has no {needed}");
    }
    let env = compose_env(instances[0].1);
    assert!(env["WARDLINE_DATABASE_URL"].contains("@db:5432/"));
    assert_eq!(env["WARDLINE_S3_ENDPOINT"], "http://minio:9000");
    let minio = compose_env(&compose["services"]["minio"]);
    assert_eq!(
        interpolation(&env["WARDLINE_S3_ACCESS_KEY_ID"]),
        interpolation(&minio["MINIO_ROOT_USER"])
    );
    assert_eq!(
        interpolation(&env["WARDLINE_S3_SECRET_ACCESS_KEY"]),
        interpolation(&minio["MINIO_ROOT_PASSWORD"])
    );
    let db = compose_env(&compose["services"]["db"]);
    let db_password = interpolation(&db["POSTGRES_PASSWORD"]).unwrap();
    assert!(env["WARDLINE_DATABASE_URL"].contains(&format!("${{{db_password}")));

    // The proxy: its config names both instances on the listen port and checks readiness.
    let proxy = services
        .iter()
        .map(|(_, v)| v)
        .find(|v| s(&v["image"]).starts_with("caddy"))
        .expect("a Caddy reverse proxy");
    let caddy_mount = seq(&proxy["volumes"])
        .iter()
        .map(s)
        .find(|v| v.contains("Caddyfile"))
        .expect("the Caddyfile is mounted");
    assert!(caddy_mount.starts_with("./caddy/Caddyfile:"));
    let caddyfile = read("caddy/Caddyfile");
    let upstreams: Vec<&str> = caddyfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("reverse_proxy "))
        .expect("a reverse_proxy directive")
        .trim_end_matches('{')
        .split_whitespace()
        .collect();
    let mut expected: Vec<String> = instances
        .iter()
        .map(|(n, _)| format!("{n}:{port}"))
        .collect();
    expected.sort();
    let mut got: Vec<String> = upstreams.iter().map(|u| u.to_string()).collect();
    got.sort();
    assert_eq!(got, expected, "the proxy forwards to both instances");
    assert!(
        caddyfile
            .lines()
            .any(|l| l.trim() == format!("health_uri {readyz}")),
        "the proxy takes instances that are not ready out of rotation"
    );
    let metrics = caddyfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("@metrics path "))
        .expect("the proxy names the metrics path");
    assert!(
        metrics.split_whitespace().any(|p| p == "/metrics")
            && caddyfile
                .lines()
                .any(|l| l.trim() == "respond @metrics 404"),
        "the proxy must not publish /metrics"
    );

    // Every ${VAR} compose needs is documented in .env.example.
    let example = read(".env.example");
    let documented: BTreeSet<&str> = example
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let text: String = read("compose.yaml")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = text.as_str();
    while let Some(pos) = rest.find("${") {
        let after = &rest[pos + 2..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            documented.contains(name.as_str()),
            "compose.yaml uses ${{{name}}} but infra/.env.example does not list it"
        );
        rest = after;
    }
}

#[test]
fn coturn_shares_the_turn_secret_with_the_instances() {
    let conf = read("coturn/turnserver.conf");
    let directives: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(
        directives.contains(&"use-auth-secret"),
        "coturn must check credentials minted with the shared secret"
    );
    assert!(
        !directives
            .iter()
            .any(|d| d.starts_with("static-auth-secret")),
        "the TURN secret must not be written in turnserver.conf (it is in git)"
    );
    assert!(
        directives
            .iter()
            .any(|d| d.starts_with("denied-peer-ip=10.0.0.0")),
        "coturn must not relay into private networks"
    );
    // Phones on networks that block UDP reach coturn over TCP or TLS: it serves all three.
    for off in ["no-udp", "no-tcp", "no-tls"] {
        assert!(!directives.contains(&off), "coturn must not be told {off}");
    }
    assert!(directives.contains(&"tls-listening-port=5349"));
    let three_transports = |urls: &str| {
        ["?transport=udp", "?transport=tcp"].iter().all(|t| {
            urls.split(',')
                .any(|u| u.starts_with("turn:") && u.ends_with(t))
        }) && urls.split(',').any(|u| u.starts_with("turns:"))
    };

    // compose: coturn's --static-auth-secret is the very variable the instances get as WARDLINE_TURN_SECRET.
    let compose = compose();
    let coturn = &compose["services"]["coturn"];
    let args = compose_command(coturn);
    let secret_arg = args
        .iter()
        .find_map(|a| a.strip_prefix("--static-auth-secret="))
        .expect("compose passes coturn --static-auth-secret");
    for (name, svc) in compose["services"].as_mapping().unwrap() {
        if compose_command(svc) == ["serve"] {
            let env = compose_env(svc);
            let app = env
                .get("WARDLINE_TURN_SECRET")
                .unwrap_or_else(|| panic!("{} has no WARDLINE_TURN_SECRET", s(name)));
            assert_eq!(
                interpolation(app),
                interpolation(secret_arg),
                "compose: coturn and {} use different TURN secrets",
                s(name)
            );
            assert_eq!(
                env.get("WARDLINE_TURN_LISTEN").map(String::as_str),
                Some(""),
                "{}: with coturn the embedded TURN server must be off",
                s(name)
            );
            assert!(
                three_transports(&env["WARDLINE_TURN_URLS"]),
                "{}: TURN over UDP, TCP and TLS",
                s(name)
            );
        }
    }
    assert!(
        seq(&coturn["volumes"])
            .iter()
            .any(|v| s(v).starts_with("./coturn/turnserver.conf:"))
    );

    // Kubernetes: the same Secret key feeds the app's WARDLINE_TURN_SECRET and coturn's argument.
    let objects = k8s_objects();
    let app_ref = secret_refs(container(k8s(&objects, "Deployment", "wardline")))
        .into_iter()
        .find(|(var, _, _)| var == "WARDLINE_TURN_SECRET")
        .expect("the Deployment reads WARDLINE_TURN_SECRET from a Secret");
    let turn = container(k8s(&objects, "Deployment", "coturn"));
    let turn_args: Vec<&str> = seq(&turn["args"]).iter().map(s).collect();
    let var = turn_args
        .iter()
        .find_map(|a| a.strip_prefix("--static-auth-secret="))
        .and_then(|v| v.strip_prefix("$(")?.strip_suffix(')'))
        .expect("coturn gets --static-auth-secret=$(VAR)");
    let turn_ref = secret_refs(turn)
        .into_iter()
        .find(|(v, _, _)| v == var)
        .unwrap_or_else(|| panic!("coturn's {var} does not come from a Secret"));
    assert_eq!(
        (&app_ref.1, &app_ref.2),
        (&turn_ref.1, &turn_ref.2),
        "k8s: coturn and the instances use different TURN secrets"
    );
    let config = &k8s(&objects, "ConfigMap", "wardline-config")["data"];
    assert_eq!(
        config["WARDLINE_TURN_LISTEN"].as_str(),
        Some(""),
        "k8s: with coturn the embedded TURN server must be off"
    );
    assert!(
        three_transports(s(&config["WARDLINE_TURN_URLS"])),
        "k8s: TURN over UDP, TCP and TLS"
    );
    // The ConfigMap coturn mounts is turnserver.conf itself.
    let cm = k8s(&objects, "ConfigMap", "coturn-config");
    assert_eq!(
        s(&cm["data"]["turnserver.conf"]),
        conf,
        "k8s/coturn.yaml's copy of turnserver.conf differs from infra/coturn/turnserver.conf"
    );
}

#[test]
fn kubernetes_manifests_agree_with_the_server_and_each_other() {
    let objects = k8s_objects();
    let (healthz, readyz) = probe_paths();
    let accepted = accepted_keys();
    let secrets = secret_keys();

    let config = k8s(&objects, "ConfigMap", "wardline-config");
    for (k, v) in config["data"].as_mapping().unwrap() {
        let var = s(k);
        let key = setting_of(var).unwrap_or_else(|| panic!("ConfigMap: {var} is not WARDLINE_*"));
        assert!(accepted.contains(&key), "ConfigMap: {var} is not a setting");
        assert!(
            !secrets.contains(&key),
            "ConfigMap: {var} is a secret; put it in the Secret"
        );
        assert!(v.is_string(), "ConfigMap: {var} must be a quoted string");
    }
    let listen_port = port_of(s(&config["data"]["WARDLINE_LISTEN"]));
    let mut vars: Vec<(String, String)> = config["data"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (s(k).to_string(), s(v).to_string()))
        .collect();
    vars.push(("WARDLINE_JWT_SECRET".into(), "x".repeat(48)));
    vars.push(("WARDLINE_TURN_SECRET".into(), "x".repeat(48)));
    assert_loads("k8s ConfigMap", vars);

    // Secrets: every reference names the Secret and one of its keys; every key is used.
    let secret_objects: Vec<&Yaml> = objects
        .iter()
        .filter(|((kind, _), _)| kind == "Secret")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(secret_objects.len(), 1);
    let secret = secret_objects[0];
    let secret_name = s(&secret["metadata"]["name"]);
    let secret_data = if secret["stringData"].is_mapping() {
        &secret["stringData"]
    } else {
        &secret["data"]
    };
    let secret_keys_declared: BTreeSet<String> = secret_data
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| s(k).to_string())
        .collect();
    let mut used = BTreeSet::new();
    for ((kind, name), obj) in &objects {
        if !matches!(kind.as_str(), "Deployment" | "Job") {
            continue;
        }
        for c in seq(&obj["spec"]["template"]["spec"]["containers"]) {
            for (var, sname, skey) in secret_refs(c) {
                assert_eq!(
                    sname, secret_name,
                    "{kind} {name}: {var} reads an unknown Secret"
                );
                assert!(
                    secret_keys_declared.contains(&skey),
                    "{kind} {name}: {var} reads key {skey}, which {secret_name} does not have"
                );
                used.insert(skey);
            }
        }
    }
    assert_eq!(
        used, secret_keys_declared,
        "Secret keys nobody reads, or refs to missing keys"
    );
    let jwt_placeholder = secret_data["jwt-secret"].as_str().unwrap_or("");
    assert!(
        jwt_placeholder.len() < 32,
        "the committed jwt-secret must be a placeholder the server refuses"
    );

    // The Deployment: every variable a setting, secrets from the Secret, the listen port, the probes.
    let deployment = k8s(&objects, "Deployment", "wardline");
    let app = container(deployment);
    let app_vars = container_vars(app, &objects);
    for var in &app_vars {
        let key = setting_of(var).unwrap_or_else(|| panic!("Deployment: {var} is not WARDLINE_*"));
        assert!(
            accepted.contains(&key),
            "Deployment: {var} is not a setting"
        );
    }
    for var in [
        "WARDLINE_DATABASE_URL",
        "WARDLINE_JWT_SECRET",
        "WARDLINE_TURN_SECRET",
    ] {
        assert!(
            secret_refs(app).iter().any(|(v, _, _)| v == var),
            "Deployment: {var} must come from the Secret"
        );
    }
    assert!(
        app["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .all(|e| e["value"].is_null() || !secrets.contains(&setting_of(s(&e["name"])).unwrap())),
        "Deployment: a secret is written inline"
    );
    assert_eq!(
        seq(&app["args"]).iter().map(s).collect::<Vec<_>>(),
        ["serve"]
    );
    let container_port = seq(&app["ports"])[0]["containerPort"].as_u64().unwrap() as u16;
    assert_eq!(
        container_port, listen_port,
        "containerPort matches WARDLINE_LISTEN"
    );
    for (probe, path) in [("readinessProbe", &readyz), ("livenessProbe", &healthz)] {
        let get = &app[probe]["httpGet"];
        assert_eq!(s(&get["path"]), path, "{probe} path");
        assert_eq!(resolve_port(app, &get["port"]), listen_port, "{probe} port");
    }
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    let shutdown: u64 = s(&config["data"]["WARDLINE_SHUTDOWN_GRACE_SECS"])
        .parse()
        .unwrap();
    assert!(
        grace > shutdown,
        "the pod is killed before in-flight requests may finish"
    );

    // The Service selects the Deployment's pods and reaches the listen port.
    let service = k8s(&objects, "Service", "wardline");
    let labels = deployment["spec"]["template"]["metadata"]["labels"]
        .as_mapping()
        .unwrap();
    for (k, v) in service["spec"]["selector"].as_mapping().unwrap() {
        assert_eq!(
            labels.get(k),
            Some(v),
            "Service selector {k:?} misses the pods"
        );
    }
    let service_port = &seq(&service["spec"]["ports"])[0];
    assert_eq!(
        resolve_port(app, &service_port["targetPort"]),
        listen_port,
        "Service targetPort"
    );

    // The Ingress routes to that Service port and keeps WebSockets open.
    let ingress = k8s(&objects, "Ingress", "wardline");
    let backend =
        &seq(&seq(&ingress["spec"]["rules"])[0]["http"]["paths"])[0]["backend"]["service"];
    assert_eq!(s(&backend["name"]), s(&service["metadata"]["name"]));
    let by_name = backend["port"]["name"].as_str();
    let by_number = backend["port"]["number"].as_u64();
    assert!(
        by_name == service_port["name"].as_str() || by_number == service_port["port"].as_u64(),
        "the Ingress names a port the Service does not have"
    );
    for timeout in ["proxy-read-timeout", "proxy-send-timeout"] {
        let v: u64 = s(&ingress["metadata"]["annotations"]
            [format!("nginx.ingress.kubernetes.io/{timeout}").as_str()])
        .parse()
        .unwrap();
        assert!(v >= 600, "WebSockets need a long {timeout}, got {v}");
    }

    // The migration Job: `wardline migrate`, same image, the settings it needs.
    let job = k8s(&objects, "Job", "wardline-migrate");
    let migrate = container(job);
    let mut command: Vec<&str> = migrate["command"]
        .as_sequence()
        .map(|c| c.iter().map(s).collect())
        .unwrap_or_default();
    command.extend(seq(&migrate["args"]).iter().map(s));
    assert_eq!(
        command.last(),
        Some(&"migrate"),
        "the Job runs `wardline migrate`"
    );
    assert_eq!(
        s(&migrate["image"]),
        s(&app["image"]),
        "the Job runs the app's image"
    );
    let job_vars = container_vars(migrate, &objects);
    assert!(job_vars.contains("WARDLINE_DATABASE_URL"));
    for var in &job_vars {
        assert!(
            app_vars.contains(var),
            "the Job sets {var}, the instances do not"
        );
    }
    let db_ref = |c: &Yaml| {
        secret_refs(c)
            .into_iter()
            .find(|(v, _, _)| v == "WARDLINE_DATABASE_URL")
    };
    assert_eq!(
        db_ref(migrate),
        db_ref(app),
        "the Job migrates another database"
    );

    // The autoscaler scales the Deployment, never below two.
    let hpa = k8s(&objects, "HorizontalPodAutoscaler", "wardline");
    assert_eq!(s(&hpa["spec"]["scaleTargetRef"]["kind"]), "Deployment");
    assert_eq!(
        s(&hpa["spec"]["scaleTargetRef"]["name"]),
        s(&deployment["metadata"]["name"])
    );
    assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 2);
}
