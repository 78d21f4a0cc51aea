//! Builds the actors and the HTTP server from [`Settings`] and binds it
//! (port 0 in tests; [`Application::port`] reads the real one back).

mod database;
mod server;

use crate::actors::forwarder::ForwarderSettings;
use crate::actors::KeyStoreActor;
use crate::config::Settings;
use crate::db::{self, Backend, Commits};
use crate::key_cache::KeyCache;
use crate::queue::attempt::RetryPolicy;
use crate::queue::dispatcher::{DeliveryConfig, DispatcherActor, Drain};
use crate::queue::intake::{IntakeWriter, Writer};
use crate::queue::retention::RetentionActor;
use crate::queue::spool::{start_mover, Spool, SpoolSettings};
use crate::readiness::Readiness;
use crate::routes::{AdminAuth, AppState};
use actix::Actor;
use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::routes::client_info::TrustedProxies;
pub use crate::routes::forward::ForwardLimits;
use database::Database;
use server::{serve, Shared};

/// Key-store requests that may wait at once (cache misses being looked up).
const KEY_STORE_REQUESTS: usize = 256;

/// The key cache's memory: room for hundreds of thousands of misses and
/// every live agent and key of a large deployment.
const KEY_CACHE_BYTES: usize = 32 << 20;

/// A bound, ready-to-run hookgate.
pub struct Application {
    /// Held while serving a SQLite database: one process owns its queue.
    _sqlite_lock: Option<std::fs::File>,
    /// SQLite's WAL checkpoints, off the writers' threads.
    _checkpointing: Option<db::checkpointer::Checkpointing>,
    port: u16,
    server: Server,
    dispatcher: actix::Addr<DispatcherActor>,
    in_flight: Arc<AtomicUsize>,
    drain_limit: Duration,
    /// How long `/readyz` fails before intake stops at a shutdown signal.
    shutdown_delay: Duration,
    readiness: Arc<Readiness>,
}

