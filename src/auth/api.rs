//! HTTP: sign-in, the caller's own account, and account administration.

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme};
use uuid::Uuid;

use crate::auth::Auth;
use crate::auth::{Account, Caller, Language, Role, Session};
use crate::error::{
    BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, RATE_LIMITED, SIGNED_IN, UNAUTHORIZED,
};
use crate::tags::ApiTags;

/// `Authorization: Bearer <access token>` from sign-in.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerAuth(pub Bearer);

impl Auth {
    /// The caller behind a bearer token (401 when missing, invalid, expired or disabled; 403
    /// `password_change_required` while a one-time password is unchanged).
    pub async fn caller(&self, auth: &BearerAuth) -> Result<Caller, Error> {
        let caller = self.identify(&auth.0.token).await?;
        if caller.password_must_change {
            return Err(Error::Refused("password_change_required"));
        }
        Ok(caller)
    }

    /// The caller, even one who must still change a one-time password: for reading one's own
    /// account and changing the password, the only things such a caller may do.
    pub async fn caller_changing_password(&self, auth: &BearerAuth) -> Result<Caller, Error> {
        self.identify(&auth.0.token).await
    }

    /// The caller of a WebSocket: browsers cannot set headers on one, so the access token may come
    /// as the `access_token` query parameter instead of the `Authorization` header. Either way a
    /// one-time password not yet changed is refused, as for every other operation.
    pub async fn socket_caller(
        &self,
        req: &Request,
        access_token: Option<&str>,
    ) -> Result<Caller, Error> {
        match (self.optional_caller(req).await?, access_token) {
            (Some(c), _) => Ok(c),
            (None, Some(token)) => {
                let caller = self.identify(token).await?;
                if caller.password_must_change {
                    return Err(Error::Refused("password_change_required"));
                }
                Ok(caller)
            }
            (None, None) => Err(Error::Unauthorized("missing_token")),
        }
    }

