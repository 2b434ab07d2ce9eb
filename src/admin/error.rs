//! The one error type of the admin API: every failure becomes
//! `{"error": {"code": "...", "message": "..."}}` with a fitting status. Messages are
//! safe to show; database details go to the log, never into a response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// An API failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed or a value is not allowed (400).
    #[error("{0}")]
    BadRequest(String),
    /// No or wrong bearer token (401).
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// A valid credential that may not do this: a tenant key on an operator route, or a
    /// viewer key writing (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Too many failed authentications from this address (429 with `Retry-After`).
    #[error("too many failed authentications from this address; retry after {retry_after_secs} s")]
    TooManyFailures { retry_after_secs: u64 },
    /// No such resource for this tenant, or no such route (404).
    #[error("{0}")]
    NotFound(&'static str),
    /// The method is not allowed on this route (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A uniqueness rule refused the change (409).
    #[error("{0}")]
    Conflict(&'static str),
    /// The requested byte range is outside the resource (416, `Content-Range: bytes */total`).
    #[error("the range is outside the {total} bytes of the recording")]
    RangeNotSatisfiable { total: u64 },
    /// The body is over the limit (413).
    #[error("request body is larger than 64 KiB")]
    PayloadTooLarge,
    /// The URI is over the limit (414).
    #[error("request URI is longer than 4 KiB")]
    UriTooLong,
    /// The request was not received and answered within the request timeout (408).
    #[error("the request took too long; send it whole and promptly")]
    RequestTimeout,
    /// A dependency is down (503).
    #[error("{0}")]
    Unavailable(&'static str),
    /// Anything else (500); the detail is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// A human-readable explanation.
    pub message: String,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TooManyFailures { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UriTooLong => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::RangeNotSatisfiable { .. } => {
                (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "admin API request failed");
        }
        let mut resp = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code,
                    message: self.to_string(),
                },
            }),
        )
            .into_response();
        if let ApiError::TooManyFailures { retry_after_secs } = &self {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(*retry_after_secs),
            );
        }
        if let ApiError::RangeNotSatisfiable { total } = &self
            && let Ok(v) = axum::http::HeaderValue::from_str(&format!("bytes */{total}"))
        {
            resp.headers_mut()
                .insert(axum::http::header::CONTENT_RANGE, v);
        }
        if status == StatusCode::UNAUTHORIZED
            && let Ok(v) = axum::http::HeaderValue::from_str("Bearer")
        {
            resp.headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found"),
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::Invalid(constraint) => ApiError::BadRequest(format!(
                "a value is out of its allowed range ({constraint})"
            )),
            StoreError::Database(e) if is_unavailable(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable("the database is unavailable; try again shortly")
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
    )
}
