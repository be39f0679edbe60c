//! The service catalog: what residents can report, who handles it, how fast (by severity), and the
//! extra questions each category asks. A fresh install starts with the common ward categories.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, FieldError, Result};
use crate::on_db;
use crate::store::{Db, is_unique_violation};

/// How urgent a report is; it sets the deadlines (*thời hạn xử lý*).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, poem_openapi::Enum,
)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Normal,
    High,
    /// Danger to people (open manhole, fallen wire, deep flooding).
    Urgent,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Normal => "normal",
            Severity::High => "high",
            Severity::Urgent => "urgent",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "low" => Severity::Low,
            "normal" => Severity::Normal,
            "high" => Severity::High,
            "urgent" => Severity::Urgent,
            _ => return None,
        })
    }
    pub const ALL: [Severity; 4] = [
        Severity::Urgent,
        Severity::High,
        Severity::Normal,
        Severity::Low,
    ];

    /// The ward's default working hours to acknowledge (*tiếp nhận*) and to resolve (*xử lý xong*),
    /// for categories that set none of their own. A working day is 7.5 h.
    pub fn deadlines_hours(self) -> (f64, f64) {
        match self {
            Severity::Urgent => (1.0, 7.5),
            Severity::High => (4.0, 22.5),
            Severity::Normal => (7.5, 37.5),
            Severity::Low => (15.0, 75.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Free text, up to 1000 characters, several lines allowed.
    Text,
    Number,
    SingleChoice,
    MultiChoice,
    /// One short line (up to 200 characters).
    String,
    /// A date and time (RFC 3339, e.g. `2026-05-01T08:00:00+07:00`).
    Datetime,
}

/// An extra question a category asks (Open311 "attributes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, poem_openapi::Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Question {
    /// Stable key of the answer, `[a-z0-9_]{1,40}`.
    #[oai(validator(max_length = 40))]
    pub key: String,
    #[oai(validator(max_length = 200))]
    pub label_vi: String,
    #[oai(validator(max_length = 200))]
    pub label_en: String,
    pub kind: QuestionKind,
    #[serde(default)]
    #[oai(default)]
    pub required: bool,
    /// Allowed values for the choice kinds.
    #[serde(default)]
    #[oai(default, validator(max_items = 30))]
    pub choices: Vec<String>,
}

/// Working hours to acknowledge and to resolve a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeadlineHours {
    pub ack: f64,
    pub resolve: f64,
}

/// The longest deadline a category may set: 100 working days.
const MAX_DEADLINE_HOURS: f64 = 750.0;

#[derive(Debug, Clone)]
pub struct Category {
    pub category_id: Uuid,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub group_code: String,
    pub unit_id: Option<Uuid>,
    pub photo_required: bool,
    pub anonymous: bool,
    pub duplicate_radius_m: i32,
    pub public_decimals: Option<i32>,
    pub default_severity: Severity,
    pub questions: Vec<Question>,
    /// This category's own deadlines, where they differ from the ward's defaults.
    pub deadline_hours: BTreeMap<Severity, DeadlineHours>,
    pub active: bool,
}

impl Category {
    /// Working hours to acknowledge and to resolve a report of this category at `severity`.
    pub fn deadlines_hours(&self, severity: Severity) -> (f64, f64) {
        match self.deadline_hours.get(&severity) {
            Some(h) => (h.ack, h.resolve),
            None => severity.deadlines_hours(),
        }
    }
}

/// What an admin may set on a category (all of it on create; any of it on update).
#[derive(Debug, Clone, Default)]
pub struct CategoryFields {
    pub name_vi: Option<String>,
    pub name_en: Option<String>,
    pub group_code: Option<String>,
    pub unit_id: Option<Option<Uuid>>,
    pub photo_required: Option<bool>,
    pub anonymous: Option<bool>,
    pub duplicate_radius_m: Option<i32>,
    pub public_decimals: Option<Option<i32>>,
    pub default_severity: Option<Severity>,
    pub questions: Option<Vec<Question>>,
    /// Replaces the category's own deadlines (empty: the ward's defaults for every severity).
    pub deadline_hours: Option<BTreeMap<Severity, DeadlineHours>>,
    pub active: Option<bool>,
}

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
    default_severity: String,
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
            default_severity: Severity::parse(&r.default_severity)
                .ok_or_else(|| anyhow::anyhow!("bad severity in categories"))?,
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

