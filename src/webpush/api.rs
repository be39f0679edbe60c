//! `/v1/push/vapid-public-key` and `/v1/me/push-subscriptions`: the key browsers subscribe with,
//! and the signed-in account's browsers.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::{Ctx, MAX_ENDPOINT, NewSubscription, SubscriptionRow};
use crate::auth::api::BearerAuth;
use crate::error::{BODY, INVALID, NOT_FOUND, Problems, SIGNED_IN};
use crate::tags::ApiTags;

/// The server's VAPID public key.
#[derive(Object)]
struct VapidKey {
    /// Base64url of the 65-byte uncompressed P-256 point: `applicationServerKey` for
    /// `PushManager.subscribe()`.
    public_key: String,
}

/// The browser's keys from `PushSubscription.toJSON()`.
#[derive(Object)]
struct SubscriptionKeys {
    /// The browser's P-256 public key: base64url of a 65-byte uncompressed point.
    #[oai(validator(max_length = 200))]
    p256dh: String,
    /// The browser's authentication secret: base64url of 16 bytes.
    #[oai(validator(max_length = 100))]
    auth: String,
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it (`expirationTime` is
/// accepted and ignored).
#[derive(Object)]
struct NewPushSubscription {
    /// The push service's URL for this browser: `https://…`.
    #[oai(validator(max_length = 1000))]
    endpoint: String,
    keys: SubscriptionKeys,
    #[oai(rename = "expirationTime")]
    expiration_time: Option<f64>,
}

/// Which subscription to remove.
#[derive(Object)]
struct PushEndpoint {
    #[oai(validator(max_length = 1000))]
    endpoint: String,
}

/// A subscription of the signed-in account (its keys are not shown back).
#[derive(Object)]
struct PushSubscriptionView {
    id: Uuid,
    endpoint: String,
    created_at: DateTime<Utc>,
    /// When this browser last subscribed (again).
    updated_at: DateTime<Utc>,
}

impl From<SubscriptionRow> for PushSubscriptionView {
    fn from(s: SubscriptionRow) -> Self {
        PushSubscriptionView {
            id: s.push_subscription_id,
            endpoint: s.endpoint,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(ApiResponse)]
enum Subscribed {
    /// Kept: notifications are sent to this browser from now on.
    #[oai(status = 201)]
    Created(Json<PushSubscriptionView>),
    /// This browser was subscribed already (for this account, or it is now this account's): its
    /// keys are refreshed.
    #[oai(status = 200)]
    Refreshed(Json<PushSubscriptionView>),
}

#[derive(ApiResponse)]
enum Unsubscribed {
    /// Removed: nothing more is sent to this browser.
    #[oai(status = 204)]
    Done,
}

pub struct PushApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Me")]
impl PushApi {
    /// The server's VAPID public key, for subscribing a browser to Web Push (public)
    #[oai(
        path = "/v1/push/vapid-public-key",
        method = "get",
        operation_id = "push_vapid_public_key"
    )]
    async fn vapid_public_key(&self) -> Result<Json<VapidKey>, Problems<0>> {
        let vapid = self.state.vapid().await?;
        Ok(Json(VapidKey {
            public_key: vapid.public_key().to_string(),
        }))
    }

    /// Subscribe this browser to the signed-in account's notifications (Web Push)
    #[oai(
        path = "/v1/me/push-subscriptions",
        method = "post",
        operation_id = "me_push_subscribe"
    )]
    async fn subscribe(
        &self,
        auth: BearerAuth,
        body: Json<NewPushSubscription>,
    ) -> Result<Subscribed, Problems<{ SIGNED_IN | BODY | INVALID }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let _ = body.expiration_time;
        let sub = NewSubscription::parse(
            &body.endpoint,
            &body.keys.p256dh,
            &body.keys.auth,
            self.state.settings.push_allow_http,
        )?;
        let (row, created) = super::subscribe(&self.state, &caller, sub).await?;
        Ok(if created {
            Subscribed::Created(Json(row.into()))
        } else {
            Subscribed::Refreshed(Json(row.into()))
        })
    }

    /// The signed-in account's push subscriptions, most recent first
    #[oai(
        path = "/v1/me/push-subscriptions",
        method = "get",
        operation_id = "me_push_subscriptions"
    )]
    async fn list(
        &self,
        auth: BearerAuth,
    ) -> Result<Json<Vec<PushSubscriptionView>>, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        Ok(Json(
            super::subscriptions(&self.state, &caller)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Unsubscribe a browser of the signed-in account, by its endpoint
    #[oai(
        path = "/v1/me/push-subscriptions",
        method = "delete",
        operation_id = "me_push_unsubscribe"
    )]
    async fn unsubscribe(
        &self,
        auth: BearerAuth,
        body: Json<PushEndpoint>,
    ) -> Result<Unsubscribed, Problems<{ SIGNED_IN | BODY | NOT_FOUND }>> {
        let caller = self.state.auth.caller(&auth).await?;
        super::unsubscribe(&self.state, &caller, &body.endpoint).await?;
        Ok(Unsubscribed::Done)
    }
}

/// The spec's limit is the rules' limit.
const _: () = assert!(MAX_ENDPOINT == 1000);
