//! `services`: the service list and a service's definition.

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};

use super::{
    EitherFormat, JsonOnly, Reply, ServiceDefinitionDoc, ServiceDoc, XmlOnly, with_suffix,
};
use crate::open311 as rules;
use crate::open311::doc::Format;
use crate::reports::Ctx;
use crate::tags::ApiTags;

pub struct ServicesApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Open311")]
impl ServicesApi {
    /// Services: the report categories (JSON)
    ///
    /// `jurisdiction_id` is accepted and ignored: this endpoint serves one ward.
    #[oai(
        path = "/open311/v2/services.json",
        method = "get",
        operation_id = "open311_services_json"
    )]
    async fn services_json(
        &self,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<ServiceDoc>, JsonOnly> {
        let _ = jurisdiction_id;
        Reply::new(Format::Json, rules::services(&self.state).await)
    }

    /// Services (XML)
    #[oai(
        path = "/open311/v2/services.xml",
        method = "get",
        operation_id = "open311_services_xml"
    )]
    async fn services_xml(
        &self,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<ServiceDoc>, XmlOnly> {
        let _ = jurisdiction_id;
        Reply::new(Format::Xml, rules::services(&self.state).await)
    }

    /// A service's definition: its attributes (the category's questions)
    #[oai(
        path = "/open311/v2/services/:service_code",
        method = "get",
        operation_id = "open311_service_definition"
    )]
    async fn service_definition(
        &self,
        /// The service code with the format suffix: `road_damage.json` or `road_damage.xml`.
        service_code: Path<String>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<ServiceDefinitionDoc, EitherFormat> {
        let _ = jurisdiction_id;
        with_suffix(&service_code.0, |code| async move {
            rules::service_definition(&self.state, &code).await
        })
        .await
    }
}
