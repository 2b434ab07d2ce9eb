//! `/api/tenants/{tid}/webhooks`: a tenant's webhook endpoints and their deliveries. The
//! URL must be http(s) and (unless `VCA_WEBHOOK_ALLOW_PRIVATE=true`) must not be or resolve
//! to a private address; events are from the four call events; the secret is write-only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, parse_id};
use super::phone_numbers::tenant;
use crate::store::outbox::Delivery;
use crate::store::webhooks::{EVENT_TYPES, NewWebhook, Webhook, WebhookPatch};
use crate::webhooks::address::check_url;

async fn check_webhook_url(app: &AppState, url: Option<&str>) -> Result<(), ApiError> {
    let Some(url) = url else {
        return Ok(());
    };
    if url.len() > 2000 {
        return Err(ApiError::BadRequest(
            "url must be at most 2000 characters".into(),
        ));
    }
    check_url(url, app.webhook_allow_private())
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The events, checked and without repeats (in the order given).
fn check_events(events: Option<&[String]>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(events) = events else {
        return Ok(None);
    };
    if events.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "events must list at least one of {}",
            EVENT_TYPES.join(", ")
        )));
    }
    let mut unique: Vec<String> = Vec::new();
    for e in events {
        if !EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "events: {e:?} is not an event; use {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if !unique.contains(e) {
            unique.push(e.clone());
        }
    }
    Ok(Some(unique))
}

fn check_secret(secret: Option<&str>) -> Result<(), ApiError> {
    match secret {
        Some(s) if s.is_empty() || s.len() > 500 => Err(ApiError::BadRequest(
            "secret must have 1 to 500 characters".into(),
        )),
        _ => Ok(()),
    }
}

/// Add a webhook.
#[utoipa::path(post, path = "/api/tenants/{tid}/webhooks", tag = "webhooks",
    request_body = NewWebhook, params(("tid" = uuid::Uuid, Path)),
    responses((status = 201, body = Webhook), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiJson(mut body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    let tid = tenant(&app, &tid).await?;
    if let Some(events) = check_events(Some(&body.events))? {
        body.events = events;
    }
    check_secret(Some(&body.secret))?;
    check_webhook_url(&app, Some(&body.url)).await?;
    let w = app.store().create_webhook(tid, &body).await?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// List a tenant's webhooks.
#[utoipa::path(get, path = "/api/tenants/{tid}/webhooks", tag = "webhooks",
    params(("tid" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<Webhook>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    Ok(Json(app.store().list_webhooks(tid).await?))
}

/// Read one webhook.
#[utoipa::path(get, path = "/api/tenants/{tid}/webhooks/{id}", tag = "webhooks",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Webhook), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<Json<Webhook>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    Ok(Json(app.store().get_webhook(tid, id).await?))
}

/// Change a webhook.
#[utoipa::path(patch, path = "/api/tenants/{tid}/webhooks/{id}", tag = "webhooks",
    request_body = WebhookPatch, params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Webhook), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
    ApiJson(mut body): ApiJson<WebhookPatch>,
) -> Result<Json<Webhook>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    app.store().get_webhook(tid, id).await?;
    body.events = check_events(body.events.as_deref())?;
    check_secret(body.secret.as_deref())?;
    check_webhook_url(&app, body.url.as_deref()).await?;
    Ok(Json(app.store().update_webhook(tid, id, &body).await?))
}

/// Remove a webhook, with its deliveries (pending ones are not sent).
#[utoipa::path(delete, path = "/api/tenants/{tid}/webhooks/{id}", tag = "webhooks",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    app.store().delete_webhook(tid, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query parameters of the delivery list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveryParams {
    /// How many of the newest deliveries, 1-200 (default 50).
    pub limit: Option<String>,
}

/// A webhook's newest deliveries with every attempt: status codes and errors.
#[utoipa::path(get, path = "/api/tenants/{tid}/webhooks/{id}/deliveries", tag = "webhooks",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path), DeliveryParams),
    responses((status = 200, body = Vec<Delivery>), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    let limit = match params.limit.as_deref() {
        None => 50,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                return Err(ApiError::BadRequest(
                    "limit must be a number from 1 to 200".into(),
                ));
            }
        },
    };
    app.store().get_webhook(tid, id).await?;
    Ok(Json(app.store().list_deliveries(tid, id, limit).await?))
}
