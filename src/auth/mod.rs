//! Accounts and roles, sign-in (phone one-time code for residents, password for everyone else),
//! access and refresh tokens, and the role guards every other module calls.

pub mod api;
pub mod phone;
pub mod repo;
pub mod sms;
pub mod tokens;

mod identity;

pub use identity::Caller;

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use rand::Rng;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::{Secret, Settings};
use crate::error::{Error, Result};
use crate::store::Db;
use identity::ActiveAccounts;
use phone::Phone;
use sms::SmsSender;
use tokens::TokenKeys;

crate::text_enum! {
    /// Who someone is to the ward.
    #[derive(serde::Serialize, serde::Deserialize, poem_openapi::Enum)]
    #[serde(rename_all = "lowercase")]
    #[oai(rename_all = "lowercase")]
    pub enum Role {
        /// A resident (*cư dân*): reports problems, books consultations.
        Resident = "resident",
        /// Ward staff (*cán bộ phường*): handle reports.
        Staff = "staff",
        /// A doctor at a health station (*bác sĩ trạm y tế*).
        Doctor = "doctor",
        /// Runs the system: accounts, units, stations.
        Admin = "admin",
    }
}

crate::text_enum! {
    /// Language the person reads messages in.
    #[derive(serde::Serialize, serde::Deserialize, poem_openapi::Enum)]
    #[serde(rename_all = "lowercase")]
    #[oai(rename_all = "lowercase")]
    pub enum Language {
        Vi = "vi",
        En = "en",
    }
}

/// An account as stored (role and language decoded at the driver's edge).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub account_id: Uuid,
    pub phone: String,
    pub display_name: String,
    pub role: Role,
    pub language: Language,
    pub password_hash: Option<String>,
    pub password_must_change: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Tokens handed to a client after sign-in or refresh (OAuth 2 names).
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

const OTP_TTL: Duration = Duration::from_secs(5 * 60);
const OTP_MAX_ATTEMPTS: i32 = 5;
const HOUR: chrono::Duration = chrono::Duration::hours(1);
const LOGIN_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// The rules of sign-in and accounts.
#[derive(Clone)]
pub struct Auth {
    db: Db,
    // Behind `Arc`s, like everything in the app state: a request clones the state, and a key's
    // clone would copy its bytes and its validation rules.
    keys: Arc<TokenKeys>,
    secret: Arc<Secret>,
    sms: Arc<dyn SmsSender>,
    clock: Clock,
    settings: Arc<Settings>,
    /// A real argon2id hash of a random password: verified against when the phone is unknown, so
    /// unknown phones and wrong passwords take the same time.
    dummy_hash: Arc<String>,
    /// Accounts seen active lately, so a request need not read its account row.
    active: Arc<ActiveAccounts>,
}

impl Auth {
    pub fn new(
        db: Db,
        secret: Secret,
        sms: Arc<dyn SmsSender>,
        clock: Clock,
        settings: Arc<Settings>,
    ) -> anyhow::Result<Auth> {
        let dummy_hash = hash_password(&tokens::random_token(24))?;
        Ok(Auth {
            keys: Arc::new(TokenKeys::new(&secret)),
            db,
            secret: Arc::new(secret),
            sms,
            clock,
            settings,
            dummy_hash: Arc::new(dummy_hash),
            active: Arc::default(),
        })
    }

