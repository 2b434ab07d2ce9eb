//! `/api/tenants/{tid}/phone-numbers`: a tenant's DIDs, stored in E.164.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, parse_id};
use super::validate::one_of;
use crate::phone::normalize_e164;
use crate::store::phone_numbers::{NewPhoneNumber, PROVIDER_TYPES, PhoneNumber, PhoneNumberPatch};

/// The tenant of the path, which must exist.
pub(super) async fn tenant(app: &AppState, raw: &str) -> Result<Uuid, ApiError> {
    let id = parse_id(raw)?;
    if app.store().tenant_exists(id).await? {
        Ok(id)
    } else {
        Err(ApiError::NotFound("not found"))
    }
}

fn normalize(app: &AppState, raw: &str) -> Result<String, ApiError> {
    normalize_e164(raw, app.country_code())
        .map_err(|e| ApiError::BadRequest(format!("did_number {e}")))
}

/// Add a phone number to a tenant.
#[utoipa::path(post, path = "/api/tenants/{tid}/phone-numbers", tag = "phone numbers",
    request_body = NewPhoneNumber, params(("tid" = uuid::Uuid, Path)),
    responses((status = 201, body = PhoneNumber), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiJson(mut body): ApiJson<NewPhoneNumber>,
) -> Result<(StatusCode, Json<PhoneNumber>), ApiError> {
    let tid = tenant(&app, &tid).await?;
    one_of(
        "provider_type",
        body.provider_type.as_deref(),
        PROVIDER_TYPES,
    )?;
    body.did_number = normalize(&app, &body.did_number)?;
    let n = app.store().create_phone_number(tid, &body).await?;
    Ok((StatusCode::CREATED, Json(n)))
}

/// List a tenant's phone numbers.
#[utoipa::path(get, path = "/api/tenants/{tid}/phone-numbers", tag = "phone numbers",
    params(("tid" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<PhoneNumber>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
) -> Result<Json<Vec<PhoneNumber>>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    Ok(Json(app.store().list_phone_numbers(tid).await?))
}

/// Read one of a tenant's phone numbers.
#[utoipa::path(get, path = "/api/tenants/{tid}/phone-numbers/{id}", tag = "phone numbers",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = PhoneNumber), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<Json<PhoneNumber>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    Ok(Json(app.store().get_phone_number(tid, id).await?))
}

/// Change a phone number (DID, provider type, active flag).
#[utoipa::path(patch, path = "/api/tenants/{tid}/phone-numbers/{id}", tag = "phone numbers",
    request_body = PhoneNumberPatch, params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = PhoneNumber), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
    ApiJson(mut body): ApiJson<PhoneNumberPatch>,
) -> Result<Json<PhoneNumber>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    one_of(
        "provider_type",
        body.provider_type.as_deref(),
        PROVIDER_TYPES,
    )?;
    if let Some(raw) = &body.did_number {
        body.did_number = Some(normalize(&app, raw)?);
    }
    Ok(Json(app.store().update_phone_number(tid, id, &body).await?))
}

/// Remove a phone number; calls to it are then rejected as unallocated.
#[utoipa::path(delete, path = "/api/tenants/{tid}/phone-numbers/{id}", tag = "phone numbers",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    app.store().delete_phone_number(tid, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
