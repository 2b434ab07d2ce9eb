//! Per-request limits of the admin API answered in its error shape: a URI over
//! [`MAX_URI_BYTES`] is refused with 414 before anything else runs, and a request whose
//! handler (reading the body included) is not done within the request timeout
//! (`VCA_ADMIN_REQUEST_TIMEOUT_MS`) gets 408, which also cuts off a body sent slowly.
//! The limits of the connection and the request head are the server's (`admin/server.rs`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// Bytes of URI (authority, path and query) a request may carry (414 past it).
pub const MAX_URI_BYTES: usize = 4 * 1024;

/// The URI's length as sent: the authority of an absolute-form URI, the path and query.
fn uri_len(uri: &axum::http::Uri) -> usize {
    uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len())
}

/// Refuses a URI over [`MAX_URI_BYTES`] with 414.
pub async fn bound_uri(req: Request, next: Next) -> Response {
    if uri_len(req.uri()) > MAX_URI_BYTES {
        return ApiError::UriTooLong.into_response();
    }
    next.run(req).await
}

/// Answers 408 when the rest of the request takes longer than the request timeout.
pub async fn bound_time(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(app.request_timeout(), next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_uri_length_counts_authority_path_and_query() {
        let uri: axum::http::Uri = "/api/tenants?limit=5".parse().unwrap();
        assert_eq!(uri_len(&uri), 20);
        let uri: axum::http::Uri = "http://example.com/a?b".parse().unwrap();
        assert_eq!(uri_len(&uri), "example.com".len() + "/a?b".len());
    }
}