    /// The caller if the request carries a bearer token (public endpoints that show more to the
    /// signed-in): no header is anonymous, a bad token is still 401.
    pub async fn optional_caller(&self, req: &Request) -> Result<Option<Caller>, Error> {
        let Some(value) = req.header("authorization") else {
            return Ok(None);
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(Error::Unauthorized("missing_token"))?;
        let caller = self.identify(token.trim()).await?;
        if caller.password_must_change {
            return Err(Error::Refused("password_change_required"));
        }
        Ok(Some(caller))
    }

    /// The caller, who must hold one of `roles` (403 otherwise).
    pub async fn caller_with(&self, auth: &BearerAuth, roles: &[Role]) -> Result<Caller, Error> {
        let caller = self.caller(auth).await?;
        caller.require(roles)?;
        Ok(caller)
    }
}

/// The client's address: the socket peer, or the first `X-Forwarded-For` hop behind a trusted proxy.
pub fn client_ip(settings: &crate::config::Settings, req: &Request) -> String {
    if settings.trust_forwarded_for
        && let Some(first) = req
            .header("x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    {
        return first.to_string();
    }
    match req.remote_addr().as_socket_addr() {
        Some(addr) => addr.ip().to_string(),
        None => "unknown".to_string(),
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct OtpRequest {
    /// Phone number; Vietnamese national form (`0912 345 678`) or international (`+84…`).
    #[oai(validator(max_length = 32))]
    phone: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct OtpSent {
    /// Seconds the code stays valid.
    expires_in: u64,
}

#[derive(ApiResponse)]
enum OtpRequestResponse {
    /// The code was sent by SMS.
    #[oai(status = 202)]
    Sent(Json<OtpSent>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct OtpVerify {
    #[oai(validator(max_length = 32))]
    phone: String,
    /// The 6-digit code from the SMS.
    #[oai(validator(max_length = 16))]
    code: String,
}

/// Tokens (OAuth 2 names).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TokenResponse {
    /// JWT for `Authorization: Bearer`.
    access_token: String,
    /// Opaque; trade it at `/v1/auth/refresh`. Each one works once.
    refresh_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Seconds until the access token expires.
    expires_in: u64,
}

impl From<Session> for TokenResponse {
    fn from(s: Session) -> Self {
        TokenResponse {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            token_type: "Bearer".into(),
            expires_in: s.expires_in,
        }
    }
}

#[derive(ApiResponse)]
enum VerifyResponse {
    /// Signed in to an existing account.
    #[oai(status = 200)]
    SignedIn(Json<TokenResponse>),
    /// First sign-in: the resident account was created.
    #[oai(status = 201)]
    Created(Json<TokenResponse>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LoginRequest {
    #[oai(validator(max_length = 32))]
    phone: String,
    #[oai(validator(max_length = 256))]
    password: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RefreshRequest {
    #[oai(validator(max_length = 256))]
    refresh_token: String,
}

#[derive(ApiResponse)]
enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// An account as its owner and admins see it.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AccountView {
    id: Uuid,
    /// E.164.
    phone: String,
    display_name: String,
    role: Role,
    language: Language,
    /// The password is a one-time password from an admin and should be changed.
    password_must_change: bool,
    disabled: bool,
    created_at: DateTime<Utc>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            id: a.account_id,
            phone: a.phone,
            display_name: a.display_name,
            role: a.role,
            language: a.language,
            password_must_change: a.password_must_change,
            disabled: a.disabled_at.is_some(),
            created_at: a.created_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PatchMe {
    #[oai(validator(max_length = 200))]
    display_name: Option<String>,
    language: Option<Language>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ChangePassword {
    #[oai(validator(max_length = 256))]
    current_password: String,
    #[oai(validator(max_length = 256))]
    new_password: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateAccount {
    #[oai(validator(max_length = 32))]
    phone: String,
    #[oai(validator(max_length = 200))]
    display_name: String,
    /// `staff`, `doctor` or `admin` (residents sign themselves up by code).
    role: Role,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AccountWithPassword {
    account: AccountView,
    /// Shown once; give it to the person, who changes it at first sign-in.
    one_time_password: String,
}

#[derive(ApiResponse)]
enum CreateAccountResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<AccountWithPassword>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AccountPage {
    items: Vec<AccountView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_after: Option<Uuid>,
}

pub struct AuthApi {
    pub state: Auth,
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Send a sign-in code by SMS
    ///
    /// Residents sign in with a 6-digit code valid for 5 minutes. Limited per phone and per client
    /// address (429 with `Retry-After`).
    #[oai(
        path = "/v1/auth/otp",
        method = "post",
        operation_id = "auth_request_otp"
    )]
    async fn request_otp(
        &self,
        req: &Request,
        body: Json<OtpRequest>,
    ) -> Result<OtpRequestResponse, Problems<{ BODY | INVALID | RATE_LIMITED }>> {
        let ip = client_ip(&self.state.settings, req);
        let expires_in = self.state.request_otp(&body.phone, &ip).await?;
        Ok(OtpRequestResponse::Sent(Json(OtpSent { expires_in })))
    }

    /// Sign in with the code
    ///
    /// Creates the resident's account on first sign-in (201). Five wrong codes use the code up.
    #[oai(
        path = "/v1/auth/otp/verify",
        method = "post",
        operation_id = "auth_verify_otp"
    )]
    async fn verify_otp(
        &self,
        body: Json<OtpVerify>,
    ) -> Result<VerifyResponse, Problems<{ UNAUTHORIZED | BODY | INVALID | RATE_LIMITED }>> {
        let (session, created) = self.state.verify_otp(&body.phone, &body.code).await?;
        Ok(if created {
            VerifyResponse::Created(Json(session.into()))
        } else {
            VerifyResponse::SignedIn(Json(session.into()))
        })
    }

    /// Sign in with phone and password (staff, doctors, admins)
    #[oai(path = "/v1/auth/login", method = "post", operation_id = "auth_login")]
    async fn login(
        &self,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Result<Json<TokenResponse>, Problems<{ UNAUTHORIZED | BODY | RATE_LIMITED }>> {
        let ip = client_ip(&self.state.settings, req);
        Ok(Json(
            self.state
                .login(&body.phone, &body.password, &ip)
                .await?
                .into(),
        ))
    }

    /// Trade a refresh token for new tokens
    ///
    /// Each refresh token works once. Presenting one that was already used revokes the whole
    /// sign-in (`refresh_token_reused`).
    #[oai(
        path = "/v1/auth/refresh",
        method = "post",
        operation_id = "auth_refresh"
    )]
    async fn refresh(
        &self,
        body: Json<RefreshRequest>,
    ) -> Result<Json<TokenResponse>, Problems<{ UNAUTHORIZED | BODY }>> {
        Ok(Json(self.state.refresh(&body.refresh_token).await?.into()))
    }

    /// Sign out (revoke the refresh token's sign-in)
    #[oai(
        path = "/v1/auth/logout",
        method = "post",
        operation_id = "auth_logout"
    )]
    async fn logout(&self, body: Json<RefreshRequest>) -> Result<NoContent, Problems<BODY>> {
        self.state.logout(&body.refresh_token).await?;
        Ok(NoContent::Done)
    }
}

pub struct MeApi {
    pub state: Auth,
}

#[OpenApi(tag = "ApiTags::Me")]
impl MeApi {
    /// The signed-in account
    #[oai(path = "/v1/me", method = "get", operation_id = "me_get")]
    async fn me(&self, auth: BearerAuth) -> Result<Json<AccountView>, Problems<UNAUTHORIZED>> {
        let caller = self.state.caller_changing_password(&auth).await?;
        Ok(Json(self.state.account(caller.account_id).await?.into()))
    }

    /// Change display name or language
    #[oai(path = "/v1/me", method = "patch", operation_id = "me_update")]
    async fn update(
        &self,
        auth: BearerAuth,
        body: Json<PatchMe>,
    ) -> Result<Json<AccountView>, Problems<{ SIGNED_IN | BODY | INVALID }>> {
        let caller = self.state.caller(&auth).await?;
        Ok(Json(
            self.state
                .update_profile(&caller, body.display_name.as_deref(), body.language)
                .await?
                .into(),
        ))
    }

    /// Change one's password (staff, doctors, admins)
    #[oai(
        path = "/v1/me/password",
        method = "post",
        operation_id = "me_change_password"
    )]
    async fn change_password(
        &self,
        auth: BearerAuth,
        body: Json<ChangePassword>,
    ) -> Result<NoContent, Problems<{ SIGNED_IN | BODY | INVALID }>> {
        let caller = self.state.caller_changing_password(&auth).await?;
        caller.require(&[Role::Staff, Role::Doctor, Role::Admin])?;
        self.state
            .change_password(&caller, &body.current_password, &body.new_password)
            .await?;
        Ok(NoContent::Done)
    }
}

pub struct AdminAccountsApi {
    pub state: Auth,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminAccountsApi {
    /// List accounts
    #[oai(
        path = "/v1/admin/accounts",
        method = "get",
        operation_id = "admin_list_accounts"
    )]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Only this role.
        role: Query<Option<Role>>,
        /// Cursor: the last id of the previous page.
        after: Query<Option<Uuid>>,
        /// Page size, 1–200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<i64>>,
    ) -> Result<Json<AccountPage>, Problems<SIGNED_IN>> {
        self.state.caller_with(&auth, &[Role::Admin]).await?;
        let limit = limit.0.unwrap_or(50);
        let items = self.state.list_accounts(role.0, after.0, limit).await?;
        let next_after = if items.len() as i64 == limit {
            items.last().map(|a| a.account_id)
        } else {
            None
        };
        Ok(Json(AccountPage {
            items: items.into_iter().map(Into::into).collect(),
            next_after,
        }))
    }

