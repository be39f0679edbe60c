//! `requests`: search, create and read service requests.

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Form;

use super::{
    CreatedDoc, EitherFormat, FormPairs, JsonOnly, NewRequestDoc, Reply, RequestDoc, XmlOnly,
    with_suffix,
};
use crate::open311::doc::Format;
use crate::open311::{self as rules, RequestQuery};
use crate::reports::Ctx;
use crate::tags::ApiTags;

type NewRequestForm = Form<FormPairs<NewRequestDoc>>;

pub struct RequestsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Open311")]
impl RequestsApi {
    /// Service requests: search (JSON)
    ///
    /// `service_request_id` (comma list) overrides every other filter. Default: requests of the
    /// last 90 days, at most 1000. Extensions: `page`/`page_size`, `updated_after`/`updated_before`,
    /// `lat`/`long`/`radius` (metres, default 1000), `extensions=true`.
    #[oai(
        path = "/open311/v2/requests.json",
        method = "get",
        operation_id = "open311_requests_json"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn requests_json(
        &self,
        service_request_id: Query<Option<String>>,
        service_code: Query<Option<String>>,
        start_date: Query<Option<String>>,
        end_date: Query<Option<String>>,
        status: Query<Option<String>>,
        page: Query<Option<String>>,
        page_size: Query<Option<String>>,
        updated_after: Query<Option<String>>,
        updated_before: Query<Option<String>>,
        lat: Query<Option<String>>,
        long: Query<Option<String>>,
        radius: Query<Option<String>>,
        extensions: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<RequestDoc>, JsonOnly> {
        let _ = jurisdiction_id;
        let q = RequestQuery {
            service_request_id: service_request_id.0,
            service_code: service_code.0,
            start_date: start_date.0,
            end_date: end_date.0,
            status: status.0,
            page: page.0,
            page_size: page_size.0,
            updated_after: updated_after.0,
            updated_before: updated_before.0,
            lat: lat.0,
            long: long.0,
            radius: radius.0,
            extensions: extensions.0,
        };
        Reply::new(Format::Json, rules::list_requests(&self.state, &q).await)
    }

    /// Service requests: search (XML)
    #[oai(
        path = "/open311/v2/requests.xml",
        method = "get",
        operation_id = "open311_requests_xml"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn requests_xml(
        &self,
        service_request_id: Query<Option<String>>,
        service_code: Query<Option<String>>,
        start_date: Query<Option<String>>,
        end_date: Query<Option<String>>,
        status: Query<Option<String>>,
        page: Query<Option<String>>,
        page_size: Query<Option<String>>,
        updated_after: Query<Option<String>>,
        updated_before: Query<Option<String>>,
        lat: Query<Option<String>>,
        long: Query<Option<String>>,
        radius: Query<Option<String>>,
        extensions: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<RequestDoc>, XmlOnly> {
        let _ = jurisdiction_id;
        let q = RequestQuery {
            service_request_id: service_request_id.0,
            service_code: service_code.0,
            start_date: start_date.0,
            end_date: end_date.0,
            status: status.0,
            page: page.0,
            page_size: page_size.0,
            updated_after: updated_after.0,
            updated_before: updated_before.0,
            lat: lat.0,
            long: long.0,
            radius: radius.0,
            extensions: extensions.0,
        };
        Reply::new(Format::Xml, rules::list_requests(&self.state, &q).await)
    }

    /// Create a service request: a real report, channel `open311` (JSON; needs `api_key`)
    ///
    /// The same rules as the app: the ward's service area, the category's required answers,
    /// 1–4000 characters of description. An open request of the same service nearby is named in
    /// `service_notice`.
    #[oai(
        path = "/open311/v2/requests.json",
        method = "post",
        operation_id = "open311_create_request_json"
    )]
    async fn create_json(&self, form: NewRequestForm) -> Reply<Vec<CreatedDoc>, JsonOnly> {
        Reply::new(
            Format::Json,
            rules::create_request(&self.state, &form.0.0).await,
        )
    }

    /// Create a service request (XML; needs `api_key`)
    #[oai(
        path = "/open311/v2/requests.xml",
        method = "post",
        operation_id = "open311_create_request_xml"
    )]
    async fn create_xml(&self, form: NewRequestForm) -> Reply<Vec<CreatedDoc>, XmlOnly> {
        Reply::new(
            Format::Xml,
            rules::create_request(&self.state, &form.0.0).await,
        )
    }

    /// One service request
    #[oai(
        path = "/open311/v2/requests/:service_request_id",
        method = "get",
        operation_id = "open311_request"
    )]
    async fn request(
        &self,
        /// The id with the format suffix: `<id>.json` or `<id>.xml`.
        service_request_id: Path<String>,
        /// `true` adds `extended_attributes` and `notes`.
        extensions: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<RequestDoc>, EitherFormat> {
        let _ = jurisdiction_id;
        with_suffix(&service_request_id.0, |id| async move {
            rules::get_request(&self.state, &id, extensions.0.as_deref()).await
        })
        .await
    }
}
