//! HTTP: a station's figures (no clinical content).

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::auth::api::BearerAuth;
use crate::error::{INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::tags::ApiTags;
use crate::telehealth::{Ctx, stats};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DoctorLoadView {
    doctor_id: Uuid,
    name: String,
    consultations: i64,
    minutes_in_call: i64,
    average_rating: Option<f64>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct StationStats {
    station_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Consultations created in the window, by status.
    consultations: std::collections::BTreeMap<String, i64>,
    median_wait_seconds: Option<i64>,
    median_call_seconds: Option<i64>,
    /// Appointments starting in the window, by status.
    appointments: std::collections::BTreeMap<String, i64>,
    /// No-shows among appointments that reached their time.
    no_show_rate: Option<f64>,
    ratings: i64,
    average_rating: Option<f64>,
    records_signed: i64,
    doctors: Vec<DoctorLoadView>,
    /// Calls whose apps sent quality summaries.
    calls_measured: i64,
    /// Share of measured calls that went through TURN.
    relayed_share: Option<f64>,
    /// Share of measured calls with average loss over 5 %, round trip over 400 ms or jitter over 50 ms.
    poor_quality_share: Option<f64>,
}

/// A station's figures.
pub struct StationStatsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Telehealth")]
impl StationStatsApi {
    /// A station's figures: consultations, waits, call lengths, no-shows, ratings, doctors' workload
    ///
    /// No clinical content. Admins, and the station's doctors. Window: `from` (default 30 days
    /// before `to`) to `to` (default now), at most 366 days.
    #[oai(
        path = "/v1/telehealth/stations/:station_id/stats",
        method = "get",
        operation_id = "telehealth_stats"
    )]
    async fn stats(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<StationStats>, Problems<{ SIGNED_IN | NOT_FOUND | INVALID }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let f = stats::station_figures(&self.state, &caller, station_id.0, from.0, to.0).await?;
        Ok(Json(StationStats {
            station_id: f.station_id,
            from: f.from,
            to: f.to,
            consultations: f.consultations,
            median_wait_seconds: f.median_wait_seconds,
            median_call_seconds: f.median_call_seconds,
            appointments: f.appointments,
            no_show_rate: f.no_show_rate,
            ratings: f.ratings,
            average_rating: f.average_rating,
            records_signed: f.records_signed,
            calls_measured: f.calls_measured,
            relayed_share: f.relayed_share,
            poor_quality_share: f.poor_quality_share,
            doctors: f
                .doctors
                .into_iter()
                .map(|d| DoctorLoadView {
                    doctor_id: d.doctor_id,
                    name: d.name,
                    consultations: d.consultations,
                    minutes_in_call: d.minutes_in_call,
                    average_rating: d.average_rating,
                })
                .collect(),
        }))
    }
}