impl Application {
    /// Opens and migrates the database, starts the actors and binds the
    /// listener. Must be called inside a running actix `System`.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        start_metrics(&settings);
        // Read before the database is touched: a bad CA file creates nothing.
        let forwarding = forwarder_settings(&settings)?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let db = Database::open(&settings, threads)?;
        let key_store = KeyStoreActor::start(db.pool.clone(), db.data_key.clone());
        let cache = key_cache(&settings, db.backend);
        let delivery = delivery_config(&settings, db.backend);
        let (intake_pool, queue_pool) = queue_pools(&settings, db.backend, &db.pool)?;
        let readiness = Arc::new(Readiness::default());
        let spool = open_spool(&settings)?;
        let (dispatcher, in_flight) = DispatcherActor::start(
            queue_pool,
            db.data_key.clone(),
            delivery,
            forwarding.clone(),
            readiness.clone(),
        );
        RetentionActor::new(db.pool.clone(), settings.retention, DEDUP_WINDOW).start();
        let (listener, port) = listen(settings.bind)?;
        let shared = Shared {
            state: app_state(
                &settings,
                &db,
                &cache,
                forwarding.clone(),
                (readiness.clone(), spool.clone()),
            ),
            auth: web::Data::new(AdminAuth::new(
                settings.admin_token.clone(),
                settings.open_registration,
                db.pool.clone(),
            )),
            limits: web::Data::new(forward_limits(&settings)),
            intake: web::Data::new(intake_writer(intake_pool, &settings, &readiness, spool)),
            dispatcher: web::Data::new(dispatcher.clone()),
            key_store,
            permits: Arc::new(tokio::sync::Semaphore::new(KEY_STORE_REQUESTS)),
            cache,
            forwarding,
        };
        // Cards may have changed while hookgate was down (a new interface
        // URL, a version): read again, without holding up the start.
        actix_web::rt::spawn(crate::routes::read_agent_cards_again(shared.state.clone()));
        let server = serve(listener, shared)?;
        tracing::info!(address = %settings.bind.ip(), port, database = db.backend.name(),
            admin_token = settings.admin_token.is_some(), "hookgate listening");
        Ok(Self {
            _sqlite_lock: db.sqlite_lock,
            _checkpointing: db.checkpointing,
            port,
            server,
            dispatcher,
            in_flight,
            drain_limit: delivery.lease,
            shutdown_delay: settings.shutdown_delay,
            readiness,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that can stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM. Graceful: `/readyz` fails for the
    /// shutdown delay while everything still serves (so load balancers
    /// move traffic away; a second signal ends the wait), then intake
    /// stops, in-flight requests finish, and in-flight delivery attempts
    /// finish and are recorded (bounded by the claim lease) before this
    /// returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let mut server = std::pin::pin!(self.server);
        tokio::select! {
            stopped = &mut server => stopped?,
            () = shutdown_signal() => {
                self.readiness.start_draining();
                if !self.shutdown_delay.is_zero() {
                    tracing::info!(delay_secs = self.shutdown_delay.as_secs_f64(),
                        "shutdown signal received; /readyz answers 503 until intake stops");
                    tokio::select! {
                        stopped = &mut server => return stopped,
                        () = actix_web::rt::time::sleep(self.shutdown_delay) => {}
                        () = shutdown_signal() => {}
                    }
                }
                tracing::info!("shutdown signal received; stopping intake");
                // The server future runs the stop, so poll both together.
                let (_, stopped) = futures_util::future::join(handle.stop(true), server).await;
                stopped?;
            }
        }
        let _ = self.dispatcher.send(Drain).await;
        let deadline = Instant::now() + self.drain_limit;
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.in_flight.load(Ordering::SeqCst);
        if left > 0 {
            tracing::warn!(
                left,
                "stopping with delivery attempts unfinished; they will be retried"
            );
        }
        tracing::info!("hookgate stopped");
        Ok(())
    }
}

/// How long a provider's redelivery id is remembered.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// Installs the metrics recorder before anything is recorded (once per
/// process); without it every recording is a no-op.
/// The key cache; on PostgreSQL, other instances may change keys, so it
/// caches only while their notifications are heard.
fn key_cache(settings: &Settings, backend: Backend) -> Arc<KeyCache> {
    let cache = Arc::new(KeyCache::new(KEY_CACHE_BYTES));
    if backend == Backend::Postgres {
        db::notify::spawn_listener(settings.database_url.clone(), &cache);
    }
    cache
}

fn listen(bind: std::net::SocketAddr) -> anyhow::Result<(TcpListener, u16)> {
    let listener =
        TcpListener::bind(bind).map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

fn start_metrics(settings: &Settings) {
    if settings.metrics {
        crate::metrics::handle();
        crate::metrics::agent_labels::set_max(settings.metrics_max_agents);
    }
}

/// How forwarders reach agents: timeouts, body limit, TLS (the CA file is
/// read here) and the outbound address policy.
fn forwarder_settings(settings: &Settings) -> anyhow::Result<ForwarderSettings> {
    let tls = crate::tls::agent_client_config(settings.agent_ca_file.as_deref())?;
    let outbound = Arc::new(crate::outbound::OutboundPolicy::new(
        &settings.agent_deny_nets,
        &settings.agent_allow_nets,
    ));
    Ok(ForwarderSettings {
        timeout: settings.forward_timeout,
        max_body_bytes: settings.max_body_bytes,
        tls,
        outbound,
    })
}

fn delivery_config(settings: &Settings, backend: Backend) -> DeliveryConfig {
    DeliveryConfig {
        policy: RetryPolicy {
            max_attempts: settings.delivery_max_attempts as i32,
            base: settings.retry_base,
            max: settings.retry_max,
        },
        per_agent: settings.delivery_concurrency,
        total: settings.delivery_concurrency * 16,
        poll_interval: settings.poll_interval,
        lease: settings.lease(),
        timeout: settings.forward_timeout,
        max_body_bytes: settings.max_body_bytes,
        chain_heads: backend == Backend::Sqlite,
    }
}

/// The pools intake and the dispatcher write with. SQLite has one writer at
/// a time: they share one connection and take turns at once, instead of
/// meeting a lock and sleeping in SQLite's busy handler (each sets its own
/// durability before it writes).
fn queue_pools(
    settings: &Settings,
    backend: Backend,
    pool: &db::DbPool,
) -> anyhow::Result<(db::DbPool, db::DbPool)> {
    Ok(match backend {
        Backend::Sqlite => {
            let durable = Commits::Durable(settings.sqlite_synchronous);
            let (writer, _) = db::open_pool(&settings.database_url, 1, durable)?;
            (writer.clone(), writer)
        }
        Backend::Postgres => {
            let (queue, _) = db::open_pool(&settings.database_url, 3, Commits::Relaxed)?;
            (pool.clone(), queue)
        }
    })
}

fn app_state(
    settings: &Settings,
    db: &Database,
    cache: &Arc<KeyCache>,
    forwarding: ForwarderSettings,
    (readiness, spool): (Arc<Readiness>, Option<Spool>),
) -> web::Data<AppState> {
    web::Data::new(AppState {
        pool: db.pool.clone(),
        public_url: settings.public_url.clone(),
        cache: cache.clone(),
        data_key: db.data_key.clone(),
        forwarding,
        metrics: settings.metrics,
        readiness,
        spool,
    })
}

fn forward_limits(settings: &Settings) -> ForwardLimits {
    ForwardLimits {
        max_body_bytes: settings.max_body_bytes,
        timeout_secs: settings.forward_timeout.as_secs(),
        tolerances: settings.tolerances.clone(),
        public_url: settings.public_url.clone(),
        keep_ignored: settings.keep_ignored,
        trusted_proxies: TrustedProxies::new(&settings.trusted_proxies),
    }
}

/// The group-commit writer of accepted events: each 202 after its commit
/// (or, while the database is away, after it is synced to the spool, which
/// the spool's mover empties into the database).
fn intake_writer(
    pool: db::DbPool,
    settings: &Settings,
    readiness: &Arc<Readiness>,
    spool: Option<Spool>,
) -> IntakeWriter {
    let commits = Commits::Durable(settings.sqlite_synchronous);
    let dedup_window = chrono::Duration::from_std(DEDUP_WINDOW).unwrap_or_default();
    if let Some(spool) = &spool {
        start_mover(spool, pool.clone(), commits, dedup_window);
    }
    let writer = Writer {
        pool,
        commits,
        dedup_window,
        spool,
    };
    IntakeWriter::start(writer, 4096, readiness.intake_running())
}

/// This instance's spool, with what a crash left in it; None when off.
fn open_spool(settings: &Settings) -> anyhow::Result<Option<Spool>> {
    if settings.spool_max_bytes == 0 {
        return Ok(None);
    }
    let database = db::redact(&settings.database_url);
    let spool = SpoolSettings {
        dir: spool_dir(settings),
        max_bytes: settings.spool_max_bytes,
    };
    Ok(Some(Spool::open(&spool, &database)?))
}

/// `HOOKGATE_SPOOL_DIR`, else beside a SQLite file, else the working
/// directory's `hookgate-spool`.
fn spool_dir(settings: &Settings) -> std::path::PathBuf {
    settings
        .spool_dir
        .clone()
        .unwrap_or_else(|| match Backend::from_url(&settings.database_url) {
            (Backend::Sqlite, path) if path != ":memory:" => format!("{path}.spool").into(),
            _ => "hookgate-spool".into(),
        })
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops hookgate");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
