//! `/api/tenants/{tid}/api-keys`: a tenant's API keys. Creating one answers with the key
//! itself, once; afterwards only its prefix, role and times are shown. Deleting a key
//! revokes it at once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, parse_id};
use super::page;
use super::phone_numbers::tenant;
use super::tenant_key;
use super::validate::{non_blank, one_of};
use crate::store::api_keys::{ApiKey, KeyQuery, NewApiKey, ROLES};

/// A key just created: what the list shows, and the key, which is never shown again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// `vcak_<id>_<secret>`: send it as `Authorization: Bearer <key>`. Shown only here.
    #[schema(format = Password)]
    pub key: String,
}

/// Query parameters of the key list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<String>,
}

/// One page of keys, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyPage {
    pub items: Vec<ApiKey>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn check(body: &NewApiKey) -> Result<(), ApiError> {
    non_blank("name", Some(&body.name))?;
    one_of("role", Some(&body.role), ROLES)?;
    match body.expires_at {
        Some(at) if at <= Utc::now() => Err(ApiError::BadRequest(
            "expires_at must be in the future".into(),
        )),
        _ => Ok(()),
    }
}

/// Create a key; the response carries the key, once.
#[utoipa::path(post, path = "/api/tenants/{tid}/api-keys", tag = "api keys",
    request_body = NewApiKey, params(("tid" = uuid::Uuid, Path)),
    responses((status = 201, body = CreatedApiKey), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let tid = tenant(&app, &tid).await?;
    check(&body)?;
    let id = Uuid::new_v4();
    let minted = tenant_key::mint(id);
    let api_key = app
        .store()
        .create_api_key(tid, id, &body, &minted.secret_sha256)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            api_key,
            key: minted.key,
        }),
    ))
}

/// List a tenant's keys, newest first (never the keys themselves).
#[utoipa::path(get, path = "/api/tenants/{tid}/api-keys", tag = "api keys",
    params(("tid" = uuid::Uuid, Path), ListParams),
    responses((status = 200, body = ApiKeyPage), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ApiKeyPage>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    let query = KeyQuery {
        after: params
            .cursor
            .as_deref()
            .map(page::decode_cursor)
            .transpose()?,
        limit: page::limit(params.limit.as_deref())?,
    };
    let (items, more) = app.store().list_api_keys(tid, &query).await?;
    let next_cursor = if more {
        items
            .last()
            .map(|k| page::encode_cursor(k.created_at, k.id))
    } else {
        None
    };
    Ok(Json(ApiKeyPage { items, next_cursor }))
}

/// Read one key (never the key itself).
#[utoipa::path(get, path = "/api/tenants/{tid}/api-keys/{id}", tag = "api keys",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ApiKey), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<Json<ApiKey>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    Ok(Json(app.store().get_api_key(tid, id).await?))
}

/// Delete a key: from then on it is refused with 401.
#[utoipa::path(delete, path = "/api/tenants/{tid}/api-keys/{id}", tag = "api keys",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    app.store().delete_api_key(tid, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
