//! Items in an account's notifications inbox about an appointment or a consultation.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::reports::push::NotificationKind;
use crate::store::Ex;

/// One inbox item, as written. Texts never carry clinical content.
pub struct NewNotification<'a> {
    pub account_id: Uuid,
    pub appointment_id: Option<Uuid>,
    pub consultation_id: Option<Uuid>,
    pub kind: NotificationKind,
    pub body_vi: &'a str,
    pub body_en: &'a str,
}

pub async fn insert(
    ex: impl Into<Ex<'_>>,
    n: &NewNotification<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO notifications (notification_id, account_id, appointment_id, consultation_id, kind, body_vi, body_en, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(n.account_id)
    .bind(n.appointment_id)
    .bind(n.consultation_id)
    .bind(n.kind.as_str())
    .bind(n.body_vi)
    .bind(n.body_en)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}
