//! Client apps and their API keys: issuing, revoking, and authorizing a write within the hourly limit.

use uuid::Uuid;

use super::repo::{self, ClientRow};
use super::{O311Error, O311Result};
use crate::auth::Caller;
use crate::error::{Error, current_lang};
use crate::reports::Ctx;

/// A client app just issued, with its key (shown this once).
pub struct Issued {
    pub client: ClientRow,
    pub api_key: String,
}

fn check_text(
    value: &str,
    field: &str,
    max: usize,
    required: bool,
) -> crate::error::Result<String> {
    let Ok(v) = crate::text::clean(value, true) else {
        return Err(Error::validation(
            field,
            "invalid_text",
            "Nội dung không hợp lệ hoặc quá dài",
            "Invalid or too long",
        ));
    };
    if (required && v.is_empty()) || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "invalid_text",
            "Nội dung không hợp lệ hoặc quá dài",
            "Invalid or too long",
        ));
    }
    Ok(v.to_string())
}

/// Issue a key to a named client app (admins).
pub async fn issue_client(
    state: &Ctx,
    caller: &Caller,
    name: &str,
    contact: &str,
) -> crate::error::Result<Issued> {
    let name = check_text(name, "name", 100, true)?;
    let contact = check_text(contact, "contact", 200, false)?;
    let api_key = format!(
        "o311_{}",
        crate::auth::tokens::random_token(32).replace(['-', '_'], "x")
    );
    let id = Uuid::now_v7();
    let now = state.clock.now();
    repo::insert_client(
        &state.db,
        id,
        &name,
        &contact,
        &crate::auth::tokens::sha256_hex(&api_key),
        &api_key[..13],
        caller.account_id,
        now,
    )
    .await?;
    let client = repo::client(&state.db, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("client vanished"))?;
    Ok(Issued { client, api_key })
}

pub async fn revoke_client(state: &Ctx, id: Uuid) -> crate::error::Result<ClientRow> {
    if !repo::revoke(&state.db, id, state.clock.now()).await? {
        let exists = repo::client(&state.db, id).await?.is_some();
        return Err(if exists {
            Error::Conflict("already_revoked")
        } else {
            Error::NotFound("open311_client_not_found")
        });
    }
    repo::client(&state.db, id)
        .await?
        .ok_or(Error::NotFound("open311_client_not_found"))
}

/// The client app behind an `api_key`, allowed one more write within its hourly limit.
pub async fn authorize_write(state: &Ctx, api_key: Option<&str>) -> O311Result<ClientRow> {
    let lang = current_lang();
    let key = api_key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            O311Error::new(
                403,
                lang.pick(
                    "Thiếu api_key: ứng dụng cần khoá do quản trị viên phường cấp",
                    "api_key is required: the ward's administrators issue keys to client apps",
                ),
            )
        })?;
    let invalid = || {
        O311Error::new(
            403,
            lang.pick(
                "api_key không hợp lệ hoặc đã bị thu hồi",
                "Invalid or revoked api_key",
            ),
        )
    };
    if key.len() > 200 {
        return Err(invalid());
    }
    let client = repo::live_client_by_key(&state.db, &crate::auth::tokens::sha256_hex(key))
        .await?
        .ok_or_else(invalid)?;
    let now = state.clock.now();
    let hour = chrono::Duration::hours(1);
    let (used, oldest) = repo::uses_since(&state.db, client.open311_client_id, now - hour).await?;
    if used >= i64::from(state.settings.open311_writes_per_hour) {
        let retry_after = oldest
            .map(|t| (t + hour - now).num_seconds().max(1) as u64)
            .unwrap_or(60);
        return Err(Error::RateLimited {
            code: "open311_rate_limited",
            retry_after,
        }
        .into());
    }
    repo::record_use(&state.db, client.open311_client_id, now, now - hour).await?;
    Ok(client)
}
