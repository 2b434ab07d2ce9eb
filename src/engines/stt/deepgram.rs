//! Deepgram live streaming over WebSocket: the call's G.711 bytes as they arrive
//! (`encoding=alaw|mulaw`, `sample_rate=8000`, `channels=1`, no resampling), interim
//! and final `Results`, `SpeechStarted`, `UtteranceEnd`; `KeepAlive` while no audio
//! flows, `Finalize` when our endpointer ends a turn, `CloseStream` at the end.
//!
//! Two tasks per session: a writer (audio batches of 100 ms, control messages, keep-alives)
//! and a reader (parses messages into the shared transcript state, forwards events).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use super::stream_shared::{self, Failable, Outgoing};
use super::{
    DeepgramMessage, SpeechToText, SttEvent, SttOptions, SttSession, SttUsage, Transcript,
    TranscriptFuture, parse_message,
};
use crate::engines::error::EngineError;
use crate::engines::resilience::Guard;
use crate::engines::{http, language_forms, metrics};
use crate::media::g711::Law;
use crate::secret::Secret;

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "deepgram";
/// Where sessions connect unless `VCA_STT_BASE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "wss://api.deepgram.com/v1";
/// The model unless `VCA_STT_MODEL` says otherwise.
pub const DEFAULT_MODEL: &str = "nova-2";
/// `endpointing`: ms of silence before Deepgram's `speech_final` (our own endpointer ends
/// the turn; this only confirms it sooner).
pub const ENDPOINTING_MS: u32 = 300;
/// `utterance_end_ms`: the gap after the last word before `UtteranceEnd` (at least 1000).
pub const UTTERANCE_END_MS: u32 = 1000;
/// `KeepAlive` is sent when nothing was sent for this long (Deepgram closes after 10 s).
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(3);

const KEEP_ALIVE: &str = r#"{"type":"KeepAlive"}"#;
const FINALIZE: &str = r#"{"type":"Finalize"}"#;
const CLOSE_STREAM: &str = r#"{"type":"CloseStream"}"#;
/// Audio is sent in 100 ms batches (800 bytes of G.711).
const BATCH_BYTES: usize = 800;
/// How long to wait for the answer to `Finalize` when Deepgram's own endpointing has
/// already confirmed the utterance.
const SETTLED_GRACE: Duration = Duration::from_millis(300);

/// Settings of the Deepgram provider.
#[derive(Debug, Clone)]
pub struct DeepgramConfig {
    /// Base URL up to the version (`wss://api.deepgram.com/v1`).
    pub base_url: String,
    /// The API key (sent as `Authorization: Token <key>`).
    pub api_key: Secret,
    /// Default model (`nova-2`, `nova-3`).
    pub model: String,
    /// Default language (`en`, `en-IN`, `hi`); `None` leaves Deepgram's default.
    pub language: Option<String>,
    /// `endpointing`: milliseconds of silence before `speech_final`.
    pub endpointing_ms: u32,
    /// `utterance_end_ms`: gap after the last word before `UtteranceEnd` (≥ 1000).
    pub utterance_end_ms: u32,
    /// Send `KeepAlive` when nothing was sent for this long.
    pub keepalive_every: Duration,
}

