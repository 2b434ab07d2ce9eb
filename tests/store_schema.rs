//! The schema against the real PostgreSQL: migrations are idempotent and safe when
//! two processes apply them at once, and the database itself enforces every rule.

use sqlx::PgPool;
use vca_bridge::config::Secret;
use vca_bridge::store::Store;

use crate::support::db;

async fn code_of(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> String {
    let err = result.expect_err("the database should refuse this");
    err.as_database_error()
        .and_then(|d| d.code().map(|c| c.to_string()))
        .unwrap_or_else(|| format!("not a database error: {err}"))
}

async fn tenant(pool: &PgPool, name: &str) -> uuid::Uuid {
    let (id,): (uuid::Uuid,) =
        sqlx::query_as("INSERT INTO tenants (name) VALUES ($1) RETURNING id")
            .bind(name)
            .fetch_one(pool)
            .await
            .unwrap();
    id
}

#[tokio::test]
async fn migrations_are_idempotent_and_concurrent_safe() {
    let url = db::fresh_database().await;
    let a = Store::connect(&Secret::new(url.clone())).await.unwrap();
    let b = Store::connect(&Secret::new(url.clone())).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    a.migrate().await.unwrap();
    let (applied,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(applied as usize, vca_bridge::store::MIGRATOR.iter().count());
}

#[tokio::test]
async fn lookup_indexes_exist() {
    let (store, _) = db::store().await;
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let names: Vec<String> = names.into_iter().map(|n| n.0).collect();
    for want in [
        "phone_numbers_did_number_key",
        "calls_tenant_started",
        "ai_profiles_one_default",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn database_enforces_enums_and_uniqueness() {
    let (store, _) = db::store().await;
    let pool = store.pool();
    let a = tenant(pool, "A").await;
    let b = tenant(pool, "B").await;

    let bad_status = sqlx::query("INSERT INTO tenants (name, status) VALUES ('x', 'paused')")
        .execute(pool)
        .await;
    assert_eq!(code_of(bad_status).await, "23514");
    let bad_plan = sqlx::query("UPDATE tenants SET plan = 'gold' WHERE id = $1")
        .bind(a)
        .execute(pool)
        .await;
    assert_eq!(code_of(bad_plan).await, "23514");

    sqlx::query("INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, '+918012345678')")
        .bind(a)
        .execute(pool)
        .await
        .unwrap();
    let dup = sqlx::query(
        "INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, '+918012345678')",
    )
    .bind(b)
    .execute(pool)
    .await;
    assert_eq!(code_of(dup).await, "23505");
    let not_e164 =
        sqlx::query("INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, '08012345678')")
            .bind(b)
            .execute(pool)
            .await;
    assert_eq!(code_of(not_e164).await, "23514");

    let empty_prompt = sqlx::query(
        "INSERT INTO ai_profiles (tenant_id, name, system_prompt) VALUES ($1, 'p', '  ')",
    )
    .bind(a)
    .execute(pool)
    .await;
    assert_eq!(code_of(empty_prompt).await, "23514");
    sqlx::query("INSERT INTO ai_profiles (tenant_id, name, system_prompt, is_default) VALUES ($1, 'p', 'x', true)")
        .bind(a)
        .execute(pool)
        .await
        .unwrap();
    let second_default =
        sqlx::query("INSERT INTO ai_profiles (tenant_id, name, system_prompt, is_default) VALUES ($1, 'q', 'x', true)")
            .bind(a)
            .execute(pool)
            .await;
    assert_eq!(code_of(second_default).await, "23505");
    // Another tenant has its own default.
    sqlx::query("INSERT INTO ai_profiles (tenant_id, name, system_prompt, is_default) VALUES ($1, 'q', 'x', true)")
        .bind(b)
        .execute(pool)
        .await
        .unwrap();

    let bad_call_status =
        sqlx::query("INSERT INTO calls (tenant_id, channel_id, status) VALUES ($1, 'c', 'lost')")
            .bind(a)
            .execute(pool)
            .await;
    assert_eq!(code_of(bad_call_status).await, "23514");
    let final_without_end = sqlx::query(
        "INSERT INTO calls (tenant_id, channel_id, status) VALUES ($1, 'c', 'completed')",
    )
    .bind(a)
    .execute(pool)
    .await;
    assert_eq!(code_of(final_without_end).await, "23514");
    let bad_speaker = sqlx::query(
        "WITH c AS (INSERT INTO calls (tenant_id, channel_id) VALUES ($1, 'c') RETURNING id) \
         INSERT INTO transcript_turns (call_id, tenant_id, seq, speaker, text, start_ms, end_ms) \
         SELECT id, $1, 0, 'robot', 'x', 0, 1 FROM c",
    )
    .bind(a)
    .execute(pool)
    .await;
    assert_eq!(code_of(bad_speaker).await, "23514");
}

#[tokio::test]
async fn foreign_keys_carry_the_tenant() {
    let (store, _) = db::store().await;
    let pool = store.pool();
    let a = tenant(pool, "A").await;
    let b = tenant(pool, "B").await;
    let (num,): (uuid::Uuid,) =
        sqlx::query_as("INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, '+918012345678') RETURNING id")
            .bind(a)
            .fetch_one(pool)
            .await
            .unwrap();
    let (prof,): (uuid::Uuid,) =
        sqlx::query_as("INSERT INTO ai_profiles (tenant_id, name, system_prompt) VALUES ($1, 'p', 'x') RETURNING id")
            .bind(a)
            .fetch_one(pool)
            .await
            .unwrap();
    // B's call cannot point at A's number or profile.
    let cross_number = sqlx::query(
        "INSERT INTO calls (tenant_id, phone_number_id, channel_id) VALUES ($1, $2, 'c')",
    )
    .bind(b)
    .bind(num)
    .execute(pool)
    .await;
    assert_eq!(code_of(cross_number).await, "23503");
    let cross_profile = sqlx::query(
        "INSERT INTO calls (tenant_id, ai_profile_id, channel_id) VALUES ($1, $2, 'c')",
    )
    .bind(b)
    .bind(prof)
    .execute(pool)
    .await;
    assert_eq!(code_of(cross_profile).await, "23503");
    let (call,): (uuid::Uuid,) = sqlx::query_as(
        "INSERT INTO calls (tenant_id, phone_number_id, ai_profile_id, channel_id) VALUES ($1, $2, $3, 'c') RETURNING id",
    )
    .bind(a)
    .bind(num)
    .bind(prof)
    .fetch_one(pool)
    .await
    .unwrap();
    // Events and turns of A's call cannot be filed under B.
    let cross_event =
        sqlx::query("INSERT INTO call_events (call_id, tenant_id, kind) VALUES ($1, $2, 'x')")
            .bind(call)
            .bind(b)
            .execute(pool)
            .await;
    assert_eq!(code_of(cross_event).await, "23503");
    let cross_turn = sqlx::query(
        "INSERT INTO transcript_turns (call_id, tenant_id, seq, speaker, text, start_ms, end_ms) VALUES ($1, $2, 0, 'caller', 'x', 0, 1)",
    )
    .bind(call)
    .bind(b)
    .execute(pool)
    .await;
    assert_eq!(code_of(cross_turn).await, "23503");
    // Deleting the number keeps the call and its tenant.
    sqlx::query("DELETE FROM phone_numbers WHERE id = $1")
        .bind(num)
        .execute(pool)
        .await
        .unwrap();
    let (tenant_id, number): (Option<uuid::Uuid>, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT tenant_id, phone_number_id FROM calls WHERE id = $1")
            .bind(call)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(tenant_id, Some(a));
    assert_eq!(number, None);
}
