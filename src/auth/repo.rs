//! SQL of accounts, one-time codes and refresh tokens.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Account, Language, Role};
use crate::on_ex;
use crate::on_tx;
use crate::store::{Db, Ex};

/// `SELECT <every account column> FROM accounts <rest>`, as one static string.
macro_rules! select_accounts {
    ($rest:literal) => {
        concat!(
            "SELECT account_id, phone, display_name, role, language, password_hash, ",
            "password_must_change, disabled_at, created_at, updated_at FROM accounts ",
            $rest
        )
    };
}

pub async fn account_by_id(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
) -> Result<Option<Account>, sqlx::Error> {
    let sql = select_accounts!("WHERE account_id = $1");
    on_ex!(ex.into(), pool => sqlx::query_as::<_, Account>(sql).bind(id).fetch_optional(pool).await)
}

pub async fn account_by_phone(
    ex: impl Into<Ex<'_>>,
    phone: &str,
) -> Result<Option<Account>, sqlx::Error> {
    let sql = select_accounts!("WHERE phone = $1");
    on_ex!(ex.into(), pool => sqlx::query_as::<_, Account>(sql).bind(phone).fetch_optional(pool).await)
}

/// Accounts by role (all roles when `None`), oldest first, after the `after` cursor.
pub async fn list_accounts(
    ex: impl Into<Ex<'_>>,
    role: Option<Role>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Account>, sqlx::Error> {
    let sql = select_accounts!(
        "WHERE ($1 IS NULL OR role = $1) AND ($2 IS NULL OR account_id > $2) ORDER BY account_id LIMIT $3"
    );
    let role = role.map(|r| r.as_str());
    on_ex!(ex.into(), pool => sqlx::query_as::<_, Account>(sql).bind(role).bind(after).bind(limit).fetch_all(pool).await)
}

pub struct NewAccount<'a> {
    pub phone: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: Option<&'a str>,
    pub password_must_change: bool,
}