/// The Deepgram live provider.
#[derive(Debug)]
pub struct Deepgram {
    config: DeepgramConfig,
    guard: Guard,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Deepgram {
    /// A provider using `guard` for timeouts, connect retries and its breaker.
    pub fn new(config: DeepgramConfig, guard: Guard) -> Self {
        Deepgram { config, guard }
    }

    /// The `/listen` URL with the session's query parameters.
    pub fn listen_url(&self, options: &SttOptions) -> Result<url::Url, EngineError> {
        let bad = || EngineError::InvalidRequest {
            provider: PROVIDER,
            detail: "the base URL is not a ws:// or wss:// URL".into(),
        };
        let mut url =
            url::Url::parse(self.config.base_url.trim_end_matches('/')).map_err(|_| bad())?;
        if !matches!(url.scheme(), "ws" | "wss") {
            return Err(bad());
        }
        url.path_segments_mut()
            .map_err(|_| bad())?
            .pop_if_empty()
            .push("listen");
        let encoding = match options.law {
            Law::Alaw => "alaw",
            Law::Ulaw => "mulaw",
        };
        let model = options.model.as_deref().unwrap_or(&self.config.model);
        let primary = options
            .language
            .as_deref()
            .or(self.config.language.as_deref());
        // `multi` when the other allowed languages are within what it detects among;
        // otherwise the call's language in Deepgram's form (`hi`, `en-IN`).
        let language = language_forms::deepgram_detect(primary, &options.detect_languages)
            .map(str::to_string)
            .or_else(|| primary.map(language_forms::deepgram));
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("model", model)
                .append_pair("encoding", encoding)
                .append_pair("sample_rate", "8000")
                .append_pair("channels", "1")
                .append_pair("interim_results", "true")
                .append_pair("endpointing", &self.config.endpointing_ms.to_string())
                .append_pair(
                    "utterance_end_ms",
                    &self.config.utterance_end_ms.to_string(),
                )
                .append_pair("vad_events", "true")
                .append_pair("punctuate", "true")
                .append_pair("smart_format", "true");
            if let Some(lang) = &language {
                q.append_pair("language", lang);
            }
        }
        Ok(url)
    }

    async fn connect(&self, url: &url::Url) -> Result<Ws, EngineError> {
        let mut request =
            url.as_str()
                .into_client_request()
                .map_err(|_| EngineError::InvalidRequest {
                    provider: PROVIDER,
                    detail: "cannot build the WebSocket request".into(),
                })?;
        let mut auth = reqwest::header::HeaderValue::from_str(&format!(
            "Token {}",
            self.config.api_key.expose()
        ))
        .map_err(|_| EngineError::InvalidRequest {
            provider: PROVIDER,
            detail: "the API key holds characters a header cannot carry".into(),
        })?;
        auth.set_sensitive(true);
        request
            .headers_mut()
            .insert(reqwest::header::AUTHORIZATION, auth);
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(ws),
            Err(tungstenite::Error::Http(response)) => Err(http::status_error(
                PROVIDER,
                response.status().as_u16(),
                response.headers(),
            )),
            Err(tungstenite::Error::Io(_) | tungstenite::Error::Tls(_)) => {
                Err(EngineError::Unavailable {
                    provider: PROVIDER,
                    reason: "connection failed".into(),
                })
            }
            Err(_) => Err(EngineError::Protocol {
                provider: PROVIDER,
                detail: "WebSocket handshake failed".into(),
            }),
        }
    }
}

#[async_trait::async_trait]
impl SpeechToText for Deepgram {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn open(&self, options: SttOptions) -> Result<Box<dyn SttSession>, EngineError> {
        let url = self.listen_url(&options)?;
        let ws = self
            .guard
            .run("connect", self.guard.timeouts.connect, || {
                self.connect(&url)
            })
            .await?;
        Ok(Box::new(DeepgramSession::start(
            ws,
            self.config.keepalive_every,
            self.guard.timeouts.first_byte,
        )))
    }
}

/// What the reader has learned and the session has not yet taken.
#[derive(Debug)]
struct Heard {
    /// Final segments since the last `finish_utterance`.
    finals: Vec<String>,
    /// The latest interim text (replaced by each interim, cleared by a final).
    interim: String,
    /// No speech is pending: the last word was confirmed by `speech_final`,
    /// `from_finalize` or `UtteranceEnd` (or nothing was heard yet).
    settled: bool,
    /// Why the connection is unusable, once it is.
    failed: Option<EngineError>,
    /// `from_finalize` results received (answers to our `Finalize`).
    finalized: u64,
    /// The language of the latest final with one (`multi`: `alternatives[0].languages`).
    language: Option<String>,
}

type Shared = stream_shared::Shared<Heard>;

impl Failable for Heard {
    fn failure(&mut self) -> &mut Option<EngineError> {
        &mut self.failed
    }
}

/// One call's Deepgram stream.
#[derive(Debug)]
pub struct DeepgramSession {
    out: mpsc::Sender<Outgoing>,
    batch: BytesMut,
    events: mpsc::Receiver<SttEvent>,
    shared: Arc<Shared>,
    bytes_sent: u64,
    audio_since_ask: bool,
    final_timeout: Duration,
    writer: JoinHandle<()>,
    reader: JoinHandle<()>,
}

