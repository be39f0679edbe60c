//! Checks: a category's code and fields as an admin sets them, and a report's answers.

use std::collections::BTreeMap;

use chrono::DateTime;

use super::{Category, CategoryFields, MAX_DEADLINE_HOURS, QuestionKind};
use crate::error::{Error, FieldError, Result};

pub(super) fn validate_code(code: &str) -> Result<()> {
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

pub(super) fn validate_fields(f: &CategoryFields) -> Result<()> {
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
