//! [`FakeDeepgram`]: Deepgram's live `/v1/listen` WebSocket. It checks the upgrade like
//! Deepgram (auth header `Token <key>`, `encoding`, `sample_rate`, `channels`), answers
//! audio with `SpeechStarted` and interim `Results`, `Finalize` with a `from_finalize`
//! final, `CloseStream` with `Metadata` and a normal close, anything else with a policy
//! close (`DATA-0000`), and records what each connection got. With `language=multi` each
//! result names its `languages` (`hi` for Devanagari, `en` for Latin letters).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::record::{Log, wait_until};
use super::server::{Server, any_loopback_port};
use super::ws::{Socket, accept};
use super::{FakeEnginesError, lock};

/// Bytes of audio between two interim results.
const INTERIM_EVERY: usize = 4000;
/// Audio bytes per second at the 8 kHz G.711 the daemon sends (for `start` times).
const BYTES_PER_SECOND: f64 = 8000.0;

/// How a connection misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As documented.
    Normal,
    /// Never answers `Finalize` (a hanging provider).
    IgnoreFinalize,
    /// Sends a message that is not JSON after the first audio.
    BadJson,
    /// Drops the TCP connection after the first audio, without a close frame.
    DropAfterAudio,
}

/// How the fake answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The only key accepted.
    pub api_key: String,
    /// Transcripts of successive utterances; each final takes the next.
    pub utterances: VecDeque<String>,
    /// Send `is_final` + `speech_final` and `UtteranceEnd` on its own after this many
    /// audio bytes of an utterance (Deepgram's own endpointing).
    pub auto_final_after: Option<usize>,
    /// Misbehaviour.
    pub mode: Mode,
    /// Statuses refusing the next upgrades (e.g. 500, then success).
    pub reject_next: VecDeque<u16>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            api_key: "dg-key-456".into(),
            utterances: VecDeque::from([
                "I would like to book a table".to_string(),
                "for two people".to_string(),
            ]),
            auto_final_after: None,
            mode: Mode::Normal,
            reject_next: VecDeque::new(),
        }
    }
}

/// What one connection received.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The query parameters of the upgrade.
    pub query: HashMap<String, String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// Audio bytes received.
    pub audio_bytes: usize,
    /// Binary messages received.
    pub audio_messages: usize,
    /// `KeepAlive` messages.
    pub keepalives: usize,
    /// `Finalize` messages.
    pub finalizes: usize,
    /// Whether `CloseStream` came.
    pub close_stream: bool,
    /// Whether the connection has ended (by either side).
    pub ended: bool,
}

#[derive(Debug, Default)]
struct Shared {
    behaviour: Mutex<Behaviour>,
    records: Log<Record>,
    upgrades_tried: Mutex<usize>,
}

impl Shared {
    fn behaviour(&self) -> Behaviour {
        lock(&self.behaviour).clone()
    }

    /// The utterance being heard (empty when none is left).
    fn current_utterance(&self) -> String {
        lock(&self.behaviour)
            .utterances
            .front()
            .cloned()
            .unwrap_or_default()
    }

    /// The current utterance is done; the next final takes the next one.
    fn next_utterance(&self) {
        lock(&self.behaviour).utterances.pop_front();
    }
}

/// The running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeDeepgram {
    server: Server,
    shared: Arc<Shared>,
}

