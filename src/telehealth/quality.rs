//! Call-quality telemetry: the participants' apps post periodic summaries of their WebRTC stats
//! (round-trip time, jitter, loss, bitrate, the selected candidate type); the station's figures
//! show how many calls went through TURN and how many were of poor quality.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::{Error, FieldError, Result};
use crate::on_db;
use crate::telehealth::Ctx;
use crate::telehealth::queue::{self, ConsultationStatus, Relation};

/// The local candidate type of the selected ICE pair (how the media flows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum CandidateType {
    Host,
    Srflx,
    Prflx,
    Relay,
}

impl CandidateType {
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
        }
    }
}

/// One summary from one participant's app.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub loss_percent: Option<f64>,
    pub bitrate_kbps: Option<f64>,
    pub candidate_type: Option<CandidateType>,
}

/// Samples one participant may post per consultation (one every 5 s for over 80 minutes).
const MAX_SAMPLES: i64 = 1000;

/// A call is poor when its average loss is over 5 %, or its round trip over 400 ms, or its jitter
/// over 50 ms (ITU-T G.114 / common VoIP thresholds).
pub fn is_poor(loss_percent: Option<f64>, rtt_ms: Option<f64>, jitter_ms: Option<f64>) -> bool {
    loss_percent.is_some_and(|l| l > 5.0)
        || rtt_ms.is_some_and(|r| r > 400.0)
        || jitter_ms.is_some_and(|j| j > 50.0)
}

fn check(sample: &Sample) -> Result<()> {
    let mut errors = vec![];
    for (field, value, max) in [
        ("rtt_ms", sample.rtt_ms, 60_000.0),
        ("jitter_ms", sample.jitter_ms, 60_000.0),
        ("loss_percent", sample.loss_percent, 100.0),
        ("bitrate_kbps", sample.bitrate_kbps, 1_000_000.0),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && (0.0..=max).contains(&v))
        {
            errors.push(FieldError::new(
                field,
                "out_of_range",
                "Giá trị ngoài khoảng cho phép",
                "Value out of range",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// Store a sample from a participant of the consultation (while it is admitted, in call, or just
/// ended: the last summary comes after hanging up).
pub async fn record(
    state: &Ctx,
    caller: &Caller,
    consultation: Uuid,
    sample: Sample,
) -> Result<()> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let (row, relation) = queue::get(state, caller, consultation).await?;
    if relation == Relation::StationDoctor {
        return Err(Error::NotFound("consultation_not_found"));
    }
    if !matches!(
        row.status,
        ConsultationStatus::Admitted | ConsultationStatus::InCall | ConsultationStatus::Ended
    ) {
        return Err(Error::Conflict("not_in_call"));
    }
    check(&sample)?;
    let now = state.clock.now();
    let n = on_db!(&state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM call_quality WHERE consultation_id = $1 AND account_id = $2",
    )
    .bind(consultation)
    .bind(caller.account_id)
    .fetch_one(pool)
    .await)?;
    if n >= MAX_SAMPLES {
        return Err(Error::RateLimited {
            code: "too_many_samples",
            retry_after: 3600,
        });
    }
    on_db!(&state.db, pool => sqlx::query(
        "INSERT INTO call_quality (sample_id, consultation_id, account_id, rtt_ms, jitter_ms, loss_percent, bitrate_kbps, candidate_type, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(consultation)
    .bind(caller.account_id)
    .bind(sample.rtt_ms)
    .bind(sample.jitter_ms)
    .bind(sample.loss_percent)
    .bind(sample.bitrate_kbps)
    .bind(sample.candidate_type.map(CandidateType::as_str))
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Per consultation of a station in a window: whether any sample was relayed, and the averages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFigures {
    /// Calls with at least one sample.
    pub measured: i64,
    pub relayed: i64,
    pub poor: i64,
}

pub async fn station_calls(
    state: &Ctx,
    station: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<CallFigures> {
    type Row = (Uuid, Option<f64>, Option<f64>, Option<f64>, i64);
    // Averages per participant: a call is poor when it was poor for anyone in it.
    let rows = on_db!(&state.db, pool => sqlx::query_as::<_, Row>(
        "SELECT q.consultation_id, AVG(q.loss_percent), AVG(q.rtt_ms), AVG(q.jitter_ms),
                SUM(CASE WHEN q.candidate_type = 'relay' THEN 1 ELSE 0 END)
         FROM call_quality q JOIN consultations c ON c.consultation_id = q.consultation_id
         WHERE c.station_id = $1 AND c.created_at >= $2 AND c.created_at < $3
         GROUP BY q.consultation_id, q.account_id",
    )
    .bind(station)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?;
    let mut calls: std::collections::BTreeMap<Uuid, (bool, bool)> = Default::default();
    for (id, loss, rtt, jitter, relayed) in rows {
        let c = calls.entry(id).or_default();
        c.0 |= relayed > 0;
        c.1 |= is_poor(loss, rtt, jitter);
    }
    let mut out = CallFigures::default();
    for (relayed, poor) in calls.into_values() {
        out.measured += 1;
        out.relayed += i64::from(relayed);
        out.poor += i64::from(poor);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poor_calls_and_ranges() {
        assert!(!is_poor(Some(1.0), Some(120.0), Some(10.0)));
        assert!(is_poor(Some(8.0), None, None));
        assert!(is_poor(None, Some(450.0), None));
        assert!(is_poor(None, None, Some(80.0)));
        assert!(
            check(&Sample {
                loss_percent: Some(101.0),
                ..Sample::default()
            })
            .is_err()
        );
        assert!(
            check(&Sample {
                rtt_ms: Some(f64::NAN),
                ..Sample::default()
            })
            .is_err()
        );
        assert!(
            check(&Sample {
                rtt_ms: Some(80.0),
                candidate_type: Some(CandidateType::Relay),
                ..Sample::default()
            })
            .is_ok()
        );
    }
}
