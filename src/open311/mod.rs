//! Open311 GeoReport v2, JSON and XML, as a facade over field reports: services are the categories,
//! service requests are reports (created through the same rules, channel `open311`), and the
//! updates feed (mySociety's `servicerequestupdates`) is the reports' public history. The only
//! tables of its own are the client apps with their API keys, the keys' rate-limit ledger, and
//! which app sent which report.
//!
//! Errors follow the spec, not the problem shape: a list of `{code, description}` in the format
//! asked for, with the HTTP status as the code.

pub mod api;
pub mod doc;
pub mod repo;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, current_lang};
use crate::geo::{BBox, Point};
use crate::reports::Ctx;
use crate::reports::catalog::{self, Category, QuestionKind};
use crate::reports::repo::{self as reports_repo, ReportRow, Search};
use crate::reports::{self, NewReport, Status, Submitter};
use doc::{Doc, Node};
use repo::ClientRow;

/// Default window of `GET requests`, and the most rows one answer carries.
const DEFAULT_DAYS: i64 = 90;
const MAX_ROWS: i64 = 1000;
/// Most ids in one `service_request_id` list.
const MAX_IDS: usize = 200;
/// When this API last changed (discovery's `changeset`).
const CHANGESET: &str = "2026-11-25T00:00:00+07:00";

// ---- errors ----

/// An Open311 error: the HTTP status (also the `code` of each entry) and the descriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct O311Error {
    pub status: u16,
    pub descriptions: Vec<String>,
    pub retry_after: Option<u64>,
}

pub type O311Result<T> = Result<T, O311Error>;

impl O311Error {
    pub fn new(status: u16, description: impl Into<String>) -> O311Error {
        O311Error {
            status,
            descriptions: vec![description.into()],
            retry_after: None,
        }
    }
    /// 400 with a text in the request's language.
    pub fn bad(vi: &str, en: &str) -> O311Error {
        O311Error::new(400, current_lang().pick(vi, en))
    }

    pub fn doc(&self) -> Doc {
        Doc {
            root: "errors",
            body: Node::List(
                "error",
                self.descriptions
                    .iter()
                    .map(|d| {
                        Node::Obj(vec![
                            ("code", Node::Int(i64::from(self.status))),
                            ("description", Node::str(d.clone())),
                        ])
                    })
                    .collect(),
            ),
        }
    }
}

impl From<Error> for O311Error {
    fn from(err: Error) -> Self {
        if let Error::Internal(e) = &err {
            tracing::error!(error = ?e, "internal error");
        }
        let problem = err.to_problem();
        let status = match &err {
            // The spec answers bad input with 400, whether malformed or invalid.
            Error::BadRequest(_) | Error::Validation(_) | Error::Conflict(_) => 400,
            // …and missing or refused keys with 403.
            Error::Unauthorized(_) | Error::Forbidden => 403,
            _ => problem.status,
        };
        let descriptions = match &err {
            Error::Validation(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", open311_field(&f.field), f.message))
                .collect(),
            Error::Conflict(code) => vec![format!("{}: {}", code, problem.detail)],
            _ => vec![problem.detail],
        };
        O311Error {
            status,
            descriptions,
            retry_after: match err {
                Error::RateLimited { retry_after, .. } => Some(retry_after),
                Error::Unavailable(_) => Some(5),
                _ => None,
            },
        }
    }
}

impl From<sqlx::Error> for O311Error {
    fn from(err: sqlx::Error) -> Self {
        Error::from(err).into()
    }
}

/// Our field names as an Open311 client knows them.
fn open311_field(field: &str) -> String {
    match field {
        "lon" => "long".into(),
        "category_code" => "service_code".into(),
        f => match f.strip_prefix("answers.") {
            Some(code) => format!("attribute[{code}]"),
            None => f.to_string(),
        },
    }
}

// ---- client apps and their keys ----

/// A client app just issued, with its key (shown this once).
pub struct Issued {
    pub client: ClientRow,
    pub api_key: String,
}

fn check_text(
    value: &str,
    field: &str,
    max: usize,
    required: bool,
) -> crate::error::Result<String> {
    let Ok(v) = crate::text::clean(value, true) else {
        return Err(Error::validation(
            field,
            "invalid_text",
            "Nội dung không hợp lệ hoặc quá dài",
            "Invalid or too long",
        ));
    };
    if (required && v.is_empty()) || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "invalid_text",
            "Nội dung không hợp lệ hoặc quá dài",
            "Invalid or too long",
        ));
    }
    Ok(v.to_string())
}

