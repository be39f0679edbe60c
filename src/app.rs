//! The application: shared state, the route tree, and the server's start and stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::auth::Auth;
use crate::auth::api::{AdminAccountsApi, AuthApi, MeApi};
use crate::auth::sms::{OutboxSender, SmsSender, WebhookSender};
use crate::bus::{Bus, LocalBus};
use crate::config::Settings;
use crate::media::MediaApi;
use crate::objects::{Objects, ObjectsApi};
use crate::open311::api::Open311Api;
use crate::ops::{Metrics, OpsApi};
use crate::org::api::OrgApi;
use crate::reports::api::ReportsApi;
use crate::rtc::api::RtcApi;
use crate::rtc::echo::EchoApi;
use crate::store::Db;
use crate::telehealth::api::{RecordsApi, TelehealthApi};

/// The areas of the API, as the docs group them.
#[derive(Tags)]
pub enum ApiTags {
    /// Sign-in: one-time codes, passwords, tokens.
    Auth,
    /// The signed-in account.
    Me,
    /// Accounts administration (admins).
    Admin,
    /// Ward units and health stations.
    Organisation,
    /// Field reports: categories, reports, the staff queue, notifications.
    Reports,
    /// Photo uploads and the public copies.
    Media,
    /// Presigned object URLs served by this server (local disk storage).
    Objects,
    /// Telehealth: stations, doctors, slots, appointments, the waiting room and consultations.
    Telehealth,
    /// Medical records, consent and the access log (residents and their doctors only).
    MedicalRecords,
    /// Video calls: joining a consultation's call, signaling, the pre-call test.
    Calls,
    /// Open311 GeoReport v2 for third-party civic apps: services are the report categories,
    /// service requests are reports. Answers and errors are the spec's documents (JSON or XML by
    /// the path's suffix), not problem+json.
    Open311,
    /// Probes and metrics.
    Ops,
}

/// Current time, which tests can move forward. Wall clock plus an offset that is zero in service.
#[derive(Clone, Default, Debug)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Now, to the microsecond: PostgreSQL keeps microseconds, so both backends store the same value.
    pub fn now(&self) -> DateTime<Utc> {
        use chrono::SubsecRound;
        (Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed)))
            .trunc_subsecs(6)
    }
    /// Move time forward (tests of expiry and rate-limit windows).
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub objects: Objects,
    pub bus: Arc<dyn Bus>,
    pub auth: Auth,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// Working time for deadlines.
    pub calendar: Arc<crate::reports::calendar::WorkCalendar>,
    /// The areas' outlines, kept in memory.
    pub areas: Arc<crate::areas::Cache>,
    /// The service catalog, kept in memory.
    pub categories: Arc<crate::reports::catalog::Cache>,
    /// Push notifications to phones (logs by default).
    pub notifier: Arc<dyn crate::reports::push::Notifier>,
    /// Decode photos, a bounded number at once.
    pub photo_workers: Arc<crate::media::PhotoWorkers>,
    /// Signs and checks room tokens (audience `rtc`).
    pub room_keys: Arc<crate::rtc::RoomKeys>,
    /// The TURN REST secret shared with coturn or the embedded TURN server.
    pub turn_secret: Arc<crate::config::Secret>,
    /// Where the embedded STUN/TURN server listens, once it runs.
    pub turn_addr: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
    /// This instance's call rooms (signaling).
    pub rtc: Arc<crate::rtc::room::Hub>,
    shutting_down: Arc<AtomicBool>,
    /// Tells long-lived connections (WebSockets) to close when the server stops.
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// Connect to the database (migrating it) and the object store, as the settings say.
    pub async fn build(settings: Settings) -> anyhow::Result<AppState> {
        // Refuse a bad configuration before touching the database.
        settings.resolve_jwt_secret()?;
        let db = Db::connect(&settings.database_url(), settings.database_max_connections).await?;
        db.migrate().await.context("applying migrations")?;
        let mut state = AppState::from_parts(settings, db)?;
        // Instances sharing a PostgreSQL database share events (rooms, live feeds) through it.
        if let Db::Postgres(pool) = &state.db {
            state.bus = crate::bus::PgBus::start(pool.clone())
                .await
                .context("starting the PostgreSQL bus")?;
        }
        crate::reports::catalog::seed_defaults(&state.db, state.clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("seeding the category catalog: {e}"))?;
        Ok(state)
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
        self.shutdown.send_replace(true);
    }

    /// Changes when the server begins to shut down.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// Every API of the service, one per area.