impl Drop for DeepgramSession {
    fn drop(&mut self) {
        self.writer.abort();
        self.reader.abort();
    }
}

impl DeepgramSession {
    fn start(ws: Ws, keepalive_every: Duration, final_timeout: Duration) -> Self {
        let (sink, stream) = ws.split();
        let shared = Arc::new(Shared::new(Heard {
            finals: Vec::new(),
            interim: String::new(),
            settled: true,
            failed: None,
            finalized: 0,
            language: None,
        }));
        let (out, out_rx) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(64);
        let writer = tokio::spawn(write_loop(sink, out_rx, keepalive_every, shared.clone()));
        let reader = tokio::spawn(read_loop(stream, events_tx, shared.clone()));
        DeepgramSession {
            out,
            batch: BytesMut::with_capacity(16 * 1024),
            events,
            shared,
            bytes_sent: 0,
            audio_since_ask: false,
            final_timeout,
            writer,
            reader,
        }
    }

    fn flush_audio(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let audio = self.batch.split().freeze();
        self.bytes_sent += audio.len() as u64;
        self.audio_since_ask = true;
        let _ = self.out.try_send(Outgoing::Audio(audio));
    }
}

/// After a `Finalize` (answered when `finalized` reaches `target`): waits for the answer, a
/// failure, or the deadline — a short grace when Deepgram's endpointing has already
/// confirmed the utterance, the final timeout otherwise.
async fn wait_finalized(
    shared: &Shared,
    target: u64,
    started: tokio::time::Instant,
    final_timeout: Duration,
) {
    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let deadline = {
            let heard = shared.lock();
            if heard.finalized >= target || heard.failed.is_some() {
                return;
            }
            started
                + if heard.settled {
                    SETTLED_GRACE
                } else {
                    final_timeout
                }
        };
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return;
        }
    }
}

/// What was heard since the last utterance, as its transcript.
fn take_transcript(shared: &Shared) -> Result<Transcript, EngineError> {
    let mut heard = shared.lock();
    let complete = heard.settled;
    let mut parts = std::mem::take(&mut heard.finals);
    if !complete && !heard.interim.is_empty() {
        parts.push(std::mem::take(&mut heard.interim));
    }
    heard.interim.clear();
    heard.settled = true;
    let language = heard.language.take();
    let text = parts.join(" ");
    if text.is_empty() {
        if let Some(err) = heard.failed.clone() {
            return Err(err);
        }
        if !complete {
            let err = EngineError::Timeout {
                provider: PROVIDER,
                stage: "final transcript",
            };
            metrics::error(&err);
            return Err(err);
        }
    }
    Ok(Transcript {
        text,
        complete,
        language: language.map(|l| language_forms::canonical(&l).unwrap_or(l)),
    })
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<Ws, Message>,
    mut rx: mpsc::Receiver<Outgoing>,
    keepalive_every: Duration,
    shared: Arc<Shared>,
) {
    loop {
        let next = tokio::select! {
            () = shared.broken.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
                return;
            }
            next = tokio::time::timeout(keepalive_every, rx.recv()) => next,
        };
        let message = match next {
            Ok(Some(Outgoing::Audio(bytes))) => Message::Binary(bytes),
            Ok(Some(Outgoing::Control(text))) => Message::text(text),
            Ok(None) => return,
            Err(_) => Message::text(KEEP_ALIVE),
        };
        let sent = tokio::time::timeout(Duration::from_secs(5), sink.send(message)).await;
        if !matches!(sent, Ok(Ok(()))) {
            shared.fail(EngineError::Unavailable {
                provider: PROVIDER,
                reason: "connection lost while sending".into(),
            });
            return;
        }
    }
}

