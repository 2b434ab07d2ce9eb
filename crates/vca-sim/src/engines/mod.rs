//! Fake engine servers inside vca-sim for load runs: OpenAI-compatible
//! `/v1/audio/transcriptions`, `/v1/chat/completions` (SSE) and `/v1/audio/speech` (PCM)
//! with fixed, configurable latencies, on one loopback port.
//!
//! The daemon under test points its real `openai` STT, LLM and TTS providers here, so it
//! runs its real HTTP, SSE, multipart and resampling code. Every reply is built once at
//! start (transcript JSON, SSE events, a speech-like PCM waveform) and handed out as cheap
//! `Bytes` clones and slices, so the fakes cost next to nothing per request.
//!
//! - `auth.rs`: the bearer-key check and OpenAI-shaped error bodies.
//! - `transcribe.rs`, `chat.rs`, `speech.rs`: one endpoint each.
//! - `waveform.rs`: the speech-like signal the speech endpoint streams.

mod auth;
mod chat;
mod speech;
mod transcribe;
mod waveform;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use chat::{REPLY_TEXT, reply_words};
pub use speech::{MS_PER_CHAR, speech_samples_for};
pub use transcribe::TRANSCRIPT_TEXT;
pub use waveform::{speech_like, speech_like_24k};

/// How long each fake engine waits before its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLatencies {
    /// From the end of the transcription upload to the transcript.
    pub stt: Duration,
    /// From the chat request to the first token.
    pub llm: Duration,
    /// From the speech request to the first audio bytes.
    pub tts: Duration,
}

impl EngineLatencies {
    /// The three added up: what one turn spends waiting on engines before audio starts.
    pub fn total(&self) -> Duration {
        self.stt + self.llm + self.tts
    }
}

impl Default for EngineLatencies {
    fn default() -> Self {
        EngineLatencies {
            stt: Duration::from_millis(100),
            llm: Duration::from_millis(200),
            tts: Duration::from_millis(100),
        }
    }
}

/// Settings of the fake engine server.
#[derive(Debug, Clone)]
pub struct FakeEnginesConfig {
    /// Where to listen; must be loopback.
    pub listen: SocketAddr,
    /// The bearer key every request must carry.
    pub api_key: String,
    /// Fixed latencies.
    pub latencies: EngineLatencies,
}

/// Errors starting the fake engines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeEnginesError {
    /// The listen address is not loopback.
    #[error("fake engines must listen on loopback, not {0}")]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot bind fake engines on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What every handler shares: the key, the latencies and the prebuilt replies.
#[derive(Debug)]
pub(crate) struct EngineState {
    pub(crate) api_key: String,
    pub(crate) latencies: EngineLatencies,
    pub(crate) transcript: bytes::Bytes,
    pub(crate) chat_events: chat::ChatEvents,
    pub(crate) speech_pcm: bytes::Bytes,
}

/// Running fake engines; dropping the handle stops the server.
#[derive(Debug)]
pub struct FakeEngines {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl FakeEngines {
    /// Binds and serves the three endpoints under `/v1`.
    pub async fn start(config: FakeEnginesConfig) -> Result<FakeEngines, FakeEnginesError> {
        if !config.listen.ip().is_loopback() {
            return Err(FakeEnginesError::NotLoopback(config.listen));
        }
        let tcp =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| FakeEnginesError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = tcp.local_addr().map_err(|source| FakeEnginesError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = Arc::new(EngineState {
            api_key: config.api_key,
            latencies: config.latencies,
            transcript: transcribe::transcript_body(),
            chat_events: chat::ChatEvents::build(),
            speech_pcm: speech::speech_pcm(),
        });
        let app = router(state);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(tcp, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await;
        });
        Ok(FakeEngines { addr, stop })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`, the base URL the daemon's providers take.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for FakeEngines {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn router(state: Arc<EngineState>) -> Router {
    Router::new()
        .route("/v1/audio/transcriptions", post(transcribe::handle))
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/audio/speech", post(speech::handle))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ))
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state)
}
