//! HTTP: doctors' weekly availability and leave days, and the free slots they leave open.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::views::Done;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::tags::ApiTags;
use crate::telehealth::Ctx;
use crate::telehealth::schedule::{self, Window};

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

/// Availability, leave and free slots.
pub struct CalendarsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Telehealth")]
impl CalendarsApi {
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
    ) -> Result<Json<Availability>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
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
    ) -> Result<Json<Availability>, Problems<{ SIGNED_IN | NOT_FOUND | INVALID | BODY }>> {
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
    ) -> Result<Json<Vec<LeaveView>>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
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
    ) -> Result<Json<LeaveAdded>, Problems<{ SIGNED_IN | NOT_FOUND | INVALID | BODY }>> {
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
    ) -> Result<Done, Problems<{ SIGNED_IN | NOT_FOUND }>> {
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
    ) -> Result<Json<Vec<SlotView>>, Problems<{ NOT_FOUND | INVALID }>> {
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
}
