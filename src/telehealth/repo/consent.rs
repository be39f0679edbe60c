//! Consent decisions: append-only rows, the latest per kind holds.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::store::Ex;

crate::text_enum! {
    /// Which consent.
    #[derive(poem_openapi::Enum)]
    #[oai(rename_all = "snake_case")]
    pub enum ConsentKind {
        /// To be seen by video at all.
        Telehealth = "telehealth",
        /// To have the call recorded (off unless given).
        Recording = "recording",
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub consent_id: Uuid,
    pub kind: ConsentKind,
    pub version: String,
    pub accepted: bool,
    pub created_at: DateTime<Utc>,
}

/// Record a decision of `account` as it is stored.
pub async fn insert(
    ex: impl Into<Ex<'_>>,
    account: Uuid,
    row: &ConsentRow,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO consents (consent_id, account_id, kind, version, accepted, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(row.consent_id)
    .bind(account)
    .bind(row.kind.as_str())
    .bind(&row.version)
    .bind(row.accepted)
    .bind(row.created_at)
    .execute(c)
    .await
    .map(|_| ()))
}

/// The account's decisions, newest first.
pub async fn history(ex: impl Into<Ex<'_>>, account: Uuid) -> Result<Vec<ConsentRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ConsentRow>(
        "SELECT consent_id, kind, version, accepted, created_at FROM consents
         WHERE account_id = $1 ORDER BY created_at DESC, consent_id DESC LIMIT 200",
    )
    .bind(account)
    .fetch_all(c)
    .await)
}

/// The version and answer of the account's latest decision on `kind`.
pub async fn latest(
    ex: impl Into<Ex<'_>>,
    account: Uuid,
    kind: ConsentKind,
) -> Result<Option<(String, bool)>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, (String, bool)>(
        "SELECT version, accepted FROM consents WHERE account_id = $1 AND kind = $2
         ORDER BY created_at DESC, consent_id DESC LIMIT 1",
    )
    .bind(account)
    .bind(kind.as_str())
    .fetch_optional(c)
    .await)
}
