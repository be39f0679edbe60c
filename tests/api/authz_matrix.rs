//! Gate 6: the authorization matrix. Every operation of the published spec × every kind of caller,
//! against ONE declared table of expected outcomes, on real objects that belong to someone else
//! (OWASP API1 object level, API3 property level, API5 function level).
//!
//! An operation in the spec without a row fails the test, so a new endpoint cannot skip the table;
//! a row for an operation that no longer exists fails it too.
//!
//! Cells say what each caller gets: `ok` (2xx); `401` (no token); `403` (not your role or not
//! yours, where the object's existence is public or the role excludes it); `404` (someone else's
//! object, hidden as if it did not exist); `409`/`422` (authorized, then refused by a rule of the
//! domain, e.g. ending a call that has ended: the area tests cover those rules, here it proves the
//! caller got past authorization). Some rows are run with other callers' ids on purpose.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use wardline::auth::Role;

use crate::helpers::{Resp, TestApp};
use crate::photos::{jpeg, upload_ok};

/// The callers, in the order of a row's cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    Anonymous,
    /// Owns the report, the photos, the consultation, the record and the appointments.
    ResidentA,
    /// Another resident.
    ResidentB,
    /// Ward staff (a member of the unit the report is routed to).
    Staff,
    /// The doctor of A's consultation (and of the station).
    Doctor,
    /// Another doctor of the same station, not in the consultation.
    OtherDoctor,
    Admin,
}

const WHO: [Who; 7] = [
    Who::Anonymous,
    Who::ResidentA,
    Who::ResidentB,
    Who::Staff,
    Who::Doctor,
    Who::OtherDoctor,
    Who::Admin,
];

/// What a cell expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Ok,
    Status(u16),
}

impl Want {
    fn parse(cell: &str) -> Want {
        match cell {
            "ok" => Want::Ok,
            n => Want::Status(n.parse().unwrap_or_else(|_| panic!("bad cell {n:?}"))),
        }
    }
    fn matches(self, status: StatusCode) -> bool {
        match self {
            Want::Ok => status.is_success(),
            Want::Status(n) => status.as_u16() == n,
        }
    }
    /// Denials run before the allowed calls of the same row, so they meet the object unchanged.
    fn is_denial(self) -> bool {
        matches!(self, Want::Status(401 | 403 | 404))
    }
}

/// Everything the rows point at: people, their tokens and their objects.
pub(crate) struct Fx {
    pub(crate) tokens: BTreeMap<&'static str, String>,
    pub(crate) passwords: BTreeMap<&'static str, String>,
    pub(crate) a_id: Uuid,
    pub(crate) doctor_id: Uuid,
    pub(crate) other_id: Uuid,
    /// An account the admin rows disable, enable and reset.
    pub(crate) spare_id: Uuid,
    pub(crate) unit_id: String,
    pub(crate) station: String,
    /// A second station the admin rows add a doctor to and remove from.
    pub(crate) station2: String,
    /// A's report (with a photo), routed to the staff member's unit.
    pub(crate) report: String,
    /// A's photo attached to the report (public), and one not attached (private).
    pub(crate) photo: String,
    pub(crate) private_photo: String,
    /// Photos of A and B for the reports they create in the table.
    pub(crate) new_photos: Vec<String>,
    /// A's unread notification (the report was received).
    pub(crate) a_notification: String,
    /// A's consultation with the doctor (ended, with a signed record).
    pub(crate) consultation: String,
    pub(crate) record: String,
    /// A's appointments with the doctor (one to cancel).
    pub(crate) appointment: String,
    pub(crate) appointment_to_cancel: String,
    /// Free slots of the doctor: A's and B's new bookings, A's reschedule.
    pub(crate) slots: Vec<String>,
    pub(crate) consent_version: String,
    pub(crate) leave_day: String,
    /// An Open311 client app's key (issued by the admin), and a client the admin row revokes.
    pub(crate) open311_key: String,
    pub(crate) open311_spare_client: String,
    /// A webhook endpoint registered by the admin (the admin row removes it).
    pub(crate) webhook: String,
    /// Reply templates made by the admin: one the admin row edits, one it archives.
    pub(crate) reply_templates: Vec<String>,
    /// A's resumable uploads in progress (1000 bytes announced): one the rows append to, one
    /// A's row terminates.
    pub(crate) upload: String,
    pub(crate) upload_to_delete: String,
}

impl Fx {
    pub(crate) fn token(&self, who: Who) -> Option<&str> {
        let key = match who {
            Who::Anonymous => return None,
            Who::ResidentA => "a",
            Who::ResidentB => "b",
            Who::Staff => "staff",
            Who::Doctor => "doctor",
            Who::OtherDoctor => "other",
            Who::Admin => "admin",
        };
        Some(self.tokens[key].as_str())
    }
}

