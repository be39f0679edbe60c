//! Wardline: the ward's backend for residents' field reports, telehealth and the staff who serve them.
//!
//! A tour, from the outside in:

/// The composition root: shared services, each domain's context, the route tree, the server's
/// start and stop. No domain imports it.
pub mod app;
/// The ward's service area and neighbourhoods (khu phố), from GeoJSON.
pub mod areas;
/// Accounts, roles, sign-in (OTP and password), tokens, role guards.
pub mod auth;
/// Publish/subscribe between connections and instances.
pub mod bus;
/// Working time (hours, holidays) that deadlines are counted in.
pub mod calendar;
/// The current time, which tests can move forward.
pub mod clock;
/// Settings: defaults → TOML file → `WARDLINE_*` environment; secrets redacted.
pub mod config;
/// The one problem shape (`application/problem+json`) and the error every rule returns.
pub mod error;
/// Points, H3 cells, boxes and areas.
pub mod geo;
/// Photo intake: sniffing, EXIF, re-encoding, thumbnails.
pub mod media;
/// Object storage (local disk, S3, memory) and locally presigned URLs.
pub mod objects;
/// Open311 GeoReport v2 (JSON and XML) for third-party civic apps, a facade over `reports`.
pub mod open311;
/// Health, readiness, metrics, the request middleware, logging, shutdown; the server loop with
/// its timeouts and its bounds on connections and requests (`ops::http`).
pub mod ops;
/// Ward units with their staff, health stations with their doctors.
pub mod org;
/// Requests to addresses others chose (webhook receivers, push services): public addresses only.
pub mod outbound;
/// Field reports (phản ánh hiện trường): categories, lifecycle, deadlines, feeds, statistics.
pub mod reports;
/// The WebRTC broker: room tokens, signaling, ICE servers and TURN credentials.
pub mod rtc;
/// The server's stop: a flag and a signal for long-lived connections.
pub mod shutdown;
/// The database: pools for SQLite and PostgreSQL, migrations, transactions, and SQLite's
/// group-commit writer thread (`store::batch`) that report creates go through.
pub mod store;
/// The areas of the API, as the docs group them.
pub mod tags;
/// Telehealth: stations and doctors, slots, bookings, the waiting room, consultations, consent,
/// clinical records and their access log; its SQL in `telehealth::repo`.
pub mod telehealth;
/// Free text made safe to store and show: NFC, no invisible or bidi-override characters.
pub mod text;
/// The web apps (residents, staff, doctors): embedded files, hashed URLs, CSP; response
/// compression and validators.
pub mod web;
/// Signed webhooks for the ward's integrations: endpoints, the outbox every event is written to in
/// the transaction of its change, and the worker that delivers it.
pub mod webhooks;
/// Web Push for the installed resident app: browsers' subscriptions, VAPID (RFC 8292) and
/// message encryption (RFC 8291), the notifier that sends every inbox item to them.
pub mod webpush;
