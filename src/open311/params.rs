//! Parameters: form and query values parsed and checked as the spec's errors.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use uuid::Uuid;

use super::{O311Error, O311Result};

/// Form or query pairs, as sent.
pub type Pairs = Vec<(String, String)>;

pub(super) fn first<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn parse_f64(raw: &str, field: &str) -> O311Result<f64> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            O311Error::bad(
                &format!("{field}: phải là một số"),
                &format!("{field}: must be a number"),
            )
        })
}

/// A W3C date-time (`2026-05-01T08:00:00Z`, any offset), or a date (midnight at the ward).
pub(super) fn parse_time(raw: &str, field: &str, offset: FixedOffset) -> O311Result<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && let Some(t) = d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(offset).single())
    {
        return Ok(t.with_timezone(&Utc));
    }
    Err(O311Error::bad(
        &format!("{field}: cần dạng 2026-05-01T08:00:00+07:00"),
        &format!("{field}: expected a date-time like 2026-05-01T08:00:00+07:00"),
    ))
}

pub(super) fn parse_bool_param(raw: Option<&str>, field: &str) -> O311Result<bool> {
    match raw.map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(O311Error::bad(
            &format!("{field}: phải là true hoặc false"),
            &format!("{field}: must be true or false"),
        )),
    }
}

pub(super) fn parse_count(
    raw: Option<&str>,
    field: &str,
    min: i64,
    max: i64,
) -> O311Result<Option<i64>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => match r.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(O311Error::bad(
                &format!("{field}: phải là số nguyên từ {min} đến {max}"),
                &format!("{field}: must be a whole number from {min} to {max}"),
            )),
        },
    }
}

pub(super) fn check_window(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    names: (&str, &str),
) -> O311Result<()> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(O311Error::bad(
            &format!("{}: phải trước {}", names.0, names.1),
            &format!("{} must not be after {}", names.0, names.1),
        ));
    }
    Ok(())
}

pub(super) fn parse_request_id(raw: &str) -> O311Result<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        O311Error::bad(
            "service_request_id: mã không hợp lệ",
            "service_request_id: malformed id",
        )
    })
}

pub(super) fn nonempty(v: &Option<String>) -> Option<&str> {
    nonempty_str(v.as_deref())
}

pub(super) fn nonempty_str(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}
