//! `/api/tenants`: create, list, read and change tenants.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, parse_id};
use super::validate::{non_blank, one_of, range};
use crate::store::tenants::{NewTenant, PLANS, STATUSES, Tenant, TenantPatch};

fn check_fields(
    name: Option<&str>,
    status: Option<&str>,
    plan: Option<&str>,
    max: Option<i32>,
    retention: Option<i32>,
) -> Result<(), ApiError> {
    non_blank("name", name)?;
    one_of("status", status, STATUSES)?;
    one_of("plan", plan, PLANS)?;
    range("max_concurrent_calls", max, 1, 10_000)?;
    range("recording_retention_days", retention, 1, 3650)
}

/// Create a tenant.
#[utoipa::path(post, path = "/api/tenants", tag = "tenants", request_body = NewTenant,
    responses((status = 201, body = Tenant), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<NewTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    check_fields(
        Some(&body.name),
        body.status.as_deref(),
        body.plan.as_deref(),
        body.max_concurrent_calls,
        body.recording_retention_days,
    )?;
    let tenant = app.store().create_tenant(&body).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// List every tenant.
#[utoipa::path(get, path = "/api/tenants", tag = "tenants",
    responses((status = 200, body = Vec<Tenant>)), security(("bearer" = [])))]
pub async fn list(State(app): State<AppState>) -> Result<Json<Vec<Tenant>>, ApiError> {
    Ok(Json(app.store().list_tenants().await?))
}

/// Read a tenant.
#[utoipa::path(get, path = "/api/tenants/{id}", tag = "tenants",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Tenant), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(app.store().get_tenant(parse_id(&id)?).await?))
}

/// Change a tenant's name, status, plan or call limit.
#[utoipa::path(patch, path = "/api/tenants/{id}", tag = "tenants", request_body = TenantPatch,
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Tenant), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TenantPatch>,
) -> Result<Json<Tenant>, ApiError> {
    let id = parse_id(&id)?;
    check_fields(
        body.name.as_deref(),
        body.status.as_deref(),
        body.plan.as_deref(),
        body.max_concurrent_calls,
        body.recording_retention_days,
    )?;
    Ok(Json(app.store().update_tenant(id, &body).await?))
}
