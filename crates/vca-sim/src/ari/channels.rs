//! `/channels/...` routes: thin adapters from HTTP to the telephony model.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::ari::no_content;
use crate::ari::params::Params;
use crate::core::Shared;
use crate::model::agents::OriginateParams;
use crate::model::channels::ExternalMediaParams;
use crate::model::failure::AriFailure;
use crate::model::json;
use crate::model::transfer::ContinueParams;

type AriResponse = Result<Response, AriFailure>;

pub(crate) async fn list(State(s): State<Arc<Shared>>) -> Json<Value> {
    let st = s.state();
    Json(Value::Array(
        st.channels_in_order()
            .into_iter()
            .map(json::channel)
            .collect(),
    ))
}

pub(crate) async fn get_one(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> AriResponse {
    Ok(Json(s.state().get_channel(&id)?).into_response())
}

pub(crate) async fn external_media(State(s): State<Arc<Shared>>, p: Params) -> AriResponse {
    let params = ExternalMediaParams {
        app: p.get("app"),
        external_host: p.get("external_host"),
        format: p.get("format"),
        encapsulation: p.get("encapsulation"),
        transport: p.get("transport"),
        connection_type: p.get("connection_type"),
        direction: p.get("direction"),
        data: p.get("data"),
        channel_id: p.get("channelId"),
        variables: p.variables(),
    };
    let (body, launch) = s.state().external_media(params)?;
    s.spawn_peer(launch);
    Ok(Json(body).into_response())
}

pub(crate) async fn hangup(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    s.state().app_hangup(
        &id,
        p.get("reason").as_deref(),
        p.get("reason_code").as_deref(),
    )?;
    Ok(no_content())
}

pub(crate) async fn answer(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> AriResponse {
    s.state().answer(&id)?;
    Ok(no_content())
}

pub(crate) async fn continue_in_dialplan(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    let params = ContinueParams {
        context: p.get("context"),
        extension: p.get("extension"),
        priority: p.get("priority"),
        label: p.get("label"),
    };
    s.state().continue_in_dialplan(&id, params)?;
    Ok(no_content())
}

pub(crate) async fn originate(State(s): State<Arc<Shared>>, p: Params) -> AriResponse {
    let params = OriginateParams {
        endpoint: p.get("endpoint"),
        app: p.get("app"),
        app_args: p.get("appArgs"),
        extension: p.get("extension"),
        channel_id: p.get("channelId"),
        other_channel_id: p.get("otherChannelId"),
        caller_id: p.get("callerId"),
        timeout: p.get("timeout"),
    };
    let mut st = s.state();
    let body = st.originate(params)?;
    st.refresh_hearing();
    Ok(Json(body).into_response())
}

pub(crate) async fn moh_start(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    s.state().start_moh(&id, p.get("mohClass").as_deref())?;
    Ok(no_content())
}

pub(crate) async fn moh_stop(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> AriResponse {
    s.state().stop_moh(&id)?;
    Ok(no_content())
}

pub(crate) async fn redirect(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    s.state().redirect(&id, p.get("endpoint").as_deref())?;
    Ok(no_content())
}

pub(crate) async fn get_variable(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    Ok(Json(s.state().get_variable(&id, p.get("variable").as_deref())?).into_response())
}

pub(crate) async fn set_variable(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    s.state()
        .set_variable(&id, p.get("variable").as_deref(), p.get("value").as_deref())?;
    Ok(no_content())
}

pub(crate) async fn play(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    let body = s.state().play(
        &id,
        p.get("media").as_deref(),
        p.get("playbackId").as_deref(),
    )?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(crate) async fn dtmf(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    p: Params,
) -> AriResponse {
    s.state().app_dtmf(&id, p.get("dtmf").as_deref())?;
    Ok(no_content())
}

pub(crate) async fn rtp_statistics(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> AriResponse {
    Ok(Json(s.state().rtp_statistics(&id)?).into_response())
}
