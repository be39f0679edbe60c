//! Push notifications to phones. Every inbox item is also handed to a [`Notifier`]; the app
//! composes a log line per item with Web Push to the account's browsers (`webpush`), and a
//! deployment could add FCM/APNs behind the same trait. A push that fails is logged and dropped:
//! the inbox (`GET /v1/notifications`) stays the record. A notifier must not wait on the network
//! in `push`: it is called after the change commits, before the request that made it answers.

use uuid::Uuid;

/// One notification for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub account_id: Uuid,
    /// What the item is about: a field report, an appointment or a consultation.
    pub report_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub consultation_id: Option<Uuid>,
    pub kind: NotificationKind,
    pub text_vi: String,
    pub text_en: String,
}

crate::text_enum! {
    /// What an inbox item (and its push) tells: a followed report's new status, or news of an
    /// appointment, a consultation or a record. Apps pick the icon and the screen to open by it.
    pub enum NotificationKind {
        ReportReceived = "received",
        ReportAssigned = "assigned",
        ReportInProgress = "in_progress",
        ReportResolved = "resolved",
        ReportRejected = "rejected",
        ReportDuplicate = "duplicate",
        ReportClosed = "closed",
        ReportReopened = "reopened",
        AppointmentCancelled = "appointment_cancelled",
        AppointmentRescheduled = "appointment_rescheduled",
        AppointmentReminder24h = "appointment_reminder_24h",
        AppointmentReminder15m = "appointment_reminder_15m",
        ConsultationAdmitted = "consultation_admitted",
        ConsultationDeclined = "consultation_declined",
        ConsultationInvite = "consultation_invite",
        ConsultationMissed = "consultation_missed",
        ConsultationTransferred = "consultation_transferred",
        RecordSigned = "record_signed",
    }
}

impl NotificationKind {
    /// The item telling a report's followers it is now in `status` (none for a new report).
    pub fn for_report(status: crate::reports::Status) -> Option<NotificationKind> {
        use crate::reports::Status::*;
        Some(match status {
            Submitted => return None,
            Received => NotificationKind::ReportReceived,
            Assigned => NotificationKind::ReportAssigned,
            InProgress => NotificationKind::ReportInProgress,
            Resolved => NotificationKind::ReportResolved,
            Rejected => NotificationKind::ReportRejected,
            Duplicate => NotificationKind::ReportDuplicate,
            Closed => NotificationKind::ReportClosed,
            Reopened => NotificationKind::ReportReopened,
        })
    }
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
        tracing::info!(account_id = %push.account_id, report_id = ?push.report_id, appointment_id = ?push.appointment_id, consultation_id = ?push.consultation_id, kind = %push.kind.as_str(), "push notification");
        Ok(())
    }
}

/// Several notifiers, each given every push in turn (a failure of one does not stop the others).
pub struct Notifiers(pub Vec<std::sync::Arc<dyn Notifier>>);

#[async_trait::async_trait]
impl Notifier for Notifiers {
    async fn push(&self, push: Push) -> anyhow::Result<()> {
        let mut failed = None;
        for n in &self.0 {
            if let Err(e) = n.push(push.clone()).await {
                failed = Some(e);
            }
        }
        failed.map_or(Ok(()), Err)
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

#[cfg(test)]
mod tests {
    use super::NotificationKind;
    use crate::reports::Status;

    /// A report's notification is spelled as its status, as the apps have always read it.
    #[test]
    fn report_notifications_are_named_after_the_status() {
        for &s in Status::ALL {
            match NotificationKind::for_report(s) {
                Some(k) => assert_eq!(k.as_str(), s.as_str()),
                None => assert_eq!(s, Status::Submitted),
            }
        }
    }
}
