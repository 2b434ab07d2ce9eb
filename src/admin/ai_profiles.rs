//! `/api/tenants/{tid}/ai-profiles`: how a tenant's agent behaves on calls.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, parse_id};
use super::phone_numbers::tenant;
use super::validate::{non_blank, one_of, range};
use crate::store::ai_profiles::{AiProfile, AiProfilePatch, NewAiProfile, ROLES};

/// Checks shared by create and update; `None` means "not given".
struct Fields<'a> {
    name: Option<&'a str>,
    role: Option<&'a str>,
    system_prompt: Option<&'a str>,
    language: Option<&'a str>,
    max_turns: Option<i32>,
    max_duration_seconds: Option<i32>,
    endpointing_silence_ms: Option<i32>,
}

fn check(f: Fields<'_>) -> Result<(), ApiError> {
    non_blank("name", f.name)?;
    one_of("role", f.role, ROLES)?;
    if let Some(p) = f.system_prompt
        && p.trim().is_empty()
    {
        return Err(ApiError::BadRequest(
            "system_prompt must not be empty".into(),
        ));
    }
    if let Some(l) = f.language
        && !(2..=35).contains(&l.len())
    {
        return Err(ApiError::BadRequest(
            "language must be a language tag such as en or en-IN".into(),
        ));
    }
    range("max_turns", f.max_turns, 1, 1000)?;
    range("max_duration_seconds", f.max_duration_seconds, 10, 86_400)?;
    range(
        "endpointing_silence_ms",
        f.endpointing_silence_ms,
        100,
        5000,
    )
}

/// Create an AI profile. The tenant's first profile becomes its default unless
/// `is_default` says otherwise; `is_default: true` moves the default here.
#[utoipa::path(post, path = "/api/tenants/{tid}/ai-profiles", tag = "ai profiles",
    request_body = NewAiProfile, params(("tid" = uuid::Uuid, Path)),
    responses((status = 201, body = AiProfile), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiJson(body): ApiJson<NewAiProfile>,
) -> Result<(StatusCode, Json<AiProfile>), ApiError> {
    let tid = tenant(&app, &tid).await?;
    check(Fields {
        name: Some(&body.name),
        role: body.role.as_deref(),
        system_prompt: Some(&body.system_prompt),
        language: body.language.as_deref(),
        max_turns: body.max_turns,
        max_duration_seconds: body.max_duration_seconds,
        endpointing_silence_ms: body.endpointing_silence_ms,
    })?;
    let p = app.store().create_ai_profile(tid, &body).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// List a tenant's AI profiles.
#[utoipa::path(get, path = "/api/tenants/{tid}/ai-profiles", tag = "ai profiles",
    params(("tid" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<AiProfile>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
) -> Result<Json<Vec<AiProfile>>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    Ok(Json(app.store().list_ai_profiles(tid).await?))
}

/// Read one of a tenant's AI profiles.
#[utoipa::path(get, path = "/api/tenants/{tid}/ai-profiles/{id}", tag = "ai profiles",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AiProfile), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<Json<AiProfile>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    Ok(Json(app.store().get_ai_profile(tid, id).await?))
}

/// Change an AI profile.
#[utoipa::path(patch, path = "/api/tenants/{tid}/ai-profiles/{id}", tag = "ai profiles",
    request_body = AiProfilePatch, params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AiProfile), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AiProfilePatch>,
) -> Result<Json<AiProfile>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    check(Fields {
        name: body.name.as_deref(),
        role: body.role.as_deref(),
        system_prompt: body.system_prompt.as_deref(),
        language: body.language.as_deref(),
        max_turns: body.max_turns,
        max_duration_seconds: body.max_duration_seconds,
        endpointing_silence_ms: body.endpointing_silence_ms,
    })?;
    Ok(Json(app.store().update_ai_profile(tid, id, &body).await?))
}

/// Delete an AI profile. Deleting the default leaves the tenant without one, and its
/// calls are rejected until another profile is made the default.
#[utoipa::path(delete, path = "/api/tenants/{tid}/ai-profiles/{id}", tag = "ai profiles",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    app.store().delete_ai_profile(tid, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
