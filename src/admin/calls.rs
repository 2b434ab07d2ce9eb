//! `/api/tenants/{tid}/calls`: a tenant's call history, newest first, with cursor
//! pagination; one call with its events and transcript.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiQuery, parse_id};
use super::page;
use super::phone_numbers::tenant;
use super::validate::one_of;
use crate::store::calls::{Call, CallDetail, CallQuery, STATUSES};

/// Query parameters of the call list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Only calls in this status.
    pub status: Option<String>,
    /// Only calls started at or after this time (RFC 3339).
    pub from: Option<String>,
    /// Only calls started before this time (RFC 3339).
    pub to: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<String>,
}

/// One page of calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallPage {
    pub items: Vec<Call>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn parse_time(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::BadRequest(format!(
                    "{field} must be an RFC 3339 time such as 2026-11-21T14:00:00Z"
                ))
            })
    })
    .transpose()
}

/// List a tenant's calls, newest first.
#[utoipa::path(get, path = "/api/tenants/{tid}/calls", tag = "calls",
    params(("tid" = uuid::Uuid, Path), ListParams),
    responses((status = 200, body = CallPage), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<CallPage>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    one_of("status", params.status.as_deref(), STATUSES)?;
    let limit = page::limit(params.limit.as_deref())?;
    let query = CallQuery {
        status: params.status,
        from: parse_time("from", params.from.as_deref())?,
        to: parse_time("to", params.to.as_deref())?,
        after: params
            .cursor
            .as_deref()
            .map(page::decode_cursor)
            .transpose()?,
        limit,
    };
    let (items, more) = app.store().list_calls(tid, &query).await?;
    let next_cursor = if more {
        items
            .last()
            .map(|c| page::encode_cursor(c.started_at, c.id))
    } else {
        None
    };
    Ok(Json(CallPage { items, next_cursor }))
}

/// Read one call with its events and transcript turns, in order.
#[utoipa::path(get, path = "/api/tenants/{tid}/calls/{id}", tag = "calls",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = CallDetail), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<Json<CallDetail>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    Ok(Json(app.store().get_call(tid, id).await?))
}
