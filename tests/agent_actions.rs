//! Agent actions end to end (issue 12): the real daemon against vca-sim (its `agent-sim`
//! agents and `humans` dialplan), the fake OpenAI-compatible server (chat with scripted tool
//! calls, speech, transcription), a fake tool server of the test's own, the real PostgreSQL
//! and Redis. Each test builds its own world and asserts on what the daemon asked Asterisk
//! (the simulator's request log), the rows and events it wrote, what the model was sent,
//! what the tool server received and what the caller heard.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use uuid::Uuid;
use vca_sim::engines::http::{Framing, Reply, Route};
use vca_sim::{AgentBehaviour, AgentEnd, CallSpec, CallStatus, EndedBy, HangupWhen, HeardKind};
use vca_sim::{RestRequest, RestartSpec, SimCall, Trigger};

use crate::support::daemon::World;

const DID: &str = "+918012345678";
const CALLER: &str = "+15551234567";
const NOBODY: &str = "I'm sorry, nobody is available to take your call right now.";
const FILLER: &str = "One moment, please.";
const SECRET: &str = "whsec_bistro_test";
/// Long enough for anything a test waits for; a test that needs it has failed anyway.
const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// The world: a daemon whose agent speaks through the fake speech route.

/// A world with the fake speech route, and the chat model too when `model`.
async fn world(model: bool) -> World {
    let mut extra = vec![("VCA_TTS_PROVIDER", "openai")];
    if model {
        extra.push(("VCA_LLM_PROVIDER", "openai"));
    }
    World::with(&extra).await
}

/// A tenant with the DID; returns the tenant and its default profile.
async fn tenant(w: &World) -> (Uuid, Uuid) {
    let tid = w.tenant(DID, 5, 300).await;
    let (pid,): (Uuid,) = sqlx::query_as("SELECT id FROM ai_profiles WHERE tenant_id = $1")
        .bind(tid)
        .fetch_one(w.store.pool())
        .await
        .unwrap();
    (tid, pid)
}

async fn dialplan_target(w: &World, tid: Uuid, name: &str, context: &str, exten: &str) {
    sqlx::query(
        "INSERT INTO transfer_targets (tenant_id, name, kind, context, extension, priority, announce) \
         VALUES ($1, $2, 'dialplan', $3, $4, 1, 'Connecting you now.')",
    )
    .bind(tid)
    .bind(name)
    .bind(context)
    .bind(exten)
    .execute(w.store.pool())
    .await
    .unwrap();
}

async fn endpoint_target(w: &World, tid: Uuid, name: &str, endpoint: &str, ring_s: i32) {
    sqlx::query(
        "INSERT INTO transfer_targets (tenant_id, name, kind, endpoint, ring_timeout_seconds) \
         VALUES ($1, $2, 'endpoint', $3, $4)",
    )
    .bind(tid)
    .bind(name)
    .bind(endpoint)
    .bind(ring_s)
    .execute(w.store.pool())
    .await
    .unwrap();
}

async fn profile_actions(w: &World, pid: Uuid, dtmf: Value, tools: &[&str]) {
    let tools: Vec<String> = tools.iter().map(|t| t.to_string()).collect();
    sqlx::query("UPDATE ai_profiles SET dtmf_map = $2, tools = $3 WHERE id = $1")
        .bind(pid)
        .bind(dtmf)
        .bind(tools)
        .execute(w.store.pool())
        .await
        .unwrap();
}

async fn http_tool(w: &World, tid: Uuid, name: &str, url: &str, timeout_ms: i32) {
    let parameters = json!({"type": "object",
        "properties": {"party_size": {"type": "integer", "minimum": 1, "maximum": 12},
                       "time": {"type": "string"}},
        "required": ["party_size", "time"]});
    sqlx::query(
        "INSERT INTO tools (tenant_id, name, description, parameters, url, timeout_ms, secret) \
         VALUES ($1, $2, 'Books a table.', $3, $4, $5, $6)",
    )
    .bind(tid)
    .bind(name)
    .bind(parameters)
    .bind(url)
    .bind(timeout_ms)
    .bind(SECRET)
    .execute(w.store.pool())
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------
// Waiting and reading back.

/// Polls `check` until it gives a value (50 ms apart), or fails the test after PATIENCE.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ended(call: &mut SimCall) -> vca_sim::CallOutcome {
    tokio::time::timeout(PATIENCE, call.ended())
        .await
        .expect("the call ends")
}

async fn reached(call: &mut SimCall, t: Trigger) {
    tokio::time::timeout(PATIENCE, call.wait_for(t))
        .await
        .unwrap_or_else(|_| panic!("the call never reached {t:?}"));
}

