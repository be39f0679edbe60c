//! HTTP: the telehealth directory, calendars and slots, appointments, the waiting room and
//! consultations ([`TelehealthApi`]); consent, clinical records and the access log ([`RecordsApi`]).

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::queue::{self, ConsultationRow, ConsultationStatus, ParticipantRole};
use super::records::{
    self, AccessAction, ConsentKind, Content, Diagnosis, PrescriptionItem, RecordRow, RecordStatus,
};
use super::schedule::{
    self, AppointmentRow, AppointmentStatus, Doctor, NewBooking, StationPatch, StationRow, Window,
};
use super::{Symptom, stats};
use crate::auth::api::BearerAuth;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, NoBodyError};
use crate::store::idempotency;
use crate::tags::ApiTags;
use crate::telehealth::Ctx;

// ---- directory ----

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Location {
    lat: f64,
    lon: f64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DoctorCard {
    id: Uuid,
    name: String,
    /// e.g. `BS CKI` (specialist level I), `ThS.BS`.
    title: String,
    specialty: String,
    /// The city hospital of a visiting specialist.
    hospital: Option<String>,
    stations: Vec<Uuid>,
    /// Taking on-demand patients now at this station.
    on_duty_at: Option<Uuid>,
}

impl From<Doctor> for DoctorCard {
    fn from(d: Doctor) -> Self {
        DoctorCard {
            id: d.account_id,
            name: d.name,
            title: d.title,
            specialty: d.specialty,
            hospital: d.hospital,
            stations: d.stations,
            on_duty_at: d.on_duty_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct StationCard {
    id: Uuid,
    name: String,
    address: String,
    phone: String,
    location: Option<Location>,
    /// OpenStreetMap `opening_hours` syntax, e.g. `Mo-Fr 07:00-17:00; Sa 07:00-11:30`.
    opening_hours: String,
    doctors: Vec<DoctorCard>,
    doctors_on_duty: i64,
}

fn station_card(s: StationRow, all: &[Doctor]) -> StationCard {
    let doctors: Vec<DoctorCard> = all
        .iter()
        .filter(|d| d.stations.contains(&s.station_id))
        .cloned()
        .map(Into::into)
        .collect();
    let on_duty = all
        .iter()
        .filter(|d| d.on_duty_at == Some(s.station_id))
        .count() as i64;
    StationCard {
        id: s.station_id,
        name: s.name,
        address: s.address,
        phone: s.phone,
        location: s.lat.zip(s.lon).map(|(lat, lon)| Location { lat, lon }),
        opening_hours: s.opening_hours,
        doctors,
        doctors_on_duty: on_duty,
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct StationUpdate {
    #[oai(validator(max_length = 600))]
    address: Option<String>,
    #[oai(validator(max_length = 60))]
    phone: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    #[oai(validator(max_length = 400))]
    opening_hours: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DoctorProfile {
    #[oai(default, validator(max_length = 200))]
    title: String,
    #[oai(default, validator(max_length = 400))]
    specialty: String,
    #[oai(validator(max_length = 400))]
    hospital: Option<String>,
}

// ---- calendars ----

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WindowView {
    station_id: Uuid,
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    #[oai(validator(minimum(value = "1"), maximum(value = "7")))]
    weekday: u32,
    /// Local time `HH:MM`.
    #[oai(validator(max_length = 5))]
    start: String,
    /// Local time `HH:MM` (`24:00` for midnight).
    #[oai(validator(max_length = 5))]
    end: String,
    /// Length of each slot (default 15).
    #[oai(validator(minimum(value = "5"), maximum(value = "120")))]
    slot_minutes: Option<u32>,
}

impl From<Window> for WindowView {
    fn from(w: Window) -> Self {
        WindowView {
            station_id: w.station_id,
            weekday: w.weekday,
            start: schedule::format_clock(w.start_minute),
            end: schedule::format_clock(w.end_minute),
            slot_minutes: Some(w.slot_minutes),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Availability {
    #[oai(validator(max_items = 50))]
    windows: Vec<WindowView>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LeaveView {
    day: NaiveDate,
    reason: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NewLeave {
    from: NaiveDate,
    /// Last day of leave (inclusive); defaults to `from`.
    to: Option<NaiveDate>,
    #[oai(default, validator(max_length = 600))]
    reason: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LeaveAdded {
    /// Booked appointments on those days, now cancelled (their residents were notified).
    cancelled_appointments: u64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct SlotView {
    doctor_id: Uuid,
    station_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

// ---- appointments ----

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AppointmentView {
    id: Uuid,
    status: AppointmentStatus,
    resident_id: Uuid,
    doctor_id: Uuid,
    station_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: String,
    symptom: Option<Symptom>,
    cancelled_by: Option<Uuid>,
    cancel_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn appointment_view(a: AppointmentRow) -> Result<AppointmentView, Error> {
    Ok(AppointmentView {
        id: a.appointment_id,
        status: a.status()?,
        resident_id: a.resident_id,
        doctor_id: a.doctor_id,
        station_id: a.station_id,
        start: a.starts_at,
        end: a.ends_at,
        symptom: a.symptom.as_deref().and_then(Symptom::parse),
        reason: a.reason,
        cancelled_by: a.cancelled_by,
        cancel_reason: a.cancel_reason,
        created_at: a.created_at,
        updated_at: a.updated_at,
    })
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BookingRequest {
    doctor_id: Uuid,
    station_id: Uuid,
    /// The slot's start, as listed by `GET /v1/telehealth/slots`.
    start: DateTime<Utc>,
    #[oai(validator(max_length = 4000))]
    reason: String,
    symptom: Option<Symptom>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CancelRequest {
    #[oai(default, validator(max_length = 2000))]
    reason: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RescheduleRequest {
    start: DateTime<Utc>,
}

// ---- consultations ----

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct JoinQueue {
    station_id: Uuid,
    #[oai(validator(max_length = 4000))]
    reason: String,
    symptom: Option<Symptom>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AdmitRequest {
    /// Admit this resident instead of the next in line.
    consultation_id: Option<Uuid>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DoctorRef {
    doctor_id: Uuid,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DutyRequest {
    station_id: Uuid,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeclineRequest {
    /// Shown to the resident, e.g. "please come to the station".
    #[oai(default, validator(max_length = 2000))]
    reason: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RatingRequest {
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    stars: i32,
    #[oai(default, validator(max_length = 4000))]
    comment: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PersonRef {
    id: Uuid,
    name: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsultationDoctor {
    id: Uuid,
    name: String,
    role: ParticipantRole,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsultationView {
    id: Uuid,
    station_id: Uuid,
    status: ConsultationStatus,
    /// The patient (shown to doctors).
    resident: PersonRef,
    /// The doctor it is with, or (while waiting) meant for.
    doctor_id: Option<Uuid>,
    appointment_id: Option<Uuid>,
    doctors: Vec<ConsultationDoctor>,
    reason: String,
    symptom: Option<Symptom>,
    /// The resident has not accepted the current telehealth consent: no admission until they do.
    consent_needed: bool,
    /// Place in the waiting room (1 = next), while waiting.
    position: Option<i64>,
    estimated_wait_minutes: Option<i64>,
    queued_at: DateTime<Utc>,
    admitted_at: Option<DateTime<Utc>>,
    /// An admitted resident who has not connected by then has missed the call.
    answer_by: Option<DateTime<Utc>>,
    call_started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    end_reason: Option<String>,
    /// From joining the waiting room to admission.
    wait_seconds: Option<i64>,
    /// Of the call.
    duration_seconds: Option<i64>,
    rating: Option<i32>,
    rating_comment: Option<String>,
}

async fn name_of(state: &Ctx, id: Uuid) -> Result<String, Error> {
    Ok(crate::auth::repo::account_by_id(&state.db, id)
        .await?
        .map(|a| a.display_name)
        .unwrap_or_default())
}

async fn consultation_view(state: &Ctx, c: ConsultationRow) -> Result<ConsultationView, Error> {
    let status = c.status()?;
    let mut doctors = vec![];
    for (id, role) in queue::doctors_of(&state.db, c.consultation_id).await? {
        doctors.push(ConsultationDoctor {
            id,
            name: name_of(state, id).await?,
            role,
        });
    }
    let position = queue::position(state, &c).await?;
    let consent_needed = status.is_live() && !records::has_consent(state, c.resident_id).await?;
    Ok(ConsultationView {
        id: c.consultation_id,
        station_id: c.station_id,
        status,
        resident: PersonRef {
            id: c.resident_id,
            name: name_of(state, c.resident_id).await?,
        },
        doctor_id: c.doctor_id,
        appointment_id: c.appointment_id,
        doctors,
        symptom: c.symptom.as_deref().and_then(Symptom::parse),
        reason: c.reason,
        consent_needed,
        position: position.map(|p| p.0),
        estimated_wait_minutes: position.map(|p| p.1),
        queued_at: c.queued_at,
        admitted_at: c.admitted_at,
        answer_by: c.answer_by,
        call_started_at: c.call_started_at,
        ended_at: c.ended_at,
        end_reason: c.end_reason,
        wait_seconds: c
            .admitted_at
            .map(|a| (a - c.queued_at).num_seconds().max(0)),
        duration_seconds: c
            .call_started_at
            .zip(c.ended_at)
            .map(|(s, e)| (e - s).num_seconds().max(0)),
        rating: c.rating,
        rating_comment: c.rating_comment,
    })
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DoctorLoadView {
    doctor_id: Uuid,
    name: String,
    consultations: i64,
    minutes_in_call: i64,
    average_rating: Option<f64>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct StationStats {
    station_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Consultations created in the window, by status.
    consultations: std::collections::BTreeMap<String, i64>,
    median_wait_seconds: Option<i64>,
    median_call_seconds: Option<i64>,
    /// Appointments starting in the window, by status.
    appointments: std::collections::BTreeMap<String, i64>,
    /// No-shows among appointments that reached their time.
    no_show_rate: Option<f64>,
    ratings: i64,
    average_rating: Option<f64>,
    records_signed: i64,
    doctors: Vec<DoctorLoadView>,
    /// Calls whose apps sent quality summaries.
    calls_measured: i64,
    /// Share of measured calls that went through TURN.
    relayed_share: Option<f64>,
    /// Share of measured calls with average loss over 5 %, round trip over 400 ms or jitter over 50 ms.
    poor_quality_share: Option<f64>,
}

// ---- responses ----

#[derive(ApiResponse)]
enum AppointmentCreated {
    /// Booked (or, for a retried `Idempotency-Key`, the first answer again).
    #[oai(status = 201)]
    Created(Json<AppointmentView>),
}

#[derive(ApiResponse)]
enum ConsultationCreated {
    /// In the waiting room (or, for a retried `Idempotency-Key`, the first answer again).
    #[oai(status = 201)]
    Created(Json<ConsultationView>),
}

#[derive(ApiResponse)]
enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// Claim an `Idempotency-Key`; `Err(id)` when a previous request already created resource `id`.
async fn claim_key(
    state: &Ctx,
    caller: &Caller,
    scope: &'static str,
    key: Option<String>,
    parts: &[&str],
) -> Result<Result<Option<idempotency::Key>, Uuid>, Error> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Ok(Ok(None));
    };
    let hash = idempotency::hash_request(parts);
    match idempotency::claim(
        &state.db,
        caller.account_id,
        scope,
        &key,
        &hash,
        state.clock.now(),
    )
    .await?
    {
        idempotency::Claim::Claimed(k) => Ok(Ok(Some(k))),
        idempotency::Claim::Done(id) => Uuid::parse_str(&id)
            .map(Err)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored id: {e}"))),
    }
}

/// Release a claimed key when the work failed, so a retry can try again.
async fn release_on_error<T>(
    state: &Ctx,
    key: &Option<idempotency::Key>,
    result: Result<T, Error>,
) -> Result<T, Error> {
    if result.is_err()
        && let Some(k) = key
    {
        idempotency::release(&state.db, k).await?;
    }
    result
}

pub struct TelehealthApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Telehealth")]
impl TelehealthApi {
    /// Health stations and their doctors (public)
    #[oai(
        path = "/v1/telehealth/stations",
        method = "get",
        operation_id = "telehealth_stations"
    )]
    async fn stations(&self) -> Result<Json<Vec<StationCard>>, NoBodyError> {
        let doctors = schedule::doctors(&self.state.db).await?;
        Ok(Json(
            schedule::stations(&self.state.db)
                .await?
                .into_iter()
                .map(|s| station_card(s, &doctors))
                .collect(),
        ))
    }

    /// Doctors, optionally of one station (public)
    #[oai(
        path = "/v1/telehealth/doctors",
        method = "get",
        operation_id = "telehealth_doctors"
    )]
    async fn doctors(
        &self,
        station: Query<Option<Uuid>>,
    ) -> Result<Json<Vec<DoctorCard>>, NoBodyError> {
        if let Some(s) = station.0 {
            schedule::station(&self.state.db, s).await?;
        }
        Ok(Json(
            schedule::doctors(&self.state.db)
                .await?
                .into_iter()
                .filter(|d| station.0.is_none_or(|s| d.stations.contains(&s)))
                .map(Into::into)
                .collect(),
        ))
    }

    /// Update a station's address, phone, location and opening hours (admins)
    #[oai(
        path = "/v1/admin/stations/:station_id",
        method = "patch",
        operation_id = "admin_update_station"
    )]
    async fn update_station(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
        body: Json<StationUpdate>,
    ) -> Result<Json<StationCard>, ApiError> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let b = body.0;
        let location = match (b.lat, b.lon) {
            (Some(lat), Some(lon)) => Some((lat, lon)),
            (None, None) => None,
            _ => {
                return Err(Error::validation(
                    "lat",
                    "incomplete_location",
                    "Cần cả vĩ độ và kinh độ",
                    "Give both lat and lon",
                )
                .into());
            }
        };
        let row = schedule::update_station(
            &self.state,
            station_id.0,
            StationPatch {
                address: b.address,
                phone: b.phone,
                location,
                opening_hours: b.opening_hours,
            },
        )
        .await?;
        let doctors = schedule::doctors(&self.state.db).await?;
        Ok(Json(station_card(row, &doctors)))
    }

    /// Set a doctor's title, specialty and hospital (admins)
    #[oai(
        path = "/v1/admin/doctors/:doctor_id/profile",
        method = "put",
        operation_id = "admin_set_doctor_profile"
    )]
    async fn set_profile(
        &self,
        auth: BearerAuth,
        doctor_id: Path<Uuid>,
        body: Json<DoctorProfile>,
    ) -> Result<Json<DoctorCard>, ApiError> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        schedule::set_profile(
            &self.state,
            doctor_id.0,
            &body.title,
            &body.specialty,
            body.hospital.as_deref(),
        )
        .await?;
        let card = schedule::doctors(&self.state.db)
            .await?
            .into_iter()
            .find(|d| d.account_id == doctor_id.0)
            .ok_or(Error::NotFound("doctor_not_found"))?;
        Ok(Json(card.into()))
    }

    /// A doctor's weekly availability (the doctor, admins)
    #[oai(
        path = "/v1/telehealth/doctors/:doctor_id/availability",
        method = "get",
        operation_id = "telehealth_availability_get"
    )]
    async fn availability(
        &self,
        auth: BearerAuth,
        doctor_id: Path<Uuid>,
    ) -> Result<Json<Availability>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let windows = schedule::availability(&self.state, &caller, doctor_id.0).await?;
        Ok(Json(Availability {
            windows: windows.into_iter().map(Into::into).collect(),
        }))
    }

    /// Replace a doctor's weekly availability (the doctor, admins)
    ///
    /// Windows are in the ward's local time; windows of one doctor may not overlap. Appointments
    /// already booked stand.
    #[oai(
        path = "/v1/telehealth/doctors/:doctor_id/availability",
        method = "put",
        operation_id = "telehealth_availability_set"
    )]
    async fn set_availability(
        &self,
        auth: BearerAuth,
        doctor_id: Path<Uuid>,
        body: Json<Availability>,
    ) -> Result<Json<Availability>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let mut windows = vec![];
        for (i, w) in body.0.windows.into_iter().enumerate() {
            windows.push(Window {
                station_id: w.station_id,
                weekday: w.weekday,
                start_minute: schedule::parse_clock(&w.start, &format!("windows[{i}].start"))?,
                end_minute: schedule::parse_clock(&w.end, &format!("windows[{i}].end"))?,
                slot_minutes: w.slot_minutes.unwrap_or(15),
            });
        }
        let saved =
            schedule::replace_availability(&self.state, &caller, doctor_id.0, windows).await?;
        Ok(Json(Availability {
            windows: saved.into_iter().map(Into::into).collect(),
        }))
    }

    /// A doctor's coming leave days (the doctor, admins)
    #[oai(
        path = "/v1/telehealth/doctors/:doctor_id/leave",
        method = "get",
        operation_id = "telehealth_leave_list"
    )]
    async fn leave(
        &self,
        auth: BearerAuth,
        doctor_id: Path<Uuid>,
    ) -> Result<Json<Vec<LeaveView>>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        Ok(Json(
            schedule::leave_days(&self.state, &caller, doctor_id.0)
                .await?
                .into_iter()
                .map(|l| LeaveView {
                    day: l.day,
                    reason: l.reason,
                })
                .collect(),
        ))
    }

    /// Add leave days (the doctor, admins)
    ///
    /// Appointments already booked on those days are cancelled and their residents notified.
    #[oai(
        path = "/v1/telehealth/doctors/:doctor_id/leave",
        method = "post",
        operation_id = "telehealth_leave_add"
    )]
    async fn add_leave(
        &self,
        auth: BearerAuth,
        doctor_id: Path<Uuid>,
        body: Json<NewLeave>,
    ) -> Result<Json<LeaveAdded>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let n = schedule::add_leave(
            &self.state,
            &caller,
            doctor_id.0,
            body.from,
            body.to.unwrap_or(body.from),
            &body.reason,
        )
        .await?;
        Ok(Json(LeaveAdded {
            cancelled_appointments: n as u64,
        }))
    }

    /// Remove a leave day (the doctor, admins)
    #[oai(
        path = "/v1/telehealth/doctors/:doctor_id/leave/:day",
        method = "delete",
        operation_id = "telehealth_leave_remove"
    )]
    async fn remove_leave(
        &self,
        auth: BearerAuth,
        doctor_id: Path<Uuid>,
        day: Path<NaiveDate>,
    ) -> Result<Done, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        schedule::remove_leave(&self.state, &caller, doctor_id.0, day.0).await?;
        Ok(Done::Done)
    }

    /// Free slots (public)
    ///
    /// Bookable slots of a station and/or a doctor from `from` (default now) to `to` (default a
    /// week later; at most 31 days), in time order.
    #[oai(
        path = "/v1/telehealth/slots",
        method = "get",
        operation_id = "telehealth_slots"
    )]
    async fn slots(
        &self,
        station: Query<Option<Uuid>>,
        doctor: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<Vec<SlotView>>, NoBodyError> {
        let slots = schedule::slots(&self.state, station.0, doctor.0, from.0, to.0).await?;
        Ok(Json(
            slots
                .into_iter()
                .map(|s| SlotView {
                    doctor_id: s.doctor_id,
                    station_id: s.station_id,
                    start: s.start,
                    end: s.end,
                })
                .collect(),
        ))
    }

    /// Book a slot (residents)
    ///
    /// Exactly one booking of a slot succeeds; the others get 409 `slot_taken`. Send an
    /// `Idempotency-Key` so a retry returns the first answer.
    #[oai(
        path = "/v1/telehealth/appointments",
        method = "post",
        operation_id = "telehealth_book"
    )]
    async fn book(
        &self,
        auth: BearerAuth,
        /// Unique per booking attempt, up to 100 characters.
        #[oai(name = "Idempotency-Key", validator(max_length = 100))]
        idempotency_key: Header<Option<String>>,
        body: Json<BookingRequest>,
    ) -> Result<AppointmentCreated, ApiError> {
        let caller = self
            .state
            .auth
            .caller_with(&auth, &[Role::Resident])
            .await?;
        let b = body.0;
        let key = match claim_key(
            &self.state,
            &caller,
            "telehealth_book",
            idempotency_key.0,
            &[
                &b.doctor_id.to_string(),
                &b.station_id.to_string(),
                &b.start.to_rfc3339(),
                &b.reason,
            ],
        )
        .await?
        {
            Ok(k) => k,
            Err(id) => {
                let row = schedule::appointment(&self.state, &caller, id).await?;
                return Ok(AppointmentCreated::Created(Json(appointment_view(row)?)));
            }
        };
        let booked = schedule::book(
            &self.state,
            &caller,
            NewBooking {
                doctor_id: b.doctor_id,
                station_id: b.station_id,
                start: b.start,
                reason: b.reason,
                symptom: b.symptom,
            },
            key.as_ref(),
        )
        .await;
        let row = release_on_error(&self.state, &key, booked).await?;
        Ok(AppointmentCreated::Created(Json(appointment_view(row)?)))
    }

    /// My appointments (residents: booked by me; doctors: booked with me)
    #[oai(
        path = "/v1/telehealth/appointments",
        method = "get",
        operation_id = "telehealth_appointments"
    )]
    async fn appointments(
        &self,
        auth: BearerAuth,
        /// Starting at or after (default 30 days ago).
        from: Query<Option<DateTime<Utc>>>,
        /// Starting before (default 90 days ahead).
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<Vec<AppointmentView>>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let rows = schedule::appointments(&self.state, &caller, from.0, to.0).await?;
        Ok(Json(
            rows.into_iter()
                .map(appointment_view)
                .collect::<Result<_, _>>()?,
        ))
    }

    /// One appointment (its resident or doctor)
    #[oai(
        path = "/v1/telehealth/appointments/:appointment_id",
        method = "get",
        operation_id = "telehealth_appointment"
    )]
    async fn appointment(
        &self,
        auth: BearerAuth,
        appointment_id: Path<Uuid>,
    ) -> Result<Json<AppointmentView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = schedule::appointment(&self.state, &caller, appointment_id.0).await?;
        Ok(Json(appointment_view(row)?))
    }

    /// Cancel an appointment
    ///
    /// The resident until `telehealth_cancel_cutoff_minutes` before the start (409 `cutoff_passed`
    /// after), the doctor at any time; the other side is notified.
    #[oai(
        path = "/v1/telehealth/appointments/:appointment_id/cancel",
        method = "post",
        operation_id = "telehealth_appointment_cancel"
    )]
    async fn cancel_appointment(
        &self,
        auth: BearerAuth,
        appointment_id: Path<Uuid>,
        body: Json<CancelRequest>,
    ) -> Result<Json<AppointmentView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = schedule::cancel(&self.state, &caller, appointment_id.0, &body.reason).await?;
        Ok(Json(appointment_view(row)?))
    }

    /// Move an appointment to another slot of the same doctor
    ///
    /// Same cut-off as cancelling for residents; the other side is notified.
    #[oai(
        path = "/v1/telehealth/appointments/:appointment_id/reschedule",
        method = "post",
        operation_id = "telehealth_appointment_reschedule"
    )]
    async fn reschedule(
        &self,
        auth: BearerAuth,
        appointment_id: Path<Uuid>,
        body: Json<RescheduleRequest>,
    ) -> Result<Json<AppointmentView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = schedule::reschedule(&self.state, &caller, appointment_id.0, body.start).await?;
        Ok(Json(appointment_view(row)?))
    }

    /// Check in for a booked appointment (its resident): enter the waiting room
    #[oai(
        path = "/v1/telehealth/appointments/:appointment_id/check-in",
        method = "post",
        operation_id = "telehealth_appointment_check_in"
    )]
    async fn check_in(
        &self,
        auth: BearerAuth,
        appointment_id: Path<Uuid>,
    ) -> Result<ConsultationCreated, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = schedule::check_in(&self.state, &caller, appointment_id.0).await?;
        Ok(ConsultationCreated::Created(Json(
            consultation_view(&self.state, row).await?,
        )))
    }

    /// Join a station's waiting room now (residents)
    ///
    /// One live consultation per resident (409 `already_in_consultation`). The answer shows the
    /// place in the queue and an estimated wait. Send an `Idempotency-Key` so a retry returns the
    /// first answer.
    #[oai(
        path = "/v1/telehealth/queue",
        method = "post",
        operation_id = "telehealth_queue_join"
    )]
    async fn join_queue(
        &self,
        auth: BearerAuth,
        /// Unique per attempt, up to 100 characters.
        #[oai(name = "Idempotency-Key", validator(max_length = 100))]
        idempotency_key: Header<Option<String>>,
        body: Json<JoinQueue>,
    ) -> Result<ConsultationCreated, ApiError> {
        let caller = self
            .state
            .auth
            .caller_with(&auth, &[Role::Resident])
            .await?;
        let b = body.0;
        let key = match claim_key(
            &self.state,
            &caller,
            "telehealth_queue_join",
            idempotency_key.0,
            &[&b.station_id.to_string(), &b.reason],
        )
        .await?
        {
            Ok(k) => k,
            Err(id) => {
                let (row, _) = queue::get(&self.state, &caller, id).await?;
                return Ok(ConsultationCreated::Created(Json(
                    consultation_view(&self.state, row).await?,
                )));
            }
        };
        let joined = queue::join(
            &self.state,
            &caller,
            b.station_id,
            &b.reason,
            b.symptom,
            key.as_ref(),
        )
        .await;
        let row = release_on_error(&self.state, &key, joined).await?;
        Ok(ConsultationCreated::Created(Json(
            consultation_view(&self.state, row).await?,
        )))
    }

    /// A station's waiting room in calling order (the station's doctors)
    #[oai(
        path = "/v1/telehealth/stations/:station_id/queue",
        method = "get",
        operation_id = "telehealth_queue"
    )]
    async fn station_queue(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
    ) -> Result<Json<Vec<ConsultationView>>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let rows = queue::station_queue(&self.state, &caller, station_id.0).await?;
        let mut out = vec![];
        for r in rows {
            out.push(consultation_view(&self.state, r).await?);
        }
        Ok(Json(out))
    }

    /// Admit the next resident (or a chosen one) from the waiting room (the station's doctors)
    ///
    /// The next is the first in calling order who has given consent and is meant for any doctor or
    /// for the caller. 404 `queue_empty` when there is nobody to admit; 409 `consent_required`
    /// for a chosen resident without consent.
    #[oai(
        path = "/v1/telehealth/stations/:station_id/queue/admit",
        method = "post",
        operation_id = "telehealth_queue_admit"
    )]
    async fn admit(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
        body: Json<AdmitRequest>,
    ) -> Result<Json<ConsultationView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::admit(&self.state, &caller, station_id.0, body.consultation_id).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Go on duty at a station (doctors): take on-demand patients
    #[oai(
        path = "/v1/telehealth/duty",
        method = "put",
        operation_id = "telehealth_duty_on"
    )]
    async fn duty_on(&self, auth: BearerAuth, body: Json<DutyRequest>) -> Result<Done, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        queue::set_duty(&self.state, &caller, Some(body.station_id)).await?;
        Ok(Done::Done)
    }

    /// Go off duty (doctors)
    #[oai(
        path = "/v1/telehealth/duty",
        method = "delete",
        operation_id = "telehealth_duty_off"
    )]
    async fn duty_off(&self, auth: BearerAuth) -> Result<Done, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        queue::set_duty(&self.state, &caller, None).await?;
        Ok(Done::Done)
    }

    /// My consultations, newest first (residents: mine; doctors: those I took part in)
    #[oai(
        path = "/v1/telehealth/consultations",
        method = "get",
        operation_id = "telehealth_consultations"
    )]
    async fn consultations(
        &self,
        auth: BearerAuth,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> Result<Json<Vec<ConsultationView>>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let rows = queue::mine(&self.state, &caller, limit.0.unwrap_or(50)).await?;
        let mut out = vec![];
        for r in rows {
            out.push(consultation_view(&self.state, r).await?);
        }
        Ok(Json(out))
    }

    /// One consultation (its resident and doctors; the station's doctors while it waits)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id",
        method = "get",
        operation_id = "telehealth_consultation"
    )]
    async fn consultation(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let (row, _) = queue::get(&self.state, &caller, consultation_id.0).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Put an admitted resident back in the waiting room, keeping their place (admitting doctor)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/requeue",
        method = "post",
        operation_id = "telehealth_consultation_requeue"
    )]
    async fn requeue(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::requeue(&self.state, &caller, consultation_id.0).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Transfer to a colleague at the same station (back in the waiting room, meant for them)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/transfer",
        method = "post",
        operation_id = "telehealth_consultation_transfer"
    )]
    async fn transfer(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<DoctorRef>,
    ) -> Result<Json<ConsultationView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::transfer(&self.state, &caller, consultation_id.0, body.doctor_id).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Decline a waiting or admitted resident, with a reason they read (doctors)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/decline",
        method = "post",
        operation_id = "telehealth_consultation_decline"
    )]
    async fn decline(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<DeclineRequest>,
    ) -> Result<Json<ConsultationView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::decline(&self.state, &caller, consultation_id.0, &body.reason).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Leave the waiting room (the resident)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/cancel",
        method = "post",
        operation_id = "telehealth_consultation_cancel"
    )]
    async fn cancel_consultation(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::cancel(&self.state, &caller, consultation_id.0).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Mark the call as connected (admitting doctor)
    ///
    /// The WebRTC room does this by itself when both sides connect; this is for a call held by
    /// other means (e.g. the doctor phoned).
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/start",
        method = "post",
        operation_id = "telehealth_consultation_start"
    )]
    async fn start(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::start(&self.state, &caller, consultation_id.0).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// End the call (admitting doctor, or the resident hanging up)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/end",
        method = "post",
        operation_id = "telehealth_consultation_end"
    )]
    async fn end(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
    ) -> Result<Json<ConsultationView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::end(&self.state, &caller, consultation_id.0).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Invite a specialist (any doctor, e.g. from a city hospital) into the consultation (admitting doctor)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/specialists",
        method = "post",
        operation_id = "telehealth_consultation_invite"
    )]
    async fn invite(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<DoctorRef>,
    ) -> Result<Json<ConsultationView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::invite(&self.state, &caller, consultation_id.0, body.doctor_id).await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// Rate an ended consultation, once (the resident)
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/rating",
        method = "post",
        operation_id = "telehealth_consultation_rate"
    )]
    async fn rate(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<RatingRequest>,
    ) -> Result<Json<ConsultationView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = queue::rate(
            &self.state,
            &caller,
            consultation_id.0,
            body.stars,
            &body.comment,
        )
        .await?;
        Ok(Json(consultation_view(&self.state, row).await?))
    }

    /// A station's figures: consultations, waits, call lengths, no-shows, ratings, doctors' workload
    ///
    /// No clinical content. Admins, and the station's doctors. Window: `from` (default 30 days
    /// before `to`) to `to` (default now), at most 366 days.
    #[oai(
        path = "/v1/telehealth/stations/:station_id/stats",
        method = "get",
        operation_id = "telehealth_stats"
    )]
    async fn stats(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<StationStats>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let f = stats::station_figures(&self.state, &caller, station_id.0, from.0, to.0).await?;
        Ok(Json(StationStats {
            station_id: f.station_id,
            from: f.from,
            to: f.to,
            consultations: f.consultations,
            median_wait_seconds: f.median_wait_seconds,
            median_call_seconds: f.median_call_seconds,
            appointments: f.appointments,
            no_show_rate: f.no_show_rate,
            ratings: f.ratings,
            average_rating: f.average_rating,
            records_signed: f.records_signed,
            calls_measured: f.calls_measured,
            relayed_share: f.relayed_share,
            poor_quality_share: f.poor_quality_share,
            doctors: f
                .doctors
                .into_iter()
                .map(|d| DoctorLoadView {
                    doctor_id: d.doctor_id,
                    name: d.name,
                    consultations: d.consultations,
                    minutes_in_call: d.minutes_in_call,
                    average_rating: d.average_rating,
                })
                .collect(),
        }))
    }
}