pub type Apis = (
    AuthApi,
    MeApi,
    AdminAccountsApi,
    OrgApi,
    ReportsApi,
    MediaApi,
    ObjectsApi,
    TelehealthApi,
    RecordsApi,
    RtcApi,
    Open311Api,
    EchoApi,
    OpsApi,
);

/// The OpenAPI service: every documented operation.
pub fn api_service(state: AppState) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            AuthApi {
                state: state.clone(),
            },
            MeApi {
                state: state.clone(),
            },
            AdminAccountsApi {
                state: state.clone(),
            },
            OrgApi {
                state: state.clone(),
            },
            ReportsApi {
                state: state.clone(),
            },
            MediaApi {
                state: state.clone(),
            },
            ObjectsApi {
                state: state.clone(),
            },
            TelehealthApi {
                state: state.clone(),
            },
            RecordsApi {
                state: state.clone(),
            },
            RtcApi {
                state: state.clone(),
            },
            Open311Api {
                state: state.clone(),
            },
            EchoApi::new(state.clone()),
            OpsApi { state },
        ),
        "Wardline",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Ward services: residents' field reports (phản ánh hiện trường), telehealth at the ward \
         health station, and the staff who handle them. Every error is `application/problem+json` \
         with a stable `code`; human text follows `Accept-Language` (vi by default, en).",
    )
}

/// The whole route tree with middleware.
pub fn routes(state: AppState) -> impl Endpoint + 'static {
    let api = api_service(state.clone()).server(state.settings.public_url());
    crate::ops::learn_allowed_methods(&api.spec());
    let docs = api.swagger_ui();
    let spec_json = api.spec_endpoint();
    let spec_yaml = api.spec_endpoint_yaml();
    let observe_state = state.clone();
    Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.json", spec_json)
        .at("/openapi.yaml", spec_yaml)
        // The signaling WebSocket's protocol (AsyncAPI 3), which OpenAPI cannot describe.
        .at(
            "/asyncapi.yaml",
            poem::get(poem::endpoint::make_sync(|_| {
                poem::Response::builder()
                    .content_type("application/yaml")
                    .body(crate::rtc::signal::ASYNCAPI)
            })),
        )
        .at(
            "/v1/staff/reports/live",
            poem::get(crate::reports::live::live).data(state.clone()),
        )
        .at(
            "/v1/rtc/signal",
            poem::get(crate::rtc::signal::signal).data(state.clone()),
        )
        .with(CatchPanic::new())
        // The web apps' pages and assets, beside the API on the same origin.
        .around(|ep, req| async move {
            if crate::web::owns(req.uri().path()) {
                Ok(crate::web::serve(&req))
            } else {
                ep.call(req).await.map(poem::IntoResponse::into_response)
            }
        })
        .around(move |ep, req| crate::ops::observe(ep, req, observe_state.clone()))
}

/// The spec as the server would publish it, without touching any database or file.
pub fn spec(yaml: bool) -> anyhow::Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let settings = Settings {
            storage_url: Some("memory://".into()),
            jwt_secret: Some(crate::config::Secret::new("x".repeat(32))),
            ..Settings::default()
        };
        // A lazy pool never connects unless a query runs, and none does here.
        let db = Db::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new().connect_lazy("sqlite::memory:")?,
            Default::default(),
        );
        let api = api_service(AppState::from_parts(settings, db)?);
        Ok(if yaml { api.spec_yaml() } else { api.spec() })
    })
}

