//! Settings: built-in defaults, then an optional TOML file, then `WARDLINE_*` environment variables.
//!
//! The settings are one flat table so that every key has an obvious variable: `listen` is
//! `WARDLINE_LISTEN`, `s3_endpoint` is `WARDLINE_S3_ENDPOINT`. Secrets never print.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// A value that must never reach a log or a terminal.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server binds (`host:port`).
    pub listen: String,
    /// Where the embedded database, photos and generated secrets live.
    pub data_dir: PathBuf,
    /// `sqlite://path` (default `<data_dir>/wardline.db`) or `postgres://…`.
    pub database_url: Option<Secret>,
    /// Connections in the database pool.
    pub database_max_connections: u32,
    /// `file://path` (default `<data_dir>/objects`), `s3://bucket[/prefix]` or `memory://`.
    pub storage_url: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<Secret>,
    /// Path-style addressing (MinIO, Garage, s3s): `http://host/bucket/key`.
    pub s3_path_style: bool,
    /// HMAC key for access tokens and one-time codes. Generated into the data dir on an embedded first
    /// run; required when the database is PostgreSQL (every instance must share it).
    pub jwt_secret: Option<Secret>,
    /// Base URL clients reach this server at (for links the server hands out, e.g. local presigned URLs).
    pub public_url: Option<String>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    /// Largest request body accepted, in bytes (413 above).
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    /// Default `tracing` filter when `RUST_LOG` is unset.
    pub log_filter: String,
    /// How long in-flight requests may run after SIGTERM before the process exits.
    pub shutdown_grace_secs: u64,
    /// A request's head (request line and headers) must arrive within this many seconds of its
    /// first byte, or of the connection's last answer (slow-header clients are closed).
    pub header_read_timeout_secs: u64,
    /// A request body that sends nothing for this many seconds is answered 408 and closed.
    pub body_stall_timeout_secs: u64,
    /// Open connections at once (0 = derived from the open-files limit, keeping descriptors in
    /// reserve for the database and the photo store); more are answered 503 and closed.
    pub max_connections: u32,
    /// Open connections from one client address (phones behind a carrier's NAT share one); not
    /// applied behind a trusted proxy (`trust_forwarded_for`), whose address every connection has.
    pub max_connections_per_ip: u32,
    /// Requests being served at once; more are answered 503 with `Retry-After` at once.
    pub max_requests_in_flight: u32,
    /// HTTP endpoint of the SMS gateway; unset = write messages to the outbox table and the log.
    pub sms_webhook_url: Option<String>,
    pub sms_webhook_token: Option<Secret>,
    /// One-time code requests allowed per phone per hour, and per client IP per hour.
    pub otp_per_phone_per_hour: u32,
    pub otp_per_ip_per_hour: u32,
    /// Minimum seconds between two code requests for one phone.
    pub otp_resend_secs: u64,
    /// Failed password sign-ins allowed per phone per 15 minutes.
    pub login_failures_per_15min: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Reports one resident may create per hour (0 = no limit). Staff entering walk-ins and calls,
    /// and Open311 apps (`open311_writes_per_hour`), have their own rules.
    pub reports_per_resident_per_hour: u32,
    /// Photos one resident may upload per hour (0 = no limit).
    pub uploads_per_resident_per_hour: u32,
    /// Browser origins allowed to call the API (CORS), comma-separated `https://host[:port]`;
    /// empty = no CORS headers at all (phones and servers need none).
    pub cors_origins: String,
    /// Largest photo upload, in bytes (413 above).
    pub max_upload_bytes: usize,
    /// Photos decoded at once (each takes tens of MB while decoding).
    pub photo_concurrency: u32,
    /// A resumable upload left unfinished this many hours after its last piece expires (its
    /// pieces are then deleted).
    pub upload_expiry_hours: u32,
    /// Unfinished resumable uploads one account may hold at once (429 above).
    pub max_open_uploads: u32,
    /// The ward's working week (giờ hành chính), e.g. `mon-fri 07:30-11:30,13:30-17:00`; empty = that default.
    pub work_schedule: String,
    /// Public holidays `YYYY-MM-DD,…`; empty = the built-in Vietnamese list (Tết included).
    pub work_holidays: String,
    /// The ward's UTC offset.
    pub work_utc_offset: String,
    /// How many days ahead residents may book a telehealth slot.
    pub telehealth_booking_days: u32,
    /// Future bookings one resident may hold at once.
    pub telehealth_max_open_appointments: u32,
    /// Residents may cancel or move a booking until this many minutes before it starts.
    pub telehealth_cancel_cutoff_minutes: u32,
    /// Check-in for a booking opens this many minutes before its start and closes as long after.
    pub telehealth_check_in_minutes: u32,
    /// Seconds an admitted resident has to connect before the call counts as missed.
    pub telehealth_answer_secs: u64,
    /// Longest call a room token allows.
    pub telehealth_max_call_minutes: u32,
    /// STUN servers handed to callers, comma-separated (`stun:host:port`); empty = the embedded one.
    pub stun_urls: String,
    /// TURN servers handed to callers, comma-separated (`turn:host:3478?transport=udp`, `turns:…`);
    /// empty = the embedded one. Their credentials use coturn's REST scheme with `turn_secret`.
    pub turn_urls: String,
    /// coturn's `static-auth-secret`; unset = derived from the JWT secret (embedded use only).
    pub turn_secret: Option<Secret>,
    /// Life of minted TURN credentials.
    pub turn_ttl_secs: u64,
    /// UDP address of the embedded STUN/TURN server; empty = do not run it (use coturn).
    pub turn_listen: String,
    /// TCP address of the embedded TURN server (networks that block UDP): `same` = the UDP
    /// address and port, as bound; empty = no TCP.
    pub turn_tcp_listen: String,
    /// TLS address of the embedded TURN server, served when `turn_tls_cert` and `_key` are set.
    pub turn_tls_listen: String,
    /// PEM certificate chain and private key for TURN over TLS (`turns:`); unset = no TLS.
    pub turn_tls_cert: Option<PathBuf>,
    pub turn_tls_key: Option<PathBuf>,
    /// TCP and TLS clients of the embedded TURN server at once (more are closed at accept).
    pub turn_tcp_max_connections: u32,
    /// The address the embedded TURN server puts in relayed candidates (this host as callers reach it).
    pub turn_public_ip: String,
    /// Let the embedded TURN server relay to loopback and private addresses (tests, a LAN).
    pub turn_allow_private_peers: bool,
    /// A participant whose signaling socket dropped may resume within this many seconds.
    pub rtc_resume_grace_secs: u64,
    /// Clients ping this often; a socket silent for three intervals is dropped.
    pub rtc_ping_secs: u64,
    /// Largest signaling message, in bytes.
    pub rtc_max_message_bytes: usize,
    /// Signaling messages a participant may send per second (bursts of twice that).
    pub rtc_messages_per_sec: u32,
    /// Writes (new requests, comments) one Open311 client app may make per hour.
    pub open311_writes_per_hour: u32,
    /// Pre-call tests (`POST /v1/rtc/echo`) running at once on this instance (503 above).
    pub rtc_echo_max_sessions: u32,
    /// Longest pre-call test, in seconds; the server's peer hangs up then.
    pub rtc_echo_max_secs: u64,
    /// Let admins register plain `http://` webhook endpoints (a receiver on this host or a closed
    /// network); otherwise `https://` only.
    pub webhooks_allow_http: bool,
    /// A webhook delivery's whole request (connecting at most 5 s of it); slower receivers are cut
    /// off and retried later.
    pub webhooks_timeout_secs: u64,
    /// Let the server's own requests to addresses others chose (webhook receivers) reach
    /// loopback and private addresses (tests, a closed network); otherwise public addresses only.
    pub outbound_allow_private: bool,
    /// The VAPID private key Web Push messages are signed with (RFC 8292): PEM (PKCS#8 or SEC1)
    /// or base64url of the raw 32-byte P-256 key. Unset = one generated on first use and kept
    /// in the database, shared by every instance.
    pub push_vapid_private_key: Option<Secret>,
    /// Who runs this server, for push services (`sub` of the VAPID token): `mailto:…` or
    /// `https://…`. Empty = the public URL when it is `https://`, else `mailto:admin@localhost`.
    pub push_subject: String,
    /// Let browsers register plain `http://` push endpoints, and endpoints on an IP address or
    /// `localhost` (tests, a closed network); otherwise `https://` on a host name only.
    pub push_allow_http: bool,
    /// Browser subscriptions one account keeps; subscribing past it drops the one refreshed
    /// longest ago.
    pub push_max_subscriptions_per_account: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 10,
            storage_url: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: true,
            jwt_secret: None,
            public_url: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_days: 30,
            max_body_bytes: 1024 * 1024,
            log_format: LogFormat::Text,
            log_filter: "info,sqlx=warn".into(),
            shutdown_grace_secs: 10,
            header_read_timeout_secs: 15,
            body_stall_timeout_secs: 20,
            max_connections: 0,
            max_connections_per_ip: 1024,
            max_requests_in_flight: 2048,
            sms_webhook_url: None,
            sms_webhook_token: None,
            otp_per_phone_per_hour: 5,
            otp_per_ip_per_hour: 30,
            otp_resend_secs: 30,
            login_failures_per_15min: 10,
            trust_forwarded_for: false,
            reports_per_resident_per_hour: 10,
            uploads_per_resident_per_hour: 60,
            cors_origins: String::new(),
            max_upload_bytes: 20 * 1024 * 1024,
            photo_concurrency: 1,
            upload_expiry_hours: 24,
            max_open_uploads: 10,
            work_schedule: String::new(),
            work_holidays: String::new(),
            work_utc_offset: "+07:00".into(),
            telehealth_booking_days: 30,
            telehealth_max_open_appointments: 3,
            telehealth_cancel_cutoff_minutes: 120,
            telehealth_check_in_minutes: 30,
            telehealth_answer_secs: 120,
            telehealth_max_call_minutes: 120,
            stun_urls: String::new(),
            turn_urls: String::new(),
            turn_secret: None,
            turn_ttl_secs: 6 * 3600,
            turn_listen: "127.0.0.1:3478".into(),
            turn_tcp_listen: "same".into(),
            turn_tls_listen: "127.0.0.1:5349".into(),
            turn_tls_cert: None,
            turn_tls_key: None,
            turn_tcp_max_connections: 1000,
            turn_public_ip: "127.0.0.1".into(),
            turn_allow_private_peers: false,
            rtc_resume_grace_secs: 30,
            rtc_ping_secs: 15,
            rtc_max_message_bytes: 64 * 1024,
            rtc_messages_per_sec: 50,
            open311_writes_per_hour: 120,
            rtc_echo_max_sessions: 8,
            rtc_echo_max_secs: 60,
            webhooks_allow_http: false,
            webhooks_timeout_secs: 10,
            outbound_allow_private: false,
            push_vapid_private_key: None,
            push_subject: String::new(),
            push_allow_http: false,
            push_max_subscriptions_per_account: 10,
        }
    }
}

