//! Shared rendering: a report as a GeoReport `request`, with what a page of them needs.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use uuid::Uuid;

use super::doc::Node;
use super::{O311Error, O311Result};
use crate::error::{Error, current_lang};
use crate::reports::Ctx;
use crate::reports::catalog::{self, Category};
use crate::reports::repo::{self as reports_repo, ReportRow};
use crate::reports::{Status, Visibility};

/// What rendering a page of reports needs, read once per answer.
pub(super) struct Page {
    pub(super) categories: HashMap<Uuid, Category>,
    units: HashMap<Uuid, String>,
    areas: HashMap<Uuid, String>,
    base: String,
    pub(super) offset: FixedOffset,
}

impl Page {
    pub(super) async fn load(state: &Ctx) -> O311Result<Page> {
        Ok(Page {
            categories: catalog::list(&state.db, true)
                .await?
                .into_iter()
                .map(|c| (c.category_id, c))
                .collect(),
            units: crate::org::list_units(&state.db)
                .await?
                .into_iter()
                .map(|u| (u.unit_id, u.name))
                .collect(),
            areas: crate::areas::list(&state.db)
                .await?
                .into_iter()
                .map(|a| (a.area_id, a.name))
                .collect(),
            base: state.objects.public_url(),
            offset: state.calendar.utc_offset(),
        })
    }

    /// A time as the ward reads it: `2026-05-01T08:00:00+07:00`.
    pub(super) fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset)
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    fn photo_url(&self, id: Uuid) -> String {
        format!("{}/v1/media/{id}/public.jpg", self.base)
    }
}

fn status_name(s: Status) -> &'static str {
    if s.is_open() { "open" } else { "closed" }
}

/// mySociety's extended statuses.
pub(super) fn extended_status(s: Status) -> &'static str {
    match s {
        Status::Submitted | Status::Reopened => "OPEN",
        Status::Received => "INVESTIGATING",
        Status::Assigned => "ACTION_SCHEDULED",
        Status::InProgress => "IN_PROGRESS",
        Status::Resolved | Status::Closed => "FIXED",
        Status::Rejected => "NO_FURTHER_ACTION",
        Status::Duplicate => "DUPLICATE",
    }
}

pub(super) fn service_name(c: &Category) -> String {
    current_lang().pick(&c.name_vi, &c.name_en).to_string()
}

/// One report as a GeoReport `request`. Never anything about who reported it.
pub(super) async fn request_node(
    state: &Ctx,
    ctx: &Page,
    r: ReportRow,
    extensions: bool,
) -> O311Result<Node> {
    let category = ctx.categories.get(&r.category_id).ok_or_else(|| {
        O311Error::from(Error::Internal(anyhow::anyhow!("report without category")))
    })?;
    let status = r.status;
    let media = reports_repo::report_media(&state.db, r.report_id).await?;
    let photos: Vec<Uuid> = media
        .iter()
        .filter(|(_, role)| role == "report")
        .map(|(id, _)| *id)
        .collect();
    // "After" photos while it stands resolved (a reopened report is not fixed), as in the app.
    let evidence: Vec<Uuid> = media
        .iter()
        .filter(|(_, role)| role == "evidence")
        .filter(|_| matches!(status, Status::Resolved | Status::Closed))
        .map(|(id, _)| *id)
        .collect();
    let events = reports_repo::events(&state.db, r.report_id).await?;
    let public: Vec<_> = events
        .iter()
        .filter(|e| e.visibility == Visibility::Public)
        .collect();
    // What the ward said of where the request stands: the resolution's reply, or why it was
    // declined (the ward's latest public note). Nothing while it is open: a resident's words (a
    // reopening's reason) are not the ward's, nor is an earlier resolution's reply.
    let status_notes = match status {
        Status::Resolved | Status::Closed => r.public_reply.clone(),
        Status::Rejected | Status::Duplicate => public
            .iter()
            .rev()
            .find(|e| !e.note.is_empty() && e.from_the_ward())
            .map(|e| e.note.clone()),
        _ => None,
    };
    let (shown, public_address) = category.public_place(r.lat, r.lon, &r.address);
    let mut fields = vec![
        ("service_request_id", Node::str(r.report_id.to_string())),
        ("status", Node::str(status_name(status))),
        ("status_notes", Node::opt(status_notes)),
        ("service_name", Node::str(service_name(category))),
        ("service_code", Node::str(category.code.clone())),
        ("description", Node::str(r.description.clone())),
        (
            "agency_responsible",
            Node::opt(r.unit_id.and_then(|u| ctx.units.get(&u).cloned())),
        ),
        ("service_notice", Node::Null),
        ("requested_datetime", Node::str(ctx.time(r.created_at))),
        ("updated_datetime", Node::str(ctx.time(r.updated_at))),
        ("expected_datetime", Node::str(ctx.time(r.resolve_by))),
        // A category that rounds where its reports are also keeps their address from the public.
        ("address", Node::str(public_address)),
        ("address_id", Node::Null),
        ("zipcode", Node::Null),
        ("lat", Node::Num(shown.lat)),
        ("long", Node::Num(shown.lon)),
        (
            "media_url",
            Node::opt(photos.first().map(|id| ctx.photo_url(*id))),
        ),
    ];
    if extensions {
        let urls = |ids: &[Uuid]| {
            Node::List(
                "photo",
                ids.iter().map(|id| Node::str(ctx.photo_url(*id))).collect(),
            )
        };
        fields.push((
            "extended_attributes",
            Node::Obj(vec![
                ("detailed_status", Node::str(status.as_str())),
                ("extended_status", Node::str(extended_status(status))),
                ("severity", Node::str(r.severity.as_str())),
                // Not for a category that hides where its reports are (as in the app).
                (
                    "area",
                    Node::opt(
                        r.area_id
                            .filter(|_| category.public_decimals.is_none())
                            .and_then(|a| ctx.areas.get(&a).cloned()),
                    ),
                ),
                ("channel", Node::str(r.channel.as_str())),
                (
                    "duplicate_of",
                    Node::opt(r.duplicate_of.map(|d| d.to_string())),
                ),
                ("me_too_count", Node::Int(i64::from(r.me_too_count))),
                ("photos", urls(&photos)),
                ("evidence_photos", urls(&evidence)),
            ]),
        ));
        fields.push((
            "notes",
            Node::List(
                "note",
                public
                    .iter()
                    .map(|e| {
                        Node::Obj(vec![
                            ("datetime", Node::str(ctx.time(e.created_at))),
                            ("type", Node::str(e.kind.as_str())),
                            ("status", Node::opt(e.to_status.map(|s| s.as_str()))),
                            ("summary", Node::str(e.note.clone())),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    Ok(Node::Obj(fields))
}
