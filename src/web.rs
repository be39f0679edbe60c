//! The three web apps (residents at `/`, staff at `/staff/`, doctors at `/doctor/`), served from
//! files embedded in the binary (`web/`), and the response compression every answer shares.
//!
//! The apps are plain ES modules with relative imports, so the whole tree is served under one
//! content-addressed prefix, `/assets/<build>/…`, where `<build>` hashes every file: any change
//! moves every URL, and everything under a current prefix is `immutable`. The HTML pages, the
//! service worker and the manifest keep fixed URLs, are revalidated (`no-cache` + `ETag`), and
//! name the prefix through the placeholder `/assets/__BUILD__/`, replaced when served. In debug
//! builds the files are read from disk at every request (rust-embed's dev mode), so an edit shows
//! on reload without a rebuild.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, IntoResponse, Request, Response};
use rust_embed::Embed;
use sha2::{Digest, Sha256};

#[derive(Embed)]
#[folder = "web/"]
struct Files;

/// What the HTML pages may load and do: only this origin's scripts and styles (no inline code),
/// photos and video from this origin or the page's own blobs, calls and sockets to this origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; \
     font-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const PLACEHOLDER: &str = "/assets/__BUILD__/";

/// Which app a page path belongs to.
fn page_for(path: &str) -> Option<&'static str> {
    match path {
        "/" | "/index.html" => Some("resident/index.html"),
        "/sw.js" => Some("resident/sw.js"),
        "/manifest.webmanifest" => Some("resident/manifest.webmanifest"),
        p if p == "/staff/" || p.starts_with("/staff/") => Some("staff/index.html"),
        p if p == "/doctor/" || p.starts_with("/doctor/") => Some("doctor/index.html"),
        _ => None,
    }
}

