//! What residents do on a report: me too, comments, rating, reopening.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::{Done, ReportView, view};
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::reports::Ctx;
use crate::reports::{self as rules};
use crate::tags::ApiTags;

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

pub struct ParticipationApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl ParticipationApi {
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
    ) -> Result<Json<ReportView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
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
    ) -> Result<Done, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID }>> {
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
    ) -> Result<Json<ReportView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID }>>
    {
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
    ) -> Result<Json<ReportView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID }>>
    {
        let caller = self.state.auth.caller(&auth).await?;
        let r = rules::reopen(&self.state, &caller, report_id.0, &body.reason).await?;
        Ok(Json(view(&self.state, r, Some(&caller)).await?))
    }
}
