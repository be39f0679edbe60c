//! The application: shared state, the route tree, and the server's start and stop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

use crate::auth::Auth;
use crate::auth::api::{AdminAccountsApi, AuthApi, MeApi};
use crate::auth::sms::{OutboxSender, SmsSender, WebhookSender};
use crate::bus::{Bus, LocalBus};
use crate::config::Settings;
use crate::media::MediaApi;
use crate::media::resumable::api::UploadsApi;
use crate::objects::{Objects, ObjectsApi};
use crate::open311::api::{Open311Api, open311_api};
use crate::ops::{Metrics, OpsApi};
use crate::org::api::OrgApi;
use crate::reports::api::ReportsApi;
use crate::rtc::api::RtcApi;
use crate::rtc::echo::EchoApi;
use crate::shutdown::Shutdown;
use crate::store::Db;
use crate::telehealth::api::{RecordsApi, TelehealthApi, records_api, telehealth_api};
use crate::telehealth::calls::{CallQualityApi, ConsultationCalls};
use crate::webhooks::api::WebhooksApi;
use crate::webpush::api::PushApi;

pub use crate::clock::Clock;
pub use crate::tags::ApiTags;

/// The composition root: the shared services, and each domain's context built from them. Only
/// this file (and the binary and tests, which start the server) sees the whole; every domain
/// works with its own context.
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
    pub calendar: Arc<crate::calendar::WorkCalendar>,
    pub shutdown: Shutdown,
    pub reports: crate::reports::Ctx,
    pub media: crate::media::Ctx,
    pub org: crate::org::Ctx,
    pub telehealth: crate::telehealth::Ctx,
    pub rtc: crate::rtc::Ctx,
    pub ops: crate::ops::Ctx,
    pub webhooks: crate::webhooks::Ctx,
    pub webpush: crate::webpush::Ctx,
}

impl AppState {
    /// Connect to the database (migrating it) and the object store, as the settings say.
    pub async fn build(settings: Settings) -> anyhow::Result<AppState> {
        // Refuse a bad configuration before touching the database.
        settings.resolve_jwt_secret()?;
        let db = Db::connect(&settings.database_url(), settings.database_max_connections).await?;
        db.migrate().await.context("applying migrations")?;
        // Instances sharing a PostgreSQL database share events (rooms, live feeds) through it.
        let bus: Arc<dyn Bus> = match &db {
            Db::Postgres(pool) => crate::bus::PgBus::start(pool.clone())
                .await
                .context("starting the PostgreSQL bus")?,
            Db::Sqlite(..) => LocalBus::new(),
        };
        let state = AppState::compose(settings, db, bus)?;
        crate::reports::catalog::seed_defaults(&state.db, state.clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("seeding the category catalog: {e}"))?;
        crate::reports::templates::seed_defaults(&state.db, state.clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("seeding the reply templates: {e}"))?;
        Ok(state)
    }

    pub fn shutting_down(&self) -> bool {
        self.shutdown.shutting_down()
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.begin();
    }

    /// Swap the push notifier (tests record what would be sent).
    pub fn set_notifier(&mut self, notifier: Arc<dyn crate::reports::push::Notifier>) {
        self.reports.notifier = notifier.clone();
        self.telehealth.notifier = notifier;
    }
}

/// Every API of the service, one per area.
pub type Apis = (
    AuthApi,
    MeApi,
    PushApi,
    AdminAccountsApi,
    OrgApi,
    WebhooksApi,
    ReportsApi,
    // Photos whole and resumable (a tuple in the tuple: poem-openapi takes 16 at most).
    (MediaApi, UploadsApi),
    ObjectsApi,
    TelehealthApi,
    RecordsApi,
    CallQualityApi,
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
                state: state.auth.clone(),
            },
            MeApi {
                state: state.auth.clone(),
            },
            PushApi {
                state: state.webpush.clone(),
            },
            AdminAccountsApi {
                state: state.auth.clone(),
            },
            OrgApi {
                state: state.org.clone(),
            },
            WebhooksApi {
                state: state.webhooks.clone(),
            },
            crate::reports::api::reports_api(state.reports.clone()),
            (
                MediaApi {
                    state: state.media.clone(),
                },
                UploadsApi {
                    state: state.media.clone(),
                },
            ),
            ObjectsApi {
                objects: state.objects.clone(),
                max_body_bytes: state.settings.max_body_bytes as u64,
            },
            telehealth_api(state.telehealth.clone()),
            records_api(state.telehealth.clone()),
            CallQualityApi {
                state: state.telehealth.clone(),
            },
            RtcApi {
                state: state.rtc.clone(),
            },
            open311_api(state.reports.clone()),
            EchoApi::new(state.rtc.clone()),
            OpsApi { state: state.ops },
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
    let observe_state = state.ops.clone();
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
            poem::get(crate::reports::live::live).data(state.reports.clone()),
        )
        .at(
            "/v1/telehealth/stations/:station_id/queue/live",
            poem::get(crate::telehealth::live::live).data(state.telehealth.clone()),
        )
        .at(
            "/v1/rtc/signal",
            poem::get(crate::rtc::signal::signal).data(state.rtc.clone()),
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
        let api = api_service(AppState::compose(settings, db, LocalBus::new())?);
        Ok(if yaml { api.spec_yaml() } else { api.spec() })
    })
}

/// Only a signed-in admin (password changed) may send the areas import's larger file.
struct AdminsOnly(Auth);

