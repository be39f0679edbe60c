//! The residents' readiness for a video call: the verdict of their latest pre-call test (which the
//! broker hands over through its port), shown to the station's doctors beside each resident
//! waiting, so a doctor knows before admitting whether to expect video, audio only, or a phone call.

use uuid::Uuid;

use super::Ctx;
use super::repo::readiness as repo;
use crate::error::Result;
use crate::rtc::PrecallCheck;
use crate::rtc::echo::Verdict;

/// A test older than this says little about the network the resident is on now.
const FRESH_FOR_HOURS: i64 = 24;

pub use super::repo::readiness::Readiness;

/// Keep `account`'s latest verdict (a pending one is never handed over; one without a verdict
/// is ignored all the same).
pub async fn record(state: &Ctx, account: Uuid, check: PrecallCheck) -> Result<()> {
    if check.verdict == Verdict::Pending {
        return Ok(());
    }
    let rtt = check.rtt_ms.filter(|v| v.is_finite() && *v >= 0.0);
    let now = state.clock.now();
    repo::upsert(&state.db, account, check.verdict, rtt, check.relay, now).await?;
    Ok(())
}

/// `account`'s latest test, if it is recent enough to mean something.
pub async fn latest(state: &Ctx, account: Uuid) -> Result<Option<Readiness>> {
    let since = state.clock.now() - chrono::Duration::hours(FRESH_FOR_HOURS);
    Ok(repo::latest_since(&state.db, account, since).await?)
}
