//! Live calls across daemons: `GET /api/calls/live` (every tenant, for the operator),
//! `GET /api/tenants/{tid}/calls/live`, and `POST /api/tenants/{tid}/calls/{id}/hangup`,
//! which asks the daemon that serves the call — this one or another — to say goodbye and
//! hang up. Read from the board the daemons keep in Redis.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::parse_id;
use super::phone_numbers::tenant;
use crate::store::live_board::{CallRequest, LiveBoard, LiveEntry};
use crate::store::redis::RedisError;

/// The live calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveCalls {
    /// Oldest first.
    pub items: Vec<LiveEntry>,
}

/// A hang-up on its way to the daemon that serves the call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HangupAccepted {
    pub call_id: Uuid,
    /// The daemon that will say goodbye and hang up.
    pub node: String,
}

fn board(app: &AppState) -> LiveBoard {
    LiveBoard::new(app.redis().clone())
}

fn unavailable(e: RedisError) -> ApiError {
    tracing::warn!(error = %e, "live calls: redis unavailable");
    ApiError::Unavailable("live calls are kept in Redis, which is not answering")
}

/// Every daemon's live calls, every tenant.
#[utoipa::path(get, path = "/api/calls/live", tag = "calls",
    responses((status = 200, body = LiveCalls), (status = 503, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_all(State(app): State<AppState>) -> Result<Json<LiveCalls>, ApiError> {
    let items = board(&app).list(None).await.map_err(unavailable)?;
    Ok(Json(LiveCalls { items }))
}

/// A tenant's live calls, on every daemon.
#[utoipa::path(get, path = "/api/tenants/{tid}/calls/live", tag = "calls",
    params(("tid" = uuid::Uuid, Path)),
    responses((status = 200, body = LiveCalls), (status = 404, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
) -> Result<Json<LiveCalls>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    let items = board(&app).list(Some(tid)).await.map_err(unavailable)?;
    Ok(Json(LiveCalls { items }))
}

/// Ends a live call politely: the agent says goodbye, then hangs up (a call bridged with a
/// human agent is hung up on both sides). 404 unless the call is live and the tenant's.
#[utoipa::path(post, path = "/api/tenants/{tid}/calls/{id}/hangup", tag = "calls",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 202, body = HangupAccepted), (status = 404, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn hangup(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<HangupAccepted>), ApiError> {
    let tid = tenant(&app, &tid).await?;
    let id = parse_id(&id)?;
    let board = board(&app);
    let entry = board
        .get(id)
        .await
        .map_err(unavailable)?
        .filter(|e| e.tenant_id == tid)
        .ok_or(ApiError::NotFound("live call"))?;
    board
        .send(&entry.node, &CallRequest::Hangup { call_id: id })
        .await
        .map_err(unavailable)?;
    tracing::info!(call_id = %id, node = %entry.node, "hang-up requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(HangupAccepted {
            call_id: id,
            node: entry.node,
        }),
    ))
}
