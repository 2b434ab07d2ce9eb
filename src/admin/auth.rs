//! Bearer-token authentication for every `/api/...` route, compared in constant time;
//! failures counted per source address ([`super::auth_limit`]) and logged with the
//! address, never with what was presented.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

/// Rejects the request with 401 unless it carries `Authorization: Bearer <token>`, and
/// with 429 while its source address is locked out for failing too often.
pub async fn require_token(State(app): State<AppState>, req: Request, next: Next) -> Response {
    // Without connection info (a router driven in-process, as in tests) nothing is counted.
    let source: Option<IpAddr> = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let now = Instant::now();
    if let Some(wait) = source.and_then(|s| app.auth_failures().locked_out(s, now)) {
        return ApiError::TooManyFailures {
            retry_after_secs: wait.as_secs().max(1),
        }
        .into_response();
    }
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if token_matches(token, app.admin_token()) => next.run(req).await,
        _ => {
            let failures = source.map(|s| app.auth_failures().record(s, now));
            metrics::counter!("vca_admin_auth_failures_total").increment(1);
            tracing::warn!(source = ?source, failures, path = req.uri().path(), "admin API: authentication failed");
            ApiError::Unauthorized.into_response()
        }
    }
}

fn token_matches(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn compares_whole_tokens() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
        assert!(!token_matches("", ""));
    }
}
