//! `/api/tenants/{tid}/tools`: a tenant's HTTP tools — functions of the business's own
//! systems the model may call during a call. The parameters must compile as a JSON Schema
//! object; the secret is write-only (`has_secret` shows it is set).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, parse_id};
use super::phone_numbers::tenant;
use super::validate::range;
use crate::conversation::profile::{END_CALL, TRANSFER_CALL};
use crate::store::tools::{NewTool, Tool, ToolPatch};
use crate::tools::compile_parameters;

/// `[a-z][a-z0-9_]{0,63}`, and not a built-in tool's name.
pub(super) fn valid_tool_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_name(name: Option<&str>) -> Result<(), ApiError> {
    match name {
        Some(n) if n == TRANSFER_CALL || n == END_CALL => Err(ApiError::BadRequest(format!(
            "{n} is a built-in tool: choose another name"
        ))),
        Some(n) if !valid_tool_name(n) => Err(ApiError::BadRequest(
            "name must start with a-z and have at most 64 of a-z, 0-9 and _".into(),
        )),
        _ => Ok(()),
    }
}

fn check_fields(
    description: Option<&str>,
    parameters: Option<&serde_json::Value>,
    url: Option<&str>,
    timeout_ms: Option<i32>,
    secret: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(d) = description
        && (d.trim().is_empty() || d.chars().count() > 1000)
    {
        return Err(ApiError::BadRequest(
            "description must have 1 to 1000 characters".into(),
        ));
    }
    if let Some(p) = parameters {
        if p.get("type").and_then(|t| t.as_str()) != Some("object") {
            return Err(ApiError::BadRequest(
                "parameters must be a JSON Schema object with \"type\": \"object\"".into(),
            ));
        }
        compile_parameters(p).map_err(|e| ApiError::BadRequest(format!("parameters: {e}")))?;
    }
    if let Some(u) = url {
        let ok = url::Url::parse(u).is_ok_and(|parsed| {
            matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some()
        });
        if !ok || u.len() > 2000 {
            return Err(ApiError::BadRequest(
                "url must be an http or https URL".into(),
            ));
        }
    }
    range("timeout_ms", timeout_ms, 100, 10_000)?;
    if let Some(s) = secret
        && (s.is_empty() || s.len() > 500)
    {
        return Err(ApiError::BadRequest(
            "secret must have 1 to 500 characters".into(),
        ));
    }
    Ok(())
}

/// Add a tool.
#[utoipa::path(post, path = "/api/tenants/{tid}/tools", tag = "tools",
    request_body = NewTool, params(("tid" = uuid::Uuid, Path)),
    responses((status = 201, body = Tool), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiJson(body): ApiJson<NewTool>,
) -> Result<(StatusCode, Json<Tool>), ApiError> {
    let tid = tenant(&app, &tid).await?;
    check_name(Some(&body.name))?;
    check_fields(
        Some(&body.description),
        Some(&body.parameters),
        Some(&body.url),
        body.timeout_ms,
        Some(&body.secret),
    )?;
    let t = app.store().create_tool(tid, &body).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// List a tenant's tools.
#[utoipa::path(get, path = "/api/tenants/{tid}/tools", tag = "tools",
    params(("tid" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<Tool>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
) -> Result<Json<Vec<Tool>>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    Ok(Json(app.store().list_tools(tid).await?))
}

/// Read one tool.
#[utoipa::path(get, path = "/api/tenants/{tid}/tools/{id}", tag = "tools",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Tool), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<Json<Tool>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    Ok(Json(app.store().get_tool(tid, id).await?))
}

/// Change a tool.
#[utoipa::path(patch, path = "/api/tenants/{tid}/tools/{id}", tag = "tools",
    request_body = ToolPatch, params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Tool), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ToolPatch>,
) -> Result<Json<Tool>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    let current = app.store().get_tool(tid, id).await?;
    check_name(body.name.as_deref())?;
    check_fields(
        body.description.as_deref(),
        body.parameters.as_ref(),
        body.url.as_deref(),
        body.timeout_ms,
        body.secret.as_deref(),
    )?;
    if body.name.as_deref().is_some_and(|n| n != current.name)
        && app.store().profiles_using_tool(tid, &current.name).await? > 0
    {
        return Err(ApiError::Conflict(
            "an AI profile lists this tool: change its tools first",
        ));
    }
    Ok(Json(app.store().update_tool(tid, id, &body).await?))
}

/// Remove a tool; refused while an AI profile lists it.
#[utoipa::path(delete, path = "/api/tenants/{tid}/tools/{id}", tag = "tools",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    let current = app.store().get_tool(tid, id).await?;
    if app.store().profiles_using_tool(tid, &current.name).await? > 0 {
        return Err(ApiError::Conflict(
            "an AI profile lists this tool: change its tools first",
        ));
    }
    app.store().delete_tool(tid, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
