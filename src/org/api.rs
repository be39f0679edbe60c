//! HTTP: ward units and health stations.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::org::Ctx;
use crate::org::{self, Station, Unit, UnitKind};
use crate::tags::ApiTags;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UnitView {
    id: Uuid,
    name: String,
    kind: UnitKind,
    /// Staff accounts in the unit.
    members: Vec<Uuid>,
    /// The same staff with their names, for assigning a report to a colleague by name.
    #[oai(default)]
    staff: Vec<MemberView>,
    created_at: DateTime<Utc>,
}

/// A unit's staff member as colleagues see them: a name, no phone.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MemberView {
    id: Uuid,
    display_name: String,
}

impl From<Unit> for UnitView {
    fn from(u: Unit) -> Self {
        UnitView {
            id: u.unit_id,
            name: u.name,
            kind: u.kind,
            members: u.members,
            staff: Vec::new(),
            created_at: u.created_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NewUnit {
    #[oai(validator(max_length = 200))]
    name: String,
    kind: UnitKind,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct StationView {
    id: Uuid,
    name: String,
    address: String,
    /// Doctor accounts at the station.
    doctors: Vec<Uuid>,
    created_at: DateTime<Utc>,
}

impl From<Station> for StationView {
    fn from(s: Station) -> Self {
        StationView {
            id: s.station_id,
            name: s.name,
            address: s.address,
            doctors: s.doctors,
            created_at: s.created_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NewStation {
    #[oai(validator(max_length = 200))]
    name: String,
    #[oai(default, validator(max_length = 600))]
    address: String,
}

#[derive(ApiResponse)]
enum UnitCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<UnitView>),
}

#[derive(ApiResponse)]
enum StationCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<StationView>),
}

#[derive(ApiResponse)]
enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

pub struct OrgApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Organisation")]
impl OrgApi {
    /// Ward units and their staff (staff, admins)
    #[oai(path = "/v1/units", method = "get", operation_id = "units_list")]
    async fn list_units(
        &self,
        auth: BearerAuth,
    ) -> Result<Json<Vec<UnitView>>, Problems<SIGNED_IN>> {
        self.state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        let mut units: Vec<UnitView> = org::list_units(&self.state.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        for unit in &mut units {
            for id in &unit.members {
                let display_name = match self.state.auth.account(*id).await {
                    Ok(a) => a.display_name,
                    Err(_) => continue,
                };
                unit.staff.push(MemberView {
                    id: *id,
                    display_name,
                });
            }
        }
        Ok(Json(units))
    }

    /// Create a ward unit (admins)
    #[oai(
        path = "/v1/admin/units",
        method = "post",
        operation_id = "admin_create_unit"
    )]
    async fn create_unit(
        &self,
        auth: BearerAuth,
        body: Json<NewUnit>,
    ) -> Result<UnitCreated, Problems<{ SIGNED_IN | CONFLICT | BODY | INVALID }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let unit = org::create_unit(
            &self.state.db,
            &body.name,
            body.kind,
            self.state.clock.now(),
        )
        .await?;
        Ok(UnitCreated::Created(Json(unit.into())))
    }

    /// Put a staff account in a unit (admins)
    #[oai(
        path = "/v1/admin/units/:unit_id/members/:account_id",
        method = "put",
        operation_id = "admin_add_unit_member"
    )]
    async fn add_member(
        &self,
        auth: BearerAuth,
        unit_id: Path<Uuid>,
        account_id: Path<Uuid>,
    ) -> Result<Done, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        org::add_unit_member(
            &self.state.db,
            unit_id.0,
            account_id.0,
            self.state.clock.now(),
        )
        .await?;
        Ok(Done::Done)
    }

    /// Take a staff account out of a unit (admins)
    #[oai(
        path = "/v1/admin/units/:unit_id/members/:account_id",
        method = "delete",
        operation_id = "admin_remove_unit_member"
    )]
    async fn remove_member(
        &self,
        auth: BearerAuth,
        unit_id: Path<Uuid>,
        account_id: Path<Uuid>,
    ) -> Result<Done, Problems<SIGNED_IN>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        org::remove_unit_member(&self.state.db, unit_id.0, account_id.0).await?;
        Ok(Done::Done)
    }

    /// Health stations (anyone signed in: residents pick one to consult)
    #[oai(path = "/v1/stations", method = "get", operation_id = "stations_list")]
    async fn list_stations(
        &self,
        auth: BearerAuth,
    ) -> Result<Json<Vec<StationView>>, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        let mut stations: Vec<StationView> = org::list_stations(&self.state.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        if caller.role == Role::Resident {
            // Residents need the station, not the staffing roster.
            stations.iter_mut().for_each(|s| s.doctors.clear());
        }
        Ok(Json(stations))
    }

    /// Create a health station (admins)
    #[oai(
        path = "/v1/admin/stations",
        method = "post",
        operation_id = "admin_create_station"
    )]
    async fn create_station(
        &self,
        auth: BearerAuth,
        body: Json<NewStation>,
    ) -> Result<StationCreated, Problems<{ SIGNED_IN | CONFLICT | BODY | INVALID }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let station = org::create_station(
            &self.state.db,
            &body.name,
            &body.address,
            self.state.clock.now(),
        )
        .await?;
        Ok(StationCreated::Created(Json(station.into())))
    }

    /// Put a doctor in a station (admins)
    #[oai(
        path = "/v1/admin/stations/:station_id/doctors/:account_id",
        method = "put",
        operation_id = "admin_add_station_doctor"
    )]
    async fn add_doctor(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
        account_id: Path<Uuid>,
    ) -> Result<Done, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        org::add_station_doctor(
            &self.state.db,
            station_id.0,
            account_id.0,
            self.state.clock.now(),
        )
        .await?;
        Ok(Done::Done)
    }

    /// Take a doctor out of a station (admins)
    #[oai(
        path = "/v1/admin/stations/:station_id/doctors/:account_id",
        method = "delete",
        operation_id = "admin_remove_station_doctor"
    )]
    async fn remove_doctor(
        &self,
        auth: BearerAuth,
        station_id: Path<Uuid>,
        account_id: Path<Uuid>,
    ) -> Result<Done, Problems<SIGNED_IN>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        org::remove_station_doctor(&self.state.db, station_id.0, account_id.0).await?;
        Ok(Done::Done)
    }
}
