//! The staff desk: the queue, severity, lifecycle actions.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::{ReportView, category_id, parse_statuses, view, views};
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::reports::Ctx;
use crate::reports::catalog::Severity;
use crate::reports::{self as rules, Action};
use crate::tags::ApiTags;

#[derive(Object)]
struct SeverityInput {
    severity: Severity,
    /// Why (kept in the internal history).
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

pub struct StaffApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl StaffApi {
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
    ) -> Result<Json<Vec<ReportView>>, Problems<{ SIGNED_IN | NOT_FOUND | INVALID }>> {
        let caller = self
            .state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        let query = rules::QueueQuery {
            unit_id: unit_id.0,
            statuses: parse_statuses(status.0.as_deref())?,
            category_id: category_id(&self.state, category.0.as_deref()).await?,
            area_id: area_id.0,
            assignee_id: assignee_id.0,
            overdue: overdue.0,
            ack_overdue: ack_overdue.0,
            due_within_hours: due_within_hours.0,
            limit: limit.0.unwrap_or(100),
            offset: offset.0.unwrap_or(0),
        };
        let rows = rules::staff_queue(&self.state, &caller, query).await?;
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
    ) -> Result<Json<ReportView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID }>>
    {
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
    ) -> Result<Json<ReportView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID }>>
    {
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
}