impl FakeDeepgram {
    /// Starts on 127.0.0.1:0.
    pub async fn start(behaviour: Behaviour) -> Result<FakeDeepgram, FakeEnginesError> {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/v1/listen", any(listen))
            .fallback(not_found)
            .with_state(shared.clone());
        let server = Server::start(any_loopback_port(), app).await?;
        Ok(FakeDeepgram { server, shared })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `ws://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("ws://{}/v1", self.addr())
    }

    /// The accepted key.
    pub fn api_key(&self) -> String {
        lock(&self.shared.behaviour).api_key.clone()
    }

    /// Records of accepted connections, in order.
    pub fn records(&self) -> Vec<Record> {
        self.shared.records.snapshot()
    }

    /// Upgrade requests seen (accepted or refused).
    pub fn upgrades_tried(&self) -> usize {
        *lock(&self.shared.upgrades_tried)
    }

    /// Waits (up to 5 s) until the last connection's record satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&Record) -> bool) -> bool {
        wait_until(|| self.shared.records.last_is(&f)).await
    }
}

fn refuse(status: u16, text: &'static str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, text).into_response()
}

/// Counts an upgrade attempt and takes the scripted refusal for it, if any.
fn tried(shared: &Shared) -> Option<Response> {
    *lock(&shared.upgrades_tried) += 1;
    let status = lock(&shared.behaviour).reject_next.pop_front()?;
    Some(refuse(status, "scripted failure"))
}

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    tried(&shared).unwrap_or_else(|| refuse(404, "not found"))
}

/// The upgrade, checked as Deepgram does; an accepted one runs [`session`].
async fn listen(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(refused) = tried(&shared) {
        return refused;
    }
    let api_key = shared.behaviour().api_key;
    let mut record = Record {
        authorization: request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        ..Record::default()
    };
    if record.authorization.as_deref() != Some(&format!("Token {api_key}")) {
        return refuse(
            401,
            r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}"#,
        );
    }
    record.query = url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let q = &record.query;
    let encoding_ok = matches!(
        q.get("encoding").map(String::as_str),
        Some("mulaw" | "alaw" | "linear16")
    );
    if !encoding_ok || !q.contains_key("sample_rate") || !q.contains_key("channels") {
        return refuse(400, "raw audio needs encoding, sample_rate and channels");
    }
    accept(request, move |ws| async move {
        let index = shared.records.push(record);
        session(ws, &shared, index).await;
        shared.records.update(index, |r| r.ended = true);
    })
}

/// The languages a `language=multi` result names, dominant first: Hindi for Devanagari,
/// English for Latin letters.
fn languages_of(transcript: &str) -> Vec<&'static str> {
    let hindi = transcript
        .chars()
        .any(|c| ('\u{0900}'..='\u{097F}').contains(&c));
    let english = transcript.chars().any(|c| c.is_ascii_alphabetic());
    let mut found = Vec::new();
    if hindi {
        found.push("hi");
    }
    if english {
        found.push("en");
    }
    found
}

/// A `Results` message; with `multi` (the session asked `language=multi`) the
/// alternative names its `languages`.
fn results(transcript: &str, flags: (bool, bool, bool), start: f64, multi: bool) -> Message {
    let (is_final, speech_final, from_finalize) = flags;
    let mut alternative = json!({"transcript": transcript, "confidence": 0.97, "words": []});
    if multi {
        alternative["languages"] = json!(languages_of(transcript));
    }
    Message::text(
        json!({
            "type": "Results", "channel_index": [0, 1], "duration": 0.5, "start": start,
            "is_final": is_final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [alternative]},
            "metadata": {"request_id": "fake-req", "model_info": {"name": "fake"}}
        })
        .to_string(),
    )
}

fn close(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Where one connection is in its audio.
#[derive(Debug)]
struct Progress {
    /// Audio bytes of the current utterance.
    utterance_bytes: usize,
    /// Audio bytes of the whole connection.
    total_bytes: usize,
    /// The utterance's byte count at which the next interim result goes out.
    next_interim: usize,
}

impl Progress {
    fn utterance_done(&mut self) {
        self.utterance_bytes = 0;
        self.next_interim = INTERIM_EVERY;
    }
}

/// One accepted connection, until either side closes it.
async fn session(mut ws: Socket, shared: &Shared, index: usize) {
    let multi = shared
        .records
        .snapshot()
        .get(index)
        .is_some_and(|r| r.query.get("language").map(String::as_str) == Some("multi"));
    let mut at = Progress {
        utterance_bytes: 0,
        total_bytes: 0,
        next_interim: INTERIM_EVERY,
    };
    while let Some(Ok(message)) = ws.next().await {
        let behaviour = shared.behaviour();
        let current = shared.current_utterance();
        let start = at.total_bytes as f64 / BYTES_PER_SECOND;
        match message {
            Message::Binary(audio) => {
                let first = at.total_bytes == 0;
                at.total_bytes += audio.len();
                at.utterance_bytes += audio.len();
                shared.records.update(index, |r| {
                    r.audio_bytes += audio.len();
                    r.audio_messages += 1;
                });
                if first {
                    match behaviour.mode {
                        Mode::BadJson => {
                            let _ = ws.send(Message::text("{\"type\": \"Results\", ")).await;
                            continue;
                        }
                        Mode::DropAfterAudio => break,
                        Mode::Normal | Mode::IgnoreFinalize => {}
                    }
                    let started =
                        json!({"type": "SpeechStarted", "channel": [0], "timestamp": 0.1});
                    let _ = ws.send(Message::text(started.to_string())).await;
                }
                if at.utterance_bytes >= at.next_interim && !current.is_empty() {
                    let words: Vec<&str> = current.split(' ').collect();
                    let partial = words[..words.len().div_ceil(2)].join(" ");
                    let _ = ws
                        .send(results(&partial, (false, false, false), start, multi))
                        .await;
                    at.next_interim += INTERIM_EVERY;
                }
                if behaviour
                    .auto_final_after
                    .is_some_and(|n| at.utterance_bytes >= n)
                    && !current.is_empty()
                {
                    let _ = ws
                        .send(results(&current, (true, true, false), start, multi))
                        .await;
                    let end =
                        json!({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": start});
                    let _ = ws.send(Message::text(end.to_string())).await;
                    shared.next_utterance();
                    at.utterance_done();
                }
            }
            Message::Text(text) => {
                let kind = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(str::to_string));
                match kind.as_deref() {
                    Some("KeepAlive") => shared.records.update(index, |r| r.keepalives += 1),
                    Some("Finalize") => {
                        shared.records.update(index, |r| r.finalizes += 1);
                        if behaviour.mode == Mode::IgnoreFinalize {
                            continue;
                        }
                        let heard = at.utterance_bytes > 0;
                        let said = if heard { current.as_str() } else { "" };
                        let _ = ws
                            .send(results(said, (true, false, true), start, multi))
                            .await;
                        if heard {
                            shared.next_utterance();
                        }
                        at.utterance_done();
                    }
                    Some("CloseStream") => {
                        shared.records.update(index, |r| r.close_stream = true);
                        let meta = json!({"type": "Metadata", "transaction_key": "deprecated", "request_id": "fake-req",
                            "sha256": "0", "created": "2025-01-01T00:00:00.000Z", "duration": start, "channels": 1});
                        let _ = ws.send(Message::text(meta.to_string())).await;
                        let _ = ws.send(close(CloseCode::Normal, "")).await;
                        break;
                    }
                    _ => {
                        let _ = ws.send(close(CloseCode::Policy, "DATA-0000")).await;
                        break;
                    }
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
}
