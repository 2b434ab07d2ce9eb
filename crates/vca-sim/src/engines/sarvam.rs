//! [`FakeSarvam`]: Sarvam's speech and chat APIs on one loopback server, checked as Sarvam
//! checks them (the `api-subscription-key` header, query parameters, JSON fields):
//! - `GET /speech-to-text/ws`: streaming STT ([`super::sarvam_sockets`]), scripted
//!   transcripts per utterance each with its language code, VAD events, error messages,
//!   close codes, a stalling mode;
//! - `POST /speech-to-text`: one transcript per multipart upload;
//! - `GET /text-to-speech/ws`: streaming TTS (`config`, `text`, `flush`, `ping`), G.711
//!   audio in base64 and the `final` event;
//! - `POST /text-to-speech/stream`: the same audio as a binary body;
//! - `POST /v1/chat/completions`: an OpenAI-shaped SSE reply for the key header.
//!
//! Everything received is recorded for the tests to assert on.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Value, json};

use super::record::{Log, wait_until};
use super::sarvam_sockets::{stt_session, tts_session};
use super::server::{Server, any_loopback_port};
use super::wire::{parse_multipart, parse_wav};
use super::ws::accept;
use super::{FakeEnginesError, lock};

/// How the streaming STT misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SttMode {
    /// As documented.
    Normal,
    /// Hears speech start but never sends a transcript, not even after `flush`.
    Stall,
    /// Sends `START_SPEECH` and then an error message with this code at the first audio.
    ErrorAfterAudio(String),
    /// Sends `START_SPEECH` and then closes with this code at the first audio.
    CloseAfterAudio(u16),
}

/// How the TTS socket misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TtsMode {
    /// As documented.
    Normal,
    /// Sends the first audio chunk, then the rest only after a `ping` came.
    HoldUntilPing,
    /// Sends the first audio chunk and then nothing (the socket stays open).
    StallAfterFirst,
    /// Answers `flush` with an error message with this code.
    Error(String),
}

/// How the fake answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The only key accepted.
    pub api_key: String,
    /// Transcripts of successive utterances with the language code each is reported in.
    pub utterances: VecDeque<(String, String)>,
    /// End an utterance on its own (`END_SPEECH` and the transcript) after this many
    /// bytes of PCM (Sarvam's VAD); `None` waits for `flush`.
    pub auto_end_after: Option<usize>,
    /// Streaming STT misbehaviour.
    pub stt_mode: SttMode,
    /// TTS socket misbehaviour.
    pub tts_mode: TtsMode,
    /// The G.711 bytes every synthesis answers with (sent in `tts_chunks` pieces).
    pub tts_audio: Vec<u8>,
    /// Pieces the TTS audio is sent in.
    pub tts_chunks: usize,
    /// Statuses refusing the next upgrades or requests (e.g. 500, then success).
    pub reject_next: VecDeque<u16>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            api_key: "sarvam-key-789".into(),
            utterances: VecDeque::from([
                ("मुझे एक टेबल बुक करनी है".to_string(), "hi-IN".to_string()),
                ("for two people".to_string(), "en-IN".to_string()),
            ]),
            auto_end_after: None,
            stt_mode: SttMode::Normal,
            tts_mode: TtsMode::Normal,
            tts_audio: (0..=255u8).cycle().take(1600).collect(),
            tts_chunks: 4,
            reject_next: VecDeque::new(),
        }
    }
}

/// What one STT socket received.
#[derive(Debug, Clone, Default)]
pub struct SttRecord {
    /// Query parameters of the upgrade.
    pub query: HashMap<String, String>,
    /// The `api-subscription-key` header.
    pub key: Option<String>,
    /// PCM bytes received (decoded from base64).
    pub pcm: Vec<u8>,
    /// Audio messages.
    pub audio_messages: usize,
    /// `sample_rate` of each audio message, when not 8000 (should stay empty).
    pub odd_rates: Vec<u64>,
    /// `flush` messages.
    pub flushes: usize,
    /// Whether the client closed with a close frame.
    pub client_closed: bool,
    /// Whether the connection has ended.
    pub ended: bool,
}

