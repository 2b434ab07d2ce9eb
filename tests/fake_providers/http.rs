//! A fake of the HTTP providers on one local server: OpenAI-compatible chat (SSE),
//! speech (PCM 24 kHz) and transcriptions (multipart WAV), and ElevenLabs streaming
//! speech. Requests are checked like the real APIs do; replies can be scripted.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::audio::{le_bytes, parse_multipart, parse_wav, tone, ulaw_bytes};

/// Which endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/audio/speech`.
    Speech,
    /// `POST /v1/audio/transcriptions`.
    Transcriptions,
    /// `POST /v1/text-to-speech/{voice}/stream`.
    ElevenLabs,
}

/// What to do with the next request to a route (then back to `Normal`).
#[derive(Debug, Clone)]
pub enum Reply {
    /// The documented success response.
    Normal,
    /// An error status, with `Retry-After` if given.
    Status {
        /// The status.
        status: u16,
        /// The `Retry-After` value.
        retry_after: Option<String>,
    },
    /// Wait this long before answering at all (slow first byte).
    SlowStart(Duration),
    /// Send this many body pieces, then never send more (the connection stays open).
    HangAfter(usize),
    /// Send this many body pieces, then drop the connection mid-body.
    CutAfter(usize),
    /// Wait this long between body pieces.
    Trickle(Duration),
    /// A 200 whose content is malformed (bad JSON in SSE or in the transcription).
    BadJson,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The endpoint.
    pub route: Route,
    /// The voice id of an ElevenLabs request.
    pub voice: Option<String>,
    /// The raw query string.
    pub query: Option<String>,
    /// All headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// For transcriptions: the form fields (file excluded) and the uploaded WAV's rate and
    /// sample count.
    pub form: HashMap<String, String>,
    /// Rate and samples of an uploaded WAV.
    pub wav: Option<(u32, usize)>,
}

/// How the fake answers, changeable while it runs.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The only key accepted (Bearer for OpenAI routes, `xi-api-key` for ElevenLabs).
    pub api_key: String,
    /// The chat reply, streamed word by word.
    pub chat_reply: String,
    /// The transcription text.
    pub transcript: String,
    /// Milliseconds of speech generated per character of input text.
    pub ms_per_char: u32,
    /// Leave out the usage chunk even when asked (as some local servers do).
    pub omit_usage: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            api_key: "test-key-123".into(),
            chat_reply: "Hello there. How can I help you today?".into(),
            transcript: "I would like to book a table".into(),
            ms_per_char: 20,
            omit_usage: false,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    behaviour: Mutex<Behaviour>,
    scripts: Mutex<HashMap<Route, VecDeque<Reply>>>,
    received: Mutex<Vec<Received>>,
    bodies_dropped_early: AtomicUsize,
    bodies_completed: AtomicUsize,
}

/// The running fake; the server stops when this is dropped.
#[derive(Debug)]
pub struct FakeHttp {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeHttp {
    /// Starts on 127.0.0.1:0 with the default behaviour.
    pub async fn start() -> FakeHttp {
        Self::start_with(Behaviour::default()).await
    }

    /// Starts on 127.0.0.1:0.
    pub async fn start_with(behaviour: Behaviour) -> FakeHttp {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/audio/speech", post(speech))
            .route("/v1/audio/transcriptions", post(transcriptions))
            .route("/v1/text-to-speech/{voice}/stream", post(elevenlabs))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeHttp { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The accepted key.
    pub fn api_key(&self) -> String {
        self.shared.behaviour.lock().unwrap().api_key.clone()
    }

    /// Changes the behaviour.
    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.shared.behaviour.lock().unwrap());
    }

