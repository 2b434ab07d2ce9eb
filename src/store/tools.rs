//! `tools`: a tenant's HTTP tools — functions of the business's own systems the model may
//! call during a call. The secret is write-only: it signs requests and is never returned.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::secret::Secret;
// SQL here is built only from this file's constant column list; values are always bound.
use sqlx::AssertSqlSafe;

/// The default time a tool may take to answer.
pub const DEFAULT_TOOL_TIMEOUT_MS: i32 = 3000;

/// A tool as the API shows it (no secret).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tool {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `[a-z][a-z0-9_]{0,63}`, unique per tenant; not `transfer_call` or `end_call`.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// Its arguments as a JSON Schema object.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// Where the daemon POSTs the call.
    pub url: String,
    /// How long it may take, 100-10000 ms.
    pub timeout_ms: i32,
    /// Always true: the secret is stored, never shown.
    pub has_secret: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tool with its secret, for the call path only.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ToolWithSecret {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
    pub url: String,
    pub timeout_ms: i32,
    secret: String,
}

impl ToolWithSecret {
    /// The signing secret.
    pub fn secret(&self) -> Secret {
        Secret::new(self.secret.clone())
    }
}

/// The body of `POST /api/tenants/{tid}/tools`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTool {
    pub name: String,
    pub description: String,
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    pub url: String,
    /// Default 3000, at most 10000.
    pub timeout_ms: Option<i32>,
    /// Write-only.
    #[schema(value_type = String, format = Password)]
    pub secret: String,
}

/// The body of `PATCH …/tools/{id}`: the given fields change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Value>,
    pub url: Option<String>,
    pub timeout_ms: Option<i32>,
    /// Write-only.
    #[schema(value_type = Option<String>, format = Password)]
    pub secret: Option<String>,
}

const COLUMNS: &str = "id, tenant_id, name, description, parameters, url, timeout_ms, \
    true AS has_secret, created_at, updated_at";

impl Store {
    /// Inserts a tool.
    pub async fn create_tool(&self, tenant_id: Uuid, t: &NewTool) -> Result<Tool, StoreError> {
        let sql = format!(
            "INSERT INTO tools (tenant_id, name, description, parameters, url, timeout_ms, secret) \
             VALUES ($1, $2, btrim($3), $4, $5, COALESCE($6, $8), $7) RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(&t.name)
            .bind(&t.description)
            .bind(&t.parameters)
            .bind(&t.url)
            .bind(t.timeout_ms)
            .bind(&t.secret)
            .bind(DEFAULT_TOOL_TIMEOUT_MS)
            .fetch_one(self.pool())
            .await?)
    }

    /// A tenant's tools, by name.
    pub async fn list_tools(&self, tenant_id: Uuid) -> Result<Vec<Tool>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tools WHERE tenant_id = $1 ORDER BY name");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// One of a tenant's tools.
    pub async fn get_tool(&self, tenant_id: Uuid, id: Uuid) -> Result<Tool, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tools WHERE tenant_id = $1 AND id = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Changes the given fields.
    pub async fn update_tool(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        p: &ToolPatch,
    ) -> Result<Tool, StoreError> {
        let sql = format!(
            "UPDATE tools SET name = COALESCE($3, name), description = COALESCE(btrim($4), description), \
             parameters = COALESCE($5, parameters), url = COALESCE($6, url), \
             timeout_ms = COALESCE($7, timeout_ms), secret = COALESCE($8, secret), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .bind(&p.name)
            .bind(&p.description)
            .bind(&p.parameters)
            .bind(&p.url)
            .bind(p.timeout_ms)
            .bind(&p.secret)
            .fetch_one(self.pool())
            .await?)
    }

    /// Deletes one of a tenant's tools.
    pub async fn delete_tool(&self, tenant_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM tools WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The tenant's tools called `names`, with their secrets (the call path).
    pub async fn tools_with_secrets(
        &self,
        tenant_id: Uuid,
        names: &[String],
    ) -> Result<Vec<ToolWithSecret>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, description, parameters, url, timeout_ms, secret FROM tools \
             WHERE tenant_id = $1 AND name = ANY($2) ORDER BY name",
        )
        .bind(tenant_id)
        .bind(names)
        .fetch_all(self.pool())
        .await?)
    }

    /// Which of `names` the tenant has as tools.
    pub async fn tool_names(&self, tenant_id: Uuid) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM tools WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