/// Issue a key to a named client app (admins).
pub async fn issue_client(
    state: &Ctx,
    caller: &Caller,
    name: &str,
    contact: &str,
) -> crate::error::Result<Issued> {
    let name = check_text(name, "name", 100, true)?;
    let contact = check_text(contact, "contact", 200, false)?;
    let api_key = format!(
        "o311_{}",
        crate::auth::tokens::random_token(32).replace(['-', '_'], "x")
    );
    let id = Uuid::now_v7();
    let now = state.clock.now();
    repo::insert_client(
        &state.db,
        id,
        &name,
        &contact,
        &crate::auth::tokens::sha256_hex(&api_key),
        &api_key[..13],
        caller.account_id,
        now,
    )
    .await?;
    let client = repo::client(&state.db, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("client vanished"))?;
    Ok(Issued { client, api_key })
}

pub async fn revoke_client(state: &Ctx, id: Uuid) -> crate::error::Result<ClientRow> {
    if !repo::revoke(&state.db, id, state.clock.now()).await? {
        let exists = repo::client(&state.db, id).await?.is_some();
        return Err(if exists {
            Error::Conflict("already_revoked")
        } else {
            Error::NotFound("open311_client_not_found")
        });
    }
    repo::client(&state.db, id)
        .await?
        .ok_or(Error::NotFound("open311_client_not_found"))
}

/// The client app behind an `api_key`, allowed one more write within its hourly limit.
pub async fn authorize_write(state: &Ctx, api_key: Option<&str>) -> O311Result<ClientRow> {
    let lang = current_lang();
    let key = api_key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            O311Error::new(
                403,
                lang.pick(
                    "Thiếu api_key: ứng dụng cần khoá do quản trị viên phường cấp",
                    "api_key is required: the ward's administrators issue keys to client apps",
                ),
            )
        })?;
    let invalid = || {
        O311Error::new(
            403,
            lang.pick(
                "api_key không hợp lệ hoặc đã bị thu hồi",
                "Invalid or revoked api_key",
            ),
        )
    };
    if key.len() > 200 {
        return Err(invalid());
    }
    let client = repo::live_client_by_key(&state.db, &crate::auth::tokens::sha256_hex(key))
        .await?
        .ok_or_else(invalid)?;
    let now = state.clock.now();
    let hour = chrono::Duration::hours(1);
    let (used, oldest) = repo::uses_since(&state.db, client.open311_client_id, now - hour).await?;
    if used >= i64::from(state.settings.open311_writes_per_hour) {
        let retry_after = oldest
            .map(|t| (t + hour - now).num_seconds().max(1) as u64)
            .unwrap_or(60);
        return Err(Error::RateLimited {
            code: "open311_rate_limited",
            retry_after,
        }
        .into());
    }
    repo::record_use(&state.db, client.open311_client_id, now, now - hour).await?;
    Ok(client)
}

// ---- shared rendering ----

/// What rendering a page of reports needs, read once per answer.
struct Page {
    categories: HashMap<Uuid, Category>,
    units: HashMap<Uuid, String>,
    areas: HashMap<Uuid, String>,
    base: String,
    offset: FixedOffset,
}

impl Page {
    async fn load(state: &Ctx) -> O311Result<Page> {
        Ok(Page {
            categories: catalog::list(&state.db, true)
                .await?
                .into_iter()
                .map(|c| (c.category_id, c))
                .collect(),
            units: crate::org::list_units(&state.db)
                .await?
                .into_iter()
                .map(|u| (u.unit_id, u.name))
                .collect(),
            areas: crate::areas::list(&state.db)
                .await?
                .into_iter()
                .map(|a| (a.area_id, a.name))
                .collect(),
            base: state.objects.public_url(),
            offset: state.calendar.utc_offset(),
        })
    }

