//! `tokens`: the request id behind a token.

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};

use super::{EitherFormat, Reply, TokenDoc, with_suffix};
use crate::open311 as rules;
use crate::reports::Ctx;
use crate::tags::ApiTags;

pub struct TokensApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Open311")]
impl TokensApi {
    /// The request id behind a token
    #[oai(
        path = "/open311/v2/tokens/:token",
        method = "get",
        operation_id = "open311_token"
    )]
    async fn token(
        &self,
        /// The token with the format suffix: `<token>.json` or `<token>.xml`.
        token: Path<String>,
        jurisdiction_id: Query<Option<String>>,
    ) -> Reply<Vec<TokenDoc>, EitherFormat> {
        let _ = jurisdiction_id;
        with_suffix(
            &token.0,
            |t| async move { rules::token(&self.state, &t).await },
        )
        .await
    }
}
