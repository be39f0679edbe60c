//! SQL of Open311 client apps, their key uses (the rate-limit ledger) and which app sent which report.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_db;
use crate::store::Db;

/// A client app as stored (the key itself is never stored).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub open311_client_id: Uuid,
    pub name: String,
    pub contact: String,
    pub key_prefix: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

macro_rules! select_clients {
    ($rest:literal) => {
        concat!(
            "SELECT open311_client_id, name, contact, key_prefix, revoked_at, last_used_at, created_at ",
            "FROM open311_clients ",
            $rest
        )
    };
}

// One row is naturally this wide.
#[allow(clippy::too_many_arguments)]
pub async fn insert_client(
    db: &Db,
    id: Uuid,
    name: &str,
    contact: &str,
    key_hash: &str,
    key_prefix: &str,
    created_by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "INSERT INTO open311_clients (open311_client_id, name, contact, key_hash, key_prefix, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id)
    .bind(name)
    .bind(contact)
    .bind(key_hash)
    .bind(key_prefix)
    .bind(created_by)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))
}

pub async fn clients(db: &Db) -> Result<Vec<ClientRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, ClientRow>(select_clients!("ORDER BY created_at, open311_client_id")).fetch_all(pool).await)
}

pub async fn client(db: &Db, id: Uuid) -> Result<Option<ClientRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, ClientRow>(select_clients!("WHERE open311_client_id = $1")).bind(id).fetch_optional(pool).await)
}

/// The live (not revoked) client holding the key with this hash.
pub async fn live_client_by_key(db: &Db, key_hash: &str) -> Result<Option<ClientRow>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, ClientRow>(select_clients!("WHERE key_hash = $1 AND revoked_at IS NULL")).bind(key_hash).fetch_optional(pool).await)
}

/// Revoke; false if there is no such client or it was revoked already.
pub async fn revoke(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, pool => sqlx::query(
        "UPDATE open311_clients SET revoked_at = $2, updated_at = $2 WHERE open311_client_id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Keyed writes of a client since `since`: how many, and the oldest (when the window frees up).
pub async fn uses_since(
    db: &Db,
    client: Uuid,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    on_db!(db, pool => sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT COUNT(*), MIN(created_at) FROM open311_key_uses WHERE open311_client_id = $1 AND created_at >= $2",
    )
    .bind(client)
    .bind(since)
    .fetch_one(pool)
    .await)
}

/// Count one keyed write and note when the key was last used. Entries older than `keep_since` are
/// no longer needed for the limit and are dropped, so the ledger stays small.
pub async fn record_use(
    db: &Db,
    client: Uuid,
    now: DateTime<Utc>,
    keep_since: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "DELETE FROM open311_key_uses WHERE open311_client_id = $1 AND created_at < $2",
    )
    .bind(client)
    .bind(keep_since)
    .execute(pool)
    .await
    .map(|_| ()))?;
    on_db!(db, pool => sqlx::query(
        "INSERT INTO open311_key_uses (open311_key_use_id, open311_client_id, created_at, updated_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(Uuid::now_v7())
    .bind(client)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))?;
    on_db!(db, pool => sqlx::query("UPDATE open311_clients SET last_used_at = $2 WHERE open311_client_id = $1")
        .bind(client)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
}

pub async fn insert_request(
    db: &Db,
    report_id: Uuid,
    client: Uuid,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query(
        "INSERT INTO open311_requests (report_id, open311_client_id, token, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(report_id)
    .bind(client)
    .bind(token)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// The report a token stands for.
pub async fn report_for_token(db: &Db, token: &str) -> Result<Option<Uuid>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar::<_, Uuid>("SELECT report_id FROM open311_requests WHERE token = $1")
        .bind(token)
        .fetch_optional(pool)
        .await)
}
