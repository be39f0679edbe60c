//! How a report is shown to each audience: the public, its reporter, staff (privacy rules).

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::Error;
use crate::geo::Point;
use crate::reports::Ctx;
use crate::reports::catalog::{Category, Severity};
use crate::reports::repo::{self, ReportRow};
use crate::reports::{Channel, Status};

/// A photo of a report: the metadata-free public copy and its thumbnail.
#[derive(Object, Serialize, Deserialize, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PhotoRef {
    pub id: Uuid,
    pub url: String,
    pub thumbnail_url: String,
}

pub fn photo_ref(id: Uuid) -> PhotoRef {
    PhotoRef {
        id,
        url: format!("/v1/media/{id}/public.jpg"),
        thumbnail_url: format!("/v1/media/{id}/thumbnail.jpg"),
    }
}

/// A khu phố (neighbourhood) of the ward.
#[derive(Object, Serialize, Deserialize, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AreaRef {
    pub id: Uuid,
    pub name: String,
}

/// Who reported (staff only, and never for anonymous categories).
#[derive(Object, Serialize, Deserialize, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ReporterView {
    pub id: Uuid,
    pub phone: String,
    pub display_name: String,
}

/// A report. Public callers get the public fields; the reporter also gets their answers and rating;
/// staff get routing, channel and (unless the category is anonymous) the reporter.
#[derive(Object, Serialize, Deserialize, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ReportView {
    pub id: Uuid,
    pub category_code: String,
    pub status: Status,
    pub severity: Severity,
    pub description: String,
    /// Rounded for the public when the category says so.
    pub lat: f64,
    pub lon: f64,
    /// Empty for the public when the category rounds its reports' location.
    pub address: String,
    /// The khu phố it lies in, once the ward's areas are imported.
    pub area: Option<AreaRef>,
    pub me_too_count: i32,
    pub photos: Vec<PhotoRef>,
    /// "After" photos, while resolved or closed.
    pub evidence: Vec<PhotoRef>,
    pub public_reply: Option<String>,
    pub duplicate_of: Option<Uuid>,
    pub ack_by: DateTime<Utc>,
    pub resolve_by: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Open and past its resolve-by deadline.
    pub overdue: bool,
    /// Not yet acknowledged (tiếp nhận) and past its acknowledge-by deadline.
    pub ack_overdue: bool,
    /// When the resident says they saw the problem (their photo's time, say); reporter and staff.
    pub captured_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The caller reported it.
    pub mine: bool,
    pub rating: Option<i32>,
    pub answers: Option<serde_json::Value>,
    pub rating_comment: Option<String>,
    pub channel: Option<Channel>,
    pub unit_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub accuracy_m: Option<f64>,
    pub reporter: Option<ReporterView>,
    /// Staff: when someone first acted on it (tiếp nhận).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Staff, open reports: the deadline it is waiting on now (acknowledge-by until someone acts,
    /// then resolve-by).
    pub deadline: Option<DateTime<Utc>>,
    /// Staff, open reports: working minutes (the ward's calendar) from now to `deadline`;
    /// negative once past it (working minutes late).
    pub working_minutes_left: Option<i64>,
    /// Staff, open reports: working minutes from the filing to `deadline` (the whole window, to
    /// tell how much of it is left).
    pub working_minutes_total: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    Public,
    Reporter,
    Staff,
}

/// Render a report for an audience. The reporter's identity appears only for staff on
/// non-anonymous categories; private fields only for the reporter and staff.
pub(crate) async fn view(
    state: &Ctx,
    r: ReportRow,
    caller: Option<&Caller>,
) -> Result<ReportView, Error> {
    let category = state.categories.of_report(&state.db, r.category_id).await?;
    let media = repo::report_media(&state.db, r.report_id).await?;
    view_in(state, r, caller, category, media).await
}

