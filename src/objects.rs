//! Object storage for photos and documents, through `object_store`: local disk by default, any
//! S3-compatible service at scale, memory in unit tests.
//!
//! S3 hands out presigned URLs itself. The local disk cannot, so this server signs its own: a URL
//! under `/v1/objects/{token}` whose token carries the method, key and expiry under an HMAC.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use hmac::{Hmac, Mac};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::Sha256;

use crate::config::{Secret, Settings};
use crate::error::Error;

/// What a presigned URL lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Get,
    Put,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Get => "GET",
            Access::Put => "PUT",
        }
    }
}

/// Failures of the object store, as the API sees them.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object not found")]
    NotFound,
    #[error("object too large")]
    TooLarge,
    #[error("invalid key")]
    InvalidKey,
    #[error("upload stream failed: {0}")]
    Body(std::io::Error),
    #[error("object store unavailable: {0}")]
    Unavailable(object_store::Error),
}

impl From<object_store::Error> for ObjectError {
    fn from(err: object_store::Error) -> Self {
        match err {
            object_store::Error::NotFound { .. } => ObjectError::NotFound,
            object_store::Error::InvalidPath { .. } => ObjectError::InvalidKey,
            other => ObjectError::Unavailable(other),
        }
    }
}

impl From<ObjectError> for Error {
    fn from(err: ObjectError) -> Self {
        match err {
            ObjectError::NotFound => Error::NotFound("object_not_found"),
            ObjectError::TooLarge => Error::PayloadTooLarge,
            ObjectError::InvalidKey => Error::BadRequest("invalid object key".into()),
            ObjectError::Body(e) => Error::BadRequest(format!("upload interrupted: {e}")),
            ObjectError::Unavailable(e) => {
                tracing::warn!(error = %e, "object store unavailable");
                Error::Unavailable("storage_unavailable")
            }
        }
    }
}

#[derive(Clone)]
enum Backend {
    Local,
    Memory,
    S3 {
        signer: Arc<AmazonS3>,
        prefix: Option<ObjectPath>,
    },
}

/// The object store the app writes photos to.
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
    signing_key: Arc<Secret>,
    /// Base of locally presigned URLs; set again once the server knows its bound port.
    public_url: Arc<std::sync::RwLock<String>>,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Objects({})", self.kind())
    }
}

impl Objects {
    /// Build from `file://dir`, `s3://bucket[/prefix]` or `memory://`.
    pub fn from_settings(settings: &Settings, signing_key: Secret) -> anyhow::Result<Objects> {
        let signing_key = Arc::new(signing_key);
        let url = settings.storage_url();
        let public_url = Arc::new(std::sync::RwLock::new(settings.public_url()));
        if let Some(dir) = url.strip_prefix("file://") {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
            let store = LocalFileSystem::new_with_prefix(dir)
                .with_context(|| format!("opening {dir}"))?
                .with_automatic_cleanup(true);
            Ok(Objects {
                store: Arc::new(store),
                backend: Backend::Local,
                signing_key,
                public_url,
            })
        } else if url == "memory://" || url == "memory:" {
            Ok(Objects {
                store: Arc::new(InMemory::new()),
                backend: Backend::Memory,
                signing_key,
                public_url,
            })
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = match rest.split_once('/') {
                Some((b, p)) if !p.trim_matches('/').is_empty() => {
                    (b, Some(ObjectPath::parse(p.trim_matches('/'))?))
                }
                Some((b, _)) => (b, None),
                None => (rest, None),
            };
            anyhow::ensure!(!bucket.is_empty(), "s3:// URL needs a bucket name");
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(&settings.s3_region)
                .with_virtual_hosted_style_request(!settings.s3_path_style);
            if let Some(endpoint) = &settings.s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(key) = &settings.s3_access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &settings.s3_secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            let s3 = Arc::new(builder.build().context("configuring S3")?);
            let store: Arc<dyn ObjectStore> = match &prefix {
                Some(p) => Arc::new(PrefixStore::new(s3.clone(), p.clone())),
                None => s3.clone(),
            };
            Ok(Objects {
                store,
                backend: Backend::S3 { signer: s3, prefix },
                signing_key,
                public_url,
            })
        } else {
            anyhow::bail!("unsupported storage URL (use file://, s3:// or memory://): {url}")
        }
    }

