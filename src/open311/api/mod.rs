//! HTTP: the GeoReport v2 endpoints under `/open311/v2/` and the admins' key management.
//!
//! The format is the path's suffix. poem-openapi paths take parameters as whole segments only, so
//! a fixed path is declared twice, once per suffix (`services.json`, `services.xml`), and a path
//! ending in an id carries the suffix in that parameter (`services/{service_code}` is called as
//! `services/road_damage.xml`). Answers and errors are the spec's documents, not problem+json;
//! [`Reply`] documents them per format.

mod clients;
mod discovery;
mod requests;
mod services;
mod tokens;
mod updates;

use std::marker::PhantomData;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;

use super::doc::{Doc, Format};
use super::{O311Error, O311Result};
use crate::error::Error;
use crate::reports::Ctx;

pub use clients::ClientsApi;
pub use discovery::DiscoveryApi;
pub use requests::RequestsApi;
pub use services::ServicesApi;
pub use tokens::TokensApi;
pub use updates::UpdatesApi;
// The documents moved beside the rules; they stay reachable here.
pub use super::views::*;

/// Marks a response as already in its final shape, so the request middleware leaves an Open311
/// error as the spec's error list instead of turning it into problem+json.
#[derive(Debug, Clone, Copy)]
pub struct Shaped;

/// Which formats an operation answers in.
pub trait Formats: Send + Sync + 'static {
    /// The format of errors found before the handler runs (unparsable parameters or body).
    const DEFAULT: Format;
    const CONTENT_TYPES: &'static [&'static str];
}

/// `….json` operations.
pub struct JsonOnly;
/// `….xml` operations.
pub struct XmlOnly;
/// Operations whose last path parameter carries the suffix.
pub struct EitherFormat;

impl Formats for JsonOnly {
    const DEFAULT: Format = Format::Json;
    const CONTENT_TYPES: &'static [&'static str] = &[Format::JSON_TYPE];
}
impl Formats for XmlOnly {
    const DEFAULT: Format = Format::Xml;
    const CONTENT_TYPES: &'static [&'static str] = &[Format::XML_TYPE];
}
impl Formats for EitherFormat {
    const DEFAULT: Format = Format::Json;
    const CONTENT_TYPES: &'static [&'static str] = &[Format::JSON_TYPE, Format::XML_TYPE];
}

/// An Open311 answer: the document `T` describes (for the spec), or the spec's error list.
pub struct Reply<T, F> {
    format: Format,
    status: u16,
    doc: Doc,
    retry_after: Option<u64>,
    _marker: PhantomData<fn() -> (T, F)>,
}

impl<T, F: Formats> Reply<T, F> {
    fn new(format: Format, result: O311Result<Doc>) -> Self {
        match result {
            Ok(doc) => Reply {
                format,
                status: 200,
                doc,
                retry_after: None,
                _marker: PhantomData,
            },
            Err(e) => Self::error(format, e),
        }
    }

    fn error(format: Format, e: O311Error) -> Self {
        Reply {
            format,
            status: e.status,
            doc: e.doc(),
            retry_after: e.retry_after,
            _marker: PhantomData,
        }
    }
}

impl<T: Send, F: Formats> IntoResponse for Reply<T, F> {
    fn into_response(self) -> Response {
        let mut resp = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .content_type(self.format.content_type())
            .body(self.doc.render(self.format));
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert("retry-after", s.into());
        }
        resp.set_data(Shaped);
        resp
    }
}

