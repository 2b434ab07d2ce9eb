//! HTTP plumbing shared by the HTTP providers: the client, status → error mapping, and
//! reading the next body chunk under an idle limit.

use std::time::Duration;

use bytes::Bytes;

use super::error::EngineError;
use super::resilience::{Timeouts, parse_retry_after};

/// A client with the connect timeout of `timeouts` (one per provider; it pools
/// connections). Fails only if the TLS backend cannot start.
pub fn client(provider: &'static str, timeouts: &Timeouts) -> Result<reqwest::Client, EngineError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .map_err(|_| EngineError::Unavailable {
            provider,
            reason: "cannot build the HTTP client (TLS backend)".into(),
        })
}

/// Sends a request and turns a failure or an error status into an [`EngineError`].
pub async fn send(
    provider: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, EngineError> {
    let response = request
        .send()
        .await
        .map_err(|e| EngineError::from_reqwest(provider, "response headers", &e))?;
    check_status(provider, response)
}

/// Maps 401/403 to [`EngineError::Auth`], other 4xx/5xx to [`EngineError::Http`].
pub fn check_status(
    provider: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, EngineError> {
    let status = response.status().as_u16();
    match status {
        200..=299 => Ok(response),
        _ => Err(status_error(provider, status, response.headers())),
    }
}

/// Our error for a refusal with `status` (an HTTP response or a refused WebSocket
/// upgrade): 401/403 → [`EngineError::Auth`], anything else → [`EngineError::Http`] with
/// its `Retry-After`.
pub fn status_error(
    provider: &'static str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
) -> EngineError {
    match status {
        401 | 403 => EngineError::Auth { provider, status },
        _ => EngineError::Http {
            provider,
            status,
            retry_after: headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after),
        },
    }
}

/// The next chunk of a body within `limit`; `Ok(None)` at a clean end.
pub async fn next_chunk(
    provider: &'static str,
    response: &mut reqwest::Response,
    limit: Duration,
    stage: &'static str,
) -> Result<Option<Bytes>, EngineError> {
    match tokio::time::timeout(limit, response.chunk()).await {
        Err(_) => Err(EngineError::Timeout { provider, stage }),
        Ok(Err(e)) => Err(EngineError::from_reqwest(provider, stage, &e)),
        Ok(Ok(chunk)) => Ok(chunk),
    }
}
