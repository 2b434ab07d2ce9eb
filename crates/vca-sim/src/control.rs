//! The JSON control API under `/sim` (no auth; loopback only) that shell scripts and the
//! `vca-sim call` client use: place calls (with keys to press and hang-up triggers), hang
//! up, DTMF, agent behaviours per endpoint, drop/refuse the WebSocket, restart, and read
//! call status, what the caller and agents heard, agent legs, state and the REST log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::Shared;
use crate::error::SimError;
use crate::model::agents::AgentView;
use crate::model::hearing::{HeardKind, HeardSegment};
use crate::model::json as ari_json;
use crate::rtp::recording::RtpStats;
use crate::spec::{
    AgentBehaviour, ArgsMode, CallSpec, CallStatus, HangupWhen, Milestones, RestartSpec, Trigger,
};
use crate::wav::read_wav_8k_mono;

/// `POST /sim/calls`.
#[derive(Debug, Deserialize, Serialize)]
pub struct CallRequest {
    /// Dialled number.
    pub did: String,
    /// Calling number.
    pub caller: String,
    /// Caller speech, 8 kHz mono 16-bit WAV.
    #[serde(default)]
    pub wav: Option<PathBuf>,
    /// Silence before the speech, ms.
    #[serde(default)]
    pub pause_before_ms: Option<u64>,
    /// `transmit_silence` (default true).
    #[serde(default)]
    pub transmit_silence: Option<bool>,
    /// Caller hangs up this long after the call entered Stasis.
    #[serde(default)]
    pub hangup_after_ms: Option<u64>,
    /// Caller hangs up this long after its audio was sent.
    #[serde(default)]
    pub hangup_after_audio_ms: Option<u64>,
    /// `StasisStart.args` mode.
    #[serde(default)]
    pub args: Option<ArgsMode>,
    /// Where to write what the caller heard.
    #[serde(default)]
    pub record_to: Option<PathBuf>,
    /// Keys the caller presses by itself.
    #[serde(default)]
    pub keys: Vec<KeysRequest>,
    /// Caller hangs up when this happens (plus `hangup_on_delay_ms`).
    #[serde(default)]
    pub hangup_on: Option<Trigger>,
    /// Delay after `hangup_on`, ms.
    #[serde(default)]
    pub hangup_on_delay_ms: Option<u64>,
}

/// Keys pressed by the caller: `digits` (with `w`/`W` pauses, as SendDTMF) from `at_ms`
/// after the call entered Stasis.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct KeysRequest {
    /// Start, ms after entering Stasis.
    pub at_ms: u64,
    /// `0-9*#A-D`, `w` = 0.5 s pause, `W` = 1 s.
    pub digits: String,
    /// Per digit, ms (default 100).
    #[serde(default = "default_digit_ms")]
    pub duration_ms: u32,
}

/// `GET /sim/calls/{id}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CallView {
    /// Call (inbound channel) id.
    pub id: String,
    /// Dialled number.
    pub did: String,
    /// Calling number.
    pub caller: String,
    /// Up or ended (with who ended it).
    pub status: CallStatus,
    /// External Media channel bridged with the call.
    pub external_media_id: Option<String>,
    /// Whether the media is over (recording final and written).
    pub media_done: bool,
    /// Where the recording was written.
    pub recording_path: Option<PathBuf>,
    /// Statistics of what the app sent to the caller.
    pub rtp: Option<RtpStats>,
    /// Packets dropped by strict RTP.
    pub dropped_source: u64,
    /// Packets dropped for their payload type.
    pub dropped_payload_type: u64,
    /// Where `continue` sent the caller (`context,exten,priority`).
    #[serde(default)]
    pub dialplan_target: Option<String>,
    /// The agent leg the caller was connected to.
    #[serde(default)]
    pub agent_reached: Option<String>,
    /// What has happened so far.
    #[serde(default)]
    pub milestones: Milestones,
}

