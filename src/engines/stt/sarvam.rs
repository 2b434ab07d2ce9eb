//! Sarvam speech-to-text: the streaming WebSocket `/speech-to-text/ws` (the call's audio
//! as 8 kHz 16-bit PCM — G.711 decoded, never resampled — base64 in JSON, 100 ms per
//! message; `vad_signals` for `START_SPEECH`/`END_SPEECH`; `flush` when our endpointer ends
//! a turn and Sarvam's VAD has not), or with `VCA_STT_MODE=rest` one `POST /speech-to-text`
//! per utterance ([`super::sarvam_rest`]). `language-code` is the call's language
//! (`hi-IN`) or `unknown` to detect; the language Sarvam reports goes into
//! [`Transcript::language`].
//!
//! Two tasks per streaming session, as for Deepgram: a writer (audio, `flush`, silence as
//! keep-alive when no audio flows) and a reader (transcripts, VAD events, errors).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::sarvam_messages::{SarvamSttMessage, parse_sarvam_message};
use super::sarvam_rest::RestSession;
use super::stream_shared::{self, Failable, Outgoing};
use super::{
    SpeechToText, SttEvent, SttOptions, SttSession, SttUsage, Transcript, TranscriptFuture,
};
use crate::engines::error::EngineError;
use crate::engines::language_forms;
use crate::engines::resilience::Guard;
use crate::engines::sarvam::{self, Ws};
use crate::engines::settings::SttMode;
use crate::engines::{http, metrics};
use crate::media::g711::Law;
use crate::secret::Secret;

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "sarvam_stt";
/// The model unless `VCA_STT_MODEL` says otherwise.
pub const DEFAULT_MODEL: &str = "saarika:v2.5";
/// Silence is sent when no audio was sent for this long, so the socket stays open.
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(5);

const FLUSH: &str = r#"{"type":"flush"}"#;
/// Audio is sent in 100 ms batches (800 G.711 bytes, 1600 bytes of PCM).
const BATCH_BYTES: usize = 800;

/// Settings of the Sarvam STT provider.
#[derive(Debug, Clone)]
pub struct SarvamSttConfig {
    /// Base URL (`https://api.sarvam.ai`); the socket uses its `wss://` form.
    pub base_url: String,
    /// The `api-subscription-key`.
    pub api_key: Secret,
    /// Default model (`saarika:v2.5`, `saaras:v3`).
    pub model: String,
    /// Default language (BCP-47); `None` detects.
    pub language: Option<String>,
    /// The streaming socket or one upload per utterance.
    pub mode: SttMode,
    /// `high_vad_sensitivity` (shorter silences end speech).
    pub high_vad_sensitivity: bool,
    /// Send silence when nothing was sent for this long.
    pub keepalive_every: Duration,
}

/// The Sarvam STT provider.
#[derive(Debug)]
pub struct SarvamStt {
    config: SarvamSttConfig,
    key: reqwest::header::HeaderValue,
    client: reqwest::Client,
    guard: Arc<Guard>,
}

impl SarvamStt {
    /// A provider using `guard` for timeouts, connect retries and its breaker.
    pub fn new(config: SarvamSttConfig, guard: Guard) -> Result<Self, EngineError> {
        Ok(SarvamStt {
            key: sarvam::key_value(PROVIDER, &config.api_key)?,
            client: http::client(PROVIDER, &guard.timeouts)?,
            config,
            guard: Arc::new(guard),
        })
    }

    /// The session's `language-code`: `unknown` when detecting or without a language.
    fn language_code(&self, options: &SttOptions) -> String {
        let primary = options
            .language
            .as_deref()
            .or(self.config.language.as_deref());
        language_forms::sarvam_stt(primary, &options.detect_languages)
    }

