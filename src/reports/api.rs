//! HTTP: categories, reports for residents and the public, the staff queue and actions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::api::BearerAuth;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, NoBodyError};
use crate::geo::{BBox, Point};
use crate::reports::Ctx;
use crate::reports::catalog::{self, Category, CategoryFields, Question, Severity};
use crate::reports::repo::{self, Filter, ReportRow, UnitFilter};
use crate::reports::stats::{self, Figures, GroupBy};
use crate::reports::{self as rules, Action, Channel, NewReport, Status};
use crate::store::idempotency;
use crate::tags::ApiTags;

// ---- categories ----

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CategoryView {
    code: String,
    name_vi: String,
    name_en: String,
    group: String,
    unit_id: Option<Uuid>,
    photo_required: bool,
    /// Reports hide the reporter's identity even from staff.
    anonymous: bool,
    duplicate_radius_m: i32,
    public_decimals: Option<i32>,
    default_severity: Severity,
    /// Working hours to acknowledge and to resolve, for each severity (the category's own, else
    /// the ward's defaults).
    deadlines: Vec<SeverityDeadline>,
    questions: Vec<Question>,
    active: bool,
}

/// How long a report of one severity may take, in the ward's working hours (7.5 a day).
#[derive(Object, Clone)]
struct SeverityDeadline {
    severity: Severity,
    ack_hours: f64,
    resolve_hours: f64,
}

impl From<Category> for CategoryView {
    fn from(c: Category) -> Self {
        let deadlines = Severity::ALL
            .iter()
            .map(|s| {
                let (ack_hours, resolve_hours) = c.deadlines_hours(*s);
                SeverityDeadline {
                    severity: *s,
                    ack_hours,
                    resolve_hours,
                }
            })
            .collect();
        CategoryView {
            code: c.code,
            name_vi: c.name_vi,
            name_en: c.name_en,
            group: c.group_code,
            unit_id: c.unit_id,
            photo_required: c.photo_required,
            anonymous: c.anonymous,
            duplicate_radius_m: c.duplicate_radius_m,
            public_decimals: c.public_decimals,
            default_severity: c.default_severity,
            deadlines,
            questions: c.questions,
            active: c.active,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CategoryInput {
    /// Required on create; ignored on update (codes are stable).
    #[oai(validator(max_length = 40))]
    code: Option<String>,
    #[oai(validator(max_length = 400))]
    name_vi: Option<String>,
    #[oai(validator(max_length = 400))]
    name_en: Option<String>,
    #[oai(validator(max_length = 400))]
    group: Option<String>,
    /// `null` on update: no unit of its own (each khu phố's unit takes its reports).
    unit_id: MaybeUndefined<Uuid>,
    photo_required: Option<bool>,
    anonymous: Option<bool>,
    duplicate_radius_m: Option<i32>,
    /// `null` on update: public coordinates no longer rounded.
    public_decimals: MaybeUndefined<i32>,
    default_severity: Option<Severity>,
    /// This category's own deadlines, for the severities where they differ from the ward's;
    /// replaces those set before (`[]`: the ward's defaults for every severity).
    #[oai(validator(max_items = 4))]
    deadlines: Option<Vec<SeverityDeadline>>,
    #[oai(validator(max_items = 20))]
    questions: Option<Vec<Question>>,
    active: Option<bool>,
}

/// `Some(None)` to clear, `Some(Some(v))` to set, `None` to leave as it is.
fn patch<T: Copy>(v: &MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(*v)),
    }
}

impl CategoryInput {
    fn fields(&self) -> Result<CategoryFields, Error> {
        if let Some(d) = &self.deadlines {
            let mut seen: Vec<Severity> = d.iter().map(|d| d.severity).collect();
            seen.sort();
            seen.dedup();
            if seen.len() != d.len() {
                return Err(Error::validation(
                    "deadlines",
                    "duplicate_severity",
                    "Mỗi mức độ chỉ một thời hạn",
                    "One deadline per severity",
                ));
            }
        }
        Ok(CategoryFields {
            name_vi: self.name_vi.clone(),
            name_en: self.name_en.clone(),
            group_code: self.group.clone(),
            unit_id: patch(&self.unit_id),
            photo_required: self.photo_required,
            anonymous: self.anonymous,
            duplicate_radius_m: self.duplicate_radius_m,
            public_decimals: patch(&self.public_decimals),
            default_severity: self.default_severity,
            deadline_hours: self.deadlines.as_ref().map(|d| {
                d.iter()
                    .map(|d| {
                        (
                            d.severity,
                            catalog::DeadlineHours {
                                ack: d.ack_hours,
                                resolve: d.resolve_hours,
                            },
                        )
                    })
                    .collect()
            }),
            questions: self.questions.clone(),
            active: self.active,
        })
    }
}

#[derive(ApiResponse)]
enum CategoryCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<CategoryView>),
}

