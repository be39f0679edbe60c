//! SQL of reply templates.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::on_db;
use crate::reports::Status;
use crate::store::Db;

/// A template as stored (`category_code`/`status` `None`: any).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub template_id: Uuid,
    pub category_code: Option<String>,
    pub status: Option<Status>,
    pub title: String,
    pub body_vi: String,
    pub body_en: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! select_templates {
    ($rest:literal) => {
        concat!(
            "SELECT template_id, category_code, status, title, body_vi, body_en, position, created_at, updated_at ",
            "FROM reply_templates WHERE archived_at IS NULL ",
            $rest
        )
    };
}

/// Those that fit; a category's own first, then the generic ones, each by position and title.
pub async fn fitting(
    db: &Db,
    category: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<TemplateRow>> {
    Ok(
        on_db!(db, pool => sqlx::query_as::<_, TemplateRow>(select_templates!(
        "AND ($1 IS NULL OR category_code IS NULL OR category_code = $1)
         AND ($2 IS NULL OR status IS NULL OR status = $2)
         ORDER BY CASE WHEN category_code IS NULL THEN 1 ELSE 0 END, position, title, template_id"
    ))
    .bind(category)
    .bind(status)
    .fetch_all(pool)
    .await)?,
    )
}

pub async fn all(db: &Db) -> Result<Vec<TemplateRow>> {
    Ok(
        on_db!(db, pool => sqlx::query_as::<_, TemplateRow>(select_templates!(
        "ORDER BY CASE WHEN category_code IS NULL THEN 0 ELSE 1 END, category_code, status, position, title, template_id"
    ))
    .fetch_all(pool)
    .await)?,
    )
}

pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<TemplateRow>> {
    Ok(
        on_db!(db, pool => sqlx::query_as::<_, TemplateRow>(select_templates!("AND template_id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await)?,
    )
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(
        on_db!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM reply_templates")
        .fetch_one(pool)
        .await)?,
    )
}

pub async fn insert(db: &Db, t: &TemplateRow) -> Result<()> {
    let t = t.clone();
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "INSERT INTO reply_templates (template_id, category_code, status, title, body_vi, body_en,
                     position, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                &[
                    t.template_id.into(),
                    t.category_code.as_deref().into(),
                    t.status.map(Status::as_str).into(),
                    (&t.title).into(),
                    (&t.body_vi).into(),
                    (&t.body_en).into(),
                    t.position.into(),
                    t.created_at.into(),
                ],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

pub async fn update(db: &Db, t: &TemplateRow) -> Result<()> {
    let t = t.clone();
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "UPDATE reply_templates SET category_code = $2, status = $3, title = $4, body_vi = $5,
                     body_en = $6, position = $7, updated_at = $8
                 WHERE template_id = $1 AND archived_at IS NULL",
                &[
                    t.template_id.into(),
                    t.category_code.as_deref().into(),
                    t.status.map(Status::as_str).into(),
                    (&t.title).into(),
                    (&t.body_vi).into(),
                    (&t.body_en).into(),
                    t.position.into(),
                    t.updated_at.into(),
                ],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

/// Whether it was there to archive.
pub async fn archive(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "UPDATE reply_templates SET archived_at = $2, updated_at = $2
                 WHERE template_id = $1 AND archived_at IS NULL",
                &[id.into(), now.into()],
            )
            .await
            .map(|n| n == 1)
        })
    })
    .await
}
