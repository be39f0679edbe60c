//! Call-quality telemetry: the participants' apps post periodic summaries of their WebRTC stats
//! (round-trip time, jitter, loss, bitrate, the selected candidate type); the station's figures
//! show how many calls went through TURN and how many were of poor quality.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::{Error, FieldError, Result};
use crate::telehealth::Ctx;
use crate::telehealth::queue::{self, ConsultationStatus, Relation};
use crate::telehealth::repo::quality as repo;

pub use super::repo::quality::{CandidateType, Sample};

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
    let n = repo::samples_of(&state.db, consultation, caller.account_id).await?;
    if n >= MAX_SAMPLES {
        return Err(Error::RateLimited {
            code: "too_many_samples",
            retry_after: 3600,
        });
    }
    repo::insert(&state.db, consultation, caller.account_id, &sample, now).await?;
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
    // Averages per participant: a call is poor when it was poor for anyone in it.
    let rows = repo::station_averages(&state.db, station, from, to).await?;
    let mut calls: std::collections::BTreeMap<Uuid, (bool, bool)> = Default::default();
    for r in rows {
        let c = calls.entry(r.consultation_id).or_default();
        c.0 |= r.relayed > 0;
        c.1 |= is_poor(r.loss_percent, r.rtt_ms, r.jitter_ms);
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
