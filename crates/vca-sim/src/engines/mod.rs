//! Fake STT, LLM and TTS providers: real servers on loopback that speak each provider's
//! wire protocol, check requests the way the real API does (auth header, JSON fields,
//! content types) and can record what they received. One implementation serves both
//! `vca-sim load` (fixed latencies, speech-like audio, nothing recorded) and the daemon's
//! tests (scripted failures, odd byte splits, every request recorded).
//!
//! A tour, from the servers down to the bytes:
//! - [`http`]: [`FakeHttp`], one HTTP server for the HTTP providers, with the
//!   [`http::Behaviour`] (key, replies, latencies, framing) it answers with and the
//!   [`Received`] log. A load run starts it with [`http::Behaviour::for_load`].
//! - [`deepgram`]: [`FakeDeepgram`], Deepgram's live `/v1/listen` WebSocket.
//! - [`sarvam`]: [`FakeSarvam`], Sarvam's streaming and REST STT, WebSocket and HTTP TTS
//!   and chat, on a server of its own (`sarvam_sockets.rs` holds the two socket sessions).
//! - One file per provider's routes: `openai.rs` (`/v1/chat/completions` SSE,
//!   `/v1/audio/speech` PCM, `/v1/audio/transcriptions` multipart WAV) and `elevenlabs.rs`
//!   (`/v1/text-to-speech/{voice}/stream`). A new provider adds a file with its routes and a
//!   [`Route`] per endpoint, on [`FakeHttp`] or on a server of its own like Deepgram's.
//! - The core every provider shares: `server.rs` (bind on loopback, serve an axum router,
//!   stop on drop), `script.rs` ([`Reply`]: what the next request to a route gets),
//!   `record.rs` (the log of what arrived, and waiting on it), `body.rs` (streamed bodies cut
//!   into pieces, shaped by the scripted reply, counted when the client leaves early) and
//!   `ws.rs` (a WebSocket upgrade a fake may refuse with any status first).
//! - The bytes: `waveform.rs` ([`tone`], [`speech_like`]) and [`wire`] (PCM, µ-law, WAV
//!   and multipart/form-data).

mod body;
pub mod deepgram;
mod elevenlabs;
pub mod http;
mod openai;
mod record;
pub mod sarvam;
mod sarvam_sockets;
mod script;
mod server;
mod waveform;
pub mod wire;
mod ws;

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use deepgram::FakeDeepgram;
pub use http::{
    FakeHttp, Framing, MS_PER_CHAR, REPLY_TEXT, Received, Route, TRANSCRIPT_TEXT, Voice,
    speech_samples_for,
};
pub use sarvam::FakeSarvam;
pub use script::Reply;
pub use waveform::{speech_like, speech_like_24k, tone};

/// How long each fake engine waits, after checking a request, before its first byte.
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
    /// No wait at all (the tests' fakes).
    pub const ZERO: EngineLatencies = EngineLatencies {
        stt: Duration::ZERO,
        llm: Duration::ZERO,
        tts: Duration::ZERO,
    };

    /// The three added up: what one turn spends waiting on engines before audio starts.
    pub fn total(&self) -> Duration {
        self.stt + self.llm + self.tts
    }
}

impl Default for EngineLatencies {
    /// The latencies of `vca-sim load` unless told otherwise.
    fn default() -> Self {
        EngineLatencies {
            stt: Duration::from_millis(100),
            llm: Duration::from_millis(200),
            tts: Duration::from_millis(100),
        }
    }
}

/// Errors starting a fake.
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

/// Locks `m`, taking the data of a poisoned lock as it is: a fake's state stays readable
/// after a handler panicked, and nothing here leaves it half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sleeps `d`, without yielding at all when it is zero (the tests' fakes have no latency).
pub(crate) async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}
