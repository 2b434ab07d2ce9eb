//! PostgreSQL and Redis: the connection pools, migrations, and one repository module
//! per table family. Every query on a tenant-scoped table filters by `tenant_id`.

pub mod ai_profiles;
pub mod api_keys;
pub mod call_log;
pub mod calls;
pub mod conversation_state;
mod error;
pub mod live_board;
pub mod outbox;
pub mod outcome;
pub mod phone_numbers;
pub mod recordings;
pub mod redis;
pub mod retry;
pub mod routing;
pub mod tenants;
pub mod tools;
pub mod transcript;
pub mod transfer_targets;
pub mod usage;
pub mod webhooks;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use error::StoreError;
pub use outcome::{CallStatus, EndReason};

use crate::secret::Secret;

/// The embedded migrations from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL side of the daemon: a pool and the repositories that use it.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects (lazily checked with a first query) with bounded waits, so a dead
    /// database makes requests fail fast instead of hanging.
    pub async fn connect(url: &Secret) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url.expose())
            .await?;
        Ok(Store { pool })
    }

    /// Wraps an existing pool (tests).
    pub fn from_pool(pool: PgPool) -> Store {
        Store { pool }
    }

    /// The pool, for repositories.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations. Idempotent; sqlx takes an advisory lock, so two
    /// daemons starting at once apply each migration once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// One round trip, for `/readyz` and `check-config`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
