//! The ward's khu phố, to filter reports by.

use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::error::Problems;
use crate::reports::Ctx;
use crate::tags::ApiTags;

/// An area of the ward: the ward itself or one of its khu phố.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AreaView {
    id: Uuid,
    name: String,
    /// `ward` or `neighbourhood`.
    kind: String,
    /// With `geometry=true`: the outline as imported (a GeoJSON Polygon or MultiPolygon), for
    /// maps drawn without a tile server.
    geometry: Option<serde_json::Value>,
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
                    kind: a.kind.as_str().to_string(),
                })
                .collect(),
        ))
    }
}
