//! The Redis side of the daemon: a small pool with bounded waits. Redis holds hot,
//! shared state (conversation state, per-tenant call leases); its absence degrades
//! the daemon but never drops a call.

use std::time::Duration;

use deadpool_redis::{Config, Pool, Runtime, Timeouts};

use crate::secret::Secret;

/// A Redis failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// The pool could not be built from the URL.
    #[error("redis configuration: {0}")]
    Config(String),
    /// No connection could be had in time.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// A command failed.
    #[error("redis command failed: {0}")]
    Command(#[from] deadpool_redis::redis::RedisError),
}

/// A pool of Redis connections.
#[derive(Clone)]
pub struct RedisPool {
    pool: Pool,
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisPool")
    }
}

impl RedisPool {
    /// Builds the pool; connections are made on first use, each within 2 s.
    pub fn new(url: &Secret) -> Result<RedisPool, RedisError> {
        let mut cfg = Config::from_url(url.expose());
        let mut pool_cfg = deadpool_redis::PoolConfig::new(32);
        pool_cfg.timeouts = Timeouts {
            wait: Some(Duration::from_secs(2)),
            create: Some(Duration::from_secs(2)),
            recycle: Some(Duration::from_secs(2)),
        };
        cfg.pool = Some(pool_cfg);
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| RedisError::Config(e.to_string()))?;
        Ok(RedisPool { pool })
    }

    /// A connection from the pool.
    pub async fn get(&self) -> Result<deadpool_redis::Connection, RedisError> {
        self.pool
            .get()
            .await
            .map_err(|e| RedisError::Unavailable(e.to_string()))
    }

    /// One PING, bounded by 2 s.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let fut = async {
            let mut conn = self.get().await?;
            let _: String = deadpool_redis::redis::cmd("PING")
                .query_async(&mut conn)
                .await?;
            Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(2), fut).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::Unavailable("PING timed out".into())),
        }
    }
}
