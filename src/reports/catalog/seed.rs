//! The default categories a fresh install starts with.

use chrono::{DateTime, Utc};

use super::{CategoryFields, Question, QuestionKind, Severity, create};
use crate::error::{Error, Result};
use crate::on_db;
use crate::store::Db;

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