/// The details of every event of `kind` of the call, in order.
async fn events(w: &World, call: Uuid, kind: &str) -> Vec<Value> {
    let rows: Vec<(Value,)> = sqlx::query_as(
        "SELECT details FROM call_events WHERE call_id = $1 AND kind = $2 ORDER BY id",
    )
    .bind(call)
    .bind(kind)
    .fetch_all(w.store.pool())
    .await
    .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

async fn wait_events(w: &World, call: Uuid, kind: &str, n: usize) -> Vec<Value> {
    until(&format!("{n} {kind} event(s)"), || async {
        let e = events(w, call, kind).await;
        (e.len() >= n).then_some(e)
    })
    .await
}

/// The transcript, (speaker, text) in order.
async fn turns(w: &World, call: Uuid) -> Vec<(String, String)> {
    sqlx::query_as("SELECT speaker, text FROM transcript_turns WHERE call_id = $1 ORDER BY seq")
        .bind(call)
        .fetch_all(w.store.pool())
        .await
        .unwrap()
}

/// Waits until an agent turn starting with `prefix` is written (the `n`-th such, 1-based).
async fn wait_agent_turn(w: &World, call: Uuid, prefix: &str, n: usize) {
    until(&format!("agent turn {prefix:?} #{n}"), || async {
        let t = turns(w, call).await;
        let count = t
            .iter()
            .filter(|(s, x)| s == "agent" && x.starts_with(prefix))
            .count();
        (count >= n).then_some(())
    })
    .await;
}

async fn transfer_target_of(w: &World, call: Uuid) -> Option<String> {
    let (t,): (Option<String>,) = sqlx::query_as("SELECT transfer_target FROM calls WHERE id = $1")
        .bind(call)
        .fetch_one(w.store.pool())
        .await
        .unwrap();
    t
}

/// The JSON bodies of the chat requests so far.
fn chat_requests(w: &World) -> Vec<Value> {
    w.engines
        .received()
        .into_iter()
        .filter(|r| r.route == Route::Chat)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn wait_chat_requests(w: &World, n: usize) -> Vec<Value> {
    until(&format!("{n} chat request(s)"), || async {
        let r = chat_requests(w);
        (r.len() >= n).then_some(r)
    })
    .await
}

fn position(reqs: &[RestRequest], method: &str, path: &str) -> Option<usize> {
    reqs.iter()
        .position(|r| r.method == method && r.path == path)
}

/// Where the simulator logged a request, or a failure listing what it did log.
fn find(reqs: &[RestRequest], method: &str, path: &str) -> usize {
    position(reqs, method, path).unwrap_or_else(|| {
        let seen: Vec<String> = reqs
            .iter()
            .map(|r| format!("{} {} {:?}", r.method, r.path, r.query))
            .collect();
        panic!("no {method} {path} among {seen:#?}")
    })
}

/// A request parameter, from the query or the JSON body.
fn param(r: &RestRequest, key: &str) -> Option<String> {
    r.query.get(key).cloned().or_else(|| {
        r.body.as_ref().and_then(|b| match &b[key] {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        })
    })
}

fn channel_ids(w: &World) -> Vec<String> {
    w.sim
        .channels()
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect()
}

/// The call placed and up with media; returns it and its row id.
async fn call_up(w: &World, spec: CallSpec) -> (SimCall, Uuid, String) {
    let call = w.sim.place_call(spec);
    let row = w.wait_media(call.id()).await;
    let em = row.media_channel_id.clone().unwrap();
    (call, row.id, em)
}

/// The caller presses `digits` (100 ms each).
async fn press(call: &SimCall, digits: &str) {
    call.send_dtmf(digits, 100).await.unwrap();
}

/// The last user message of a chat request.
fn last_user(request: &Value) -> String {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn tool_calls_event_names(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// The fake tool server: the receiver a tenant writes, checking the signature.

#[derive(Debug, Clone)]
struct ToolHit {
    path: String,
    signature_ok: bool,
    idempotency_key: Option<String>,
    body: Value,
}

type ToolLog = Arc<Mutex<Vec<ToolHit>>>;

struct ToolServer {
    base: String,
    log: ToolLog,
}

impl ToolServer {
    fn hits(&self) -> Vec<ToolHit> {
        self.log.lock().unwrap().clone()
    }
}

fn record(log: &ToolLog, path: &str, headers: &HeaderMap, body: &Bytes) -> bool {
    let signature_ok = headers
        .get("x-vca-signature")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| {
            vca_bridge::tools::verify(SECRET.as_bytes(), s, body, Duration::from_secs(300))
        });
    log.lock().unwrap().push(ToolHit {
        path: path.to_string(),
        signature_ok,
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
    signature_ok
}

async fn book(State(log): State<ToolLog>, headers: HeaderMap, body: Bytes) -> Response {
    if !record(&log, "/book", &headers, &body) {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({"booked": true, "reference": "A17"}).to_string(),
    )
        .into_response()
}

async fn slow(State(log): State<ToolLog>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/slow", &headers, &body);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({"booked": true, "reference": "B42"}).to_string(),
    )
        .into_response()
}

async fn fail(State(log): State<ToolLog>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/fail", &headers, &body);
    (StatusCode::INTERNAL_SERVER_ERROR, "database is down").into_response()
}

async fn tool_server() -> ToolServer {
    let log: ToolLog = Arc::default();
    let app = Router::new()
        .route("/book", post(book))
        .route("/slow", post(slow))
        .route("/fail", post(fail))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    ToolServer {
        base: format!("http://{addr}"),
        log,
    }
}

// ---------------------------------------------------------------------------------------
// Transfers into the dialplan.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keypad_zero_continues_the_caller_into_a_dialplan_target() {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    dialplan_target(&w, tid, "front-desk", "humans", "queue").await;
    profile_actions(&w, pid, json!({"0": "transfer:front-desk"}), &[]).await;
    let (mut call, id, em) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    let bridge = w.call_row(call.id()).await.bridge_id.unwrap();
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    reached(&mut call, Trigger::Continued).await;
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("transferred", Some("transferred"))
    );
    assert!(row.duration_ms.is_some_and(|d| d > 0), "{row:?}");
    assert_eq!(
        transfer_target_of(&w, id).await.as_deref(),
        Some("front-desk")
    );
    assert_eq!(call.dialplan_target().as_deref(), Some("humans,queue,1"));
    let requested = events(&w, id, "transfer_requested").await;
    assert_eq!(
        requested,
        [json!({"target": "front-desk", "via": "keypad"})]
    );
    assert_eq!(events(&w, id, "transferred").await.len(), 1);
    assert!(events(&w, id, "transfer_failed").await.is_empty());
    // The announce was said (and stored) before the hand-over.
    let t = turns(&w, id).await;
    assert!(
        t.iter()
            .any(|(s, x)| s == "agent" && x == "Connecting you now."),
        "{t:?}"
    );
    // DIALPLAN_EXISTS through the channel-variable route, then continue; then our External
    // Media and bridge deleted (Asterisk keeps both); the caller is never hung up by us.
    until("the External Media and bridge deleted", || async {
        let ids = channel_ids(&w);
        (!ids.contains(&em) && w.sim.bridges().is_empty()).then_some(())
    })
    .await;
    let reqs = w.sim.requests();
    let check = find(&reqs, "GET", &format!("/channels/{}/variable", call.id()));
    assert_eq!(
        reqs[check].query.get("variable").map(String::as_str),
        Some("DIALPLAN_EXISTS(humans,queue,1)")
    );
    let cont = find(&reqs, "POST", &format!("/channels/{}/continue", call.id()));
    assert!(check < cont);
    assert_eq!(param(&reqs[cont], "context").as_deref(), Some("humans"));
    assert_eq!(param(&reqs[cont], "extension").as_deref(), Some("queue"));
    assert_eq!(param(&reqs[cont], "priority").as_deref(), Some("1"));
    let del_em = find(&reqs, "DELETE", &format!("/channels/{em}"));
    let del_br = find(&reqs, "DELETE", &format!("/bridges/{bridge}"));
    assert!(cont < del_em && del_em < del_br);
    assert!(position(&reqs, "DELETE", &format!("/channels/{}", call.id())).is_none());
    assert!(
        reqs.iter().all(|r| !r.path.ends_with("/redirect")),
        "never REFER"
    );
    let out = ended(&mut call).await;
    assert_eq!(out.ended_by, EndedBy::AppContinued);
    // The EM's StasisEnd after the continue did not rewrite the final row.
    let again = w.final_row(call.id()).await;
    assert_eq!(again.end_reason.as_deref(), Some("transferred"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_extension_is_a_failed_transfer_and_the_conversation_goes_on() {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    dialplan_target(&w, tid, "nowhere", "humans", "nosuch").await;
    profile_actions(&w, pid, json!({"0": "transfer:nowhere"}), &[]).await;
    let (call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    let failed = wait_events(&w, id, "transfer_failed", 1).await;
    assert_eq!(failed[0]["reason"], "no_such_extension", "{failed:?}");
    wait_agent_turn(&w, id, NOBODY, 1).await;
    // The caller was never continued (Asterisk would have hung them up) and is still here.
    let reqs = w.sim.requests();
    find(&reqs, "GET", &format!("/channels/{}/variable", call.id()));
    assert!(position(&reqs, "POST", &format!("/channels/{}/continue", call.id())).is_none());
    assert_eq!(call.status(), CallStatus::Up);
    assert_eq!(w.call_row(call.id()).await.status, "in_progress");
    // The conversation goes on: keys become a turn the (echo) model answers.
    press(&call, "7#").await;
    wait_agent_turn(&w, id, "You said", 1).await;
    call.hangup().unwrap();
    let row = w.final_row(call.id()).await;
    assert_eq!(row.status, "completed");
    assert_eq!(transfer_target_of(&w, id).await, None);
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_transfers_through_transfer_call_split_across_chunks() {
    let w = world(true).await;
    let (tid, pid) = tenant(&w).await;
    dialplan_target(&w, tid, "sales", "humans", "queue").await;
    dialplan_target(&w, tid, "support", "humans", "100").await;
    profile_actions(&w, pid, json!({}), &["transfer_call"]).await;
    // Bytes split anywhere, on top of the arguments in three pieces across chunks.
    w.engines.set(|b| b.framing = Framing::Ragged);
    w.engines.script(
        Route::Chat,
        [Reply::ToolCalls {
            before: "Let me put you through to sales.".into(),
            calls: vec![("transfer_call".into(), r#"{"target": "sales"}"#.into())],
        }],
    );
    let (mut call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "1#").await;
    reached(&mut call, Trigger::Continued).await;
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("transferred", Some("transferred"))
    );
    assert_eq!(call.dialplan_target().as_deref(), Some("humans,queue,1"));
    assert_eq!(transfer_target_of(&w, id).await.as_deref(), Some("sales"));
    assert_eq!(
        events(&w, id, "transfer_requested").await,
        [json!({"target": "sales", "via": "model"})]
    );
    // The request offered transfer_call with the tenant's targets as its enum.
    let reqs = chat_requests(&w);
    assert_eq!(reqs.len(), 1, "the transfer ends the turn: {reqs:#?}");
    assert_eq!(reqs[0]["tool_choice"], "auto");
    let tools = reqs[0]["tools"].as_array().unwrap();
    let transfer = tools
        .iter()
        .find(|t| t["function"]["name"] == "transfer_call")
        .expect("transfer_call offered");
    let mut targets: Vec<&str> = transfer["function"]["parameters"]["properties"]["target"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    targets.sort_unstable();
    assert_eq!(targets, ["sales", "support"]);
    // What the model said before the call was spoken, then the announce.
    let t = turns(&w, id).await;
    let agent: Vec<&str> = t
        .iter()
        .filter(|(s, _)| s == "agent")
        .map(|(_, x)| x.as_str())
        .collect();
    assert_eq!(
        agent,
        [
            "Hello!",
            "Let me put you through to sales.",
            "Connecting you now."
        ],
        "{t:?}"
    );
    let called = events(&w, id, "tool_called").await;
    assert_eq!(tool_calls_event_names(&called), ["transfer_call"]);
    assert_eq!(called[0]["ok"], true);
    assert_eq!(called[0]["arguments"], json!({"target": "sales"}));
}

// ---------------------------------------------------------------------------------------
// Transfers to an endpoint.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_endpoint_transfer_bridges_caller_and_agent() {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", "PJSIP/1001", 20).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    w.sim.set_agent(
        "PJSIP/1001",
        AgentBehaviour::Answer {
            ring: Duration::from_millis(1500),
            speech: Some(Arc::from(vec![6000i16; 8000])),
            after_speech: None,
        },
    );
    let (mut call, id, em) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    let bridge = w.call_row(call.id()).await.bridge_id.unwrap();
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    reached(&mut call, Trigger::BridgedWithAgent).await;
    let agent = format!("vca-ag-{id}-1");
    // Caller and agent in one bridge, no External Media left anywhere.
    until("caller and agent alone in the bridge", || async {
        let b = w.sim.bridges();
        let only = b.len() == 1 && b[0]["id"] == bridge.as_str();
        let mut members: Vec<String> = b
            .first()
            .and_then(|b| b["channels"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        members.sort();
        let mut want = vec![call.id().to_string(), agent.clone()];
        want.sort();
        (only && members == want && !channel_ids(&w).contains(&em)).then_some(())
    })
    .await;
    assert_eq!(call.agent_reached().as_deref(), Some(agent.as_str()));
    let answered = wait_events(&w, id, "transfer_answered", 1).await;
    assert_eq!(answered[0]["target"], "desk");
    assert_eq!(answered[0]["agent_channel_id"], agent.as_str());
    // While they talk the row stays in progress (its External Media deleted on purpose,
    // not a lost media channel).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let row = w.call_row(call.id()).await;
    assert_eq!(row.status, "in_progress", "{row:?}");
    assert_eq!(call.status(), CallStatus::Up);
    // Hold music while it rang, then the agent.
    let heard = call.heard().await.unwrap();
    assert!(heard.ms(HeardKind::Moh) > 0, "no hold music heard");
    until("the agent heard by the caller", || async {
        let h = call.heard().await.unwrap();
        (h.ms(HeardKind::Agent) > 0).then_some(())
    })
    .await;
    let reqs = w.sim.requests();
    let moh_on = find(&reqs, "POST", &format!("/channels/{}/moh", call.id()));
    let originate = reqs
        .iter()
        .position(|r| r.method == "POST" && r.path == "/channels")
        .expect("originate");
    let o = &reqs[originate];
    assert_eq!(param(o, "endpoint").as_deref(), Some("PJSIP/1001"));
    assert_eq!(param(o, "channelId").as_deref(), Some(agent.as_str()));
    assert_eq!(param(o, "app").as_deref(), Some("vca-bridge"));
    assert_eq!(param(o, "timeout").as_deref(), Some("20"));
    let moh_off = find(&reqs, "DELETE", &format!("/channels/{}/moh", call.id()));
    let del_em = find(&reqs, "DELETE", &format!("/channels/{em}"));
    let add = reqs
        .iter()
        .rposition(|r| r.method == "POST" && r.path == format!("/bridges/{bridge}/addChannel"))
        .unwrap();
    assert_eq!(
        param(&reqs[add], "channel").as_deref(),
        Some(agent.as_str())
    );
    assert!(moh_on < originate && originate < moh_off && moh_off < del_em && del_em < add);
    assert!(reqs.iter().all(|r| !r.path.ends_with("/redirect")));
    // The caller hangs up: the agent's leg is hung up, the row is final.
    call.hangup().unwrap();
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("transferred", Some("transferred"))
    );
    assert_eq!(transfer_target_of(&w, id).await.as_deref(), Some("desk"));
    w.wait_nothing_left().await;
    assert_eq!(w.sim.agent(&agent).unwrap().ended, Some(AgentEnd::App));
    let kinds = w.event_kinds(id).await;
    assert!(!kinds.iter().any(|k| k == "transfer_failed"), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_restarting_while_bridged_is_a_shutdown_not_a_hangup() {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", "PJSIP/1001", 20).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    w.sim.set_agent(
        "PJSIP/1001",
        AgentBehaviour::Answer {
            ring: Duration::from_millis(200),
            speech: None,
            after_speech: None,
        },
    );
    let (mut call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    reached(&mut call, Trigger::BridgedWithAgent).await;
    wait_events(&w, id, "transfer_answered", 1).await;
    // Asterisk stops: every channel hung up with the shutdown flag (FINDINGS 18).
    w.sim.restart(RestartSpec::default()).await;
    let row = w.final_row(call.id()).await;
    assert_eq!(row.status, "interrupted", "{row:?}");
    assert!(
        ["asterisk_shutdown", "channel_gone_while_disconnected"]
            .contains(&row.end_reason.as_deref().unwrap_or("")),
        "{row:?}"
    );
    let kinds = w.event_kinds(id).await;
    assert!(
        !kinds
            .iter()
            .any(|k| k == "caller_hangup" || k == "agent_hangup"),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_hanging_up_first_hangs_the_caller_up() {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", "Local/short@agent-sim", 20).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    let (mut call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    reached(&mut call, Trigger::BridgedWithAgent).await;
    // Local/short@agent-sim hangs up two seconds after its prompt.
    let out = ended(&mut call).await;
    assert!(matches!(out.ended_by, EndedBy::App { .. }), "{out:?}");
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("transferred", Some("transferred"))
    );
    assert_eq!(events(&w, id, "agent_hangup").await.len(), 1);
    w.wait_nothing_left().await;
}

/// An endpoint that fails as `endpoint` does: `reason` recorded, the music off, the
/// "nobody is available" line, and the conversation goes on.
async fn endpoint_fails(endpoint: &str, ring_s: i32, reason: &str) {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", endpoint, ring_s).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    let (mut call, id, em) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    reached(&mut call, Trigger::MohStarted).await;
    let failed = wait_events(&w, id, "transfer_failed", 1).await;
    assert_eq!(
        (failed[0]["target"].as_str(), failed[0]["reason"].as_str()),
        (Some("desk"), Some(reason)),
        "{failed:?}"
    );
    wait_agent_turn(&w, id, NOBODY, 1).await;
    let agent = format!("vca-ag-{id}-1");
    until("the agent leg gone", || async {
        (!channel_ids(&w).iter().any(|c| c.starts_with(&agent))).then_some(())
    })
    .await;
    let reqs = w.sim.requests();
    let originate = reqs
        .iter()
        .position(|r| r.method == "POST" && r.path == "/channels")
        .expect("originate");
    let moh_off = find(&reqs, "DELETE", &format!("/channels/{}/moh", call.id()));
    assert!(originate < moh_off);
    // Our External Media stayed: the conversation goes on over it.
    assert!(position(&reqs, "DELETE", &format!("/channels/{em}")).is_none());
    assert!(channel_ids(&w).contains(&em));
    let before = call.heard().await.unwrap().ms(HeardKind::App);
    press(&call, "7#").await;
    wait_agent_turn(&w, id, "You said", 1).await;
    until("the answer heard", || async {
        let h = call.heard().await.unwrap();
        (h.ms(HeardKind::App) > before).then_some(())
    })
    .await;
    assert_eq!(w.call_row(call.id()).await.status, "in_progress");
    assert!(events(&w, id, "transfer_answered").await.is_empty());
    call.hangup().unwrap();
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("caller_hangup"))
    );
    w.wait_nothing_left().await;
    let _ = ended(&mut call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_agent_is_a_failed_transfer() {
    endpoint_fails("Local/busy@agent-sim", 20, "busy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_never_answers_is_a_failed_transfer() {
    endpoint_fails("Local/noanswer@agent-sim", 5, "no_answer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn congestion_is_a_failed_transfer() {
    endpoint_fails("Local/congestion@agent-sim", 20, "congestion").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hanging_up_on_hold_leaves_no_agent_leg_ringing() {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", "Local/noanswer@agent-sim", 60).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    let spec = CallSpec::new(DID, CALLER).hangup(HangupWhen::On(
        Trigger::AgentRinging,
        Duration::from_millis(500),
    ));
    let (mut call, id, _) = call_up(&w, spec).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    let out = ended(&mut call).await;
    assert_eq!(out.ended_by, EndedBy::Caller);
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("caller_hangup"))
    );
    let failed = events(&w, id, "transfer_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["reason"], "caller_hangup");
    // The leg rang for 60 s on its own (FINDINGS 46): the daemon hung it up.
    w.wait_nothing_left().await;
    let agent = format!("vca-ag-{id}-1");
    assert_eq!(w.sim.agent(&agent).unwrap().ended, Some(AgentEnd::App));
    let reqs = w.sim.requests();
    find(&reqs, "DELETE", &format!("/channels/{agent}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_while_bridged_keeps_supervising_after_a_restart() {
    let mut w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", "PJSIP/1001", 20).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    w.sim.set_agent(
        "PJSIP/1001",
        AgentBehaviour::Answer {
            ring: Duration::from_millis(500),
            speech: Some(Arc::from(vec![6000i16; 8000])),
            after_speech: None,
        },
    );
    let (mut call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    let bridge = w.call_row(call.id()).await.bridge_id.unwrap();
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    reached(&mut call, Trigger::BridgedWithAgent).await;
    wait_events(&w, id, "transfer_answered", 1).await;
    let agent = format!("vca-ag-{id}-1");
    w.daemon.take().unwrap().kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(call.status(), CallStatus::Up);
    w.restart_daemon().await;
    let readopted = wait_events(&w, id, "readopted", 1).await;
    assert_eq!(
        readopted[0]["bridged_with"],
        agent.as_str(),
        "{readopted:?}"
    );
    // Still bridged, no new External Media made for a call the agent has.
    let row = w.call_row(call.id()).await;
    assert_eq!(row.status, "in_progress");
    let b = w.sim.bridges();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["id"], bridge.as_str());
    assert!(
        !channel_ids(&w).iter().any(|c| c.starts_with("vca-em-")),
        "{:?}",
        channel_ids(&w)
    );
    // The caller hangs up: the restarted daemon hangs the agent up and finishes the row.
    call.hangup().unwrap();
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("transferred", Some("transferred"))
    );
    w.wait_nothing_left().await;
    assert_eq!(w.sim.agent(&agent).unwrap().ended, Some(AgentEnd::App));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_while_the_agent_rings_drops_the_leg_after_a_restart() {
    let mut w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", "Local/noanswer@agent-sim", 60).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    let (mut call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    reached(&mut call, Trigger::AgentRinging).await;
    let agent = format!("vca-ag-{id}-1");
    w.daemon.take().unwrap().kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.sim.agent(&agent).unwrap().state, "ringing");
    w.restart_daemon().await;
    wait_events(&w, id, "readopted", 1).await;
    // Nobody will bridge that leg any more: it is hung up, not left ringing for a minute.
    until("the ringing agent leg hung up", || async {
        (w.sim.agent(&agent).unwrap().ended == Some(AgentEnd::App)).then_some(())
    })
    .await;
    assert!(!channel_ids(&w).iter().any(|c| c.starts_with(&agent)));
    // The music is off and the conversation goes on over the new External Media.
    let reqs = w.sim.requests();
    let moh_off = reqs
        .iter()
        .rposition(|r| r.method == "DELETE" && r.path == format!("/channels/{}/moh", call.id()));
    assert!(moh_off.is_some());
    press(&call, "7#").await;
    wait_agent_turn(&w, id, "You said", 1).await;
    call.hangup().unwrap();
    let row = w.final_row(call.id()).await;
    assert_eq!(row.status, "completed");
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_attempt_bridged_is_still_supervised_after_a_restart() {
    let mut w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "busy-desk", "Local/busy@agent-sim", 20).await;
    endpoint_target(&w, tid, "desk", "PJSIP/1001", 20).await;
    profile_actions(
        &w,
        pid,
        json!({"1": "transfer:busy-desk", "0": "transfer:desk"}),
        &[],
    )
    .await;
    w.sim.set_agent(
        "PJSIP/1001",
        AgentBehaviour::Answer {
            ring: Duration::from_millis(500),
            speech: Some(Arc::from(vec![6000i16; 8000])),
            after_speech: None,
        },
    );
    let (mut call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "1").await;
    wait_events(&w, id, "transfer_failed", 1).await;
    wait_agent_turn(&w, id, NOBODY, 1).await;
    press(&call, "0").await;
    reached(&mut call, Trigger::BridgedWithAgent).await;
    wait_events(&w, id, "transfer_answered", 1).await;
    // The second attempt's leg is `vca-ag-<call>-2`, not a Local peer `…-2`.
    let agent = format!("vca-ag-{id}-2");
    assert_eq!(call.agent_reached().as_deref(), Some(agent.as_str()));
    w.daemon.take().unwrap().kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.restart_daemon().await;
    let readopted = wait_events(&w, id, "readopted", 1).await;
    assert_eq!(
        readopted[0]["bridged_with"],
        agent.as_str(),
        "{readopted:?}"
    );
    assert_eq!(w.sim.agent(&agent).unwrap().state, "up");
    call.hangup().unwrap();
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("transferred", Some("transferred"))
    );
    w.wait_nothing_left().await;
    assert_eq!(w.sim.agent(&agent).unwrap().ended, Some(AgentEnd::App));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_swap_ends_the_call_rather_than_leave_the_caller_in_silence() {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", "PJSIP/1001", 20).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    w.sim.set_agent(
        "PJSIP/1001",
        AgentBehaviour::Answer {
            ring: Duration::from_millis(500),
            speech: Some(Arc::from(vec![6000i16; 8000])),
            after_speech: None,
        },
    );
    let (mut call, id, em) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    let bridge = w.call_row(call.id()).await.bridge_id.unwrap();
    wait_agent_turn(&w, id, "Hello!", 1).await;
    // The agent answers, our External Media is deleted, and then the agent cannot join.
    w.sim.fail_next("POST", "/addChannel", 500);
    press(&call, "0").await;
    let out = ended(&mut call).await;
    assert!(matches!(out.ended_by, EndedBy::App { .. }), "{out:?}");
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("failed", Some("media_channel_lost"))
    );
    let failed = events(&w, id, "transfer_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["reason"], "failed");
    let agent = format!("vca-ag-{id}-1");
    w.wait_nothing_left().await;
    assert_eq!(w.sim.agent(&agent).unwrap().ended, Some(AgentEnd::App));
    let reqs = w.sim.requests();
    let del_em = find(&reqs, "DELETE", &format!("/channels/{em}"));
    let add = reqs
        .iter()
        .rposition(|r| r.path == format!("/bridges/{bridge}/addChannel"))
        .unwrap();
    assert_eq!(reqs[add].status, 500);
    assert!(del_em < add);
    // No "nobody is available" into a media channel that no longer exists.
    let t = turns(&w, id).await;
    assert!(t.iter().all(|(_, x)| !x.starts_with(NOBODY)), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gone_before_the_swap_never_leaves_the_caller_in_silence() {
    let w = world(false).await;
    let (tid, pid) = tenant(&w).await;
    endpoint_target(&w, tid, "desk", "PJSIP/1001", 20).await;
    profile_actions(&w, pid, json!({"0": "transfer:desk"}), &[]).await;
    // Answers and hangs up at once: the swap races the agent's hang-up.
    w.sim.set_agent(
        "PJSIP/1001",
        AgentBehaviour::Answer {
            ring: Duration::from_millis(300),
            speech: None,
            after_speech: Some(Duration::ZERO),
        },
    );
    let (mut call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "0").await;
    // Either the swap failed or the bridged agent hung up: the caller, whose External
    // Media is gone, is hung up rather than left in silence, and the row is final.
    let out = ended(&mut call).await;
    assert!(matches!(out.ended_by, EndedBy::App { .. }), "{out:?}");
    let row = w.final_row(call.id()).await;
    assert!(
        matches!(row.status.as_str(), "transferred" | "failed"),
        "{row:?}"
    );
    w.wait_nothing_left().await;
}

// ---------------------------------------------------------------------------------------
// The keypad.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_and_hangup_keys() {
    let w = world(false).await;
    let (_, pid) = tenant(&w).await;
    profile_actions(&w, pid, json!({"*": "repeat", "9": "hangup"}), &[]).await;
    let (mut call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    press(&call, "*").await;
    wait_agent_turn(&w, id, "Hello!", 2).await;
    press(&call, "9").await;
    let out = ended(&mut call).await;
    assert!(matches!(out.ended_by, EndedBy::App { .. }), "{out:?}");
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("keypad_hangup"))
    );
    let t = turns(&w, id).await;
    let agent: Vec<&str> = t
        .iter()
        .filter(|(s, _)| s == "agent")
        .map(|(_, x)| x.as_str())
        .collect();
    assert_eq!(
        agent,
        ["Hello!", "Hello!", "Thank you for calling. Goodbye!"],
        "{t:?}"
    );
    assert!(
        t.iter().all(|(s, _)| s == "agent"),
        "keys mapped to actions are no turn: {t:?}"
    );
    let digits: Vec<Value> = events(&w, id, "dtmf").await;
    assert_eq!(digits.len(), 2, "{digits:?}");
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keypad_digits_go_to_the_model_as_a_turn() {
    let w = world(true).await;
    let (tid, pid) = tenant(&w).await;
    dialplan_target(&w, tid, "front-desk", "humans", "queue").await;
    profile_actions(&w, pid, json!({"0": "transfer:front-desk"}), &[]).await;
    w.engines.script(
        Route::Chat,
        [Reply::Text("Thank you, order 1234 found.".into())],
    );
    let (call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    // A mapped key inside a collection is a digit like any other; `#` ends it.
    press(&call, "12").await;
    press(&call, "0").await;
    press(&call, "4#").await;
    let reqs = wait_chat_requests(&w, 1).await;
    assert_eq!(last_user(&reqs[0]), "[keypad: 1204]");
    wait_agent_turn(&w, id, "Thank you, order 1234 found.", 1).await;
    // Without `#`: two seconds without a key end the collection.
    press(&call, "56").await;
    let reqs = wait_chat_requests(&w, 2).await;
    assert_eq!(last_user(&reqs[1]), "[keypad: 56]");
    // The rows are written in order but not waited for: wait for the second.
    let caller = until("two caller turns", || async {
        let caller: Vec<String> = turns(&w, id)
            .await
            .into_iter()
            .filter(|(s, _)| s == "caller")
            .map(|(_, x)| x)
            .collect();
        (caller.len() >= 2).then_some(caller)
    })
    .await;
    assert_eq!(caller, ["[keypad: 1204]", "[keypad: 56]"]);
    assert!(events(&w, id, "transfer_requested").await.is_empty());
    call.hangup().unwrap();
    w.final_row(call.id()).await;
}

// ---------------------------------------------------------------------------------------
// Tools.

/// A world with the book_table tool at `path` of a fresh tool server; returns the world,
/// the server and the call placed (up, greeting said) and its row id.
async fn tool_call_world(
    path: &str,
    timeout_ms: i32,
    replies: Vec<Reply>,
) -> (World, ToolServer, SimCall, Uuid) {
    let w = world(true).await;
    let server = tool_server().await;
    let (tid, pid) = tenant(&w).await;
    http_tool(
        &w,
        tid,
        "book_table",
        &format!("{}{path}", server.base),
        timeout_ms,
    )
    .await;
    profile_actions(&w, pid, json!({}), &["book_table", "end_call"]).await;
    w.engines.script(Route::Chat, replies);
    let (call, id, _) = call_up(&w, CallSpec::new(DID, CALLER)).await;
    wait_agent_turn(&w, id, "Hello!", 1).await;
    (w, server, call, id)
}

fn book_call(args: &str) -> (String, String) {
    ("book_table".to_string(), args.to_string())
}

/// The `role: "tool"` messages of a chat request, (tool_call_id, content).
fn tool_messages(request: &Value) -> Vec<(String, Value)> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            let content = m["content"].as_str().unwrap();
            (
                m["tool_call_id"].as_str().unwrap().to_string(),
                serde_json::from_str(content).unwrap_or(Value::String(content.to_string())),
            )
        })
        .collect()
}

fn texts_of(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_tool_is_called_signed_and_its_result_goes_back_to_the_model() {
    let (w, server, call, id) = tool_call_world(
        "/book",
        3000,
        vec![
            Reply::ToolCalls {
                before: "Let me check that for you.".into(),
                calls: vec![book_call(r#"{"party_size": 4, "time": "20:00"}"#)],
            },
            Reply::Text("You're booked, your reference is A17.".into()),
        ],
    )
    .await;
    press(&call, "4#").await;
    wait_agent_turn(&w, id, "You're booked, your reference is A17.", 1).await;
    let hits = server.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let hit = &hits[0];
    assert_eq!(hit.path, "/book");
    assert!(hit.signature_ok, "the signature verifies: {hit:?}");
    assert_eq!(
        hit.idempotency_key.as_deref(),
        Some(format!("{id}:call_0_fake").as_str())
    );
    assert_eq!(hit.body["call_id"], id.to_string());
    assert_eq!(hit.body["tool"], "book_table");
    assert_eq!(
        hit.body["arguments"],
        json!({"party_size": 4, "time": "20:00"})
    );
    assert_eq!(hit.body["caller"], CALLER);
    assert_eq!(hit.body["did"], DID);
    // The first request offered the tool; the second carries the exchange.
    let reqs = wait_chat_requests(&w, 2).await;
    let offered: Vec<&str> = reqs[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        offered.contains(&"book_table") && offered.contains(&"end_call"),
        "{offered:?}"
    );
    let messages = reqs[1]["messages"].as_array().unwrap();
    let assistant = messages
        .iter()
        .find(|m| m["role"] == "assistant" && m["tool_calls"].is_array())
        .expect("the assistant's tool call in the history");
    assert_eq!(assistant["tool_calls"][0]["id"], "call_0_fake");
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "book_table");
    let args: Value = serde_json::from_str(
        assistant["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args, json!({"party_size": 4, "time": "20:00"}));
    assert_eq!(
        tool_messages(&reqs[1]),
        [(
            "call_0_fake".to_string(),
            json!({"booked": true, "reference": "A17"})
        )]
    );
    let called = wait_events(&w, id, "tool_called", 1).await;
    assert_eq!(called[0]["name"], "book_table");
    assert_eq!(called[0]["ok"], true);
    assert_eq!(
        called[0]["arguments"],
        json!({"party_size": 4, "time": "20:00"})
    );
    assert!(called[0]["duration_ms"].is_u64());
    call.hangup().unwrap();
    w.final_row(call.id()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_tool_gets_the_filler_which_stays_out_of_the_history() {
    let (w, server, call, id) = tool_call_world(
        "/slow",
        5000,
        vec![
            Reply::ToolCalls {
                before: String::new(),
                calls: vec![book_call(r#"{"party_size": 2, "time": "19:30"}"#)],
            },
            Reply::Text("Done, your reference is B42.".into()),
        ],
    )
    .await;
    press(&call, "2#").await;
    wait_agent_turn(&w, id, FILLER, 1).await;
    let heard_filler = call.heard().await.unwrap().ms(HeardKind::App);
    wait_agent_turn(&w, id, "Done, your reference is B42.", 1).await;
    assert_eq!(server.hits().len(), 1);
    let reqs = wait_chat_requests(&w, 2).await;
    assert!(
        texts_of(&reqs[1]).iter().all(|t| !t.contains("One moment")),
        "the filler is not the model's: {:#?}",
        reqs[1]["messages"]
    );
    assert_eq!(
        tool_messages(&reqs[1]),
        [(
            "call_0_fake".to_string(),
            json!({"booked": true, "reference": "B42"})
        )]
    );
    // The filler was heard (audio after the greeting) and the filler is said once.
    assert!(heard_filler > 0);
    let t = turns(&w, id).await;
    assert_eq!(t.iter().filter(|(_, x)| x == FILLER).count(), 1, "{t:?}");
    let called = wait_events(&w, id, "tool_called", 1).await;
    assert_eq!(called[0]["ok"], true);
    assert!(
        called[0]["duration_ms"].as_u64().unwrap() >= 800,
        "{called:?}"
    );
    call.hangup().unwrap();
    w.final_row(call.id()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tool_is_an_error_result_the_model_talks_about() {
    let (w, server, call, id) = tool_call_world(
        "/fail",
        3000,
        vec![
            Reply::ToolCalls {
                before: String::new(),
                calls: vec![book_call(r#"{"party_size": 3, "time": "18:00"}"#)],
            },
            Reply::Text("Sorry, I could not book that.".into()),
        ],
    )
    .await;
    press(&call, "3#").await;
    wait_agent_turn(&w, id, "Sorry, I could not book that.", 1).await;
    assert_eq!(server.hits().len(), 1);
    let reqs = wait_chat_requests(&w, 2).await;
    let results = tool_messages(&reqs[1]);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].1["error"], "http_status", "{results:?}");
    let called = wait_events(&w, id, "tool_called", 1).await;
    assert_eq!(called[0]["ok"], false);
    assert_eq!(called[0]["error"], "http_status", "{called:?}");
    assert!(called[0]["message"].is_string(), "{called:?}");
    assert_eq!(called[0]["status"], 500);
    call.hangup().unwrap();
    w.final_row(call.id()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_arguments_and_an_unknown_tool_get_error_results_without_a_request() {
    let (w, server, call, id) = tool_call_world(
        "/book",
        3000,
        vec![
            Reply::ToolCalls {
                before: String::new(),
                calls: vec![
                    book_call(r#"{"party_size": 40}"#),
                    (
                        "order_pizza".to_string(),
                        r#"{"size": "large"}"#.to_string(),
                    ),
                ],
            },
            Reply::Text("I need a time and a party of at most twelve.".into()),
        ],
    )
    .await;
    press(&call, "9#").await;
    wait_agent_turn(&w, id, "I need a time", 1).await;
    assert!(server.hits().is_empty(), "no request: {:?}", server.hits());
    let reqs = wait_chat_requests(&w, 2).await;
    let results = tool_messages(&reqs[1]);
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0].0, "call_0_fake");
    assert_eq!(results[0].1["error"], "invalid_arguments", "{results:?}");
    assert_eq!(results[1].0, "call_1_fake");
    assert_eq!(results[1].1["error"], "unknown_tool", "{results:?}");
    let called = wait_events(&w, id, "tool_called", 2).await;
    let mut by_name: Vec<(String, String)> = called
        .iter()
        .map(|e| {
            assert_eq!(e["ok"], false, "{e}");
            assert!(e["message"].is_string(), "{e}");
            (
                e["name"].as_str().unwrap().to_string(),
                e["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_name.sort();
    assert_eq!(
        by_name,
        [
            ("book_table".to_string(), "invalid_arguments".to_string()),
            ("order_pizza".to_string(), "unknown_tool".to_string())
        ]
    );
    call.hangup().unwrap();
    w.final_row(call.id()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tool_calls_in_one_response_are_both_answered() {
    let (w, server, call, id) = tool_call_world(
        "/book",
        3000,
        vec![
            Reply::ToolCalls {
                before: "Booking both.".into(),
                calls: vec![
                    book_call(r#"{"party_size": 2, "time": "19:00"}"#),
                    book_call(r#"{"party_size": 6, "time": "21:00"}"#),
                ],
            },
            Reply::Text("Both tables are booked.".into()),
        ],
    )
    .await;
    press(&call, "2#").await;
    wait_agent_turn(&w, id, "Both tables are booked.", 1).await;
    let hits = server.hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|h| h.signature_ok));
    let mut keys: Vec<String> = hits
        .iter()
        .map(|h| h.idempotency_key.clone().unwrap())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [format!("{id}:call_0_fake"), format!("{id}:call_1_fake")]
    );
    let reqs = wait_chat_requests(&w, 2).await;
    let ids: Vec<String> = tool_messages(&reqs[1])
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        ids,
        ["call_0_fake", "call_1_fake"],
        "one result per call, in order"
    );
    let called = wait_events(&w, id, "tool_called", 2).await;
    assert_eq!(called.len(), 2);
    assert!(called.iter().all(|e| e["ok"] == true), "{called:?}");
    call.hangup().unwrap();
    w.final_row(call.id()).await;
}