const ENV_PREFIX: &str = "WARDLINE_";

impl Settings {
    /// Defaults → `file` (if given) → the process environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// Like [`Settings::load`] with an explicit environment (tests).
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> anyhow::Result<Settings> {
        let defaults = serde_json::to_value(Settings::default())?;
        let serde_json::Value::Object(mut table) = defaults else {
            bail!("settings are not a table");
        };
        // Secrets serialize redacted; their defaults are all unset.
        for (_, v) in table.iter_mut() {
            if v.as_str() == Some("[redacted]") {
                *v = serde_json::Value::Null;
            }
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading settings file {}", path.display()))?;
            let parsed: toml::Table =
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
            for (key, value) in parsed {
                if !table.contains_key(&key) {
                    bail!("unknown setting `{key}` in {}", path.display());
                }
                table.insert(key, serde_json::to_value(value)?);
            }
        }
        for (name, raw) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if key == "config" {
                continue;
            }
            let Some(current) = table.get(&key) else {
                // Test-harness and tool variables share the prefix; they are not settings.
                if !key.starts_with("test_") {
                    eprintln!("warning: ignoring unknown setting {name}");
                }
                continue;
            };
            let value = match current {
                serde_json::Value::Bool(_) => serde_json::Value::Bool(
                    parse_bool(raw).with_context(|| format!("{name} must be true or false"))?,
                ),
                serde_json::Value::Number(_) => serde_json::Value::Number(
                    raw.trim()
                        .parse::<u64>()
                        .with_context(|| format!("{name} must be a whole number"))?
                        .into(),
                ),
                // A string setting set empty means empty (e.g. `WARDLINE_TURN_LISTEN=` turns the
                // embedded TURN server off); an optional one set empty means unset.
                serde_json::Value::String(_) => serde_json::Value::String(raw.clone()),
                _ if raw.is_empty() => serde_json::Value::Null,
                _ => serde_json::Value::String(raw.clone()),
            };
            table.insert(key, value);
        }
        let settings: Settings =
            serde_json::from_value(serde_json::Value::Object(table)).context("invalid settings")?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() && !self.listen.contains(':') {
            bail!("listen must be host:port, got {:?}", self.listen);
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.telehealth_booking_days == 0 || self.telehealth_booking_days > 366 {
            bail!("telehealth_booking_days must be 1 to 366");
        }
        if self.telehealth_answer_secs < 10 || self.telehealth_max_call_minutes == 0 {
            bail!(
                "telehealth_answer_secs must be at least 10 and telehealth_max_call_minutes at least 1"
            );
        }
        if self.rtc_max_message_bytes < 1024
            || self.rtc_messages_per_sec == 0
            || self.rtc_ping_secs == 0
        {
            bail!(
                "rtc_max_message_bytes must be at least 1024, rtc_messages_per_sec and rtc_ping_secs at least 1"
            );
        }
        if self.rtc_echo_max_sessions == 0 || !(5..=600).contains(&self.rtc_echo_max_secs) {
            bail!("rtc_echo_max_sessions must be at least 1 and rtc_echo_max_secs 5 to 600");
        }
        if !(1..=60).contains(&self.webhooks_timeout_secs) {
            bail!("webhooks_timeout_secs must be 1 to 60");
        }
        if !(1..=100).contains(&self.push_max_subscriptions_per_account) {
            bail!("push_max_subscriptions_per_account must be 1 to 100");
        }
        let subject = self.push_subject.trim();
        if !subject.is_empty()
            && !subject.starts_with("mailto:")
            && !subject.starts_with("https://")
        {
            bail!("push_subject must be a mailto: or https:// URL");
        }
        if let Some(key) = &self.push_vapid_private_key {
            crate::webpush::crypto::parse_private_key(key.expose())
                .context("push_vapid_private_key")?;
        }
        if !self.turn_listen.trim().is_empty()
            && self
                .turn_public_ip
                .trim()
                .parse::<std::net::IpAddr>()
                .is_err()
        {
            bail!("turn_public_ip must be an IP address when the embedded TURN server runs");
        }
        if self.turn_tls_cert.is_some() != self.turn_tls_key.is_some() {
            bail!("turn_tls_cert and turn_tls_key go together: set both or neither");
        }
        if let Some(s) = &self.turn_secret
            && s.expose().len() < 16
        {
            bail!("turn_secret must be at least 16 characters");
        }
        self.cors_allow_list()?;
        if self.photo_concurrency == 0 {
            bail!("photo_concurrency must be at least 1");
        }
        if !(1..=24 * 30).contains(&self.upload_expiry_hours) || self.max_open_uploads == 0 {
            bail!("upload_expiry_hours must be 1 to 720 and max_open_uploads at least 1");
        }
        self.calendar()?;
        if let Some(secret) = &self.jwt_secret
            && secret.expose().len() < 32
        {
            bail!("jwt_secret must be at least 32 characters");
        }
        Ok(())
    }

