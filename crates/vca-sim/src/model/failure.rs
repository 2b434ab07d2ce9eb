//! An ARI error answer: status plus the recorded JSON body (`{"message": …}`, or
//! `{"error": …}` for the one case Asterisk uses that key).

use axum::http::StatusCode;
use serde_json::json;

/// A failed ARI request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AriFailure {
    pub(crate) status: StatusCode,
    pub(crate) body: serde_json::Value,
}

impl AriFailure {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AriFailure {
            status,
            body: json!({ "message": message.into() }),
        }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub(crate) fn channel_not_found() -> Self {
        Self::not_found("Channel not found")
    }
    pub(crate) fn bridge_not_found() -> Self {
        Self::not_found("Bridge not found")
    }
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error prevented this request from being handled",
        )
    }
}

pub(crate) type AriResult<T> = Result<T, AriFailure>;