    fn code_hash(&self, phone: &Phone, code: &str) -> String {
        use hmac::Mac;
        let mut mac = tokens::hmac(&self.secret);
        mac.update(b"otp\n");
        mac.update(phone.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Send a 6-digit code by SMS, within the per-phone and per-address limits.
    pub async fn request_otp(&self, raw_phone: &str, client_ip: &str) -> Result<u64> {
        let phone = Phone::parse(raw_phone)?;
        let now = self.clock.now();
        let w = repo::otp_window(&self.db, phone.as_str(), client_ip, now - HOUR).await?;
        let until = |t: Option<DateTime<Utc>>, span: chrono::Duration| {
            t.map(|t| (t + span - now).num_seconds().max(1) as u64)
                .unwrap_or(60)
        };
        let resend = chrono::Duration::seconds(self.settings.otp_resend_secs as i64);
        if let Some(newest) = w.newest_by_phone
            && now - newest < resend
        {
            return Err(Error::RateLimited {
                code: "otp_rate_limited",
                retry_after: until(Some(newest), resend),
            });
        }
        if w.by_phone >= i64::from(self.settings.otp_per_phone_per_hour) {
            return Err(Error::RateLimited {
                code: "otp_rate_limited",
                retry_after: until(w.oldest_by_phone, HOUR),
            });
        }
        if w.by_ip >= i64::from(self.settings.otp_per_ip_per_hour) {
            return Err(Error::RateLimited {
                code: "otp_rate_limited",
                retry_after: until(w.oldest_by_ip, HOUR),
            });
        }
        let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
        let expires_at =
            now + chrono::Duration::from_std(OTP_TTL).unwrap_or(chrono::Duration::minutes(5));
        repo::insert_otp(
            &self.db,
            phone.as_str(),
            client_ip,
            &self.code_hash(&phone, &code),
            expires_at,
            now,
        )
        .await?;
        let body = format!(
            "Wardline: ma xac thuc cua ban la {code}. Co hieu luc 5 phut. Khong chia se ma nay."
        );
        self.sms
            .send(phone.as_str(), &body, now)
            .await
            .map_err(|e| {
                tracing::error!(error = ?e, "sms send failed");
                Error::Unavailable("sms_unavailable")
            })?;
        Ok(OTP_TTL.as_secs())
    }

    /// Check a code; on success sign the resident in (creating their account on first sign-in).
    pub async fn verify_otp(&self, raw_phone: &str, code: &str) -> Result<(Session, bool)> {
        let phone = Phone::parse(raw_phone)?;
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::validation(
                "code",
                "invalid_code_format",
                "Mã xác thực gồm 6 chữ số",
                "The code has 6 digits",
            ));
        }
        let now = self.clock.now();
        let challenge = repo::live_otp(&self.db, phone.as_str(), now)
            .await?
            .ok_or(Error::Unauthorized("invalid_otp"))?;
        let exceeded = || Error::RateLimited {
            code: "otp_attempts_exceeded",
            retry_after: (challenge.expires_at - now).num_seconds().max(1) as u64,
        };
        if challenge.attempts >= OTP_MAX_ATTEMPTS
            || !repo::spend_otp_attempt(&self.db, challenge.otp_challenge_id, OTP_MAX_ATTEMPTS, now)
                .await?
        {
            return Err(exceeded());
        }
        if !tokens::constant_time_eq(&challenge.code_hash, &self.code_hash(&phone, code)) {
            return Err(Error::Unauthorized("invalid_otp"));
        }
        if !repo::consume_otp(&self.db, challenge.otp_challenge_id, now).await? {
            return Err(Error::Unauthorized("invalid_otp"));
        }
        let new = repo::NewAccount {
            phone: phone.as_str(),
            display_name: "",
            role: Role::Resident,
            password_hash: None,
            password_must_change: false,
        };
        let created = repo::insert_account(&self.db, &new, now).await?.is_some();
        let account = repo::account_by_phone(&self.db, phone.as_str())
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("account vanished after insert")))?;
        if account.disabled_at.is_some() {
            return Err(Error::Unauthorized("account_disabled"));
        }
        if account.role != Role::Resident {
            // Staff, doctors and admins sign in with their password; a code alone must not do.
            return Err(Error::Unauthorized("wrong_role"));
        }
        Ok((self.start_session(&account).await?, created))
    }

    /// Password sign-in for staff, doctors and admins.
    pub async fn login(&self, raw_phone: &str, password: &str, client_ip: &str) -> Result<Session> {
        let invalid = Error::Unauthorized("invalid_credentials");
        let Ok(phone) = Phone::parse(raw_phone) else {
            // Same answer as a wrong password: the form field is not the place to probe.
            return Err(invalid);
        };
        let now = self.clock.now();
        let (failures, oldest) =
            repo::login_failures_since(&self.db, phone.as_str(), now - LOGIN_WINDOW).await?;
        if failures >= i64::from(self.settings.login_failures_per_15min) {
            let retry_after = oldest
                .map(|t| (t + LOGIN_WINDOW - now).num_seconds().max(1) as u64)
                .unwrap_or(60);
            return Err(Error::RateLimited {
                code: "login_rate_limited",
                retry_after,
            });
        }
        let account = repo::account_by_phone(&self.db, phone.as_str()).await?;
        let hash = account
            .as_ref()
            .and_then(|a| a.password_hash.clone())
            .unwrap_or_else(|| self.dummy_hash.as_str().to_string());
        let ok = verify_password(password.to_string(), hash).await?;
        match account {
            Some(account) if ok && account.password_hash.is_some() => {
                if account.disabled_at.is_some() {
                    return Err(Error::Unauthorized("account_disabled"));
                }
                self.start_session(&account).await
            }
            _ => {
                repo::record_login_failure(&self.db, phone.as_str(), client_ip, now).await?;
                Err(invalid)
            }
        }
    }

    async fn start_session(&self, account: &Account) -> Result<Session> {
        self.issue(account, Uuid::now_v7(), None).await
    }

    async fn issue(
        &self,
        account: &Account,
        family_id: Uuid,
        rotating: Option<&repo::RefreshRow>,
    ) -> Result<Session> {
        let now = self.clock.now();
        let refresh_token = tokens::random_token(32);
        let expires_at = now + chrono::Duration::days(self.settings.refresh_token_ttl_days as i64);
        let hash = tokens::sha256_hex(&refresh_token);
        match rotating {
            None => {
                repo::insert_refresh(
                    &self.db,
                    family_id,
                    account.account_id,
                    &hash,
                    expires_at,
                    now,
                )
                .await?
            }
            Some(old) => {
                if !repo::rotate_refresh(&self.db, old, &hash, expires_at, now).await? {
                    repo::revoke_family(&self.db, old.family_id, now).await?;
                    return Err(Error::Unauthorized("refresh_token_reused"));
                }
            }
        }
        let ttl = self.settings.access_token_ttl_secs;
        let access_token =
            self.keys
                .issue(account.account_id, account.role, now.timestamp(), ttl)?;
        Ok(Session {
            access_token,
            refresh_token,
            expires_in: ttl,
        })
    }

    /// Trade a refresh token for a new pair. A token that was already rotated is evidence of theft:
    /// the whole family (every token of that sign-in) is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        let invalid = Error::Unauthorized("invalid_refresh_token");
        if refresh_token.is_empty() || refresh_token.len() > 200 {
            return Err(invalid);
        }
        let now = self.clock.now();
        let row = repo::refresh_by_hash(&self.db, &tokens::sha256_hex(refresh_token))
            .await?
            .ok_or(invalid)?;
        if row.revoked_at.is_some() {
            return Err(Error::Unauthorized("invalid_refresh_token"));
        }
        if row.rotated_at.is_some() {
            repo::revoke_family(&self.db, row.family_id, now).await?;
            tracing::warn!(account_id = %row.account_id, family_id = %row.family_id, "refresh token reused; family revoked");
            return Err(Error::Unauthorized("refresh_token_reused"));
        }
        if row.expires_at <= now {
            return Err(Error::Unauthorized("invalid_refresh_token"));
        }
        let account = repo::account_by_id(&self.db, row.account_id)
            .await?
            .ok_or(Error::Unauthorized("invalid_refresh_token"))?;
        if account.disabled_at.is_some() {
            return Err(Error::Unauthorized("account_disabled"));
        }
        self.issue(&account, row.family_id, Some(&row)).await
    }

    /// End the sign-in the refresh token belongs to. Unknown tokens are ignored (idempotent).
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        if let Some(row) =
            repo::refresh_by_hash(&self.db, &tokens::sha256_hex(refresh_token)).await?
        {
            repo::revoke_family(&self.db, row.family_id, self.clock.now()).await?;
        }
        Ok(())
    }

    pub async fn account(&self, id: Uuid) -> Result<Account> {
        repo::account_by_id(&self.db, id)
            .await?
            .ok_or(Error::NotFound("account_not_found"))
    }

    pub async fn update_profile(
        &self,
        caller: &Caller,
        display_name: Option<&str>,
        language: Option<Language>,
    ) -> Result<Account> {
        let display_name = display_name
            .map(|n| validate_name(n, "display_name"))
            .transpose()?;
        repo::update_profile(
            &self.db,
            caller.account_id,
            display_name.as_deref(),
            language,
            self.clock.now(),
        )
        .await?;
        self.account(caller.account_id).await
    }

    pub async fn change_password(&self, caller: &Caller, current: &str, new: &str) -> Result<()> {
        let account = self.account(caller.account_id).await?;
        let Some(hash) = account.password_hash.clone() else {
            return Err(Error::Forbidden);
        };
        if !verify_password(current.to_string(), hash).await? {
            return Err(Error::Unauthorized("invalid_credentials"));
        }
        validate_password(new)?;
        let hash = hash_password_blocking(new.to_string()).await?;
        repo::set_password(&self.db, caller.account_id, &hash, false, self.clock.now()).await?;
        self.active.forget(caller.account_id);
        Ok(())
    }

    /// The resident account for a phone, created if there is none (staff entering a walk-in report).
    pub async fn resident_for_phone(&self, raw_phone: &str) -> Result<Uuid> {
        let phone = Phone::parse(raw_phone).map_err(|_| {
            Error::validation(
                "reporter_phone",
                "invalid_phone",
                "Số điện thoại không hợp lệ",
                "Invalid phone number",
            )
        })?;
        let new = repo::NewAccount {
            phone: phone.as_str(),
            display_name: "",
            role: Role::Resident,
            password_hash: None,
            password_must_change: false,
        };
        repo::insert_account(&self.db, &new, self.clock.now()).await?;
        let account = repo::account_by_phone(&self.db, phone.as_str())
            .await?
            .ok_or(Error::NotFound("account_not_found"))?;
        if account.role != Role::Resident {
            return Err(Error::validation(
                "reporter_phone",
                "not_a_resident",
                "Số này thuộc tài khoản cán bộ",
                "This phone belongs to a staff account",
            ));
        }
        Ok(account.account_id)
    }

    // ---- administration ----

    /// Create a staff, doctor or admin account with a generated one-time password.
    pub async fn create_account(
        &self,
        raw_phone: &str,
        display_name: &str,
        role: Role,
    ) -> Result<(Account, String)> {
        let phone = Phone::parse(raw_phone)?;
        let name = validate_name(display_name, "display_name")?;
        let password = generate_password();
        let hash = hash_password_blocking(password.clone()).await?;
        let new = repo::NewAccount {
            phone: phone.as_str(),
            display_name: &name,
            role,
            password_hash: Some(&hash),
            password_must_change: true,
        };
        let id = repo::insert_account(&self.db, &new, self.clock.now())
            .await?
            .ok_or(Error::Conflict("phone_taken"))?;
        Ok((self.account(id).await?, password))
    }

    pub async fn list_accounts(
        &self,
        role: Option<Role>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Account>> {
        Ok(repo::list_accounts(&self.db, role, after, limit).await?)
    }

    pub async fn set_disabled(&self, caller: &Caller, id: Uuid, disabled: bool) -> Result<Account> {
        if disabled && caller.account_id == id {
            return Err(Error::Conflict("cannot_disable_self"));
        }
        let now = self.clock.now();
        let found = repo::set_disabled(&self.db, id, disabled.then_some(now), now).await?;
        self.active.forget(id);
        if !found {
            return Err(Error::NotFound("account_not_found"));
        }
        self.account(id).await
    }

    /// Issue a new one-time password (the person forgot theirs).
    pub async fn reset_password(&self, id: Uuid) -> Result<(Account, String)> {
        let account = self.account(id).await?;
        if account.role == Role::Resident {
            return Err(Error::Conflict("wrong_role"));
        }
        let password = generate_password();
        let hash = hash_password_blocking(password.clone()).await?;
        repo::set_password(&self.db, id, &hash, true, self.clock.now()).await?;
        self.active.forget(id);
        Ok((account, password))
    }
}

/// Trimmed, 1–100 characters, no control characters.
pub fn validate_name(raw: &str, field: &str) -> Result<String> {
    let name = crate::text::clean_required(raw, false);
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "invalid_name",
            "Tên phải có từ 1 đến 100 ký tự",
            "Must be 1 to 100 characters",
        ));
    }
    Ok(name.to_string())
}

fn validate_password(p: &str) -> Result<()> {
    if p.chars().count() < 10 || p.len() > 256 {
        return Err(Error::validation(
            "new_password",
            "weak_password",
            "Mật khẩu phải có từ 10 ký tự",
            "The password needs at least 10 characters",
        ));
    }
    Ok(())
}

/// 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I).
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
        .to_string())
}

/// argon2 is deliberately slow; keep it off the async workers.
async fn hash_password_blocking(password: String) -> Result<String> {
    Ok(
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| anyhow::anyhow!("hash task: {e}"))??,
    )
}

async fn verify_password(password: String, hash: String) -> Result<bool> {
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| anyhow::anyhow!("verify task: {e}"))?;
    Ok(ok)
}
