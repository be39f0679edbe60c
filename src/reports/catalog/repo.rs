//! The catalog's SQL: reading categories, and creating and updating them (checked first).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::validation::{validate_code, validate_fields};
use super::{Category, CategoryFields, Severity};
use crate::error::{Error, Result};
use crate::on_db;
use crate::store::{Db, is_unique_violation};

#[derive(sqlx::FromRow)]
struct Row {
    category_id: Uuid,
    code: String,
    name_vi: String,
    name_en: String,
    group_code: String,
    unit_id: Option<Uuid>,
    photo_required: bool,
    anonymous: bool,
    duplicate_radius_m: i32,
    public_decimals: Option<i32>,
    default_severity: Severity,
    questions: String,
    deadline_hours: String,
    active: bool,
}

impl TryFrom<Row> for Category {
    type Error = Error;
    fn try_from(r: Row) -> Result<Category> {
        Ok(Category {
            category_id: r.category_id,
            code: r.code,
            name_vi: r.name_vi,
            name_en: r.name_en,
            group_code: r.group_code,
            unit_id: r.unit_id,
            photo_required: r.photo_required,
            anonymous: r.anonymous,
            duplicate_radius_m: r.duplicate_radius_m,
            public_decimals: r.public_decimals,
            default_severity: r.default_severity,
            questions: serde_json::from_str(&r.questions)
                .map_err(|e| anyhow::anyhow!("bad questions JSON: {e}"))?,
            deadline_hours: serde_json::from_str(&r.deadline_hours)
                .map_err(|e| anyhow::anyhow!("bad deadline_hours JSON: {e}"))?,
            active: r.active,
        })
    }
}

macro_rules! select_categories {
    ($rest:literal) => {
        concat!(
            "SELECT category_id, code, name_vi, name_en, group_code, unit_id, photo_required, anonymous, ",
            "duplicate_radius_m, public_decimals, default_severity, questions, deadline_hours, active FROM categories ",
            $rest
        )
    };
}

pub async fn list(db: &Db, include_inactive: bool) -> Result<Vec<Category>> {
    let rows = on_db!(db, pool => sqlx::query_as::<_, Row>(select_categories!("WHERE active OR $1 ORDER BY group_code, code"))
        .bind(include_inactive)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(Category::try_from).collect()
}

pub async fn by_code(db: &Db, code: &str) -> Result<Option<Category>> {
    let row = on_db!(db, pool => sqlx::query_as::<_, Row>(select_categories!("WHERE code = $1")).bind(code).fetch_optional(pool).await)?;
    row.map(Category::try_from).transpose()
}

pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<Category>> {
    let row = on_db!(db, pool => sqlx::query_as::<_, Row>(select_categories!("WHERE category_id = $1")).bind(id).fetch_optional(pool).await)?;
    row.map(Category::try_from).transpose()
}

pub async fn create(
    db: &Db,
    code: &str,
    f: &CategoryFields,
    now: DateTime<Utc>,
) -> Result<Category> {
    validate_code(code)?;
    validate_fields(f)?;
    let (Some(name_vi), Some(name_en), Some(group_code)) = (&f.name_vi, &f.name_en, &f.group_code)
    else {
        return Err(Error::validation(
            "name_vi",
            "required",
            "Thiếu tên",
            "Names and group are required",
        ));
    };
    let id = Uuid::now_v7();
    let questions = serde_json::to_string(f.questions.as_deref().unwrap_or(&[]))
        .map_err(anyhow::Error::from)?;
    let deadline_hours = serde_json::to_string(&f.deadline_hours.clone().unwrap_or_default())
        .map_err(anyhow::Error::from)?;
    let res = on_db!(db, pool => sqlx::query(
        "INSERT INTO categories (category_id, code, name_vi, name_en, group_code, unit_id, photo_required, anonymous,
             duplicate_radius_m, public_decimals, default_severity, questions, active, created_at, updated_at,
             deadline_hours)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)",
    )
    .bind(id)
    .bind(code)
    .bind(name_vi.trim())
    .bind(name_en.trim())
    .bind(group_code.trim())
    .bind(f.unit_id.flatten())
    .bind(f.photo_required.unwrap_or(false))
    .bind(f.anonymous.unwrap_or(false))
    .bind(f.duplicate_radius_m.unwrap_or(250))
    .bind(f.public_decimals.flatten())
    .bind(f.default_severity.unwrap_or(Severity::Normal).as_str())
    .bind(questions)
    .bind(f.active.unwrap_or(true))
    .bind(now)
    .bind(deadline_hours)
    .execute(pool)
    .await
    .map(|_| ()));
    match res {
        Err(e) if is_unique_violation(&e, "categories_code_key", "categories.code") => {
            Err(Error::Conflict("category_code_taken"))
        }
        Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound("unit_not_found")),
        other => {
            other?;
            by_id(db, id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("category vanished")))
        }
    }
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}

pub async fn update(
    db: &Db,
    code: &str,
    f: &CategoryFields,
    now: DateTime<Utc>,
) -> Result<Category> {
    validate_fields(f)?;
    let current = by_code(db, code)
        .await?
        .ok_or(Error::NotFound("category_not_found"))?;
    let questions = serde_json::to_string(f.questions.as_ref().unwrap_or(&current.questions))
        .map_err(anyhow::Error::from)?;
    let deadline_hours =
        serde_json::to_string(f.deadline_hours.as_ref().unwrap_or(&current.deadline_hours))
            .map_err(anyhow::Error::from)?;
    let res = on_db!(db, pool => sqlx::query(
        "UPDATE categories SET name_vi = $2, name_en = $3, group_code = $4, unit_id = $5, photo_required = $6,
             anonymous = $7, duplicate_radius_m = $8, public_decimals = $9, default_severity = $10, questions = $11,
             active = $12, updated_at = $13, deadline_hours = $14
         WHERE category_id = $1",
    )
    .bind(current.category_id)
    .bind(f.name_vi.as_deref().map(str::trim).unwrap_or(&current.name_vi))
    .bind(f.name_en.as_deref().map(str::trim).unwrap_or(&current.name_en))
    .bind(f.group_code.as_deref().map(str::trim).unwrap_or(&current.group_code))
    .bind(f.unit_id.unwrap_or(current.unit_id))
    .bind(f.photo_required.unwrap_or(current.photo_required))
    .bind(f.anonymous.unwrap_or(current.anonymous))
    .bind(f.duplicate_radius_m.unwrap_or(current.duplicate_radius_m))
    .bind(f.public_decimals.unwrap_or(current.public_decimals))
    .bind(f.default_severity.unwrap_or(current.default_severity).as_str())
    .bind(questions)
    .bind(f.active.unwrap_or(current.active))
    .bind(now)
    .bind(deadline_hours)
    .execute(pool)
    .await
    .map(|_| ()));
    match res {
        Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound("unit_not_found")),
        other => {
            other?;
            by_id(db, current.category_id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("category vanished")))
        }
    }
}