/// Insert; `Ok(None)` when the phone already has an account.
pub async fn insert_account(
    ex: impl Into<Ex<'_>>,
    new: &NewAccount<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, sqlx::Error> {
    let id = Uuid::now_v7();
    let done = on_ex!(ex.into(), pool => sqlx::query(
        "INSERT INTO accounts (account_id, phone, display_name, role, language, password_hash,
                               password_must_change, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'vi', $5, $6, $7, $7)
         ON CONFLICT (phone) DO NOTHING",
    )
    .bind(id)
    .bind(new.phone)
    .bind(new.display_name)
    .bind(new.role.as_str())
    .bind(new.password_hash)
    .bind(new.password_must_change)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok((done == 1).then_some(id))
}

pub async fn update_profile(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    display_name: Option<&str>,
    language: Option<Language>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query(
        "UPDATE accounts SET display_name = COALESCE($2, display_name), language = COALESCE($3, language),
                updated_at = $4
         WHERE account_id = $1",
    )
    .bind(id)
    .bind(display_name)
    .bind(language.map(|l| l.as_str()))
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_password(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    hash: &str,
    must_change: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query(
        "UPDATE accounts SET password_hash = $2, password_must_change = $3, updated_at = $4 WHERE account_id = $1",
    )
    .bind(id)
    .bind(hash)
    .bind(must_change)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Disable (or enable with `None`) an account; disabling also ends all its sessions.
pub async fn set_disabled(
    db: &Db,
    id: Uuid,
    disabled_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = db
        .transaction(async |tx| {
            let done = on_tx!(tx, conn => sqlx::query(
                "UPDATE accounts SET disabled_at = $2, updated_at = $3 WHERE account_id = $1",
            )
            .bind(id)
            .bind(disabled_at)
            .bind(now)
            .execute(conn)
            .await.map(|r| r.rows_affected()))?;
            if disabled_at.is_some() {
                on_tx!(tx, conn => sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $2, updated_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(conn)
                .await.map(|r| r.rows_affected()))?;
            }
            Ok::<_, sqlx::Error>(done)
        })
        .await?;
    Ok(done == 1)
}

// ---- one-time codes ----

/// How many codes were requested since `since` for this phone and from this address, and when the
/// oldest and newest of the phone's were.
pub struct OtpWindow {
    pub by_phone: i64,
    pub by_ip: i64,
    pub oldest_by_phone: Option<DateTime<Utc>>,
    pub newest_by_phone: Option<DateTime<Utc>>,
    pub oldest_by_ip: Option<DateTime<Utc>>,
}

pub async fn otp_window(
    ex: impl Into<Ex<'_>>,
    phone: &str,
    ip: &str,
    since: DateTime<Utc>,
) -> Result<OtpWindow, sqlx::Error> {
    let mut ex = ex.into();
    let (by_phone, oldest_by_phone, newest_by_phone) = on_ex!(ex.re(), pool => sqlx::query_as::<_, (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>)>(
        "SELECT COUNT(*), MIN(created_at), MAX(created_at) FROM otp_challenges WHERE phone = $1 AND created_at > $2",
    )
    .bind(phone)
    .bind(since)
    .fetch_one(pool)
    .await)?;
    let (by_ip, oldest_by_ip) = on_ex!(ex.re(), pool => sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT COUNT(*), MIN(created_at) FROM otp_challenges WHERE client_ip = $1 AND created_at > $2",
    )
    .bind(ip)
    .bind(since)
    .fetch_one(pool)
    .await)?;
    Ok(OtpWindow {
        by_phone,
        by_ip,
        oldest_by_phone,
        newest_by_phone,
        oldest_by_ip,
    })
}

pub async fn insert_otp(
    ex: impl Into<Ex<'_>>,
    phone: &str,
    ip: &str,
    code_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query(
        "INSERT INTO otp_challenges (otp_challenge_id, phone, client_ip, code_hash, attempts, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 0, $5, $6, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(phone)
    .bind(ip)
    .bind(code_hash)
    .bind(expires_at)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct OtpChallenge {
    pub otp_challenge_id: Uuid,
    pub code_hash: String,
    pub attempts: i32,
    pub expires_at: DateTime<Utc>,
}

/// The newest live (unexpired, unused) code for the phone.
pub async fn live_otp(
    ex: impl Into<Ex<'_>>,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<Option<OtpChallenge>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, OtpChallenge>(
        "SELECT otp_challenge_id, code_hash, attempts, expires_at FROM otp_challenges
         WHERE phone = $1 AND consumed_at IS NULL AND expires_at > $2
         ORDER BY created_at DESC, otp_challenge_id DESC LIMIT 1",
    )
    .bind(phone)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// Count one attempt; false when the attempts were used up (by this or a concurrent request).
pub async fn spend_otp_attempt(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    max: i32,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = on_ex!(ex.into(), pool => sqlx::query(
        "UPDATE otp_challenges SET attempts = attempts + 1, updated_at = $3
         WHERE otp_challenge_id = $1 AND attempts < $2 AND consumed_at IS NULL",
    )
    .bind(id)
    .bind(max)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Mark used; false if someone else used it first.
pub async fn consume_otp(
    ex: impl Into<Ex<'_>>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = on_ex!(ex.into(), pool => sqlx::query(
        "UPDATE otp_challenges SET consumed_at = $2, updated_at = $2 WHERE otp_challenge_id = $1 AND consumed_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

// ---- password sign-in failures ----

pub async fn login_failures_since(
    ex: impl Into<Ex<'_>>,
    phone: &str,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT COUNT(*), MIN(created_at) FROM login_failures WHERE phone = $1 AND created_at > $2",
    )
    .bind(phone)
    .bind(since)
    .fetch_one(pool)
    .await)
}

pub async fn record_login_failure(
    ex: impl Into<Ex<'_>>,
    phone: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query(
        "INSERT INTO login_failures (login_failure_id, phone, client_ip, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(Uuid::now_v7())
    .bind(phone)
    .bind(ip)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- refresh tokens ----

pub async fn insert_refresh(
    db: &Db,
    family_id: Uuid,
    account_id: Uuid,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    db.transaction(async |tx| {
        insert_refresh_tx(tx, family_id, account_id, token_hash, expires_at, now).await
    })
    .await
}

async fn insert_refresh_tx(
    ex: impl Into<Ex<'_>>,
    family_id: Uuid,
    account_id: Uuid,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), conn => sqlx::query(
        "INSERT INTO refresh_tokens (refresh_token_id, family_id, account_id, token_hash, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(family_id)
    .bind(account_id)
    .bind(token_hash)
    .bind(expires_at)
    .bind(now)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct RefreshRow {
    pub refresh_token_id: Uuid,
    pub family_id: Uuid,
    pub account_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn refresh_by_hash(
    ex: impl Into<Ex<'_>>,
    token_hash: &str,
) -> Result<Option<RefreshRow>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, RefreshRow>(
        "SELECT refresh_token_id, family_id, account_id, expires_at, rotated_at, revoked_at
         FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await)
}

/// Rotate `old` into a new token of the same family, atomically. False when `old` was rotated or
/// revoked meanwhile (a concurrent refresh won): the caller treats that as reuse.
pub async fn rotate_refresh(
    db: &Db,
    old: &RefreshRow,
    new_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    db.transaction(async |tx| {
        let done = on_tx!(tx, conn => sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $2, updated_at = $2
             WHERE refresh_token_id = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
        )
        .bind(old.refresh_token_id)
        .bind(now)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
        if done != 1 {
            // Lost the race: the update matched no row (`refresh_token_id` is the key), so nothing
            // was written and this transaction commits empty.
            return Ok(false);
        }
        insert_refresh_tx(tx, old.family_id, old.account_id, new_hash, expires_at, now).await?;
        Ok(true)
    })
    .await
}

pub async fn revoke_family(
    ex: impl Into<Ex<'_>>,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2, updated_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(now)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}