/// The farthest any of `categories`' public rounding moves a point (degrees): how much further a
/// public box query must look (see [`crate::geo::BBox::grown`]).
pub fn public_margin(categories: &[Category]) -> f64 {
    categories
        .iter()
        .map(|c| crate::geo::Point::rounding_margin(c.public_decimals))
        .fold(0.0, f64::max)
}

/// The whole catalog (a ward has a few dozen categories) kept in memory, so creating or showing a
/// report does not read it. Changes made through this instance ([`Cache::forget`]) show at once;
/// changes made through another instance within [`Kept::FRESH`](crate::store::kept::Kept::FRESH).
#[derive(Default)]
pub struct Cache {
    kept: crate::store::kept::Kept<std::sync::Arc<Vec<Category>>>,
    /// Bumped by every `forget`, so a read that began before a change is not kept after it.
    generation: std::sync::atomic::AtomicU64,
}

impl Cache {
    /// Every category, active or not.
    pub async fn all(&self, db: &Db) -> Result<std::sync::Arc<Vec<Category>>> {
        self.kept
            .get_or_read(&self.generation, || async {
                Ok(std::sync::Arc::new(list(db, true).await?))
            })
            .await
    }

    pub async fn by_code(&self, db: &Db, code: &str) -> Result<Option<Category>> {
        Ok(self.all(db).await?.iter().find(|c| c.code == code).cloned())
    }

    /// The category of a stored report. Every report has one (a foreign key), so a missing one is
    /// a bug: 500, not 404.
    pub async fn of_report(&self, db: &Db, category_id: Uuid) -> Result<Category> {
        self.by_id(db, category_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("report without category")))
    }

    pub async fn by_id(&self, db: &Db, id: Uuid) -> Result<Option<Category>> {
        Ok(self
            .all(db)
            .await?
            .iter()
            .find(|c| c.category_id == id)
            .cloned())
    }

    /// Read the catalog again on next use (after this instance changed it).
    pub fn forget(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

fn validate_code(code: &str) -> Result<()> {
    let ok = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "code",
            "invalid_code",
            "Mã chỉ gồm a-z, 0-9, _ (tối đa 40)",
            "Code is a-z, 0-9 and _ (up to 40)",
        ))
    }
}

