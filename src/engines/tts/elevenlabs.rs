//! Speech from ElevenLabs: `POST {base}/text-to-speech/{voice_id}/stream` with
//! `output_format=ulaw_8000` when the call is µ-law (decoded to 8 kHz PCM) and
//! `pcm_16000` otherwise; key in the `xi-api-key` header; the request's language as
//! `language_code` (ISO 639-1) for the models that take one.

use serde_json::json;

use super::http_audio::{BodyAudio, stream_audio};
use super::{TextToSpeech, TtsRequest, TtsStream, refuse_empty};
use crate::engines::error::EngineError;
use crate::engines::http;
use crate::engines::resilience::Guard;
use crate::media::g711::Law;
use crate::secret::Secret;

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "elevenlabs";
/// Where requests go unless `VCA_TTS_BASE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io/v1";
/// The model unless `VCA_TTS_MODEL` says otherwise.
pub const DEFAULT_MODEL: &str = "eleven_flash_v2_5";
/// The voice id unless `VCA_TTS_VOICE` (or the AI profile) says otherwise ("Rachel").
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

/// Settings of the ElevenLabs provider.
#[derive(Debug, Clone)]
pub struct ElevenLabsConfig {
    /// Base URL up to the version (`https://api.elevenlabs.io/v1`).
    pub base_url: String,
    /// The `xi-api-key`.
    pub api_key: Secret,
    /// Default model (`eleven_flash_v2_5`).
    pub model: String,
    /// Default voice id.
    pub voice: String,
    /// The calls' law: µ-law asks for `ulaw_8000`, A-law for `pcm_16000`.
    pub law: Law,
}

/// The ElevenLabs streaming provider.
#[derive(Debug)]
pub struct ElevenLabs {
    client: reqwest::Client,
    config: ElevenLabsConfig,
    key_header: reqwest::header::HeaderValue,
    guard: Guard,
}

impl ElevenLabs {
    /// A provider using `guard` for timeouts, retries and its breaker.
    pub fn new(config: ElevenLabsConfig, guard: Guard) -> Result<Self, EngineError> {
        let mut key_header = reqwest::header::HeaderValue::from_str(config.api_key.expose())
            .map_err(|_| EngineError::InvalidRequest {
                provider: PROVIDER,
                detail: "the API key holds characters a header cannot carry".into(),
            })?;
        key_header.set_sensitive(true);
        Ok(ElevenLabs {
            client: http::client(PROVIDER, &guard.timeouts)?,
            config,
            key_header,
            guard,
        })
    }

    /// The `output_format` and how its bytes decode.
    fn format(&self) -> (&'static str, BodyAudio) {
        match self.config.law {
            Law::Ulaw => ("ulaw_8000", BodyAudio::Ulaw8000),
            Law::Alaw => ("pcm_16000", BodyAudio::Le16 { rate_hz: 16_000 }),
        }
    }

    fn url(&self, voice: &str, format: &str) -> Result<url::Url, EngineError> {
        let bad = || EngineError::InvalidRequest {
            provider: PROVIDER,
            detail: "the base URL cannot take a path".into(),
        };
        let mut url =
            url::Url::parse(self.config.base_url.trim_end_matches('/')).map_err(|_| bad())?;
        url.path_segments_mut()
            .map_err(|_| bad())?
            .pop_if_empty()
            .extend(["text-to-speech", voice, "stream"]);
        url.query_pairs_mut().append_pair("output_format", format);
        Ok(url)
    }
}

#[async_trait::async_trait]
impl TextToSpeech for ElevenLabs {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, EngineError> {
        refuse_empty(PROVIDER, &request)?;
        let (format, audio) = self.format();
        let voice = request.voice.as_deref().unwrap_or(&self.config.voice);
        let url = self.url(voice, format)?;
        let model = request.model.as_deref().unwrap_or(&self.config.model);
        let mut body = json!({
            "text": request.text,
            "model_id": model,
        });
        if let Some(code) = request
            .language
            .as_deref()
            .and_then(|l| crate::engines::language_forms::elevenlabs(l, model))
        {
            body["language_code"] = serde_json::Value::String(code);
        }
        stream_audio(&self.guard, audio, || {
            self.client
                .post(url.clone())
                .header("xi-api-key", self.key_header.clone())
                .json(&body)
        })
        .await
    }
}
