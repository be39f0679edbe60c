//! Categories: the public list, and the admins' catalog editor.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::reports::Ctx;
use crate::reports::catalog::{self, Category, CategoryFields, Question, Severity};
use crate::tags::ApiTags;

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

pub struct CategoriesApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl CategoriesApi {
    /// The categories residents can report (public)
    #[oai(
        path = "/v1/categories",
        method = "get",
        operation_id = "categories_list"
    )]
    async fn categories(&self) -> Result<Json<Vec<CategoryView>>, Problems<0>> {
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
    ) -> Result<Json<Vec<CategoryView>>, Problems<SIGNED_IN>> {
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
    ) -> Result<CategoryCreated, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID }>>
    {
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
    ) -> Result<Json<CategoryView>, Problems<{ SIGNED_IN | NOT_FOUND | BODY | INVALID }>> {
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
}
