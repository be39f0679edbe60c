//! Reply templates: staff read the ones that fit a report; admins keep them.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::Done;
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::reports::Ctx;
use crate::reports::Status;
use crate::reports::templates::{self, TemplateFields, TemplateRow};
use crate::store::column::Spelled;
use crate::tags::ApiTags;

/// A reply template. Its bodies may hold placeholders the staff console fills in: `{id}` (the
/// report's short reference), `{category}` (the category's name) and `{deadline}`.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TemplateView {
    id: Uuid,
    /// The category it is for; absent: every category.
    category_code: Option<String>,
    /// The report status the reply goes with (`resolved`, `rejected`, …); absent: any.
    status: Option<Spelled<Status>>,
    title: String,
    body_vi: String,
    /// Empty when there is no English text.
    body_en: String,
    position: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TemplateRow> for TemplateView {
    fn from(t: TemplateRow) -> Self {
        TemplateView {
            id: t.template_id,
            category_code: t.category_code,
            status: t.status.map(Spelled),
            title: t.title,
            body_vi: t.body_vi,
            body_en: t.body_en,
            position: t.position,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TemplateInput {
    /// A category's code; `null` (or absent on create): every category.
    #[oai(validator(max_length = 40))]
    category_code: MaybeUndefined<String>,
    /// A report status; `null` (or absent on create): any status.
    #[oai(validator(max_length = 40))]
    status: MaybeUndefined<String>,
    /// Up to 120 characters (required on create).
    #[oai(validator(max_length = 1000))]
    title: Option<String>,
    /// Up to 2000 characters, the longest reply staff can send (required on create).
    #[oai(validator(max_length = 8000))]
    body_vi: Option<String>,
    /// Up to 2000 characters; empty: none.
    #[oai(validator(max_length = 8000))]
    body_en: Option<String>,
    /// Order in the lists (smaller first).
    #[oai(validator(minimum(value = "0"), maximum(value = "10000")))]
    position: Option<i32>,
}

/// `Some(None)` to clear, `Some(Some(v))` to set, `None` to leave as it is.
fn patch(v: &MaybeUndefined<String>) -> Option<Option<String>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v.clone())),
    }
}

impl TemplateInput {
    fn fields(self) -> TemplateFields {
        TemplateFields {
            category_code: patch(&self.category_code),
            status: patch(&self.status),
            title: self.title,
            body_vi: self.body_vi,
            body_en: self.body_en,
            position: self.position,
        }
    }
}

#[derive(ApiResponse)]
enum TemplateCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<TemplateView>),
}

fn views(rows: Vec<TemplateRow>) -> Json<Vec<TemplateView>> {
    Json(rows.into_iter().map(Into::into).collect())
}

pub struct TemplatesApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl TemplatesApi {
    /// The reply templates that fit a report (staff): the category's own first, then generic ones
    #[oai(
        path = "/v1/staff/reply-templates",
        method = "get",
        operation_id = "staff_reply_templates"
    )]
    async fn fitting(
        &self,
        auth: BearerAuth,
        /// A category code; absent: every category's.
        category: Query<Option<String>>,
        /// The status the reply goes with (e.g. `resolved`); absent: any.
        status: Query<Option<String>>,
    ) -> Result<Json<Vec<TemplateView>>, Problems<{ SIGNED_IN | INVALID }>> {
        self.state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        let rows = templates::fitting(
            &self.state,
            category.0.as_deref().filter(|c| !c.is_empty()),
            status.0.as_deref().filter(|s| !s.is_empty()),
        )
        .await?;
        Ok(views(rows))
    }

    /// Every reply template not archived (admins)
    #[oai(
        path = "/v1/admin/reply-templates",
        method = "get",
        operation_id = "admin_list_reply_templates"
    )]
    async fn all(&self, auth: BearerAuth) -> Result<Json<Vec<TemplateView>>, Problems<SIGNED_IN>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        Ok(views(templates::all(&self.state).await?))
    }

    /// Create a reply template (admins)
    #[oai(
        path = "/v1/admin/reply-templates",
        method = "post",
        operation_id = "admin_create_reply_template"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<TemplateInput>,
    ) -> Result<TemplateCreated, Problems<{ SIGNED_IN | BODY | INVALID }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let t = templates::create(&self.state, body.0.fields()).await?;
        Ok(TemplateCreated::Created(Json(t.into())))
    }

    /// Change a reply template (admins); absent fields stay as they are
    #[oai(
        path = "/v1/admin/reply-templates/:template_id",
        method = "put",
        operation_id = "admin_update_reply_template"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        template_id: Path<Uuid>,
        body: Json<TemplateInput>,
    ) -> Result<Json<TemplateView>, Problems<{ SIGNED_IN | NOT_FOUND | BODY | INVALID }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let t = templates::update(&self.state, template_id.0, body.0.fields()).await?;
        Ok(Json(t.into()))
    }

    /// Archive a reply template (admins): no longer offered
    #[oai(
        path = "/v1/admin/reply-templates/:template_id",
        method = "delete",
        operation_id = "admin_archive_reply_template"
    )]
    async fn archive(
        &self,
        auth: BearerAuth,
        template_id: Path<Uuid>,
    ) -> Result<Done, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        templates::archive(&self.state, template_id.0).await?;
        Ok(Done::Done)
    }
}