/// What one TTS socket received.
#[derive(Debug, Clone, Default)]
pub struct TtsRecord {
    /// Query parameters of the upgrade.
    pub query: HashMap<String, String>,
    /// The `api-subscription-key` header.
    pub key: Option<String>,
    /// The `config` message's `data`.
    pub config: Option<Value>,
    /// Texts received.
    pub texts: Vec<String>,
    /// `flush` messages.
    pub flushes: usize,
    /// `ping` messages.
    pub pings: usize,
    /// The code of the client's close frame.
    pub close_code: Option<u16>,
    /// Whether the connection has ended.
    pub ended: bool,
}

/// One HTTP request (REST STT, HTTP TTS, chat).
#[derive(Debug, Clone)]
pub struct HttpRecord {
    /// The path.
    pub path: String,
    /// The headers.
    pub headers: HeaderMap,
    /// Form fields (REST STT; file excluded) .
    pub form: HashMap<String, String>,
    /// Rate of the uploaded WAV (REST STT).
    pub wav_rate: Option<u32>,
    /// The JSON body (TTS, chat).
    pub json: Option<Value>,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    behaviour: Mutex<Behaviour>,
    pub(crate) stt: Log<SttRecord>,
    pub(crate) tts: Log<TtsRecord>,
    http: Log<HttpRecord>,
}

impl Shared {
    pub(crate) fn behaviour(&self) -> Behaviour {
        lock(&self.behaviour).clone()
    }

    /// Takes the next scripted utterance (empty text when none is left).
    pub(crate) fn next_utterance(&self) -> (String, String) {
        lock(&self.behaviour)
            .utterances
            .pop_front()
            .unwrap_or_default()
    }

    fn refusal(&self) -> Option<Response> {
        let status = lock(&self.behaviour).reject_next.pop_front()?;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Some((status, "scripted failure").into_response())
    }
}

/// The running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeSarvam {
    server: Server,
    shared: Arc<Shared>,
}

impl FakeSarvam {
    /// Starts on 127.0.0.1:0.
    pub async fn start(behaviour: Behaviour) -> Result<FakeSarvam, FakeEnginesError> {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/speech-to-text/ws", any(stt_upgrade))
            .route("/speech-to-text", post(stt_rest))
            .route("/text-to-speech/ws", any(tts_upgrade))
            .route("/text-to-speech/stream", post(tts_http))
            .route("/v1/chat/completions", post(chat))
            .with_state(shared.clone());
        let server = Server::start(any_loopback_port(), app).await?;
        Ok(FakeSarvam { server, shared })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT` (the clients derive `ws://` from it).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The accepted key.
    pub fn api_key(&self) -> String {
        lock(&self.shared.behaviour).api_key.clone()
    }

    /// STT sockets, in order.
    pub fn stt_records(&self) -> Vec<SttRecord> {
        self.shared.stt.snapshot()
    }

    /// TTS sockets, in order.
    pub fn tts_records(&self) -> Vec<TtsRecord> {
        self.shared.tts.snapshot()
    }

    /// HTTP requests, in order.
    pub fn http_records(&self) -> Vec<HttpRecord> {
        self.shared.http.snapshot()
    }

    /// Waits (up to 5 s) until the last STT socket's record satisfies `f`.
    pub async fn wait_stt(&self, f: impl Fn(&SttRecord) -> bool) -> bool {
        wait_until(|| self.shared.stt.last_is(&f)).await
    }

    /// Waits (up to 5 s) until the last TTS socket's record satisfies `f`.
    pub async fn wait_tts(&self, f: impl Fn(&TtsRecord) -> bool) -> bool {
        wait_until(|| self.shared.tts.last_is(&f)).await
    }
}

fn key_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("api-subscription-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Sarvam's answer to a wrong or missing key.
fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":{"message":"Invalid API key","code":"invalid_api_key_error"}}"#,
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": {"message": message, "code": "invalid_request_error"}}).to_string(),
    )
        .into_response()
}