/// Is this path one of the web apps' (so the route tree sends it here)?
pub fn owns(path: &str) -> bool {
    path.starts_with("/assets/")
        || page_for(path).is_some()
        || path == "/staff"
        || path == "/doctor"
        || path == "/favicon.ico"
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A served file with its validators and compressed forms, computed once per content.
struct Prepared {
    body: bytes::Bytes,
    etag: String,
    content_type: &'static str,
    br: OnceLock<Option<bytes::Bytes>>,
    gzip: OnceLock<Option<bytes::Bytes>>,
}

/// The web apps' files, their build hash and a cache of prepared answers.
#[derive(Default)]
pub struct Web {
    build: OnceLock<String>,
    prepared: Mutex<HashMap<(String, String), Arc<Prepared>>>,
}

impl Web {
    /// The hash of every file's path and content (16 hex digits).
    fn build(&self) -> String {
        let compute = || {
            let mut names: Vec<String> = Files::iter().map(|n| n.to_string()).collect();
            names.sort();
            let mut h = Sha256::new();
            for name in names {
                if let Some(f) = Files::get(&name) {
                    h.update(name.as_bytes());
                    h.update([0]);
                    h.update(f.metadata.sha256_hash());
                }
            }
            hex::encode(&h.finalize()[..8])
        };
        if cfg!(debug_assertions) {
            // Files are read from disk in debug builds and may change between requests.
            compute()
        } else {
            self.build.get_or_init(compute).clone()
        }
    }

    fn prepare(&self, file: &str, build: &str) -> Option<Arc<Prepared>> {
        let key = (file.to_string(), build.to_string());
        if let Ok(map) = self.prepared.lock()
            && let Some(p) = map.get(&key)
        {
            return Some(p.clone());
        }
        let f = Files::get(file)?;
        let templated =
            file.ends_with(".html") || file.ends_with("sw.js") || file.ends_with(".webmanifest");
        let body: bytes::Bytes = if templated {
            let text = String::from_utf8_lossy(&f.data)
                .replace(PLACEHOLDER, &format!("/assets/{build}/"))
                .replace("__BUILD__", build);
            text.into_bytes().into()
        } else {
            f.data.into_owned().into()
        };
        // Weak: the same tag names the plain, gzip and br forms of the file.
        let etag = format!("W/\"{}\"", hex::encode(&Sha256::digest(&body)[..12]));
        let p = Arc::new(Prepared {
            body,
            etag,
            content_type: content_type(file),
            br: OnceLock::new(),
            gzip: OnceLock::new(),
        });
        if let Ok(mut map) = self.prepared.lock() {
            if map.len() > 512 {
                map.clear();
            }
            map.insert(key, p.clone());
        }
        Some(p)
    }

    /// Answer a request for one of the apps' paths.
    pub fn serve(&self, req: &Request) -> Response {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Response::builder()
                .status(StatusCode::METHOD_NOT_ALLOWED)
                .header(header::ALLOW, "GET, HEAD")
                .finish();
        }
        let path = req.uri().path();
        if path == "/staff" || path == "/doctor" {
            return Response::builder()
                .status(StatusCode::PERMANENT_REDIRECT)
                .header(header::LOCATION, format!("{path}/"))
                .finish();
        }
        let build = self.build();
        let (file, immutable, page) = if let Some(rest) = path.strip_prefix("/assets/") {
            let Some((hash, file)) = rest.split_once('/') else {
                return not_found();
            };
            if file.is_empty() || file.contains("..") || file.ends_with(".html") {
                return not_found();
            }
            // An old page (a deploy ago) may still ask for its prefix: it gets today's file,
            // revalidated rather than pinned.
            (file.to_string(), hash == build, false)
        } else if path == "/favicon.ico" {
            ("resident/icon.svg".to_string(), false, false)
        } else if let Some(file) = page_for(path) {
            (file.to_string(), false, file.ends_with(".html"))
        } else {
            return not_found();
        };
        let Some(p) = self.prepare(&file, &build) else {
            return not_found();
        };
        let mut resp = Response::builder()
            .header(header::CONTENT_TYPE, p.content_type)
            .header(header::ETAG, p.etag.as_str())
            .header(
                header::CACHE_CONTROL,
                if immutable {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                },
            )
            .header(header::VARY, "accept-encoding");
        if page {
            resp = resp
                .header("content-security-policy", CSP)
                .header(
                    "permissions-policy",
                    "camera=(self), microphone=(self), geolocation=(self), display-capture=()",
                )
                .header("cross-origin-opener-policy", "same-origin");
        }
        if file.ends_with("sw.js") {
            resp = resp.header("service-worker-allowed", "/");
        }
        if req
            .header(header::IF_NONE_MATCH)
            .is_some_and(|v| etag_matches(v, &p.etag))
        {
            return resp.status(StatusCode::NOT_MODIFIED).finish();
        }
        let accept = req.header(header::ACCEPT_ENCODING).unwrap_or("");
        let (body, encoding) = match pick_encoding(accept) {
            Some(Encoding::Br) => match p.br.get_or_init(|| brotli(&p.body)) {
                Some(b) => (b.clone(), Some("br")),
                None => (p.body.clone(), None),
            },
            Some(Encoding::Gzip) => match p.gzip.get_or_init(|| gzip(&p.body)) {
                Some(b) => (b.clone(), Some("gzip")),
                None => (p.body.clone(), None),
            },
            None => (p.body.clone(), None),
        };
        if let Some(enc) = encoding {
            resp = resp.header(header::CONTENT_ENCODING, enc);
        }
        if req.method() == Method::HEAD {
            return resp
                .header(header::CONTENT_LENGTH, body.len())
                .body(Body::empty());
        }
        resp.body(body)
    }
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// Does an `If-None-Match` list name this entity tag (weakly compared, `*` included)?
pub fn etag_matches(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = bare(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == want)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Br,
    Gzip,
}

/// The best coding the client accepts: br, then gzip (a `q=0` refuses one).
fn pick_encoding(accept: &str) -> Option<Encoding> {
    let mut br = false;
    let mut gz = false;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = it.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        if refused {
            continue;
        }
        match name.as_str() {
            "br" => br = true,
            "gzip" | "x-gzip" => gz = true,
            _ => {}
        }
    }
    if br {
        Some(Encoding::Br)
    } else if gz {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

fn brotli(data: &[u8]) -> Option<bytes::Bytes> {
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        w.write_all(data).ok()?;
        w.flush().ok()?;
    }
    (out.len() < data.len()).then(|| out.into())
}

fn gzip(data: &[u8]) -> Option<bytes::Bytes> {
    let mut w = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 3 + 64),
        flate2::Compression::new(6),
    );
    w.write_all(data).ok()?;
    let out = w.finish().ok()?;
    (out.len() < data.len()).then(|| out.into())
}

/// Compressible media types: text, JSON, XML, JavaScript, SVG, CSV.
fn compressible(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.starts_with("application/json")
        || ct.starts_with("application/problem+json")
        || ct.starts_with("application/xml")
        || ct.starts_with("application/yaml")
        || ct.starts_with("application/manifest+json")
        || ct.starts_with("image/svg+xml")
        || ct.contains("javascript")
}

/// Add `token` to the answer's one `Vary` header (kept as a single comma-separated list).
pub fn add_vary(headers: &mut poem::http::HeaderMap, token: &str) {
    let mut list: Vec<String> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    if !list.iter().any(|t| t == token) {
        list.push(token.to_string());
    }
    if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
        headers.insert(header::VARY, v);
    }
}

