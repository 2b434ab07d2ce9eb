//! Speech from Sarvam (Bulbul): the WebSocket `/text-to-speech/ws` ([`super::sarvam_ws`])
//! or, with `VCA_TTS_MODE=http`, the streamed `POST /text-to-speech/stream`. Both ask for
//! the call's own codec (`alaw`/`mulaw`) at 8 kHz, so nothing is resampled and each
//! G.711 byte decodes to exactly the sample the playout encodes back to that byte.
//! `speaker` is the request's voice, `target_language_code` its language (`hi-IN`).
//! [`TextToSpeech::prepare`] opens a call's first socket when the call is answered, so
//! the greeting does not wait for the connection.

use serde_json::json;

use super::http_audio::{BodyAudio, stream_audio};
use super::sarvam_ws::{self, WarmSocket, WsRequest};
use super::{TextToSpeech, TtsRequest, TtsStream, refuse_empty};
use crate::engines::error::EngineError;
use crate::engines::resilience::Guard;
use crate::engines::sarvam::{self, KEY_HEADER};
use crate::engines::settings::TtsMode;
use crate::engines::{http, language_forms};
use crate::media::g711::Law;
use crate::secret::Secret;

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "sarvam_tts";
/// The model unless `VCA_TTS_MODEL` says otherwise.
pub const DEFAULT_MODEL: &str = "bulbul:v2";
/// The speaker unless `VCA_TTS_VOICE` (or the AI profile) says otherwise.
pub const DEFAULT_VOICE: &str = "anushka";
/// The language when neither the request nor `VCA_TTS_LANGUAGE` names one.
pub const DEFAULT_LANGUAGE: &str = "hi-IN";
/// A `ping` goes out this often while a socket is open (Sarvam closes idle sockets
/// after about a minute).
pub const PING_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// Settings of the Sarvam speech provider.
#[derive(Debug, Clone)]
pub struct SarvamTtsConfig {
    /// Base URL (`https://api.sarvam.ai`); the socket uses its `wss://` form.
    pub base_url: String,
    /// The `api-subscription-key`.
    pub api_key: Secret,
    /// Default model (`bulbul:v2`, `bulbul:v3`).
    pub model: String,
    /// Default speaker (`anushka`, `abhilash`, ...).
    pub voice: String,
    /// Default language (BCP-47).
    pub language: String,
    /// The calls' law: the codec asked for.
    pub law: Law,
    /// WebSocket or HTTP streaming.
    pub mode: TtsMode,
    /// `ping` period on the socket.
    pub ping_every: std::time::Duration,
}

/// The Sarvam speech provider.
#[derive(Debug)]
pub struct SarvamTts {
    client: reqwest::Client,
    config: SarvamTtsConfig,
    key: reqwest::header::HeaderValue,
    guard: Guard,
    warm: WarmSockets,
}

/// The most sockets kept open ahead of their first sentence (one per call being answered).
const MAX_WARM: usize = 64;

/// Sockets opened at the answer of calls, waiting for their first sentence.
#[derive(Default)]
struct WarmSockets(std::sync::Mutex<Vec<WarmSocket>>);

impl std::fmt::Debug for WarmSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WarmSockets")
    }
}

impl WarmSockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<WarmSocket>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn put(&self, socket: WarmSocket) {
        let mut all = self.lock();
        all.retain(|w| w.opened_recently());
        if all.len() >= MAX_WARM {
            all.remove(0);
        }
        all.push(socket);
    }

    /// A socket for `request`, if one is waiting (stale ones are dropped).
    fn take(&self, request: &WsRequest) -> Option<WarmSocket> {
        let mut all = self.lock();
        all.retain(|w| w.opened_recently());
        let i = all.iter().position(|w| w.fits(request))?;
        Some(all.swap_remove(i))
    }
}

impl SarvamTts {
    /// A provider using `guard` for timeouts, retries and its breaker.
    pub fn new(config: SarvamTtsConfig, guard: Guard) -> Result<Self, EngineError> {
        Ok(SarvamTts {
            client: http::client(PROVIDER, &guard.timeouts)?,
            key: sarvam::key_value(PROVIDER, &config.api_key)?,
            config,
            guard,
            warm: WarmSockets::default(),
        })
    }

    /// The request in Sarvam's forms, with this provider's defaults.
    fn ws_request(
        &self,
        text: String,
        voice: Option<String>,
        model: Option<String>,
        language: Option<&str>,
    ) -> WsRequest {
        WsRequest {
            text,
            language: language_forms::sarvam(language.unwrap_or(&self.config.language)),
            speaker: voice.unwrap_or_else(|| self.config.voice.clone()),
            model: model.unwrap_or_else(|| self.config.model.clone()),
            codec: self.codec(),
        }
    }

    fn ws_url(&self, model: &str) -> Result<url::Url, EngineError> {
        let mut url = sarvam::endpoint(
            PROVIDER,
            &self.config.base_url,
            &["text-to-speech", "ws"],
            true,
        )?;
        url.query_pairs_mut()
            .append_pair("model", model)
            .append_pair("send_completion_event", "true");
        Ok(url)
    }

    /// `alaw` or `mulaw`: the call's codec.
    fn codec(&self) -> &'static str {
        match self.config.law {
            Law::Alaw => "alaw",
            Law::Ulaw => "mulaw",
        }
    }

    async fn http_stream(&self, ws: WsRequest) -> Result<TtsStream, EngineError> {
        let url = sarvam::endpoint(
            PROVIDER,
            &self.config.base_url,
            &["text-to-speech", "stream"],
            false,
        )?;
        let body = json!({
            "text": ws.text,
            "target_language_code": ws.language,
            "speaker": ws.speaker,
            "model": ws.model,
            "speech_sample_rate": 8000,
            "output_audio_codec": ws.codec,
        });
        let audio = match self.config.law {
            Law::Alaw => BodyAudio::Alaw8000,
            Law::Ulaw => BodyAudio::Ulaw8000,
        };
        stream_audio(&self.guard, audio, || {
            self.client
                .post(url.clone())
                .header(KEY_HEADER, self.key.clone())
                .json(&body)
        })
        .await
    }
}

#[async_trait::async_trait]
impl TextToSpeech for SarvamTts {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, EngineError> {
        refuse_empty(PROVIDER, &request)?;
        let ws = self.ws_request(
            request.text.clone(),
            request.voice.clone(),
            request.model.clone(),
            request.language.as_deref(),
        );
        match self.config.mode {
            TtsMode::Http => self.http_stream(ws).await,
            TtsMode::Stream => {
                let url = self.ws_url(&ws.model)?;
                let warm = self.warm.take(&ws);
                sarvam_ws::synthesize(
                    &self.guard,
                    &url,
                    &self.key,
                    self.config.law,
                    self.config.ping_every,
                    &ws,
                    warm,
                )
                .await
            }
        }
    }

    async fn prepare(&self, voice: Option<String>, language: Option<String>) {
        if self.config.mode != TtsMode::Stream {
            return;
        }
        let ws = self.ws_request(String::new(), voice, None, language.as_deref());
        let Ok(url) = self.ws_url(&ws.model) else {
            return;
        };
        match sarvam_ws::open(&url, &self.key, &ws, self.guard.timeouts.connect).await {
            Ok(socket) => self.warm.put(socket),
            Err(e) => tracing::debug!(error = %e, "could not open a speech socket ahead"),
        }
    }
}