    /// Create a staff, doctor or admin account
    ///
    /// Answers with a one-time password to hand to the person.
    #[oai(
        path = "/v1/admin/accounts",
        method = "post",
        operation_id = "admin_create_account"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<CreateAccount>,
    ) -> Result<CreateAccountResponse, Problems<{ SIGNED_IN | CONFLICT | BODY | INVALID }>> {
        self.state.caller_with(&auth, &[Role::Admin]).await?;
        if body.role == Role::Resident {
            return Err(Error::validation(
                "role",
                "invalid_role",
                "Cư dân tự đăng ký bằng mã SMS",
                "Residents sign up themselves by SMS code",
            )
            .into());
        }
        let (account, password) = self
            .state
            .create_account(&body.phone, &body.display_name, body.role)
            .await?;
        Ok(CreateAccountResponse::Created(Json(AccountWithPassword {
            account: account.into(),
            one_time_password: password,
        })))
    }

    /// One account
    #[oai(
        path = "/v1/admin/accounts/:account_id",
        method = "get",
        operation_id = "admin_get_account"
    )]
    async fn get(
        &self,
        auth: BearerAuth,
        account_id: Path<Uuid>,
    ) -> Result<Json<AccountView>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        self.state.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(self.state.account(account_id.0).await?.into()))
    }

    /// Disable an account (ends its sessions at once)
    #[oai(
        path = "/v1/admin/accounts/:account_id/disable",
        method = "post",
        operation_id = "admin_disable_account"
    )]
    async fn disable(
        &self,
        auth: BearerAuth,
        account_id: Path<Uuid>,
    ) -> Result<Json<AccountView>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        let caller = self.state.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            self.state
                .set_disabled(&caller, account_id.0, true)
                .await?
                .into(),
        ))
    }

    /// Enable a disabled account
    #[oai(
        path = "/v1/admin/accounts/:account_id/enable",
        method = "post",
        operation_id = "admin_enable_account"
    )]
    async fn enable(
        &self,
        auth: BearerAuth,
        account_id: Path<Uuid>,
    ) -> Result<Json<AccountView>, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        let caller = self.state.caller_with(&auth, &[Role::Admin]).await?;
        Ok(Json(
            self.state
                .set_disabled(&caller, account_id.0, false)
                .await?
                .into(),
        ))
    }

    /// Issue a new one-time password
    #[oai(
        path = "/v1/admin/accounts/:account_id/reset-password",
        method = "post",
        operation_id = "admin_reset_password"
    )]
    async fn reset_password(
        &self,
        auth: BearerAuth,
        account_id: Path<Uuid>,
    ) -> Result<Json<AccountWithPassword>, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT }>> {
        self.state.caller_with(&auth, &[Role::Admin]).await?;
        let (account, password) = self.state.reset_password(account_id.0).await?;
        Ok(Json(AccountWithPassword {
            account: account.into(),
            one_time_password: password,
        }))
    }
}
