//! The `tenants` table: the businesses that own phone numbers and AI profiles.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
// SQL here is built only from this file's constant column lists; values are always bound.
use sqlx::AssertSqlSafe;

/// A tenant as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    /// `active`, `suspended` or `deleted`; only active tenants take calls.
    pub status: String,
    /// `starter`, `growth` or `custom`.
    pub plan: String,
    /// Calls this tenant may have up at once, across every daemon.
    pub max_concurrent_calls: i32,
    /// Recordings older than this many days are deleted.
    pub recording_retention_days: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Tenant status values.
pub const STATUSES: &[&str] = &["active", "suspended", "deleted"];
/// Tenant plan values.
pub const PLANS: &[&str] = &["starter", "growth", "custom"];

/// The body of `POST /api/tenants`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub name: String,
    /// Defaults to `active`.
    pub status: Option<String>,
    /// Defaults to `starter`.
    pub plan: Option<String>,
    /// Defaults to 5.
    pub max_concurrent_calls: Option<i32>,
    /// Defaults to 90.
    pub recording_retention_days: Option<i32>,
}

/// The body of `PATCH /api/tenants/{id}`: only these fields may change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub status: Option<String>,
    pub plan: Option<String>,
    pub max_concurrent_calls: Option<i32>,
    pub recording_retention_days: Option<i32>,
}

const COLUMNS: &str = "id, name, status, plan, max_concurrent_calls, recording_retention_days, created_at, updated_at";

impl Store {
    /// Inserts a tenant.
    pub async fn create_tenant(&self, t: &NewTenant) -> Result<Tenant, StoreError> {
        let sql = format!(
            "INSERT INTO tenants (name, status, plan, max_concurrent_calls, recording_retention_days) \
             VALUES (btrim($1), COALESCE($2, 'active'), COALESCE($3, 'starter'), COALESCE($4, 5), COALESCE($5, 90)) \
             RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(&t.name)
            .bind(&t.status)
            .bind(&t.plan)
            .bind(t.max_concurrent_calls)
            .bind(t.recording_retention_days)
            .fetch_one(self.pool())
            .await?)
    }

    /// Every tenant, oldest first.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tenants ORDER BY created_at, id");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?)
    }

    /// One tenant.
    pub async fn get_tenant(&self, id: Uuid) -> Result<Tenant, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tenants WHERE id = $1");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Changes the given fields of a tenant.
    pub async fn update_tenant(&self, id: Uuid, p: &TenantPatch) -> Result<Tenant, StoreError> {
        let sql = format!(
            "UPDATE tenants SET name = COALESCE(btrim($2), name), status = COALESCE($3, status), \
             plan = COALESCE($4, plan), max_concurrent_calls = COALESCE($5, max_concurrent_calls), \
             recording_retention_days = COALESCE($6, recording_retention_days), updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .bind(&p.name)
            .bind(&p.status)
            .bind(&p.plan)
            .bind(p.max_concurrent_calls)
            .bind(p.recording_retention_days)
            .fetch_one(self.pool())
            .await?)
    }

    /// Whether a tenant exists (any status).
    pub async fn tenant_exists(&self, id: Uuid) -> Result<bool, StoreError> {
        let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.is_some())
    }
}
