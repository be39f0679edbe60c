//! `/v1/admin/open311/clients`: the admins' management of client apps and their keys.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::{Open311ClientInput, Open311ClientIssued, Open311ClientView};
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::open311 as rules;
use crate::reports::Ctx;
use crate::tags::ApiTags;

#[derive(ApiResponse)]
enum ClientIssued {
    /// Issued.
    #[oai(status = 201)]
    Created(Json<Open311ClientIssued>),
}

pub struct ClientsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Open311")]
impl ClientsApi {
    /// Open311 client apps and their keys (admins)
    #[oai(
        path = "/v1/admin/open311/clients",
        method = "get",
        operation_id = "admin_open311_clients",
        tag = "ApiTags::Admin"
    )]
    async fn clients(
        &self,
        auth: BearerAuth,
    ) -> Result<Json<Vec<Open311ClientView>>, Problems<SIGNED_IN>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            crate::open311::repo::clients(&self.state.db)
                .await
                .map_err(Error::from)?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Issue an API key to a named client app (admins); the key is shown once
    #[oai(
        path = "/v1/admin/open311/clients",
        method = "post",
        operation_id = "admin_open311_issue_client",
        tag = "ApiTags::Admin"
    )]
    async fn issue(
        &self,
        auth: BearerAuth,
        body: Json<Open311ClientInput>,
    ) -> Result<ClientIssued, Problems<{ SIGNED_IN | BODY | INVALID }>> {
        let caller = self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        let issued = rules::issue_client(&self.state, &caller, &body.name, &body.contact).await?;
        Ok(ClientIssued::Created(Json(Open311ClientIssued {
            client: issued.client.into(),
            api_key: issued.api_key,
        })))
    }

    /// Revoke a client app's key (admins); its requests stay
    #[oai(
        path = "/v1/admin/open311/clients/:client_id/revoke",
        method = "post",
        operation_id = "admin_open311_revoke_client",
        tag = "ApiTags::Admin"
    )]
    async fn revoke(
        &self,
        auth: BearerAuth,
        client_id: Path<Uuid>,
    ) -> Result<Json<Open311ClientView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        self.state.auth.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            rules::revoke_client(&self.state, client_id.0).await?.into(),
        ))
    }
}
