//! Each resident's latest pre-call test with a verdict (`precall_checks`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::rtc::echo::Verdict;
use crate::store::Ex;

/// The latest pre-call test of one resident.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Readiness {
    pub verdict: Verdict,
    pub rtt_ms: Option<f64>,
    pub relay: bool,
    pub checked_at: DateTime<Utc>,
}

/// Keep `account`'s latest test (one row per account, replaced).
pub async fn upsert(
    ex: impl Into<Ex<'_>>,
    account: Uuid,
    verdict: Verdict,
    rtt_ms: Option<f64>,
    relay: bool,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO precall_checks (account_id, verdict, rtt_ms, relay, checked_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id) DO UPDATE SET verdict = excluded.verdict,
             rtt_ms = excluded.rtt_ms, relay = excluded.relay, checked_at = excluded.checked_at",
    )
    .bind(account)
    .bind(verdict.as_str())
    .bind(rtt_ms)
    .bind(relay)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// `account`'s latest test taken at `since` or later.
pub async fn latest_since(
    ex: impl Into<Ex<'_>>,
    account: Uuid,
    since: DateTime<Utc>,
) -> Result<Option<Readiness>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, Readiness>(
        "SELECT verdict, rtt_ms, relay, checked_at FROM precall_checks
         WHERE account_id = $1 AND checked_at >= $2",
    )
    .bind(account)
    .bind(since)
    .fetch_optional(c)
    .await)
}
