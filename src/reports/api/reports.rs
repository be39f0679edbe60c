//! Reports as a collection: filing one, the public feed and map, one report with its history, my reports.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::{PhotoRef, ReportView, category_id, parse_statuses, photo_ref, view, view_in, views};
use crate::auth::api::BearerAuth;
use crate::auth::{Caller, Role};
use crate::error::{BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, RATE_LIMITED, SIGNED_IN};
use crate::geo::{BBox, Point};
use crate::reports::Ctx;
use crate::reports::catalog::{self, Category};
use crate::reports::repo::{self, Filter, ReportRow};
use crate::reports::{self as rules, Channel, EventKind, NewReport, Status, Visibility};
use crate::store::column::Spelled;
use crate::store::idempotency;
use crate::tags::ApiTags;

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
#[oai(skip_serializing_if_is_none)]
struct NearbyReport {
    report: ReportView,
    distance_m: f64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct EventView {
    at: DateTime<Utc>,
    kind: Spelled<EventKind>,
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

pub struct ReportCollectionApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl ReportCollectionApi {
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
    ) -> Result<ReportCreated, Problems<{ SIGNED_IN | CONFLICT | BODY | INVALID | RATE_LIMITED }>>
    {
        let caller = self.state.auth.caller(&auth).await?;
        let body = body.0;
        let state = &self.state;
        let request = poem_openapi::types::ToJSON::to_json(&body).unwrap_or_default();
        let claimed = match idempotency::start(
            &state.db,
            caller.account_id,
            "reports_create",
            idempotency_key.0,
            &request,
            state.clock.now(),
        )
        .await?
        {
            idempotency::Start::Go(claimed) => claimed,
            idempotency::Start::Replay(id) => {
                // A retry: the report the first request created, as it is now.
                let row = repo::report(&state.db, id)
                    .await?
                    .ok_or(Error::NotFound("report_not_found"))?;
                return Ok(ReportCreated::Created(Json(
                    view(state, row, Some(&caller)).await?,
                )));
            }
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
        let created = idempotency::settle(
            &state.db,
            claimed.as_ref(),
            async {
                check_report_allowance(state, &caller).await?;
                rules::create(state, &caller, new, claimed.as_ref()).await
            }
            .await,
        )
        .await?;
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
    ) -> Result<Json<ReportPage>, Problems<{ SIGNED_IN | NOT_FOUND | INVALID }>> {
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
}

pub struct ReportReadsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl ReportReadsApi {
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
    ) -> Result<Json<Vec<NearbyReport>>, Problems<{ SIGNED_IN | NOT_FOUND | INVALID }>> {
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
    ) -> Result<Json<Vec<MapCell>>, Problems<INVALID>> {
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
                    status: Some(r.status),
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
    ) -> Result<Json<ReportDetail>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
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
            .filter(|e| match e.visibility {
                Visibility::Public => true,
                Visibility::Reporter => {
                    let own = me.is_some() && e.actor_id == me;
                    // (A comment without an author came from a third-party app's user.)
                    staff || own || (reporter && e.from_the_ward())
                }
                Visibility::Internal => staff,
            })
            .map(|e| EventView {
                at: e.created_at,
                kind: Spelled(e.kind),
                from_status: e.from_status,
                to_status: e.to_status,
                actor: e.actor_id.map(|_| {
                    if e.from_the_ward() {
                        "staff"
                    } else {
                        "resident"
                    }
                    .to_string()
                }),
                note: e.note,
                internal: e.visibility == Visibility::Internal,
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
    ) -> Result<Json<ReportPage>, Problems<SIGNED_IN>> {
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
}