    /// The `/speech-to-text/ws` URL with the session's query parameters.
    pub fn stream_url(&self, options: &SttOptions) -> Result<url::Url, EngineError> {
        let mut url = sarvam::endpoint(
            PROVIDER,
            &self.config.base_url,
            &["speech-to-text", "ws"],
            true,
        )?;
        let model = options.model.as_deref().unwrap_or(&self.config.model);
        url.query_pairs_mut()
            .append_pair("language-code", &self.language_code(options))
            .append_pair("model", model)
            .append_pair("sample_rate", "8000")
            .append_pair("input_audio_codec", "pcm_s16le")
            .append_pair(
                "high_vad_sensitivity",
                if self.config.high_vad_sensitivity {
                    "true"
                } else {
                    "false"
                },
            )
            .append_pair("vad_signals", "true")
            .append_pair("flush_signal", "true");
        Ok(url)
    }
}

#[async_trait::async_trait]
impl SpeechToText for SarvamStt {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn open(&self, options: SttOptions) -> Result<Box<dyn SttSession>, EngineError> {
        if self.config.mode == SttMode::Rest {
            let url =
                sarvam::endpoint(PROVIDER, &self.config.base_url, &["speech-to-text"], false)?;
            return Ok(Box::new(RestSession {
                client: self.client.clone(),
                url,
                key: self.key.clone(),
                guard: self.guard.clone(),
                model: options
                    .model
                    .clone()
                    .unwrap_or_else(|| self.config.model.clone()),
                language_code: self.language_code(&options),
                usage: SttUsage::default(),
            }));
        }
        let url = self.stream_url(&options)?;
        let ws = self
            .guard
            .run("connect", self.guard.timeouts.connect, || {
                sarvam::connect(PROVIDER, &url, &self.key)
            })
            .await?;
        Ok(Box::new(StreamSession::start(
            ws,
            options.law,
            self.config.keepalive_every,
            self.guard.timeouts.first_byte,
        )))
    }
}

/// What the reader has learned and the session has not yet taken.
#[derive(Debug)]
struct Heard {
    /// Transcripts since the last `finish_utterance`.
    finals: Vec<String>,
    /// The language of the latest transcript.
    language: Option<String>,
    /// No speech is pending: every `START_SPEECH` has had its transcript.
    settled: bool,
    /// Why the connection is unusable, once it is.
    failed: Option<EngineError>,
}

type Shared = stream_shared::Shared<Heard>;

impl Failable for Heard {
    fn failure(&mut self) -> &mut Option<EngineError> {
        &mut self.failed
    }
}

/// One call's Sarvam stream.
#[derive(Debug)]
pub struct StreamSession {
    out: mpsc::Sender<Outgoing>,
    batch: BytesMut,
    events: mpsc::Receiver<SttEvent>,
    shared: Arc<Shared>,
    bytes_sent: u64,
    final_timeout: Duration,
    writer: JoinHandle<()>,
    reader: JoinHandle<()>,
}

impl Drop for StreamSession {
    fn drop(&mut self) {
        self.writer.abort();
        self.reader.abort();
    }
}

