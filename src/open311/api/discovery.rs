//! `discovery`: where the endpoint is and what it speaks.

use poem_openapi::OpenApi;

use super::{DiscoveryDoc, JsonOnly, Reply, XmlOnly};
use crate::open311 as rules;
use crate::open311::doc::Format;
use crate::reports::Ctx;
use crate::tags::ApiTags;

pub struct DiscoveryApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Open311")]
impl DiscoveryApi {
    /// Discovery: where the endpoint is and what it speaks (JSON)
    #[oai(
        path = "/open311/v2/discovery.json",
        method = "get",
        operation_id = "open311_discovery_json"
    )]
    async fn discovery_json(&self) -> Reply<DiscoveryDoc, JsonOnly> {
        Reply::new(Format::Json, Ok(rules::discovery(&self.state)))
    }

    /// Discovery (XML)
    #[oai(
        path = "/open311/v2/discovery.xml",
        method = "get",
        operation_id = "open311_discovery_xml"
    )]
    async fn discovery_xml(&self) -> Reply<DiscoveryDoc, XmlOnly> {
        Reply::new(Format::Xml, Ok(rules::discovery(&self.state)))
    }
}