// ---- medical records ----

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsentTextView {
    kind: ConsentKind,
    version: String,
    text_vi: String,
    text_en: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsentDecision {
    kind: ConsentKind,
    /// The version of the text the resident read (must be the current one).
    #[oai(validator(max_length = 40))]
    version: String,
    accepted: bool,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsentView {
    id: Uuid,
    kind: ConsentKind,
    version: String,
    accepted: bool,
    created_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MyConsents {
    /// Whether the current telehealth consent is accepted (needed to be admitted).
    telehealth: bool,
    /// Whether calls may be recorded (off unless accepted).
    recording: bool,
    history: Vec<ConsentView>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RecordInput {
    #[oai(default, validator(max_length = 40000))]
    subjective: String,
    #[oai(default, validator(max_length = 40000))]
    objective: String,
    #[oai(default, validator(max_length = 40000))]
    assessment: String,
    #[oai(default, validator(max_length = 40000))]
    plan: String,
    #[oai(default, validator(max_items = 20))]
    diagnoses: Vec<Diagnosis>,
    #[oai(default, validator(max_items = 30))]
    prescriptions: Vec<PrescriptionItem>,
    follow_up_on: Option<NaiveDate>,
    /// The doctor advises coming to the station in person.
    #[oai(default)]
    in_person_advised: bool,
}

impl From<RecordInput> for Content {
    fn from(r: RecordInput) -> Self {
        Content {
            subjective: r.subjective,
            objective: r.objective,
            assessment: r.assessment,
            plan: r.plan,
            diagnoses: r.diagnoses,
            prescriptions: r.prescriptions,
            follow_up_on: r.follow_up_on,
            in_person_advised: r.in_person_advised,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RecordView {
    id: Uuid,
    consultation_id: Uuid,
    resident_id: Uuid,
    author: PersonRef,
    version: i32,
    /// The version this one amends.
    supersedes: Option<Uuid>,
    /// The amendment that replaced this version, if any.
    superseded_by: Option<Uuid>,
    status: RecordStatus,
    subjective: String,
    objective: String,
    assessment: String,
    plan: String,
    diagnoses: Vec<Diagnosis>,
    prescriptions: Vec<PrescriptionItem>,
    follow_up_on: Option<NaiveDate>,
    in_person_advised: bool,
    signed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

async fn record_view(state: &Ctx, r: RecordRow) -> Result<RecordView, Error> {
    let content = r.content()?;
    Ok(RecordView {
        id: r.record_id,
        consultation_id: r.consultation_id,
        resident_id: r.resident_id,
        author: PersonRef {
            id: r.author_id,
            name: name_of(state, r.author_id).await?,
        },
        version: r.version,
        supersedes: r.supersedes,
        superseded_by: r.superseded_by,
        status: r.status(),
        subjective: content.subjective,
        objective: content.objective,
        assessment: content.assessment,
        plan: content.plan,
        diagnoses: content.diagnoses,
        prescriptions: content.prescriptions,
        follow_up_on: content.follow_up_on,
        in_person_advised: content.in_person_advised,
        signed_at: r.signed_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AccessView {
    id: Uuid,
    actor: PersonRef,
    actor_role: String,
    action: AccessAction,
    record_id: Option<Uuid>,
    consultation_id: Option<Uuid>,
    /// Why: `treatment` (a doctor of the consultation) or `patient_access` (you).
    purpose: String,
    at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AccessPage {
    items: Vec<AccessView>,
    /// Pass as `before` for the next page.
    next_before: Option<Uuid>,
}

#[derive(ApiResponse)]
enum RecordCreated {
    /// Created as a draft.
    #[oai(status = 201)]
    Created(Json<RecordView>),
}

pub struct RecordsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::MedicalRecords")]
impl RecordsApi {
    /// The current consent texts (public)
    #[oai(
        path = "/v1/telehealth/consent",
        method = "get",
        operation_id = "telehealth_consent_texts"
    )]
    async fn consent_texts(&self) -> Result<Json<Vec<ConsentTextView>>, NoBodyError> {
        Ok(Json(
            records::CONSENTS
                .iter()
                .map(|c| ConsentTextView {
                    kind: c.kind,
                    version: c.version.into(),
                    text_vi: c.text_vi.split_whitespace().collect::<Vec<_>>().join(" "),
                    text_en: c.text_en.split_whitespace().collect::<Vec<_>>().join(" "),
                })
                .collect(),
        ))
    }

    /// Accept or withdraw a consent (residents)
    ///
    /// The version must be the current one (409 `consent_version_outdated` otherwise). Recording
    /// consent is separate and off unless accepted.
    #[oai(
        path = "/v1/telehealth/consent",
        method = "post",
        operation_id = "telehealth_consent_decide"
    )]
    async fn decide(
        &self,
        auth: BearerAuth,
        body: Json<ConsentDecision>,
    ) -> Result<Json<ConsentView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::decide(
            &self.state,
            &caller,
            body.kind,
            &body.version,
            body.accepted,
        )
        .await?;
        Ok(Json(consent_view(row)?))
    }

    /// My consents: what holds now and every decision
    #[oai(path = "/v1/me/consents", method = "get", operation_id = "me_consents")]
    async fn my_consents(&self, auth: BearerAuth) -> Result<Json<MyConsents>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let telehealth =
            records::consents_to(&self.state.db, caller.account_id, ConsentKind::Telehealth)
                .await?;
        let recording =
            records::consents_to(&self.state.db, caller.account_id, ConsentKind::Recording).await?;
        let history = records::history(&self.state, &caller)
            .await?
            .into_iter()
            .map(consent_view)
            .collect::<Result<_, _>>()?;
        Ok(Json(MyConsents {
            telehealth,
            recording,
            history,
        }))
    }

    /// Start my record of a consultation (its doctors, once the call has begun)
    ///
    /// One record per doctor and consultation (409 `record_exists`; amend a signed one instead).
    #[oai(
        path = "/v1/telehealth/consultations/:consultation_id/records",
        method = "post",
        operation_id = "telehealth_record_create"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        consultation_id: Path<Uuid>,
        body: Json<RecordInput>,
    ) -> Result<RecordCreated, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::create(&self.state, &caller, consultation_id.0, body.0.into()).await?;
        Ok(RecordCreated::Created(Json(
            record_view(&self.state, row).await?,
        )))
    }

    /// Medical records: residents' own signed records, doctors' records of their consultations
    ///
    /// Newest first. Every listing is written to the resident's access log.
    #[oai(
        path = "/v1/telehealth/records",
        method = "get",
        operation_id = "telehealth_records"
    )]
    async fn list(
        &self,
        auth: BearerAuth,
        consultation_id: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> Result<Json<Vec<RecordView>>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let rows = records::list(
            &self.state,
            &caller,
            consultation_id.0,
            limit.0.unwrap_or(50),
        )
        .await?;
        let mut out = vec![];
        for r in rows {
            out.push(record_view(&self.state, r).await?);
        }
        Ok(Json(out))
    }

    /// One medical record (the resident once signed; the consultation's doctors)
    ///
    /// Staff and admins never read clinical content (403). The read is written to the resident's
    /// access log.
    #[oai(
        path = "/v1/telehealth/records/:record_id",
        method = "get",
        operation_id = "telehealth_record"
    )]
    async fn get(
        &self,
        auth: BearerAuth,
        record_id: Path<Uuid>,
    ) -> Result<Json<RecordView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::get(&self.state, &caller, record_id.0).await?;
        Ok(Json(record_view(&self.state, row).await?))
    }

    /// Replace the content of my draft record (its author)
    ///
    /// 409 `record_signed` once signed: amend instead.
    #[oai(
        path = "/v1/telehealth/records/:record_id",
        method = "put",
        operation_id = "telehealth_record_update"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        record_id: Path<Uuid>,
        body: Json<RecordInput>,
    ) -> Result<Json<RecordView>, ApiError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::update(&self.state, &caller, record_id.0, body.0.into()).await?;
        Ok(Json(record_view(&self.state, row).await?))
    }

    /// Sign my draft record: it never changes again; the resident is notified (its author)
    #[oai(
        path = "/v1/telehealth/records/:record_id/sign",
        method = "post",
        operation_id = "telehealth_record_sign"
    )]
    async fn sign(
        &self,
        auth: BearerAuth,
        record_id: Path<Uuid>,
    ) -> Result<Json<RecordView>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::sign(&self.state, &caller, record_id.0).await?;
        Ok(Json(record_view(&self.state, row).await?))
    }

    /// Amend a signed record: a new draft version superseding it (its author)
    #[oai(
        path = "/v1/telehealth/records/:record_id/amend",
        method = "post",
        operation_id = "telehealth_record_amend"
    )]
    async fn amend(
        &self,
        auth: BearerAuth,
        record_id: Path<Uuid>,
    ) -> Result<RecordCreated, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::amend(&self.state, &caller, record_id.0).await?;
        Ok(RecordCreated::Created(Json(
            record_view(&self.state, row).await?,
        )))
    }

    /// Who read or wrote my medical data, newest first
    #[oai(
        path = "/v1/me/record-access",
        method = "get",
        operation_id = "me_record_access"
    )]
    async fn access_log(
        &self,
        auth: BearerAuth,
        before: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> Result<Json<AccessPage>, NoBodyError> {
        let caller = self.state.auth.caller(&auth).await?;
        let limit = limit.0.unwrap_or(50);
        let rows = records::access_log(&self.state, &caller, before.0, limit).await?;
        let next_before = if rows.len() as i64 == limit {
            rows.last().map(|r| r.access_id)
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(AccessView {
                    id: r.access_id,
                    actor: PersonRef {
                        id: r.actor_id,
                        name: r.actor_name,
                    },
                    actor_role: r.actor_role,
                    action: AccessAction::parse(&r.action).ok_or_else(|| {
                        Error::Internal(anyhow::anyhow!("bad access action {}", r.action))
                    })?,
                    record_id: r.record_id,
                    consultation_id: r.consultation_id,
                    purpose: r.purpose,
                    at: r.created_at,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Json(AccessPage { items, next_before }))
    }
}

fn consent_view(r: records::ConsentRow) -> Result<ConsentView, Error> {
    Ok(ConsentView {
        id: r.consent_id,
        kind: ConsentKind::parse(&r.kind)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("bad consent kind {}", r.kind)))?,
        version: r.version,
        accepted: r.accepted,
        created_at: r.created_at,
    })
}
