//! `Idempotency-Key`: a phone on 3G retries a create; the retry must get the first answer and create
//! nothing. The key is claimed before the work starts (so two racing retries cannot both create), and
//! completed with the created resource's id in the same transaction that creates it (so a crash
//! cannot leave a resource without its key, or a key without its resource).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::on_db;
use crate::store::{Db, Exec};

/// A claimed key, to complete inside the creating transaction.
#[derive(Debug, Clone)]
pub struct Key {
    pub account_id: Uuid,
    pub scope: &'static str,
    pub key: String,
}

enum Claim {
    /// Ours: do the work, then `complete` in the same transaction.
    Claimed(Key),
    /// Done before: the id of what the first request created.
    Done(String),
}

/// A claim older than this with no result belongs to a request that died; it may be taken over.
const STALE_SECS: i64 = 60;

fn hash_request(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// What an operation that takes an `Idempotency-Key` does next.
pub enum Start {
    /// Do the work; complete the claimed key (if one was sent) in the creating transaction.
    Go(Option<Key>),
    /// A retry of a request that already created this resource: answer with it as it is now.
    Replay(Uuid),
}

/// The one way an operation takes an `Idempotency-Key`: claim `key` (if sent) for the caller and
/// `scope`, bound to the hash of the whole request as the client sent it (its JSON), so no field
/// can be left out of the comparison and two different requests can never share a key.
pub async fn start(
    db: &Db,
    account_id: Uuid,
    scope: &'static str,
    key: Option<String>,
    request: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Start> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Ok(Start::Go(None));
    };
    let hash = hash_request(&[&request.to_string()]);
    match claim(db, account_id, scope, &key, &hash, now).await? {
        Claim::Claimed(k) => Ok(Start::Go(Some(k))),
        Claim::Done(id) => Uuid::parse_str(&id)
            .map(Start::Replay)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored id: {e}"))),
    }
}

/// Pass `result` through; when the work failed, release the claimed key so a retry may try again.
pub async fn settle<T>(db: &Db, key: Option<&Key>, result: Result<T>) -> Result<T> {
    if result.is_err()
        && let Some(k) = key
    {
        release(db, k).await?;
    }
    result
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::validation(
            "Idempotency-Key",
            "invalid_idempotency_key",
            "Khoá chống trùng không hợp lệ",
            "Invalid Idempotency-Key (1–100 visible ASCII characters)",
        ));
    }
    Ok(())
}

async fn claim(
    db: &Db,
    account_id: Uuid,
    scope: &'static str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Claim> {
    check_key(key)?;
    for _ in 0..2 {
        let inserted = on_db!(db, pool => sqlx::query(
            "INSERT INTO idempotency_keys (account_id, scope, idem_key, request_hash, status_code, response_body, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 0, '', $5, $5) ON CONFLICT (account_id, scope, idem_key) DO NOTHING",
        )
        .bind(account_id)
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if inserted == 1 {
            return Ok(Claim::Claimed(Key {
                account_id,
                scope,
                key: key.to_string(),
            }));
        }
        let existing = on_db!(db, pool => sqlx::query_as::<_, (String, i32, String, DateTime<Utc>)>(
            "SELECT request_hash, status_code, response_body, created_at FROM idempotency_keys
             WHERE account_id = $1 AND scope = $2 AND idem_key = $3",
        )
        .bind(account_id)
        .bind(scope)
        .bind(key)
        .fetch_optional(pool)
        .await)?;
        let Some((hash, status, body, created_at)) = existing else {
            continue;
        };
        if hash != request_hash {
            return Err(Error::validation(
                "Idempotency-Key",
                "idempotency_key_reused",
                "Khoá này đã dùng cho một yêu cầu khác",
                "This key was used for a different request",
            ));
        }
        if status != 0 {
            return Ok(Claim::Done(body));
        }
        if (now - created_at).num_seconds() < STALE_SECS {
            return Err(Error::Conflict("request_in_progress"));
        }
        release(
            db,
            &Key {
                account_id,
                scope,
                key: key.to_string(),
            },
        )
        .await?;
    }
    Err(Error::Conflict("request_in_progress"))
}

/// Record the result inside the transaction that created it.
pub async fn complete(
    tx: &mut dyn Exec,
    k: &Key,
    resource_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.exec(
        "UPDATE idempotency_keys SET status_code = 201, response_body = $4, updated_at = $5
         WHERE account_id = $1 AND scope = $2 AND idem_key = $3",
        &[
            k.account_id.into(),
            k.scope.into(),
            (&k.key).into(),
            resource_id.into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Give the key back after the work failed, so a corrected retry can use it.
async fn release(db: &Db, k: &Key) -> Result<()> {
    on_db!(db, pool => sqlx::query("DELETE FROM idempotency_keys WHERE account_id = $1 AND scope = $2 AND idem_key = $3 AND status_code = 0")
        .bind(k.account_id).bind(k.scope).bind(&k.key).execute(pool).await.map(|_| ()))?;
    Ok(())
}
