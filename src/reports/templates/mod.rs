//! Reply templates (*mẫu trả lời*): the texts admins keep for staff's public replies, each for one
//! category or all of them, and one report status or any (as FixMyStreet's response templates).
//! Staff pick one in the console, which fills its placeholders (`{id}`, `{category}`,
//! `{deadline}`) and lets them edit the reply before sending it; the texts are stored as typed.

mod repo;
mod seed;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, FieldError, Result};
use crate::reports::{Ctx, Status};

pub use repo::TemplateRow;
pub use seed::seed_defaults;

/// Longest title.
pub const MAX_TITLE: usize = 120;
/// Longest body: the longest public reply or rejection reason staff can send.
pub const MAX_BODY: usize = 2000;

/// What an admin sets on a template (all of it on create; any of it on update). `Some(None)`
/// clears the category or status (the template then fits any).
#[derive(Debug, Clone, Default)]
pub struct TemplateFields {
    pub category_code: Option<Option<String>>,
    pub status: Option<Option<String>>,
    pub title: Option<String>,
    pub body_vi: Option<String>,
    pub body_en: Option<String>,
    pub position: Option<i32>,
}

/// The templates that fit a report of `category` (a code) going to `status`: the category's own
/// first, then those for every category. `None` leaves that side unfiltered.
pub async fn fitting(
    state: &Ctx,
    category: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<TemplateRow>> {
    if let Some(code) = category {
        known_category(state, code).await?;
    }
    let status = status.map(parse_status).transpose()?;
    repo::fitting(&state.db, category, status.map(Status::as_str)).await
}

/// Every template that is not archived (the admins' page).
pub async fn all(state: &Ctx) -> Result<Vec<TemplateRow>> {
    repo::all(&state.db).await
}

pub async fn create(state: &Ctx, f: TemplateFields) -> Result<TemplateRow> {
    let f = checked(state, f).await?;
    let (Some(title), Some(body_vi)) = (f.title.clone(), f.body_vi.clone()) else {
        return Err(Error::Validation(
            [
                ("title", f.title.is_none()),
                ("body_vi", f.body_vi.is_none()),
            ]
            .into_iter()
            .filter(|(_, missing)| *missing)
            .map(|(field, _)| {
                FieldError::new(field, "required", "Thiếu thông tin bắt buộc", "Required")
            })
            .collect(),
        ));
    };
    let now = state.clock.now();
    let row = TemplateRow {
        template_id: Uuid::now_v7(),
        category_code: f.category_code.flatten(),
        status: f
            .status
            .flatten()
            .as_deref()
            .map(parse_status)
            .transpose()?,
        title,
        body_vi,
        body_en: f.body_en.unwrap_or_default(),
        position: f.position.unwrap_or(0),
        created_at: now,
        updated_at: now,
    };
    repo::insert(&state.db, &row).await?;
    Ok(row)
}

pub async fn update(state: &Ctx, id: Uuid, f: TemplateFields) -> Result<TemplateRow> {
    let f = checked(state, f).await?;
    let mut row = repo::by_id(&state.db, id)
        .await?
        .ok_or(Error::NotFound("template_not_found"))?;
    if let Some(c) = f.category_code {
        row.category_code = c;
    }
    if let Some(s) = f.status {
        row.status = s.as_deref().map(parse_status).transpose()?;
    }
    if let Some(t) = f.title {
        row.title = t;
    }
    if let Some(b) = f.body_vi {
        row.body_vi = b;
    }
    if let Some(b) = f.body_en {
        row.body_en = b;
    }
    if let Some(p) = f.position {
        row.position = p;
    }
    row.updated_at = state.clock.now();
    repo::update(&state.db, &row).await?;
    Ok(row)
}

/// Archive a template: no longer offered or listed. Archiving it again is not found.
pub async fn archive(state: &Ctx, id: Uuid) -> Result<()> {
    let now: DateTime<Utc> = state.clock.now();
    if repo::archive(&state.db, id, now).await? {
        Ok(())
    } else {
        Err(Error::NotFound("template_not_found"))
    }
}

fn parse_status(s: &str) -> Result<Status> {
    Status::parse(s).ok_or_else(|| {
        Error::validation(
            "status",
            "unknown_status",
            "Trạng thái không hợp lệ",
            "Unknown status",
        )
    })
}

async fn known_category(state: &Ctx, code: &str) -> Result<()> {
    match state.categories.by_code(&state.db, code).await? {
        Some(_) => Ok(()),
        None => Err(Error::validation(
            "category_code",
            "unknown_category",
            "Không có lĩnh vực này",
            "Unknown category",
        )),
    }
}

/// A text cleaned ([`crate::text::clean`]) and within `1..=max` characters (`0..` when optional).
fn text(
    field: &str,
    raw: &str,
    multiline: bool,
    max: usize,
    required: bool,
) -> std::result::Result<String, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            "invalid_text",
            &format!("Cần 1 đến {max} ký tự, không có ký tự ẩn"),
            &format!("1 to {max} characters, no invisible characters"),
        )
    };
    let t = crate::text::clean(raw, multiline).map_err(|_| bad())?;
    if (required && t.is_empty()) || t.chars().count() > max {
        return Err(bad());
    }
    Ok(t)
}

/// The fields cleaned and checked; every text problem reported at once.
async fn checked(state: &Ctx, f: TemplateFields) -> Result<TemplateFields> {
    let mut errors = Vec::new();
    let mut keep = |r: std::result::Result<String, FieldError>| match r {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let title = f
        .title
        .as_deref()
        .map(|t| keep(text("title", t, false, MAX_TITLE, true)));
    let body_vi = f
        .body_vi
        .as_deref()
        .map(|t| keep(text("body_vi", t, true, MAX_BODY, true)));
    let body_en = f
        .body_en
        .as_deref()
        .map(|t| keep(text("body_en", t, true, MAX_BODY, false)));
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    if let Some(Some(code)) = &f.category_code {
        known_category(state, code).await?;
    }
    let status = match &f.status {
        Some(Some(s)) => Some(Some(parse_status(s)?.as_str().to_string())),
        other => other.clone(),
    };
    Ok(TemplateFields {
        category_code: f.category_code,
        status,
        title: title.flatten(),
        body_vi: body_vi.flatten(),
        body_en: body_en.flatten(),
        position: f.position,
    })
}
