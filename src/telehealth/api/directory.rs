//! HTTP: the public directory of health stations and doctors, and the admins' edits to it.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, Error, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::tags::ApiTags;
use crate::telehealth::Ctx;
use crate::telehealth::schedule::{self, Doctor, StationPatch, StationRow};

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

/// Stations and doctors (public), station details and doctor profiles (admins).
pub struct DirectoryApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Telehealth")]
impl DirectoryApi {
    /// Health stations and their doctors (public)
    #[oai(
        path = "/v1/telehealth/stations",
        method = "get",
        operation_id = "telehealth_stations"
    )]
    async fn stations(&self) -> Result<Json<Vec<StationCard>>, Problems<0>> {
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
    ) -> Result<Json<Vec<DoctorCard>>, Problems<NOT_FOUND>> {
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
    ) -> Result<Json<StationCard>, Problems<{ SIGNED_IN | NOT_FOUND | INVALID | BODY }>> {
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
    ) -> Result<Json<DoctorCard>, Problems<{ SIGNED_IN | NOT_FOUND | INVALID | BODY }>> {
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
}