    /// The CORS allow-list: bare origins (`scheme://host[:port]`, http or https), no wildcard.
    pub fn cors_allow_list(&self) -> anyhow::Result<Vec<String>> {
        let mut out = vec![];
        for raw in self.cors_origins.split(',').map(str::trim) {
            if raw.is_empty() {
                continue;
            }
            let parsed = url::Url::parse(raw)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            let Some(u) = parsed else {
                bail!(
                    "cors_origins: {raw:?} is not an http(s) origin such as https://console.example.vn"
                );
            };
            let origin = u.origin().ascii_serialization();
            if origin != raw {
                bail!(
                    "cors_origins: {raw:?} must be a bare origin ({origin}), without path or slash"
                );
            }
            out.push(origin);
        }
        Ok(out)
    }

    /// The working-time calendar deadlines are counted in.
    pub fn calendar(&self) -> anyhow::Result<crate::calendar::WorkCalendar> {
        use crate::calendar::{WorkCalendar, default_holidays_setting};
        let schedule = if self.work_schedule.trim().is_empty() {
            "mon-fri 07:30-11:30,13:30-17:00"
        } else {
            &self.work_schedule
        };
        let holidays = if self.work_holidays.trim().is_empty() {
            default_holidays_setting()
        } else {
            self.work_holidays.clone()
        };
        WorkCalendar::parse(schedule, &holidays, &self.work_utc_offset)
            .map_err(|e| anyhow::anyhow!("work calendar settings: {e}"))
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite://{}", self.data_dir.join("wardline.db").display()),
        }
    }

    pub fn storage_url(&self) -> String {
        self.storage_url
            .clone()
            .unwrap_or_else(|| format!("file://{}", self.data_dir.join("objects").display()))
    }

    pub fn is_embedded(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    /// The effective settings as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        let mut value = serde_json::to_value(self)?;
        if let serde_json::Value::Object(table) = &mut value {
            table.insert(
                "database_url".into(),
                redact_url(&self.database_url()).into(),
            );
            table.insert("storage_url".into(), self.storage_url().into());
            table.retain(|_, v| !v.is_null());
        }
        let table: toml::Table = serde_json::from_value(value)?;
        Ok(toml::to_string(&table)?)
    }

    /// The signing secret: configured, or (embedded only) generated once and kept in the data dir.
    /// The TURN REST secret: the configured one, or one derived from the JWT secret (so an embedded
    /// install needs no setup; a deployment with coturn sets it explicitly on both sides).
    pub fn resolve_turn_secret(&self, jwt: &Secret) -> Secret {
        use hmac::{Hmac, Mac};
        if let Some(s) = &self.turn_secret {
            return s.clone();
        }
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(jwt.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"wardline turn rest secret");
        Secret::new(hex::encode(mac.finalize().into_bytes()))
    }

    pub fn resolve_jwt_secret(&self) -> anyhow::Result<Secret> {
        if let Some(secret) = &self.jwt_secret {
            return Ok(secret.clone());
        }
        if !self.is_embedded() {
            bail!(
                "WARDLINE_JWT_SECRET is required with PostgreSQL: every instance must share it \
                 (at least 32 characters)"
            );
        }
        let path = self.data_dir.join("jwt_secret");
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().len() >= 32 => return Ok(Secret::new(text.trim())),
            Ok(_) => bail!(
                "{} is too short; delete it to generate a new one",
                path.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        let secret = random_token(48);
        write_private(&path, &secret)?;
        Ok(Secret::new(secret))
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Hide the password of a URL such as `postgres://user:pw@host/db`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("[redacted]"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

/// Write a file only the owner can read, atomically (temp file + rename).
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// `bytes` random bytes, URL-safe base64: generated secrets, refresh tokens, one-time passwords.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_url_safe_base64_of_the_asked_length() {
        let a = random_token(48);
        assert_eq!(a.len(), 64);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{a}"
        );
        assert_ne!(a, random_token(48));
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nmax_body_bytes = 4096\n").unwrap();
        let s = Settings::load_from(
            Some(&file),
            &env(&[
                ("WARDLINE_LISTEN", "127.0.0.1:7000"),
                ("WARDLINE_S3_PATH_STYLE", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:7000");
        assert_eq!(s.max_body_bytes, 4096);
        assert!(!s.s3_path_style);
        assert_eq!(s.database_url(), "sqlite://./data/wardline.db");
    }

    /// An empty variable clears a setting: an optional one becomes unset, a text one empty (how a
    /// deployment turns the embedded TURN server off: `WARDLINE_TURN_LISTEN=`).
    #[test]
    fn an_empty_variable_clears_a_setting() {
        let s = Settings::load_from(
            None,
            &env(&[
                ("WARDLINE_TURN_LISTEN", ""),
                ("WARDLINE_STORAGE_URL", ""),
                ("WARDLINE_WORK_SCHEDULE", ""),
            ]),
        )
        .unwrap();
        assert_eq!(s.turn_listen, "");
        assert_eq!(s.storage_url, None);
        assert_eq!(s.work_schedule, "");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Settings::load_from(None, &env(&[("WARDLINE_MAX_BODY_BYTES", "lots")])).is_err());
        assert!(Settings::load_from(None, &env(&[("WARDLINE_JWT_SECRET", "short")])).is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        assert!(Settings::load_from(Some(&file), &[]).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let s = Settings::load_from(
            None,
            &env(&[
                (
                    "WARDLINE_JWT_SECRET",
                    "0123456789abcdef0123456789abcdef-very-secret",
                ),
                ("WARDLINE_DATABASE_URL", "postgres://u:hunter2@db/wardline"),
            ]),
        )
        .unwrap();
        let shown = format!("{:?}\n{}", s, s.to_redacted_toml().unwrap());
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn postgres_requires_an_explicit_secret_and_embedded_generates_one_that_sticks() {
        let s = Settings::load_from(None, &env(&[("WARDLINE_DATABASE_URL", "postgres://x/y")]))
            .unwrap();
        assert!(s.resolve_jwt_secret().is_err());
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let s = Settings::load_from(None, &env(&[("WARDLINE_DATA_DIR", d)])).unwrap();
        let a = s.resolve_jwt_secret().unwrap();
        let b = s.resolve_jwt_secret().unwrap();
        assert_eq!(a, b);
    }
}
