//! Streaming text-to-speech: the trait the conversation loop calls and its providers
//! (OpenAI-compatible `/audio/speech`, ElevenLabs streaming, Sarvam over WebSocket or
//! HTTP, local espeak-ng).
//!
//! Output contract: mono 16-bit PCM chunks tagged with their rate (24 kHz OpenAI,
//! 8 or 16 kHz ElevenLabs, 8 kHz Sarvam, 22.05 kHz espeak-ng); the media side's playout
//! queue resamples.

pub mod elevenlabs;
pub mod espeak;
mod http_audio;
pub mod openai;
pub mod sarvam;
pub(crate) mod sarvam_ws;
pub mod spoken_lines;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;

use super::audio::PcmChunk;
use super::error::EngineError;
use super::metrics;

/// One sentence (or phrase) to speak. `None` fields take the provider's configured value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TtsRequest {
    /// The text.
    pub text: String,
    /// Per-call voice override (AI profile): an OpenAI voice, an ElevenLabs voice id, an
    /// espeak-ng voice name.
    pub voice: Option<String>,
    /// Per-call model override.
    pub model: Option<String>,
    /// Per-call speaking rate in words per minute (espeak-ng only).
    pub rate_wpm: Option<u32>,
    /// BCP-47 tag of the text's language (the call's, which may change mid-call); `None`
    /// leaves the provider's configured language. Each provider gets it in its form
    /// ([`crate::engines::language_forms`]): ElevenLabs `language_code`, espeak-ng's voice
    /// when no voice is given, Sarvam `target_language_code`.
    pub language: Option<String>,
}

impl TtsRequest {
    /// A request for `text` with the configured voice and model.
    pub fn new(text: impl Into<String>) -> Self {
        TtsRequest {
            text: text.into(),
            ..TtsRequest::default()
        }
    }

    /// Characters billed for this request (the usage TTS reports).
    pub fn billable_chars(&self) -> usize {
        self.text.chars().count()
    }
}

/// Speech streaming in. Dropping it cancels the request or kills the process.
pub type TtsStream = Pin<Box<dyn Stream<Item = Result<PcmChunk, EngineError>> + Send>>;

/// A streaming speech synthesizer, shared by all calls (`Arc<dyn TextToSpeech>`).
#[async_trait::async_trait]
pub trait TextToSpeech: Send + Sync + std::fmt::Debug {
    /// The provider label (`openai_tts`, `elevenlabs`, `espeak`).
    fn name(&self) -> &'static str;

    /// Starts synthesis. Returns once the first audio has arrived (retrying connect
    /// errors, 429 and 5xx before that); the stream yields it and the rest, failing
    /// with [`EngineError::Timeout`] if the provider stalls. Empty text is refused.
    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, EngineError>;

    /// Gets ready for a call's first sentence in `voice` and `language` (BCP-47), called
    /// when the call is answered: Sarvam opens its socket now, so the greeting does not
    /// wait for the connection. Never fails; what could not be prepared is done when the
    /// first sentence comes. Others have nothing to prepare.
    async fn prepare(&self, _voice: Option<String>, _language: Option<String>) {}
}

fn refuse_empty(provider: &'static str, request: &TtsRequest) -> Result<(), EngineError> {
    if request.text.trim().is_empty() {
        return Err(EngineError::InvalidRequest {
            provider,
            detail: "empty text".into(),
        });
    }
    Ok(())
}

/// Where a synthesis's audio comes from after its first chunk (a response body, a
/// process's output).
trait ChunkSource: Send + 'static {
    /// The next non-empty chunk within `limit`, or `None` at a clean end.
    fn next_chunk(
        &mut self,
        limit: Duration,
        stage: &'static str,
    ) -> impl Future<Output = Result<Option<PcmChunk>, EngineError>> + Send;
}

/// `first`, then the rest of `source` with `idle` as the limit per chunk; a failure is
/// counted and ends the stream.
fn stream_after_first(first: PcmChunk, source: impl ChunkSource, idle: Duration) -> TtsStream {
    let rest = futures_util::stream::unfold(Some(source), move |state| async move {
        let mut source = state?;
        match source.next_chunk(idle, "next audio").await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(source))),
            Ok(None) => None,
            Err(e) => {
                metrics::error(&e);
                Some((Err(e), None))
            }
        }
    });
    let first = futures_util::stream::once(async move { Ok(first) });
    Box::pin(futures_util::StreamExt::chain(first, rest))
}
