//! The residents' readiness for a video call: the verdict of their latest pre-call test (which the
//! broker hands over through its port), shown to the station's doctors beside each resident
//! waiting, so a doctor knows before admitting whether to expect video, audio only, or a phone call.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Ctx;
use crate::error::Result;
use crate::on_db;
use crate::rtc::PrecallCheck;
use crate::rtc::echo::Verdict;

/// A test older than this says little about the network the resident is on now.
const FRESH_FOR_HOURS: i64 = 24;

/// The latest pre-call test of one resident.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Readiness {
    pub verdict: Verdict,
    pub rtt_ms: Option<f64>,
    pub relay: bool,
    pub checked_at: DateTime<Utc>,
}

/// Keep `account`'s latest verdict (a pending one is never handed over; one without a verdict
/// is ignored all the same).
pub async fn record(state: &Ctx, account: Uuid, check: PrecallCheck) -> Result<()> {
    if check.verdict == Verdict::Pending {
        return Ok(());
    }
    let rtt = check.rtt_ms.filter(|v| v.is_finite() && *v >= 0.0);
    let now = state.clock.now();
    on_db!(&state.db, pool => sqlx::query(
        "INSERT INTO precall_checks (account_id, verdict, rtt_ms, relay, checked_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id) DO UPDATE SET verdict = excluded.verdict,
             rtt_ms = excluded.rtt_ms, relay = excluded.relay, checked_at = excluded.checked_at",
    )
    .bind(account)
    .bind(check.verdict.as_str())
    .bind(rtt)
    .bind(check.relay)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// `account`'s latest test, if it is recent enough to mean something.
pub async fn latest(state: &Ctx, account: Uuid) -> Result<Option<Readiness>> {
    let since = state.clock.now() - chrono::Duration::hours(FRESH_FOR_HOURS);
    Ok(on_db!(&state.db, pool => sqlx::query_as::<_, Readiness>(
        "SELECT verdict, rtt_ms, relay, checked_at FROM precall_checks
         WHERE account_id = $1 AND checked_at >= $2",
    )
    .bind(account)
    .bind(since)
    .fetch_optional(pool)
    .await)?)
}