fn query_of(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The STT upgrade, checked as Sarvam does; an accepted one runs the STT session.
async fn stt_upgrade(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(refused) = shared.refusal() {
        return refused;
    }
    let key = key_of(request.headers());
    if key.as_deref() != Some(shared.behaviour().api_key.as_str()) {
        return forbidden();
    }
    let query = query_of(&request);
    if !query.contains_key("language-code") {
        return bad_request("language-code is required");
    }
    let rate_ok = matches!(
        query.get("sample_rate").map(String::as_str),
        None | Some("8000" | "16000")
    );
    let pcm = query
        .get("input_audio_codec")
        .is_some_and(|c| c.starts_with("pcm"));
    if !rate_ok || (pcm && !query.contains_key("sample_rate")) {
        return bad_request("PCM input needs sample_rate 8000 or 16000");
    }
    let record = SttRecord {
        query,
        key,
        ..SttRecord::default()
    };
    accept(request, move |ws| async move {
        let index = shared.stt.push(record);
        stt_session(ws, &shared, index).await;
        shared.stt.update(index, |r| r.ended = true);
    })
}

/// The TTS upgrade; an accepted one runs the TTS session.
async fn tts_upgrade(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(refused) = shared.refusal() {
        return refused;
    }
    let key = key_of(request.headers());
    if key.as_deref() != Some(shared.behaviour().api_key.as_str()) {
        return forbidden();
    }
    let record = TtsRecord {
        query: query_of(&request),
        key,
        ..TtsRecord::default()
    };
    accept(request, move |ws| async move {
        let index = shared.tts.push(record);
        tts_session(ws, &shared, index).await;
        shared.tts.update(index, |r| r.ended = true);
    })
}

/// `POST /speech-to-text`: multipart `file` (WAV), `model`, `language_code`.
async fn stt_rest(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = shared.refusal() {
        return refused;
    }
    if key_of(&headers).as_deref() != Some(shared.behaviour().api_key.as_str()) {
        return forbidden();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Ok(parts) = parse_multipart(content_type, &body) else {
        return bad_request("bad multipart body");
    };
    let Some(file) = parts.iter().find(|p| p.name == "file") else {
        return bad_request("file is required");
    };
    let Ok(wav) = parse_wav(&file.body) else {
        return bad_request("file is not a WAV");
    };
    let form: HashMap<String, String> = parts
        .iter()
        .filter(|p| p.name != "file")
        .map(|p| {
            (
                p.name.clone(),
                String::from_utf8_lossy(&p.body).into_owned(),
            )
        })
        .collect();
    shared.http.push(HttpRecord {
        path: "/speech-to-text".into(),
        headers: headers.clone(),
        form: form.clone(),
        wav_rate: Some(wav.rate),
        json: None,
    });
    let (text, detected) = shared.next_utterance();
    let language = match form.get("language_code").map(String::as_str) {
        None | Some("unknown") => detected,
        Some(given) => given.to_string(),
    };
    let answer = json!({"request_id": "fake-rest", "transcript": text, "language_code": language});
    (
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}

/// `POST /text-to-speech/stream`: JSON in, the G.711 audio as a binary body.
async fn tts_http(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = shared.refusal() {
        return refused;
    }
    let behaviour = shared.behaviour();
    if key_of(&headers).as_deref() != Some(behaviour.api_key.as_str()) {
        return forbidden();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body is not JSON");
    };
    shared.http.push(HttpRecord {
        path: "/text-to-speech/stream".into(),
        headers: headers.clone(),
        form: HashMap::new(),
        wav_rate: None,
        json: Some(request.clone()),
    });
    if request["text"].as_str().is_none_or(str::is_empty) {
        return bad_request("text is required");
    }
    let content_type = match request["output_audio_codec"].as_str() {
        Some("alaw") => "audio/alaw",
        Some("mulaw") => "audio/mulaw",
        _ => "audio/mpeg",
    };
    let pieces: Vec<Result<Bytes, std::io::Error>> = behaviour
        .tts_audio
        .chunks(
            behaviour
                .tts_audio
                .len()
                .div_ceil(behaviour.tts_chunks.max(1))
                .max(1),
        )
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(pieces)));
    if let Ok(v) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// `POST /v1/chat/completions`: the key must be in `api-subscription-key`; answers a
/// short streamed reply.
async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.http.push(HttpRecord {
        path: "/v1/chat/completions".into(),
        headers: headers.clone(),
        form: HashMap::new(),
        wav_rate: None,
        json: serde_json::from_slice(&body).ok(),
    });
    if key_of(&headers).as_deref() != Some(shared.behaviour().api_key.as_str()) {
        return forbidden();
    }
    let chunk = |content: &str| {
        json!({"id": "fake", "object": "chat.completion.chunk", "model": "sarvam-m",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
    };
    let events = format!(
        "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        chunk("जी, "),
        chunk("बिल्कुल।")
    );
    ([(header::CONTENT_TYPE, "text/event-stream")], events).into_response()
}
