//! Speech from any OpenAI-compatible `POST {base}/audio/speech` with
//! `response_format: "pcm"`: raw 24 kHz 16-bit little-endian mono, streamed.

use serde_json::json;

use super::http_audio::{BodyAudio, stream_audio};
use super::{TextToSpeech, TtsRequest, TtsStream, refuse_empty};
use crate::engines::error::EngineError;
use crate::engines::http;
use crate::engines::resilience::Guard;
use crate::secret::Secret;

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "openai_tts";
/// Where requests go unless `VCA_TTS_BASE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The model unless `VCA_TTS_MODEL` says otherwise.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini-tts";
/// The voice unless `VCA_TTS_VOICE` (or the AI profile) says otherwise.
pub const DEFAULT_VOICE: &str = "alloy";

/// The rate of `response_format: "pcm"`.
pub const PCM_RATE: u32 = 24_000;

/// Settings of the OpenAI-compatible speech provider.
#[derive(Debug, Clone)]
pub struct OpenAiSpeechConfig {
    /// Base URL up to the version (`https://api.openai.com/v1`).
    pub base_url: String,
    /// Bearer key; local servers may need none.
    pub api_key: Option<Secret>,
    /// Default model (`gpt-4o-mini-tts`, `tts-1`).
    pub model: String,
    /// Default voice (`alloy`, ...).
    pub voice: String,
}

/// The OpenAI-compatible speech provider.
#[derive(Debug)]
pub struct OpenAiSpeech {
    client: reqwest::Client,
    config: OpenAiSpeechConfig,
    guard: Guard,
}

impl OpenAiSpeech {
    /// A provider using `guard` for timeouts, retries and its breaker.
    pub fn new(config: OpenAiSpeechConfig, guard: Guard) -> Result<Self, EngineError> {
        Ok(OpenAiSpeech {
            client: http::client(PROVIDER, &guard.timeouts)?,
            config,
            guard,
        })
    }
}

#[async_trait::async_trait]
impl TextToSpeech for OpenAiSpeech {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, EngineError> {
        refuse_empty(PROVIDER, &request)?;
        let url = format!(
            "{}/audio/speech",
            self.config.base_url.trim_end_matches('/')
        );
        let body = json!({
            "model": request.model.as_deref().unwrap_or(&self.config.model),
            "input": request.text,
            "voice": request.voice.as_deref().unwrap_or(&self.config.voice),
            "response_format": "pcm",
        });
        stream_audio(&self.guard, BodyAudio::Le16 { rate_hz: PCM_RATE }, || {
            let r = self.client.post(&url).json(&body);
            match &self.config.api_key {
                Some(key) => r.bearer_auth(key.expose()),
                None => r,
            }
        })
        .await
    }
}