/// `GET /sim/calls/{id}/heard` and `/sim/agents/{id}/heard`.
#[derive(Debug, Serialize, Deserialize)]
pub struct HeardView {
    /// ms of the app's audio heard.
    pub app_ms: u64,
    /// ms of music on hold heard.
    pub moh_ms: u64,
    /// ms of an agent's voice heard.
    pub agent_ms: u64,
    /// ms of the caller's audio heard (agents).
    pub caller_ms: u64,
    /// The whole recording in segments.
    pub segments: Vec<HeardSegment>,
    /// Where the WAV was written (`?wav=PATH`).
    pub wav: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct AgentRequest {
    endpoint: String,
    behaviour: String,
}

#[derive(Debug, Deserialize)]
struct HeardQuery {
    wav: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct DtmfRequest {
    digits: String,
    #[serde(default = "default_digit_ms")]
    duration_ms: u32,
}

fn default_digit_ms() -> u32 {
    100
}

#[derive(Debug, Deserialize)]
struct RefuseRequest {
    ms: u64,
}

#[derive(Debug, Default, Deserialize)]
struct RestartRequest {
    drop_after_ms: Option<u64>,
    refused_ms: Option<u64>,
    not_ready_ms: Option<u64>,
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

fn sim_error(e: SimError) -> Response {
    let status = match e {
        SimError::UnknownCall(_) => StatusCode::NOT_FOUND,
        SimError::CallEnded(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, e)
}

/// `/sim/...` routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/calls", post(place_call).get(list_calls))
        .route("/calls/{id}", get(call_view))
        .route("/calls/{id}/hangup", post(hangup))
        .route("/calls/{id}/dtmf", post(dtmf))
        .route("/calls/{id}/heard", get(call_heard))
        .route("/agents", get(list_agents).post(set_agent))
        .route("/agents/{id}/hangup", post(hangup_agent))
        .route("/agents/{id}/heard", get(agent_heard))
        .route("/websocket/drop", post(drop_ws))
        .route("/websocket/refuse", post(refuse_ws))
        .route("/restart", post(restart))
        .route("/channels", get(channels))
        .route("/bridges", get(bridges))
        .route("/requests", get(requests))
        .with_state(shared)
}

async fn place_call(State(s): State<Arc<Shared>>, Json(req): Json<CallRequest>) -> Response {
    let mut spec = CallSpec::new(req.did, req.caller);
    spec.transmit_silence = req.transmit_silence.unwrap_or(true);
    spec.args = req.args;
    spec.record_to = req.record_to;
    if let Some(ms) = req.pause_before_ms {
        spec = spec.pause(Duration::from_millis(ms));
    }
    if let Some(path) = req.wav {
        match read_wav_8k_mono(&path) {
            Ok(samples) => spec = spec.speech(samples),
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        }
    }
    for k in &req.keys {
        spec = spec.keys(Duration::from_millis(k.at_ms), &k.digits, k.duration_ms);
    }
    spec.hangup = match (
        req.hangup_on,
        req.hangup_after_ms,
        req.hangup_after_audio_ms,
    ) {
        (Some(t), _, _) => HangupWhen::On(
            t,
            Duration::from_millis(req.hangup_on_delay_ms.unwrap_or(0)),
        ),
        (None, Some(ms), _) => HangupWhen::After(Duration::from_millis(ms)),
        (None, None, Some(ms)) => HangupWhen::AfterAudio(Duration::from_millis(ms)),
        (None, None, None) => HangupWhen::Never,
    };
    let placed = s.place_call(&spec);
    let status = placed.status.borrow().clone();
    (
        StatusCode::CREATED,
        Json(json!({ "id": placed.id, "status": status })),
    )
        .into_response()
}

async fn view(s: &Shared, id: &str) -> Option<CallView> {
    let mut v = {
        let st = s.state();
        let c = st.calls.get(id)?;
        CallView {
            id: c.id.clone(),
            did: c.did.clone(),
            caller: c.caller.clone(),
            status: c.status.borrow().clone(),
            external_media_id: c.em_id.clone(),
            media_done: *c.media_done.borrow(),
            recording_path: c.recording_path.clone(),
            rtp: None,
            dropped_source: 0,
            dropped_payload_type: 0,
            dialplan_target: c.dialplan_target.clone(),
            agent_reached: c.agent_reached.clone(),
            milestones: *c.milestones.borrow(),
        }
    };
    if let Some(rec) = s.recording(id).await {
        v.rtp = Some(rec.stats());
        v.dropped_source = rec.dropped_source;
        v.dropped_payload_type = rec.dropped_payload_type;
    }
    Some(v)
}

async fn call_view(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match view(&s, &id).await {
        Some(v) => Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, SimError::UnknownCall(id)),
    }
}

async fn list_calls(State(s): State<Arc<Shared>>) -> Json<Value> {
    let st = s.state();
    let mut calls: Vec<_> = st.calls.values().collect();
    calls.sort_by_key(|c| c.order);
    Json(Value::Array(
        calls
            .into_iter()
            .map(|c| json!({ "id": c.id, "did": c.did, "caller": c.caller, "status": *c.status.borrow() }))
            .collect(),
    ))
}

async fn hangup(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match s.state().caller_hangup(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sim_error(e),
    }
}

async fn dtmf(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(req): Json<DtmfRequest>,
) -> Response {
    if !s.state().calls.contains_key(&id) {
        return sim_error(SimError::UnknownCall(id));
    }
    if let Some(bad) = req
        .digits
        .chars()
        .find(|d| !matches!(d, '0'..='9' | 'A'..='D' | '*' | '#'))
    {
        return sim_error(SimError::InvalidDigit(bad));
    }
    tokio::spawn(async move {
        let _ = s.send_dtmf(&id, &req.digits, req.duration_ms).await;
    });
    StatusCode::ACCEPTED.into_response()
}

async fn drop_ws(State(s): State<Arc<Shared>>) -> Response {
    let was = s.state().drop_ws();
    Json(json!({ "dropped": was })).into_response()
}

async fn refuse_ws(State(s): State<Arc<Shared>>, Json(req): Json<RefuseRequest>) -> StatusCode {
    s.refuse_websocket(Duration::from_millis(req.ms));
    StatusCode::NO_CONTENT
}

async fn restart(State(s): State<Arc<Shared>>, body: Option<Json<RestartRequest>>) -> StatusCode {
    let req = body.map(|Json(r)| r).unwrap_or_default();
    let d = RestartSpec::default();
    let spec = RestartSpec {
        drop_after: req
            .drop_after_ms
            .map_or(d.drop_after, Duration::from_millis),
        refused_for: req.refused_ms.map_or(d.refused_for, Duration::from_millis),
        not_ready_for: req
            .not_ready_ms
            .map_or(d.not_ready_for, Duration::from_millis),
    };
    tokio::spawn(async move { s.restart(spec).await });
    StatusCode::ACCEPTED
}

async fn channels(State(s): State<Arc<Shared>>) -> Json<Value> {
    let st = s.state();
    Json(Value::Array(
        st.channels_in_order()
            .into_iter()
            .map(ari_json::channel)
            .collect(),
    ))
}

async fn bridges(State(s): State<Arc<Shared>>) -> Json<Value> {
    let st = s.state();
    Json(Value::Array(
        st.bridges_in_order()
            .into_iter()
            .map(ari_json::bridge)
            .collect(),
    ))
}

async fn requests(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(serde_json::to_value(s.requests()).unwrap_or(Value::Null))
}

fn heard_view(h: &crate::Heard, wav: Option<PathBuf>) -> Response {
    let written = match wav {
        Some(p) => match h.write_wav(&p) {
            Ok(()) => Some(p),
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        },
        None => None,
    };
    Json(HeardView {
        app_ms: h.ms(HeardKind::App),
        moh_ms: h.ms(HeardKind::Moh),
        agent_ms: h.ms(HeardKind::Agent),
        caller_ms: h.ms(HeardKind::Caller),
        segments: h.segments(),
        wav: written,
    })
    .into_response()
}

async fn call_heard(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HeardQuery>,
) -> Response {
    match s.caller_heard(&id).await {
        Some(h) => heard_view(&h, q.wav),
        None => error(StatusCode::NOT_FOUND, SimError::UnknownCall(id)),
    }
}

async fn agent_heard(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HeardQuery>,
) -> Response {
    match s.agent_heard(&id) {
        Some(h) => heard_view(&h, q.wav),
        None => error(StatusCode::NOT_FOUND, SimError::UnknownCall(id)),
    }
}

async fn list_agents(State(s): State<Arc<Shared>>) -> Json<Vec<AgentView>> {
    let st = s.state();
    let mut v: Vec<_> = st.agents.values().collect();
    v.sort_by_key(|a| a.created);
    Json(v.into_iter().map(|a| a.view()).collect())
}

async fn set_agent(State(s): State<Arc<Shared>>, Json(req): Json<AgentRequest>) -> Response {
    match AgentBehaviour::parse(&req.behaviour) {
        Some(b) => {
            s.state().agent_map.insert(req.endpoint, b);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(
            StatusCode::BAD_REQUEST,
            format!(
                "behaviour must be answer[:RING_MS[:AFTER_MS|never]], busy, noanswer or congestion, not {:?}",
                req.behaviour
            ),
        ),
    }
}

async fn hangup_agent(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut st = s.state();
    if !st.agents.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, SimError::UnknownCall(id));
    }
    st.agent_hangs_up(&id);
    st.refresh_hearing();
    StatusCode::NO_CONTENT.into_response()
}
