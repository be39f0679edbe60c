//! Push notifications to phones. Every inbox item is also handed to a [`Notifier`]; the default
//! only logs, and a deployment plugs in FCM/APNs behind the same trait. A push that fails is logged
//! and dropped: the inbox (`GET /v1/notifications`) stays the record.

use uuid::Uuid;

/// One notification for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub account_id: Uuid,
    /// What the item is about: a field report, an appointment or a consultation.
    pub report_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub consultation_id: Option<Uuid>,
    pub kind: String,
    pub text_vi: String,
    pub text_en: String,
}

#[async_trait::async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn push(&self, push: Push) -> anyhow::Result<()>;
}

/// The default: a log line per notification.
pub struct LogNotifier;

#[async_trait::async_trait]
impl Notifier for LogNotifier {
    async fn push(&self, push: Push) -> anyhow::Result<()> {
        tracing::info!(account_id = %push.account_id, report_id = ?push.report_id, appointment_id = ?push.appointment_id, consultation_id = ?push.consultation_id, kind = %push.kind, "push notification");
        Ok(())
    }
}

/// Hand committed inbox items to the notifier; a failed push is logged and dropped (the inbox
/// keeps the item). Field reports and telehealth both send through this.
pub async fn send_all(notifier: &dyn Notifier, pushes: Vec<Push>) {
    for p in pushes {
        if let Err(e) = notifier.push(p).await {
            tracing::warn!(error = %e, "push notification failed");
        }
    }
}