impl AppState {
    /// A state over an open database, without migrating: for printing the spec and unit tests.
    pub fn from_parts(settings: Settings, db: Db) -> anyhow::Result<AppState> {
        let settings = Arc::new(settings);
        let secret = settings.resolve_jwt_secret()?;
        let objects = Objects::from_settings(&settings, secret.clone())?;
        let clock = Clock::default();
        let sms: Arc<dyn SmsSender> = match &settings.sms_webhook_url {
            Some(url) => Arc::new(WebhookSender::new(
                url.clone(),
                settings.sms_webhook_token.clone(),
            )?),
            None => Arc::new(OutboxSender { db: db.clone() }),
        };
        let turn_secret = Arc::new(settings.resolve_turn_secret(&secret));
        let room_keys = Arc::new(crate::rtc::RoomKeys::new(&secret));
        let auth = Auth::new(db.clone(), secret, sms, clock.clone(), settings.clone())?;
        let settings_limit = settings.max_requests_in_flight;
        Ok(AppState {
            room_keys,
            turn_secret,
            turn_addr: Arc::new(std::sync::OnceLock::new()),
            rtc: Arc::new(crate::rtc::room::Hub::default()),
            calendar: Arc::new(settings.calendar()?),
            areas: Arc::default(),
            categories: Arc::default(),
            notifier: Arc::new(crate::reports::push::LogNotifier),
            photo_workers: Arc::new(crate::media::PhotoWorkers::new(
                settings.photo_concurrency as usize,
            )?),
            settings,
            db,
            objects,
            bus: LocalBus::new(),
            auth,
            clock,
            metrics: Arc::new({
                let m = Metrics::default();
                m.set_request_limit(settings_limit);
                m
            }),
            shutting_down: Arc::new(AtomicBool::new(false)),
            shutdown: Arc::new(tokio::sync::watch::channel(false).0),
        })
    }
}

/// A server bound to its port, ready to run.
pub struct Server {
    pub state: AppState,
    pub local_addr: std::net::SocketAddr,
    listener: tokio::net::TcpListener,
    /// The embedded STUN/TURN server, unless `turn_listen` is empty.
    turn: Option<crate::rtc::turn::TurnServer>,
}

impl Server {
    /// Bind the listener (port 0 picks a free one) and build the state.
    pub async fn bind(state: AppState) -> anyhow::Result<Server> {
        crate::ops::http::raise_open_files_limit();
        let listener = tokio::net::TcpListener::bind(state.settings.listen.as_str())
            .await
            .with_context(|| format!("binding {}", state.settings.listen))?;
        let local_addr = listener.local_addr().context("listener has no address")?;
        if state.settings.public_url.is_none() {
            state.objects.set_public_url(format!("http://{local_addr}"));
        }
        let turn = if state.settings.turn_listen.trim().is_empty() {
            None
        } else {
            let turn = crate::rtc::turn::TurnServer::start(
                &state.settings,
                crate::config::Secret::clone(&state.turn_secret),
                state.clock.clone(),
            )
            .await?;
            // The ICE servers handed out name the port actually bound (port 0 in tests).
            let _ = state.turn_addr.set(turn.local_addr);
            Some(turn)
        };
        Ok(Server {
            state,
            local_addr,
            listener,
            turn,
        })
    }

    /// Serve until `stop` resolves; then refuse new connections, let in-flight requests finish
    /// within the grace period, and close the pools.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let grace = Duration::from_secs(state.settings.shutdown_grace_secs);
        let app = routes(state.clone());
        let flag = state.clone();
        // Resolved reports close by themselves once the reopen window has passed.
        let closer_state = state.clone();
        let closer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            loop {
                tick.tick().await;
                match crate::reports::close_expired(&closer_state).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(closed = n, "closed resolved reports past the reopen window")
                    }
                    Err(e) => tracing::warn!(error = %e, "closing resolved reports"),
                }
            }
        });
        // Photos left behind by uploads cut short (a crash between storing and recording them).
        let gc_state = state.clone();
        let gc = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                match crate::media::collect_orphans(&gc_state, chrono::Duration::hours(1)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "collected orphaned photo objects"),
                    Err(e) => tracing::warn!(error = %e, "collecting orphaned photo objects"),
                }
            }
        });
        // Appointment reminders, missed calls and no-shows.
        let sweep_state = state.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                if let Err(e) = crate::telehealth::sweep(&sweep_state).await {
                    tracing::warn!(error = %e, "telehealth sweep");
                }
            }
        });
        let signal = async move {
            stop.await;
            flag.begin_shutdown();
            tracing::info!("shutting down: finishing in-flight requests");
        };
        let limits = crate::ops::http::Limits::from_settings(&state.settings);
        tracing::info!(
            max_connections = limits.max_connections,
            per_ip = limits.max_connections_per_ip,
            "accepting connections"
        );
        crate::ops::http::serve(self.listener, app, limits, signal, grace).await;
        closer.abort();
        sweeper.abort();
        gc.abort();
        if let Some(turn) = &self.turn {
            turn.close().await;
        }
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}
