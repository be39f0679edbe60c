//! Sending: the [`Notifier`] that hands each inbox item to every browser of its account. It never
//! waits on a push service: `push` queues the work and returns, so the request whose change made
//! the item answers at once. Sends run a bounded number at a time; a subscription the push
//! service says is gone (404, 410) is forgotten, any other failure is logged (the inbox keeps the
//! item).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use super::crypto::{self, UaKeys, Vapid};
use super::{Ctx, SubscriptionRow, repo};
use crate::reports::push::{NotificationKind, Notifier, Push};

/// Messages being sent at once, across every account (each is one small HTTPS request).
const CONCURRENCY: usize = 16;
/// Pushes waiting to be sent; past this, new ones are dropped with a log line (the inbox keeps
/// them) rather than piling up in memory behind a stalled push service.
const MAX_QUEUED: usize = 10_000;
/// A push service's whole answer (connecting at most 5 s of it).
const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest text of each language put in a message: keeps the JSON well under 3 KB.
const MAX_TEXT_BYTES: usize = 900;

#[derive(Clone)]
pub struct WebPushNotifier {
    ctx: Ctx,
    client: reqwest::Client,
    permits: Arc<tokio::sync::Semaphore>,
    queued: Arc<AtomicUsize>,
}

impl WebPushNotifier {
    pub fn new(ctx: Ctx) -> anyhow::Result<WebPushNotifier> {
        // No redirects (a push service answers, it does not send us elsewhere), and public
        // addresses only: a resident chose this URL, and a name may resolve inside the network.
        let settings = &ctx.settings;
        let client = crate::outbound::client(
            concat!("Wardline-Push/", env!("CARGO_PKG_VERSION")),
            TIMEOUT,
            settings.push_allow_http || settings.outbound_allow_private,
        )?;
        Ok(WebPushNotifier {
            ctx,
            client,
            permits: Arc::new(tokio::sync::Semaphore::new(CONCURRENCY)),
            queued: Arc::default(),
        })
    }

    /// Send `push` to every subscription of its account.
    async fn deliver(&self, push: Push) {
        let subs = match repo::of_account(&self.ctx.db, push.account_id).await {
            Ok(subs) => subs,
            Err(e) => {
                tracing::warn!(error = %e, account_id = %push.account_id, "web push: reading subscriptions");
                return;
            }
        };
        if subs.is_empty() {
            return;
        }
        let vapid = match self.ctx.vapid().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "web push: the VAPID key");
                return;
            }
        };
        let message = Message::of(&push);
        let mut sends = tokio::task::JoinSet::new();
        for sub in subs {
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                return;
            };
            let (this, vapid, message) = (self.clone(), vapid.clone(), message.clone());
            sends.spawn(async move {
                this.send(&vapid, &sub, &message).await;
                drop(permit);
            });
        }
        while sends.join_next().await.is_some() {}
    }

    async fn send(&self, vapid: &Vapid, sub: &SubscriptionRow, message: &Message) {
        let id = sub.push_subscription_id;
        let (Ok(endpoint), Ok(keys)) = (
            url::Url::parse(&sub.endpoint),
            UaKeys::parse(&sub.p256dh, &sub.auth),
        ) else {
            // Checked when stored; a row that no longer reads is of no use.
            tracing::warn!(subscription = %id, "web push: unreadable subscription, forgotten");
            let _ = repo::forget(&self.ctx.db, id, &sub.auth).await;
            return;
        };
        // A fresh one-time key and salt per message (RFC 8291 § 3.4).
        let salt: [u8; 16] = rand::random();
        let body = match crypto::encrypt(&message.json, &keys, &crypto::random_secret(), &salt) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, subscription = %id, "web push: encrypting");
                return;
            }
        };
        let now = self.ctx.clock.now().timestamp();
        let sent = self
            .client
            .post(endpoint.clone())
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .header("ttl", message.ttl_secs.to_string())
            .header("urgency", message.urgency)
            .header("authorization", vapid.authorization(&endpoint, now))
            .body(body)
            .send()
            .await;
        let host = endpoint.host_str().unwrap_or("");
        match sent {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(subscription = %id, host, "web push sent");
            }
            Ok(r) if matches!(r.status().as_u16(), 404 | 410) => {
                tracing::info!(subscription = %id, host, status = r.status().as_u16(), "web push: subscription gone, forgotten");
                if let Err(e) = repo::forget(&self.ctx.db, id, &sub.auth).await {
                    tracing::warn!(error = %e, subscription = %id, "web push: forgetting a subscription");
                }
            }
            Ok(r) => {
                tracing::warn!(subscription = %id, host, status = r.status().as_u16(), "web push refused");
            }
            Err(e) => {
                tracing::warn!(subscription = %id, host, error = %e, "web push failed");
            }
        }
    }
}

