//! The one error shape of the API: `application/problem+json` (RFC 9457) with a stable machine `code`.
//!
//! Rules return [`Error`]; handlers return [`Problems`], naming the statuses the operation can
//! answer, which is what the spec documents for it. The human text is chosen by `Accept-Language` (Vietnamese by default): the request
//! middleware stores the language in a task-local so the conversion needs no request in hand.

use poem_openapi::{ApiResponse, Object, payload::Json};

mod answers;
mod problem;

pub use answers::*;

/// Languages the ward's people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// Pick from an `Accept-Language` header: the first of `vi`/`en` listed wins, Vietnamese otherwise.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Vi;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag == "vi" || tag.starts_with("vi-") {
                Lang::Vi
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Vi)
    }

    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

tokio::task_local! {
    /// The language of the request being served (set by the ops middleware).
    pub static REQUEST_LANG: Lang;
}

/// The language of the current request, Vietnamese outside one.
pub fn current_lang() -> Lang {
    REQUEST_LANG.try_with(|l| *l).unwrap_or_default()
}

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Object, serde::Serialize, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
pub struct FieldError {
    /// JSON pointer-ish name of the field, e.g. `phone`.
    pub field: String,
    /// Stable machine code, e.g. `invalid_phone`.
    pub code: String,
    /// Human explanation in the request's language.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, vi: &str, en: &str) -> Self {
        FieldError {
            field: field.to_string(),
            code: code.to_string(),
            message: current_lang().pick(vi, en).to_string(),
        }
    }
}

/// The problem document (RFC 9457) every error response carries.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// URI naming the problem kind: `urn:wardline:problem:<code>`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub type_: String,
    /// Short human summary of the kind.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Human explanation of this occurrence.
    pub detail: String,
    /// Stable machine code for clients to branch on.
    pub code: String,
    /// Per-field validation errors (only for `validation_failed`).
    #[oai(default, skip_serializing_if_is_empty)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, to quote to the ward's IT team.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `illegal_transition`: the status the thing is in now.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    /// `illegal_transition`: the actions allowed in that status (possibly none).
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<String>>,
}

tokio::task_local! {
    /// The id of the request being served (set by the ops middleware).
    pub static REQUEST_ID: String;
}

