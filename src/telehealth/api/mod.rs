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