async fn read_loop(
    mut stream: futures_util::stream::SplitStream<Ws>,
    events: mpsc::Sender<SttEvent>,
    shared: Arc<Shared>,
) {
    let lost = |reason: &str| EngineError::Unavailable {
        provider: PROVIDER,
        reason: reason.to_string(),
    };
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => {
                let normal = frame.as_ref().is_none_or(|f| {
                    f.code == tungstenite::protocol::frame::coding::CloseCode::Normal
                });
                shared.fail(if normal {
                    EngineError::Cancelled { provider: PROVIDER }
                } else {
                    EngineError::Protocol {
                        provider: PROVIDER,
                        detail: format!(
                            "closed by the provider (code {})",
                            frame.map_or(0, |f| u16::from(f.code))
                        ),
                    }
                });
                return;
            }
            Ok(_) => continue,
            Err(_) => {
                shared.fail(lost("connection lost while reading"));
                return;
            }
        };
        let parsed = match parse_message(&text) {
            Ok(m) => m,
            Err(detail) => {
                let err = EngineError::Protocol {
                    provider: PROVIDER,
                    detail,
                };
                metrics::error(&err);
                shared.fail(err);
                return;
            }
        };
        let event = match parsed {
            DeepgramMessage::Results {
                transcript,
                is_final,
                speech_final,
                from_finalize,
                languages,
                ..
            } => {
                let interim = (!is_final && !transcript.is_empty()).then(|| transcript.clone());
                shared.update(|h| {
                    if is_final {
                        if !transcript.is_empty() {
                            h.finals.push(transcript);
                            h.settled = false;
                            if let Some(first) = languages.into_iter().next() {
                                h.language = Some(first);
                            }
                        }
                        h.interim.clear();
                        if speech_final || from_finalize {
                            h.settled = true;
                        }
                        if from_finalize {
                            h.finalized += 1;
                        }
                    } else if !transcript.is_empty() {
                        h.interim = transcript;
                        h.settled = false;
                    }
                });
                interim.map(SttEvent::Interim)
            }
            DeepgramMessage::UtteranceEnd { .. } => {
                shared.update(|h| {
                    h.settled = true;
                });
                Some(SttEvent::UtteranceEnd)
            }
            DeepgramMessage::SpeechStarted { .. } => Some(SttEvent::SpeechStarted),
            DeepgramMessage::Metadata { .. } | DeepgramMessage::Other(_) => None,
        };
        if let Some(event) = event {
            let _ = events.try_send(event);
        }
    }
    shared.fail(lost("connection closed"));
}

#[async_trait::async_trait]
impl SttSession for DeepgramSession {
    fn wants_frames(&self) -> bool {
        true
    }

    fn push_frame(&mut self, frame: &[u8]) {
        self.batch.extend_from_slice(frame);
        if self.batch.len() >= BATCH_BYTES {
            self.flush_audio();
        }
    }

    fn finish_utterance(&mut self, _utterance: Vec<i16>) -> TranscriptFuture {
        let started = tokio::time::Instant::now();
        self.flush_audio();
        let shared = self.shared.clone();
        let final_timeout = self.final_timeout;
        // Ask Deepgram to finalize what it has of this utterance (nothing new was sent:
        // what is there already is the answer).
        let asked = std::mem::take(&mut self.audio_since_ask).then(|| {
            let target = shared.lock().finalized + 1;
            self.out
                .try_send(Outgoing::Control(FINALIZE))
                .is_ok()
                .then_some(target)
        });
        Box::pin(async move {
            if let Some(Some(target)) = asked {
                wait_finalized(&shared, target, started, final_timeout).await;
            }
            let transcript = take_transcript(&shared)?;
            metrics::stt_final_latency(PROVIDER, started.elapsed());
            Ok(transcript)
        })
    }

    fn keepalive(&mut self) {
        let _ = self.out.try_send(Outgoing::Control(KEEP_ALIVE));
    }

    fn try_event(&mut self) -> Option<SttEvent> {
        self.events.try_recv().ok()
    }

    fn usage(&self) -> SttUsage {
        SttUsage {
            audio_seconds: (self.bytes_sent + self.batch.len() as u64) as f64 / 8000.0,
        }
    }

    async fn close(&mut self) {
        self.flush_audio();
        let _ = self.out.try_send(Outgoing::Control(CLOSE_STREAM));
        // Deepgram answers CloseStream with Metadata and closes; wait briefly for that.
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut self.reader).await;
        self.writer.abort();
        self.reader.abort();
    }
}