#[async_trait::async_trait]
impl Notifier for WebPushNotifier {
    async fn push(&self, push: Push) -> anyhow::Result<()> {
        if self.queued.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            anyhow::bail!("web push: {MAX_QUEUED} pushes already waiting; this one is dropped");
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.deliver(push).await;
            this.queued.fetch_sub(1, Ordering::SeqCst);
        });
        Ok(())
    }
}

/// What the service worker gets (decrypted): what the item is about and its text in both
/// languages, so it can show a notification and open the right screen. No clinical content (the
/// inbox texts never carry any), no names.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    kind: &'a str,
    vi: &'a str,
    en: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    report_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    appointment_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consultation_id: Option<Uuid>,
}

/// One push's message, ready for every browser of the account.
#[derive(Debug, Clone)]
struct Message {
    json: Arc<[u8]>,
    /// How long a push service may hold it for an offline browser.
    ttl_secs: u32,
    urgency: &'static str,
}

impl Message {
    fn of(push: &Push) -> Message {
        let payload = Payload {
            kind: push.kind.as_str(),
            vi: clip(&push.text_vi),
            en: clip(&push.text_en),
            report_id: push.report_id,
            appointment_id: push.appointment_id,
            consultation_id: push.consultation_id,
        };
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let (ttl_secs, urgency) = delivery_terms(push.kind);
        Message {
            json: json.into(),
            ttl_secs,
            urgency,
        }
    }
}

/// How long a message is worth keeping for an offline phone, and how urgent it is (RFC 8030
/// § 5.2, 5.3): a call waiting now is worth minutes and is sent even on a low battery; an
/// appointment's news keeps hours; a report's news keeps a day.
fn delivery_terms(kind: NotificationKind) -> (u32, &'static str) {
    use NotificationKind::*;
    match kind {
        ConsultationAdmitted | ConsultationInvite => (300, "high"),
        AppointmentReminder15m => (900, "high"),
        AppointmentReminder24h | AppointmentCancelled | AppointmentRescheduled => {
            (6 * 3600, "normal")
        }
        _ => (24 * 3600, "normal"),
    }
}

/// `text` cut to at most [`MAX_TEXT_BYTES`], on a character boundary.
fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_small_and_carry_the_ids() {
        let long = "Phản ánh của bạn đã được xử lý. ".repeat(200);
        let push = Push {
            account_id: Uuid::now_v7(),
            report_id: Some(Uuid::now_v7()),
            appointment_id: None,
            consultation_id: None,
            kind: NotificationKind::ReportResolved,
            text_vi: long.clone(),
            text_en: long,
        };
        let m = Message::of(&push);
        assert!(m.json.len() < 3 * 1024, "{}", m.json.len());
        let v: serde_json::Value = serde_json::from_slice(&m.json).unwrap();
        assert_eq!(v["kind"], "resolved");
        assert_eq!(v["report_id"], push.report_id.unwrap().to_string());
        assert!(v.get("appointment_id").is_none());
        assert!(v["vi"].as_str().unwrap().starts_with("Phản ánh"));
        assert_eq!((m.ttl_secs, m.urgency), (24 * 3600, "normal"));
    }

    #[test]
    fn a_waiting_call_is_urgent_and_short_lived() {
        assert_eq!(
            delivery_terms(NotificationKind::ConsultationAdmitted),
            (300, "high")
        );
        assert_eq!(
            delivery_terms(NotificationKind::AppointmentReminder15m),
            (900, "high")
        );
    }
}
