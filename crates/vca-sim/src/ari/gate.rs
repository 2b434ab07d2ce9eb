//! Middleware in front of every `/ari` route: 404 while ARI is "not loaded" (restart),
//! 401 `Authentication required` without valid basic auth or `api_key`, a failure a test
//! injected ([`crate::SimHandle::fail_next`]), and the request log entry (method, path,
//! parameters, status).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ari::base64;
use crate::ari::params::Params;
use crate::core::Shared;
use crate::model::failure::AriFailure;
use crate::model::request_log::RestRequest;

fn authorized(shared: &Shared, req: &Request, params: &Params) -> bool {
    let expected = format!("{}:{}", shared.config.user, shared.config.password);
    if let Some(key) = params.query.get("api_key") {
        return *key == expected;
    }
    let Some(value) = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, cred)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("basic")
        && base64::decode(cred.trim()).is_some_and(|d| d == expected.as_bytes())
}

pub(crate) async fn gate_auth_log(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let params = Params::parse(parts.uri.query(), &bytes);
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    let response = if !shared.ari_ready() {
        super::html_error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "The requested URL was not found on this server.",
        )
    } else if !authorized(&shared, &req, &params) {
        AriFailure::new(StatusCode::UNAUTHORIZED, "Authentication required").into_response()
    } else if let Some(status) = shared.take_fault(&method, &path) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        AriFailure::new(status, "injected failure").into_response()
    } else {
        next.run(req).await
    };
    shared.log_request(RestRequest {
        method,
        path,
        query: params.query,
        body: params.body,
        status: response.status().as_u16(),
    });
    response
}
