//! `api_keys`: a tenant's bearer keys for the admin API. Only the SHA-256 of a key's secret
//! is stored; rows show a short prefix of the key, never the key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
// SQL here is built only from this file's constant column list; values are always bound.
use sqlx::AssertSqlSafe;

/// The roles a key may have: `admin` may do everything under its tenant, `viewer` only read.
pub const ROLES: &[&str] = &["admin", "viewer"];

/// A key as the API shows it (no secret, no hash).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// The key's first characters (`vcak_` and the start of its id): enough to tell keys
    /// apart, nothing of the secret.
    pub prefix: String,
    /// After this the key is refused; `null`: never.
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When the key last authenticated a request, to the minute; `null`: never.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The body of `POST /api/tenants/{tid}/api-keys`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// RFC 3339, in the future; without it the key does not expire.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What authentication needs of a key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyCredentials {
    pub tenant_id: Uuid,
    pub role: String,
    pub secret_sha256: Vec<u8>,
    /// Its expiry has passed, by the database's clock.
    pub expired: bool,
    /// `last_used_at` is unset or over a minute old: a use should be recorded.
    pub use_stale: bool,
}

/// One page of a tenant's keys, newest first.
#[derive(Debug, Clone)]
pub struct KeyQuery {
    /// Only keys older than this `(created_at, id)`.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

const COLUMNS: &str = "id, tenant_id, name, role, \
     'vcak_' || left(replace(id::text, '-', ''), 8) AS prefix, \
     expires_at, created_at, last_used_at";

impl Store {
    /// Inserts a key whose id and secret hash the caller made.
    pub async fn create_api_key(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        k: &NewApiKey,
        secret_sha256: &[u8],
    ) -> Result<ApiKey, StoreError> {
        let sql = format!(
            "INSERT INTO api_keys (id, tenant_id, name, role, secret_sha256, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .bind(tenant_id)
            .bind(k.name.trim())
            .bind(&k.role)
            .bind(secret_sha256)
            .bind(k.expires_at)
            .fetch_one(self.pool())
            .await?)
    }

    /// A page of a tenant's keys, newest first, and whether more follow.
    pub async fn list_api_keys(
        &self,
        tenant_id: Uuid,
        q: &KeyQuery,
    ) -> Result<(Vec<ApiKey>, bool), StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 \
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let mut rows: Vec<ApiKey> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(q.after.map(|a| a.0))
            .bind(q.after.map(|a| a.1))
            .bind(q.limit + 1)
            .fetch_all(self.pool())
            .await?;
        let more = rows.len() as i64 > q.limit;
        rows.truncate(q.limit.max(0) as usize);
        Ok((rows, more))
    }

    /// One of a tenant's keys.
    pub async fn get_api_key(&self, tenant_id: Uuid, id: Uuid) -> Result<ApiKey, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Deletes one of a tenant's keys: from now on it authenticates nothing.
    pub async fn delete_api_key(&self, tenant_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The credentials of key `id`, if it exists and its tenant is not marked `deleted`
    /// (whatever the tenant: the key names it).
    pub async fn api_key_credentials(
        &self,
        id: Uuid,
    ) -> Result<Option<KeyCredentials>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT k.tenant_id, k.role, k.secret_sha256, \
             (k.expires_at IS NOT NULL AND k.expires_at <= now()) AS expired, \
             (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS use_stale \
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.id = $1 AND t.status <> 'deleted'",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records that key `id` authenticated a request; writes at most once a minute per key.
    pub async fn touch_api_key(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = now() WHERE id = $1 \
             AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
