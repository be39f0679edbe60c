//! `/v1/admin/webhooks`: the admins register the integrations' endpoints and watch their deliveries.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::{Ctx, DeliveryRow, EndpointRow, EventKind, MAX_URL};
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::tags::ApiTags;

/// An event an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum WebhookEvent {
    /// A report was filed.
    #[oai(rename = "report.created")]
    ReportCreated,
    /// A report's public status changed (received, assigned, started, rejected, marked a
    /// duplicate, closed, reopened).
    #[oai(rename = "report.changed")]
    ReportChanged,
    /// A report was resolved.
    #[oai(rename = "report.resolved")]
    ReportResolved,
    /// A consultation is over (ended, missed, cancelled or declined), without clinical content.
    #[oai(rename = "consultation.ended")]
    ConsultationEnded,
}

impl From<WebhookEvent> for EventKind {
    fn from(e: WebhookEvent) -> EventKind {
        match e {
            WebhookEvent::ReportCreated => EventKind::ReportCreated,
            WebhookEvent::ReportChanged => EventKind::ReportChanged,
            WebhookEvent::ReportResolved => EventKind::ReportResolved,
            WebhookEvent::ConsultationEnded => EventKind::ConsultationEnded,
        }
    }
}

impl From<EventKind> for WebhookEvent {
    fn from(e: EventKind) -> WebhookEvent {
        match e {
            EventKind::ReportCreated => WebhookEvent::ReportCreated,
            EventKind::ReportChanged => WebhookEvent::ReportChanged,
            EventKind::ReportResolved => WebhookEvent::ReportResolved,
            EventKind::ConsultationEnded => WebhookEvent::ConsultationEnded,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NewWebhook {
    /// Where to post: `https://…` (plain `http://` only where the server allows it), without
    /// credentials or a fragment.
    #[oai(validator(max_length = 2000))]
    url: String,
    /// The events to receive (at least one).
    #[oai(validator(max_items = 16))]
    events: Vec<WebhookEvent>,
    /// What it is for (who runs the receiver).
    #[oai(default, validator(max_length = 500))]
    description: String,
}

/// A registered endpoint, with its signing secret: shown this once, keep it.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WebhookCreated {
    id: Uuid,
    url: String,
    events: Vec<WebhookEvent>,
    description: String,
    created_at: DateTime<Utc>,
    /// The HMAC-SHA256 key of the `Wardline-Signature` header. It is not shown again.
    secret: String,
}

/// An endpoint and how its deliveries stand (never its secret).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WebhookView {
    id: Uuid,
    url: String,
    events: Vec<WebhookEvent>,
    description: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    /// Set once an admin removed it: nothing more is sent to it.
    disabled_at: Option<DateTime<Utc>>,
    /// Deliveries not yet made (waiting, or retrying).
    pending: i64,
    /// Deliveries given up after too many failed attempts.
    dead: i64,
    last_delivered_at: Option<DateTime<Utc>>,
    /// What went wrong the last time an attempt failed.
    last_error: Option<String>,
}

impl From<EndpointRow> for WebhookView {
    fn from(e: EndpointRow) -> Self {
        WebhookView {
            id: e.webhook_id,
            url: e.url,
            events: e.events.into_iter().map(Into::into).collect(),
            description: e.description,
            created_by: e.created_by,
            created_at: e.created_at,
            disabled_at: e.disabled_at,
            pending: e.pending,
            dead: e.dead,
            last_delivered_at: e.last_delivered_at,
            last_error: e.last_error,
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
enum DeliveryStatus {
    /// Not yet made: waiting its turn, or retrying after a failure.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after too many failed attempts (not retried).
    Dead,
}

/// One event sent (or to send) to an endpoint.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeliveryView {
    /// The event's id, as in the body and the `Wardline-Delivery` header.
    id: Uuid,
    event: WebhookEvent,
    /// The report or consultation it is about.
    subject_id: Uuid,
    status: DeliveryStatus,
    attempts: i32,
    /// When it is tried next, while pending.
    next_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status.
    last_status: Option<i32>,
    last_error: Option<String>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> Self {
        let status = if d.delivered_at.is_some() {
            DeliveryStatus::Delivered
        } else if d.dead_at.is_some() {
            DeliveryStatus::Dead
        } else {
            DeliveryStatus::Pending
        };
        DeliveryView {
            id: d.event_id,
            event: d.event.into(),
            subject_id: d.subject_id,
            status,
            attempts: d.attempts,
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(d.next_attempt_at),
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

#[derive(ApiResponse)]
enum Registered {
    /// Registered; the secret is in this answer only.
    #[oai(status = 201)]
    Created(Json<WebhookCreated>),
}

#[derive(ApiResponse)]
enum Removed {
    /// Disabled: nothing more is sent to it.
    #[oai(status = 204)]
    Done,
}

pub struct WebhooksApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl WebhooksApi {
    /// Register a webhook endpoint for an integration (admins); its secret is shown once
    #[oai(
        path = "/v1/admin/webhooks",
        method = "post",
        operation_id = "admin_create_webhook"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<NewWebhook>,
    ) -> Result<Registered, Problems<{ SIGNED_IN | BODY | INVALID }>> {
        let caller = self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let events: Vec<EventKind> = body.events.iter().map(|e| (*e).into()).collect();
        let done =
            super::register(&self.state, &caller, &body.url, &events, &body.description).await?;
        let e = done.endpoint;
        Ok(Registered::Created(Json(WebhookCreated {
            id: e.webhook_id,
            url: e.url,
            events: e.events.into_iter().map(Into::into).collect(),
            description: e.description,
            created_at: e.created_at,
            secret: done.secret,
        })))
    }

    /// Webhook endpoints and how their deliveries stand (admins)
    #[oai(
        path = "/v1/admin/webhooks",
        method = "get",
        operation_id = "admin_list_webhooks"
    )]
    async fn list(&self, auth: BearerAuth) -> Result<Json<Vec<WebhookView>>, Problems<SIGNED_IN>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            super::endpoints(&self.state)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// A webhook endpoint's recent deliveries, newest first (admins)
    #[oai(
        path = "/v1/admin/webhooks/:webhook_id/deliveries",
        method = "get",
        operation_id = "admin_webhook_deliveries"
    )]
    async fn deliveries(
        &self,
        auth: BearerAuth,
        webhook_id: Path<Uuid>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> Result<Json<Vec<DeliveryView>>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            super::deliveries(&self.state, webhook_id.0, limit.0.unwrap_or(50))
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Remove a webhook endpoint (admins): nothing more is sent to it, pending deliveries included
    #[oai(
        path = "/v1/admin/webhooks/:webhook_id",
        method = "delete",
        operation_id = "admin_delete_webhook"
    )]
    async fn delete(
        &self,
        auth: BearerAuth,
        webhook_id: Path<Uuid>,
    ) -> Result<Removed, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        super::disable(&self.state, webhook_id.0).await?;
        Ok(Removed::Done)
    }
}

/// The longest URL the spec allows is the rules' limit.
const _: () = assert!(MAX_URL == 2000);

#[cfg(test)]
mod tests {
    use super::*;

    /// The API's event names are the stored ones, both ways.
    #[test]
    fn api_events_are_the_stored_names() {
        for kind in EventKind::ALL {
            let api = WebhookEvent::from(*kind);
            assert_eq!(EventKind::from(api), *kind);
            assert_eq!(
                poem_openapi::types::ToJSON::to_json(&api),
                Some(serde_json::Value::String(kind.as_str().into()))
            );
        }
    }
}
