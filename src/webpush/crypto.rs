//! The pure cryptography of Web Push, with no I/O: a message encrypted for one browser (RFC 8291:
//! ECDH on P-256 with the browser's key, HKDF-SHA-256 with its auth secret, one RFC 8188
//! `aes128gcm` record whose key id is our one-time public key), and the server's VAPID
//! identification (RFC 8292: an ES256 JWT for the push service's origin, and our public key).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// A browser's public key: an uncompressed P-256 point (`0x04 ‖ x ‖ y`).
pub const PUBLIC_KEY_LEN: usize = 65;
/// A browser's authentication secret.
pub const AUTH_LEN: usize = 16;
/// The record size written in the header. One record carries the whole message.
pub const RECORD_SIZE: u32 = 4096;
/// The header before the ciphertext: salt (16), record size (4), key id length (1), key id (65).
pub const HEADER_LEN: usize = 16 + 4 + 1 + PUBLIC_KEY_LEN;
/// The longest message one record (and a push service's 4096-byte body) holds: the record's
/// size less the padding delimiter and the AES-GCM tag, and less the header in the body.
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - HEADER_LEN - 1 - 16;

/// Base64url as browsers write keys (`PushSubscription.toJSON()` leaves the padding off; some
/// libraries keep it): either is read.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.contains('=') {
        URL_SAFE.decode(text).ok()
    } else {
        URL_SAFE_NO_PAD.decode(text).ok()
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A browser's subscription keys, checked: a point on the curve and a 16-byte secret.
#[derive(Clone)]
pub struct UaKeys {
    public: PublicKey,
    auth: [u8; AUTH_LEN],
}

/// Why a subscription's keys were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// `p256dh` is not base64url, not 65 bytes, or not an uncompressed point on P-256.
    BadPublicKey,
    /// `auth` is not base64url of 16 bytes.
    BadAuth,
}

impl UaKeys {
    pub fn parse(p256dh: &str, auth: &str) -> Result<UaKeys, KeyError> {
        let public = b64_decode(p256dh)
            .filter(|b| b.len() == PUBLIC_KEY_LEN && b[0] == 0x04)
            .and_then(|b| PublicKey::from_sec1_bytes(&b).ok())
            .ok_or(KeyError::BadPublicKey)?;
        let auth: [u8; AUTH_LEN] = b64_decode(auth)
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::BadAuth)?;
        Ok(UaKeys { public, auth })
    }
}

fn public_bytes(key: &PublicKey) -> Vec<u8> {
    key.to_encoded_point(false).as_bytes().to_vec()
}

