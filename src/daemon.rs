//! The `run` command: connect to PostgreSQL and Redis, apply migrations, serve the
//! admin API, and stop cleanly when the injected shutdown future completes.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::admin::{self, AppState};
use crate::config::Settings;
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
    /// The admin address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The admin server failed.
    #[error("admin server: {0}")]
    Serve(#[source] std::io::Error),
}

/// A daemon that has bound its listener and applied migrations, ready to serve.
pub struct Daemon {
    listener: TcpListener,
    state: AppState,
}

impl Daemon {
    /// Connects, migrates and binds; after this the daemon is ready.
    pub async fn start(settings: &Settings) -> Result<Daemon, DaemonError> {
        let store = Store::connect(&settings.database_url).await?;
        store.migrate().await?;
        let redis = RedisPool::new(&settings.redis_url)?;
        if let Err(e) = redis.ping().await {
            tracing::warn!(error = %e, "redis is not answering; continuing with in-memory state");
        }
        let listener = TcpListener::bind(settings.admin_listen)
            .await
            .map_err(|source| DaemonError::Listen {
                addr: settings.admin_listen,
                source,
            })?;
        let state = AppState::new(
            store,
            redis,
            settings.admin_token.clone(),
            settings.default_country_code,
        );
        Ok(Daemon { listener, state })
    }

    /// The address the admin API listens on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), DaemonError> {
        tracing::info!(addr = ?self.admin_addr(), "admin API listening");
        axum::serve(self.listener, admin::router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(DaemonError::Serve)
    }
}

/// Completes on SIGTERM or Ctrl-C.
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
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}
