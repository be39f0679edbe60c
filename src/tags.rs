//! The areas of the API, as the docs group them.

use poem_openapi::Tags;

/// The areas of the API, as the docs group them.
#[derive(Tags)]
pub enum ApiTags {
    /// Sign-in: one-time codes, passwords, tokens.
    Auth,
    /// The signed-in account.
    Me,
    /// Accounts administration (admins).
    Admin,
    /// Ward units and health stations.
    Organisation,
    /// Field reports: categories, reports, the staff queue, notifications.
    Reports,
    /// Photo uploads and the public copies.
    Media,
    /// Presigned object URLs served by this server (local disk storage).
    Objects,
    /// Telehealth: stations, doctors, slots, appointments, the waiting room and consultations.
    Telehealth,
    /// Medical records, consent and the access log (residents and their doctors only).
    MedicalRecords,
    /// Video calls: joining a consultation's call, signaling, the pre-call test.
    Calls,
    /// Open311 GeoReport v2 for third-party civic apps: services are the report categories,
    /// service requests are reports. Answers and errors are the spec's documents (JSON or XML by
    /// the path's suffix), not problem+json.
    Open311,
    /// Probes and metrics.
    Ops,
}