    /// A time as the ward reads it: `2026-05-01T08:00:00+07:00`.
    fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset)
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    fn photo_url(&self, id: Uuid) -> String {
        format!("{}/v1/media/{id}/public.jpg", self.base)
    }
}

fn status_name(s: Status) -> &'static str {
    if s.is_open() { "open" } else { "closed" }
}

/// mySociety's extended statuses.
fn extended_status(s: Status) -> &'static str {
    match s {
        Status::Submitted | Status::Reopened => "OPEN",
        Status::Received => "INVESTIGATING",
        Status::Assigned => "ACTION_SCHEDULED",
        Status::InProgress => "IN_PROGRESS",
        Status::Resolved | Status::Closed => "FIXED",
        Status::Rejected => "NO_FURTHER_ACTION",
        Status::Duplicate => "DUPLICATE",
    }
}

fn service_name(c: &Category) -> String {
    current_lang().pick(&c.name_vi, &c.name_en).to_string()
}

/// One report as a GeoReport `request`. Never anything about who reported it.
async fn request_node(state: &Ctx, ctx: &Page, r: ReportRow, extensions: bool) -> O311Result<Node> {
    let category = ctx.categories.get(&r.category_id).ok_or_else(|| {
        O311Error::from(Error::Internal(anyhow::anyhow!("report without category")))
    })?;
    let status = Status::parse(&r.status)
        .ok_or_else(|| O311Error::from(Error::Internal(anyhow::anyhow!("bad status"))))?;
    let media = reports_repo::report_media(&state.db, r.report_id).await?;
    let photos: Vec<Uuid> = media
        .iter()
        .filter(|(_, role)| role == "report")
        .map(|(id, _)| *id)
        .collect();
    // "After" photos while it stands resolved (a reopened report is not fixed), as in the app.
    let evidence: Vec<Uuid> = media
        .iter()
        .filter(|(_, role)| role == "evidence")
        .filter(|_| matches!(status, Status::Resolved | Status::Closed))
        .map(|(id, _)| *id)
        .collect();
    let events = reports_repo::events(&state.db, r.report_id).await?;
    let public: Vec<_> = events.iter().filter(|e| e.visibility == "public").collect();
    // What the ward said of where the request stands: the resolution's reply, or why it was
    // declined (the ward's latest public note). Nothing while it is open: a resident's words (a
    // reopening's reason) are not the ward's, nor is an earlier resolution's reply.
    let status_notes = match status {
        Status::Resolved | Status::Closed => r.public_reply.clone(),
        Status::Rejected | Status::Duplicate => public
            .iter()
            .rev()
            .find(|e| {
                !e.note.is_empty() && matches!(e.actor_role.as_deref(), Some("staff" | "admin"))
            })
            .map(|e| e.note.clone()),
        _ => None,
    };
    let shown = Point {
        lat: r.lat,
        lon: r.lon,
    }
    .rounded(category.public_decimals);
    let mut fields = vec![
        ("service_request_id", Node::str(r.report_id.to_string())),
        ("status", Node::str(status_name(status))),
        ("status_notes", Node::opt(status_notes)),
        ("service_name", Node::str(service_name(category))),
        ("service_code", Node::str(category.code.clone())),
        ("description", Node::str(r.description.clone())),
        (
            "agency_responsible",
            Node::opt(r.unit_id.and_then(|u| ctx.units.get(&u).cloned())),
        ),
        ("service_notice", Node::Null),
        ("requested_datetime", Node::str(ctx.time(r.created_at))),
        ("updated_datetime", Node::str(ctx.time(r.updated_at))),
        ("expected_datetime", Node::str(ctx.time(r.resolve_by))),
        // A category that rounds where its reports are also keeps their address from the public.
        (
            "address",
            Node::str(if category.public_decimals.is_some() {
                String::new()
            } else {
                r.address.clone()
            }),
        ),
        ("address_id", Node::Null),
        ("zipcode", Node::Null),
        ("lat", Node::Num(shown.lat)),
        ("long", Node::Num(shown.lon)),
        (
            "media_url",
            Node::opt(photos.first().map(|id| ctx.photo_url(*id))),
        ),
    ];
    if extensions {
        let urls = |ids: &[Uuid]| {
            Node::List(
                "photo",
                ids.iter().map(|id| Node::str(ctx.photo_url(*id))).collect(),
            )
        };
        fields.push((
            "extended_attributes",
            Node::Obj(vec![
                ("detailed_status", Node::str(status.as_str())),
                ("extended_status", Node::str(extended_status(status))),
                ("severity", Node::str(r.severity.clone())),
                // Not for a category that hides where its reports are (as in the app).
                (
                    "area",
                    Node::opt(
                        r.area_id
                            .filter(|_| category.public_decimals.is_none())
                            .and_then(|a| ctx.areas.get(&a).cloned()),
                    ),
                ),
                ("channel", Node::str(r.channel.clone())),
                (
                    "duplicate_of",
                    Node::opt(r.duplicate_of.map(|d| d.to_string())),
                ),
                ("me_too_count", Node::Int(i64::from(r.me_too_count))),
                ("photos", urls(&photos)),
                ("evidence_photos", urls(&evidence)),
            ]),
        ));
        fields.push((
            "notes",
            Node::List(
                "note",
                public
                    .iter()
                    .map(|e| {
                        Node::Obj(vec![
                            ("datetime", Node::str(ctx.time(e.created_at))),
                            ("type", Node::str(e.kind.clone())),
                            (
                                "status",
                                Node::opt(
                                    e.to_status
                                        .as_deref()
                                        .and_then(Status::parse)
                                        .map(|s| s.as_str()),
                                ),
                            ),
                            ("summary", Node::str(e.note.clone())),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    Ok(Node::Obj(fields))
}

// ---- discovery and services ----

pub fn discovery(state: &Ctx) -> Doc {
    let base = state.objects.public_url();
    let lang = current_lang();
    Doc {
        root: "discovery",
        body: Node::Obj(vec![
            ("changeset", Node::str(CHANGESET)),
            (
                "contact",
                Node::str(lang.pick(
                    "Bộ phận công nghệ thông tin của phường",
                    "The ward's IT team",
                )),
            ),
            (
                "key_service",
                Node::str(lang.pick(
                    "Quản trị viên phường cấp api_key cho từng ứng dụng (POST /v1/admin/open311/clients)",
                    "The ward's administrators issue an api_key per client app (POST /v1/admin/open311/clients)",
                )),
            ),
            (
                "endpoints",
                Node::List(
                    "endpoint",
                    vec![Node::Obj(vec![
                        (
                            "specification",
                            Node::str("http://wiki.open311.org/GeoReport_v2"),
                        ),
                        ("url", Node::str(format!("{base}/open311/v2"))),
                        ("changeset", Node::str(CHANGESET)),
                        ("type", Node::str("production")),
                        (
                            "formats",
                            Node::List(
                                "format",
                                vec![Node::str("text/xml"), Node::str("application/json")],
                            ),
                        ),
                    ])],
                ),
            ),
        ]),
    }
}

pub async fn services(state: &Ctx) -> O311Result<Doc> {
    let list = catalog::list(&state.db, false).await?;
    Ok(Doc {
        root: "services",
        body: Node::List(
            "service",
            list.iter()
                .map(|c| {
                    Node::Obj(vec![
                        ("service_code", Node::str(c.code.clone())),
                        ("service_name", Node::str(service_name(c))),
                        (
                            "description",
                            Node::str(format!("{} / {}", c.name_vi, c.name_en)),
                        ),
                        ("metadata", Node::Bool(!c.questions.is_empty())),
                        ("type", Node::str("realtime")),
                        ("keywords", Node::str(c.group_code.clone())),
                        ("group", Node::str(c.group_code.clone())),
                    ])
                })
                .collect(),
        ),
    })
}

fn unknown_service() -> O311Error {
    O311Error::new(
        404,
        current_lang().pick(
            "service_code: không có dịch vụ này",
            "service_code: no such service",
        ),
    )
}

async fn active_category(state: &Ctx, code: &str) -> O311Result<Category> {
    if code.is_empty() || code.len() > 40 {
        return Err(unknown_service());
    }
    state
        .categories
        .by_code(&state.db, code)
        .await?
        .filter(|c| c.active)
        .ok_or_else(unknown_service)
}

fn datatype(kind: QuestionKind) -> &'static str {
    match kind {
        QuestionKind::String => "string",
        QuestionKind::Number => "number",
        QuestionKind::Datetime => "datetime",
        QuestionKind::Text => "text",
        QuestionKind::SingleChoice => "singlevaluelist",
        QuestionKind::MultiChoice => "multivaluelist",
    }
}

pub async fn service_definition(state: &Ctx, code: &str) -> O311Result<Doc> {
    let c = active_category(state, code).await?;
    let lang = current_lang();
    let attributes = c
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            Node::Obj(vec![
                ("variable", Node::Bool(true)),
                ("code", Node::str(q.key.clone())),
                ("datatype", Node::str(datatype(q.kind))),
                ("required", Node::Bool(q.required)),
                (
                    "datatype_description",
                    Node::str(match q.kind {
                        QuestionKind::Datetime => "RFC 3339, e.g. 2026-05-01T08:00:00+07:00",
                        QuestionKind::MultiChoice => "attribute[code][]=key, once per value",
                        _ => "",
                    }),
                ),
                ("order", Node::Int(i as i64 + 1)),
                (
                    "description",
                    Node::str(lang.pick(&q.label_vi, &q.label_en)),
                ),
                (
                    "values",
                    Node::List(
                        "value",
                        q.choices
                            .iter()
                            .map(|v| Node::Obj(vec![("key", Node::str(v)), ("name", Node::str(v))]))
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    Ok(Doc {
        root: "service_definition",
        body: Node::Obj(vec![
            ("service_code", Node::str(c.code.clone())),
            ("attributes", Node::List("attribute", attributes)),
        ]),
    })
}

// ---- parameters ----

/// Form or query pairs, as sent.
pub type Pairs = Vec<(String, String)>;

fn first<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_f64(raw: &str, field: &str) -> O311Result<f64> {
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
fn parse_time(raw: &str, field: &str, offset: FixedOffset) -> O311Result<DateTime<Utc>> {
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

fn parse_bool_param(raw: Option<&str>, field: &str) -> O311Result<bool> {
    match raw.map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(O311Error::bad(
            &format!("{field}: phải là true hoặc false"),
            &format!("{field}: must be true or false"),
        )),
    }
}

fn parse_count(raw: Option<&str>, field: &str, min: i64, max: i64) -> O311Result<Option<i64>> {
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

fn check_window(
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

fn parse_request_id(raw: &str) -> O311Result<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        O311Error::bad(
            "service_request_id: mã không hợp lệ",
            "service_request_id: malformed id",
        )
    })
}

// ---- requests ----

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

/// The filters of `GET requests`, as sent.
#[derive(Debug, Default)]
pub struct RequestQuery {
    pub service_request_id: Option<String>,
    pub service_code: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub status: Option<String>,
    pub page: Option<String>,
    pub page_size: Option<String>,
    pub updated_after: Option<String>,
    pub updated_before: Option<String>,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub radius: Option<String>,
    pub extensions: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    nonempty_str(v.as_deref())
}

fn nonempty_str(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

pub async fn list_requests(state: &Ctx, q: &RequestQuery) -> O311Result<Doc> {
    let extensions = parse_bool_param(q.extensions.as_deref(), "extensions")?;
    let ctx = Page::load(state).await?;
    let offset = ctx.offset;
    let rows = if let Some(ids) = nonempty(&q.service_request_id) {
        // The spec: a list of ids overrides every other filter.
        let ids: Vec<&str> = ids.split(',').filter(|s| !s.trim().is_empty()).collect();
        if ids.len() > MAX_IDS {
            return Err(O311Error::bad(
                &format!("service_request_id: tối đa {MAX_IDS} mã"),
                &format!("service_request_id: at most {MAX_IDS} ids"),
            ));
        }
        let mut rows = vec![];
        for raw in ids {
            if let Some(r) = reports_repo::report(&state.db, parse_request_id(raw)?).await? {
                rows.push(r);
            }
        }
        rows
    } else {
        let start = nonempty(&q.start_date)
            .map(|r| parse_time(r, "start_date", offset))
            .transpose()?;
        let end = nonempty(&q.end_date)
            .map(|r| parse_time(r, "end_date", offset))
            .transpose()?;
        check_window(start, end, ("start_date", "end_date"))?;
        let updated_after = nonempty(&q.updated_after)
            .map(|r| parse_time(r, "updated_after", offset))
            .transpose()?;
        let updated_before = nonempty(&q.updated_before)
            .map(|r| parse_time(r, "updated_before", offset))
            .transpose()?;
        check_window(
            updated_after,
            updated_before,
            ("updated_after", "updated_before"),
        )?;
        let window = chrono::Duration::days(DEFAULT_DAYS);
        let (created_from, created_to) = match (start, end) {
            (None, None) => (Some(state.clock.now() - window), None),
            (None, Some(e)) => (Some(e - window), Some(e)),
            (s, e) => (s, e),
        };
        let mut codes = vec![];
        if let Some(raw) = nonempty(&q.service_code) {
            for code in raw.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                codes.push(active_category(state, code).await?.code);
            }
        }
        let mut statuses = vec![];
        if let Some(raw) = nonempty(&q.status) {
            for s in raw.split(',').map(str::trim) {
                let set: &[Status] = match s {
                    "open" => &Status::OPEN,
                    "closed" => &[
                        Status::Resolved,
                        Status::Rejected,
                        Status::Duplicate,
                        Status::Closed,
                    ],
                    _ => {
                        return Err(O311Error::bad(
                            "status: open hoặc closed",
                            "status: open or closed",
                        ));
                    }
                };
                statuses.extend(set.iter().map(|s| s.as_str().to_string()));
            }
        }
        let near = match (nonempty(&q.lat), nonempty(&q.long)) {
            (Some(a), Some(o)) => {
                let p = Point::parse(parse_f64(a, "lat")?, parse_f64(o, "long")?)?;
                let radius = match nonempty(&q.radius) {
                    None => 1000.0,
                    Some(r) => {
                        let r = parse_f64(r, "radius")?;
                        if !(r > 0.0 && r <= 50_000.0) {
                            return Err(O311Error::bad(
                                "radius: từ 0 đến 50000 m",
                                "radius: more than 0 and at most 50000 m",
                            ));
                        }
                        r
                    }
                };
                Some((p, radius))
            }
            (None, None) if nonempty(&q.radius).is_none() => None,
            _ => {
                return Err(O311Error::bad(
                    "lat, long: cần gửi cả hai (radius đi kèm lat và long)",
                    "lat and long go together (and radius needs them)",
                ));
            }
        };
        // A radius search leaves out the categories that hide where their reports are (they show
        // rounded): whether a report is within a radius of any point, and so which page another
        // report lands on, would tell how far its exact point is. They are listed by other means.
        if near.is_some() {
            let exact = |code: &str| {
                ctx.categories
                    .values()
                    .any(|c| c.code == code && c.public_decimals.is_none())
            };
            if codes.is_empty() {
                codes = ctx
                    .categories
                    .values()
                    .filter(|c| c.public_decimals.is_none())
                    .map(|c| c.code.clone())
                    .collect();
            } else {
                codes.retain(|c| exact(c));
            }
            if codes.is_empty() {
                return Ok(Doc {
                    root: "service_requests",
                    body: Node::List("request", vec![]),
                });
            }
        }
        let page_size =
            parse_count(q.page_size.as_deref(), "page_size", 1, MAX_ROWS)?.unwrap_or(MAX_ROWS);
        let page = parse_count(q.page.as_deref(), "page", 1, 1_000_000)?.unwrap_or(1);
        let search = Search {
            category_codes: codes,
            statuses,
            created_from,
            created_to,
            updated_from: updated_after,
            updated_to: updated_before,
            bbox: near.map(|(p, r)| BBox::around(p, r)),
            limit: page_size,
            offset: (page - 1).saturating_mul(page_size),
        };
        let mut rows = reports_repo::search(&state.db, &search).await?;
        if let Some((p, r)) = near {
            rows.retain(|row| {
                p.distance_m(Point {
                    lat: row.lat,
                    lon: row.lon,
                }) <= r
            });
        }
        rows
    };
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(request_node(state, &ctx, r, extensions).await?);
    }
    Ok(Doc {
        root: "service_requests",
        body: Node::List("request", items),
    })
}

pub async fn get_request(state: &Ctx, id: &str, extensions: Option<&str>) -> O311Result<Doc> {
    let extensions = parse_bool_param(extensions, "extensions")?;
    let id = parse_request_id(id)?;
    let row = reports_repo::report(&state.db, id).await?.ok_or_else(|| {
        O311Error::new(
            404,
            current_lang().pick(
                "service_request_id: không có yêu cầu này",
                "service_request_id: no such request",
            ),
        )
    })?;
    let ctx = Page::load(state).await?;
    Ok(Doc {
        root: "service_requests",
        body: Node::List(
            "request",
            vec![request_node(state, &ctx, row, extensions).await?],
        ),
    })
}

pub async fn token(state: &Ctx, token: &str) -> O311Result<Doc> {
    let not_found = || {
        O311Error::new(
            404,
            current_lang().pick("token: không có mã này", "token: no such token"),
        )
    };
    if token.is_empty() || token.len() > 64 {
        return Err(not_found());
    }
    let id = repo::report_for_token(&state.db, token)
        .await?
        .ok_or_else(not_found)?;
    Ok(Doc {
        root: "service_requests",
        body: Node::List(
            "request",
            vec![Node::Obj(vec![
                ("service_request_id", Node::str(id.to_string())),
                ("token", Node::str(token)),
            ])],
        ),
    })
}

// ---- updates (mySociety's servicerequestupdates) ----

pub async fn updates(
    state: &Ctx,
    start_date: Option<&str>,
    end_date: Option<&str>,
) -> O311Result<Doc> {
    let offset = state.calendar.utc_offset();
    let start = nonempty_str(start_date)
        .map(|r| parse_time(r, "start_date", offset))
        .transpose()?;
    let end = nonempty_str(end_date)
        .map(|r| parse_time(r, "end_date", offset))
        .transpose()?;
    check_window(start, end, ("start_date", "end_date"))?;
    let now = state.clock.now();
    let end = end.unwrap_or(now);
    let start = start.unwrap_or(end - chrono::Duration::days(DEFAULT_DAYS));
    let events = reports_repo::public_events_between(&state.db, start, end, MAX_ROWS).await?;
    let ctx = Page::load(state).await?;
    let mut current: HashMap<Uuid, Option<Status>> = HashMap::new();
    let mut items = Vec::with_capacity(events.len());
    for e in events {
        let status = match e.to_status.as_deref().and_then(Status::parse) {
            Some(s) => Some(s),
            None => match current.get(&e.report_id) {
                Some(s) => *s,
                None => {
                    let s = reports_repo::report(&state.db, e.report_id)
                        .await?
                        .and_then(|r| Status::parse(&r.status));
                    current.insert(e.report_id, s);
                    s
                }
            },
        };
        items.push(Node::Obj(vec![
            ("update_id", Node::str(e.report_event_id.to_string())),
            ("service_request_id", Node::str(e.report_id.to_string())),
            ("status", Node::opt(status.map(extended_status))),
            ("updated_datetime", Node::str(ctx.time(e.created_at))),
            ("description", Node::str(e.note)),
            ("media_url", Node::Null),
        ]));
    }
    Ok(Doc {
        root: "service_request_updates",
        body: Node::List("request_update", items),
    })
}

/// A comment on an open request from a keyed client app.
pub async fn post_update(state: &Ctx, form: &Pairs) -> O311Result<Doc> {
    authorize_write(state, first(form, "api_key")).await?;
    let id = parse_request_id(first(form, "service_request_id").unwrap_or(""))?;
    let text = first(form, "description").unwrap_or("");
    let update_id = reports::app_comment(state, id, text)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => O311Error::new(
                404,
                current_lang().pick(
                    "service_request_id: không có yêu cầu này",
                    "service_request_id: no such request",
                ),
            ),
            e => e.into(),
        })?;
    Ok(Doc {
        root: "service_request_updates",
        body: Node::List(
            "request_update",
            vec![Node::Obj(vec![(
                "update_id",
                Node::str(update_id.to_string()),
            )])],
        ),
    })
}
