//! HTTP: the GeoReport v2 endpoints under `/open311/v2/` and the admins' key management.
//!
//! The format is the path's suffix. poem-openapi paths take parameters as whole segments only, so
//! a fixed path is declared twice, once per suffix (`services.json`, `services.xml`), and a path
//! ending in an id carries the suffix in that parameter (`services/{service_code}` is called as
//! `services/road_damage.xml`). Answers and errors are the spec's documents, not problem+json;
//! [`Reply`] documents them per format.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Form, Json};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::doc::{Doc, Format};
use super::{O311Error, O311Result, RequestQuery};
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{ApiError, Error, NoBodyError};
use crate::open311 as rules;
use crate::reports::Ctx;
use crate::tags::ApiTags;

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

// ---- documents, for the spec (the answers are built as `Doc` trees in the rules) ----

/// One error (`<errors><error>`).
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311Error")]
pub struct ErrorDoc {
    /// The HTTP status.
    pub code: i32,
    pub description: String,
}

/// `<discovery>`.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311Discovery")]
pub struct DiscoveryDoc {
    pub changeset: DateTime<Utc>,
    pub contact: String,
    pub key_service: String,
    /// `<endpoints><endpoint>`.
    pub endpoints: Vec<EndpointDoc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311Endpoint")]
pub struct EndpointDoc {
    pub specification: String,
    pub url: String,
    pub changeset: DateTime<Utc>,
    #[oai(rename = "type")]
    pub kind: String,
    /// `<formats><format>`.
    pub formats: Vec<String>,
}

/// A service: one of the ward's report categories (`<services><service>`).
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311Service")]
pub struct ServiceDoc {
    pub service_code: String,
    /// In the request's language (`Accept-Language`, Vietnamese by default).
    pub service_name: String,
    pub description: String,
    /// True when the service has attributes (see `services/{service_code}`).
    pub metadata: bool,
    /// Always `realtime`: requests are created at once.
    #[oai(rename = "type")]
    pub kind: String,
    pub keywords: String,
    pub group: String,
}

/// `<service_definition>`.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311ServiceDefinition")]
pub struct ServiceDefinitionDoc {
    pub service_code: String,
    /// `<attributes><attribute>`.
    pub attributes: Vec<AttributeDoc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311Attribute")]
pub struct AttributeDoc {
    pub variable: bool,
    /// Send the answer as `attribute[code]` (or `attribute[code][]` per value of a multivaluelist).
    pub code: String,
    /// string, number, datetime, text, singlevaluelist or multivaluelist.
    pub datatype: String,
    pub required: bool,
    pub datatype_description: String,
    pub order: i32,
    pub description: String,
    /// `<values><value>`.
    pub values: Vec<AttributeValueDoc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311AttributeValue")]
pub struct AttributeValueDoc {
    pub key: String,
    pub name: String,
}

/// A service request: one report (`<service_requests><request>`). Never who reported it.
/// Like every GeoReport v2 answer it carries each field the spec lists, `null` (an empty element
/// in XML) where there is no value: those fields are `nullable` here.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311Request")]
pub struct RequestDoc {
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: String,
    /// The ward's last public reply.
    #[oai(nullable)]
    pub status_notes: Option<String>,
    pub service_name: String,
    pub service_code: String,
    pub description: String,
    /// The unit handling it.
    #[oai(nullable)]
    pub agency_responsible: Option<String>,
    #[oai(nullable)]
    pub service_notice: Option<String>,
    /// Times carry the ward's offset (+07:00).
    pub requested_datetime: DateTime<Utc>,
    pub updated_datetime: DateTime<Utc>,
    /// The resolve-by deadline.
    pub expected_datetime: DateTime<Utc>,
    pub address: String,
    #[oai(nullable)]
    pub address_id: Option<String>,
    #[oai(nullable)]
    pub zipcode: Option<String>,
    /// Rounded when the category says so.
    pub lat: f64,
    pub long: f64,
    /// The public, metadata-free copy of the first photo.
    #[oai(nullable)]
    pub media_url: Option<String>,
    /// With `extensions=true`.
    pub extended_attributes: Option<ExtendedDoc>,
    /// With `extensions=true`: the public history (`<notes><note>`).
    pub notes: Option<Vec<NoteDoc>>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311ExtendedAttributes")]
pub struct ExtendedDoc {
    /// The ward's own status (submitted, received, assigned, in_progress, resolved, rejected,
    /// duplicate, closed, reopened).
    pub detailed_status: String,
    /// mySociety's: OPEN, INVESTIGATING, ACTION_SCHEDULED, IN_PROGRESS, FIXED, NO_FURTHER_ACTION,
    /// DUPLICATE.
    pub extended_status: String,
    pub severity: String,
    /// The neighbourhood (khu phố).
    #[oai(nullable)]
    pub area: Option<String>,
    /// app, counter, phone or open311.
    pub channel: String,
    #[oai(nullable)]
    pub duplicate_of: Option<String>,
    pub me_too_count: i32,
    /// `<photos><photo>`: public copies.
    pub photos: Vec<String>,
    /// `<evidence_photos><photo>`: after photos.
    pub evidence_photos: Vec<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311Note")]
pub struct NoteDoc {
    pub datetime: DateTime<Utc>,
    #[oai(rename = "type")]
    pub kind: String,
    #[oai(nullable)]
    pub status: Option<String>,
    pub summary: String,
}

/// The answer to a new request.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311RequestCreated")]
pub struct CreatedDoc {
    pub service_request_id: String,
    /// Also answers `tokens/{token}`.
    pub token: String,
    /// A possible duplicate nearby, if any.
    #[oai(nullable)]
    pub service_notice: Option<String>,
    #[oai(nullable)]
    pub account_id: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311Token")]
pub struct TokenDoc {
    pub service_request_id: String,
    pub token: String,
}

/// One change (`<service_request_updates><request_update>`).
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311RequestUpdate")]
pub struct UpdateDoc {
    pub update_id: String,
    pub service_request_id: String,
    /// mySociety's extended status.
    #[oai(nullable)]
    pub status: Option<String>,
    pub updated_datetime: DateTime<Utc>,
    pub description: String,
    #[oai(nullable)]
    pub media_url: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311UpdateCreated")]
pub struct UpdateCreatedDoc {
    pub update_id: String,
}

/// The form of `POST requests`. Answers to the service's attributes go in `attribute[code]=value`,
/// or `attribute[code][]=value` once per value of a multivaluelist.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311NewRequest")]
pub struct NewRequestDoc {
    /// Issued by the ward's administrators to the client app.
    pub api_key: String,
    pub service_code: String,
    /// Required with `long` (this ward does not geocode `address_string`).
    pub lat: f64,
    pub long: f64,
    pub address_string: Option<String>,
    /// 1 to 4000 characters.
    pub description: String,
    /// A link to the app's photo (required for services that need a photo); kept for staff.
    pub media_url: Option<String>,
    /// Contact details: staff only, and not kept for services that keep reporters anonymous.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub jurisdiction_id: Option<String>,
}

/// The form of `POST servicerequestupdates`: a comment on an open request.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, rename = "Open311NewUpdate")]
pub struct NewUpdateDoc {
    pub api_key: String,
    pub service_request_id: String,
    /// 1 to 2000 characters.
    pub description: String,
}

/// A form's fields as sent (`attribute[…]` keys cannot be struct fields); `D` documents them.
pub struct FormPairs<D>(pub Vec<(String, String)>, PhantomData<fn() -> D>);

impl<'de, D> serde::Deserialize<'de> for FormPairs<D> {
    fn deserialize<De: serde::Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        Vec::<(String, String)>::deserialize(d).map(|v| FormPairs(v, PhantomData))
    }
}

impl<D: Type> Type for FormPairs<D> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        D::name()
    }
    fn schema_ref() -> MetaSchemaRef {
        D::schema_ref()
    }
    fn register(registry: &mut Registry) {
        D::register(registry);
    }
    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }
    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

// ---- admin views ----

/// A client app allowed to write through Open311 (its key is never shown again).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Open311ClientView {
    pub id: Uuid,
    pub name: String,
    pub contact: String,
    /// The key's first characters, to tell keys apart.
    pub key_prefix: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<super::repo::ClientRow> for Open311ClientView {
    fn from(c: super::repo::ClientRow) -> Self {
        Open311ClientView {
            id: c.open311_client_id,
            name: c.name,
            contact: c.contact,
            key_prefix: c.key_prefix,
            revoked_at: c.revoked_at,
            last_used_at: c.last_used_at,
            created_at: c.created_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Open311ClientInput {
    /// The app, e.g. `FixMyStreet Việt Nam`.
    #[oai(validator(max_length = 400))]
    pub name: String,
    /// Who to call about it.
    #[oai(default, validator(max_length = 800))]
    pub contact: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Open311ClientIssued {
    pub client: Open311ClientView,
    /// The key, shown this once: the app sends it as `api_key`. Only its SHA-256 is kept.
    pub api_key: String,
}

#[derive(ApiResponse)]
enum ClientIssued {
    /// Issued.
    #[oai(status = 201)]
    Created(Json<Open311ClientIssued>),
}

// ---- operations ----

pub struct Open311Api {
    pub state: Ctx,
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

type NewRequestForm = Form<FormPairs<NewRequestDoc>>;
type NewUpdateForm = Form<FormPairs<NewUpdateDoc>>;

#[OpenApi(tag = "ApiTags::Open311")]
impl Open311Api {
    /// Discovery: where the endpoint is and what it speaks (JSON)
    #[oai(
        path = "/open311/v2/discovery.json",
        method = "get",
        operation_id = "open311_discovery_json"
    )]
    async fn discovery_json(&self) -> Reply<DiscoveryDoc, JsonOnly> {
        Reply::new(Format::Json, Ok(rules::discovery(&self.state)))
    }

    /// Discovery (XML)
    #[oai(
        path = "/open311/v2/discovery.xml",
        method = "get",
        operation_id = "open311_discovery_xml"
    )]
    async fn discovery_xml(&self) -> Reply<DiscoveryDoc, XmlOnly> {
        Reply::new(Format::Xml, Ok(rules::discovery(&self.state)))
    }

    /// Services: the report categories (JSON)
    ///
    /// `jurisdiction_id` is accepted and ignored: this endpoint serves one ward.
    #[oai(
        path = "/open311/v2/services.json",
        method = "get",
        operation_id = "open311_services_json"
    )]
    async fn services_json(
        &self,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<ServiceDoc>, JsonOnly> {
        let _ = jurisdiction_id;
        Reply::new(Format::Json, rules::services(&self.state).await)
    }

    /// Services (XML)
    #[oai(
        path = "/open311/v2/services.xml",
        method = "get",
        operation_id = "open311_services_xml"
    )]
    async fn services_xml(
        &self,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<ServiceDoc>, XmlOnly> {
        let _ = jurisdiction_id;
        Reply::new(Format::Xml, rules::services(&self.state).await)
    }

    /// A service's definition: its attributes (the category's questions)
    #[oai(
        path = "/open311/v2/services/:service_code",
        method = "get",
        operation_id = "open311_service_definition"
    )]
    async fn service_definition(
        &self,
        /// The service code with the format suffix: `road_damage.json` or `road_damage.xml`.
        service_code: Path<String>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<ServiceDefinitionDoc, EitherFormat> {
        let _ = jurisdiction_id;
        with_suffix(&service_code.0, |code| async move {
            rules::service_definition(&self.state, &code).await
        })
        .await
    }

    /// Service requests: search (JSON)
    ///
    /// `service_request_id` (comma list) overrides every other filter. Default: requests of the
    /// last 90 days, at most 1000. Extensions: `page`/`page_size`, `updated_after`/`updated_before`,
    /// `lat`/`long`/`radius` (metres, default 1000), `extensions=true`.
    #[oai(
        path = "/open311/v2/requests.json",
        method = "get",
        operation_id = "open311_requests_json"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn requests_json(
        &self,
        service_request_id: Query<Option<String>>,
        service_code: Query<Option<String>>,
        start_date: Query<Option<String>>,
        end_date: Query<Option<String>>,
        status: Query<Option<String>>,
        page: Query<Option<String>>,
        page_size: Query<Option<String>>,
        updated_after: Query<Option<String>>,
        updated_before: Query<Option<String>>,
        lat: Query<Option<String>>,
        long: Query<Option<String>>,
        radius: Query<Option<String>>,
        extensions: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<RequestDoc>, JsonOnly> {
        let _ = jurisdiction_id;
        let q = RequestQuery {
            service_request_id: service_request_id.0,
            service_code: service_code.0,
            start_date: start_date.0,
            end_date: end_date.0,
            status: status.0,
            page: page.0,
            page_size: page_size.0,
            updated_after: updated_after.0,
            updated_before: updated_before.0,
            lat: lat.0,
            long: long.0,
            radius: radius.0,
            extensions: extensions.0,
        };
        Reply::new(Format::Json, rules::list_requests(&self.state, &q).await)
    }

    /// Service requests: search (XML)
    #[oai(
        path = "/open311/v2/requests.xml",
        method = "get",
        operation_id = "open311_requests_xml"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn requests_xml(
        &self,
        service_request_id: Query<Option<String>>,
        service_code: Query<Option<String>>,
        start_date: Query<Option<String>>,
        end_date: Query<Option<String>>,
        status: Query<Option<String>>,
        page: Query<Option<String>>,
        page_size: Query<Option<String>>,
        updated_after: Query<Option<String>>,
        updated_before: Query<Option<String>>,
        lat: Query<Option<String>>,
        long: Query<Option<String>>,
        radius: Query<Option<String>>,
        extensions: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<RequestDoc>, XmlOnly> {
        let _ = jurisdiction_id;
        let q = RequestQuery {
            service_request_id: service_request_id.0,
            service_code: service_code.0,
            start_date: start_date.0,
            end_date: end_date.0,
            status: status.0,
            page: page.0,
            page_size: page_size.0,
            updated_after: updated_after.0,
            updated_before: updated_before.0,
            lat: lat.0,
            long: long.0,
            radius: radius.0,
            extensions: extensions.0,
        };
        Reply::new(Format::Xml, rules::list_requests(&self.state, &q).await)
    }

    /// Create a service request: a real report, channel `open311` (JSON; needs `api_key`)
    ///
    /// The same rules as the app: the ward's service area, the category's required answers,
    /// 1–4000 characters of description. An open request of the same service nearby is named in
    /// `service_notice`.
    #[oai(
        path = "/open311/v2/requests.json",
        method = "post",
        operation_id = "open311_create_request_json"
    )]
    async fn create_json(&self, form: NewRequestForm) -> Reply<Vec<CreatedDoc>, JsonOnly> {
        Reply::new(
            Format::Json,
            rules::create_request(&self.state, &form.0.0).await,
        )
    }

    /// Create a service request (XML; needs `api_key`)
    #[oai(
        path = "/open311/v2/requests.xml",
        method = "post",
        operation_id = "open311_create_request_xml"
    )]
    async fn create_xml(&self, form: NewRequestForm) -> Reply<Vec<CreatedDoc>, XmlOnly> {
        Reply::new(
            Format::Xml,
            rules::create_request(&self.state, &form.0.0).await,
        )
    }

