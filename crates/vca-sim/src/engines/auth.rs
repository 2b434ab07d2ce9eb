//! The bearer-key check in front of every fake endpoint, and OpenAI-shaped error replies.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::EngineState;

/// Middleware: answers 401 unless the request carries the fake engines' key.
pub(crate) async fn require_key(
    State(state): State<Arc<EngineState>>,
    request: Request,
    next: Next,
) -> Response {
    if authorized(request.headers(), &state.api_key) {
        next.run(request).await
    } else {
        unauthorized()
    }
}

/// Whether `headers` carry `Authorization: Bearer {key}`.
fn authorized(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(key.as_bytes())))
}

/// `{"error": {"message", "type", "code"}}` with `status`, as the OpenAI API answers.
pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "error": { "message": message, "type": kind, "param": null, "code": null }
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// 401 for a missing or wrong key.
fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "Incorrect API key provided.",
    )
}