/// [`view`] with the report's category already at hand (pages load the catalog once).
pub(super) async fn view_in(
    state: &Ctx,
    mut r: ReportRow,
    caller: Option<&Caller>,
    category: Category,
    media: Vec<(Uuid, String)>,
) -> Result<ReportView, Error> {
    let mine = caller.is_some_and(|c| Some(c.account_id) == r.reporter_id);
    let audience = match caller {
        Some(c) if matches!(c.role, Role::Staff | Role::Admin) => Audience::Staff,
        _ if mine => Audience::Reporter,
        _ => Audience::Public,
    };
    let photos = media
        .iter()
        .filter(|(_, role)| role == "report")
        .map(|(id, _)| photo_ref(*id))
        .collect();
    let status = r.status;
    // "After" photos while the report stands resolved; a reopened report is not fixed.
    let evidence = if matches!(status, Status::Resolved | Status::Closed) {
        media
            .iter()
            .filter(|(_, role)| role == "evidence")
            .map(|(id, _)| photo_ref(*id))
            .collect()
    } else {
        vec![]
    };
    // Where the public may see it is the category's rule, shared with Open311 and webhooks.
    let hides_area = audience == Audience::Public && category.rounds_public_place();
    let (shown, address) = if audience == Audience::Public {
        category.public_place(r.lat, r.lon, &r.address)
    } else {
        let point = Point {
            lat: r.lat,
            lon: r.lon,
        };
        (point, std::mem::take(&mut r.address))
    };
    let now = state.clock.now();
    let reporter = match (audience, r.reporter_id) {
        (Audience::Staff, Some(id)) if !category.anonymous => {
            state.auth.account(id).await.ok().map(|a| ReporterView {
                id,
                phone: a.phone,
                display_name: a.display_name,
            })
        }
        _ => None,
    };
    let private = audience != Audience::Public;
    // The deadline clock staff work against, in the ward's working time.
    let deadline = (audience == Audience::Staff && status.is_open()).then(|| {
        if r.acknowledged_at.is_none() {
            r.ack_by
        } else {
            r.resolve_by
        }
    });
    let working_minutes = |a, b| state.calendar.working_between(a, b).num_minutes();
    let working_minutes_left = deadline.map(|d| {
        if now <= d {
            working_minutes(now, d)
        } else {
            -working_minutes(d, now)
        }
    });
    let working_minutes_total = deadline.map(|d| working_minutes(r.created_at, d));
    let acknowledged_at = (audience == Audience::Staff)
        .then_some(r.acknowledged_at)
        .flatten();
    Ok(ReportView {
        acknowledged_at,
        deadline,
        working_minutes_left,
        working_minutes_total,
        id: r.report_id,
        category_code: category.code,
        status,
        severity: r.severity,
        description: r.description,
        lat: shown.lat,
        lon: shown.lon,
        address,
        // The khu phố of a report whose category hides its location would tell the public which
        // side of a street it is on.
        area: match r.area_id {
            Some(_) if hides_area => None,
            Some(id) => state
                .areas
                .name_of(&state.db, id)
                .await?
                .map(|name| AreaRef { id, name }),
            None => None,
        },
        me_too_count: r.me_too_count,
        photos,
        evidence,
        public_reply: r.public_reply,
        duplicate_of: r.duplicate_of,
        ack_by: r.ack_by,
        resolve_by: r.resolve_by,
        resolved_at: r.resolved_at,
        overdue: status.is_open() && now > r.resolve_by,
        ack_overdue: status.is_open() && r.acknowledged_at.is_none() && now > r.ack_by,
        captured_at: if private { r.captured_at } else { None },
        created_at: r.created_at,
        updated_at: r.updated_at,
        mine,
        rating: r.rating,
        answers: private
            .then(|| serde_json::from_str(&r.answers).unwrap_or(serde_json::Value::Null)),
        rating_comment: if private { r.rating_comment } else { None },
        channel: (audience == Audience::Staff).then_some(r.channel),
        unit_id: (audience == Audience::Staff).then_some(r.unit_id).flatten(),
        assignee_id: (audience == Audience::Staff)
            .then_some(r.assignee_id)
            .flatten(),
        accuracy_m: if private { r.accuracy_m } else { None },
        reporter,
    })
}

/// Render many rows for one caller.
pub(super) async fn views(
    state: &Ctx,
    rows: Vec<ReportRow>,
    caller: Option<&Caller>,
) -> Result<Vec<ReportView>, Error> {
    // One catalog read per page instead of one category query per report.
    let all = state.categories.all(&state.db).await?;
    let categories: std::collections::HashMap<Uuid, &Category> =
        all.iter().map(|c| (c.category_id, c)).collect();
    // And one photo query per page instead of one per report.
    let ids: Vec<Uuid> = rows.iter().map(|r| r.report_id).collect();
    let mut media = repo::media_of_reports(&state.db, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let category = categories
            .get(&r.category_id)
            .map(|c| (*c).clone())
            .ok_or_else(|| anyhow::anyhow!("report without category"))?;
        let photos = media.remove(&r.report_id).unwrap_or_default();
        out.push(view_in(state, r, caller, category, photos).await?);
    }
    Ok(out)
}
