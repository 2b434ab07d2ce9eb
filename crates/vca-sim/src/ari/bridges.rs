//! `/bridges/...` routes: thin adapters from HTTP to the telephony model.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::ari::no_content;
use crate::ari::params::Params;
use crate::core::Shared;
use crate::model::failure::AriFailure;
use crate::model::json;

type AriResponse = Result<Response, AriFailure>;

pub(crate) async fn list(State(s): State<Arc<Shared>>) -> Json<Value> {
    let st = s.state();
    Json(Value::Array(
        st.bridges_in_order()
            .into_iter()
            .map(json::bridge)
            .collect(),
    ))
}

pub(crate) async fn get_one(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> AriResponse {
    let st = s.state();
    let b = st
        .bridges
        .get(&id)
        .ok_or_else(AriFailure::bridge_not_found)?;
    Ok(Json(json::bridge(b)).into_response())
}

pub(crate) async fn create(State(s): State<Arc<Shared>>, p: Params) -> AriResponse {
    let body = s.state().create_bridge(
        p.get("type").as_deref(),
        p.get("name").as_deref(),
        p.get("bridgeId").as_deref(),
    )?;
    Ok(Json(body).into_response())
}

pub(crate) async fn destroy(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> AriResponse {
    s.state().destroy_bridge(&id)?;
    Ok(no_content())
}

pub(crate) async fn add_channel(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    s.state().add_to_bridge(&id, p.get("channel").as_deref())?;
    Ok(no_content())
}

pub(crate) async fn remove_channel(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    s.state()
        .remove_from_bridge(&id, p.get("channel").as_deref())?;
    Ok(no_content())
}

pub(crate) async fn moh_start(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> AriResponse {
    s.state().start_bridge_moh(&id)?;
    Ok(no_content())
}

pub(crate) async fn moh_stop(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> AriResponse {
    s.state().stop_bridge_moh(&id)?;
    Ok(no_content())
}
