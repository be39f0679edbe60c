//! Signed webhooks for the ward's integrations (the city's systems, a province dashboard): an admin
//! registers an HTTPS endpoint and the events it wants; each event is written to an outbox
//! ([`enqueue`]) inside the transaction of the change it announces, so it exists exactly when the
//! change does, and [`delivery`] posts it, signed, at least once and in order per subject.
//!
//! This module knows neither reports nor consultations: their rules hand it an [`Event`] made of
//! the public fields below ([`ReportData`], [`ConsultationData`]), which are all a body can ever
//! carry. No reporter, no patient, no notes, no clinical content.

pub mod api;
pub mod delivery;
mod repo;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Caller;
use crate::config::Settings;
use crate::error::{Error, FieldError, Result};
use crate::store::{Db, Exec};

pub use delivery::{signature, start};
pub use repo::{DeliveryRow, EndpointRow};

/// What the webhooks' handlers and worker work with: built by the app (`app.rs`).
#[derive(Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub auth: crate::auth::Auth,
    pub clock: crate::clock::Clock,
}

crate::text_enum! {
    /// What an endpoint can subscribe to.
    pub enum EventKind {
        /// A report was filed.
        ReportCreated = "report.created",
        /// A report's public status changed (received, assigned, started, rejected, marked a
        /// duplicate, closed, reopened).
        ReportChanged = "report.changed",
        /// A report was resolved.
        ReportResolved = "report.resolved",
        /// A consultation is over (ended, missed, cancelled or declined).
        ConsultationEnded = "consultation.ended",
    }
}

/// A report as an integration sees it: the public fields only, with the location as the public
/// feed shows it (rounded, and no address, where the category hides where it is).
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    pub id: Uuid,
    pub category_code: String,
    /// The report status's own spelling (`Status::as_str`): this module knows no domain enum.
    pub status: &'static str,
    /// The status before this change (`report.changed`, `report.resolved`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<&'static str>,
    /// The severity's spelling (`Severity::as_str`).
    pub severity: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Empty where the category hides the location.
    pub address: String,
    /// The ward unit it is routed to.
    pub unit_id: Option<Uuid>,
    pub ack_by: DateTime<Utc>,
    pub resolve_by: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A consultation as an integration sees it: when and how it went, never who or why.
#[derive(Debug, Clone, Serialize)]
pub struct ConsultationData {
    pub id: Uuid,
    pub station_id: Uuid,
    /// The consultation status's spelling (`ConsultationStatus::as_str`).
    pub status: &'static str,
    /// The end reason's spelling (`EndReason::as_str`).
    pub end_reason: Option<&'static str>,
    pub queued_at: DateTime<Utc>,
    /// When the call connected (none if it never did).
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds in the call.
    pub duration_secs: Option<i64>,
}

/// One event to announce: its kind, what it is about, and its body's `data`.
#[derive(Debug, Clone)]
pub struct Event {
    kind: EventKind,
    subject_id: Uuid,
    data: serde_json::Value,
}

impl Event {
    /// `report.created`, `report.changed` or `report.resolved`.
    pub fn report(kind: EventKind, data: &ReportData) -> Result<Event> {
        if kind == EventKind::ConsultationEnded {
            return Err(Error::Internal(anyhow::anyhow!("not a report event")));
        }
        Ok(Event {
            kind,
            subject_id: data.id,
            data: serde_json::to_value(data).map_err(anyhow::Error::from)?,
        })
    }

    /// `consultation.ended`.
    pub fn consultation_ended(data: &ConsultationData) -> Result<Event> {
        Ok(Event {
            kind: EventKind::ConsultationEnded,
            subject_id: data.id,
            data: serde_json::to_value(data).map_err(anyhow::Error::from)?,
        })
    }

    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The body every endpoint receives: `{id, event, occurred_at, data}`.
    fn body(&self, id: Uuid, occurred_at: DateTime<Utc>) -> Result<String> {
        #[derive(Serialize)]
        struct Body<'a> {
            id: Uuid,
            event: &'static str,
            occurred_at: DateTime<Utc>,
            data: &'a serde_json::Value,
        }
        Ok(serde_json::to_string(&Body {
            id,
            event: self.kind.as_str(),
            occurred_at,
            data: &self.data,
        })
        .map_err(anyhow::Error::from)?)
    }
}

/// Put `event` in the outbox of every active endpoint subscribed to it, as one more statement of
/// the caller's transaction: the event is stored exactly when the change it announces is.
pub async fn enqueue(tx: &mut dyn Exec, event: &Event, now: DateTime<Utc>) -> Result<()> {
    let event_id = Uuid::now_v7();
    let body = event.body(event_id, now)?;
    repo::enqueue(tx, event_id, event.subject_id, event.kind, &body, now).await
}

