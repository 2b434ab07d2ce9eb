//! Streaming speech-to-text: the trait the conversation loop calls, a per-call session,
//! and the providers (Deepgram live over WebSocket, Sarvam streaming or per utterance,
//! OpenAI-compatible transcriptions per utterance, and with the `whisper-local` feature
//! Whisper in-process per utterance).
//!
//! Per call the loop opens a session, pushes every inbound G.711 frame (Deepgram streams
//! them; per-utterance providers ignore them) and, when its own endpointer ends the
//! caller's turn, asks for that utterance's final transcript, giving the utterance as
//! 8 kHz PCM (uploaded by per-utterance providers).

pub mod deepgram;
pub(crate) mod deepgram_messages;
mod multipart;
pub mod openai;
pub mod sarvam;
pub(crate) mod sarvam_messages;
mod sarvam_rest;
mod stream_shared;
mod upsample;
#[cfg(feature = "whisper-local")]
pub mod whisper_local;

use std::future::Future;
use std::pin::Pin;

use super::error::EngineError;
use crate::media::g711::Law;

pub use deepgram_messages::{DeepgramMessage, parse_message};
pub use sarvam_messages::{SarvamSttMessage, parse_sarvam_message};
pub use upsample::upsample_8k_to_16k;

/// What a session is opened with. `None` fields take the provider's configured value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SttOptions {
    /// The law of the frames that will be pushed.
    pub law: Law,
    /// Per-call language (AI profile), BCP-47 or ISO 639-1 (`en`, `en-IN`, `hi`).
    pub language: Option<String>,
    /// Per-call model override.
    pub model: Option<String>,
    /// The other languages the caller may speak (the AI profile's `languages`, BCP-47).
    /// Empty: the call is in `language` only. Otherwise the provider is asked to detect
    /// (Deepgram `multi` when it covers them, Sarvam `unknown`, Whisper/OpenAI without a
    /// language) and reports what it heard in [`Transcript::language`].
    pub detect_languages: Vec<String>,
}

impl SttOptions {
    /// Options for `law` with the configured language and model.
    pub fn new(law: Law) -> Self {
        SttOptions {
            law,
            language: None,
            model: None,
            detect_languages: Vec::new(),
        }
    }
}

/// The final text of one utterance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    /// What the caller said (empty when nothing was recognised).
    pub text: String,
    /// `false` when the provider did not confirm the end in time and the text includes
    /// an interim (unconfirmed) result.
    pub complete: bool,
    /// The language the provider says the caller spoke (as it writes it: `hi`, `hi-IN`),
    /// when it says.
    pub language: Option<String>,
}

impl Transcript {
    /// A confirmed final transcript of `text`; empty for an empty utterance.
    pub fn finished(text: impl Into<String>) -> Self {
        Transcript {
            text: text.into(),
            complete: true,
            language: None,
        }
    }
}

/// Something the provider noticed on its own (Deepgram only; others send nothing).
#[derive(Debug, Clone, PartialEq)]
pub enum SttEvent {
    /// The provider's VAD heard speech start (`SpeechStarted`).
    SpeechStarted,
    /// A partial transcript that may still change.
    Interim(String),
    /// The provider saw a gap after the last word (`UtteranceEnd`).
    UtteranceEnd,
}

/// Audio billed so far in a session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SttUsage {
    /// Seconds of audio sent to the provider.
    pub audio_seconds: f64,
}

/// The final transcript of one utterance, on its way. It owns what it needs, so the session
/// keeps taking frames (the caller speaks on) while it runs.
pub type TranscriptFuture = Pin<Box<dyn Future<Output = Result<Transcript, EngineError>> + Send>>;

/// One call's recognition session. Dropping it closes the connection. The provided
/// methods suit per-utterance providers, which ignore frames and send no events.
#[async_trait::async_trait]
pub trait SttSession: Send + std::fmt::Debug {
    /// One inbound frame (160 bytes of G.711 per 20 ms). Never blocks, never fails: if
    /// the provider is gone the frame is dropped and the error shows at the next
    /// [`Self::finish_utterance`].
    fn push_frame(&mut self, _frame: &[u8]) {}

    /// Whether the session takes the caller's frames as they come (streaming providers).
    /// A call whose session does not stops listening to its media's frames, so its task
    /// is woken only when something happens, not every 20 ms.
    fn wants_frames(&self) -> bool {
        false
    }

    /// Our endpointer ended the caller's turn: the final transcript of this utterance
    /// (8 kHz PCM of it in `utterance`), within the STT final timeout. The provider records
    /// `vca_stt_final_latency_seconds` when the transcript is in.
    fn finish_utterance(&mut self, utterance: Vec<i16>) -> TranscriptFuture;

    /// Tells a streaming provider the line is alive while no audio flows (the agent
    /// speaks); sessions also do this on their own when audio stops.
    fn keepalive(&mut self) {}

    /// The next provider event, if one is waiting. Never blocks.
    fn try_event(&mut self) -> Option<SttEvent> {
        None
    }

    /// Audio billed so far.
    fn usage(&self) -> SttUsage;

    /// Ends the session cleanly (Deepgram: `CloseStream`), within a short bound.
    async fn close(&mut self) {}
}

/// A speech recognition engine, shared by all calls (`Arc<dyn SpeechToText>`).
#[async_trait::async_trait]
pub trait SpeechToText: Send + Sync + std::fmt::Debug {
    /// The provider label (`deepgram`, `openai_stt`).
    fn name(&self) -> &'static str;

    /// Opens a session for one call (Deepgram connects here, with retries).
    async fn open(&self, options: SttOptions) -> Result<Box<dyn SttSession>, EngineError>;
}

/// ISO 639-1 from a BCP-47 tag (`en-IN` → `en`, `od-IN` → `or`), as Whisper expects.
pub(crate) fn iso_639_1(tag: &str) -> String {
    super::language_forms::iso_639_1(tag)
}
