//! A fake Deepgram live `/v1/listen` WebSocket: checks the upgrade like Deepgram (auth
//! header `Token <key>`, `encoding`, `sample_rate`, `channels`), answers audio with
//! `SpeechStarted` and interim `Results`, `Finalize` with a `from_finalize` final,
//! `CloseStream` with `Metadata` and a normal close, and records everything it got.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

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
    records: Mutex<Vec<Record>>,
    upgrades_tried: Mutex<usize>,
}

/// The running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeDeepgram {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDeepgram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDeepgram {
    /// Starts on 127.0.0.1:0.
    pub async fn start(behaviour: Behaviour) -> FakeDeepgram {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            ..Shared::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, s.clone()));
            }
        });
        FakeDeepgram { addr, shared, task }
    }

    /// `ws://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("ws://{}/v1", self.addr)
    }

    /// The accepted key.
    pub fn api_key(&self) -> String {
        self.shared.behaviour.lock().unwrap().api_key.clone()
    }

    /// Records of accepted connections, in order.
    pub fn records(&self) -> Vec<Record> {
        self.shared.records.lock().unwrap().clone()
    }

    /// Upgrade requests seen (accepted or refused).
    pub fn upgrades_tried(&self) -> usize {
        *self.shared.upgrades_tried.lock().unwrap()
    }

    /// Waits (up to 5 s) until the last connection's record satisfies `f`.
    pub async fn wait_for(&self, f: impl Fn(&Record) -> bool) -> bool {
        for _ in 0..500 {
            if self.records().last().is_some_and(&f) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

fn refuse(status: u16, text: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(text.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r
}

fn results(
    transcript: &str,
    is_final: bool,
    speech_final: bool,
    from_finalize: bool,
    start: f64,
) -> Message {
    Message::text(
        json!({
            "type": "Results", "channel_index": [0, 1], "duration": 0.5, "start": start,
            "is_final": is_final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.97, "words": []}]},
            "metadata": {"request_id": "fake-req", "model_info": {"name": "fake"}}
        })
        .to_string(),
    )
}

async fn serve(tcp: tokio::net::TcpStream, shared: Arc<Shared>) {
    *shared.upgrades_tried.lock().unwrap() += 1;
    let mut record = Record::default();
    let behaviour = shared.behaviour.lock().unwrap().clone();
    let rejected = shared.behaviour.lock().unwrap().reject_next.pop_front();
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        if let Some(status) = rejected {
            return Err(refuse(status, "scripted failure"));
        }
        if req.uri().path() != "/v1/listen" {
            return Err(refuse(404, "not found"));
        }
        record.authorization = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if record.authorization.as_deref() != Some(&format!("Token {}", behaviour.api_key)) {
            return Err(refuse(
                401,
                r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}"#,
            ));
        }
        record.query = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let q = &record.query;
        let encoding_ok = matches!(
            q.get("encoding").map(String::as_str),
            Some("mulaw" | "alaw" | "linear16")
        );
        if !encoding_ok || !q.contains_key("sample_rate") || q.get("channels").is_none() {
            return Err(refuse(
                400,
                "raw audio needs encoding, sample_rate and channels",
            ));
        }
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    let index = {
        let mut records = shared.records.lock().unwrap();
        records.push(record);
        records.len() - 1
    };
    let update = |f: &dyn Fn(&mut Record)| f(&mut shared.records.lock().unwrap()[index]);
    let mut utterance_bytes = 0usize;
    let mut total_bytes = 0usize;
    let mut next_interim = 4000usize;
    while let Some(Ok(message)) = ws.next().await {
        let behaviour = shared.behaviour.lock().unwrap().clone();
        let current = behaviour.utterances.front().cloned().unwrap_or_default();
        let start = total_bytes as f64 / 8000.0;
        match message {
            Message::Binary(audio) => {
                let first = total_bytes == 0;
                total_bytes += audio.len();
                utterance_bytes += audio.len();
                update(&|r| {
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
                        _ => {}
                    }
                    let started =
                        json!({"type": "SpeechStarted", "channel": [0], "timestamp": 0.1});
                    let _ = ws.send(Message::text(started.to_string())).await;
                }
                if utterance_bytes >= next_interim && !current.is_empty() {
                    let words: Vec<&str> = current.split(' ').collect();
                    let partial = words[..words.len().div_ceil(2)].join(" ");
                    let _ = ws.send(results(&partial, false, false, false, start)).await;
                    next_interim += 4000;
                }
                if behaviour
                    .auto_final_after
                    .is_some_and(|n| utterance_bytes >= n)
                    && !current.is_empty()
                {
                    let _ = ws.send(results(&current, true, true, false, start)).await;
                    let end =
                        json!({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": start});
                    let _ = ws.send(Message::text(end.to_string())).await;
                    shared.behaviour.lock().unwrap().utterances.pop_front();
                    utterance_bytes = 0;
                    next_interim = 4000;
                }
            }
            Message::Text(text) => {
                let kind = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(str::to_string));
                match kind.as_deref() {
                    Some("KeepAlive") => update(&|r| r.keepalives += 1),
                    Some("Finalize") => {
                        update(&|r| r.finalizes += 1);
                        if behaviour.mode == Mode::IgnoreFinalize {
                            continue;
                        }
                        let said = if utterance_bytes > 0 {
                            current.clone()
                        } else {
                            String::new()
                        };
                        let _ = ws.send(results(&said, true, false, true, start)).await;
                        if utterance_bytes > 0 {
                            shared.behaviour.lock().unwrap().utterances.pop_front();
                        }
                        utterance_bytes = 0;
                        next_interim = 4000;
                    }
                    Some("CloseStream") => {
                        update(&|r| r.close_stream = true);
                        let meta = json!({"type": "Metadata", "transaction_key": "deprecated", "request_id": "fake-req",
                            "sha256": "0", "created": "2025-01-01T00:00:00.000Z", "duration": start, "channels": 1});
                        let _ = ws.send(Message::text(meta.to_string())).await;
                        let _ = ws
                            .send(Message::Close(Some(CloseFrame {
                                code: CloseCode::Normal,
                                reason: "".into(),
                            })))
                            .await;
                        break;
                    }
                    _ => {
                        let _ = ws
                            .send(Message::Close(Some(CloseFrame {
                                code: CloseCode::Policy,
                                reason: "DATA-0000".into(),
                            })))
                            .await;
                        break;
                    }
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    update(&|r| r.ended = true);
}