/// A fresh P-256 private key (rand 0.9's thread RNG, which draws from the OS).
pub fn random_secret() -> SecretKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        // Fails only for zero or a value past the curve's order: about 2^-32 of all draws.
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// Encrypt `plaintext` for the browser holding `ua` (RFC 8291 § 3.4, RFC 8188 § 2), with the
/// one-time key `as_secret` and `salt`, both fresh per message outside tests: the whole
/// `Content-Encoding: aes128gcm` body.
pub fn encrypt(
    plaintext: &[u8],
    ua: &UaKeys,
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        plaintext.len() <= MAX_PLAINTEXT,
        "a push message holds {MAX_PLAINTEXT} bytes at most, not {}",
        plaintext.len()
    );
    let ua_public = public_bytes(&ua.public);
    let as_public = public_bytes(&as_secret.public_key());
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua.public.as_affine());
    // The input keying material: the shared secret bound to the browser's auth secret and to
    // both public keys.
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(&ua_public);
    key_info.extend_from_slice(&as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&ua.auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| anyhow::anyhow!("HKDF output length"))?;
    // The content encryption key and nonce (RFC 8188 § 2.2, 2.3): one record, sequence 0.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .and_then(|()| prk.expand(b"Content-Encoding: nonce\0", &mut nonce))
        .map_err(|_| anyhow::anyhow!("HKDF output length"))?;
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    // The last (and only) record's delimiter, with no padding after it.
    record.push(0x02);
    let sealed = Aes128Gcm::new_from_slice(&cek)
        .map_err(|_| anyhow::anyhow!("AES-128 key length"))?
        .encrypt(Nonce::from_slice(&nonce), record.as_slice())
        .map_err(|_| anyhow::anyhow!("AES-GCM sealing"))?;
    let mut body = Vec::with_capacity(HEADER_LEN + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(PUBLIC_KEY_LEN as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// The server's VAPID identity: the key its JWTs are signed with, and who runs it (`sub`).
pub struct Vapid {
    key: SigningKey,
    public: String,
    subject: String,
}

/// A VAPID token lives this long: RFC 8292 allows 24 hours at most; a push service's clock may
/// run ahead of ours.
pub const VAPID_TTL_SECS: i64 = 12 * 3600;

impl Vapid {
    pub fn new(secret: &SecretKey, subject: &str) -> Vapid {
        Vapid {
            key: SigningKey::from(secret),
            public: b64(&public_bytes(&secret.public_key())),
            subject: subject.to_string(),
        }
    }

    /// The public key as browsers take it (`applicationServerKey`): base64url of the 65-byte point.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// `Authorization: vapid t=<JWT>, k=<public key>` for a push to `endpoint`, at `now` (Unix
    /// seconds): the token's audience is the endpoint's origin.
    pub fn authorization(&self, endpoint: &url::Url, now: i64) -> String {
        let header = b64(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": now + VAPID_TTL_SECS,
            "sub": self.subject,
        });
        let signing_input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        // ES256: ECDSA over SHA-256 (deterministic nonces, RFC 6979), the JWS's raw r ‖ s.
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "vapid t={signing_input}.{}, k={}",
            b64(&signature.to_bytes()),
            self.public
        )
    }
}

/// A VAPID private key from the settings: PEM (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, as
/// `openssl ecparam -genkey -name prime256v1` writes) or base64url of the raw 32-byte scalar (as
/// the `web-push` tools print it).
pub fn parse_private_key(text: &str) -> anyhow::Result<SecretKey> {
    use p256::pkcs8::DecodePrivateKey;
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return SecretKey::from_pkcs8_pem(text)
            .or_else(|_| SecretKey::from_sec1_pem(text))
            .map_err(|_| anyhow::anyhow!("not a P-256 private key in PEM (PKCS#8 or SEC1)"));
    }
    let raw = b64_decode(text)
        .filter(|b| b.len() == 32)
        .ok_or_else(|| anyhow::anyhow!("not base64url of a 32-byte P-256 private key"))?;
    SecretKey::from_slice(&raw).map_err(|_| anyhow::anyhow!("not a valid P-256 private key"))
}

