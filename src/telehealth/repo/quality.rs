//! Call-quality summaries the participants' apps post, and their per-call averages.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::store::Ex;

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

/// Averages of one participant's samples in one call, and how many of them were relayed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipantAverages {
    pub consultation_id: Uuid,
    pub loss_percent: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub relayed: i64,
}

/// How many samples `account` posted for the consultation.
pub async fn samples_of(
    ex: impl Into<Ex<'_>>,
    consultation: Uuid,
    account: Uuid,
) -> Result<i64, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM call_quality WHERE consultation_id = $1 AND account_id = $2",
    )
    .bind(consultation)
    .bind(account)
    .fetch_one(c)
    .await)
}

pub async fn insert(
    ex: impl Into<Ex<'_>>,
    consultation: Uuid,
    account: Uuid,
    s: &Sample,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO call_quality (sample_id, consultation_id, account_id, rtt_ms, jitter_ms, loss_percent, bitrate_kbps, candidate_type, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(consultation)
    .bind(account)
    .bind(s.rtt_ms)
    .bind(s.jitter_ms)
    .bind(s.loss_percent)
    .bind(s.bitrate_kbps)
    .bind(s.candidate_type.map(CandidateType::as_str))
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Per participant of each consultation of the station created in `[from, to)`.
pub async fn station_averages(
    ex: impl Into<Ex<'_>>,
    station: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ParticipantAverages>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, ParticipantAverages>(
        "SELECT q.consultation_id, AVG(q.loss_percent) AS loss_percent, AVG(q.rtt_ms) AS rtt_ms,
                AVG(q.jitter_ms) AS jitter_ms,
                SUM(CASE WHEN q.candidate_type = 'relay' THEN 1 ELSE 0 END) AS relayed
         FROM call_quality q JOIN consultations c ON c.consultation_id = q.consultation_id
         WHERE c.station_id = $1 AND c.created_at >= $2 AND c.created_at < $3
         GROUP BY q.consultation_id, q.account_id",
    )
    .bind(station)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await)
}