fn validate_fields(f: &CategoryFields) -> Result<()> {
    let mut errors = Vec::new();
    for (field, value) in [
        ("name_vi", &f.name_vi),
        ("name_en", &f.name_en),
        ("group_code", &f.group_code),
    ] {
        if let Some(v) = value
            && (v.trim().is_empty() || v.chars().count() > 200)
        {
            errors.push(FieldError::new(
                field,
                "invalid_name",
                "Phải có từ 1 đến 200 ký tự",
                "Must be 1 to 200 characters",
            ));
        }
    }
    if let Some(r) = f.duplicate_radius_m
        && !(0..=5000).contains(&r)
    {
        errors.push(FieldError::new(
            "duplicate_radius_m",
            "out_of_range",
            "Bán kính từ 0 đến 5000 m",
            "Radius must be 0 to 5000 m",
        ));
    }
    if let Some(Some(d)) = f.public_decimals
        && !(0..=8).contains(&d)
    {
        errors.push(FieldError::new(
            "public_decimals",
            "out_of_range",
            "Số chữ số thập phân từ 0 đến 8",
            "Decimals must be 0 to 8",
        ));
    }
    if let Some(questions) = &f.questions {
        let mut keys = std::collections::HashSet::new();
        for q in questions {
            let key_ok = !q.key.is_empty()
                && q.key.len() <= 40
                && q.key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            let choices_ok = match q.kind {
                QuestionKind::SingleChoice | QuestionKind::MultiChoice => !q.choices.is_empty(),
                _ => q.choices.is_empty(),
            };
            if !key_ok || !keys.insert(q.key.clone()) || !choices_ok {
                errors.push(FieldError::new(
                    "questions",
                    "invalid_question",
                    "Câu hỏi không hợp lệ (khoá trùng, sai định dạng hoặc thiếu lựa chọn)",
                    "Invalid question (duplicate or malformed key, or choices missing)",
                ));
                break;
            }
        }
    }
    if let Some(hours) = &f.deadline_hours
        && hours.values().any(|h| {
            !(h.ack.is_finite() && h.resolve.is_finite())
                || h.ack <= 0.0
                || h.ack > h.resolve
                || h.resolve > MAX_DEADLINE_HOURS
        })
    {
        errors.push(FieldError::new(
            "deadlines",
            "invalid_deadlines",
            "Thời hạn: 0 < tiếp nhận ≤ xử lý ≤ 750 giờ làm việc",
            "Deadlines: 0 < acknowledge ≤ resolve ≤ 750 working hours",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
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

/// Check a report's answers against the category's questions; returns them normalised as JSON.
pub fn check_answers(
    category: &Category,
    answers: &BTreeMap<String, serde_json::Value>,
) -> Result<serde_json::Value> {
    use serde_json::Value;
    let mut errors = Vec::new();
    let bad = |key: &str, vi: &str, en: &str| {
        FieldError::new(&format!("answers.{key}"), "invalid_answer", vi, en)
    };
    for key in answers.keys() {
        if !category.questions.iter().any(|q| &q.key == key) {
            errors.push(bad(key, "Câu hỏi không tồn tại", "No such question"));
        }
    }
    for q in &category.questions {
        let Some(v) = answers.get(&q.key).filter(|v| !v.is_null()) else {
            if q.required {
                errors.push(bad(&q.key, "Câu hỏi bắt buộc", "This question is required"));
            }
            continue;
        };
        let ok = match q.kind {
            QuestionKind::Text => v.as_str().is_some_and(|s| s.chars().count() <= 1000),
            QuestionKind::String => v
                .as_str()
                .is_some_and(|s| s.chars().count() <= 200 && !s.chars().any(char::is_control)),
            QuestionKind::Datetime => v
                .as_str()
                .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
            QuestionKind::Number => v.as_f64().is_some_and(f64::is_finite),
            QuestionKind::SingleChoice => {
                v.as_str().is_some_and(|s| q.choices.iter().any(|c| c == s))
            }
            QuestionKind::MultiChoice => match v {
                Value::Array(items) => {
                    !items.is_empty()
                        && items
                            .iter()
                            .all(|i| i.as_str().is_some_and(|s| q.choices.iter().any(|c| c == s)))
                }
                _ => false,
            },
        };
        if !ok {
            errors.push(bad(
                &q.key,
                "Câu trả lời không đúng loại hoặc không nằm trong lựa chọn",
                "Wrong type, or not one of the choices",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(serde_json::to_value(answers).unwrap_or(Value::Object(Default::default())))
}

/// code, Vietnamese name, English name, group, severity, photo required, public decimals, questions.
type DefaultCategory = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Severity,
    bool,
    Option<i32>,
    Vec<Question>,
);

/// The categories a fresh install starts with (admins edit them; codes are stable for clients).
fn defaults() -> Vec<DefaultCategory> {
    let choice = |key: &str, vi: &str, en: &str, choices: &[&str], required: bool| Question {
        key: key.into(),
        label_vi: vi.into(),
        label_en: en.into(),
        kind: QuestionKind::SingleChoice,
        required,
        choices: choices.iter().map(|c| c.to_string()).collect(),
    };
    vec![
        (
            "road_damage",
            "Hư hỏng mặt đường, ổ gà",
            "Road damage, potholes",
            "infrastructure",
            Severity::Normal,
            true,
            None,
            vec![choice(
                "size",
                "Kích thước",
                "Size",
                &["small", "medium", "large"],
                false,
            )],
        ),
        (
            "pavement_damage",
            "Hư hỏng vỉa hè",
            "Damaged pavement",
            "infrastructure",
            Severity::Normal,
            true,
            None,
            vec![],
        ),
        (
            "street_light",
            "Đèn đường hỏng",
            "Broken street light",
            "infrastructure",
            Severity::Normal,
            false,
            None,
            vec![choice(
                "state",
                "Tình trạng",
                "State",
                &["off", "flickering", "on_by_day"],
                true,
            )],
        ),
        (
            "traffic_sign",
            "Biển báo, đèn tín hiệu giao thông",
            "Traffic signs and signals",
            "infrastructure",
            Severity::High,
            false,
            None,
            vec![],
        ),
        (
            "open_manhole",
            "Hố ga mất nắp",
            "Open manhole",
            "infrastructure",
            Severity::Urgent,
            false,
            None,
            vec![],
        ),
        (
            "flooding",
            "Ngập nước",
            "Flooding",
            "environment",
            Severity::High,
            false,
            None,
            vec![choice(
                "depth",
                "Độ sâu",
                "Depth",
                &["ankle", "knee", "above_knee"],
                true,
            )],
        ),
        (
            "drain_blocked",
            "Cống, rãnh thoát nước tắc",
            "Blocked drain",
            "environment",
            Severity::Normal,
            false,
            None,
            vec![],
        ),
        (
            "trash",
            "Rác thải, xả rác không đúng nơi",
            "Trash and illegal dumping",
            "environment",
            Severity::Normal,
            true,
            None,
            vec![],
        ),
        (
            "tree_hazard",
            "Cây xanh nguy hiểm, gãy đổ",
            "Dangerous or fallen tree",
            "environment",
            Severity::High,
            false,
            None,
            vec![],
        ),
        (
            "water_leak",
            "Rò rỉ, vỡ ống nước",
            "Water leak or burst pipe",
            "infrastructure",
            Severity::High,
            false,
            None,
            vec![],
        ),
        (
            "illegal_construction",
            "Xây dựng trái phép",
            "Illegal construction",
            "urban_order",
            Severity::Normal,
            true,
            Some(3),
            vec![],
        ),
        (
            "pavement_encroachment",
            "Lấn chiếm vỉa hè, lòng đường",
            "Encroachment on pavement or road",
            "urban_order",
            Severity::Normal,
            true,
            Some(3),
            vec![],
        ),
        (
            "noise",
            "Tiếng ồn",
            "Noise",
            "urban_order",
            Severity::Low,
            false,
            Some(3),
            vec![choice(
                "when",
                "Thời điểm",
                "When",
                &["day", "evening", "night"],
                false,
            )],
        ),
        (
            "other",
            "Khác",
            "Other",
            "other",
            Severity::Normal,
            false,
            None,
            vec![],
        ),
    ]
}

/// Give an empty catalog the default categories. Runs at start; does nothing once any exist.
pub async fn seed_defaults(db: &Db, now: DateTime<Utc>) -> Result<()> {
    let count = on_db!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM categories").fetch_one(pool).await)?;
    if count > 0 {
        return Ok(());
    }
    for (code, vi, en, group, severity, photo, decimals, questions) in defaults() {
        // Reporting a neighbour's construction or encroachment can invite retaliation.
        let anonymous = matches!(code, "illegal_construction" | "pavement_encroachment");
        let fields = CategoryFields {
            name_vi: Some(vi.into()),
            name_en: Some(en.into()),
            group_code: Some(group.into()),
            photo_required: Some(photo),
            anonymous: Some(anonymous),
            public_decimals: Some(decimals),
            default_severity: Some(severity),
            questions: Some(questions),
            ..CategoryFields::default()
        };
        match create(db, code, &fields, now).await {
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
