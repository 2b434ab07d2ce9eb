//! One synthesis over Sarvam's `/text-to-speech/ws`: `config` (language, speaker, 8 kHz,
//! the call's codec), `text`, `flush`; then `audio` messages (base64 G.711) until the
//! `final` event. A `ping` goes out every `ping_every` while the socket is open. Dropping
//! the stream (barge-in) sends a normal close frame and ends the socket's task.

use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::sarvam::PROVIDER;
use super::{ChunkSource, TtsStream, stream_after_first};
use crate::engines::audio::PcmChunk;
use crate::engines::error::EngineError;
use crate::engines::metrics;
use crate::engines::resilience::Guard;
use crate::engines::sarvam::{self, Ws};
use crate::media::g711::Law;

const PING: &str = r#"{"type":"ping"}"#;
const FLUSH: &str = r#"{"type":"flush"}"#;

/// What one synthesis sends, in Sarvam's forms.
#[derive(Debug, Clone)]
pub(super) struct WsRequest {
    pub(super) text: String,
    /// `hi-IN`, `od-IN`.
    pub(super) language: String,
    pub(super) speaker: String,
    pub(super) model: String,
    /// `alaw` or `mulaw`.
    pub(super) codec: &'static str,
}

/// What a server message means for the synthesis.
pub(crate) enum Step {
    Audio(PcmChunk),
    Done,
    Skip,
}

fn protocol(detail: impl Into<String>) -> EngineError {
    EngineError::Protocol {
        provider: PROVIDER,
        detail: detail.into(),
    }
}

/// Reads one server message.
pub(crate) fn step(message: Message, law: Law) -> Result<Step, EngineError> {
    let text = match message {
        Message::Text(text) => text,
        Message::Close(frame) => {
            return match sarvam::close_error(PROVIDER, frame.as_ref()) {
                EngineError::Cancelled { .. } => Err(protocol("closed before the final event")),
                err => Err(err),
            };
        }
        _ => return Ok(Step::Skip),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| protocol(format!("bad message JSON: {e}")))?;
    let data = &value["data"];
    match value["type"].as_str() {
        Some("audio") => {
            let b64 = data["audio"]
                .as_str()
                .ok_or_else(|| protocol("audio without data.audio"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| protocol("audio that is not base64"))?;
            Ok(Step::Audio(PcmChunk {
                rate_hz: 8000,
                samples: bytes.iter().map(|&b| law.decode(b)).collect(),
            }))
        }
        Some("event") if data["event_type"].as_str() == Some("final") => Ok(Step::Done),
        Some("error") => {
            let code = data["code"]
                .as_str()
                .map(str::to_string)
                .or_else(|| data["code"].as_u64().map(|n| n.to_string()));
            Err(sarvam::error_message(PROVIDER, code.as_deref()))
        }
        _ => Ok(Step::Skip),
    }
}

/// How long a socket opened ahead of its first sentence is used; an older one may have been
/// closed by Sarvam as idle, and is dropped.
pub(super) const WARM_FOR: Duration = Duration::from_secs(15);

/// A socket opened when the call was answered: connected, `config` sent, no text yet.
pub(super) struct WarmSocket {
    ws: Ws,
    opened: tokio::time::Instant,
    /// Language, speaker, model and codec of its `config`.
    fits: (String, String, String, &'static str),
}

impl WarmSocket {
    /// Whether it is young enough to be used.
    pub(super) fn opened_recently(&self) -> bool {
        self.opened.elapsed() < WARM_FOR
    }

    /// Whether a synthesis of `request` can use this socket now.
    pub(super) fn fits(&self, request: &WsRequest) -> bool {
        self.opened_recently() && self.fits == fit_of(request)
    }
}

fn fit_of(request: &WsRequest) -> (String, String, String, &'static str) {
    (
        request.language.clone(),
        request.speaker.clone(),
        request.model.clone(),
        request.codec,
    )
}

/// Connects and sends the `config` of `request`, within `limit`.
pub(super) async fn open(
    url: &url::Url,
    key: &reqwest::header::HeaderValue,
    request: &WsRequest,
    limit: Duration,
) -> Result<WarmSocket, EngineError> {
    let attempt = async {
        let mut ws = sarvam::connect(PROVIDER, url, key).await?;
        let config = json!({"type": "config", "data": {
            "target_language_code": request.language,
            "speaker": request.speaker,
            "speech_sample_rate": "8000",
            "output_audio_codec": request.codec,
        }});
        ws.send(Message::text(config.to_string()))
            .await
            .map_err(|_| EngineError::Unavailable {
                provider: PROVIDER,
                reason: "connection lost while sending".into(),
            })?;
        Ok(WarmSocket {
            ws,
            opened: tokio::time::Instant::now(),
            fits: fit_of(request),
        })
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| EngineError::Timeout {
            provider: PROVIDER,
            stage: "connect",
        })?
}

/// Connects, sends the request and waits for its first audio (within `limit`).
async fn start(
    url: &url::Url,
    key: &reqwest::header::HeaderValue,
    law: Law,
    request: &WsRequest,
    limit: Duration,
) -> Result<(Ws, PcmChunk), EngineError> {
    let warm = open(url, key, request, limit).await?;
    speak(warm.ws, law, request, limit).await
}

/// Sends the text of `request` on a socket whose `config` is sent, and waits for its
/// first audio (within `limit`).
async fn speak(
    mut ws: Ws,
    law: Law,
    request: &WsRequest,
    limit: Duration,
) -> Result<(Ws, PcmChunk), EngineError> {
    let text = json!({"type": "text", "data": {"text": request.text}});
    for message in [text.to_string(), FLUSH.to_string()] {
        ws.send(Message::text(message))
            .await
            .map_err(|_| EngineError::Unavailable {
                provider: PROVIDER,
                reason: "connection lost while sending".into(),
            })?;
    }
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| EngineError::Timeout {
                provider: PROVIDER,
                stage: "first audio",
            })?;
        let message = next
            .ok_or_else(|| protocol("closed before any audio"))?
            .map_err(|_| EngineError::Unavailable {
                provider: PROVIDER,
                reason: "connection lost while reading".into(),
            })?;
        match step(message, law)? {
            Step::Audio(chunk) if !chunk.samples.is_empty() => return Ok((ws, chunk)),
            Step::Done => return Err(protocol("the synthesis held no audio")),
            Step::Audio(_) | Step::Skip => {}
        }
    }
}

