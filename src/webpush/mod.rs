//! Web Push for the installed resident app: a signed-in account registers its browsers'
//! subscriptions (`PushSubscription.toJSON()`), and every inbox item (`reports::push::Push`) is
//! sent to each of them, encrypted for that browser (RFC 8291) and identified with the server's
//! VAPID key (RFC 8292). The inbox (`GET /v1/notifications`) stays the record; a push is a nudge.
//!
//! The VAPID key comes from `WARDLINE_PUSH_VAPID_PRIVATE_KEY`, or else the first instance that
//! needs one generates it and keeps it in the database, where every other instance reads it.

pub mod api;
pub mod crypto;
mod repo;
mod send;

use std::sync::Arc;

use uuid::Uuid;

use crate::auth::Caller;
use crate::config::Settings;
use crate::error::{Error, FieldError, Result};
use crate::store::Db;
use crypto::{KeyError, UaKeys, Vapid};

pub use repo::SubscriptionRow;
pub use send::WebPushNotifier;

/// What Web Push's handlers and sender work with: built by the app (`app.rs`).
#[derive(Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub auth: crate::auth::Auth,
    pub clock: crate::clock::Clock,
    /// The VAPID key, read (or made) on first use.
    vapid: Arc<tokio::sync::OnceCell<Arc<Vapid>>>,
}

impl Ctx {
    pub fn new(
        settings: Arc<Settings>,
        db: Db,
        auth: crate::auth::Auth,
        clock: crate::clock::Clock,
    ) -> Ctx {
        Ctx {
            settings,
            db,
            auth,
            clock,
            vapid: Arc::default(),
        }
    }

    /// The server's VAPID identity: from the settings, else the one kept in the database (made
    /// and offered there by whichever instance needed it first; every instance reads back the
    /// one that was kept).
    pub async fn vapid(&self) -> Result<Arc<Vapid>> {
        self.vapid
            .get_or_try_init(|| async {
                let secret = match &self.settings.push_vapid_private_key {
                    Some(key) => crypto::parse_private_key(key.expose())?,
                    None => {
                        if repo::vapid_key(&self.db).await?.is_none() {
                            let fresh = crypto::private_key_text(&crypto::random_secret());
                            repo::offer_vapid_key(&self.db, &fresh, self.clock.now()).await?;
                        }
                        let kept = repo::vapid_key(&self.db)
                            .await?
                            .ok_or_else(|| anyhow::anyhow!("the VAPID key offered was not kept"))?;
                        crypto::parse_private_key(&kept)
                            .map_err(|e| e.context("the kept VAPID key"))?
                    }
                };
                Ok(Arc::new(Vapid::new(&secret, &self.subject())))
            })
            .await
            .cloned()
    }

    /// `sub` of the VAPID token: the setting, else the public URL if it is HTTPS.
    fn subject(&self) -> String {
        let set = self.settings.push_subject.trim();
        if !set.is_empty() {
            return set.to_string();
        }
        let public = self.settings.public_url();
        if public.starts_with("https://") {
            public
        } else {
            "mailto:admin@localhost".to_string()
        }
    }
}

/// The longest endpoint URL accepted (push services' are about 200 to 500 characters).
pub const MAX_ENDPOINT: usize = 1000;

fn invalid(field: &str, code: &str, vi: &str, en: &str) -> Error {
    Error::Validation(vec![FieldError::new(field, code, vi, en)])
}

/// A browser's subscription, checked: an absolute HTTPS URL on a named host (plain HTTP, addresses
/// and `localhost` only where the settings allow it) without credentials or fragment, and keys the
/// messages can be encrypted for.
pub struct NewSubscription {
    pub endpoint: url::Url,
    pub p256dh: String,
    pub auth: String,
}

impl NewSubscription {
    pub fn parse(endpoint: &str, p256dh: &str, auth: &str, allow_http: bool) -> Result<Self> {
        let endpoint = parse_endpoint(endpoint, allow_http)?;
        match UaKeys::parse(p256dh, auth) {
            Ok(_) => {}
            Err(KeyError::BadPublicKey) => {
                return Err(invalid(
                    "keys.p256dh",
                    "invalid_push_key",
                    "Khóa p256dh phải là điểm P-256 không nén 65 byte, mã base64url",
                    "p256dh must be a 65-byte uncompressed P-256 point in base64url",
                ));
            }
            Err(KeyError::BadAuth) => {
                return Err(invalid(
                    "keys.auth",
                    "invalid_push_auth",
                    "Khóa auth phải là 16 byte, mã base64url",
                    "auth must be 16 bytes in base64url",
                ));
            }
        }
        Ok(NewSubscription {
            endpoint,
            p256dh: p256dh.trim().to_string(),
            auth: auth.trim().to_string(),
        })
    }
}

fn parse_endpoint(raw: &str, allow_http: bool) -> Result<url::Url> {
    let bad = || {
        invalid(
            "endpoint",
            "invalid_push_endpoint",
            "Địa chỉ nhận thông báo không hợp lệ",
            "Not a valid push endpoint URL",
        )
    };
    let raw = raw.trim();
    if raw.len() > MAX_ENDPOINT {
        return Err(bad());
    }
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => {
            return Err(invalid(
                "endpoint",
                "push_endpoint_not_https",
                "Địa chỉ nhận thông báo phải dùng https://",
                "The push endpoint must use https://",
            ));
        }
    }
    // Push services are public hosts with names: an address or `localhost` would make the
    // server post to its own network (allowed only with plain HTTP, for tests and closed networks).
    let inward = match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
        None => false,
    };
    if (inward && !allow_http)
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(url)
}

/// Keep `sub` for the caller's account (or refresh it, or take it over from the account that had
/// this browser before); the account keeps its most recent ones only. Returns the stored row and
/// whether it is new.
pub async fn subscribe(
    ctx: &Ctx,
    caller: &Caller,
    sub: NewSubscription,
) -> Result<(SubscriptionRow, bool)> {
    let now = ctx.clock.now();
    let id = Uuid::now_v7();
    let row = repo::upsert(
        &ctx.db,
        &SubscriptionRow {
            push_subscription_id: id,
            account_id: caller.account_id,
            endpoint: sub.endpoint.to_string(),
            p256dh: sub.p256dh,
            auth: sub.auth,
            created_at: now,
            updated_at: now,
        },
        ctx.settings.push_max_subscriptions_per_account,
    )
    .await?;
    let created = row.push_subscription_id == id;
    Ok((row, created))
}

/// The caller's subscriptions, most recent first.
pub async fn subscriptions(ctx: &Ctx, caller: &Caller) -> Result<Vec<SubscriptionRow>> {
    repo::of_account(&ctx.db, caller.account_id).await
}

/// Remove the caller's subscription at `endpoint` (404 when the caller has none there).
pub async fn unsubscribe(ctx: &Ctx, caller: &Caller, endpoint: &str) -> Result<()> {
    // Stored as parsed, so compare what the same parse makes of it (scheme and host case,
    // default port); anything that does not parse was never stored.
    let Ok(url) = url::Url::parse(endpoint.trim()) else {
        return Err(Error::NotFound("push_subscription_not_found"));
    };
    if repo::delete(&ctx.db, caller.account_id, url.as_str()).await? {
        Ok(())
    } else {
        Err(Error::NotFound("push_subscription_not_found"))
    }
}