/// Bodies smaller than this go out as they are: compressing them saves less than the headers cost.
const MIN_COMPRESS: usize = 512;
/// Dynamic answers larger than this are streamed as they are (buffering them to compress would
/// hold the whole body in memory).
const MAX_COMPRESS: usize = 4 << 20;

/// Validators and compression for API answers: a `GET` 200 with a buffered body gets a weak
/// `ETag` from its bytes (and a `304` when `If-None-Match` names it), and a compressible body is
/// sent with gzip or br when the client accepts it (`Vary: accept-encoding` either way).
pub async fn finish_api_response(
    mut resp: Response,
    method: &Method,
    if_none_match: Option<&str>,
    accept_encoding: &str,
) -> Response {
    if resp.headers().contains_key(header::CONTENT_ENCODING)
        || resp.status() == StatusCode::SWITCHING_PROTOCOLS
    {
        return resp;
    }
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // Photos and other binary answers carry their own validators (content-addressed keys).
    if !compressible(&ct) {
        return resp;
    }
    let etag_wanted = *method == Method::GET
        && resp.status() == StatusCode::OK
        && !resp.headers().contains_key(header::ETAG);
    // A declared large body goes out as it is.
    let known_len = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if known_len.is_some_and(|n| n > MAX_COMPRESS) {
        return resp;
    }
    // The operations' JSON, text and CSV bodies are built in memory already: reading them here
    // holds nothing new. (A body that fails to read failed in its handler, which logged it.)
    let body = resp.take_body();
    let bytes = match body.into_bytes().await {
        Ok(b) => b,
        Err(_) => {
            resp.set_status(StatusCode::INTERNAL_SERVER_ERROR);
            resp.set_body(Body::empty());
            return resp;
        }
    };
    add_vary(resp.headers_mut(), "accept-encoding");
    if etag_wanted && !bytes.is_empty() {
        // SipHash with std's fixed keys: the same bytes give the same tag on every instance of a
        // build, and it costs a fraction of a SHA-256 (this runs on every JSON answer).
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hasher::write(&mut h, &bytes);
        let etag = format!(
            "W/\"{:016x}{:08x}\"",
            std::hash::Hasher::finish(&h),
            bytes.len()
        );
        if let Ok(v) = HeaderValue::from_str(&etag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        if if_none_match.is_some_and(|h| etag_matches(h, &etag)) {
            resp.set_status(StatusCode::NOT_MODIFIED);
            resp.headers_mut().remove(header::CONTENT_LENGTH);
            resp.headers_mut().remove(header::CONTENT_TYPE);
            resp.set_body(Body::empty());
            return resp;
        }
    }
    {
        if (MIN_COMPRESS..=MAX_COMPRESS).contains(&bytes.len()) {
            let packed = match pick_encoding(accept_encoding) {
                Some(Encoding::Br) => brotli_fast(&bytes).map(|b| (b, "br")),
                Some(Encoding::Gzip) => gzip(&bytes).map(|b| (b, "gzip")),
                None => None,
            };
            if let Some((b, enc)) = packed {
                resp.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
                resp.headers_mut().remove(header::CONTENT_LENGTH);
                resp.set_body(b);
                return resp;
            }
        }
    }
    resp.set_body(bytes);
    resp
}

/// Brotli at a quality cheap enough for per-request answers.
fn brotli_fast(data: &[u8]) -> Option<bytes::Bytes> {
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).ok()?;
        w.flush().ok()?;
    }
    (out.len() < data.len()).then(|| out.into())
}

/// Answer a request for one of the apps' paths (see [`owns`]).
pub fn serve(req: &Request) -> Response {
    static WEB: OnceLock<Web> = OnceLock::new();
    WEB.get_or_init(Web::default).serve(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_prefer_br_and_respect_q0() {
        assert_eq!(pick_encoding("gzip, deflate, br"), Some(Encoding::Br));
        assert_eq!(pick_encoding("gzip"), Some(Encoding::Gzip));
        assert_eq!(pick_encoding("br;q=0, gzip"), Some(Encoding::Gzip));
        assert_eq!(pick_encoding("identity"), None);
        assert_eq!(pick_encoding(""), None);
    }

    #[test]
    fn etags_compare_weakly() {
        assert!(etag_matches("W/\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc\"", "W/\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }

    #[test]
    fn pages_belong_to_their_apps() {
        assert_eq!(page_for("/"), Some("resident/index.html"));
        assert_eq!(page_for("/staff/reports/1"), Some("staff/index.html"));
        assert_eq!(page_for("/doctor/"), Some("doctor/index.html"));
        assert_eq!(page_for("/v1/reports"), None);
        assert!(owns("/assets/abc/shared/api.js"));
        assert!(!owns("/v1/me"));
    }
}