// ---- reports ----

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
async fn view_in(
    state: &Ctx,
    r: ReportRow,
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
    let status = Status::parse(&r.status).ok_or_else(|| anyhow::anyhow!("bad status"))?;
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
    let point = Point {
        lat: r.lat,
        lon: r.lon,
    };
    let shown = if audience == Audience::Public {
        point.rounded(category.public_decimals)
    } else {
        point
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
        severity: Severity::parse(&r.severity).unwrap_or(Severity::Normal),
        description: r.description,
        lat: shown.lat,
        lon: shown.lon,
        address: if audience == Audience::Public && category.public_decimals.is_some() {
            String::new()
        } else {
            r.address
        },
        // The khu phố of a report whose category hides its location would tell the public which
        // side of a street it is on.
        area: match r.area_id {
            Some(_) if audience == Audience::Public && category.public_decimals.is_some() => None,
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
        channel: (audience == Audience::Staff)
            .then(|| Channel::parse(&r.channel).unwrap_or(Channel::App)),
        unit_id: (audience == Audience::Staff).then_some(r.unit_id).flatten(),
        assignee_id: (audience == Audience::Staff)
            .then_some(r.assignee_id)
            .flatten(),
        accuracy_m: if private { r.accuracy_m } else { None },
        reporter,
    })
}

