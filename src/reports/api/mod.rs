//! HTTP for reports: one file per resource. Handlers parse, authorize, call one rule and render.

use poem_openapi::ApiResponse;
use uuid::Uuid;

use crate::error::Error;
use crate::reports::{Ctx, Status};

mod areas;
mod categories;
mod notifications;
mod participation;
mod reports;
mod staff;
mod stats;
mod templates;
mod views;

pub use reports::{public_since, public_since_day};
pub(crate) use views::view;
pub use views::{AreaRef, PhotoRef, ReportView, ReporterView, photo_ref};
use views::{view_in, views};

/// The reports API, one part per resource, in the order the spec lists them.
pub type ReportsApi = (
    categories::CategoriesApi,
    reports::ReportCollectionApi,
    areas::AreasApi,
    areas::AreasImportApi,
    reports::ReportReadsApi,
    participation::ParticipationApi,
    staff::StaffApi,
    templates::TemplatesApi,
    stats::StatsApi,
    notifications::NotificationsApi,
);

/// Every part of [`ReportsApi`] over one context.
pub fn reports_api(state: Ctx) -> ReportsApi {
    (
        categories::CategoriesApi {
            state: state.clone(),
        },
        reports::ReportCollectionApi {
            state: state.clone(),
        },
        areas::AreasApi {
            state: state.clone(),
        },
        areas::AreasImportApi {
            state: state.clone(),
        },
        reports::ReportReadsApi {
            state: state.clone(),
        },
        participation::ParticipationApi {
            state: state.clone(),
        },
        staff::StaffApi {
            state: state.clone(),
        },
        templates::TemplatesApi {
            state: state.clone(),
        },
        stats::StatsApi {
            state: state.clone(),
        },
        notifications::NotificationsApi { state },
    )
}

#[derive(ApiResponse)]
enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

fn parse_statuses(raw: Option<&str>) -> Result<Vec<String>, Error> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(vec![]);
    };
    raw.split(',')
        .map(|s| Status::parse(s.trim()).map(|s| s.as_str().to_string()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            Error::validation(
                "status",
                "unknown_status",
                "Trạng thái không hợp lệ",
                "Unknown status",
            )
        })
}

async fn category_id(state: &Ctx, code: Option<&str>) -> Result<Option<Uuid>, Error> {
    match code {
        None => Ok(None),
        Some(code) => Ok(Some(
            state
                .categories
                .by_code(&state.db, code)
                .await?
                .ok_or(Error::NotFound("category_not_found"))?
                .category_id,
        )),
    }
}
