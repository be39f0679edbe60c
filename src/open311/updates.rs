//! The updates feed (mySociety's `servicerequestupdates`) and comments from client apps.

use std::collections::HashMap;

use uuid::Uuid;

use super::doc::{Doc, Node};
use super::params::{check_window, first, nonempty_str, parse_request_id, parse_time};
use super::render::{Page, extended_status};
use super::{DEFAULT_DAYS, MAX_ROWS, O311Error, O311Result, Pairs, authorize_write};
use crate::error::{Error, current_lang};
use crate::reports::repo as reports_repo;
use crate::reports::{self, Ctx, Status};

pub async fn updates(
    state: &Ctx,
    start_date: Option<&str>,
    end_date: Option<&str>,
) -> O311Result<Doc> {
    let offset = state.calendar.utc_offset();
    let start = nonempty_str(start_date)
        .map(|r| parse_time(r, "start_date", offset))
        .transpose()?;
    let end = nonempty_str(end_date)
        .map(|r| parse_time(r, "end_date", offset))
        .transpose()?;
    check_window(start, end, ("start_date", "end_date"))?;
    let now = state.clock.now();
    let end = end.unwrap_or(now);
    let start = start.unwrap_or(end - chrono::Duration::days(DEFAULT_DAYS));
    let events = reports_repo::public_events_between(&state.db, start, end, MAX_ROWS).await?;
    let ctx = Page::load(state).await?;
    let mut current: HashMap<Uuid, Option<Status>> = HashMap::new();
    let mut items = Vec::with_capacity(events.len());
    for e in events {
        let status = match e.to_status {
            Some(s) => Some(s),
            None => match current.get(&e.report_id) {
                Some(s) => *s,
                None => {
                    let s = reports_repo::report(&state.db, e.report_id)
                        .await?
                        .map(|r| r.status);
                    current.insert(e.report_id, s);
                    s
                }
            },
        };
        items.push(Node::Obj(vec![
            ("update_id", Node::str(e.report_event_id.to_string())),
            ("service_request_id", Node::str(e.report_id.to_string())),
            ("status", Node::opt(status.map(extended_status))),
            ("updated_datetime", Node::str(ctx.time(e.created_at))),
            ("description", Node::str(e.note)),
            ("media_url", Node::Null),
        ]));
    }
    Ok(Doc {
        root: "service_request_updates",
        body: Node::List("request_update", items),
    })
}

/// A comment on an open request from a keyed client app.
pub async fn post_update(state: &Ctx, form: &Pairs) -> O311Result<Doc> {
    authorize_write(state, first(form, "api_key")).await?;
    let id = parse_request_id(first(form, "service_request_id").unwrap_or(""))?;
    let text = first(form, "description").unwrap_or("");
    let update_id = reports::app_comment(state, id, text)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => O311Error::new(
                404,
                current_lang().pick(
                    "service_request_id: không có yêu cầu này",
                    "service_request_id: no such request",
                ),
            ),
            e => e.into(),
        })?;
    Ok(Doc {
        root: "service_request_updates",
        body: Node::List(
            "request_update",
            vec![Node::Obj(vec![(
                "update_id",
                Node::str(update_id.to_string()),
            )])],
        ),
    })
}
