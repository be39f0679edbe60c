//! The documents the spec shows (the answers are built as `Doc` trees in the rules), the forms,
//! and the admins' views of client apps.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use uuid::Uuid;

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
