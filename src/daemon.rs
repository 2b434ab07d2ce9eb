//! The `run` command: connect to PostgreSQL and Redis, apply migrations, serve the
//! admin API, keep the ARI event stream up and run calls, and stop cleanly when the
//! injected shutdown future completes (every call hung up and its row final).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AppState};
use crate::ari::{
    AriClient, AriConfig, AriError, AriStreamItem, ConnectionState, EventsEndpoint,
    SupervisorConfig, SupervisorHandle, spawn_supervisor_with_permit,
};
use crate::call::context::{CallContext, CallSettings};
use crate::call::controller::CallController;
use crate::call::leases::CallLeases;
use crate::call::ownership::Ownership;
use crate::config::{Settings, ShutdownMode};
use crate::engines::build_engines;
use crate::media_driver::{MediaEngine, MediaEngineError};
use crate::service::{self, Liveness};
use crate::store::conversation_state::StateStore;
use crate::store::redis::RedisPool;
use crate::store::{Store, StoreError};

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// PostgreSQL could not be reached or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The Redis pool could not be built.
    #[error("redis: {0}")]
    Redis(#[from] crate::store::redis::RedisError),
    /// The ARI client could not be built.
    #[error("ari: {0}")]
    Ari(#[from] AriError),
    /// An engine could not be set up.
    #[error("engines: {0}")]
    Engines(#[from] crate::engines::EngineError),
    /// The task building the engines panicked or was cancelled.
    #[error("engines: building them failed: {0}")]
    EnginesTask(String),
    /// The HTTP client of tenant tools could not be built.
    #[error("tools: {0}")]
    Tools(#[from] crate::tools::ToolExecutorError),
    /// The HTTP client of webhook deliveries could not be built.
    #[error("webhooks: {0}")]
    Webhooks(#[from] crate::webhooks::sender::SenderError),
    /// The media threads could not start (no free port in the range, say).
    #[error("media threads: {0}")]
    Media(#[from] MediaEngineError),
    /// The recorder threads could not be started.
    #[error("recorder: {0}")]
    Recorder(#[source] std::io::Error),
    /// The admin address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Characters of conversation history sent to the language model with each turn.
const HISTORY_CHARS: usize = 8000;

/// A daemon that has applied migrations and bound its listener: ready to serve.
pub struct Daemon {
    listener: TcpListener,
    admin_limits: admin::server::ServerLimits,
    state: AppState,
    calls: CallContext,
    supervisor: SupervisorHandle,
    events: tokio::sync::mpsc::Receiver<AriStreamItem>,
    stop: CancellationToken,
    drain_timeout: Duration,
    ownership: Ownership,
    shutdown: ShutdownMode,
    webhooks: crate::webhooks::Worker,
    webhook_timeout: Duration,
    sweeper: Sweeper,
}

/// What the recording retention sweeper needs.
struct Sweeper {
    store: Store,
    dir: std::path::PathBuf,
    node: String,
    every: Duration,
}

/// The ARI settings of the daemon.
pub fn ari_config(settings: &Settings) -> AriConfig {
    let base = format!("{}/ari", settings.ari_url.as_str().trim_end_matches('/'));
    AriConfig::new(
        base,
        settings.ari_username.clone(),
        settings.ari_password.clone(),
        settings.ari_app.clone(),
    )
}

impl Daemon {
    /// Connects, migrates, binds and starts the ARI supervisor; after this the daemon
    /// is ready (calls are taken once ARI connects).
    pub async fn start(settings: &Settings) -> Result<Daemon, DaemonError> {
        let metrics = crate::telemetry::install();
        let store = Store::connect(&settings.database_url).await?;
        store.migrate().await?;
        let redis = RedisPool::new(&settings.redis_url)?;
        if let Err(e) = redis.ping().await {
            tracing::warn!(error = %e, "redis is not answering; continuing with in-memory state");
        }
        let media = MediaEngine::start(
            settings.rtp_bind,
            settings.rtp_port_range.first..=settings.rtp_port_range.last,
            settings.media_threads,
            settings.utterance_pool,
            settings.media_realtime_priority,
        )?;
        match (settings.media_realtime_priority, media.realtime_refused()) {
            (0, _) => {}
            (priority, None) => {
                tracing::info!(
                    priority,
                    "media threads run at real-time priority (SCHED_FIFO)"
                );
            }
            (priority, Some(why)) => tracing::warn!(
                priority,
                error = why,
                "media threads run at normal priority: real-time scheduling was refused \
                 (allow it with LimitRTPRIO= in the systemd unit, or set \
                 VCA_MEDIA_REALTIME_PRIORITY=0)"
            ),
        }
        let ari_cfg = ari_config(settings);
        let ari = AriClient::new(&ari_cfg)?;
        let endpoint = EventsEndpoint::from_config(&ari_cfg)?;
        let listener = TcpListener::bind(settings.admin_listen)
            .await
            .map_err(|source| DaemonError::Listen {
                addr: settings.admin_listen,
                source,
            })?;
        // Before ARI connects, so no call waits for engines. A whisper-local model loads
        // for up to a few seconds: off the runtime.
        let engine_settings = settings.engines.clone();
        let law = settings.media_format;
        let engines = tokio::task::spawn_blocking(move || build_engines(&engine_settings, law))
            .await
            .map_err(|e| DaemonError::EnginesTask(e.to_string()))??;
        let stop = CancellationToken::new();
        let ari_node = format!(
            "{}#{}",
            settings.ari_url.as_str().trim_end_matches('/'),
            settings.ari_app
        );
        let me = settings.node_name.clone().unwrap_or_else(|| {
            crate::call::ownership::default_node_name(listener.local_addr().map_or(0, |a| a.port()))
        });
        let ownership = Ownership::new(redis.clone(), &ari_node, me.clone());
        ownership.claim().await;
        let (supervisor, events) = spawn_supervisor_with_permit(
            endpoint,
            SupervisorConfig::default(),
            stop.child_token(),
            ownership.permit(),
        );
        let state = AppState::new(
            store.clone(),
            redis.clone(),
            settings.admin_token.clone(),
            settings.default_country_code,
        )
        .with_ari_state(supervisor.state())
        .with_metrics(metrics)
        .with_webhook_allow_private(settings.webhooks.allow_private)
        .with_recordings_dir(settings.recordings.dir.clone())
        .with_request_timeout(settings.admin_request_timeout)
        .with_auth_max_failures(settings.admin_auth_max_failures);
        let webhooks = crate::webhooks::Worker::new(store.clone(), settings.webhooks)?;
        let recordings = crate::recording::call::Recordings {
            dir: settings.recordings.dir.clone(),
            recorder: crate::recording::Recorder::start(settings.recordings.threads)
                .map_err(DaemonError::Recorder)?,
        };
        let sweeper = Sweeper {
            store: store.clone(),
            dir: settings.recordings.dir.clone(),
            node: me.clone(),
            every: settings.recordings.sweep_interval,
        };

        let calls = CallContext {
            ari,
            store,
            leases: Arc::new(CallLeases::new(redis.clone())),
            media,
            engines: Arc::new(engines),
            states: Arc::new(StateStore::new(redis.clone())),
            board: crate::store::live_board::LiveBoard::new(redis),

            tools: crate::tools::ToolExecutor::new()?,
            recordings,
            settings: Arc::new(CallSettings {
                app: settings.ari_app.clone(),
                ari_node,
                rtp_advertise: settings.rtp_advertise,
                law: settings.media_format,
                country_code: settings.default_country_code,
                history_chars: HISTORY_CHARS,
                end_marker: settings.end_call_marker.clone(),
                node: me,
            }),
        };
        Ok(Daemon {
            listener,
            admin_limits: settings.admin_server,
            state,
            calls,
            supervisor,
            events,
            stop,
            drain_timeout: settings.drain_timeout,
            ownership,
            shutdown: settings.shutdown,
            webhooks,
            webhook_timeout: settings.webhooks.timeout,
            sweeper,
        })
    }

    /// The address the admin API listens on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until stopped. `stop_requests` counts stop requests (SIGTERMs): the first
    /// drains (no new calls; live calls may finish for the drain timeout, then hear a
    /// goodbye), a second hangs up at once. Returns once every call row is final, after
    /// telling systemd `STOPPING=1`; the ARI stream and the admin server stop last.
    pub async fn serve(self, stop_requests: watch::Receiver<u32>) -> Result<(), DaemonError> {
        let Daemon {
            listener,
            admin_limits,
            state,
            calls,
            supervisor,
            events,
            stop,
            drain_timeout,
            ownership,
            shutdown,
            webhooks,
            webhook_timeout,
            sweeper,
        } = self;
        let sweeper_task = tokio::spawn(crate::recording::sweeper::run(
            sweeper.store,
            sweeper.dir,
            sweeper.node,
            sweeper.every,
            stop.child_token(),
        ));
        // Off the call path, for as long as the daemon serves (drain included).
        let webhook_stop = CancellationToken::new();
        let mut webhook_task = tokio::spawn(webhooks.run(webhook_stop.clone()));
        let owner_task = tokio::spawn(ownership.clone().run(stop.child_token()));
        let (controller_stop, controller_stops) = watch::channel(0u32);
        let (handover_tx, handover) = watch::channel(false);
        tracing::info!(addr = ?listener.local_addr().ok(), "admin API listening");
        let liveness = Arc::new(Liveness::default());
        let ari_watch = tokio::spawn(watch_ari(
            supervisor.state(),
            supervisor.reconnect_counter(),
            supervisor.replaced_counter(),
            stop.clone(),
        ));
        let service_task = tokio::spawn(service::supervise(
            liveness.clone(),
            supervisor.state(),
            stop.clone(),
        ));
        let controller = tokio::spawn(CallController::new(calls, liveness).run(
            events,
            controller_stops,
            handover,
            drain_timeout,
        ));
        let stopping = tokio::spawn(forward_stops(
            stop_requests,
            controller_stop,
            handover_tx,
            ownership,
            shutdown,
        ));
        let server = tokio::spawn(admin::server::serve(
            listener,
            admin::router(state),
            admin_limits,
            stop.clone(),
        ));
        service::ready();
        if let Err(e) = controller.await {
            tracing::error!(error = %e, "call controller failed");
        }
        stopping.abort();
        service::stopping("calls finished; stopping");
        stop.cancel();
        if let Err(e) = server.await {
            tracing::error!(error = %e, "admin server task failed");
        }
        supervisor.shutdown(Duration::from_secs(2)).await;
        // A round under way finishes (its attempts are recorded) unless it overruns.
        webhook_stop.cancel();
        let webhook_wait = webhook_timeout + Duration::from_secs(2);
        if tokio::time::timeout(webhook_wait, &mut webhook_task)
            .await
            .is_err()
        {
            webhook_task.abort();
        }
        owner_task.abort();
        sweeper_task.abort();
        ari_watch.abort();
        service_task.abort();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Turns SIGTERMs into what the controller does: the first hands the calls over to a
/// standby (`VCA_SHUTDOWN=handover`, or `auto` with a standby seen) — the owner lease is
/// given up and the calls stood down — or drains them; later ones count on as drain
/// requests (the second hangs up at once).
async fn forward_stops(
    mut requests: watch::Receiver<u32>,
    controller: watch::Sender<u32>,
    handover: watch::Sender<bool>,
    ownership: Ownership,
    mode: ShutdownMode,
) {
    let mut handed_over = false;
    loop {
        let n = *requests.borrow_and_update();
        if n >= 1 && !handed_over && controller.borrow().eq(&0) {
            let hand_over = match mode {
                ShutdownMode::Handover => true,
                ShutdownMode::Drain => false,
                ShutdownMode::Auto => ownership.is_active() && ownership.standby_seen(),
            };
            if hand_over {
                tracing::info!("stop requested: handing the calls over to the standby");
                service::stopping("handing over to the standby");
                ownership.release().await;
                handover.send_replace(true);
                handed_over = true;
            } else {
                tracing::info!("stop requested: draining calls");
                service::stopping("draining calls");
                controller.send_replace(n);
            }
        } else if n >= 1 {
            controller.send_replace(if handed_over { n.max(2) } else { n });
        }
        if requests.changed().await.is_err() {
            return;
        }
    }
}

/// Mirrors the ARI connection state into metrics and the log.
async fn watch_ari(
    mut state: watch::Receiver<ConnectionState>,
    reconnects: Arc<std::sync::atomic::AtomicU64>,
    replaced: Arc<std::sync::atomic::AtomicU64>,
    stop: CancellationToken,
) {
    let mut seen_reconnects = 0;
    let mut seen_replaced = 0;
    loop {
        let connected = state.borrow_and_update().is_connected();
        metrics::gauge!("vca_ari_connected").set(if connected { 1.0 } else { 0.0 });
        let now = reconnects.load(std::sync::atomic::Ordering::Relaxed);
        if now > seen_reconnects {
            metrics::counter!("vca_ari_reconnects_total").increment(now - seen_reconnects);
            seen_reconnects = now;
        }
        let now = replaced.load(std::sync::atomic::Ordering::Relaxed);
        if now > seen_replaced {
            metrics::counter!("vca_ari_replaced_total").increment(now - seen_replaced);
            seen_replaced = now;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = state.changed() => if changed.is_err() { return },
        }
    }
}

/// Counts SIGTERM and Ctrl-C (SIGINT) arrivals into a watch: the stop requests
/// [`Daemon::serve`] acts on.
pub fn stop_requests() -> watch::Receiver<u32> {
    let (tx, rx) = watch::channel(0u32);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let term_signal = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let term_signal = std::future::pending::<()>();
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { std::future::pending::<()>().await },
                () = term_signal => {},
            }
            tx.send_modify(|n| *n += 1);
            tracing::info!(requests = *tx.borrow(), "stop signal received");
        }
    });
    rx
}