/// Everything a rule can fail with. Each variant names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed (bad JSON, wrong types, unknown enum value).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 400: a parameter or the body could not be read as its type (`bad_request`, with the field
    /// named in `errors`).
    #[error("unreadable {field}: {reason}")]
    Unreadable { field: String, reason: String },
    /// 401: no credentials, or credentials that do not hold.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403: authenticated, but this role or person may not do this.
    #[error("forbidden")]
    Forbidden,
    /// 403 with a code saying what to do first (`password_change_required`).
    #[error("refused: {0}")]
    Refused(&'static str),
    /// 404: no such thing (or not visible to the caller).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 409: conflicts with the current state (duplicate phone, wrong lifecycle step).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// 409 `illegal_transition`: this action is not allowed in the current status; the problem
    /// says the status and the actions that are.
    #[error("illegal transition from {current}")]
    IllegalTransition {
        current: &'static str,
        allowed: Vec<&'static str>,
    },
    /// 412: a protocol version the server does not speak (`tus_version_unsupported`: the
    /// resumable uploads' `Tus-Resumable`).
    #[error("precondition failed: {0}")]
    PreconditionFailed(&'static str),
    /// 413: body larger than allowed.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: content type not accepted (`unsupported_media_type`; `unsupported_photo_type` for a
    /// photo in a format the ward does not read).
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(&'static str),
    /// 422: well-formed but invalid values.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 429: too many attempts; retry after the given seconds.
    #[error("rate limited")]
    RateLimited {
        code: &'static str,
        retry_after: u64,
    },
    /// 503: a dependency (database, object store) is unavailable; retry later.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// 500: a bug or an unexpected failure; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    /// A protocol-level answer made by the server around the operations, never by one: 405
    /// `method_not_allowed`, 408 `request_timeout`, 414 `uri_too_long`, 431
    /// `headers_too_large`, 400 `malformed_request`.
    #[error("http {0}: {1}")]
    Http(u16, &'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(field: &str, code: &str, vi: &str, en: &str) -> Self {
        Error::Validation(vec![FieldError::new(field, code, vi, en)])
    }
}

/// Every problem an operation can answer, one variant per status. Operations return [`Problems`],
/// which documents only the statuses the operation names and answers with this.
#[derive(Debug, ApiResponse)]
pub enum AnyProblem {
    /// Malformed request: bad JSON or parameters, wrong types, unknown enum values.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Missing, invalid, expired or revoked credentials.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The caller's role or identity does not allow this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// Not found, or not visible to the caller.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// Conflicts with the current state.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// A protocol version the server does not speak (the answer names the ones it does).
    #[oai(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Json<Problem>),
    /// Body too large.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// Unsupported content type.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// Well-formed but invalid values; see `errors` for each field.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// Too many requests; retry after `Retry-After` seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// Unexpected failure (logged with the request id).
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// A dependency is down; retry after `Retry-After` seconds.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u64),
}

impl From<Error> for AnyProblem {
    fn from(err: Error) -> Self {
        if let Error::Internal(e) = &err {
            tracing::error!(error = ?e, "internal error");
        }
        let p = Json(err.to_problem());
        match err {
            Error::BadRequest(_) | Error::Unreadable { .. } => AnyProblem::BadRequest(p),
            Error::Unauthorized(_) => AnyProblem::Unauthorized(p),
            Error::Forbidden | Error::Refused(_) => AnyProblem::Forbidden(p),
            Error::NotFound(_) => AnyProblem::NotFound(p),
            Error::Conflict(_) | Error::IllegalTransition { .. } => AnyProblem::Conflict(p),
            Error::PreconditionFailed(_) => AnyProblem::PreconditionFailed(p),
            Error::PayloadTooLarge => AnyProblem::PayloadTooLarge(p),
            Error::UnsupportedMediaType(_) => AnyProblem::UnsupportedMediaType(p),
            Error::Validation(_) => AnyProblem::Unprocessable(p),
            Error::RateLimited { retry_after, .. } => AnyProblem::TooManyRequests(p, retry_after),
            Error::Unavailable(_) => AnyProblem::Unavailable(p, 5),
            Error::Internal(_) => AnyProblem::Internal(p),
            // Made only around operations (see `problem_response`), never returned by one.
            Error::Http(..) => AnyProblem::BadRequest(p),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Error::Unavailable("database_unavailable");
        }
        Error::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<sqlx::Error> for AnyProblem {
    fn from(err: sqlx::Error) -> Self {
        Error::from(err).into()
    }
}

/// Map a framework error (request parsing, body limits, routing) onto the problem shape.
pub fn from_poem(err: &poem::Error) -> Error {
    use poem::http::StatusCode;
    use poem_openapi::error as oe;
    // The framework's parse errors name the field; say it in the problem, in the caller's
    // language, instead of passing poem's English text through.
    if let Some(e) = err.downcast_ref::<oe::ParseParamError>() {
        return unreadable_or_invalid(e.name.to_string(), &e.reason);
    }
    if let Some(e) = err.downcast_ref::<oe::ParsePathError>() {
        return Error::Unreadable {
            field: e.name.to_string(),
            reason: e.reason.clone(),
        };
    }
    if let Some(e) = err.downcast_ref::<oe::ParseRequestPayloadError>() {
        return unreadable_or_invalid(
            field_in(&e.reason).unwrap_or_else(|| "body".into()),
            &e.reason,
        );
    }
    if let Some(e) = err.downcast_ref::<oe::ParseMultipartError>() {
        return Error::Unreadable {
            field: field_in(&e.reason).unwrap_or_else(|| "multipart".into()),
            reason: e.reason.clone(),
        };
    }
    match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType("unsupported_media_type"),
        StatusCode::NOT_FOUND => Error::NotFound("route_not_found"),
        StatusCode::METHOD_NOT_ALLOWED => Error::Http(405, "method_not_allowed"),
        StatusCode::UNAUTHORIZED => Error::Unauthorized("missing_token"),
        s if s.is_client_error() => Error::BadRequest(err.to_string()),
        _ => Error::Internal(anyhow::anyhow!("{err}")),
    }
}

/// A value the framework could not read, or that the spec's validators refused (too long, out of
/// range: the spec's documented limits, checked before any rule runs): 400 naming the field.
fn unreadable_or_invalid(field: String, reason: &str) -> Error {
    Error::Unreadable {
        field,
        reason: reason.to_string(),
    }
}

/// The field a parse error's text names (`missing field `phone``, `field "lat"`), if any.
fn field_in(reason: &str) -> Option<String> {
    for (open, close) in [("field `", '`'), ("field \"", '"'), ("property \"", '"')] {
        if let Some(start) = reason.rfind(open) {
            let rest = &reason[start + open.len()..];
            if let Some(end) = rest.find(close) {
                let name = &rest[..end];
                if !name.is_empty() && name.len() <= 64 {
                    return Some(name.to_string());
                }
            }
        }
    }
    None
}

/// Parsing failures of parameters and bodies inside an operation become problems too.
pub fn bad_request(err: poem::Error) -> AnyProblem {
    from_poem(&err).into()
}

/// A problem response built outside an operation (middleware, non-OpenAPI routes).
pub fn problem_response(err: &Error) -> poem::Response {
    use poem::IntoResponse;
    let problem = err.to_problem();
    let status = poem::http::StatusCode::from_u16(problem.status)
        .unwrap_or(poem::http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut resp = poem::Response::builder()
        .status(status)
        .content_type("application/problem+json")
        .body(body)
        .into_response();
    match err {
        Error::RateLimited { retry_after, .. } => {
            resp.headers_mut()
                .insert("retry-after", (*retry_after).into());
        }
        Error::Unavailable(_) => {
            resp.headers_mut().insert("retry-after", 5u64.into());
        }
        _ => {}
    }
    resp
}

/// Whether the error means "the database cannot be reached right now" (retry later, 503).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            // 08xxx: connection exceptions; 57P01-03: shutting down / cannot connect now.
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
                // SQLite: busy/locked beyond the busy timeout.
                || (matches!(code, "5" | "6") && db.message().contains("locked"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_listed_order_and_quality() {
        assert_eq!(Lang::from_accept_language(None), Lang::Vi);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("fr, en;q=0.5, vi;q=0.8")),
            Lang::Vi
        );
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::Vi);
        assert_eq!(Lang::from_accept_language(Some(";;,q=")), Lang::Vi);
    }
}
