//! Sending text messages. The embedded sender keeps them in the `sms_outbox` table and the log
//! (for trying Wardline out, and for tests); a deployment points a webhook at its SMS gateway.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::config::Secret;
use crate::on_db;
use crate::store::Db;

#[async_trait::async_trait]
pub trait SmsSender: Send + Sync + 'static {
    async fn send(&self, phone: &str, body: &str, now: DateTime<Utc>) -> anyhow::Result<()>;
}

/// Writes each message to the outbox table and the log instead of sending it.
pub struct OutboxSender {
    pub db: Db,
}

#[async_trait::async_trait]
impl SmsSender for OutboxSender {
    async fn send(&self, phone: &str, body: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        tracing::info!(phone, body, "sms (outbox)");
        on_db!(&self.db, pool => sqlx::query(
            "INSERT INTO sms_outbox (sms_outbox_id, phone, body, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(Uuid::now_v7())
        .bind(phone)
        .bind(body)
        .bind(now)
        .execute(pool)
        .await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}

/// The latest messages sent to `phone`, newest first (embedded sender only).
pub async fn outbox_for(db: &Db, phone: &str, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar::<_, String>(
        "SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY created_at DESC, sms_outbox_id DESC LIMIT $2",
    )
    .bind(phone)
    .bind(limit)
    .fetch_all(pool)
    .await)
}

/// POSTs `{"to": "+84…", "body": "…"}` with a bearer token to the gateway.
pub struct WebhookSender {
    client: reqwest::Client,
    url: String,
    token: Option<Secret>,
}

impl WebhookSender {
    pub fn new(url: String, token: Option<Secret>) -> anyhow::Result<WebhookSender> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the SMS webhook client")?;
        Ok(WebhookSender { client, url, token })
    }
}

#[async_trait::async_trait]
impl SmsSender for WebhookSender {
    async fn send(&self, phone: &str, body: &str, _now: DateTime<Utc>) -> anyhow::Result<()> {
        let mut req = self
            .client
            .post(&self.url)
            .json(&serde_json::json!({ "to": phone, "body": body }));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.expose());
        }
        let resp = req.send().await.context("calling the SMS gateway")?;
        anyhow::ensure!(
            resp.status().is_success(),
            "SMS gateway answered {}",
            resp.status()
        );
        Ok(())
    }
}
