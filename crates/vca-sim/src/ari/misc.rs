//! `/asterisk/info`, `/asterisk/ping` and `/applications` with the recorded bodies.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::core::Shared;
use crate::model::failure::AriFailure;
use crate::timefmt::ari_timestamp;

pub(crate) async fn info(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "build": { "os": "Linux", "kernel": "vca-sim", "machine": "x86_64", "options": "OPTIONAL_API",
                   "date": "2026-11-21 14:01:11 UTC", "user": "root" },
        "system": { "version": "22.10.1", "entity_id": s.config.asterisk_id },
        "config": { "name": "", "default_language": "en", "setid": { "user": "", "group": "" } },
        "status": { "startup_time": ari_timestamp(), "last_reload_time": ari_timestamp() },
    }))
}

pub(crate) async fn ping(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(
        json!({ "ping": "pong", "timestamp": ari_timestamp(), "asterisk_id": s.config.asterisk_id }),
    )
}

pub(crate) async fn applications(State(s): State<Arc<Shared>>) -> Json<Value> {
    let st = s.state();
    let list: Vec<Value> = st.application_json(&s.config.app).into_iter().collect();
    Json(Value::Array(list))
}

pub(crate) async fn application(
    State(s): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> Result<Json<Value>, AriFailure> {
    s.state()
        .application_json(&app)
        .map(Json)
        .ok_or_else(|| AriFailure::not_found("Application not found"))
}

/// `POST /applications/{app}/subscription?eventSource=channel:<id>` (FINDINGS 29): the app
/// keeps getting a channel's events after `StasisEnd`. Other sources are accepted and
/// ignored.
pub(crate) async fn subscribe(
    State(s): State<Arc<Shared>>,
    Path(app): Path<String>,
    p: crate::ari::params::Params,
) -> Result<Json<Value>, AriFailure> {
    let mut st = s.state();
    if st.application_json(&app).is_none() {
        return Err(AriFailure::not_found("Application not found"));
    }
    let sources = p.get("eventSource").unwrap_or_default();
    for src in sources.split(',') {
        if let Some(id) = src.trim().strip_prefix("channel:") {
            if !st.channels.contains_key(id) {
                return Err(AriFailure::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Event source was not found",
                ));
            }
            st.subscriptions.insert(id.to_owned());
        }
    }
    st.application_json(&app)
        .map(Json)
        .ok_or_else(|| AriFailure::not_found("Application not found"))
}