#[async_trait::async_trait]
impl crate::ops::LargeBodies for AdminsOnly {
    async fn allowed(&self, bearer_token: &str) -> bool {
        self.0
            .identify(bearer_token)
            .await
            .is_ok_and(|c| c.role == crate::auth::Role::Admin && !c.password_must_change)
    }
}

impl AppState {
    /// The state over an open database, without migrating: every domain's context built from the
    /// shared services.
    pub fn compose(settings: Settings, db: Db, bus: Arc<dyn Bus>) -> anyhow::Result<AppState> {
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
        let calendar = Arc::new(settings.calendar()?);
        let webpush =
            crate::webpush::Ctx::new(settings.clone(), db.clone(), auth.clone(), clock.clone());
        // Every inbox item: a log line, and Web Push to the account's browsers.
        let notifier: Arc<dyn crate::reports::push::Notifier> =
            Arc::new(crate::reports::push::Notifiers(vec![
                Arc::new(crate::reports::push::LogNotifier),
                Arc::new(crate::webpush::WebPushNotifier::new(webpush.clone())?),
            ]));
        let shutdown = Shutdown::default();
        let metrics = Arc::new({
            let m = Metrics::default();
            m.set_request_limit(settings.max_requests_in_flight);
            m
        });
        let reports = crate::reports::Ctx {
            settings: settings.clone(),
            db: db.clone(),
            objects: objects.clone(),
            bus: bus.clone(),
            auth: auth.clone(),
            clock: clock.clone(),
            calendar: calendar.clone(),
            areas: Arc::default(),
            categories: Arc::default(),
            notifier: notifier.clone(),
            shutdown: shutdown.clone(),
        };
        let media = crate::media::Ctx {
            settings: settings.clone(),
            db: db.clone(),
            objects: objects.clone(),
            auth: auth.clone(),
            clock: clock.clone(),
            calendar: calendar.clone(),
            photo_workers: Arc::new(crate::media::PhotoWorkers::new(
                settings.photo_concurrency as usize,
            )?),
        };
        let org = crate::org::Ctx {
            db: db.clone(),
            auth: auth.clone(),
            clock: clock.clone(),
        };
        let telehealth = crate::telehealth::Ctx {
            settings: settings.clone(),
            db: db.clone(),
            auth: auth.clone(),
            clock: clock.clone(),
            calendar: calendar.clone(),
            notifier,
            bus: bus.clone(),
            shutdown: shutdown.clone(),
        };
        let rtc = crate::rtc::Ctx {
            settings: settings.clone(),
            clock: clock.clone(),
            bus: bus.clone(),
            auth: auth.clone(),
            objects: objects.clone(),
            room_keys,
            turn_secret,
            turn_addr: Arc::new(std::sync::OnceLock::new()),
            turn_refusals: Arc::default(),
            hub: Arc::new(crate::rtc::room::Hub::default()),
            calls: Arc::new(ConsultationCalls(telehealth.clone())),
            shutdown: shutdown.clone(),
        };
        let webhooks = crate::webhooks::Ctx {
            settings: settings.clone(),
            db: db.clone(),
            auth: auth.clone(),
            clock: clock.clone(),
        };
        let ops = crate::ops::Ctx {
            settings: settings.clone(),
            db: db.clone(),
            objects: objects.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            large_bodies: Arc::new(AdminsOnly(auth.clone())),
        };
        Ok(AppState {
            settings,
            db,
            objects,
            bus,
            auth,
            clock,
            metrics,
            calendar,
            shutdown,
            reports,
            media,
            org,
            telehealth,
            rtc,
            ops,
            webhooks,
            webpush,
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
                crate::config::Secret::clone(&state.rtc.turn_secret),
                state.clock.clone(),
                state.rtc.turn_refusals.clone(),
            )
            .await?;
            // The ICE servers handed out name the ports actually bound (port 0 in tests).
            let _ = state.rtc.turn_addr.set(turn.addrs);
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
                match crate::reports::close_expired(&closer_state.reports).await {
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
                match crate::media::collect_orphans(&gc_state.media, chrono::Duration::hours(1))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "collected orphaned photo objects"),
                    Err(e) => tracing::warn!(error = %e, "collecting orphaned photo objects"),
                }
            }
        });
        // Resumable uploads left unfinished past their expiry, and their pieces.
        let uploads_state = state.clone();
        let uploads_sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            loop {
                tick.tick().await;
                match crate::media::resumable::sweep(&uploads_state.media).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "swept expired resumable uploads"),
                    Err(e) => tracing::warn!(error = %e, "sweeping expired resumable uploads"),
                }
            }
        });
        // Appointment reminders, missed calls and no-shows.
        let sweep_state = state.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                if let Err(e) = crate::telehealth::sweep(&sweep_state.telehealth).await {
                    tracing::warn!(error = %e, "telehealth sweep");
                }
            }
        });
        // Webhook deliveries from the outbox; stops with the server, after the round in hand.
        let webhooks = crate::webhooks::start(state.webhooks.clone(), &state.shutdown);
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
        // Its requests are bounded by their timeout; past the grace period it is cut short (its
        // rows' leases then run out and another round delivers them).
        let webhooks_abort = webhooks.abort_handle();
        if tokio::time::timeout(grace, webhooks).await.is_err() {
            webhooks_abort.abort();
        }
        closer.abort();
        sweeper.abort();
        uploads_sweeper.abort();
        gc.abort();
        if let Some(turn) = &self.turn {
            turn.close().await;
        }
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}
