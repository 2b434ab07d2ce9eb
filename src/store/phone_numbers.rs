//! The `phone_numbers` table: DIDs in E.164, each owned by exactly one tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
// SQL here is built only from this file's constant column lists; values are always bound.
use sqlx::AssertSqlSafe;

/// A phone number (DID) as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PhoneNumber {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// E.164, e.g. `+918012345678`.
    pub did_number: String,
    /// `generic` or `tata`.
    pub provider_type: String,
    /// Inactive numbers reject calls.
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Provider type values.
pub const PROVIDER_TYPES: &[&str] = &["generic", "tata"];

/// The body of `POST /api/tenants/{tid}/phone-numbers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPhoneNumber {
    /// Any common form; stored normalised to E.164.
    pub did_number: String,
    /// Defaults to `generic`.
    pub provider_type: Option<String>,
    /// Defaults to true.
    pub is_active: Option<bool>,
}

/// The body of `PATCH /api/tenants/{tid}/phone-numbers/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumberPatch {
    pub did_number: Option<String>,
    pub provider_type: Option<String>,
    pub is_active: Option<bool>,
}

const COLUMNS: &str = "id, tenant_id, did_number, provider_type, is_active, created_at, updated_at";

impl Store {
    /// Inserts a number whose `did_number` is already E.164.
    pub async fn create_phone_number(
        &self,
        tenant_id: Uuid,
        n: &NewPhoneNumber,
    ) -> Result<PhoneNumber, StoreError> {
        let sql = format!(
            "INSERT INTO phone_numbers (tenant_id, did_number, provider_type, is_active) \
             VALUES ($1, $2, COALESCE($3, 'generic'), COALESCE($4, true)) RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(&n.did_number)
            .bind(&n.provider_type)
            .bind(n.is_active)
            .fetch_one(self.pool())
            .await?)
    }

    /// A tenant's numbers, oldest first.
    pub async fn list_phone_numbers(
        &self,
        tenant_id: Uuid,
    ) -> Result<Vec<PhoneNumber>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM phone_numbers WHERE tenant_id = $1 ORDER BY created_at, id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// One of a tenant's numbers.
    pub async fn get_phone_number(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<PhoneNumber, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM phone_numbers WHERE tenant_id = $1 AND id = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Changes the given fields of one of a tenant's numbers.
    pub async fn update_phone_number(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        p: &PhoneNumberPatch,
    ) -> Result<PhoneNumber, StoreError> {
        let sql = format!(
            "UPDATE phone_numbers SET did_number = COALESCE($3, did_number), \
             provider_type = COALESCE($4, provider_type), is_active = COALESCE($5, is_active), \
             updated_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .bind(&p.did_number)
            .bind(&p.provider_type)
            .bind(p.is_active)
            .fetch_one(self.pool())
            .await?)
    }

    /// Deletes one of a tenant's numbers; its past calls keep their rows.
    pub async fn delete_phone_number(&self, tenant_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM phone_numbers WHERE tenant_id = $1 AND id = $2")
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