/// A registered endpoint with its secret, shown this once.
pub struct Registered {
    pub endpoint: EndpointRow,
    pub secret: String,
}

/// Longest endpoint URL.
pub const MAX_URL: usize = 2000;

fn url_error(code: &str, vi: &str, en: &str) -> Error {
    Error::Validation(vec![FieldError::new("url", code, vi, en)])
}

/// An endpoint's URL: absolute, HTTPS (plain HTTP only where the settings allow it), without
/// credentials or a fragment. The URL as it will be called.
pub fn check_url(raw: &str, allow_http: bool, allow_private: bool) -> Result<String> {
    let raw = raw.trim();
    if raw.len() > MAX_URL {
        return Err(url_error(
            "url_too_long",
            "Địa chỉ quá dài (tối đa 2000 ký tự)",
            "The URL is too long (2000 characters at most)",
        ));
    }
    let Ok(url) = url::Url::parse(raw) else {
        return Err(url_error(
            "invalid_url",
            "Địa chỉ không hợp lệ",
            "Not a valid absolute URL",
        ));
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => {
            return Err(url_error(
                "url_not_https",
                "Địa chỉ phải dùng https://",
                "The URL must use https://",
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(url_error(
            "invalid_url",
            "Địa chỉ không hợp lệ",
            "Not a valid absolute URL",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(url_error(
            "url_has_credentials",
            "Địa chỉ không được chứa tên đăng nhập hay mật khẩu",
            "The URL must not carry a user name or password",
        ));
    }
    if url.fragment().is_some() {
        return Err(url_error(
            "url_has_fragment",
            "Địa chỉ không được chứa phần # (fragment)",
            "The URL must not have a #fragment",
        ));
    }
    // A name is checked each time it is called (it may resolve elsewhere later); an address
    // written in the URL is checked now.
    if !crate::outbound::host_allowed(&url, allow_private) {
        return Err(url_error(
            "url_not_public",
            "Địa chỉ phải là địa chỉ công cộng (không nhận địa chỉ nội bộ hay loopback)",
            "The URL must point to a public address (not loopback or a private network)",
        ));
    }
    Ok(url.to_string())
}

/// Register an endpoint (admins): its URL, the events it wants, a note; a fresh signing secret.
pub async fn register(
    ctx: &Ctx,
    caller: &Caller,
    url: &str,
    events: &[EventKind],
    description: &str,
) -> Result<Registered> {
    let url = check_url(
        url,
        ctx.settings.webhooks_allow_http,
        ctx.settings.outbound_allow_private,
    )?;
    let wanted: Vec<EventKind> = EventKind::ALL
        .iter()
        .copied()
        .filter(|k| events.contains(k))
        .collect();
    if wanted.is_empty() {
        return Err(Error::validation(
            "events",
            "events_required",
            "Chọn ít nhất một sự kiện",
            "Choose at least one event",
        ));
    }
    let description = crate::text::clean(description, true)
        .ok()
        .filter(|d| d.chars().count() <= 500)
        .ok_or_else(|| {
            Error::validation(
                "description",
                "invalid_text",
                "Nội dung không hợp lệ hoặc quá dài",
                "Invalid or too long",
            )
        })?;
    let secret = format!("whsec_{}", crate::config::random_token(32));
    let now = ctx.clock.now();
    let endpoint = EndpointRow {
        webhook_id: Uuid::now_v7(),
        url,
        events: wanted,
        description: description.to_string(),
        created_by: Some(caller.account_id),
        disabled_at: None,
        created_at: now,
        pending: 0,
        dead: 0,
        last_delivered_at: None,
        last_error: None,
    };
    repo::insert_endpoint(&ctx.db, &endpoint, &secret).await?;
    Ok(Registered { endpoint, secret })
}

/// Every endpoint, oldest first, with its outbox's figures.
pub async fn endpoints(ctx: &Ctx) -> Result<Vec<EndpointRow>> {
    repo::endpoints(&ctx.db).await
}

/// An endpoint's most recent deliveries, newest first.
pub async fn deliveries(ctx: &Ctx, webhook_id: Uuid, limit: i64) -> Result<Vec<DeliveryRow>> {
    if !repo::endpoint_exists(&ctx.db, webhook_id).await? {
        return Err(Error::NotFound("webhook_not_found"));
    }
    repo::deliveries(&ctx.db, webhook_id, limit.clamp(1, 200)).await
}

/// Disable an endpoint: nothing more is enqueued for it, and what is pending is no longer
/// attempted. Disabling a disabled endpoint changes nothing.
pub async fn disable(ctx: &Ctx, webhook_id: Uuid) -> Result<()> {
    if !repo::endpoint_exists(&ctx.db, webhook_id).await? {
        return Err(Error::NotFound("webhook_not_found"));
    }
    repo::disable(&ctx.db, webhook_id, ctx.clock.now()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(v: &serde_json::Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// The bodies' keys, held to an allow-list: a field added to the data (a reporter, a note, a
    /// symptom) fails here before it can reach an integration.
    #[test]
    fn bodies_carry_only_the_allowed_fields() {
        let now = Utc::now();
        let report = ReportData {
            id: Uuid::now_v7(),
            category_code: "road_damage".into(),
            status: "received",
            previous_status: Some("submitted"),
            severity: "normal",
            lat: 10.77,
            lon: 106.7,
            address: "12 Lê Lợi".into(),
            unit_id: None,
            ack_by: now,
            resolve_by: now,
            resolved_at: None,
            created_at: now,
            updated_at: now,
        };
        let event = Event::report(EventKind::ReportChanged, &report).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(&event.body(Uuid::now_v7(), now).unwrap()).unwrap();
        assert_eq!(keys(&body), set(&["id", "event", "occurred_at", "data"]));
        assert_eq!(body["event"], "report.changed");
        assert_eq!(
            keys(&body["data"]),
            set(&[
                "id",
                "category_code",
                "status",
                "previous_status",
                "severity",
                "lat",
                "lon",
                "address",
                "unit_id",
                "ack_by",
                "resolve_by",
                "resolved_at",
                "created_at",
                "updated_at",
            ])
        );
        let consultation = ConsultationData {
            id: Uuid::now_v7(),
            station_id: Uuid::now_v7(),
            status: "ended",
            end_reason: Some("doctor_ended"),
            queued_at: now,
            started_at: Some(now),
            ended_at: Some(now),
            duration_secs: Some(0),
        };
        let event = Event::consultation_ended(&consultation).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(&event.body(Uuid::now_v7(), now).unwrap()).unwrap();
        assert_eq!(body["event"], "consultation.ended");
        assert_eq!(
            keys(&body["data"]),
            set(&[
                "id",
                "station_id",
                "status",
                "end_reason",
                "queued_at",
                "started_at",
                "ended_at",
                "duration_secs",
            ])
        );
    }

    #[test]
    fn a_consultation_kind_is_not_a_report_event() {
        let now = Utc::now();
        let report = ReportData {
            id: Uuid::nil(),
            category_code: String::new(),
            status: "",
            previous_status: None,
            severity: "",
            lat: 0.0,
            lon: 0.0,
            address: String::new(),
            unit_id: None,
            ack_by: now,
            resolve_by: now,
            resolved_at: None,
            created_at: now,
            updated_at: now,
        };
        assert!(Event::report(EventKind::ConsultationEnded, &report).is_err());
    }

    fn code(r: Result<String>) -> String {
        match r {
            Err(Error::Validation(e)) => e[0].code.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_are_https_public_and_without_credentials_or_fragments() {
        assert_eq!(
            check_url(" https://city.example.vn/hooks?x=1 ", false, false).unwrap(),
            "https://city.example.vn/hooks?x=1"
        );
        assert_eq!(
            code(check_url("http://city.example.vn/h", false, false)),
            "url_not_https"
        );
        assert!(check_url("http://127.0.0.1:9/h", true, true).is_ok());
        assert_eq!(
            code(check_url("http://127.0.0.1:9/h", true, false)),
            "url_not_public"
        );
        assert_eq!(
            code(check_url(
                "https://169.254.169.254/latest/meta-data",
                false,
                false
            )),
            "url_not_public"
        );
        assert_eq!(
            code(check_url("https://[::1]:8443/h", false, false)),
            "url_not_public"
        );
        assert_eq!(code(check_url("ftp://x/h", true, false)), "url_not_https");
        assert_eq!(
            code(check_url("https://u:p@city.example.vn/h", false, false)),
            "url_has_credentials"
        );
        assert_eq!(
            code(check_url("https://u@city.example.vn/h", false, false)),
            "url_has_credentials"
        );
        assert_eq!(
            code(check_url("https://city.example.vn/h#top", false, false)),
            "url_has_fragment"
        );
        assert_eq!(code(check_url("not a url", false, false)), "invalid_url");
        assert_eq!(code(check_url("/relative", false, false)), "invalid_url");
        let long = format!("https://city.example.vn/{}", "a".repeat(MAX_URL));
        assert_eq!(code(check_url(&long, false, false)), "url_too_long");
    }
}
