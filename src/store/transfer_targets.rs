//! `transfer_targets`: where a tenant's calls can be handed to a person — into the dialplan
//! (a queue, a ring group) or to an endpoint the daemon dials and bridges.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
// SQL here is built only from this file's constant column list; values are always bound.
use sqlx::AssertSqlSafe;

/// The default ring time of an endpoint target.
pub const DEFAULT_RING_TIMEOUT_SECONDS: i32 = 25;

/// A transfer target as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TransferTarget {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `[a-z0-9-]{1,40}`, unique per tenant: what the keypad map and the model name.
    pub name: String,
    /// `dialplan` or `endpoint`.
    pub kind: String,
    /// dialplan: the context the caller continues in.
    pub context: Option<String>,
    /// dialplan: the extension.
    pub extension: Option<String>,
    /// dialplan: the priority.
    pub priority: Option<i32>,
    /// endpoint: the dial string (`PJSIP/1001`, `PJSIP/+918012345678@tata`, `Local/100@agents`).
    pub endpoint: Option<String>,
    /// endpoint: how long the agent's phone rings.
    pub ring_timeout_seconds: Option<i32>,
    /// endpoint: the caller id the agent sees (else the caller's number).
    pub caller_id: Option<String>,
    /// Spoken before transferring; `null` says "Please hold while I connect you."
    pub announce: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /api/tenants/{tid}/transfer-targets`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTransferTarget {
    pub name: String,
    /// `dialplan` or `endpoint`.
    pub kind: String,
    pub context: Option<String>,
    pub extension: Option<String>,
    /// Default 1.
    pub priority: Option<i32>,
    pub endpoint: Option<String>,
    /// Default 25, 5-120.
    pub ring_timeout_seconds: Option<i32>,
    pub caller_id: Option<String>,
    pub announce: Option<String>,
}

/// The body of `PATCH …/transfer-targets/{id}`: the given fields change (the kind stays).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferTargetPatch {
    pub name: Option<String>,
    pub context: Option<String>,
    pub extension: Option<String>,
    pub priority: Option<i32>,
    pub endpoint: Option<String>,
    pub ring_timeout_seconds: Option<i32>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "super::ai_profiles::double_option")]
    #[schema(value_type = Option<String>)]
    pub caller_id: Option<Option<String>>,
    /// `null` goes back to the default line.
    #[serde(default, deserialize_with = "super::ai_profiles::double_option")]
    #[schema(value_type = Option<String>)]
    pub announce: Option<Option<String>>,
}

const COLUMNS: &str = "id, tenant_id, name, kind, context, extension, priority, endpoint, \
    ring_timeout_seconds, caller_id, announce, created_at, updated_at";

impl Store {
    /// Inserts a target; the kind's fields are checked by the caller and the schema.
    pub async fn create_transfer_target(
        &self,
        tenant_id: Uuid,
        t: &NewTransferTarget,
    ) -> Result<TransferTarget, StoreError> {
        let dialplan = t.kind == "dialplan";
        let sql = format!(
            "INSERT INTO transfer_targets (tenant_id, name, kind, context, extension, priority, \
             endpoint, ring_timeout_seconds, caller_id, announce) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(&t.name)
            .bind(&t.kind)
            .bind(&t.context)
            .bind(&t.extension)
            .bind(if dialplan {
                Some(t.priority.unwrap_or(1))
            } else {
                None
            })
            .bind(&t.endpoint)
            .bind(if dialplan {
                None
            } else {
                Some(
                    t.ring_timeout_seconds
                        .unwrap_or(DEFAULT_RING_TIMEOUT_SECONDS),
                )
            })
            .bind(&t.caller_id)
            .bind(&t.announce)
            .fetch_one(self.pool())
            .await?)
    }

    /// A tenant's targets, by name.
    pub async fn list_transfer_targets(
        &self,
        tenant_id: Uuid,
    ) -> Result<Vec<TransferTarget>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM transfer_targets WHERE tenant_id = $1 ORDER BY name");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// One of a tenant's targets.
    pub async fn get_transfer_target(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<TransferTarget, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM transfer_targets WHERE tenant_id = $1 AND id = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Changes the given fields.
    pub async fn update_transfer_target(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        p: &TransferTargetPatch,
    ) -> Result<TransferTarget, StoreError> {
        let sql = format!(
            "UPDATE transfer_targets SET name = COALESCE($3, name), context = COALESCE($4, context), \
             extension = COALESCE($5, extension), priority = COALESCE($6, priority), \
             endpoint = COALESCE($7, endpoint), ring_timeout_seconds = COALESCE($8, ring_timeout_seconds), \
             caller_id = CASE WHEN $9 THEN $10 ELSE caller_id END, \
             announce = CASE WHEN $11 THEN $12 ELSE announce END, updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .bind(&p.name)
            .bind(&p.context)
            .bind(&p.extension)
            .bind(p.priority)
            .bind(&p.endpoint)
            .bind(p.ring_timeout_seconds)
            .bind(p.caller_id.is_some())
            .bind(p.caller_id.clone().flatten())
            .bind(p.announce.is_some())
            .bind(p.announce.clone().flatten())
            .fetch_one(self.pool())
            .await?)
    }

    /// Deletes one of a tenant's targets.
    pub async fn delete_transfer_target(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM transfer_targets WHERE tenant_id = $1 AND id = $2")
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
