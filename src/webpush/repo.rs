//! SQL of Web Push: the browsers' subscriptions, and the VAPID key kept for every instance.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::on_db;
use crate::store::Db;

/// A browser's subscription as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub push_subscription_id: Uuid,
    pub account_id: Uuid,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Store `sub` (a new id) or, when its endpoint is known, hand that row to `sub`'s account with
/// the new keys; then drop the account's subscriptions past the `keep` most recently refreshed.
/// Returns the row as stored (its id is `sub`'s when it is new).
pub async fn upsert(db: &Db, sub: &SubscriptionRow, keep: u32) -> Result<SubscriptionRow> {
    let s = sub.clone();
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "INSERT INTO push_subscriptions (push_subscription_id, account_id, endpoint, p256dh,
                     auth, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)
                 ON CONFLICT (endpoint) DO UPDATE SET account_id = excluded.account_id,
                     p256dh = excluded.p256dh, auth = excluded.auth, updated_at = excluded.updated_at",
                &[
                    s.push_subscription_id.into(),
                    s.account_id.into(),
                    (&s.endpoint).into(),
                    (&s.p256dh).into(),
                    (&s.auth).into(),
                    s.created_at.into(),
                ],
            )
            .await?;
            tx.exec(
                "DELETE FROM push_subscriptions WHERE account_id = $1 AND push_subscription_id NOT IN (
                     SELECT push_subscription_id FROM push_subscriptions WHERE account_id = $1
                     ORDER BY updated_at DESC, push_subscription_id DESC LIMIT $2)",
                &[s.account_id.into(), i64::from(keep).into()],
            )
            .await
            .map(|_| ())
        })
    })
    .await?;
    let endpoint = sub.endpoint.clone();
    let row = on_db!(db, pool => sqlx::query_as::<_, SubscriptionRow>(
        "SELECT push_subscription_id, account_id, endpoint, p256dh, auth, created_at, updated_at
         FROM push_subscriptions WHERE endpoint = $1",
    )
    .bind(&endpoint)
    .fetch_optional(pool)
    .await)?;
    // Gone only if another request took the endpoint over and evicted it meanwhile: report what
    // was asked for, which was stored.
    Ok(row.unwrap_or_else(|| sub.clone()))
}

/// An account's subscriptions, most recently refreshed first.
pub async fn of_account(db: &Db, account_id: Uuid) -> Result<Vec<SubscriptionRow>> {
    Ok(on_db!(db, pool => sqlx::query_as::<_, SubscriptionRow>(
        "SELECT push_subscription_id, account_id, endpoint, p256dh, auth, created_at, updated_at
         FROM push_subscriptions WHERE account_id = $1
         ORDER BY updated_at DESC, push_subscription_id DESC",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await)?)
}

/// Delete the account's subscription at `endpoint`; whether there was one.
pub async fn delete(db: &Db, account_id: Uuid, endpoint: &str) -> Result<bool> {
    let endpoint = endpoint.to_string();
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "DELETE FROM push_subscriptions WHERE account_id = $1 AND endpoint = $2",
                &[account_id.into(), (&endpoint).into()],
            )
            .await
            .map(|n| n > 0)
        })
    })
    .await
}

/// Forget a subscription the push service says is gone (404/410), unless the browser subscribed
/// again since the message was sent (new keys, so a new auth secret).
pub async fn forget(db: &Db, id: Uuid, auth: &str) -> Result<()> {
    let auth = auth.to_string();
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "DELETE FROM push_subscriptions WHERE push_subscription_id = $1 AND auth = $2",
                &[id.into(), (&auth).into()],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

/// The VAPID private key kept in the database, if any.
pub async fn vapid_key(db: &Db) -> Result<Option<String>> {
    Ok(on_db!(db, pool => sqlx::query_scalar::<_, String>(
        "SELECT private_key FROM push_vapid_keys WHERE vapid_key_id = 1",
    )
    .fetch_optional(pool)
    .await)?)
}

/// Keep `private_key` unless another instance kept one first.
pub async fn offer_vapid_key(db: &Db, private_key: &str, now: DateTime<Utc>) -> Result<()> {
    let key = private_key.to_string();
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "INSERT INTO push_vapid_keys (vapid_key_id, private_key, created_at) VALUES (1, $1, $2)
                 ON CONFLICT (vapid_key_id) DO NOTHING",
                &[(&key).into(), now.into()],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}
