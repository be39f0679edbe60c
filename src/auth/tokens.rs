//! Access tokens (JWT, HS256) and the opaque random secrets behind refresh tokens and codes.

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Role;
use crate::config::Secret;

pub const ISSUER: &str = "wardline";
/// Audience of API access tokens. Tokens minted for another purpose carry another audience and
/// are refused here, so one kind of token can never open another door.
pub const ACCESS_AUDIENCE: &str = "wardline:access";
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Signs and checks access tokens with the shared secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &Secret) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_audience(&[ACCESS_AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        // Time is checked in `verify` against the app's clock, the one that issued the token.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    pub fn issue(
        &self,
        account_id: Uuid,
        role: Role,
        now: i64,
        ttl_secs: u64,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: ACCESS_AUDIENCE.into(),
            sub: account_id.to_string(),
            role,
            jti: Uuid::new_v4().to_string(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs as i64,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Checks signature, algorithm, issuer, audience, and `exp`/`nbf` against `now` with a small
    /// leeway for clocks that differ between instances.
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let leeway = LEEWAY_SECS as i64;
        (claims.nbf <= now + leeway && now < claims.exp + leeway).then_some(claims)
    }
}

/// `bytes` random bytes, URL-safe base64 (kept beside [`Secret`], which it makes too).
pub use crate::config::random_token;

/// SHA-256, hex: how refresh tokens are stored (they are long random values, so no salt is needed).
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// HMAC-SHA256 keyed by the server secret; callers add a domain label before their data.
pub fn hmac(secret: &Secret) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this branch cannot be reached.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// Compare two strings in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    fn keys() -> TokenKeys {
        TokenKeys::new(&Secret::new("s".repeat(40)))
    }

    #[test]
    fn a_fresh_token_verifies_and_carries_role() {
        let now = chrono::Utc::now().timestamp();
        let id = Uuid::now_v7();
        let t = keys().issue(id, Role::Staff, now, 900).unwrap();
        let c = keys().verify(&t, now).unwrap();
        assert_eq!(c.sub, id.to_string());
        assert_eq!(c.role, Role::Staff);
    }

    #[test]
    fn forged_expired_none_and_foreign_audience_tokens_are_refused() {
        let now = chrono::Utc::now().timestamp();
        let id = Uuid::now_v7();
        // Expired beyond the leeway.
        let t = keys().issue(id, Role::Admin, now - 3600, 900).unwrap();
        assert!(keys().verify(&t, now).is_none());
        // Signed with another key.
        let other = TokenKeys::new(&Secret::new("x".repeat(40)));
        assert!(
            keys()
                .verify(&other.issue(id, Role::Admin, now, 900).unwrap(), now)
                .is_none()
        );
        // alg: none, unsigned.
        let header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = B64.encode(
            serde_json::to_vec(&serde_json::json!({"iss":ISSUER,"aud":ACCESS_AUDIENCE,"sub":id.to_string(),"role":"admin","jti":"x","iat":now,"nbf":now,"exp":now+900})).unwrap(),
        );
        assert!(keys().verify(&format!("{header}.{body}."), now).is_none());
        // Right key, wrong audience.
        let claims = serde_json::json!({"iss":ISSUER,"aud":"wardline:other","sub":id.to_string(),"role":"admin","jti":"x","iat":now,"nbf":now,"exp":now+900});
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret("s".repeat(40).as_bytes()),
        )
        .unwrap();
        assert!(keys().verify(&t, now).is_none());
        // Not yet valid.
        let t = keys().issue(id, Role::Admin, now + 3600, 900).unwrap();
        assert!(keys().verify(&t, now).is_none());
        assert!(keys().verify("garbage", now).is_none());
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
