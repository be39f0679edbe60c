//! Reading service requests: the search, one request, and the request behind a token.

use super::doc::{Doc, Node};
use super::params::{
    check_window, nonempty, parse_bool_param, parse_count, parse_f64, parse_request_id, parse_time,
};
use super::render::{Page, request_node};
use super::services::active_category;
use super::{DEFAULT_DAYS, MAX_IDS, MAX_ROWS, O311Error, O311Result, repo};
use crate::error::current_lang;
use crate::geo::{BBox, Point};
use crate::reports::Ctx;
use crate::reports::Status;
use crate::reports::repo::{self as reports_repo, Search};

/// The filters of `GET requests`, as sent.
#[derive(Debug, Default)]
pub struct RequestQuery {
    pub service_request_id: Option<String>,
    pub service_code: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub status: Option<String>,
    pub page: Option<String>,
    pub page_size: Option<String>,
    pub updated_after: Option<String>,
    pub updated_before: Option<String>,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub radius: Option<String>,
    pub extensions: Option<String>,
}

pub async fn list_requests(state: &Ctx, q: &RequestQuery) -> O311Result<Doc> {
    let extensions = parse_bool_param(q.extensions.as_deref(), "extensions")?;
    let ctx = Page::load(state).await?;
    let offset = ctx.offset;
    let rows = if let Some(ids) = nonempty(&q.service_request_id) {
        // The spec: a list of ids overrides every other filter.
        let ids: Vec<&str> = ids.split(',').filter(|s| !s.trim().is_empty()).collect();
        if ids.len() > MAX_IDS {
            return Err(O311Error::bad(
                &format!("service_request_id: tối đa {MAX_IDS} mã"),
                &format!("service_request_id: at most {MAX_IDS} ids"),
            ));
        }
        let mut rows = vec![];
        for raw in ids {
            if let Some(r) = reports_repo::report(&state.db, parse_request_id(raw)?).await? {
                rows.push(r);
            }
        }
        rows
    } else {
        let start = nonempty(&q.start_date)
            .map(|r| parse_time(r, "start_date", offset))
            .transpose()?;
        let end = nonempty(&q.end_date)
            .map(|r| parse_time(r, "end_date", offset))
            .transpose()?;
        check_window(start, end, ("start_date", "end_date"))?;
        let updated_after = nonempty(&q.updated_after)
            .map(|r| parse_time(r, "updated_after", offset))
            .transpose()?;
        let updated_before = nonempty(&q.updated_before)
            .map(|r| parse_time(r, "updated_before", offset))
            .transpose()?;
        check_window(
            updated_after,
            updated_before,
            ("updated_after", "updated_before"),
        )?;
        let window = chrono::Duration::days(DEFAULT_DAYS);
        let (created_from, created_to) = match (start, end) {
            (None, None) => (Some(state.clock.now() - window), None),
            (None, Some(e)) => (Some(e - window), Some(e)),
            (s, e) => (s, e),
        };
        let mut codes = vec![];
        if let Some(raw) = nonempty(&q.service_code) {
            for code in raw.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                codes.push(active_category(state, code).await?.code);
            }
        }
        let mut statuses = vec![];
        if let Some(raw) = nonempty(&q.status) {
            for s in raw.split(',').map(str::trim) {
                let set: &[Status] = match s {
                    "open" => &Status::OPEN,
                    "closed" => &[
                        Status::Resolved,
                        Status::Rejected,
                        Status::Duplicate,
                        Status::Closed,
                    ],
                    _ => {
                        return Err(O311Error::bad(
                            "status: open hoặc closed",
                            "status: open or closed",
                        ));
                    }
                };
                statuses.extend(set.iter().map(|s| s.as_str().to_string()));
            }
        }
        let near = match (nonempty(&q.lat), nonempty(&q.long)) {
            (Some(a), Some(o)) => {
                let p = Point::parse(parse_f64(a, "lat")?, parse_f64(o, "long")?)?;
                let radius = match nonempty(&q.radius) {
                    None => 1000.0,
                    Some(r) => {
                        let r = parse_f64(r, "radius")?;
                        if !(r > 0.0 && r <= 50_000.0) {
                            return Err(O311Error::bad(
                                "radius: từ 0 đến 50000 m",
                                "radius: more than 0 and at most 50000 m",
                            ));
                        }
                        r
                    }
                };
                Some((p, radius))
            }
            (None, None) if nonempty(&q.radius).is_none() => None,
            _ => {
                return Err(O311Error::bad(
                    "lat, long: cần gửi cả hai (radius đi kèm lat và long)",
                    "lat and long go together (and radius needs them)",
                ));
            }
        };
        // A radius search leaves out the categories that hide where their reports are (they show
        // rounded): whether a report is within a radius of any point, and so which page another
        // report lands on, would tell how far its exact point is. They are listed by other means.
        if near.is_some() {
            let exact = |code: &str| {
                ctx.categories
                    .values()
                    .any(|c| c.code == code && c.public_decimals.is_none())
            };
            if codes.is_empty() {
                codes = ctx
                    .categories
                    .values()
                    .filter(|c| c.public_decimals.is_none())
                    .map(|c| c.code.clone())
                    .collect();
            } else {
                codes.retain(|c| exact(c));
            }
            if codes.is_empty() {
                return Ok(Doc {
                    root: "service_requests",
                    body: Node::List("request", vec![]),
                });
            }
        }
        let page_size =
            parse_count(q.page_size.as_deref(), "page_size", 1, MAX_ROWS)?.unwrap_or(MAX_ROWS);
        let page = parse_count(q.page.as_deref(), "page", 1, 1_000_000)?.unwrap_or(1);
        let search = Search {
            category_codes: codes,
            statuses,
            created_from,
            created_to,
            updated_from: updated_after,
            updated_to: updated_before,
            bbox: near.map(|(p, r)| BBox::around(p, r)),
            limit: page_size,
            offset: (page - 1).saturating_mul(page_size),
        };
        let mut rows = reports_repo::search(&state.db, &search).await?;
        if let Some((p, r)) = near {
            rows.retain(|row| {
                p.distance_m(Point {
                    lat: row.lat,
                    lon: row.lon,
                }) <= r
            });
        }
        rows
    };
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(request_node(state, &ctx, r, extensions).await?);
    }
    Ok(Doc {
        root: "service_requests",
        body: Node::List("request", items),
    })
}

