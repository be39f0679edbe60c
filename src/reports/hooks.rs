//! What the ward's integrations are told about a report (`webhooks`): the public fields, with the
//! location as the public feed shows it. The events are enqueued by the rules that write the
//! change, in its transaction.

use chrono::{DateTime, Utc};

use super::Status;
use super::catalog::Category;
use super::repo::{NewReportRow, ReportRow, StatusChange};
use crate::error::Result;
use crate::webhooks::{Event, EventKind, ReportData};

/// `report.created`, for a report as filed.
pub fn created(row: &NewReportRow, category: &Category, now: DateTime<Utc>) -> Result<Event> {
    let (point, address) = category.public_place(row.lat, row.lon, &row.address);
    Event::report(
        EventKind::ReportCreated,
        &ReportData {
            id: row.report_id,
            category_code: category.code.clone(),
            status: Status::Submitted.as_str(),
            previous_status: None,
            severity: row.severity.as_str(),
            lat: point.lat,
            lon: point.lon,
            address,
            unit_id: row.unit_id,
            ack_by: row.ack_by,
            resolve_by: row.resolve_by,
            resolved_at: None,
            created_at: now,
            updated_at: now,
        },
    )
}

/// `report.resolved` for a resolution, `report.changed` for any other change of status: the
/// report as `change` leaves it at `now`.
pub fn changed(
    report: &ReportRow,
    change: &StatusChange<'_>,
    to: Status,
    category: &Category,
    now: DateTime<Utc>,
) -> Result<Event> {
    let (point, address) = category.public_place(report.lat, report.lon, &report.address);
    let kind = if to == Status::Resolved {
        EventKind::ReportResolved
    } else {
        EventKind::ReportChanged
    };
    Event::report(
        kind,
        &ReportData {
            id: report.report_id,
            category_code: category.code.clone(),
            status: to.as_str(),
            previous_status: Some(report.status.as_str()),
            severity: report.severity.as_str(),
            lat: point.lat,
            lon: point.lon,
            address,
            unit_id: change.unit_id,
            ack_by: report.ack_by,
            resolve_by: change.resolve_by,
            resolved_at: change.resolved_at,
            created_at: report.created_at,
            updated_at: now,
        },
    )
}
