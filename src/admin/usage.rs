//! `/api/tenants/{tid}/usage` and `/api/usage` (every tenant, for the operator): what the
//! calls started in `[from, to)` counted, per day or month (UTC) and in total.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::ApiQuery;
use super::phone_numbers::tenant;
use crate::store::usage::{Granularity, UsageQuery, UsageReport};

/// The longest range of a daily report.
const MAX_DAYS: i64 = 400;
/// The longest range of a monthly report.
const MAX_MONTHLY_DAYS: i64 = 3700;

/// Query parameters of a usage report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UsageParams {
    /// Calls started at or after this (RFC 3339, or a date `2026-12-01` for its UTC
    /// midnight); default 30 days (daily) or 365 days (monthly) before `to`.
    pub from: Option<String>,
    /// Calls started before this (same forms); default now.
    pub to: Option<String>,
    /// `day` (default) or `month`.
    pub granularity: Option<String>,
}

fn parse_instant(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{field} must be an RFC 3339 time such as 2026-11-21T14:00:00Z or a date such as 2026-11-21"
            ))
        })
}

fn query(params: &UsageParams, tenant_id: Option<Uuid>) -> Result<UsageQuery, ApiError> {
    let granularity = match params.granularity.as_deref() {
        None => Granularity::Day,
        Some(raw) => Granularity::parse(raw)
            .ok_or_else(|| ApiError::BadRequest("granularity must be day or month".into()))?,
    };
    let to = match params.to.as_deref() {
        Some(raw) => parse_instant("to", raw)?,
        None => Utc::now(),
    };
    let (default_days, max_days) = match granularity {
        Granularity::Day => (30, MAX_DAYS),
        Granularity::Month => (365, MAX_MONTHLY_DAYS),
    };
    let from = match params.from.as_deref() {
        Some(raw) => parse_instant("from", raw)?,
        None => to - Duration::days(default_days),
    };
    if from >= to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    if to - from > Duration::days(max_days) {
        return Err(ApiError::BadRequest(format!(
            "the range may span at most {max_days} days at this granularity"
        )));
    }
    Ok(UsageQuery {
        tenant_id,
        from,
        to,
        granularity,
    })
}

/// One tenant's usage.
#[utoipa::path(get, path = "/api/tenants/{tid}/usage", tag = "usage",
    params(("tid" = uuid::Uuid, Path), UsageParams),
    responses((status = 200, body = UsageReport), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn of_tenant(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> Result<Json<UsageReport>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    let q = query(&params, Some(tid))?;
    Ok(Json(app.store().usage(&q).await?))
}

/// Every tenant's usage together, with a line per tenant.
#[utoipa::path(get, path = "/api/usage", tag = "usage",
    params(UsageParams),
    responses((status = 200, body = UsageReport), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn all(
    State(app): State<AppState>,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> Result<Json<UsageReport>, ApiError> {
    let q = query(&params, None)?;
    Ok(Json(app.store().usage(&q).await?))
}