enum Body {
    None,
    Json(Value),
    /// One photo as multipart field `file`.
    Photo(Vec<u8>),
    Raw(Vec<u8>),
    /// `application/x-www-form-urlencoded` (Open311 writes).
    Form(Vec<(&'static str, String)>),
}

struct Req {
    /// Path parameters by name, as the spec's template names them.
    params: Vec<(&'static str, String)>,
    query: String,
    /// Request headers besides the bearer token (the tus protocol's).
    headers: Vec<(&'static str, &'static str)>,
    body: Body,
}

fn req(params: &[(&'static str, &str)], query: &str, body: Body) -> Req {
    Req {
        params: params.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        query: query.to_string(),
        headers: vec![],
        body,
    }
}

/// A tus request (resumable uploads): `Tus-Resumable: 1.0.0` and `headers`.
fn tus_req(
    params: &[(&'static str, &str)],
    headers: &[(&'static str, &'static str)],
    body: Body,
) -> Req {
    let mut r = req(params, "", body);
    r.headers = [("Tus-Resumable", "1.0.0")]
        .into_iter()
        .chain(headers.iter().copied())
        .collect();
    r
}

fn none() -> Req {
    req(&[], "", Body::None)
}

fn json_body(v: Value) -> Req {
    req(&[], "", Body::Json(v))
}

type Build = fn(&Fx, Who) -> Req;

struct Row {
    op: &'static str,
    /// Several rows may test one operation on different objects.
    on: &'static str,
    cells: [Want; 7],
    build: Build,
}

fn row(op: &'static str, on: &'static str, cells: &str, build: Build) -> Row {
    let cells: Vec<Want> = cells.split_whitespace().map(Want::parse).collect();
    let cells: [Want; 7] = cells
        .try_into()
        .unwrap_or_else(|c: Vec<Want>| panic!("{op}: {} cells, want 7", c.len()));
    Row {
        op,
        on,
        cells,
        build,
    }
}

fn z(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn record_body() -> Value {
    json!({
        "subjective": "Ho khan 3 ngày",
        "objective": "Không sốt",
        "assessment": "Viêm họng cấp",
        "plan": "Súc họng nước muối",
        "diagnoses": [{ "code": "J02.9", "text": "Viêm họng cấp" }],
        "prescriptions": [],
        "in_person_advised": false
    })
}

/// THE TABLE: what each caller gets from each operation. Mutating rows run in this order (the
/// denials of a row first), after every GET row; `request` says what each row sends.
#[rustfmt::skip]
const TABLE: &[(&str, &str, &str)] = &[
    // Cells: anonymous, resident A (owns the objects), resident B, staff, the doctor of A's
    // consultation, another doctor of the station, admin.
    // operation                            on                            ano A   B   stf doc oth adm
    // --- sign-in: public by design; a token changes nothing -------------------------------
    ("auth_request_otp",                   "",                           "ok  ok  ok  ok  ok  ok  ok"),
    // Each caller tries a wrong code for the phone it asked a code for above.
    ("auth_verify_otp",                    "a wrong code",               "401 401 401 401 401 401 401"),
    ("auth_login",                         "the spare account",          "ok  ok  ok  ok  ok  ok  ok"),
    ("auth_refresh",                       "a forged token",             "401 401 401 401 401 401 401"),
    ("auth_logout",                        "a forged token",             "ok  ok  ok  ok  ok  ok  ok"),
    // --- the caller's own account ----------------------------------------------------------
    ("me_get",                             "",                           "401 ok  ok  ok  ok  ok  ok"),
    ("rtc_ice_servers",                    "",                           "401 ok  ok  ok  ok  ok  ok"),
    ("me_update",                          "",                           "401 ok  ok  ok  ok  ok  ok"),
    // Web Push: the key is public; each signed-in caller keeps its own browsers, and nobody
    // removes another's (B, staff, doctors and admins all get 404 for A's).
    ("push_vapid_public_key",              "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("me_push_subscribe",                  "",                           "401 ok  ok  ok  ok  ok  ok"),
    ("me_push_subscriptions",              "",                           "401 ok  ok  ok  ok  ok  ok"),
    ("me_push_unsubscribe",                "A's subscription",           "401 ok  404 404 404 404 404"),
    // --- accounts administration (API5) ---------------------------------------------------
    ("admin_list_accounts",                "",                           "401 403 403 403 403 403 ok"),
    ("admin_create_account",               "",                           "401 403 403 403 403 403 ok"),
    ("admin_get_account",                  "resident A",                 "401 403 403 403 403 403 ok"),
    ("admin_disable_account",              "spare",                      "401 403 403 403 403 403 ok"),
    ("admin_enable_account",               "spare",                      "401 403 403 403 403 403 ok"),
    ("admin_reset_password",               "spare",                      "401 403 403 403 403 403 ok"),
    // --- organisation ------------------------------------------------------------------------
    ("units_list",                         "",                           "401 403 403 ok  403 403 ok"),
    ("admin_create_unit",                  "",                           "401 403 403 403 403 403 ok"),
    ("admin_add_unit_member",              "",                           "401 403 403 403 403 403 ok"),
    ("admin_remove_unit_member",           "",                           "401 403 403 403 403 403 ok"),
    ("stations_list",                      "",                           "401 ok  ok  ok  ok  ok  ok"),
    ("admin_create_station",               "",                           "401 403 403 403 403 403 ok"),
    ("admin_add_station_doctor",           "",                           "401 403 403 403 403 403 ok"),
    ("admin_remove_station_doctor",        "",                           "401 403 403 403 403 403 ok"),
    // --- the category catalog ----------------------------------------------------------------
    ("categories_list",                    "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("admin_list_categories",              "",                           "401 403 403 403 403 403 ok"),
    ("admin_create_category",              "",                           "401 403 403 403 403 403 ok"),
    ("admin_update_category",              "",                           "401 403 403 403 403 403 ok"),
    // --- reply templates ---------------------------------------------------------------------
    ("staff_reply_templates",              "",                           "401 403 403 ok  403 403 ok"),
    ("admin_list_reply_templates",         "",                           "401 403 403 403 403 403 ok"),
    ("admin_create_reply_template",        "",                           "401 403 403 403 403 403 ok"),
    ("admin_update_reply_template",        "",                           "401 403 403 403 403 403 ok"),
    ("admin_archive_reply_template",       "",                           "401 403 403 403 403 403 ok"),
    // --- field reports -----------------------------------------------------------------------
    ("reports_create",                     "",                           "401 ok  ok  ok  403 403 ok"),
    ("reports_list",                       "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("reports_nearby",                     "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("areas_list",                         "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("reports_map",                        "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("reports_get",                        "A's report",                 "ok  ok  ok  ok  ok  ok  ok"),
    ("me_reports",                         "",                           "401 ok  ok  ok  ok  ok  ok"),
    ("reports_comment",                    "A's report",                 "401 ok  403 ok  403 403 ok"),
    ("reports_rate",                       "A's report",                 "401 409 403 403 403 403 403"),
    ("reports_reopen",                     "A's report",                 "401 409 403 403 403 403 403"),
    ("reports_me_too",                     "A's report",                 "401 409 ok  403 403 403 403"),
    ("staff_queue",                        "",                           "401 403 403 ok  403 403 ok"),
    ("staff_transition",                   "A's report",                 "401 403 403 ok  403 403 ok"),
    ("staff_set_severity",                 "A's report",                 "401 403 403 ok  403 403 ok"),
    ("stats_reports",                      "",                           "401 403 403 ok  403 403 ok"),
    ("stats_reports_csv",                  "",                           "401 403 403 ok  403 403 ok"),
    ("notifications_list",                 "",                           "401 ok  ok  ok  ok  ok  ok"),
    // Everyone but A sends A's notification id; A's stays unread (checked after the table).
    ("notifications_mark_read",            "A's notification",           "401 ok  ok  ok  ok  ok  ok"),
    // --- photos --------------------------------------------------------------------------------
    ("media_upload",                       "",                           "401 ok  ok  ok  403 403 ok"),
    ("media_public",                       "attached to a report",       "ok  ok  ok  ok  ok  ok  ok"),
    ("media_public",                       "A's unattached photo",       "404 ok  404 ok  404 404 ok"),
    ("media_thumbnail",                    "attached to a report",       "ok  ok  ok  ok  ok  ok  ok"),
    ("media_thumbnail",                    "A's unattached photo",       "404 ok  404 ok  404 404 ok"),
    // Resumable uploads: only their owner may touch one (404 to everyone else, staff included).
    ("media_upload_options",               "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("media_upload_create",                "",                           "401 ok  ok  ok  403 403 ok"),
    ("media_upload_status",                "A's upload",                 "401 ok  404 404 403 403 404"),
    ("media_upload_append",                "A's upload",                 "401 ok  404 404 403 403 404"),
    ("media_upload_delete",                "A's other upload",           "401 ok  404 404 403 403 404"),
    // Presigned URLs: the signature is the capability; a bearer token adds nothing.
    ("objects_get",                        "a forged token",             "403 403 403 403 403 403 403"),
    ("objects_put",                        "a forged token",             "403 403 403 403 403 403 403"),
    // --- telehealth: directory and calendars ---------------------------------------------------
    ("telehealth_stations",                "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("telehealth_doctors",                 "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("admin_update_station",               "",                           "401 403 403 403 403 403 ok"),
    ("admin_set_doctor_profile",           "",                           "401 403 403 403 403 403 ok"),
    ("telehealth_availability_get",        "the doctor's",               "401 403 403 403 ok  403 ok"),
    ("telehealth_availability_set",        "the doctor's",               "401 403 403 403 ok  403 ok"),
    ("telehealth_leave_list",              "the doctor's",               "401 403 403 403 ok  403 ok"),
    ("telehealth_leave_add",               "the doctor's",               "401 403 403 403 ok  403 ok"),
    ("telehealth_leave_remove",            "the doctor's",               "401 403 403 403 ok  403 ok"),
    ("telehealth_slots",                   "",                           "ok  ok  ok  ok  ok  ok  ok"),
    // --- telehealth: appointments ---------------------------------------------------------------
    ("telehealth_book",                    "",                           "401 ok  ok  403 403 403 403"),
    ("telehealth_appointments",            "",                           "401 ok  ok  403 ok  ok  403"),
    ("telehealth_appointment",             "A's",                        "401 ok  404 403 ok  404 403"),
    // The doctor may move a booking too (without the residents' cut-off).
    ("telehealth_appointment_reschedule",  "A's",                        "401 ok  404 403 ok  404 403"),
    ("telehealth_appointment_check_in",    "A's",                        "401 409 404 403 403 403 403"),
    ("telehealth_appointment_cancel",      "A's",                        "401 ok  404 403 409 404 403"),
    // --- telehealth: the waiting room and consultations -----------------------------------------
    ("telehealth_queue_join",              "",                           "401 ok  ok  403 403 403 403"),
    ("telehealth_queue",                   "the station's",              "401 403 403 403 ok  ok  403"),
    ("telehealth_duty_on",                 "",                           "401 403 403 403 ok  ok  403"),
    ("telehealth_queue_admit",             "the station's",              "401 403 403 403 ok  ok  403"),
    ("telehealth_duty_off",                "",                           "401 403 403 403 ok  ok  403"),
    ("telehealth_consultations",           "",                           "401 ok  ok  403 ok  ok  403"),
    ("telehealth_consultation",            "A's",                        "401 ok  404 403 ok  404 403"),
    ("telehealth_consultation_requeue",    "A's, ended",                 "401 403 404 403 409 404 403"),
    ("telehealth_consultation_transfer",   "A's, ended",                 "401 403 404 403 409 404 403"),
    ("telehealth_consultation_decline",    "A's, ended",                 "401 403 404 403 409 404 403"),
    ("telehealth_consultation_cancel",     "A's, ended",                 "401 409 404 403 403 404 403"),
    ("telehealth_consultation_start",      "A's, ended",                 "401 403 404 403 409 404 403"),
    ("telehealth_consultation_end",        "A's, ended",                 "401 409 404 403 409 404 403"),
    ("telehealth_consultation_invite",     "A's, ended",                 "401 403 404 403 409 404 403"),
    ("telehealth_consultation_rate",       "A's, ended",                 "401 ok  404 403 403 404 403"),
    ("telehealth_stats",                   "the station's",              "401 403 403 403 ok  ok  ok"),
    // --- consent and medical records ------------------------------------------------------------
    ("telehealth_consent_texts",           "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("telehealth_consent_decide",          "",                           "401 ok  ok  403 403 403 403"),
    // One's own consents and access log: every account has them (empty for most).
    ("me_consents",                        "",                           "401 ok  ok  ok  ok  ok  ok"),
    ("telehealth_record_create",           "A's consultation",           "401 403 404 403 409 404 403"),
    ("telehealth_records",                 "",                           "401 ok  ok  403 ok  ok  403"),
    ("telehealth_record",                  "A's, signed",                "401 ok  404 403 ok  404 403"),
    // Residents never write records: for them a record to write does not exist.
    ("telehealth_record_update",           "A's, signed",                "401 404 404 403 409 404 403"),
    ("telehealth_record_sign",             "A's, signed",                "401 404 404 403 409 404 403"),
    ("telehealth_record_amend",            "A's, signed",                "401 404 404 403 ok  404 403"),
    ("me_record_access",                   "",                           "401 ok  ok  ok  ok  ok  ok"),
    // --- Open311 (GeoReport v2): public reads; writes need the client app's key, whatever
    // bearer token comes along --------------------------------------------------------------------
    ("open311_discovery_json",             "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_discovery_xml",              "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_services_json",              "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_services_xml",               "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_service_definition",         "road damage",                "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_requests_json",              "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_requests_xml",               "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_request",                    "A's report",                 "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_token",                      "a forged token",             "404 404 404 404 404 404 404"),
    ("open311_updates_json",               "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_updates_xml",                "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_create_request_json",        "with the key",               "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_create_request_json",        "without a key",              "403 403 403 403 403 403 403"),
    ("open311_create_request_xml",         "with the key",               "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_create_update_json",         "A's report, with the key",   "ok  ok  ok  ok  ok  ok  ok"),
    ("open311_create_update_json",         "A's report, without a key",  "403 403 403 403 403 403 403"),
    ("open311_create_update_xml",          "A's report, with the key",   "ok  ok  ok  ok  ok  ok  ok"),
    ("admin_open311_clients",              "",                           "401 403 403 403 403 403 ok"),
    ("admin_open311_issue_client",         "",                           "401 403 403 403 403 403 ok"),
    ("admin_open311_revoke_client",        "",                           "401 403 403 403 403 403 ok"),
    ("admin_import_areas",                 "",                           "401 403 403 403 403 403 ok"),
    // --- webhooks for integrations (API5) --------------------------------------------------------
    ("admin_list_webhooks",                "",                           "401 403 403 403 403 403 ok"),
    ("admin_create_webhook",               "",                           "401 403 403 403 403 403 ok"),
    ("admin_webhook_deliveries",           "",                           "401 403 403 403 403 403 ok"),
    ("admin_delete_webhook",               "",                           "401 403 403 403 403 403 ok"),
    // --- video calls: a room ticket for the consultation's two people only ----------------------
    ("rtc_join",                           "A's, ended",                 "401 409 404 403 409 404 403"),
    ("rtc_quality",                        "A's, ended",                 "401 ok  404 403 ok  404 403"),
    ("rtc_echo_start",                     "a malformed offer",          "401 422 422 422 422 422 422"),
    ("rtc_echo_report",                    "an unknown session",         "401 404 404 404 404 404 404"),
    // --- operations ---------------------------------------------------------------------------------
    ("ops_healthz",                        "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("ops_readyz",                         "",                           "ok  ok  ok  ok  ok  ok  ok"),
    ("ops_metrics",                        "",                           "ok  ok  ok  ok  ok  ok  ok"),
    // Last: changing one's own password (residents sign in by code and have none).
    ("me_change_password",                 "",                           "401 403 403 ok  ok  ok  ok"),
];

/// Each caller's browser's push endpoint (never called: nothing is notified to it meanwhile that
/// could not fail quietly).
fn push_endpoint(w: Who) -> String {
    format!("https://push.example.invalid/send/{}", w as u8)
}

/// What each row of the table sends, per caller.
fn request(op: &str, on: &str) -> Option<Build> {
    let build: Build = match (op, on) {
        ("auth_request_otp", "") => {
            |_, w| json_body(json!({ "phone": format!("097330000{}", w as u8) }))
        }
        ("auth_verify_otp", "a wrong code") => {
            |_, w| json_body(json!({ "phone": format!("097330000{}", w as u8), "code": "000000" }))
        }
        ("auth_login", "the spare account") => {
            |f, _| json_body(json!({ "phone": "0973400009", "password": f.passwords["spare"] }))
        }
        ("auth_refresh", "a forged token") => {
            |_, _| json_body(json!({ "refresh_token": "forged.refresh.token" }))
        }
        ("auth_logout", "a forged token") => {
            |_, _| json_body(json!({ "refresh_token": "forged.refresh.token" }))
        }
        ("me_get", "") => |_, _| none(),
        ("rtc_ice_servers", "") => |_, _| none(),
        ("me_update", "") => |_, _| json_body(json!({ "language": "vi" })),
        ("push_vapid_public_key", "") => |_, _| none(),
        ("me_push_subscribe", "") => |_, w| {
            json_body(json!({
                "endpoint": push_endpoint(w),
                "keys": {
                    "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                    "auth": "BTBZMqHH6r4Tts7J_aSIgg"
                },
                "expirationTime": null
            }))
        },
        ("me_push_subscriptions", "") => |_, _| none(),
        ("me_push_unsubscribe", "A's subscription") => {
            |_, _| json_body(json!({ "endpoint": push_endpoint(Who::ResidentA) }))
        }
        ("admin_list_accounts", "") => |_, _| none(),
        ("admin_create_account", "") => |_, _| {
            json_body(
                json!({ "phone": "0973400010", "display_name": "Cán bộ mới", "role": "staff" }),
            )
        },
        ("admin_get_account", "resident A") => {
            |f, _| req(&[("account_id", &f.a_id.to_string())], "", Body::None)
        }
        ("admin_disable_account", "spare") => {
            |f, _| req(&[("account_id", &f.spare_id.to_string())], "", Body::None)
        }
        ("admin_enable_account", "spare") => {
            |f, _| req(&[("account_id", &f.spare_id.to_string())], "", Body::None)
        }
        ("admin_reset_password", "spare") => {
            |f, _| req(&[("account_id", &f.spare_id.to_string())], "", Body::None)
        }
        ("units_list", "") => |_, _| none(),
        ("admin_create_unit", "") => {
            |_, _| json_body(json!({ "name": "Tổ trật tự", "kind": "team" }))
        }
        ("admin_add_unit_member", "") => |f, _| {
            req(
                &[
                    ("unit_id", &f.unit_id),
                    ("account_id", &f.spare_id.to_string()),
                ],
                "",
                Body::None,
            )
        },
        ("admin_remove_unit_member", "") => |f, _| {
            req(
                &[
                    ("unit_id", &f.unit_id),
                    ("account_id", &f.spare_id.to_string()),
                ],
                "",
                Body::None,
            )
        },
        ("stations_list", "") => |_, _| none(),
        ("admin_create_station", "") => {
            |_, _| json_body(json!({ "name": "Trạm Y tế 2", "address": "1 Lý Tự Trọng" }))
        }
        ("admin_add_station_doctor", "") => |f, _| {
            req(
                &[
                    ("station_id", &f.station2),
                    ("account_id", &f.other_id.to_string()),
                ],
                "",
                Body::None,
            )
        },
        ("admin_remove_station_doctor", "") => |f, _| {
            req(
                &[
                    ("station_id", &f.station2),
                    ("account_id", &f.other_id.to_string()),
                ],
                "",
                Body::None,
            )
        },
        ("categories_list", "") => |_, _| none(),
        ("admin_list_categories", "") => |_, _| none(),
        ("admin_create_category", "") => |_, _| {
            json_body(json!({ "code": "stray_dogs", "name_vi": "Chó thả rông",
                              "name_en": "Stray dogs", "group": "urban_order" }))
        },
        ("admin_update_category", "") => |_, _| {
            req(
                &[("code", "trash")],
                "",
                Body::Json(json!({ "duplicate_radius_m": 40 })),
            )
        },
        ("staff_reply_templates", "") => {
            |_, _| req(&[], "category=trash&status=resolved", Body::None)
        }
        ("admin_list_reply_templates", "") => |_, _| none(),
        ("admin_create_reply_template", "") => |_, _| {
            json_body(json!({ "category_code": "trash", "status": "resolved",
                              "title": "Đã thu gom", "body_vi": "Đã thu gom rác ở {id}." }))
        },
        ("admin_update_reply_template", "") => |f, _| {
            req(
                &[("template_id", &f.reply_templates[0])],
                "",
                Body::Json(json!({ "position": 3 })),
            )
        },
        ("admin_archive_reply_template", "") => {
            |f, _| req(&[("template_id", &f.reply_templates[1])], "", Body::None)
        }
        ("reports_create", "") => |f, w| {
            let mut body = json!({
                "category_code": "trash",
                "description": "Rác đổ trộm đầu hẻm 5",
                "lat": 10.7790 + (w as u8) as f64 * 0.01, "lon": 106.7000
            });
            match w {
                // Staff enter walk-ins; residents report with a photo of their own.
                Who::Staff | Who::Admin => body["channel"] = json!("counter"),
                Who::ResidentA => body["media_ids"] = json!([f.new_photos[0]]),
                Who::ResidentB => body["media_ids"] = json!([f.new_photos[1]]),
                _ => {}
            }
            json_body(body)
        },
        ("reports_list", "") => |_, _| none(),
        ("areas_list", "") => |_, _| none(),
        ("reports_nearby", "") => |_, _| {
            req(
                &[],
                "lat=10.7769&lon=106.7009&category=road_damage",
                Body::None,
            )
        },
        ("reports_map", "") => |_, _| req(&[], "bbox=106.6,10.7,106.8,10.9&zoom=16", Body::None),
        ("reports_get", "A's report") => |f, _| req(&[("report_id", &f.report)], "", Body::None),
        ("me_reports", "") => |_, _| none(),
        ("reports_comment", "A's report") => |f, _| {
            req(
                &[("report_id", &f.report)],
                "",
                Body::Json(json!({ "text": "Vẫn còn nguyên" })),
            )
        },
        ("reports_rate", "A's report") => |f, _| {
            req(
                &[("report_id", &f.report)],
                "",
                Body::Json(json!({ "stars": 5 })),
            )
        },
        ("reports_reopen", "A's report") => |f, _| {
            req(
                &[("report_id", &f.report)],
                "",
                Body::Json(json!({ "reason": "Chưa sửa" })),
            )
        },
        ("reports_me_too", "A's report") => |f, _| req(&[("report_id", &f.report)], "", Body::None),
        ("staff_queue", "") => |_, _| none(),
        ("staff_set_severity", "A's report") => |f, _| {
            req(
                &[("report_id", &f.report)],
                "",
                Body::Json(json!({ "severity": "urgent", "reason": "Nắp cống mở" })),
            )
        },
        ("staff_transition", "A's report") => |f, _| {
            req(
                &[("report_id", &f.report)],
                "",
                Body::Json(json!({ "action": "assign", "unit_id": f.unit_id })),
            )
        },
        ("stats_reports", "") => |_, _| {
            let q = format!(
                "from={}&to={}",
                z(Utc::now() - Duration::days(30)),
                z(Utc::now())
            );
            Req {
                params: vec![],
                query: q,
                headers: vec![],
                body: Body::None,
            }
        },
        ("stats_reports_csv", "") => |_, _| {
            let q = format!(
                "from={}&to={}",
                z(Utc::now() - Duration::days(30)),
                z(Utc::now())
            );
            Req {
                params: vec![],
                query: q,
                headers: vec![],
                body: Body::None,
            }
        },
        ("notifications_list", "") => |_, _| none(),
        ("notifications_mark_read", "A's notification") => |f, w| {
            let ids = if w == Who::ResidentA {
                json!([])
            } else {
                json!([f.a_notification])
            };
            json_body(json!({ "ids": ids }))
        },
        ("media_upload", "") => |_, w| req(&[], "", Body::Photo(jpeg(48, 48, 10 + w as u8))),
        ("media_upload_options", "") => |_, _| none(),
        ("media_upload_create", "") => {
            |_, _| tus_req(&[], &[("Upload-Length", "1000")], Body::None)
        }
        ("media_upload_status", "A's upload") => {
            |f, _| tus_req(&[("upload_id", &f.upload)], &[], Body::None)
        }
        ("media_upload_append", "A's upload") => |f, _| {
            tus_req(
                &[("upload_id", &f.upload)],
                &[
                    ("Upload-Offset", "0"),
                    ("Content-Type", "application/offset+octet-stream"),
                ],
                Body::Raw(vec![0xFF; 100]),
            )
        },
        ("media_upload_delete", "A's other upload") => {
            |f, _| tus_req(&[("upload_id", &f.upload_to_delete)], &[], Body::None)
        }
        ("media_public", "attached to a report") => {
            |f, _| req(&[("media_id", &f.photo)], "", Body::None)
        }
        ("media_public", "A's unattached photo") => {
            |f, _| req(&[("media_id", &f.private_photo)], "", Body::None)
        }
        ("media_thumbnail", "attached to a report") => {
            |f, _| req(&[("media_id", &f.photo)], "", Body::None)
        }
        ("media_thumbnail", "A's unattached photo") => {
            |f, _| req(&[("media_id", &f.private_photo)], "", Body::None)
        }
        ("objects_get", "a forged token") => |_, _| req(&[("token", "Zm9v.YmFy")], "", Body::None),
        ("objects_put", "a forged token") => {
            |_, _| req(&[("token", "Zm9v.YmFy")], "", Body::Raw(b"x".to_vec()))
        }
        ("telehealth_stations", "") => |_, _| none(),
        ("telehealth_doctors", "") => |_, _| none(),
        ("admin_update_station", "") => |f, _| {
            req(
                &[("station_id", &f.station)],
                "",
                Body::Json(json!({ "opening_hours": "T2–T6 7:00–17:00" })),
            )
        },
        ("admin_set_doctor_profile", "") => |f, _| {
            req(
                &[("doctor_id", &f.doctor_id.to_string())],
                "",
                Body::Json(json!({ "title": "BS.CKI", "specialty": "Nội tổng quát" })),
            )
        },
        ("telehealth_availability_get", "the doctor's") => {
            |f, _| req(&[("doctor_id", &f.doctor_id.to_string())], "", Body::None)
        }
        ("telehealth_availability_set", "the doctor's") => |f, _| {
            let windows: Vec<Value> = (1..=7)
                .map(|d| json!({ "station_id": f.station, "weekday": d, "start": "00:00", "end": "24:00" }))
                .collect();
            req(
                &[("doctor_id", &f.doctor_id.to_string())],
                "",
                Body::Json(json!({ "windows": windows })),
            )
        },
        ("telehealth_leave_list", "the doctor's") => {
            |f, _| req(&[("doctor_id", &f.doctor_id.to_string())], "", Body::None)
        }
        ("telehealth_leave_add", "the doctor's") => |f, _| {
            req(
                &[("doctor_id", &f.doctor_id.to_string())],
                "",
                Body::Json(json!({ "from": f.leave_day, "reason": "Tập huấn" })),
            )
        },
        ("telehealth_leave_remove", "the doctor's") => |f, _| {
            req(
                &[
                    ("doctor_id", &f.doctor_id.to_string()),
                    ("day", &f.leave_day),
                ],
                "",
                Body::None,
            )
        },
        ("telehealth_slots", "") => |f, _| req(&[], &format!("doctor={}", f.doctor_id), Body::None),
        ("telehealth_book", "") => |f, w| {
            let start = if w == Who::ResidentB {
                &f.slots[1]
            } else {
                &f.slots[0]
            };
            json_body(
                json!({ "doctor_id": f.doctor_id, "station_id": f.station, "start": start,
                              "reason": "Đau đầu", "symptom": "other" }),
            )
        },
        ("telehealth_appointments", "") => |_, _| none(),
        ("telehealth_appointment", "A's") => {
            |f, _| req(&[("appointment_id", &f.appointment)], "", Body::None)
        }
        ("telehealth_appointment_reschedule", "A's") => |f, _| {
            req(
                &[("appointment_id", &f.appointment)],
                "",
                Body::Json(json!({ "start": f.slots[2] })),
            )
        },
        ("telehealth_appointment_check_in", "A's") => {
            |f, _| req(&[("appointment_id", &f.appointment)], "", Body::None)
        }
        ("telehealth_appointment_cancel", "A's") => |f, _| {
            req(
                &[("appointment_id", &f.appointment_to_cancel)],
                "",
                Body::Json(json!({ "reason": "Bận" })),
            )
        },
        ("telehealth_queue_join", "") => |f, _| {
            json_body(json!({ "station_id": f.station, "reason": "Sốt", "symptom": "fever" }))
        },
        ("telehealth_queue", "the station's") => {
            |f, _| req(&[("station_id", &f.station)], "", Body::None)
        }
        ("telehealth_duty_on", "") => |f, _| json_body(json!({ "station_id": f.station })),
        ("telehealth_queue_admit", "the station's") => {
            |f, _| req(&[("station_id", &f.station)], "", Body::Json(json!({})))
        }
        ("telehealth_duty_off", "") => |_, _| none(),
        ("telehealth_consultations", "") => |_, _| none(),
        ("telehealth_consultation", "A's") => {
            |f, _| req(&[("consultation_id", &f.consultation)], "", Body::None)
        }
        ("telehealth_consultation_requeue", "A's, ended") => {
            |f, _| req(&[("consultation_id", &f.consultation)], "", Body::None)
        }
        ("telehealth_consultation_transfer", "A's, ended") => |f, _| {
            req(
                &[("consultation_id", &f.consultation)],
                "",
                Body::Json(json!({ "doctor_id": f.other_id })),
            )
        },
        ("telehealth_consultation_decline", "A's, ended") => |f, _| {
            req(
                &[("consultation_id", &f.consultation)],
                "",
                Body::Json(json!({ "reason": "x" })),
            )
        },
        ("telehealth_consultation_cancel", "A's, ended") => {
            |f, _| req(&[("consultation_id", &f.consultation)], "", Body::None)
        }
        ("telehealth_consultation_start", "A's, ended") => {
            |f, _| req(&[("consultation_id", &f.consultation)], "", Body::None)
        }
        ("telehealth_consultation_end", "A's, ended") => {
            |f, _| req(&[("consultation_id", &f.consultation)], "", Body::None)
        }
        ("telehealth_consultation_invite", "A's, ended") => |f, _| {
            req(
                &[("consultation_id", &f.consultation)],
                "",
                Body::Json(json!({ "doctor_id": f.other_id })),
            )
        },
        ("telehealth_consultation_rate", "A's, ended") => |f, _| {
            req(
                &[("consultation_id", &f.consultation)],
                "",
                Body::Json(json!({ "stars": 5 })),
            )
        },
        ("telehealth_stats", "the station's") => {
            |f, _| req(&[("station_id", &f.station)], "", Body::None)
        }
        ("telehealth_consent_texts", "") => |_, _| none(),
        ("telehealth_consent_decide", "") => |f, _| {
            json_body(
                json!({ "kind": "telehealth", "version": f.consent_version, "accepted": true }),
            )
        },
        ("me_consents", "") => |_, _| none(),
        ("telehealth_record_create", "A's consultation") => |f, _| {
            req(
                &[("consultation_id", &f.consultation)],
                "",
                Body::Json(record_body()),
            )
        },
        ("telehealth_records", "") => |_, _| none(),
        ("telehealth_record", "A's, signed") => {
            |f, _| req(&[("record_id", &f.record)], "", Body::None)
        }
        ("telehealth_record_update", "A's, signed") => {
            |f, _| req(&[("record_id", &f.record)], "", Body::Json(record_body()))
        }
        ("telehealth_record_sign", "A's, signed") => {
            |f, _| req(&[("record_id", &f.record)], "", Body::None)
        }
        ("telehealth_record_amend", "A's, signed") => {
            |f, _| req(&[("record_id", &f.record)], "", Body::None)
        }
        ("me_record_access", "") => |_, _| none(),
        ("open311_discovery_json", "") => |_, _| none(),
        ("open311_discovery_xml", "") => |_, _| none(),
        ("open311_services_json", "") => |_, _| none(),
        ("open311_services_xml", "") => |_, _| none(),
        ("open311_service_definition", "road damage") => {
            |_, _| req(&[("service_code", "road_damage.json")], "", Body::None)
        }
        ("open311_requests_json", "") => |_, _| none(),
        ("open311_requests_xml", "") => |_, _| none(),
        ("open311_request", "A's report") => |f, _| {
            let id = format!("{}.json", f.report);
            req(&[("service_request_id", &id)], "", Body::None)
        },
        ("open311_token", "a forged token") => {
            |_, _| req(&[("token", "forged-token.json")], "", Body::None)
        }
        ("open311_updates_json", "") => |_, _| none(),
        ("open311_updates_xml", "") => |_, _| none(),
        ("open311_create_request_json", "with the key") => {
            |f, w| req(&[], "", open311_request(Some(&f.open311_key), w, 0.0))
        }
        ("open311_create_request_json", "without a key") => {
            |_, w| req(&[], "", open311_request(None, w, 0.0))
        }
        ("open311_create_request_xml", "with the key") => {
            |f, w| req(&[], "", open311_request(Some(&f.open311_key), w, 0.001))
        }
        ("open311_create_update_json", "A's report, with the key") => {
            |f, _| req(&[], "", open311_update(Some(&f.open311_key), &f.report))
        }
        ("open311_create_update_json", "A's report, without a key") => {
            |f, _| req(&[], "", open311_update(None, &f.report))
        }
        ("open311_create_update_xml", "A's report, with the key") => {
            |f, _| req(&[], "", open311_update(Some(&f.open311_key), &f.report))
        }
        ("admin_open311_clients", "") => |_, _| none(),
        ("admin_open311_issue_client", "") => {
            |_, _| json_body(json!({ "name": "Ứng dụng phường", "contact": "ops@example.org" }))
        }
        ("admin_open311_revoke_client", "") => {
            |f, _| req(&[("client_id", &f.open311_spare_client)], "", Body::None)
        }
        // A khu phố far from the fixtures' reports, so no other row sees it.
        ("admin_import_areas", "") => |_, _| {
            json_body(json!({ "type": "FeatureCollection", "features": [{
                "type": "Feature",
                "properties": { "name": "Khu phố thử quyền" },
                "geometry": { "type": "Polygon", "coordinates": [[
                    [1.0, 1.0], [1.001, 1.0], [1.001, 1.001], [1.0, 1.001], [1.0, 1.0]
                ]] }
            }] }))
        },
        ("admin_list_webhooks", "") => |_, _| none(),
        ("admin_create_webhook", "") => |_, _| {
            json_body(
                json!({ "url": "https://hooks.example.invalid/hooks", "events": ["report.resolved"] }),
            )
        },
        ("admin_webhook_deliveries", "") => {
            |f, _| req(&[("webhook_id", &f.webhook)], "limit=5", Body::None)
        }
        ("admin_delete_webhook", "") => |f, _| req(&[("webhook_id", &f.webhook)], "", Body::None),
        ("rtc_join", "A's, ended") => {
            |f, _| req(&[("consultation_id", &f.consultation)], "", Body::None)
        }
        ("rtc_quality", "A's, ended") => |f, _| {
            req(
                &[("consultation_id", &f.consultation)],
                "",
                Body::Json(
                    json!({ "rtt_ms": 80.0, "loss_percent": 0.5, "candidate_type": "relay" }),
                ),
            )
        },
        // Any signed-in person may run the pre-call test; a malformed offer proves they got past
        // authorization without starting a WebRTC peer. Someone else's session is covered in
        // rtc_media (404 for anyone but its owner).
        ("rtc_echo_start", "a malformed offer") => {
            |_, _| json_body(json!({ "type": "offer", "sdp": "not an sdp" }))
        }
        ("rtc_echo_report", "an unknown session") => {
            |_, _| req(&[("session_id", &Uuid::nil().to_string())], "", Body::None)
        }
        ("ops_healthz", "") => |_, _| none(),
        ("ops_readyz", "") => |_, _| none(),
        ("ops_metrics", "") => |_, _| none(),
        ("me_change_password", "") => |f, w| {
            let key = match w {
                Who::Staff => "staff",
                Who::Doctor => "doctor",
                Who::OtherDoctor => "other",
                Who::Admin => "admin",
                _ => "staff",
            };
            json_body(json!({ "current_password": f.passwords[key],
                              "new_password": "a-new-long-passphrase-2026" }))
        },
        _ => return None,
    };
    Some(build)
}

fn table() -> Vec<Row> {
    TABLE
        .iter()
        .map(|(op, on, cells)| {
            let build = request(op, on).unwrap_or_else(|| {
                panic!("the table has {op} ({on}), `request` sends nothing for it")
            });
            row(op, on, cells, build)
        })
        .collect()
}

/// An Open311 service request from a client app, at a point of its own per caller.
fn open311_request(key: Option<&str>, w: Who, shift: f64) -> Body {
    let mut fields = vec![
        ("service_code", "drain_blocked".to_string()),
        (
            "lat",
            format!("{:.4}", 10.80 + (w as u8) as f64 * 0.002 + shift),
        ),
        ("long", "106.7100".to_string()),
        ("description", "Rác chất đống cạnh chợ".to_string()),
    ];
    if let Some(k) = key {
        fields.push(("api_key", k.to_string()));
    }
    Body::Form(fields)
}

fn open311_update(key: Option<&str>, id: &str) -> Body {
    let mut fields = vec![
        ("service_request_id", id.to_string()),
        ("description", "Hôm nay vẫn còn".to_string()),
    ];
    if let Some(k) = key {
        fields.push(("api_key", k.to_string()));
    }
    Body::Form(fields)
}

/// The operations of the published spec: id → (method, path template).
fn spec_operations() -> BTreeMap<String, (Method, String)> {
    // `spec` runs its own runtime: call it off this test's.
    let text = std::thread::spawn(|| wardline::app::spec(false).unwrap())
        .join()
        .unwrap();
    let spec: Value = serde_json::from_str(&text).unwrap();
    let mut ops = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_string();
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            ops.insert(id, (method, path.clone()));
        }
    }
    ops
}

/// The template with the row's parameters filled in; every `{name}` must be given, nothing more.
fn fill(template: &str, params: &[(&'static str, String)], what: &str) -> String {
    let mut path = template.to_string();
    for (name, value) in params {
        let slot = format!("{{{name}}}");
        assert!(
            path.contains(&slot),
            "{what}: the path {template} has no {slot}"
        );
        path = path.replace(&slot, value);
    }
    assert!(
        !path.contains('{'),
        "{what}: {path} still has a parameter to fill"
    );
    path
}

async fn send(app: &TestApp, method: &Method, path: &str, token: Option<&str>, r: Req) -> Resp {
    let url = if r.query.is_empty() {
        app.url(path)
    } else {
        app.url(&format!("{path}?{}", r.query))
    };
    let mut b = app.client.request(method.clone(), url);
    if let Some(t) = token {
        b = b.bearer_auth(t);
    }
    for (k, v) in &r.headers {
        b = b.header(*k, *v);
    }
    b = match r.body {
        Body::None => b,
        Body::Json(v) => b.json(&v),
        Body::Raw(bytes) => b.body(bytes),
        Body::Form(fields) => {
            let encoded: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            b.header("content-type", "application/x-www-form-urlencoded")
                .body(encoded)
        }
        Body::Photo(bytes) => {
            let boundary = "authz-matrix-boundary";
            let mut body = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .into_bytes();
            body.extend_from_slice(&bytes);
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            b.header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
        }
    };
    Resp::read(b.send().await.expect("request")).await
}

/// The people, the station, A's report with a photo, A's consultation with a signed record and A's
/// appointments.
pub(crate) async fn fixtures(app: &TestApp) -> Fx {
    let mut tokens = BTreeMap::new();
    let mut passwords = BTreeMap::new();
    let (_, admin, p) = app.member_with_password(Role::Admin, "0973400001").await;
    tokens.insert("admin", admin.clone());
    passwords.insert("admin", p);
    let (staff_id, staff, p) = app.member_with_password(Role::Staff, "0973400002").await;
    tokens.insert("staff", staff.clone());
    passwords.insert("staff", p);
    let (doctor_id, doctor, p) = app.member_with_password(Role::Doctor, "0973400003").await;
    tokens.insert("doctor", doctor.clone());
    passwords.insert("doctor", p);
    let (other_id, other, p) = app.member_with_password(Role::Doctor, "0973400004").await;
    tokens.insert("other", other);
    passwords.insert("other", p);
    let (spare, p) = app
        .state
        .auth
        .create_account("0973400009", "Dự phòng", Role::Staff)
        .await
        .unwrap();
    passwords.insert("spare", p);
    let a_session = app.resident("0973500001").await;
    let b_session = app.resident("0973500002").await;
    let a = crate::helpers::token_of(&a_session);
    let b = crate::helpers::token_of(&b_session);
    let me = |t: String| async move {
        let r = app.get("/v1/me", Some(&t)).await;
        Uuid::parse_str(r.body["id"].as_str().unwrap()).unwrap()
    };
    let a_id = me(a.clone()).await;
    tokens.insert("a", a.clone());
    tokens.insert("b", b.clone());

    // A unit with the staff member; road damage routed to it.
    let unit = app
        .post(
            "/v1/admin/units",
            Some(&admin),
            json!({ "name": "Tổ công trình", "kind": "team" }),
        )
        .await;
    let unit_id = unit.body["id"].as_str().unwrap().to_string();
    let put = async |path: String| app.call(Method::PUT, &path, Some(&admin), None).await;
    assert_eq!(
        put(format!("/v1/admin/units/{unit_id}/members/{staff_id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = app
        .call(
            Method::PATCH,
            "/v1/admin/categories/road_damage",
            Some(&admin),
            Some(json!({ "unit_id": unit_id })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // A's report with a photo, received by staff (A gets a notification); a photo A kept.
    let photo = upload_ok(app, &a, &jpeg(64, 64, 1)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let private_photo = upload_ok(app, &a, &jpeg(64, 64, 2)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut new_photos = vec![];
    for (t, seed) in [(&a, 3), (&b, 4)] {
        let p = upload_ok(app, t, &jpeg(64, 64, seed)).await;
        new_photos.push(p["id"].as_str().unwrap().to_string());
    }
    let r = app
        .post(
            "/v1/reports",
            Some(&a),
            json!({
                "category_code": "road_damage",
                "description": "Ổ gà lớn trước số 12 Lê Lợi",
                "lat": 10.7769, "lon": 106.7009, "accuracy_m": 8.0,
                "address": "12 Lê Lợi", "media_ids": [photo],
                "answers": { "size": "large" }
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let report = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/v1/staff/reports/{report}/transition"),
            Some(&staff),
            json!({ "action": "receive" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .post(
            &format!("/v1/reports/{report}/comments"),
            Some(&staff),
            json!({ "text": INTERNAL_NOTE, "internal": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let inbox = app.get("/v1/notifications", Some(&a)).await;
    let a_notification = inbox.body["items"][0]["id"].as_str().unwrap().to_string();

    // A station with both doctors, the doctor available around the clock; a second station.
    let mk_station = |name: &'static str| {
        app.post(
            "/v1/admin/stations",
            Some(&admin),
            json!({ "name": name, "address": "12 Nguyễn Huệ" }),
        )
    };
    let station = mk_station("Trạm Y tế phường").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let station2 = mk_station("Trạm Y tế khu phố 3").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    for d in [doctor_id, other_id] {
        assert_eq!(
            put(format!("/v1/admin/stations/{station}/doctors/{d}"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
    }
    let windows: Vec<Value> = (1..=7)
        .map(|d| json!({ "station_id": station, "weekday": d, "start": "00:00", "end": "24:00" }))
        .collect();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/telehealth/doctors/{doctor_id}/availability"),
            Some(&doctor),
            Some(json!({ "windows": windows })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Both residents consent; A books twice.
    let texts = app.get("/v1/telehealth/consent", None).await;
    let consent_version = texts.body[0]["version"].as_str().unwrap().to_string();
    for t in [&a, &b] {
        let r = app
            .post(
                "/v1/telehealth/consent",
                Some(t),
                json!({ "kind": "telehealth", "version": consent_version, "accepted": true }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let from = z(app.state.clock.now() + Duration::hours(24));
    let free = app
        .get(
            &format!("/v1/telehealth/slots?doctor={doctor_id}&from={from}"),
            None,
        )
        .await;
    let mut slots: Vec<String> = free
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_string())
        .take(5)
        .collect();
    assert_eq!(slots.len(), 5, "{:?}", free.body);
    let book = async |start: String| {
        let r = app
            .post(
                "/v1/telehealth/appointments",
                Some(&a),
                json!({ "doctor_id": doctor_id, "station_id": station, "start": start,
                        "reason": "Ho kéo dài", "symptom": "respiratory" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    };
    let appointment = book(slots.remove(0)).await;
    let appointment_to_cancel = book(slots.remove(0)).await;

    // A is seen on demand by the doctor: admitted, called, notes signed.
    let r = app
        .post(
            "/v1/telehealth/queue",
            Some(&a),
            json!({ "station_id": station, "reason": "Đau bụng", "symptom": "digestive" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let consultation = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/v1/telehealth/stations/{station}/queue/admit"),
            Some(&doctor),
            json!({ "consultation_id": consultation }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for step in ["start", "end"] {
        let r = app
            .post(
                &format!("/v1/telehealth/consultations/{consultation}/{step}"),
                Some(&doctor),
                json!({}),
            )
            .await;
        assert!(r.status.is_success(), "{step}: {:?}", r.body);
    }
    let r = app
        .post(
            &format!("/v1/telehealth/consultations/{consultation}/records"),
            Some(&doctor),
            record_body(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let record = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/v1/telehealth/records/{record}/sign"),
            Some(&doctor),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let mut open311 = vec![];
    for name in ["Ứng dụng góp ý", "Ứng dụng cũ"] {
        let r = app
            .post(
                "/v1/admin/open311/clients",
                Some(&admin),
                json!({ "name": name }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        open311.push((
            r.body["api_key"].as_str().unwrap().to_string(),
            r.body["client"]["id"].as_str().unwrap().to_string(),
        ));
    }
    // An integration's endpoint (nothing listens there: its deliveries just fail and wait).
    let r = app
        .post(
            "/v1/admin/webhooks",
            Some(&admin),
            json!({ "url": "https://hooks.example.invalid/hooks", "events": ["report.changed"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let webhook = r.body["id"].as_str().unwrap().to_string();
    let mut reply_templates = vec![];
    for title in ["Đã xử lý", "Chuyển cơ quan khác"] {
        let r = app
            .post(
                "/v1/admin/reply-templates",
                Some(&admin),
                json!({ "title": title, "body_vi": "Phản ánh {id} đã được xem xét." }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        reply_templates.push(r.body["id"].as_str().unwrap().to_string());
    }
    let leave_day = (app.state.clock.now() + Duration::days(25))
        .date_naive()
        .to_string();
    let mut uploads = vec![];
    for _ in 0..2 {
        let r = crate::uploads::tus(
            app,
            Method::POST,
            "/v1/media/uploads",
            Some(&a),
            &[("Upload-Length", "1000")],
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let location = r.headers["location"].to_str().unwrap();
        uploads.push(location.rsplit('/').next().unwrap().to_string());
    }
    Fx {
        tokens,
        passwords,
        a_id,
        doctor_id,
        other_id,
        spare_id: spare.account_id,
        unit_id,
        station,
        station2,
        report,
        photo,
        private_photo,
        new_photos,
        a_notification,
        consultation,
        record,
        appointment,
        appointment_to_cancel,
        slots,
        consent_version,
        leave_day,
        open311_key: open311[0].0.clone(),
        open311_spare_client: open311[1].1.clone(),
        webhook,
        reply_templates,
        upload: uploads[0].clone(),
        upload_to_delete: uploads[1].clone(),
    }
}

const A_PHONE: &str = "0973500001";
const INTERNAL_NOTE: &str = "Ghi chú nội bộ: người báo là hàng xóm";

/// Does a response mention a person (by id or phone, in any form)?
fn mentions(body: &Value, id: Uuid, phone: &str) -> bool {
    let text = body.to_string();
    let national = &phone[1..];
    text.contains(&id.to_string()) || text.contains(national)
}

/// API3 (property level) and API1 on lists: what each caller's answers carry, and what they do not.
async fn properties(app: &TestApp, fx: &Fx) {
    let get = |path: String, who: Who| async move { app.get(&path, fx.token(who)).await };
    let report = format!("/v1/reports/{}", fx.report);

    // The public view of A's report: no reporter, no private answers, no precise fix, no routing,
    // no internal notes; nothing names A.
    for who in [
        Who::Anonymous,
        Who::ResidentB,
        Who::Doctor,
        Who::OtherDoctor,
    ] {
        let r = get(report.clone(), who).await;
        assert_eq!(r.status, StatusCode::OK);
        let v = &r.body["report"];
        for private in [
            "reporter",
            "answers",
            "accuracy_m",
            "channel",
            "unit_id",
            "assignee_id",
            "rating_comment",
        ] {
            assert!(
                v[private].is_null(),
                "{who:?} sees {private} of A's report: {v}"
            );
        }
        assert_eq!(v["mine"], false);
        assert!(
            !mentions(&r.body, fx.a_id, A_PHONE),
            "{who:?} learns who reported: {}",
            r.body
        );
        assert!(
            !r.body.to_string().contains(INTERNAL_NOTE),
            "{who:?} reads the internal note"
        );
    }
    let own = get(report.clone(), Who::ResidentA).await;
    assert_eq!(own.body["report"]["mine"], true);
    assert_eq!(own.body["report"]["answers"]["size"], "large");
    assert!(
        !own.body.to_string().contains(INTERNAL_NOTE),
        "the reporter reads the internal note"
    );
    for who in [Who::Staff, Who::Admin] {
        let r = get(report.clone(), who).await;
        assert_eq!(
            r.body["report"]["reporter"]["phone"], "+84973500001",
            "{who:?}"
        );
        assert!(
            r.body.to_string().contains(INTERNAL_NOTE),
            "{who:?} misses the internal note"
        );
    }

    // Feeds name nobody, whoever asks.
    for path in [
        "/v1/reports".to_string(),
        "/v1/reports/map?bbox=106.6,10.7,106.8,10.9&zoom=16".to_string(),
        "/v1/reports/nearby?lat=10.7769&lon=106.7009&category=road_damage".to_string(),
    ] {
        for who in [Who::Anonymous, Who::ResidentB, Who::Doctor] {
            let r = get(path.clone(), who).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            assert!(
                r.body.to_string().contains(&fx.report),
                "{path} lists the report"
            );
            assert!(
                !mentions(&r.body, fx.a_id, A_PHONE),
                "{path} as {who:?} names A: {}",
                r.body
            );
        }
    }
    let mine_b = get("/v1/me/reports".into(), Who::ResidentB).await;
    assert!(
        !mine_b.body.to_string().contains(&fx.report),
        "B's reports list A's"
    );

    // Residents get the stations, not the roster; staff get the roster. The public directory
    // shows doctors without their phone numbers.
    let roster = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["doctors"].as_array().unwrap().len())
            .sum::<usize>()
    };
    assert_eq!(
        roster(&get("/v1/stations".into(), Who::ResidentA).await.body),
        0
    );
    assert!(roster(&get("/v1/stations".into(), Who::Staff).await.body) >= 2);
    for path in ["/v1/telehealth/stations", "/v1/telehealth/doctors"] {
        let text = get(path.into(), Who::Anonymous).await.body.to_string();
        assert!(
            text.contains(&fx.doctor_id.to_string()),
            "{path} lists the doctor"
        );
        assert!(
            !text.contains("97340000"),
            "{path} shows staff phone numbers: {text}"
        );
    }

    // Other people's inboxes, bookings, consultations, records and access logs stay theirs.
    for who in [
        Who::ResidentB,
        Who::Staff,
        Who::Doctor,
        Who::OtherDoctor,
        Who::Admin,
    ] {
        let inbox = get("/v1/notifications".into(), who).await;
        assert!(
            !inbox.body.to_string().contains(&fx.a_notification),
            "{who:?} sees A's notification"
        );
        let log = get("/v1/me/record-access".into(), who).await;
        assert!(
            !log.body.to_string().contains(&fx.record),
            "{who:?}'s access log shows A's record"
        );
        let consents = get("/v1/me/consents".into(), who).await;
        assert!(
            !mentions(&consents.body, fx.a_id, A_PHONE),
            "{who:?} sees A's consents"
        );
    }
    for who in [Who::ResidentB, Who::OtherDoctor] {
        let list = get("/v1/telehealth/appointments".into(), who)
            .await
            .body
            .to_string();
        assert!(
            !list.contains(&fx.appointment),
            "{who:?} lists A's appointment"
        );
        let list = get("/v1/telehealth/consultations".into(), who)
            .await
            .body
            .to_string();
        assert!(
            !list.contains(&fx.consultation),
            "{who:?} lists A's consultation"
        );
        let list = get("/v1/telehealth/records".into(), who)
            .await
            .body
            .to_string();
        assert!(!list.contains(&fx.record), "{who:?} lists A's record");
        let list = get(
            format!("/v1/telehealth/records?consultation_id={}", fx.consultation),
            who,
        )
        .await;
        assert!(
            !list.body.to_string().contains(&fx.record),
            "{who:?} finds A's record by consultation"
        );
    }
    // A and the doctor do see them (so the negative checks above are not vacuous).
    for who in [Who::ResidentA, Who::Doctor] {
        let list = get("/v1/telehealth/records".into(), who)
            .await
            .body
            .to_string();
        assert!(
            list.contains(&fx.record),
            "{who:?} does not list A's record"
        );
        let list = get("/v1/telehealth/appointments".into(), who)
            .await
            .body
            .to_string();
        assert!(
            list.contains(&fx.appointment),
            "{who:?} does not list A's appointment"
        );
    }
    // Open311 clients read every request; none carries who reported it.
    for path in ["/open311/v2/requests.json", "/open311/v2/requests.xml"] {
        let r = get(path.into(), Who::Anonymous).await;
        let text = r.body.to_string();
        assert!(text.contains(&fx.report), "{path} lists A's report");
        assert!(
            !mentions(&r.body, fx.a_id, A_PHONE),
            "{path} names A: {text}"
        );
    }

    // A room ticket for a live call goes to its two people only. The doctor admitted A from the
    // waiting room in the `telehealth_queue_admit` row.
    let list = get("/v1/telehealth/consultations".into(), Who::ResidentA).await;
    let live = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "admitted")
        .unwrap_or_else(|| panic!("A has an admitted consultation: {}", list.body))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let join = format!("/v1/telehealth/consultations/{live}/join");
    for (who, want) in [
        (Who::Anonymous, 401),
        (Who::ResidentA, 200),
        (Who::ResidentB, 404),
        (Who::Staff, 403),
        (Who::Doctor, 200),
        (Who::OtherDoctor, 404),
        (Who::Admin, 403),
    ] {
        let r = app.post(&join, fx.token(who), json!({})).await;
        assert_eq!(
            r.status.as_u16(),
            want,
            "rtc_join of A's live call as {who:?}: {:?}",
            r.body
        );
    }

    let log = get("/v1/me/record-access".into(), Who::ResidentA).await;
    assert!(
        log.body.to_string().contains(&fx.doctor_id.to_string()),
        "A's log names the doctor: {}",
        log.body
    );
}

/// One cell's result.
struct Outcome {
    label: String,
    want: Want,
    got: StatusCode,
    code: String,
    /// What is wrong with the answer's headers, if anything.
    headers: Vec<String>,
}

/// Security headers every answer carries, errors included; and answers to a signed-in caller are
/// not stored by caches unless the operation says otherwise (public photos).
fn header_problems(op: &str, signed_in: bool, resp: &Resp) -> Vec<String> {
    let h = |name: &str| {
        resp.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut out = vec![];
    for (name, want) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        if h(name) != want {
            out.push(format!("{name}: {:?}", h(name)));
        }
    }
    if h("x-request-id").is_empty() {
        out.push("no x-request-id".into());
    }
    let public_content = op.starts_with("media_") && resp.status.is_success();
    if signed_in && !public_content && !h("cache-control").contains("no-store") {
        out.push(format!("cache-control: {:?}", h("cache-control")));
    }
    out
}

async fn run_cell(
    app: &TestApp,
    fx: &Fx,
    ops: &BTreeMap<String, (Method, String)>,
    row: &Row,
    col: usize,
) -> Outcome {
    let who = WHO[col];
    let (method, template) = &ops[row.op];
    let r = (row.build)(fx, who);
    let label = if row.on.is_empty() {
        format!("{} as {who:?}", row.op)
    } else {
        format!("{} ({}) as {who:?}", row.op, row.on)
    };
    let path = fill(template, &r.params, &label);
    let resp = send(app, method, &path, fx.token(who), r).await;
    Outcome {
        headers: header_problems(row.op, who != Who::Anonymous, &resp),
        label,
        want: row.cells[col],
        got: resp.status,
        code: match resp.body["code"].as_str() {
            Some(code) => code.to_string(),
            None if resp.status.is_success() => String::new(),
            None => resp.body.to_string().chars().take(160).collect(),
        },
    }
}

#[tokio::test]
async fn every_operation_against_every_caller() {
    let ops = spec_operations();
    let rows = table();

    // The table and the spec name the same operations.
    let in_table: BTreeSet<&str> = rows.iter().map(|r| r.op).collect();
    let missing: Vec<&String> = ops
        .keys()
        .filter(|op| !in_table.contains(op.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "operations without a row in the authorization matrix (tests/api/authz_matrix.rs): {missing:?}"
    );
    let stale: Vec<&&str> = in_table
        .iter()
        .filter(|op| !ops.contains_key(**op))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for operations the spec no longer has: {stale:?}"
    );
    let mut seen = BTreeSet::new();
    for r in &rows {
        assert!(
            seen.insert((r.op, r.on)),
            "{} ({}) has two rows",
            r.op,
            r.on
        );
    }

    let app = TestApp::spawn().await;
    let fx = fixtures(&app).await;

    // Reads first, all at once; then the writes, one row at a time, denials before the rest.
    let (reads, writes): (Vec<&Row>, Vec<&Row>) =
        rows.iter().partition(|r| ops[r.op].0 == Method::GET);
    let mut outcomes = futures::future::join_all(
        reads
            .iter()
            .flat_map(|r| (0..WHO.len()).map(move |c| (*r, c)))
            .map(|(r, c)| run_cell(&app, &fx, &ops, r, c)),
    )
    .await;
    for r in &writes {
        let (denials, allowed): (Vec<usize>, Vec<usize>) =
            (0..WHO.len()).partition(|c| r.cells[*c].is_denial());
        outcomes.extend(
            futures::future::join_all(denials.iter().map(|c| run_cell(&app, &fx, &ops, r, *c)))
                .await,
        );
        for c in allowed {
            outcomes.push(run_cell(&app, &fx, &ops, r, c).await);
        }
    }

    let bad_headers: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.headers.is_empty())
        .map(|o| format!("{}: {}", o.label, o.headers.join(", ")))
        .collect();
    assert!(
        bad_headers.is_empty(),
        "{} answers lack security headers:\n{}",
        bad_headers.len(),
        bad_headers.join("\n")
    );
    let wrong: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.want.matches(o.got))
        .map(|o| {
            format!(
                "{}: want {:?}, got {} {}",
                o.label,
                o.want,
                o.got.as_u16(),
                o.code
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} cells differ from the table:\n{}",
        wrong.len(),
        outcomes.len(),
        wrong.join("\n")
    );
    assert_eq!(outcomes.len(), rows.len() * WHO.len());

    // Marking A's notification read as anyone else left it unread.
    let unread = app
        .get("/v1/notifications?unread=true", fx.token(Who::ResidentA))
        .await;
    assert!(
        unread.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == fx.a_notification.as_str()),
        "someone else marked A's notification read"
    );
    properties(&app, &fx).await;
    app.stop().await;
}
