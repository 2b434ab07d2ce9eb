//! `/api/tenants/{tid}/transfer-targets`: where a tenant's calls can be handed to a person —
//! a place in the dialplan (a queue, a ring group) or an endpoint the daemon dials.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, parse_id};
use super::phone_numbers::tenant;
use super::validate::range;
use crate::store::transfer_targets::{NewTransferTarget, TransferTarget, TransferTargetPatch};

/// `[a-z0-9-]{1,40}`.
pub(super) fn valid_target_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check_name(name: Option<&str>) -> Result<(), ApiError> {
    match name {
        Some(n) if !valid_target_name(n) => Err(ApiError::BadRequest(
            "name must be 1 to 40 of a-z, 0-9 and -".into(),
        )),
        _ => Ok(()),
    }
}

/// A dialplan context or extension: what Asterisk's dialplan allows, nothing that a dial
/// string or a function call would read as a separator.
fn check_dialplan_part(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v)
            if v.is_empty()
                || v.len() > 80
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.+-*#".contains(c)) =>
        {
            Err(ApiError::BadRequest(format!(
                "{field} must be 1 to 80 of letters, digits and _ . + - * #"
            )))
        }
        _ => Ok(()),
    }
}

/// `Tech/resource` (`PJSIP/1001`, `PJSIP/+918012345678@tata`, `Local/100@agents`), with
/// none of the characters Asterisk dial strings treat specially (`&`, `,`, `|`, `(`, `)`).
fn check_endpoint(value: Option<&str>) -> Result<(), ApiError> {
    let Some(v) = value else { return Ok(()) };
    let ok = v.split_once('/').is_some_and(|(tech, resource)| {
        !tech.is_empty()
            && tech.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && tech.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && (1..=120).contains(&resource.len())
            && resource
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.+@:-".contains(c))
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "endpoint must be Tech/resource, e.g. PJSIP/1001 or Local/100@agents, with no & , | ( )"
                .into(),
        ))
    }
}

fn check_caller_id(value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > 80 || v.chars().any(char::is_control) => {
            Err(ApiError::BadRequest(
                "caller_id must be 1 to 80 printable characters".into(),
            ))
        }
        _ => Ok(()),
    }
}

fn check_announce(value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) if v.chars().count() > 500 => Err(ApiError::BadRequest(
            "announce must be at most 500 characters".into(),
        )),
        _ => Ok(()),
    }
}

/// Add a transfer target.
#[utoipa::path(post, path = "/api/tenants/{tid}/transfer-targets", tag = "transfer targets",
    request_body = NewTransferTarget, params(("tid" = uuid::Uuid, Path)),
    responses((status = 201, body = TransferTarget), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiJson(body): ApiJson<NewTransferTarget>,
) -> Result<(StatusCode, Json<TransferTarget>), ApiError> {
    let tid = tenant(&app, &tid).await?;
    check_name(Some(&body.name))?;
    match body.kind.as_str() {
        "dialplan" => {
            if body.context.is_none() || body.extension.is_none() {
                return Err(ApiError::BadRequest(
                    "a dialplan target needs context and extension".into(),
                ));
            }
            if body.endpoint.is_some()
                || body.ring_timeout_seconds.is_some()
                || body.caller_id.is_some()
            {
                return Err(ApiError::BadRequest(
                    "endpoint, ring_timeout_seconds and caller_id belong to endpoint targets"
                        .into(),
                ));
            }
        }
        "endpoint" => {
            if body.endpoint.is_none() {
                return Err(ApiError::BadRequest(
                    "an endpoint target needs endpoint".into(),
                ));
            }
            if body.context.is_some() || body.extension.is_some() || body.priority.is_some() {
                return Err(ApiError::BadRequest(
                    "context, extension and priority belong to dialplan targets".into(),
                ));
            }
        }
        _ => {
            return Err(ApiError::BadRequest(
                "kind must be one of dialplan, endpoint".into(),
            ));
        }
    }
    check_dialplan_part("context", body.context.as_deref())?;
    check_dialplan_part("extension", body.extension.as_deref())?;
    range("priority", body.priority, 1, 10_000)?;
    check_endpoint(body.endpoint.as_deref())?;
    range("ring_timeout_seconds", body.ring_timeout_seconds, 5, 120)?;
    check_caller_id(body.caller_id.as_deref())?;
    check_announce(body.announce.as_deref())?;
    let t = app.store().create_transfer_target(tid, &body).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// List a tenant's transfer targets.
#[utoipa::path(get, path = "/api/tenants/{tid}/transfer-targets", tag = "transfer targets",
    params(("tid" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<TransferTarget>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
) -> Result<Json<Vec<TransferTarget>>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    Ok(Json(app.store().list_transfer_targets(tid).await?))
}

/// Read one transfer target.
#[utoipa::path(get, path = "/api/tenants/{tid}/transfer-targets/{id}", tag = "transfer targets",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = TransferTarget), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<Json<TransferTarget>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    Ok(Json(app.store().get_transfer_target(tid, id).await?))
}

/// Change a transfer target (its kind stays; fields of the other kind are refused).
#[utoipa::path(patch, path = "/api/tenants/{tid}/transfer-targets/{id}", tag = "transfer targets",
    request_body = TransferTargetPatch, params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = TransferTarget), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TransferTargetPatch>,
) -> Result<Json<TransferTarget>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    let current = app.store().get_transfer_target(tid, id).await?;
    check_name(body.name.as_deref())?;
    let endpoint_fields =
        body.endpoint.is_some() || body.ring_timeout_seconds.is_some() || body.caller_id.is_some();
    let dialplan_fields =
        body.context.is_some() || body.extension.is_some() || body.priority.is_some();
    if (current.kind == "dialplan" && endpoint_fields)
        || (current.kind == "endpoint" && dialplan_fields)
    {
        return Err(ApiError::BadRequest(format!(
            "this is a {} target: those fields belong to the other kind",
            current.kind
        )));
    }
    check_dialplan_part("context", body.context.as_deref())?;
    check_dialplan_part("extension", body.extension.as_deref())?;
    range("priority", body.priority, 1, 10_000)?;
    check_endpoint(body.endpoint.as_deref())?;
    range("ring_timeout_seconds", body.ring_timeout_seconds, 5, 120)?;
    check_caller_id(body.caller_id.clone().flatten().as_deref())?;
    check_announce(body.announce.clone().flatten().as_deref())?;
    if body.name.as_deref().is_some_and(|n| n != current.name)
        && app
            .store()
            .profiles_using_target(tid, &current.name)
            .await?
            > 0
    {
        return Err(ApiError::Conflict(
            "an AI profile's keypad map names this target: change the map first",
        ));
    }
    Ok(Json(
        app.store().update_transfer_target(tid, id, &body).await?,
    ))
}

/// Remove a transfer target; refused while an AI profile's keypad map names it.
#[utoipa::path(delete, path = "/api/tenants/{tid}/transfer-targets/{id}", tag = "transfer targets",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    let current = app.store().get_transfer_target(tid, id).await?;
    if app
        .store()
        .profiles_using_target(tid, &current.name)
        .await?
        > 0
    {
        return Err(ApiError::Conflict(
            "an AI profile's keypad map names this target: change the map first",
        ));
    }
    app.store().delete_transfer_target(tid, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