/// The rest of the synthesis, read by [`pump`].
struct Rest {
    rx: mpsc::Receiver<Result<PcmChunk, EngineError>>,
    /// Cancels the pump (close frame) when the stream is dropped.
    _stop: DropGuard,
}

impl ChunkSource for Rest {
    async fn next_chunk(
        &mut self,
        limit: Duration,
        stage: &'static str,
    ) -> Result<Option<PcmChunk>, EngineError> {
        match tokio::time::timeout(limit, self.rx.recv()).await {
            Err(_) => Err(EngineError::Timeout {
                provider: PROVIDER,
                stage,
            }),
            Ok(None) => Ok(None),
            Ok(Some(item)) => item.map(Some),
        }
    }
}

/// Owns the socket after the first audio: forwards audio, pings, and closes it normally
/// when the synthesis ends or the stream is dropped.
async fn pump(
    ws: Ws,
    law: Law,
    ping_every: Duration,
    tx: mpsc::Sender<Result<PcmChunk, EngineError>>,
    stop: CancellationToken,
) {
    let (mut sink, mut stream) = ws.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let failure = loop {
        tokio::select! {
            () = stop.cancelled() => break None,
            _ = ping.tick() => {
                if sink.send(Message::text(PING)).await.is_err() {
                    break Some(EngineError::Unavailable {
                        provider: PROVIDER,
                        reason: "connection lost while sending".into(),
                    });
                }
            }
            next = stream.next() => {
                let Some(Ok(message)) = next else {
                    break Some(EngineError::Unavailable {
                        provider: PROVIDER,
                        reason: "connection lost while reading".into(),
                    });
                };
                match step(message, law) {
                    Ok(Step::Audio(chunk)) if !chunk.samples.is_empty() => {
                        if tx.send(Ok(chunk)).await.is_err() {
                            break None;
                        }
                    }
                    Ok(Step::Done) => break None,
                    Ok(Step::Audio(_) | Step::Skip) => {}
                    Err(err) => break Some(err),
                }
            }
        }
    };
    let failed = failure.is_some();
    if let Some(err) = failure {
        let _ = tx.send(Err(err)).await;
    }
    if !failed {
        let close = Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
    }
}

/// Synthesizes `request` at `url` under `guard`: retried until the first audio, then
/// streamed with the idle limit per chunk.
pub(super) async fn synthesize(
    guard: &Guard,
    url: &url::Url,
    key: &reqwest::header::HeaderValue,
    law: Law,
    ping_every: Duration,
    request: &WsRequest,
    warm: Option<WarmSocket>,
) -> Result<TtsStream, EngineError> {
    let started = tokio::time::Instant::now();
    let first_byte = guard.timeouts.first_byte;
    let limit = guard.timeouts.connect + first_byte;
    // A socket opened at the answer saves the connection; if it fails, a fresh one is
    // made as usual.
    let on_warm = match warm {
        Some(w) => speak(w.ws, law, request, first_byte).await.ok(),
        None => None,
    };
    let (ws, first) = match on_warm {
        Some(ready) => ready,
        None => {
            guard
                .run("first audio", limit, || {
                    start(url, key, law, request, first_byte)
                })
                .await?
        }
    };
    metrics::tts_first_audio(PROVIDER, started.elapsed());
    let (tx, rx) = mpsc::channel(32);
    let stop = CancellationToken::new();
    tokio::spawn(pump(ws, law, ping_every, tx, stop.clone()));
    let rest = Rest {
        rx,
        _stop: stop.drop_guard(),
    };
    Ok(stream_after_first(first, rest, guard.timeouts.idle))
}