fn media<S: Type>(types: &[&'static str]) -> Vec<MetaMediaType> {
    types
        .iter()
        .map(|ct| MetaMediaType {
            content_type: ct,
            schema: S::schema_ref(),
        })
        .collect()
}

impl<T: Type + Send, F: Formats> ApiResponse for Reply<T, F> {
    const BAD_REQUEST_HANDLER: bool = true;

    fn meta() -> MetaResponses {
        let error = |status: u16, description: &'static str| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: media::<Vec<ErrorDoc>>(F::CONTENT_TYPES),
            headers: vec![],
        };
        let retry_header = || MetaHeader {
            name: "Retry-After".into(),
            description: Some("Seconds to wait before trying again".into()),
            required: true,
            deprecated: false,
            schema: u64::schema_ref(),
        };
        let mut limited = error(
            429,
            "Too many writes with this api_key this hour; retry after `Retry-After` seconds",
        );
        limited.headers.push(retry_header());
        let mut unavailable = error(
            503,
            "A dependency is down; retry after `Retry-After` seconds",
        );
        unavailable.headers.push(retry_header());
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The document, in the format of the path's suffix (XML element names as in GeoReport v2)",
                    status: Some(200),
                    status_range: None,
                    content: media::<T>(F::CONTENT_TYPES),
                    headers: vec![],
                },
                error(400, "Malformed or invalid input (the spec's error list)"),
                error(403, "Missing, invalid or revoked api_key"),
                error(404, "No such service, request or token"),
                limited,
                error(500, "Unexpected failure (logged)"),
                unavailable,
            ],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
        <Vec<ErrorDoc>>::register(registry);
    }

    fn from_parse_request_error(err: poem::Error) -> Self {
        let description = if err.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            "send the form as application/x-www-form-urlencoded".to_string()
        } else {
            err.to_string()
        };
        Self::error(F::DEFAULT, O311Error::new(400, description))
    }
}

// ---- operations ----

/// Every Open311 operation, one struct per resource, in the order the spec lists them.
pub type Open311Api = (
    DiscoveryApi,
    ServicesApi,
    RequestsApi,
    TokensApi,
    UpdatesApi,
    ClientsApi,
);

/// The Open311 operations over the reports' context.
pub fn open311_api(state: Ctx) -> Open311Api {
    (
        DiscoveryApi {
            state: state.clone(),
        },
        ServicesApi {
            state: state.clone(),
        },
        RequestsApi {
            state: state.clone(),
        },
        TokensApi {
            state: state.clone(),
        },
        UpdatesApi {
            state: state.clone(),
        },
        ClientsApi { state },
    )
}

/// The format in a path parameter's suffix, or a 400 (in JSON: the suffix is what is unknown).
fn split_suffix(raw: &str) -> Result<(&str, Format), O311Error> {
    Format::split(raw).ok_or_else(|| {
        O311Error::bad(
            "Đường dẫn phải kết thúc bằng .json hoặc .xml",
            "The path must end in .json or .xml",
        )
    })
}

async fn with_suffix<T, F: Formats, Fut>(raw: &str, f: impl FnOnce(String) -> Fut) -> Reply<T, F>
where
    Fut: std::future::Future<Output = O311Result<Doc>>,
{
    match split_suffix(raw) {
        Ok((name, format)) => Reply::new(format, f(name.to_string()).await),
        Err(e) => Reply::error(Format::Json, e),
    }
}

/// An error for a request under `/open311/` that never reached an operation (unknown path, wrong
/// method, body over the limit), in the spec's shape and the path's format.
pub fn framework_error(path: &str, err: &Error) -> Response {
    let e = match err {
        Error::NotFound(_) => O311Error::new(
            404,
            crate::error::current_lang().pick(
                "Không có tài nguyên Open311 này",
                "No such Open311 resource",
            ),
        ),
        other => {
            let p = other.to_problem();
            O311Error::new(p.status, p.detail)
        }
    };
    Reply::<(), EitherFormat>::error(Format::of_path(path), e).into_response()
}

// Keep the doc-only types honest: the JSON they describe is what the rules build.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_docs_render_like_the_spec() {
        let e = O311Error::new(403, "no key");
        assert_eq!(
            e.doc().render(Format::Json),
            r#"[{"code":403,"description":"no key"}]"#
        );
    }
}
