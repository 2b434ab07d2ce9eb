//! `webhooks`: a tenant's endpoints told of its calls. The secret is write-only: it signs
//! every delivery and is never returned (`has_secret` shows it is set).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
// SQL here is built only from this file's constant column list; values are always bound.
use sqlx::AssertSqlSafe;

/// The event types a webhook may subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "call.started",
    "call.ended",
    "call.transferred",
    "call.rejected",
    "call.summarized",
];

/// A webhook as the API shows it (no secret).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Where the events are POSTed (http or https).
    pub url: String,
    /// The event types delivered: `call.started`, `call.ended`, `call.transferred`,
    /// `call.rejected`.
    pub events: Vec<String>,
    pub is_active: bool,
    /// Always true: the secret is stored, never shown.
    pub has_secret: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /api/tenants/{tid}/webhooks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    /// Write-only; signs every delivery.
    #[schema(value_type = String, format = Password)]
    pub secret: String,
    /// Default true.
    pub is_active: Option<bool>,
}

/// The body of `PATCH …/webhooks/{id}`: the given fields change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// Write-only.
    #[schema(value_type = Option<String>, format = Password)]
    pub secret: Option<String>,
    pub is_active: Option<bool>,
}

const COLUMNS: &str =
    "id, tenant_id, url, events, is_active, true AS has_secret, created_at, updated_at";

impl Store {
    /// Inserts a webhook.
    pub async fn create_webhook(
        &self,
        tenant_id: Uuid,
        w: &NewWebhook,
    ) -> Result<Webhook, StoreError> {
        let sql = format!(
            "INSERT INTO webhooks (tenant_id, url, events, secret, is_active) \
             VALUES ($1, $2, $3, $4, COALESCE($5, true)) RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(&w.url)
            .bind(&w.events)
            .bind(&w.secret)
            .bind(w.is_active)
            .fetch_one(self.pool())
            .await?)
    }

    /// A tenant's webhooks, oldest first.
    pub async fn list_webhooks(&self, tenant_id: Uuid) -> Result<Vec<Webhook>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// One of a tenant's webhooks.
    pub async fn get_webhook(&self, tenant_id: Uuid, id: Uuid) -> Result<Webhook, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Changes the given fields.
    pub async fn update_webhook(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        p: &WebhookPatch,
    ) -> Result<Webhook, StoreError> {
        let sql = format!(
            "UPDATE webhooks SET url = COALESCE($3, url), events = COALESCE($4, events), \
             secret = COALESCE($5, secret), is_active = COALESCE($6, is_active), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .bind(&p.url)
            .bind(&p.events)
            .bind(&p.secret)
            .bind(p.is_active)
            .fetch_one(self.pool())
            .await?)
    }

    /// Deletes one of a tenant's webhooks, and its deliveries with it.
    pub async fn delete_webhook(&self, tenant_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