pub async fn get_request(state: &Ctx, id: &str, extensions: Option<&str>) -> O311Result<Doc> {
    let extensions = parse_bool_param(extensions, "extensions")?;
    let id = parse_request_id(id)?;
    let row = reports_repo::report(&state.db, id).await?.ok_or_else(|| {
        O311Error::new(
            404,
            current_lang().pick(
                "service_request_id: không có yêu cầu này",
                "service_request_id: no such request",
            ),
        )
    })?;
    let ctx = Page::load(state).await?;
    Ok(Doc {
        root: "service_requests",
        body: Node::List(
            "request",
            vec![request_node(state, &ctx, row, extensions).await?],
        ),
    })
}

pub async fn token(state: &Ctx, token: &str) -> O311Result<Doc> {
    let not_found = || {
        O311Error::new(
            404,
            current_lang().pick("token: không có mã này", "token: no such token"),
        )
    };
    if token.is_empty() || token.len() > 64 {
        return Err(not_found());
    }
    let id = repo::report_for_token(&state.db, token)
        .await?
        .ok_or_else(not_found)?;
    Ok(Doc {
        root: "service_requests",
        body: Node::List(
            "request",
            vec![Node::Obj(vec![
                ("service_request_id", Node::str(id.to_string())),
                ("token", Node::str(token)),
            ])],
        ),
    })
}
