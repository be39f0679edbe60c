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
pub mod views;

mod clients;
mod create;
mod errors;
mod params;
mod render;
mod requests;
mod services;
mod updates;

pub use clients::{Issued, authorize_write, issue_client, revoke_client};
pub use create::create_request;
pub use errors::{O311Error, O311Result};
pub use params::Pairs;
pub use requests::{RequestQuery, get_request, list_requests, token};
pub use services::{discovery, service_definition, services};
pub use updates::{post_update, updates};

/// Default window of `GET requests`, and the most rows one answer carries.
const DEFAULT_DAYS: i64 = 90;
const MAX_ROWS: i64 = 1000;
/// Most ids in one `service_request_id` list.
const MAX_IDS: usize = 200;
/// When this API last changed (discovery's `changeset`).
const CHANGESET: &str = "2026-11-25T00:00:00+07:00";
