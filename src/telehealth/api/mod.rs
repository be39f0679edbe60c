//! HTTP: the telehealth directory, calendars and slots, appointments, the waiting room and
//! consultations ([`TelehealthApi`]); consent, clinical records and the access log ([`RecordsApi`]).
//!
//! One file per resource, each an `#[OpenApi]` struct; [`TelehealthApi`] and [`RecordsApi`] combine
//! them in declaration order (which is the order of the spec's paths). Views shared by several
//! resources are in `views.rs`.

mod access_log;
mod appointments;
mod calendars;
mod consent;
mod consultations;
mod directory;
mod records;
mod station_stats;
mod views;
mod waiting_room;

use uuid::Uuid;

use crate::auth::Caller;
use crate::error::Error;
use crate::store::idempotency;
use crate::telehealth::Ctx;

pub use access_log::RecordAccessApi;
pub use appointments::AppointmentsApi;
pub use calendars::CalendarsApi;
pub use consent::ConsentApi;
pub use consultations::ConsultationsApi;
pub use directory::DirectoryApi;
pub use records::ClinicalRecordsApi;
pub use station_stats::StationStatsApi;
pub use waiting_room::WaitingRoomApi;

/// The telehealth directory, calendars and slots, appointments, the waiting room, consultations
/// and station figures, in that order.
pub type TelehealthApi = (
    DirectoryApi,
    CalendarsApi,
    AppointmentsApi,
    WaitingRoomApi,
    ConsultationsApi,
    StationStatsApi,
);

/// Every telehealth resource, on one context.
pub fn telehealth_api(state: Ctx) -> TelehealthApi {
    (
        DirectoryApi {
            state: state.clone(),
        },
        CalendarsApi {
            state: state.clone(),
        },
        AppointmentsApi {
            state: state.clone(),
        },
        WaitingRoomApi {
            state: state.clone(),
        },
        ConsultationsApi {
            state: state.clone(),
        },
        StationStatsApi { state },
    )
}

/// Consent, clinical records and the access log, in that order.
pub type RecordsApi = (ConsentApi, ClinicalRecordsApi, RecordAccessApi);

/// Every medical-records resource, on one context.
pub fn records_api(state: Ctx) -> RecordsApi {
    (
        ConsentApi {
            state: state.clone(),
        },
        ClinicalRecordsApi {
            state: state.clone(),
        },
        RecordAccessApi { state },
    )
}

/// Claim an `Idempotency-Key`; `Err(id)` when a previous request already created resource `id`.
async fn claim_key(
    state: &Ctx,
    caller: &Caller,
    scope: &'static str,
    key: Option<String>,
    parts: &[&str],
) -> Result<Result<Option<idempotency::Key>, Uuid>, Error> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Ok(Ok(None));
    };
    let hash = idempotency::hash_request(parts);
    match idempotency::claim(
        &state.db,
        caller.account_id,
        scope,
        &key,
        &hash,
        state.clock.now(),
    )
    .await?
    {
        idempotency::Claim::Claimed(k) => Ok(Ok(Some(k))),
        idempotency::Claim::Done(id) => Uuid::parse_str(&id)
            .map(Err)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored id: {e}"))),
    }
}

/// Release a claimed key when the work failed, so a retry can try again.
async fn release_on_error<T>(
    state: &Ctx,
    key: &Option<idempotency::Key>,
    result: Result<T, Error>,
) -> Result<T, Error> {
    if result.is_err()
        && let Some(k) = key
    {
        idempotency::release(&state.db, k).await?;
    }
    result
}
