//! `servicerequestupdates`: the updates feed and comments from client apps.

use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Form;

use super::{FormPairs, JsonOnly, NewUpdateDoc, Reply, UpdateCreatedDoc, UpdateDoc, XmlOnly};
use crate::open311 as rules;
use crate::open311::doc::Format;
use crate::reports::Ctx;
use crate::tags::ApiTags;

type NewUpdateForm = Form<FormPairs<NewUpdateDoc>>;

pub struct UpdatesApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Open311")]
impl UpdatesApi {
    /// Updates of every request in a window: status changes and public replies (JSON)
    ///
    /// mySociety's `servicerequestupdates` extension. Default window: the last 90 days, at most
    /// 1000 updates, oldest first.
    #[oai(
        path = "/open311/v2/servicerequestupdates.json",
        method = "get",
        operation_id = "open311_updates_json"
    )]
    async fn updates_json(
        &self,
        start_date: Query<Option<String>>,
        end_date: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<UpdateDoc>, JsonOnly> {
        let _ = jurisdiction_id;
        Reply::new(
            Format::Json,
            rules::updates(&self.state, start_date.0.as_deref(), end_date.0.as_deref()).await,
        )
    }

    /// Updates (XML)
    #[oai(
        path = "/open311/v2/servicerequestupdates.xml",
        method = "get",
        operation_id = "open311_updates_xml"
    )]
    async fn updates_xml(
        &self,
        start_date: Query<Option<String>>,
        end_date: Query<Option<String>>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<UpdateDoc>, XmlOnly> {
        let _ = jurisdiction_id;
        Reply::new(
            Format::Xml,
            rules::updates(&self.state, start_date.0.as_deref(), end_date.0.as_deref()).await,
        )
    }

    /// Comment on an open request (JSON; needs `api_key`)
    ///
    /// The ward's staff and the request's followers read it; it is not part of the public updates.
    #[oai(
        path = "/open311/v2/servicerequestupdates.json",
        method = "post",
        operation_id = "open311_create_update_json"
    )]
    async fn post_update_json(
        &self,
        form: NewUpdateForm,
    ) -> Reply<Vec<UpdateCreatedDoc>, JsonOnly> {
        Reply::new(
            Format::Json,
            rules::post_update(&self.state, &form.0.0).await,
        )
    }

    /// Comment on an open request (XML; needs `api_key`)
    #[oai(
        path = "/open311/v2/servicerequestupdates.xml",
        method = "post",
        operation_id = "open311_create_update_xml"
    )]
    async fn post_update_xml(&self, form: NewUpdateForm) -> Reply<Vec<UpdateCreatedDoc>, XmlOnly> {
        Reply::new(
            Format::Xml,
            rules::post_update(&self.state, &form.0.0).await,
        )
    }
}
