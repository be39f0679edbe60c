//! Creating a service request: a real report through the app's rules, channel `open311`.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::doc::{Doc, Node};
use super::params::{first, parse_f64};
use super::services::active_category;
use super::{O311Error, O311Result, Pairs, authorize_write, repo};
use crate::error::current_lang;
use crate::reports::Ctx;
use crate::reports::catalog::{Category, QuestionKind};
use crate::reports::{self, NewReport, Submitter};

/// A new service request (POST requests), from the spec's form fields.
pub async fn create_request(state: &Ctx, form: &Pairs) -> O311Result<Doc> {
    let client = authorize_write(state, first(form, "api_key")).await?;
    let lang = current_lang();
    let code = first(form, "service_code").map(str::trim).unwrap_or("");
    if code.is_empty() {
        return Err(O311Error::bad(
            "service_code: bắt buộc",
            "service_code: required",
        ));
    }
    let category = active_category(state, code).await?;

    // Where: this ward has no geocoder, so a point is required.
    let lat = first(form, "lat").filter(|v| !v.trim().is_empty());
    let lon = first(form, "long").filter(|v| !v.trim().is_empty());
    let (lat, lon) = match (lat, lon) {
        (Some(a), Some(o)) => (parse_f64(a, "lat")?, parse_f64(o, "long")?),
        (None, None) => {
            return Err(O311Error::bad(
                "lat, long: bắt buộc (phường chưa tra được toạ độ từ address_string)",
                "lat and long are required (this ward cannot geocode address_string)",
            ));
        }
        _ => {
            return Err(O311Error::bad(
                "lat, long: cần gửi cả hai",
                "lat and long must be sent together",
            ));
        }
    };
    let mut errors = Vec::new();
    let mut text = |name: &str, max: usize| -> Option<String> {
        let v = crate::text::clean(first(form, name)?, true).unwrap_or_else(|_| "\u{0}".into());
        if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            errors.push(
                lang.pick(
                    &format!("{name}: không hợp lệ hoặc quá dài (tối đa {max})"),
                    &format!("{name}: invalid or too long (at most {max})"),
                )
                .to_string(),
            );
            return None;
        }
        (!v.is_empty()).then(|| v.to_string())
    };
    let address = text("address_string", 300);
    let email = text("email", 254);
    let phone = text("phone", 32);
    let first_name = text("first_name", 100);
    let last_name = text("last_name", 100);
    let media_url = text("media_url", 2048);
    let _ = text("device_id", 200);
    let _ = text("account_id", 200);
    if let Some(e) = &email
        && !e.contains('@')
    {
        errors.push(
            lang.pick("email: không hợp lệ", "email: invalid")
                .to_string(),
        );
    }
    if let Some(p) = &phone
        && !p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        errors.push(
            lang.pick("phone: không hợp lệ", "phone: invalid")
                .to_string(),
        );
    }
    if let Some(u) = &media_url
        && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
    {
        errors.push(
            lang.pick(
                "media_url: cần một địa chỉ http(s)",
                "media_url: must be an http(s) URL",
            )
            .to_string(),
        );
    }
    if category.photo_required && media_url.is_none() {
        errors.push(
            lang.pick(
                "media_url: lĩnh vực này cần ảnh",
                "media_url: this service needs a photo",
            )
            .to_string(),
        );
    }
    let answers = match attributes(form, &category) {
        Ok(a) => a,
        Err(mut e) => {
            errors.append(&mut e.descriptions);
            BTreeMap::new()
        }
    };
    if !errors.is_empty() {
        return Err(O311Error {
            status: 400,
            descriptions: errors,
            retry_after: None,
        });
    }

    // For staff only: who the app says reported (unless the category keeps reporters anonymous)
    // and the app's photo link. Nothing here is ever shown publicly.
    let mut note = format!("Open311: {}", client.name);
    if !category.anonymous {
        let who: Vec<String> = [first_name, last_name, email, phone]
            .into_iter()
            .flatten()
            .collect();
        if !who.is_empty() {
            note.push_str(&format!("; liên hệ / contact: {}", who.join(", ")));
        }
    }
    if let Some(u) = &media_url {
        note.push_str(&format!("; media_url: {u}"));
    }
    let new = NewReport {
        category_code: category.code.clone(),
        description: first(form, "description").unwrap_or("").to_string(),
        lat,
        lon,
        accuracy_m: None,
        address,
        media_ids: vec![],
        answers,
        captured_at: None,
        channel: reports::Channel::Open311,
        reporter_phone: None,
    };
    let row =
        reports::create_as(state, Submitter::Open311 { staff_note: &note }, new, None).await?;
    let token = Uuid::new_v4().simple().to_string();
    repo::insert_request(
        &state.db,
        row.report_id,
        client.open311_client_id,
        &token,
        state.clock.now(),
    )
    .await?;
    // The duplicate rule of the app: point out open reports of the same kind nearby.
    let near = reports::nearby(state, row.lat, row.lon, &category.code, true)
        .await?
        .into_iter()
        .find(|(r, _)| r.report_id != row.report_id);
    let notice = near.map(|(r, d)| {
        lang.pick(
            &format!(
                "Có thể trùng với yêu cầu {} đang mở cách {:.0} m",
                r.report_id, d
            ),
            &format!(
                "Possibly a duplicate of open request {} {:.0} m away",
                r.report_id, d
            ),
        )
        .to_string()
    });
    Ok(Doc {
        root: "service_requests",
        body: Node::List(
            "request",
            vec![Node::Obj(vec![
                ("service_request_id", Node::str(row.report_id.to_string())),
                ("token", Node::str(token)),
                ("service_notice", Node::opt(notice)),
                ("account_id", Node::Null),
            ])],
        ),
    })
}

/// `attribute[code]=v` and `attribute[code][]=v` as answers typed for the category's questions.
fn attributes(
    form: &Pairs,
    category: &Category,
) -> O311Result<BTreeMap<String, serde_json::Value>> {
    use serde_json::Value;
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut errors = Vec::new();
    for (k, v) in form {
        let Some(rest) = k.strip_prefix("attribute[") else {
            continue;
        };
        let (code, many) = match rest.strip_suffix("][]") {
            Some(code) => (code, true),
            None => match rest.strip_suffix(']') {
                Some(code) => (code, false),
                None => {
                    errors.push(format!("{k}: attribute[code] / attribute[code][]"));
                    continue;
                }
            },
        };
        if code.is_empty() || code.len() > 40 || code.contains(['[', ']']) {
            errors.push(format!("{k}: attribute[code] / attribute[code][]"));
            continue;
        }
        let kind = category
            .questions
            .iter()
            .find(|q| q.key == code)
            .map(|q| q.kind);
        let value = match kind {
            Some(QuestionKind::Number) => match v.trim().parse::<f64>() {
                Ok(n) => serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(v.clone())),
                Err(_) => Value::String(v.clone()),
            },
            _ => Value::String(v.clone()),
        };
        if many || kind == Some(QuestionKind::MultiChoice) {
            match out
                .entry(code.to_string())
                .or_insert_with(|| Value::Array(vec![]))
            {
                Value::Array(items) if items.len() < 50 => items.push(value),
                Value::Array(_) => {}
                other => *other = Value::String(String::new()),
            }
        } else {
            out.entry(code.to_string()).or_insert(value);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(O311Error {
            status: 400,
            descriptions: errors,
            retry_after: None,
        })
    }
}
