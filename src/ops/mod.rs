//! Operating the service: health and readiness probes, Prometheus metrics, the request middleware
//! (request id, language, problem responses, body limit, access log, security headers), logging.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi, OperationId};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;

use crate::config::{LogFormat, Settings};
use crate::error::{Error, Lang, Problems, REQUEST_ID, REQUEST_LANG, from_poem, problem_response};
use crate::tags::ApiTags;
use body::{BodyWatch, enforce_body_limit};

mod body;
pub mod http;

/// What the probes, the metrics and the request middleware work with: built by the app.
#[derive(Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub db: crate::store::Db,
    pub objects: crate::objects::Objects,
    pub metrics: Arc<Metrics>,
    pub shutdown: crate::shutdown::Shutdown,
    /// Who may send the areas import's larger body: asked before the body is read.
    pub large_bodies: Arc<dyn LargeBodies>,
}

/// Whether a bearer token may send a body past the ordinary JSON limit (the areas import's file,
/// up to 16 MiB). The middleware asks before reading the body, so a caller without the right
/// token cannot make the server hold a large body only to refuse it after; the operation still
/// checks its caller fully. The app answers it (ops knows no accounts).
#[async_trait::async_trait]
pub trait LargeBodies: Send + Sync + 'static {
    async fn allowed(&self, bearer_token: &str) -> bool;
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// Request counters and latency histograms, labelled by route template (the operation id), never
/// by raw path, so ids in URLs do not explode the series count.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    in_flight: prometheus_client::metrics::gauge::Gauge,
    /// Requests served at once before the excess is refused (0 = no bound).
    request_limit: std::sync::atomic::AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("wardline");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.001, 2.0, 14))) as fn() -> Histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let in_flight = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served now",
            in_flight.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            request_limit: std::sync::atomic::AtomicI64::new(0),
        }
    }
}

impl Metrics {
    /// Requests being served now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// Bound the requests served at once (0 = no bound).
    pub fn set_request_limit(&self, limit: u32) {
        self.request_limit
            .store(i64::from(limit), Ordering::Relaxed);
    }

    /// Is the request just counted past the bound?
    fn over_request_limit(&self) -> bool {
        let limit = self.request_limit.load(Ordering::Relaxed);
        limit > 0 && self.in_flight.get() > limit
    }
}