impl StreamSession {
    fn start(ws: Ws, law: Law, keepalive_every: Duration, final_timeout: Duration) -> Self {
        let (sink, stream) = ws.split();
        let shared = Arc::new(Shared::new(Heard {
            finals: Vec::new(),
            language: None,
            settled: true,
            failed: None,
        }));
        let (out, out_rx) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(64);
        let writer = tokio::spawn(write_loop(
            sink,
            out_rx,
            law,
            keepalive_every,
            shared.clone(),
        ));
        let reader = tokio::spawn(read_loop(stream, events_tx, shared.clone()));
        StreamSession {
            out,
            batch: BytesMut::with_capacity(16 * 1024),
            events,
            shared,
            bytes_sent: 0,
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
        let _ = self.out.try_send(Outgoing::Audio(audio));
    }
}

/// The audio message for G.711 `codes`: 8 kHz little-endian PCM, base64.
fn audio_message(law: Law, codes: &[u8], pcm: &mut Vec<u8>) -> Message {
    pcm.clear();
    for &code in codes {
        pcm.extend_from_slice(&law.decode(code).to_le_bytes());
    }
    let data = base64::engine::general_purpose::STANDARD.encode(pcm.as_slice());
    Message::text(format!(
        r#"{{"audio":{{"data":"{data}","encoding":"audio/wav","sample_rate":8000}}}}"#
    ))
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<Ws, Message>,
    mut rx: mpsc::Receiver<Outgoing>,
    law: Law,
    keepalive_every: Duration,
    shared: Arc<Shared>,
) {
    let mut pcm = Vec::with_capacity(BATCH_BYTES * 4);
    let silence = [law.encode(0); BATCH_BYTES];
    loop {
        let next = tokio::select! {
            () = shared.broken.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
                return;
            }
            next = tokio::time::timeout(keepalive_every, rx.recv()) => next,
        };
        let message = match next {
            Ok(Some(Outgoing::Audio(bytes))) => audio_message(law, &bytes, &mut pcm),
            Ok(Some(Outgoing::Control(text))) => Message::text(text),
            Ok(None) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
                return;
            }
            Err(_) => audio_message(law, &silence, &mut pcm),
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
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => {
                let err = sarvam::close_error(PROVIDER, frame.as_ref());
                metrics::error(&err);
                shared.fail(err);
                return;
            }
            Ok(_) => continue,
            Err(_) => {
                shared.fail(EngineError::Unavailable {
                    provider: PROVIDER,
                    reason: "connection lost while reading".into(),
                });
                return;
            }
        };
        let parsed = match parse_sarvam_message(&text) {
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
            SarvamSttMessage::Transcript { text, language } => {
                shared.update(|h| {
                    if !text.is_empty() {
                        h.finals.push(text);
                    }
                    if language.is_some() {
                        h.language = language;
                    }
                    h.settled = true;
                });
                None
            }
            SarvamSttMessage::SpeechStart => {
                shared.update(|h| h.settled = false);
                Some(SttEvent::SpeechStarted)
            }
            SarvamSttMessage::SpeechEnd => Some(SttEvent::UtteranceEnd),
            SarvamSttMessage::Error { code } => {
                let err = sarvam::error_message(PROVIDER, code.as_deref());
                metrics::error(&err);
                shared.fail(err);
                return;
            }
            SarvamSttMessage::Other(_) => None,
        };
        if let Some(event) = event {
            let _ = events.try_send(event);
        }
    }
    shared.fail(EngineError::Unavailable {
        provider: PROVIDER,
        reason: "connection closed".into(),
    });
}

/// Waits until every heard start of speech has its transcript, a failure, or the deadline.
async fn wait_settled(shared: &Shared, deadline: tokio::time::Instant) {
    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        {
            let heard = shared.lock();
            if heard.settled || heard.failed.is_some() {
                return;
            }
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return;
        }
    }
}

/// What was heard since the last utterance, as its transcript.
fn take_transcript(shared: &Shared) -> Result<Transcript, EngineError> {
    let mut heard = shared.lock();
    let complete = heard.settled;
    let text = std::mem::take(&mut heard.finals).join(" ");
    let language = heard.language.take();
    heard.settled = true;
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

#[async_trait::async_trait]
impl SttSession for StreamSession {
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
        let deadline = started + self.final_timeout;
        let settled = shared.lock().settled;
        // Sarvam's VAD has not closed the utterance: ask for its transcript now.
        if !settled {
            let _ = self.out.try_send(Outgoing::Control(FLUSH));
        }
        Box::pin(async move {
            if !settled {
                wait_settled(&shared, deadline).await;
            }
            let transcript = take_transcript(&shared)?;
            metrics::stt_final_latency(PROVIDER, started.elapsed());
            Ok(transcript)
        })
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
        // Closing the channel makes the writer send a close frame; the reader then ends.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.out, closed));
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut self.reader).await;
        self.writer.abort();
        self.reader.abort();
    }
}
