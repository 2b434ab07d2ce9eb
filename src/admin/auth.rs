//! Bearer authentication for every `/api/...` route: the operator token (compared in
//! constant time) or a tenant API key ([`super::tenant_key`], checked against its stored
//! hash), then what that credential may reach ([`super::access`]). Failures — no, wrong,
//! expired or deleted credentials — are counted per source address
//! ([`super::auth_limit`]) and logged with the address, never with what was presented.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use super::access::{self, Access, Principal, Role};
use super::error::ApiError;
use super::tenant_key;

/// Rejects the request with 401 unless it carries `Authorization: Bearer <credential>`, with
/// 429 while its source address is locked out for failing too often, and with 403 or 404
/// when a tenant key may not reach the route.
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
    let who = match presented {
        Some(credential) => match authenticate(&app, credential).await {
            Ok(who) => who,
            Err(e) => return e.into_response(),
        },
        None => None,
    };
    let Some(who) = who else {
        let failures = source.map(|s| app.auth_failures().record(s, now));
        let kind = match presented {
            None => "none",
            Some(c) if c.starts_with(tenant_key::PREFIX) => "tenant key",
            Some(_) => "token",
        };
        metrics::counter!("vca_admin_auth_failures_total").increment(1);
        tracing::warn!(source = ?source, failures, credential = kind, path = req.uri().path(), "admin API: authentication failed");
        return ApiError::Unauthorized.into_response();
    };
    match access::decide(who, req.method(), req.uri().path()) {
        Access::Allow => next.run(req).await,
        Access::Forbidden(why) => ApiError::Forbidden(why).into_response(),
        Access::NotFound => ApiError::NotFound("not found").into_response(),
    }
}

/// Who `credential` is: the operator, a tenant key that exists, has not expired and whose
/// secret matches, or nobody (`None`). An error only when the database cannot tell.
async fn authenticate(app: &AppState, credential: &str) -> Result<Option<Principal>, ApiError> {
    if token_matches(credential, app.admin_token()) {
        return Ok(Some(Principal::Operator));
    }
    let Some((id, secret)) = tenant_key::parse(credential) else {
        return Ok(None);
    };
    let Some(key) = app.store().api_key_credentials(id).await? else {
        return Ok(None);
    };
    if !tenant_key::secret_matches(secret, &key.secret_sha256) || key.expired {
        return Ok(None);
    }
    let Some(role) = Role::from_name(&key.role) else {
        return Ok(None);
    };
    if key.use_stale
        && let Err(e) = app.store().touch_api_key(id).await
    {
        tracing::warn!(error = %e, key_id = %id, "admin API: could not record a key's use");
    }
    Ok(Some(Principal::Tenant {
        tenant_id: key.tenant_id,
        role,
    }))
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
