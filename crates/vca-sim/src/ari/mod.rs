//! The ARI HTTP surface under `/ari`: routes, authentication, readiness gate, request log,
//! error bodies and the events WebSocket.
//!
//! - `gate.rs`: middleware: not-ready 404, basic auth / `api_key`, request log.
//! - `params.rs`: parameters from the query string or a JSON body (both work on Asterisk).
//! - `channels.rs`, `bridges.rs`, `misc.rs`: the routes. `events.rs`: the WebSocket.

mod base64;
mod bridges;
mod channels;
mod events;
mod gate;
mod misc;
mod params;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::core::Shared;
use crate::model::failure::AriFailure;

impl IntoResponse for AriFailure {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// `/ari/...` routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/asterisk/info", get(misc::info))
        .route("/asterisk/ping", get(misc::ping))
        .route("/applications", get(misc::applications))
        .route("/applications/{app}", get(misc::application))
        .route("/applications/{app}/subscription", post(misc::subscribe))
        .route("/channels", get(channels::list).post(channels::originate))
        .route("/channels/externalMedia", post(channels::external_media))
        .route(
            "/channels/{id}",
            get(channels::get_one).delete(channels::hangup),
        )
        .route("/channels/{id}/answer", post(channels::answer))
        .route(
            "/channels/{id}/continue",
            post(channels::continue_in_dialplan),
        )
        .route(
            "/channels/{id}/variable",
            get(channels::get_variable).post(channels::set_variable),
        )
        .route("/channels/{id}/play", post(channels::play))
        .route(
            "/channels/{id}/moh",
            post(channels::moh_start).delete(channels::moh_stop),
        )
        .route(
            "/channels/{id}/hold",
            post(channels::moh_start).delete(channels::moh_stop),
        )
        .route("/channels/{id}/redirect", post(channels::redirect))
        .route("/channels/{id}/dtmf", post(channels::dtmf))
        .route(
            "/channels/{id}/rtp_statistics",
            get(channels::rtp_statistics),
        )
        .route("/bridges", get(bridges::list).post(bridges::create))
        .route(
            "/bridges/{id}",
            get(bridges::get_one).delete(bridges::destroy),
        )
        .route("/bridges/{id}/addChannel", post(bridges::add_channel))
        .route("/bridges/{id}/removeChannel", post(bridges::remove_channel))
        .route(
            "/bridges/{id}/moh",
            post(bridges::moh_start).delete(bridges::moh_stop),
        )
        .route("/events", get(events::upgrade))
        .fallback(resource_not_found)
        .method_not_allowed_fallback(invalid_method)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            gate::gate_auth_log,
        ))
        .with_state(shared)
}

async fn resource_not_found() -> AriFailure {
    AriFailure::not_found("Resource not found")
}

async fn invalid_method() -> AriFailure {
    AriFailure::new(StatusCode::METHOD_NOT_ALLOWED, "Invalid method")
}

/// 204 No Content.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Asterisk's HTML error page (used for the WebSocket `app` check and not-ready 404s).
pub(crate) fn html_error(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n<title>{code} {title}</title>\r\n</head><body>\r\n<h1>{title}</h1>\r\n<p>{text}</p>\r\n<hr />\r\n<address>Asterisk</address>\r\n</body></html>\r\n",
        code = status.as_u16()
    );
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html")],
        body,
    )
        .into_response()
}