/// The raw private key as stored: base64url of the 32-byte scalar.
pub fn private_key_text(secret: &SecretKey) -> String {
    b64(&secret.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        b64_decode(s).unwrap()
    }

    // RFC 8291, Appendix A: the one place fixed keys and a fixed salt belong.
    const PLAINTEXT: &str = "When I grow up, I want to be a watermelon";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AS_PUBLIC: &str =
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    #[test]
    fn encrypts_rfc_8291_appendix_a_to_the_published_bytes() {
        let as_secret = parse_private_key(AS_PRIVATE).unwrap();
        assert_eq!(b64(&public_bytes(&as_secret.public_key())), AS_PUBLIC);
        let ua = UaKeys::parse(UA_PUBLIC, AUTH).unwrap();
        let salt: [u8; 16] = d(SALT).try_into().unwrap();
        let body = encrypt(PLAINTEXT.as_bytes(), &ua, &as_secret, &salt).unwrap();
        assert_eq!(b64(&body), BODY);
        assert_eq!(body[..HEADER_LEN], d(BODY)[..HEADER_LEN], "header");
    }

    #[test]
    fn a_message_past_one_record_is_refused() {
        let ua = UaKeys::parse(UA_PUBLIC, AUTH).unwrap();
        let salt = [7u8; 16];
        let key = random_secret();
        let fits = encrypt(&vec![b'a'; MAX_PLAINTEXT], &ua, &key, &salt).unwrap();
        assert_eq!(fits.len(), RECORD_SIZE as usize);
        assert!(encrypt(&vec![b'a'; MAX_PLAINTEXT + 1], &ua, &key, &salt).is_err());
    }

    #[test]
    fn hostile_keys_are_refused() {
        // Compressed point, wrong length, off the curve, not base64url.
        let point = PublicKey::from_sec1_bytes(&d(UA_PUBLIC)).unwrap();
        let compressed = b64(point.to_encoded_point(true).as_bytes());
        assert_eq!(
            UaKeys::parse(&compressed, AUTH).err(),
            Some(KeyError::BadPublicKey)
        );
        let mut off_curve = d(UA_PUBLIC);
        off_curve[64] ^= 1;
        assert_eq!(
            UaKeys::parse(&b64(&off_curve), AUTH).err(),
            Some(KeyError::BadPublicKey)
        );
        assert_eq!(
            UaKeys::parse(&b64(&[4u8; 64]), AUTH).err(),
            Some(KeyError::BadPublicKey)
        );
        assert_eq!(
            UaKeys::parse("not base64!", AUTH).err(),
            Some(KeyError::BadPublicKey)
        );
        assert_eq!(
            UaKeys::parse(UA_PUBLIC, &b64(&[1u8; 15])).err(),
            Some(KeyError::BadAuth)
        );
        assert_eq!(
            UaKeys::parse(UA_PUBLIC, "%%%").err(),
            Some(KeyError::BadAuth)
        );
        // Padded base64url is what some libraries write.
        assert!(UaKeys::parse(UA_PUBLIC, "BTBZMqHH6r4Tts7J_aSIgg==").is_ok());
    }

    #[test]
    fn vapid_token_names_the_origin_and_verifies_with_the_public_key() {
        use p256::ecdsa::VerifyingKey;
        use p256::ecdsa::signature::Verifier;
        let secret = random_secret();
        let vapid = Vapid::new(&secret, "mailto:ubnd@example.vn");
        let endpoint = url::Url::parse("https://push.example.net:8443/send/abc?x=1").unwrap();
        let header = vapid.authorization(&endpoint, 1_700_000_000);
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (jwt, k) = rest.split_once(", k=").unwrap();
        assert_eq!(k, vapid.public_key());
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value = serde_json::from_slice(&d(parts[1])).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["sub"], "mailto:ubnd@example.vn");
        assert_eq!(claims["exp"], 1_700_000_000 + VAPID_TTL_SECS);
        let key = VerifyingKey::from_sec1_bytes(&d(k)).unwrap();
        let sig = Signature::from_slice(&d(parts[2])).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        key.verify(input.as_bytes(), &sig).unwrap();
        assert!(key.verify(b"other", &sig).is_err());
    }

    #[test]
    fn private_keys_read_from_pem_or_raw_base64url() {
        use p256::pkcs8::EncodePrivateKey;
        let secret = random_secret();
        let raw = private_key_text(&secret);
        assert_eq!(parse_private_key(&raw).unwrap(), secret);
        let pem = secret.to_pkcs8_pem(Default::default()).unwrap();
        assert_eq!(parse_private_key(&pem).unwrap(), secret);
        let sec1 = secret.to_sec1_pem(Default::default()).unwrap();
        assert_eq!(parse_private_key(&sec1).unwrap(), secret);
        assert!(parse_private_key("c2hvcnQ").is_err());
        assert!(parse_private_key(&b64(&[0u8; 32])).is_err());
        assert!(
            parse_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }
}