    /// Queues replies for the next requests to `route`.
    pub fn script(&self, route: Route, replies: impl IntoIterator<Item = Reply>) {
        self.shared
            .scripts
            .lock()
            .unwrap()
            .entry(route)
            .or_default()
            .extend(replies);
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Requests received on `route`.
    pub fn count(&self, route: Route) -> usize {
        self.received().iter().filter(|r| r.route == route).count()
    }

    /// Streamed bodies the client went away from before their end.
    pub fn dropped_early(&self) -> usize {
        self.shared.bodies_dropped_early.load(Ordering::SeqCst)
    }

    /// Streamed bodies sent to the end.
    pub fn completed(&self) -> usize {
        self.shared.bodies_completed.load(Ordering::SeqCst)
    }

    /// Waits (up to 5 s) until `dropped_early` reaches `n`.
    pub async fn wait_dropped_early(&self, n: usize) -> bool {
        for _ in 0..500 {
            if self.dropped_early() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

fn next_reply(s: &Shared, route: Route) -> Reply {
    s.scripts
        .lock()
        .unwrap()
        .get_mut(&route)
        .and_then(VecDeque::pop_front)
        .unwrap_or(Reply::Normal)
}

fn error_json(status: u16, message: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string(),
        ))
        .unwrap()
}

fn bearer_ok(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {key}"))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// One step of a streamed body.
enum Piece {
    Data(Bytes),
    Hang,
    Cut,
}

/// Counts a body as dropped early unless it reached its end.
struct BodyGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl Drop for BodyGuard {
    fn drop(&mut self) {
        let counter = if self.finished {
            &self.shared.bodies_completed
        } else {
            &self.shared.bodies_dropped_early
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// Splits `bytes` into pieces of sizes cycling through odd lengths (mid-line, mid-sample),
/// one of them large enough to hold several events.
fn pieces(bytes: &[u8]) -> Vec<Bytes> {
    let sizes = [7usize, 301, 3, 64, 1, 129];
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < bytes.len() {
        let n = sizes[i % sizes.len()].min(bytes.len() - pos);
        out.push(Bytes::copy_from_slice(&bytes[pos..pos + n]));
        pos += n;
        i += 1;
    }
    out
}

/// A streamed 200 response of `body`, shaped by `reply`.
fn streamed(shared: &Arc<Shared>, content_type: &str, body: Vec<Bytes>, reply: &Reply) -> Response {
    let mut steps: VecDeque<Piece> = body.into_iter().map(Piece::Data).collect();
    let mut gap = Duration::from_millis(2);
    match reply {
        Reply::HangAfter(n) => {
            steps.truncate(*n);
            steps.push_back(Piece::Hang);
        }
        Reply::CutAfter(n) => {
            steps.truncate(*n);
            steps.push_back(Piece::Cut);
        }
        Reply::Trickle(d) => gap = *d,
        _ => {}
    }
    let guard = BodyGuard {
        shared: shared.clone(),
        finished: false,
    };
    let stream = futures_util::stream::unfold(
        (steps, guard, true),
        move |(mut steps, mut guard, first)| async move {
            if !first {
                tokio::time::sleep(gap).await;
            }
            match steps.pop_front() {
                Some(Piece::Data(b)) => {
                    Some((Ok::<Bytes, std::io::Error>(b), (steps, guard, false)))
                }
                Some(Piece::Hang) => {
                    std::future::pending::<()>().await;
                    None
                }
                Some(Piece::Cut) => Some((
                    Err(std::io::Error::other("cut mid-body")),
                    (steps, guard, false),
                )),
                None => {
                    guard.finished = true;
                    drop(guard);
                    None
                }
            }
        },
    );
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn prelude(shared: &Arc<Shared>, received: Received) -> Result<Reply, Response> {
    let route = received.route;
    shared.received.lock().unwrap().push(received);
    let reply = next_reply(shared, route);
    match &reply {
        Reply::Status {
            status,
            retry_after,
        } => {
            let mut r = error_json(*status, "scripted failure");
            if let Some(after) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, after.parse().unwrap());
            }
            Err(r)
        }
        Reply::SlowStart(d) => {
            tokio::time::sleep(*d).await;
            Ok(reply)
        }
        _ => Ok(reply),
    }
}

fn received(route: Route, query: Option<String>, headers: &HeaderMap, body: &Bytes) -> Received {
    Received {
        route,
        voice: None,
        query,
        headers: headers.clone(),
        body: body.clone(),
        form: HashMap::new(),
        wav: None,
    }
}

/// The start of every JSON route: the request recorded, the scripted reply's prelude
/// played, then the key, the content type and the JSON body checked as OpenAI does.
async fn json_prelude(
    s: &Arc<Shared>,
    route: Route,
    behaviour: &Behaviour,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Reply, Value), Response> {
    let reply = prelude(s, received(route, None, headers, body)).await?;
    if !bearer_ok(headers, &behaviour.api_key) {
        return Err(error_json(401, "Incorrect API key provided"));
    }
    if !is_json(headers) {
        return Err(error_json(400, "Content-Type must be application/json"));
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return Err(error_json(
            400,
            "We could not parse the JSON body of your request",
        ));
    };
    Ok((reply, req))
}

async fn chat(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let behaviour = s.behaviour.lock().unwrap().clone();
    let (reply, req) = match json_prelude(&s, Route::Chat, &behaviour, &headers, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let messages_ok = req["messages"].as_array().is_some_and(|m| {
        !m.is_empty()
            && m.iter().all(|m| {
                matches!(m["role"].as_str(), Some("system" | "user" | "assistant"))
                    && m["content"].is_string()
            })
    });
    if !req["model"].is_string() || !messages_ok {
        return error_json(400, "model and messages are required");
    }
    if req["stream"] != json!(true) {
        return error_json(400, "this fake only streams");
    }
    let include_usage =
        req["stream_options"]["include_usage"] == json!(true) && !behaviour.omit_usage;
    let mut sse = String::from(": keep-alive\n\n");
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": req["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if include_usage {
            c["usage"] = Value::Null;
        }
        format!("data: {c}\n\n")
    };
    sse += &chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    if matches!(reply, Reply::BadJson) {
        sse += "data: {\"choices\": [ {\"delta\": \n\n";
    }
    let words: Vec<&str> = behaviour.chat_reply.split(' ').collect();
    for (i, w) in words.iter().enumerate() {
        let text = if i + 1 < words.len() {
            format!("{w} ")
        } else {
            (*w).to_string()
        };
        sse += &chunk(json!({"content": text}), Value::Null);
        if i == 1 {
            sse += ": still thinking\n\n";
        }
    }
    sse += &chunk(json!({}), json!("stop"));
    if include_usage {
        sse += &format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
                "usage": {"prompt_tokens": 42, "completion_tokens": words.len(), "total_tokens": 42 + words.len()}})
        );
    }
    sse += "data: [DONE]\n\n";
    streamed(&s, "text/event-stream", pieces(sse.as_bytes()), &reply)
}

async fn speech(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let behaviour = s.behaviour.lock().unwrap().clone();
    let (reply, req) = match json_prelude(&s, Route::Speech, &behaviour, &headers, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let input = req["input"].as_str().unwrap_or("");
    if !req["model"].is_string() || !req["voice"].is_string() || input.is_empty() {
        return error_json(400, "model, voice and input are required");
    }
    if req["response_format"] != json!("pcm") {
        return error_json(400, "this fake only serves response_format pcm");
    }
    let n = 24 * behaviour.ms_per_char as usize * input.chars().count();
    streamed(&s, "audio/pcm", pieces(&le_bytes(&tone(24000, n))), &reply)
}

async fn elevenlabs(
    State(s): State<Arc<Shared>>,
    Path(voice): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = s.behaviour.lock().unwrap().clone();
    let mut r = received(Route::ElevenLabs, query.clone(), &headers, &body);
    r.voice = Some(voice);
    let reply = match prelude(&s, r).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let key_ok = headers
        .get("xi-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == behaviour.api_key);
    if !key_ok {
        return Response::builder()
            .status(401)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
            ))
            .unwrap();
    }
    let format = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("output_format="))
        .unwrap_or("mp3_44100_128")
        .to_string();
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error_json(422, "invalid JSON");
    };
    let text = req["text"].as_str().unwrap_or("");
    if text.is_empty() || !is_json(&headers) {
        return error_json(422, "text is required");
    }
    let ms = behaviour.ms_per_char as usize * text.chars().count();
    let (content_type, bytes) = match format.as_str() {
        "ulaw_8000" => ("audio/basic", ulaw_bytes(&tone(8000, 8 * ms))),
        "pcm_16000" => ("audio/pcm", le_bytes(&tone(16000, 16 * ms))),
        _ => return error_json(400, "this fake serves only ulaw_8000 and pcm_16000"),
    };
    streamed(&s, content_type, pieces(&bytes), &reply)
}

async fn transcriptions(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let behaviour = s.behaviour.lock().unwrap().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut r = received(Route::Transcriptions, None, &headers, &body);
    let parts = parse_multipart(&content_type, &body);
    if let Ok(parts) = &parts {
        for p in parts {
            if p.filename.is_none() {
                r.form.insert(
                    p.name.clone(),
                    String::from_utf8_lossy(&p.body).into_owned(),
                );
            } else if let Ok(wav) = parse_wav(&p.body) {
                r.wav = Some((wav.rate, wav.samples.len()));
            }
        }
    }
    let reply = match prelude(&s, r).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !bearer_ok(&headers, &behaviour.api_key) {
        return error_json(401, "Incorrect API key provided");
    }
    if !content_type.starts_with("multipart/form-data") {
        return error_json(400, "Content-Type must be multipart/form-data");
    }
    let parts = match parts {
        Ok(p) => p,
        Err(e) => return error_json(400, &format!("bad multipart body: {e}")),
    };
    let field = |name: &str| parts.iter().find(|p| p.name == name);
    let Some(file) = field("file").filter(|f| f.filename.is_some()) else {
        return error_json(400, "file is required");
    };
    match parse_wav(&file.body) {
        Ok(w) if w.channels == 1 && w.bits == 16 && !w.samples.is_empty() => {}
        _ => return error_json(400, "file is not a mono 16-bit WAV"),
    }
    if field("model").is_none() {
        return error_json(400, "model is required");
    }
    let text = if matches!(reply, Reply::BadJson) {
        "{\"text\": ".to_string()
    } else {
        json!({"text": behaviour.transcript}).to_string()
    };
    streamed(&s, "application/json", vec![Bytes::from(text)], &reply)
}
