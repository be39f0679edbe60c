//! The ward's khu phố, to filter reports by.

use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::areas::{AreaError, AreaKind};
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, Error, INVALID, Problems, SIGNED_IN};
use crate::reports::Ctx;
use crate::store::column::Spelled;
use crate::tags::ApiTags;

/// An area of the ward: the ward itself or one of its khu phố.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AreaView {
    id: Uuid,
    name: String,
    /// `ward` or `neighbourhood`.
    kind: Spelled<AreaKind>,
    /// With `geometry=true`: the outline as imported (a GeoJSON Polygon or MultiPolygon), for
    /// maps drawn without a tile server.
    geometry: Option<serde_json::Value>,
}

/// What an import did: every area of the file was created or replaced.
#[derive(Object)]
struct AreasImported {
    /// Areas whose name and kind were new.
    created: u64,
    /// Areas that replaced the stored one with the same name and kind (keeping its id).
    replaced: u64,
    /// Areas in the file (`created + replaced`).
    total: u64,
    wards: u64,
    neighbourhoods: u64,
}

pub struct AreasApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl AreasApi {
    /// The ward's khu phố (neighbourhoods), to filter reports by
    #[oai(path = "/v1/areas", method = "get", operation_id = "areas_list")]
    async fn areas(
        &self,
        /// Include each area's outline (GeoJSON geometry).
        #[oai(default)]
        geometry: Query<bool>,
    ) -> Result<Json<Vec<AreaView>>, Problems<0>> {
        let mut areas = self.state.areas.all(&self.state.db).await?;
        areas.sort_by(|a, b| a.name.cmp(&b.name).then(a.area_id.cmp(&b.area_id)));
        let mut outlines = if geometry.0 {
            crate::areas::outlines_geojson(&self.state.db).await?
        } else {
            Default::default()
        };
        Ok(Json(
            areas
                .into_iter()
                .map(|a| AreaView {
                    geometry: outlines.remove(&a.area_id),
                    id: a.area_id,
                    name: a.name,
                    kind: Spelled(a.kind),
                })
                .collect(),
        ))
    }
}

/// The admins' import of the ward's areas (`wardline admin import-areas` over HTTP).
pub struct AreasImportApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AreasImportApi {
    /// Import the ward's areas from a GeoJSON FeatureCollection (admins)
    ///
    /// The same import as `wardline admin import-areas FILE`, in one transaction: every feature is
    /// created or replaces the stored area with the same name and kind, or nothing is written and
    /// the 422 problem lists each unusable feature (`errors[].field` is `features/<index>`, the
    /// message names it and says what is wrong).
    #[oai(
        path = "/v1/admin/areas/import",
        method = "post",
        operation_id = "admin_import_areas"
    )]
    async fn import(
        &self,
        auth: BearerAuth,
        /// A GeoJSON FeatureCollection (or one Feature) of Polygon/MultiPolygon features with
        /// `properties.name`, optional `kind` (`ward` or `neighbourhood`) and `unit` (a unit's name).
        body: Json<serde_json::Value>,
    ) -> Result<Json<AreasImported>, Problems<{ SIGNED_IN | BODY | INVALID }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let areas = crate::areas::parse_document(&body.0).map_err(|errors| {
            Error::Validation(errors.iter().map(AreaError::field_error).collect())
        })?;
        let summary =
            crate::areas::import(&self.state.db, areas, self.state.clock.now(), |_, _| {})
                .await
                .map_err(|e| match e.downcast::<AreaError>() {
                    Ok(refused) => Error::Validation(vec![refused.field_error()]),
                    Err(e) => match e.downcast::<sqlx::Error>() {
                        Ok(db) => Error::from(db),
                        Err(e) => Error::Internal(e),
                    },
                })?;
        Ok(Json(AreasImported {
            created: summary.created as u64,
            replaced: summary.replaced as u64,
            total: summary.total() as u64,
            wards: summary.wards as u64,
            neighbourhoods: summary.neighbourhoods as u64,
        }))
    }
}