/// Counts a request as in flight until dropped (also when the request is cancelled).
struct InFlight(prometheus_client::metrics::gauge::Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.into(),
                route: route.into(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.into(),
                route: route.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// An hourly allowance counted from the rows an account made in the last hour (so every instance
/// sees the same count): refused with 429 and `Retry-After` (until the oldest of them is an hour
/// old) once `used` reaches `limit`. A limit of 0 is no limit. Concurrent requests may overshoot by
/// a few; this bounds abuse, it is not an invoice.
pub fn hourly_allowance(
    limit: u32,
    used: i64,
    oldest: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    code: &'static str,
) -> Result<(), Error> {
    if limit == 0 || used < i64::from(limit) {
        return Ok(());
    }
    let retry_after = oldest
        .map(|t| (t + chrono::Duration::hours(1) - now).num_seconds().max(1) as u64)
        .unwrap_or(60);
    Err(Error::RateLimited { code, retry_after })
}

/// Is `origin` on the CORS allow-list (`cors_origins`, checked at start to hold bare origins)?
/// Exact match only: no wildcard, no suffix match.
fn cors_allows(list: &str, origin: &str) -> bool {
    !origin.is_empty() && list.split(',').map(str::trim).any(|o| o == origin)
}

/// Routes whose operation id is unknown to the metrics (static files, docs UI, unknown paths).
fn fallback_route(path: &str) -> &'static str {
    if path.starts_with("/docs") {
        "docs"
    } else if path.starts_with("/openapi") || path == "/asyncapi.yaml" {
        "openapi"
    } else if path == "/v1/rtc/signal" {
        "rtc_signal"
    } else if path == "/v1/staff/reports/live" {
        "staff_reports_live"
    } else if crate::web::owns(path) {
        "web"
    } else {
        "unmatched"
    }
}

fn request_id_from(req: &Request) -> String {
    req.header("x-request-id")
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The most header bytes a request may carry (names, values, separators).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The API's paths and the methods each accepts, for the `Allow` header of a 405.
static ALLOWED: std::sync::OnceLock<Vec<(Vec<String>, String)>> = std::sync::OnceLock::new();

/// Learn the operations' paths and methods from the spec (called when the routes are built).
pub fn learn_allowed_methods(spec_json: &str) {
    let Ok(spec) = serde_json::from_str::<serde_json::Value>(spec_json) else {
        return;
    };
    let mut out = Vec::new();
    if let Some(paths) = spec["paths"].as_object() {
        for (path, ops) in paths {
            let methods: Vec<String> = ops
                .as_object()
                .map(|o| {
                    o.keys()
                        .filter(|m| {
                            ["get", "post", "put", "patch", "delete", "head", "options"]
                                .contains(&m.as_str())
                        })
                        .map(|m| m.to_ascii_uppercase())
                        .collect()
                })
                .unwrap_or_default();
            let mut methods = methods;
            if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                methods.push("HEAD".into());
            }
            out.push((
                path.split('/').map(str::to_string).collect(),
                methods.join(", "),
            ));
        }
    }
    let _ = ALLOWED.set(out);
}

/// The methods a path accepts (its template's), if any operation has it.
fn allowed_methods(path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split('/').collect();
    let table = ALLOWED.get()?;
    let mut found: Vec<&str> = Vec::new();
    for (tpl, methods) in table {
        let matches = tpl.len() == segs.len()
            && tpl
                .iter()
                .zip(&segs)
                .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty()));
        if matches {
            found.extend(methods.split(", "));
        }
    }
    found.sort_unstable();
    found.dedup();
    (!found.is_empty()).then(|| found.join(", "))
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The areas import, whose body may be larger than other JSON bodies.
const AREAS_IMPORT_PATH: &str = "/v1/admin/areas/import";
/// The largest area file accepted (a ward's outline and its khu phố take a few MB at most).
const MAX_AREAS_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The outermost middleware: every request gets an id, a language, a log line, metrics, and, if
/// anything failed, a problem response.
pub async fn observe<E: Endpoint>(next: E, mut req: Request, state: Ctx) -> poem::Result<Response> {
    let started = Instant::now();
    state.metrics.in_flight.inc();
    let _in_flight = InFlight(state.metrics.in_flight.clone());
    let request_id = request_id_from(&req);
    let lang = Lang::from_accept_language(req.header("accept-language"));
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);
    // Photo uploads stream to a temporary file under their own, larger limit.
    // An area file (a ward's boundaries, a few MB) is JSON, read whole under its own limit, for
    // the callers the app allows it (admins), asked before a byte of the body is read.
    // The bytes of a resumable upload (`PATCH /v1/media/uploads/{id}`) stream like a photo's.
    let large_body_token = (path == AREAS_IMPORT_PATH)
        .then(|| bearer_token(&req).map(str::to_string))
        .flatten();
    let photo_bytes = path == "/v1/media"
        || (req.method() == poem::http::Method::PATCH && path.starts_with("/v1/media/uploads/"));
    let limit = if photo_bytes {
        state.settings.max_upload_bytes
    } else if let Some(token) = large_body_token
        && state.large_bodies.allowed(&token).await
    {
        state.settings.max_body_bytes.max(MAX_AREAS_BODY_BYTES)
    } else {
        state.settings.max_body_bytes
    };
    let buffer_chunked = !photo_bytes;
    let signed_in = req.header("authorization").is_some();
    let is_web = crate::web::owns(&path);
    let req_method = req.method().clone();
    let if_none_match = req.header("if-none-match").map(str::to_string);
    let accept_encoding = req.header("accept-encoding").unwrap_or("").to_string();
    let cors_on = !state.settings.cors_origins.trim().is_empty();
    let cors_origin = req
        .header("origin")
        .filter(|o| cors_allows(&state.settings.cors_origins, o))
        .map(str::to_string);
    let preflight = cors_origin.is_some()
        && req.method() == poem::http::Method::OPTIONS
        && req.header("access-control-request-method").is_some();

    let watch = Arc::new(BodyWatch::default());
    let body_watch = watch.clone();
    let stall = Duration::from_secs(state.settings.body_stall_timeout_secs.max(1));
    // Past the bound on requests served at once, the excess is answered at once (probes and
    // metrics excepted, so the orchestrator still sees a live process).
    let exempt = matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics");
    let overloaded = !exempt && state.metrics.over_request_limit();
    // Headers past 64 KiB in all: 431, whatever the transport let through.
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let headers_too_large = header_bytes > MAX_HEADER_BYTES;
    let req_path = path.clone();
    let work = async move {
        let outcome = if headers_too_large {
            Err(Error::Http(431, "headers_too_large"))
        } else if overloaded {
            Err(Error::Unavailable("server_busy"))
        } else {
            match enforce_body_limit(&mut req, limit, buffer_chunked, stall, &body_watch).await {
                Err(e) => Err(e),
                Ok(()) => Ok(next.call(req).await),
            }
        };
        let outcome = if body_watch.over_limit.load(Ordering::Relaxed) {
            Err(Error::PayloadTooLarge)
        } else if body_watch.stalled.load(Ordering::Relaxed) {
            Err(Error::Http(408, "request_timeout"))
        } else {
            outcome
        };
        let (mut resp, route, fallback) = match outcome {
            Err(e) if req_path.starts_with("/open311/") => (
                crate::open311::api::framework_error(&req_path, &e),
                None,
                None,
            ),
            Err(e) => (problem_response(&e), None, None),
            Ok(Ok(resp)) => {
                let resp = resp.into_response();
                let route = resp.data::<OperationId>().map(|o| o.0);
                (resp, route, None)
            }
            Ok(Err(err)) => {
                // Operations' own errors arrive here already shaped; framework errors do not.
                let route = err.data::<OperationId>().map(|o| o.0);
                let fallback = from_poem(&err);
                (err.into_response(), route, Some(fallback))
            }
        };
        let status = resp.status();
        // Open311 answers carry the spec's own error list.
        let is_problem = resp
            .content_type()
            .is_some_and(|ct| ct.starts_with("application/problem+json"))
            || resp.data::<crate::open311::api::Shaped>().is_some();
        if (status.is_client_error() || status.is_server_error()) && !is_problem {
            let err = fallback.unwrap_or_else(|| from_poem(&poem::Error::from_status(status)));
            if req_path.starts_with("/open311/") {
                let mut shaped = crate::open311::api::framework_error(&req_path, &err);
                shaped.set_status(status);
                return (shaped, route);
            }
            let retry_after = resp.headers().get("retry-after").cloned();
            resp = problem_response(&err);
            resp.set_status(status);
            if let Some(v) = retry_after {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        (resp, route)
    };
    let (mut resp, route) = if preflight {
        // A browser asking before a cross-origin call: answered here, the handler never runs.
        let mut resp = Response::builder()
            .status(poem::http::StatusCode::NO_CONTENT)
            .finish();
        let h = resp.headers_mut();
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static(
                "authorization, content-type, idempotency-key, accept-language, x-request-id, \
                 tus-resumable, upload-length, upload-offset, upload-metadata",
            ),
        );
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
        (resp, Some("cors_preflight"))
    } else {
        REQUEST_ID
            .scope(request_id.clone(), REQUEST_LANG.scope(lang, work))
            .instrument(span.clone())
            .await
    };

    if !is_web {
        resp = crate::web::finish_api_response(
            resp,
            &req_method,
            if_none_match.as_deref(),
            &accept_encoding,
        )
        .await;
    }
    if resp.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key("allow")
        && let Some(allow) = allowed_methods(&path).and_then(|a| HeaderValue::from_str(&a).ok())
    {
        resp.headers_mut().insert("allow", allow);
    }
    if resp.status() == poem::http::StatusCode::REQUEST_TIMEOUT {
        // The rest of a stalled body may still come: the connection cannot be reused.
        resp.headers_mut()
            .insert("connection", HeaderValue::from_static("close"));
    }
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if signed_in && !headers.contains_key("cache-control") {
        // A signed-in caller's answer (their reports, records, inbox) stays out of shared and
        // browser caches unless the operation chose otherwise (public photos).
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    if cors_on {
        // Answers differ by Origin: caches must keep them apart.
        crate::web::add_vary(headers, "origin");
    }
    if let Some(v) = cors_origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        headers.insert("access-control-allow-origin", v);
        headers.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(
                "retry-after, x-request-id, location, upload-offset, upload-length, \
                 upload-expires, upload-metadata, tus-resumable, tus-version, tus-extension, \
                 tus-max-size, wardline-media-id",
            ),
        );
    }

    let elapsed = started.elapsed();
    // A client whose connection broke mid-request never reads the answer: 499 (nginx's "client
    // closed request") keeps these out of the 4xx that alerts watch.
    let status = if watch.client_gone.load(Ordering::Relaxed) {
        499
    } else {
        resp.status().as_u16()
    };
    let route = route.unwrap_or_else(|| fallback_route(&path));
    state.metrics.observe(&method, route, status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            status,
            route,
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "served"
        );
    });
    Ok(resp)
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Health {
    /// `ok`.
    status: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Readiness {
    /// `ok` when every dependency answered.
    status: String,
    /// `sqlite` or `postgres`.
    database: String,
    /// `file`, `s3` or `memory`.
    storage: String,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
}

pub struct OpsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Ops")]
impl OpsApi {
    /// Liveness: the process is up
    #[oai(path = "/healthz", method = "get", operation_id = "ops_healthz")]
    async fn healthz(&self) -> Result<Json<Health>, Problems<0>> {
        Ok(Json(Health {
            status: "ok".into(),
        }))
    }

    /// Readiness: the database and the object store answer (503 otherwise, and while shutting down)
    #[oai(path = "/readyz", method = "get", operation_id = "ops_readyz")]
    async fn readyz(&self) -> Result<ReadyResponse, Problems<0>> {
        if self.state.shutdown.shutting_down() {
            return Err(Error::Unavailable("shutting_down").into());
        }
        let probe = Duration::from_secs(2);
        match tokio::time::timeout(probe, self.state.db.ping()).await {
            Ok(Ok(())) => {}
            _ => return Err(Error::Unavailable("database_unavailable").into()),
        }
        match tokio::time::timeout(probe, self.state.objects.ping()).await {
            Ok(Ok(())) => {}
            _ => return Err(Error::Unavailable("storage_unavailable").into()),
        }
        Ok(ReadyResponse::Ready(Json(Readiness {
            status: "ok".into(),
            database: self.state.db.backend().into(),
            storage: self.state.objects.kind().into(),
        })))
    }

    /// Prometheus metrics (text exposition format)
    #[oai(path = "/metrics", method = "get", operation_id = "ops_metrics")]
    async fn metrics(&self) -> Result<PlainText<String>, Problems<0>> {
        Ok(PlainText(self.state.metrics.render()))
    }
}

/// Install the global subscriber: text or JSON lines, filter from `RUST_LOG` or the settings.
pub fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_filter));
    // Colours only on a terminal: a log file or a collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Hand large buffers (a decoded photo is tens of megabytes) back to the system when freed.
///
/// glibc serves a large allocation with its own mapping, but after the first such buffer is freed
/// it raises that threshold up to 32 MB, so later photo buffers come from the heap and its per-thread
/// arenas keep them. Fixing the threshold at 1 MiB measured 170 MB → 130 MB peak RSS with 20
/// concurrent 8 MB uploads (`tests/bench/upload_rss.sh`). Call once, first thing in `main`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; it is called before other threads
    // start, and a refused setting (return 0) leaves the defaults in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