    /// Where clients reach this server (for locally presigned URLs).
    pub fn set_public_url(&self, url: String) {
        if let Ok(mut current) = self.public_url.write() {
            *current = url;
        }
    }

    /// Where clients reach this server, without a trailing slash (for absolute links).
    pub fn public_url(&self) -> String {
        self.public_url
            .read()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_default()
    }

    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Local => "file",
            Backend::Memory => "memory",
            Backend::S3 { .. } => "s3",
        }
    }

    fn path(key: &str) -> Result<ObjectPath, ObjectError> {
        if key.is_empty() || key.len() > 512 || key.contains("..") || key.starts_with('/') {
            return Err(ObjectError::InvalidKey);
        }
        ObjectPath::parse(key).map_err(|_| ObjectError::InvalidKey)
    }

    /// Store a whole object.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), ObjectError> {
        self.store.put(&Self::path(key)?, bytes.into()).await?;
        Ok(())
    }

    /// Stream an object in without holding it in memory (multipart upload when large). Stops with
    /// `TooLarge` past `max_bytes`; on any failure nothing is left behind under `key`.
    pub async fn put_stream<S>(
        &self,
        key: &str,
        mut body: S,
        max_bytes: u64,
    ) -> Result<u64, ObjectError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Unpin,
    {
        let path = Self::path(key)?;
        let mut writer = BufWriter::new(self.store.clone(), path);
        let mut total: u64 = 0;
        let outcome: Result<(), ObjectError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(ObjectError::Body)?;
                total += chunk.len() as u64;
                if total > max_bytes {
                    return Err(ObjectError::TooLarge);
                }
                writer.put(chunk).await?;
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                use tokio::io::AsyncWriteExt;
                writer.shutdown().await.map_err(|e| {
                    ObjectError::Unavailable(object_store::Error::Generic {
                        store: "upload",
                        source: Box::new(e),
                    })
                })?;
                Ok(total)
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, ObjectError> {
        Ok(self.store.get(&Self::path(key)?).await?.bytes().await?)
    }

    /// Delete; deleting what is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match self.store.delete(&Self::path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object under `prefix` (e.g. `photos/`), with when it was last written.
    pub async fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, ObjectError> {
        let prefix = ObjectPath::from(prefix.trim_end_matches('/'));
        let mut out = vec![];
        let mut stream = self.store.list(Some(&prefix));
        while let Some(meta) = stream.next().await {
            let meta = meta?;
            out.push((meta.location.to_string(), meta.last_modified));
        }
        Ok(out)
    }

    pub async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        match self.store.head(&Self::path(key)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Reachability for `/readyz`: a HEAD of a key that does not exist must answer "not found".
    pub async fn ping(&self) -> Result<(), ObjectError> {
        self.exists("_readyz/probe").await.map(|_| ())
    }

    /// A URL that lets its holder GET or PUT `key` until `ttl` runs out.
    pub async fn presign(
        &self,
        access: Access,
        key: &str,
        ttl: Duration,
    ) -> Result<String, ObjectError> {
        let path = Self::path(key)?;
        match &self.backend {
            Backend::S3 { signer, prefix } => {
                let full = match prefix {
                    Some(p) => ObjectPath::from_iter(p.parts().chain(path.parts())),
                    None => path,
                };
                let method = match access {
                    Access::Get => object_store::signer::Method::GET,
                    Access::Put => object_store::signer::Method::PUT,
                };
                Ok(signer.signed_url(method, &full, ttl).await?.to_string())
            }
            Backend::Local | Backend::Memory => {
                let exp = chrono::Utc::now().timestamp() + ttl.as_secs() as i64;
                let payload = format!("{}\n{}\n{}", access.as_str(), exp, path);
                let sig = self.mac(payload.as_bytes());
                let base = self
                    .public_url
                    .read()
                    .map(|u| u.clone())
                    .unwrap_or_default();
                Ok(format!(
                    "{}/v1/objects/{}.{}",
                    base,
                    B64.encode(payload.as_bytes()),
                    B64.encode(sig)
                ))
            }
        }
    }

    /// Check a token from a locally presigned URL; returns the key it grants `access` to.
    pub fn verify_token(&self, token: &str, access: Access) -> Result<String, Error> {
        let denied = || Error::Forbidden;
        let (payload_b64, sig_b64) = token.split_once('.').ok_or_else(denied)?;
        let payload = B64.decode(payload_b64).map_err(|_| denied())?;
        let sig = B64.decode(sig_b64).map_err(|_| denied())?;
        let mut mac = self.mac_state();
        mac.update(&payload);
        mac.verify_slice(&sig).map_err(|_| denied())?;
        let payload = String::from_utf8(payload).map_err(|_| denied())?;
        let mut parts = payload.splitn(3, '\n');
        let (Some(method), Some(exp), Some(key)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(denied());
        };
        let exp: i64 = exp.parse().map_err(|_| denied())?;
        if method != access.as_str() || exp < chrono::Utc::now().timestamp() {
            return Err(denied());
        }
        Ok(key.to_string())
    }

    /// HMAC keyed by the server secret, domain-separated from every other use of that secret.
    fn mac_state(&self) -> Hmac<Sha256> {
        let mut mac = crate::auth::tokens::hmac(&self.signing_key);
        mac.update(b"objects\n");
        mac
    }

    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = self.mac_state();
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Objects {
        let settings = Settings {
            storage_url: Some("memory://".into()),
            ..Settings::default()
        };
        Objects::from_settings(&settings, Secret::new("k".repeat(32))).unwrap()
    }

    #[tokio::test]
    async fn hostile_keys_are_refused() {
        let o = memory();
        for key in ["", "../etc/passwd", "/abs", "a/../b"] {
            assert!(
                matches!(
                    o.put(key, Bytes::from_static(b"x")).await,
                    Err(ObjectError::InvalidKey)
                ),
                "{key}"
            );
        }
    }
}

/// HTTP: the server side of locally presigned URLs (local disk storage has no URLs of its own).
pub struct ObjectsApi {
    pub objects: Objects,
    /// The largest upload accepted.
    pub max_body_bytes: u64,
}

#[derive(poem_openapi::ApiResponse)]
enum Stored {
    /// Stored.
    #[oai(status = 204)]
    Stored,
}

#[poem_openapi::OpenApi(tag = "crate::tags::ApiTags::Objects")]
impl ObjectsApi {
    /// Download through a presigned URL
    #[oai(
        path = "/v1/objects/:token",
        method = "get",
        operation_id = "objects_get"
    )]
    async fn get(
        &self,
        token: poem_openapi::param::Path<String>,
    ) -> Result<
        poem_openapi::payload::Binary<Vec<u8>>,
        crate::error::Problems<{ crate::error::FORBIDDEN | crate::error::NOT_FOUND }>,
    > {
        let key = self.objects.verify_token(&token.0, Access::Get)?;
        let bytes = self.objects.get(&key).await.map_err(Error::from)?;
        Ok(poem_openapi::payload::Binary(bytes.to_vec()))
    }

    /// Upload through a presigned URL
    ///
    /// The request body is the object's raw bytes, with any content type (as with S3).
    #[oai(
        path = "/v1/objects/:token",
        method = "put",
        operation_id = "objects_put"
    )]
    async fn put(
        &self,
        token: poem_openapi::param::Path<String>,
        body: poem::Body,
    ) -> Result<Stored, crate::error::Problems<{ crate::error::FORBIDDEN | crate::error::TOO_LARGE }>>
    {
        let key = self.objects.verify_token(&token.0, Access::Put)?;
        let limit = self.max_body_bytes;
        let stream = body
            .into_bytes_stream()
            .map(|r| r.map_err(std::io::Error::other));
        self.objects
            .put_stream(&key, Box::pin(stream), limit)
            .await
            .map_err(Error::from)?;
        Ok(Stored::Stored)
    }
}