/// Render many rows for one caller.
async fn views(
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

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateReport {
    #[oai(validator(max_length = 40))]
    category_code: String,
    /// 1 to 4000 characters.
    #[oai(validator(max_length = 4000))]
    description: String,
    lat: f64,
    lon: f64,
    /// GPS accuracy in metres.
    accuracy_m: Option<f64>,
    #[oai(validator(max_length = 1000))]
    address: Option<String>,
    /// Photos uploaded first with `POST /v1/media` (up to 5).
    #[oai(default, validator(max_items = 20))]
    media_ids: Vec<Uuid>,
    /// Answers to the category's questions, by key.
    #[oai(default)]
    answers: BTreeMap<String, serde_json::Value>,
    captured_at: Option<DateTime<Utc>>,
    /// Staff entering a walk-in or a call: `counter` or `phone`.
    channel: Option<Channel>,
    /// Staff: the resident's phone, if they have one (their account is found or created).
    #[oai(validator(max_length = 32))]
    reporter_phone: Option<String>,
}

#[derive(ApiResponse)]
enum ReportCreated {
    /// Created (or, for a retried `Idempotency-Key`, the first answer again).
    #[oai(status = 201)]
    Created(Json<ReportView>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ReportPage {
    items: Vec<ReportView>,
    /// Pass as `before` for the next page; absent on the last page.
    next_before: Option<Uuid>,
}

/// Most single reports one map answer shows (zoomed in).
const MAP_POINTS: i64 = 500;

#[derive(Object)]
struct SeverityInput {
    severity: Severity,
    /// Why (kept in the internal history).
    #[oai(validator(max_length = 8000))]
    reason: String,
}

/// An area of the ward: the ward itself or one of its khu phố.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AreaView {
    id: Uuid,
    name: String,
    /// `ward` or `neighbourhood`.
    kind: String,
    /// With `geometry=true`: the outline as imported (a GeoJSON Polygon or MultiPolygon), for
    /// maps drawn without a tile server.
    geometry: Option<serde_json::Value>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NearbyReport {
    report: ReportView,
    distance_m: f64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct EventView {
    at: DateTime<Utc>,
    kind: String,
    from_status: Option<Status>,
    to_status: Option<Status>,
    note: String,
    /// `staff` or `resident` (people are not named in the history).
    actor: Option<String>,
    /// Staff see which entries are internal.
    internal: bool,
    /// Photos sent with a comment (shown to whoever sees the comment).
    photos: Vec<PhotoRef>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ReportDetail {
    report: ReportView,
    history: Vec<EventView>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CommentInput {
    /// Up to 2000 characters; may be empty when photos are sent.
    #[oai(default, validator(max_length = 8000))]
    text: String,
    /// The caller's own photos (`POST /v1/media`), up to 5, stored with the report; an internal
    /// note takes none.
    #[oai(default, validator(max_items = 20))]
    media_ids: Vec<Uuid>,
    /// Staff only: an internal note residents never see.
    #[oai(default)]
    internal: bool,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RatingInput {
    stars: i32,
    #[oai(default, validator(max_length = 8000))]
    comment: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ReasonInput {
    #[oai(validator(max_length = 8000))]
    reason: String,
}

/// What staff do to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
enum ActionKind {
    Receive,
    Assign,
    Start,
    Resolve,
    Reject,
    Duplicate,
    Close,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TransitionInput {
    action: ActionKind,
    /// assign: the unit (*đơn vị xử lý*).
    unit_id: Option<Uuid>,
    /// assign: optionally a person in that unit.
    assignee_id: Option<Uuid>,
    /// resolve: the answer the resident and the public read.
    #[oai(validator(max_length = 8000))]
    public_reply: Option<String>,
    /// resolve: "after" photos (1–5), uploaded first.
    #[oai(default, validator(max_items = 20))]
    evidence_media_ids: Vec<Uuid>,
    /// reject: the reason given to the resident.
    #[oai(validator(max_length = 8000))]
    reason: Option<String>,
    /// duplicate: the report this one duplicates.
    duplicate_of: Option<Uuid>,
    /// Internal note (staff only).
    #[oai(default, validator(max_length = 8000))]
    note: String,
}

#[derive(ApiResponse)]
enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
enum Csv {
    /// CSV, one line per group.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Ok(
        PlainText<String>,
        /// `attachment; filename="wardline-reports-<from>-<to>.csv"`: browsers save it.
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationView {
    id: Uuid,
    /// What the item is about: a field report, a telehealth appointment or a consultation.
    report_id: Option<Uuid>,
    appointment_id: Option<Uuid>,
    consultation_id: Option<Uuid>,
    kind: String,
    /// In the account's language.
    text: String,
    read: bool,
    created_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationPage {
    items: Vec<NotificationView>,
    next_before: Option<Uuid>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MarkRead {
    #[oai(validator(max_items = 200))]
    ids: Vec<Uuid>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MapCell {
    /// H3 cell id (decimal string) of the cluster, or absent for a single report.
    cell: Option<String>,
    lat: f64,
    lon: f64,
    count: i64,
    /// Single reports at high zoom.
    report_id: Option<Uuid>,
    status: Option<Status>,
    category_code: Option<String>,
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

/// Residents create at most `reports_per_resident_per_hour` reports an hour. Checked after the
/// idempotency lookup: a retry of a report already made still gets its answer.
async fn check_report_allowance(state: &Ctx, caller: &Caller) -> Result<(), Error> {
    let limit = state.settings.reports_per_resident_per_hour;
    if caller.role != Role::Resident || limit == 0 {
        return Ok(());
    }
    let now = state.clock.now();
    let (used, oldest) = repo::reported_since(
        &state.db,
        caller.account_id,
        now - chrono::Duration::hours(1),
    )
    .await?;
    crate::ops::hourly_allowance(limit, used, oldest, now, "report_rate_limited")
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

pub struct ReportsApi {
    pub state: Ctx,
}

const SIX_MONTHS_DAYS: i64 = 183;

/// The start of the public window: resolved and closed reports stay in the feed and on the map
/// for six months after their last change, counted in whole UTC days (the map's clusters are
/// counted per day, so the feed and the map agree on which reports they show).
pub fn public_since(now: DateTime<Utc>) -> DateTime<Utc> {
    (now - chrono::Duration::days(SIX_MONTHS_DAYS))
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

/// [`public_since`] as days since 1970-01-01 (the map counters' day).
pub fn public_since_day(now: DateTime<Utc>) -> i64 {
    public_since(now).timestamp().div_euclid(86_400)
}

#[OpenApi(tag = "ApiTags::Reports")]
impl ReportsApi {
    /// The categories residents can report (public)
    #[oai(
        path = "/v1/categories",
        method = "get",
        operation_id = "categories_list"
    )]
    async fn categories(&self) -> Result<Json<Vec<CategoryView>>, NoBodyError> {
        Ok(Json(
            catalog::list(&self.state.db, false)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// All categories, including inactive ones (admins)
    #[oai(
        path = "/v1/admin/categories",
        method = "get",
        operation_id = "admin_list_categories"
    )]
    async fn admin_categories(
        &self,
        auth: BearerAuth,
    ) -> Result<Json<Vec<CategoryView>>, NoBodyError> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            catalog::list(&self.state.db, true)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Create a category (admins)
    #[oai(
        path = "/v1/admin/categories",
        method = "post",
        operation_id = "admin_create_category"
    )]
    async fn create_category(
        &self,
        auth: BearerAuth,
        body: Json<CategoryInput>,
    ) -> Result<CategoryCreated, ApiError> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let code = body.code.clone().unwrap_or_default();
        let c = catalog::create(
            &self.state.db,
            &code,
            &body.fields()?,
            self.state.clock.now(),
        )
        .await;
        self.state.categories.forget();
        let c = c?;
        Ok(CategoryCreated::Created(Json(c.into())))
    }

    /// Change a category (admins)
    #[oai(
        path = "/v1/admin/categories/:code",
        method = "patch",
        operation_id = "admin_update_category"
    )]
    async fn update_category(
        &self,
        auth: BearerAuth,
        code: Path<String>,
        body: Json<CategoryInput>,
    ) -> Result<Json<CategoryView>, ApiError> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let c = catalog::update(
            &self.state.db,
            &code.0,
            &body.fields()?,
            self.state.clock.now(),
        )
        .await;
        self.state.categories.forget();
        Ok(Json(c?.into()))
    }

    /// Report a problem
    ///
    /// Residents report from the app; staff enter walk-ins (`counter`) and calls (`phone`). Send an
    /// `Idempotency-Key` so a retry on a flaky network returns the first answer and creates nothing.
    #[oai(path = "/v1/reports", method = "post", operation_id = "reports_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        /// Unique per submission (e.g. a UUID made when the resident pressed Send), up to 100 characters.
        #[oai(name = "Idempotency-Key", validator(max_length = 100))]
        idempotency_key: Header<Option<String>>,
        body: Json<CreateReport>,
    ) -> Result<ReportCreated, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let body = body.0;
        let state = &self.state;
        let claimed = match idempotency_key.0.filter(|k| !k.is_empty()) {
            None => None,
            Some(key) => match idempotency::claim(
                &state.db,
                caller.account_id,
                "reports_create",
                &key,
                &idempotency::hash_request(&[
                    &body.category_code,
                    &body.description,
                    &body.lat.to_string(),
                    &body.lon.to_string(),
                    &format!("{:?}", body.media_ids),
                    &serde_json::to_string(&body.answers).unwrap_or_default(),
                    body.address.as_deref().unwrap_or(""),
                ]),
                state.clock.now(),
            )
            .await?
            {
                idempotency::Claim::Claimed(k) => Some(k),
                idempotency::Claim::Done(id) => {
                    // A retry: the report the first request created, as it is now.
                    let id = Uuid::parse_str(&id)
                        .map_err(|e| Error::Internal(anyhow::anyhow!("stored id: {e}")))?;
                    let row = repo::report(&state.db, id)
                        .await?
                        .ok_or(Error::NotFound("report_not_found"))?;
                    return Ok(ReportCreated::Created(Json(
                        view(state, row, Some(&caller)).await?,
                    )));
                }
            },
        };
        let new = NewReport {
            category_code: body.category_code,
            description: body.description,
            lat: body.lat,
            lon: body.lon,
            accuracy_m: body.accuracy_m,
            address: body.address,
            media_ids: body.media_ids.clone(),
            answers: body.answers,
            captured_at: body.captured_at,
            channel: body.channel.unwrap_or(Channel::App),
            reporter_phone: body.reporter_phone,
        };
        let created = match async {
            check_report_allowance(state, &caller).await?;
            rules::create(state, &caller, new, claimed.as_ref()).await
        }
        .await
        {
            Ok(r) => r,
            Err(e) => {
                if let Some(k) = &claimed {
                    idempotency::release(&state.db, k).await?;
                }
                return Err(e.into());
            }
        };
        // Shown from what was just written: the category is in memory, the photos are the ones sent.
        let category = state
            .categories
            .of_report(&state.db, created.category_id)
            .await?;
        let photos = body
            .media_ids
            .iter()
            .map(|m| (*m, "report".to_string()))
            .collect();
        let view = view_in(state, created, Some(&caller), category, photos).await?;
        Ok(ReportCreated::Created(Json(view)))
    }

    /// Public feed
    ///
    /// By default: open reports, and resolved or closed ones of the last 6 months. Newest first.
    #[oai(path = "/v1/reports", method = "get", operation_id = "reports_list")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        req: &poem::Request,
        /// Comma-separated statuses.
        status: Query<Option<String>>,
        category: Query<Option<String>>,
        /// `min_lon,min_lat,max_lon,max_lat`.
        bbox: Query<Option<String>>,
        /// A khu phố (`GET /v1/areas`).
        area: Query<Option<Uuid>>,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
        before: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<Option<i64>>,
    ) -> Result<Json<ReportPage>, NoBodyError> {
        let caller = self.state.auth.optional_caller(req).await?;
        let statuses = parse_statuses(status.0.as_deref())?;
        let limit = limit.0.unwrap_or(50);
        let now = self.state.clock.now();
        let asked = bbox.0.as_deref().map(BBox::parse).transpose()?;
        // For the public, a report is in the box if the point it is shown at is (rounded for the
        // categories that say so), and a category that hides where its reports are is not matched
        // by khu phố either: neither the page nor its cursor may tell which side of an edge the
        // reporter's doorstep is on. Staff search on the reports' own points.
        let staff = caller.is_some_and(|c| matches!(c.role, Role::Staff | Role::Admin));
        let catalog = self.state.categories.all(&self.state.db).await?;
        let decimals: std::collections::HashMap<Uuid, Option<i32>> = catalog
            .iter()
            .map(|c| (c.category_id, c.public_decimals))
            .collect();
        let margin = if staff {
            0.0
        } else {
            catalog::public_margin(&catalog)
        };
        let mut f = Filter {
            category_id: category_id(&self.state, category.0.as_deref()).await?,
            bbox: asked.map(|b| b.grown(margin)),
            area_id: area.0,
            since: since.0,
            until: until.0,
            limit: limit + 1,
            ..Filter::default()
        };
        if statuses.is_empty() {
            f.statuses = [
                "submitted",
                "received",
                "assigned",
                "in_progress",
                "reopened",
                "resolved",
                "closed",
            ]
            .map(String::from)
            .to_vec();
            f.open_or_updated_since = Some(public_since(now));
        } else {
            f.statuses = statuses;
        }
        let keep = |r: &ReportRow| {
            if staff {
                return true;
            }
            let rounding = decimals.get(&r.category_id).copied().flatten();
            let shown = Point {
                lat: r.lat,
                lon: r.lon,
            }
            .rounded(rounding);
            asked.is_none_or(|b| b.contains(shown)) && (area.0.is_none() || rounding.is_none())
        };
        let db = &self.state.db;
        let (rows, next_before) = rules::kept_page(
            |before| {
                let mut f = f.clone();
                f.before = before;
                async move { Ok(repo::list(db, &f).await?) }
            },
            keep,
            |r| r.report_id,
            before.0,
            (limit + 1) as usize,
            limit as usize,
        )
        .await?;
        let items = views(&self.state, rows, caller.as_ref()).await?;
        Ok(Json(ReportPage { items, next_before }))
    }

    /// The ward's khu phố (neighbourhoods), to filter reports by
    #[oai(path = "/v1/areas", method = "get", operation_id = "areas_list")]
    async fn areas(
        &self,
        /// Include each area's outline (GeoJSON geometry).
        #[oai(default)]
        geometry: Query<bool>,
    ) -> Result<Json<Vec<AreaView>>, NoBodyError> {
        let mut areas = self.state.areas.all(&self.state.db).await?;
        areas.sort_by(|a, b| a.name.cmp(&b.name).then(a.area_id.cmp(&b.area_id)));
        let mut outlines = if geometry.0 {
            crate::areas::outlines_geojson(&self.state.db).await?
        } else {
            Default::default()
        };
        Ok(Json(
            areas
                .into_iter()
                .map(|a| AreaView {
                    geometry: outlines.remove(&a.area_id),
                    id: a.area_id,
                    name: a.name,
                    kind: a.kind.as_str().to_string(),
                })
                .collect(),
        ))
    }

    /// Open reports of a category near a point (offer "me too" before reporting again)
    #[oai(
        path = "/v1/reports/nearby",
        method = "get",
        operation_id = "reports_nearby"
    )]
    async fn nearby(
        &self,
        req: &poem::Request,
        lat: Query<f64>,
        lon: Query<f64>,
        category: Query<String>,
    ) -> Result<Json<Vec<NearbyReport>>, NoBodyError> {
        let caller = self.state.auth.optional_caller(req).await?;
        let staff = caller.is_some_and(|c| matches!(c.role, Role::Staff | Role::Admin));
        let mut out = vec![];
        for (r, d) in rules::nearby(&self.state, lat.0, lon.0, &category.0, !staff).await? {
            out.push(NearbyReport {
                report: view(&self.state, r, caller.as_ref()).await?,
                distance_m: d.round(),
            });
        }
        Ok(Json(out))
    }

    /// Map: clusters per H3 cell at low zoom, single reports at high zoom
    #[oai(path = "/v1/reports/map", method = "get", operation_id = "reports_map")]
    async fn map(
        &self,
        bbox: Query<String>,
        #[oai(validator(minimum(value = "0"), maximum(value = "22")))] zoom: Query<i32>,
    ) -> Result<Json<Vec<MapCell>>, NoBodyError> {
        let b = BBox::parse(&bbox.0)?;
        let now = self.state.clock.now();
        let since = public_since(now);
        if zoom.0 >= 15 {
            // Points need no photos or history: the catalog in memory gives codes and rounding.
            let catalog = self.state.categories.all(&self.state.db).await?;
            let categories: std::collections::HashMap<Uuid, &Category> =
                catalog.iter().map(|c| (c.category_id, c)).collect();
            let f = Filter {
                statuses: [
                    "submitted",
                    "received",
                    "assigned",
                    "in_progress",
                    "reopened",
                    "resolved",
                    "closed",
                ]
                .map(String::from)
                .to_vec(),
                open_or_updated_since: Some(since),
                // Decided on the rounded points the map shows, as in the feed.
                bbox: Some(b.grown(catalog::public_margin(&catalog))),
                limit: MAP_POINTS + 1,
                ..Filter::default()
            };
            let shown = |r: &repo::MapPoint| {
                let c = categories.get(&r.category_id)?;
                Some((
                    c,
                    Point {
                        lat: r.lat,
                        lon: r.lon,
                    }
                    .rounded(c.public_decimals),
                ))
            };
            let db = &self.state.db;
            let (points, _) = rules::kept_page(
                |before| {
                    let mut f = f.clone();
                    f.before = before;
                    async move { Ok(repo::map_points(db, &f).await?) }
                },
                |r| shown(r).is_some_and(|(_, p)| b.contains(p)),
                |r| r.report_id,
                None,
                (MAP_POINTS + 1) as usize,
                MAP_POINTS as usize,
            )
            .await?;
            let mut out = vec![];
            for r in points {
                let Some((c, p)) = shown(&r) else {
                    continue;
                };
                out.push(MapCell {
                    cell: None,
                    lat: p.lat,
                    lon: p.lon,
                    count: 1,
                    report_id: Some(r.report_id),
                    status: Status::parse(&r.status),
                    category_code: Some(c.code.clone()),
                });
            }
            return Ok(Json(out));
        }
        let res = match zoom.0 {
            0..=8 => h3o::Resolution::Four,
            9..=11 => h3o::Resolution::Six,
            _ => h3o::Resolution::Eight,
        };
        let cells = repo::clusters(&self.state.db, res, b, public_since_day(now)).await?;
        Ok(Json(
            cells
                .into_iter()
                .filter_map(|(cell, count)| {
                    let c = crate::geo::cell_center(cell)?;
                    Some(MapCell {
                        cell: Some(cell.to_string()),
                        lat: c.lat,
                        lon: c.lon,
                        count,
                        report_id: None,
                        status: None,
                        category_code: None,
                    })
                })
                .collect(),
        ))
    }

    /// One report with its history (what each caller may see)
    #[oai(
        path = "/v1/reports/:report_id",
        method = "get",
        operation_id = "reports_get"
    )]
    async fn get(
        &self,
        req: &poem::Request,
        report_id: Path<Uuid>,
    ) -> Result<Json<ReportDetail>, NoBodyError> {
        let caller = self.state.auth.optional_caller(req).await?;
        let row = repo::report(&self.state.db, report_id.0)
            .await?
            .ok_or(Error::NotFound("report_not_found"))?;
        let staff = caller.is_some_and(|c| matches!(c.role, Role::Staff | Role::Admin));
        let me = caller.map(|c| c.account_id);
        let reporter = me.is_some() && me == row.reporter_id;
        let events = repo::events(&self.state.db, row.report_id).await?;
        let mut photos = repo::comment_photos(&self.state.db, row.report_id).await?;
        let report = view(&self.state, row, caller.as_ref()).await?;
        // The conversation about a report (comments, replies) is between each resident and the
        // ward: residents see what they wrote and what the ward wrote to the reporter, never
        // another resident's words (a neighbour who said "me too" follows the public history).
        let history = events
            .into_iter()
            .filter(|e| match e.visibility.as_str() {
                "public" => true,
                "reporter" => {
                    let own = me.is_some() && e.actor_id == me;
                    // (A comment without an author came from a third-party app's user.)
                    let from_the_ward = matches!(e.actor_role.as_deref(), Some("staff" | "admin"));
                    staff || own || (reporter && from_the_ward)
                }
                _ => staff,
            })
            .map(|e| EventView {
                at: e.created_at,
                kind: e.kind,
                from_status: e.from_status.as_deref().and_then(Status::parse),
                to_status: e.to_status.as_deref().and_then(Status::parse),
                note: e.note,
                actor: e.actor_id.map(|_| {
                    match e.actor_role.as_deref() {
                        Some("staff" | "admin") => "staff",
                        _ => "resident",
                    }
                    .to_string()
                }),
                internal: e.visibility == "internal",
                photos: photos
                    .remove(&e.report_event_id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(photo_ref)
                    .collect(),
            })
            .collect();
        Ok(Json(ReportDetail { report, history }))
    }

    /// My reports (residents)
    #[oai(path = "/v1/me/reports", method = "get", operation_id = "me_reports")]
    async fn mine(
        &self,
        auth: BearerAuth,
        before: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<Option<i64>>,
    ) -> Result<Json<ReportPage>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let limit = limit.0.unwrap_or(50);
        let f = Filter {
            reporter_id: Some(caller.account_id),
            before: before.0,
            limit,
            ..Filter::default()
        };
        let rows = repo::list(&self.state.db, &f).await?;
        let next_before = if rows.len() as i64 == limit {
            rows.last().map(|r| r.report_id)
        } else {
            None
        };
        let items = views(&self.state, rows, Some(&caller)).await?;
        Ok(Json(ReportPage { items, next_before }))
    }

    /// "Me too": I have the same problem (residents)
    #[oai(
        path = "/v1/reports/:report_id/me-too",
        method = "post",
        operation_id = "reports_me_too"
    )]
    async fn me_too(
        &self,
        auth: BearerAuth,
        report_id: Path<Uuid>,
    ) -> Result<Json<ReportView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let r = rules::me_too(&self.state, &caller, report_id.0).await?;
        Ok(Json(view(&self.state, r, Some(&caller)).await?))
    }

    /// Add a comment or photo (the reporter and followers while open; staff any time)
    #[oai(
        path = "/v1/reports/:report_id/comments",
        method = "post",
        operation_id = "reports_comment"
    )]
    async fn comment(
        &self,
        auth: BearerAuth,
        report_id: Path<Uuid>,
        body: Json<CommentInput>,
    ) -> Result<Done, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        rules::comment(
            &self.state,
            &caller,
            report_id.0,
            &body.text,
            &body.media_ids,
            body.internal,
        )
        .await?;
        Ok(Done::Done)
    }

    /// Rate the result, 1–5 (the reporter, once resolved)
    #[oai(
        path = "/v1/reports/:report_id/rating",
        method = "post",
        operation_id = "reports_rate"
    )]
    async fn rate(
        &self,
        auth: BearerAuth,
        report_id: Path<Uuid>,
        body: Json<RatingInput>,
    ) -> Result<Json<ReportView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let r = rules::rate(&self.state, &caller, report_id.0, body.stars, &body.comment).await?;
        Ok(Json(view(&self.state, r, Some(&caller)).await?))
    }

    /// Reopen: it is not fixed (the reporter, within 7 days of resolution)
    #[oai(
        path = "/v1/reports/:report_id/reopen",
        method = "post",
        operation_id = "reports_reopen"
    )]
    async fn reopen(
        &self,
        auth: BearerAuth,
        report_id: Path<Uuid>,
        body: Json<ReasonInput>,
    ) -> Result<Json<ReportView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let r = rules::reopen(&self.state, &caller, report_id.0, &body.reason).await?;
        Ok(Json(view(&self.state, r, Some(&caller)).await?))
    }

    /// Staff queue: reports of my units and unrouted ones, soonest deadline (overdue) first
    #[oai(
        path = "/v1/staff/reports",
        method = "get",
        operation_id = "staff_queue"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn queue(
        &self,
        auth: BearerAuth,
        /// A unit; default: every unit of mine plus unrouted reports.
        unit_id: Query<Option<Uuid>>,
        /// Comma-separated statuses; default: open ones.
        status: Query<Option<String>>,
        /// A category code.
        category: Query<Option<String>>,
        /// A khu phố (`GET /v1/areas`).
        area_id: Query<Option<Uuid>>,
        /// Reports assigned to this person.
        assignee_id: Query<Option<Uuid>>,
        /// Only reports past their resolve-by deadline.
        #[oai(default)]
        overdue: Query<bool>,
        /// Only reports not yet acknowledged (tiếp nhận) past their acknowledge-by deadline.
        #[oai(default)]
        ack_overdue: Query<bool>,
        /// Only reports due within this many hours (wall-clock).
        due_within_hours: Query<Option<u32>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
        /// Skip this many (the next page starts where the last one ended).
        #[oai(validator(minimum(value = "0"), maximum(value = "5000")))]
        offset: Query<Option<i64>>,
    ) -> Result<Json<Vec<ReportView>>, NoBodyError> {
        let caller = self
            .state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        let mut statuses = parse_statuses(status.0.as_deref())?;
        if statuses.is_empty() {
            statuses = Status::OPEN
                .iter()
                .map(|s| s.as_str().to_string())
                .collect();
        }
        let now = self.state.clock.now();
        let due_before = if overdue.0 {
            Some(now)
        } else {
            due_within_hours
                .0
                .map(|h| now + chrono::Duration::hours(i64::from(h.min(10_000))))
        };
        let limit = limit.0.unwrap_or(100);
        let offset = offset.0.unwrap_or(0);
        let category_id = category_id(&self.state, category.0.as_deref()).await?;
        let units: Vec<UnitFilter> = match unit_id.0 {
            Some(u) => vec![UnitFilter::Unit(u)],
            None if caller.role == Role::Admin => vec![UnitFilter::Any],
            None => {
                let mut u: Vec<UnitFilter> = repo::units_of(&self.state.db, caller.account_id)
                    .await?
                    .into_iter()
                    .map(UnitFilter::Unit)
                    .collect();
                u.push(UnitFilter::Unrouted);
                u
            }
        };
        let mut rows = vec![];
        for unit in units {
            let f = Filter {
                statuses: statuses.clone(),
                unit,
                category_id,
                area_id: area_id.0,
                assignee_id: assignee_id.0,
                due_before,
                unacknowledged_before: ack_overdue.0.then_some(now),
                by_deadline: true,
                // Each unit's first `offset + limit`: the page is cut from their merge.
                limit: offset + limit,
                ..Filter::default()
            };
            rows.extend(repo::list(&self.state.db, &f).await?);
        }
        // The deadline each report waits on, soonest first (the order of each unit's list).
        let waits_on = |r: &ReportRow| {
            if r.acknowledged_at.is_none() {
                r.ack_by
            } else {
                r.resolve_by
            }
        };
        rows.sort_by(|a, b| {
            waits_on(a)
                .cmp(&waits_on(b))
                .then(a.report_id.cmp(&b.report_id))
        });
        let rows: Vec<ReportRow> = rows
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        Ok(Json(views(&self.state, rows, Some(&caller)).await?))
    }

    /// Re-grade an open report's severity (staff of its unit; lowering it: admins)
    ///
    /// Its deadlines are counted again from its filing (or its latest reopening): raising the
    /// severity only ever brings them closer, lowering it only ever gives more time. The reason goes
    /// into the internal history.
    #[oai(
        path = "/v1/staff/reports/:report_id/severity",
        method = "post",
        operation_id = "staff_set_severity"
    )]
    async fn set_severity(
        &self,
        auth: BearerAuth,
        report_id: Path<Uuid>,
        body: Json<SeverityInput>,
    ) -> Result<Json<ReportView>, ApiError> {
        let caller = self
            .state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        let row = rules::set_severity(
            &self.state,
            &caller,
            report_id.0,
            body.0.severity,
            &body.0.reason,
        )
        .await?;
        Ok(Json(view(&self.state, row, Some(&caller)).await?))
    }

    /// Move a report through its lifecycle (staff of its unit, or triage of unrouted reports)
    ///
    /// `receive` (tiếp nhận), `assign` (chuyển xử lý, needs `unit_id`), `start`, `resolve` (needs
    /// `public_reply` and evidence photos), `reject` (needs `reason`), `duplicate` (needs
    /// `duplicate_of`), `close` (after the reopen window). Anything else from the current status is 409.
    #[oai(
        path = "/v1/staff/reports/:report_id/transition",
        method = "post",
        operation_id = "staff_transition"
    )]
    async fn transition(
        &self,
        auth: BearerAuth,
        report_id: Path<Uuid>,
        body: Json<TransitionInput>,
    ) -> Result<Json<ReportView>, ApiError> {
        let caller = self
            .state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        let b = body.0;
        let missing = |field: &str| {
            Error::validation(
                field,
                "required",
                "Thiếu thông tin bắt buộc",
                "Required for this action",
            )
        };
        let action = match b.action {
            ActionKind::Receive => Action::Receive,
            ActionKind::Assign => Action::Assign {
                unit_id: b.unit_id.ok_or_else(|| missing("unit_id"))?,
                assignee_id: b.assignee_id,
            },
            ActionKind::Start => Action::Start,
            ActionKind::Resolve => Action::Resolve {
                public_reply: b.public_reply.unwrap_or_default(),
                evidence: b.evidence_media_ids,
            },
            ActionKind::Reject => Action::Reject {
                reason: b.reason.unwrap_or_default(),
            },
            ActionKind::Duplicate => Action::MarkDuplicate {
                of: b.duplicate_of.ok_or_else(|| missing("duplicate_of"))?,
            },
            ActionKind::Close => Action::Close,
        };
        let r = rules::transition(&self.state, &caller, report_id.0, action, &b.note).await?;
        Ok(Json(view(&self.state, r, Some(&caller)).await?))
    }

    /// Statistics of reports received in a period (staff, admins)
    ///
    /// Received, resolved, on-time rate, median working hours to acknowledge and to resolve, online
    /// share (app vs counter and phone), satisfaction. The last row is the total (`all`).
    #[oai(
        path = "/v1/stats/reports",
        method = "get",
        operation_id = "stats_reports"
    )]
    async fn stats(
        &self,
        auth: BearerAuth,
        from: Query<DateTime<Utc>>,
        to: Query<DateTime<Utc>>,
        group_by: Query<Option<GroupBy>>,
    ) -> Result<Json<Vec<Figures>>, NoBodyError> {
        self.state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        Ok(Json(
            stats::compute(&self.state, from.0, to.0, group_by.0).await?,
        ))
    }

    /// The same statistics as CSV
    #[oai(
        path = "/v1/stats/reports.csv",
        method = "get",
        operation_id = "stats_reports_csv"
    )]
    async fn stats_csv(
        &self,
        auth: BearerAuth,
        from: Query<DateTime<Utc>>,
        to: Query<DateTime<Utc>>,
        group_by: Query<Option<GroupBy>>,
    ) -> Result<Csv, NoBodyError> {
        self.state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        let rows = stats::compute(&self.state, from.0, to.0, group_by.0).await?;
        let name = format!(
            "attachment; filename=\"wardline-reports-{}-{}.csv\"",
            from.0.format("%Y%m%d"),
            to.0.format("%Y%m%d")
        );
        Ok(Csv::Ok(PlainText(stats::to_csv(&rows)), name))
    }

    /// My notifications, newest first
    #[oai(
        path = "/v1/notifications",
        method = "get",
        operation_id = "notifications_list"
    )]
    async fn notifications(
        &self,
        auth: BearerAuth,
        #[oai(default)] unread: Query<bool>,
        before: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<Option<i64>>,
    ) -> Result<Json<NotificationPage>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let account = self.state.auth.account(caller.account_id).await?;
        let limit = limit.0.unwrap_or(50);
        let rows =
            repo::notifications(&self.state.db, caller.account_id, unread.0, before.0, limit)
                .await?;
        let next_before = if rows.len() as i64 == limit {
            rows.last().map(|n| n.notification_id)
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|n| NotificationView {
                id: n.notification_id,
                report_id: n.report_id,
                appointment_id: n.appointment_id,
                consultation_id: n.consultation_id,
                kind: n.kind,
                text: if account.language == crate::auth::Language::En {
                    n.body_en
                } else {
                    n.body_vi
                },
                read: n.read_at.is_some(),
                created_at: n.created_at,
            })
            .collect();
        Ok(Json(NotificationPage { items, next_before }))
    }

    /// Mark notifications read
    #[oai(
        path = "/v1/notifications/read",
        method = "post",
        operation_id = "notifications_mark_read"
    )]
    async fn mark_read(&self, auth: BearerAuth, body: Json<MarkRead>) -> Result<Done, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        repo::mark_read(
            &self.state.db,
            caller.account_id,
            &body.ids,
            self.state.clock.now(),
        )
        .await?;
        Ok(Done::Done)
    }
}
