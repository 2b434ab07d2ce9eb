//! The services every stateful test uses: a fresh PostgreSQL database of its own per test
//! (so tests run in parallel), migrated or empty, and the real Redis. Both are found through
//! `VCA_TEST_DATABASE_URL` (a server-level URL whose user may create databases) and
//! `VCA_TEST_REDIS_URL`, as `scripts/test` sets them.

use sqlx::{Connection, PgConnection};

use vca_bridge::config::Secret;
use vca_bridge::store::Store;

/// The server-level URL tests create their databases through.
pub fn admin_database_url() -> String {
    std::env::var("VCA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The Redis every test shares (keys are per tenant and call, which are fresh per test).
pub fn redis_url() -> String {
    std::env::var("VCA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Creates an empty database with a unique name and returns its URL.
pub async fn fresh_database() -> String {
    let admin = admin_database_url();
    let name = format!("vca_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// A migrated database, and its URL.
pub async fn store() -> (Store, String) {
    let url = fresh_database().await;
    let store = Store::connect(&Secret::new(url.clone())).await.unwrap();
    store.migrate().await.unwrap();
    (store, url)
}