    /// One service request
    #[oai(
        path = "/open311/v2/requests/:service_request_id",
        method = "get",
        operation_id = "open311_request"
    )]
    async fn request(
        &self,
        /// The id with the format suffix: `<id>.json` or `<id>.xml`.
        service_request_id: Path<String>,
        /// `true` adds `extended_attributes` and `notes`.
        extensions: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<RequestDoc>, EitherFormat> {
        let _ = jurisdiction_id;
        with_suffix(&service_request_id.0, |id| async move {
            rules::get_request(&self.state, &id, extensions.0.as_deref()).await
        })
        .await
    }

    /// The request id behind a token
    #[oai(
        path = "/open311/v2/tokens/:token",
        method = "get",
        operation_id = "open311_token"
    )]
    async fn token(
        &self,
        /// The token with the format suffix: `<token>.json` or `<token>.xml`.
        token: Path<String>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<TokenDoc>, EitherFormat> {
        let _ = jurisdiction_id;
        with_suffix(
            &token.0,
            |t| async move { rules::token(&self.state, &t).await },
        )
        .await
    }

    /// Updates of every request in a window: status changes and public replies (JSON)
    ///
    /// mySociety's `servicerequestupdates` extension. Default window: the last 90 days, at most
    /// 1000 updates, oldest first.
    #[oai(
        path = "/open311/v2/servicerequestupdates.json",
        method = "get",
        operation_id = "open311_updates_json"
    )]
    async fn updates_json(
        &self,
        start_date: Query<Option<String>>,
        end_date: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<UpdateDoc>, JsonOnly> {
        let _ = jurisdiction_id;
        Reply::new(
            Format::Json,
            rules::updates(&self.state, start_date.0.as_deref(), end_date.0.as_deref()).await,
        )
    }

    /// Updates (XML)
    #[oai(
        path = "/open311/v2/servicerequestupdates.xml",
        method = "get",
        operation_id = "open311_updates_xml"
    )]
    async fn updates_xml(
        &self,
        start_date: Query<Option<String>>,
        end_date: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<UpdateDoc>, XmlOnly> {
        let _ = jurisdiction_id;
        Reply::new(
            Format::Xml,
            rules::updates(&self.state, start_date.0.as_deref(), end_date.0.as_deref()).await,
        )
    }

    /// Comment on an open request (JSON; needs `api_key`)
    ///
    /// The ward's staff and the request's followers read it; it is not part of the public updates.
    #[oai(
        path = "/open311/v2/servicerequestupdates.json",
        method = "post",
        operation_id = "open311_create_update_json"
    )]
    async fn post_update_json(
        &self,
        form: NewUpdateForm,
    ) -> Reply<Vec<UpdateCreatedDoc>, JsonOnly> {
        Reply::new(
            Format::Json,
            rules::post_update(&self.state, &form.0.0).await,
        )
    }

    /// Comment on an open request (XML; needs `api_key`)
    #[oai(
        path = "/open311/v2/servicerequestupdates.xml",
        method = "post",
        operation_id = "open311_create_update_xml"
    )]
    async fn post_update_xml(&self, form: NewUpdateForm) -> Reply<Vec<UpdateCreatedDoc>, XmlOnly> {
        Reply::new(
            Format::Xml,
            rules::post_update(&self.state, &form.0.0).await,
        )
    }

    /// Open311 client apps and their keys (admins)
    #[oai(
        path = "/v1/admin/open311/clients",
        method = "get",
        operation_id = "admin_open311_clients",
        tag = "ApiTags::Admin"
    )]
    async fn clients(&self, auth: BearerAuth) -> Result<Json<Vec<Open311ClientView>>, NoBodyError> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            super::repo::clients(&self.state.db)
                .await
                .map_err(Error::from)?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Issue an API key to a named client app (admins); the key is shown once
    #[oai(
        path = "/v1/admin/open311/clients",
        method = "post",
        operation_id = "admin_open311_issue_client",
        tag = "ApiTags::Admin"
    )]
    async fn issue(
        &self,
        auth: BearerAuth,
        body: Json<Open311ClientInput>,
    ) -> Result<ClientIssued, ApiError> {
        let caller = self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let issued = rules::issue_client(&self.state, &caller, &body.name, &body.contact).await?;
        Ok(ClientIssued::Created(Json(Open311ClientIssued {
            client: issued.client.into(),
            api_key: issued.api_key,
        })))
    }

    /// Revoke a client app's key (admins); its requests stay
    #[oai(
        path = "/v1/admin/open311/clients/:client_id/revoke",
        method = "post",
        operation_id = "admin_open311_revoke_client",
        tag = "ApiTags::Admin"
    )]
    async fn revoke(
        &self,
        auth: BearerAuth,
        client_id: Path<Uuid>,
    ) -> Result<Json<Open311ClientView>, NoBodyError> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            rules::revoke_client(&self.state, client_id.0).await?.into(),
        ))
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
