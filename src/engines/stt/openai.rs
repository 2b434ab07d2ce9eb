//! Transcription per utterance with any OpenAI-compatible
//! `POST {base}/audio/transcriptions` (OpenAI, Groq, whisper.cpp server, faster-whisper
//! servers): the utterance resampled to 16 kHz, uploaded as a mono 16-bit WAV with
//! `model`, `language` (ISO 639-1) and `response_format=json`; when the call allows other
//! languages, without `language` and with `response_format=verbose_json`, whose
//! `language` (`hindi` or `hi`) becomes [`Transcript::language`].

use std::sync::Arc;

use serde::Deserialize;

use super::multipart::Multipart;
use super::{
    SpeechToText, SttOptions, SttSession, SttUsage, Transcript, TranscriptFuture, iso_639_1,
    upsample_8k_to_16k,
};
use crate::engines::error::EngineError;
use crate::engines::resilience::Guard;
use crate::engines::{http, metrics, wav};
use crate::secret::Secret;

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "openai_stt";
/// Where requests go unless `VCA_STT_BASE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The model unless `VCA_STT_MODEL` says otherwise.
pub const DEFAULT_MODEL: &str = "whisper-1";

/// Settings of the OpenAI-compatible transcription provider.
#[derive(Debug, Clone)]
pub struct OpenAiTranscribeConfig {
    /// Base URL up to the version (`https://api.openai.com/v1`).
    pub base_url: String,
    /// Bearer key; local servers may need none.
    pub api_key: Option<Secret>,
    /// Default model (`whisper-1`, `whisper-large-v3`).
    pub model: String,
    /// Default language (ISO 639-1; a region suffix is dropped), `None` to auto-detect.
    pub language: Option<String>,
}

/// The OpenAI-compatible transcription provider.
#[derive(Debug)]
pub struct OpenAiTranscribe {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    config: OpenAiTranscribeConfig,
    guard: Guard,
}

impl OpenAiTranscribe {
    /// A provider using `guard` for timeouts, retries and its breaker.
    pub fn new(config: OpenAiTranscribeConfig, guard: Guard) -> Result<Self, EngineError> {
        Ok(OpenAiTranscribe {
            inner: Arc::new(Inner {
                client: http::client(PROVIDER, &guard.timeouts)?,
                config,
                guard,
            }),
        })
    }
}

#[derive(Deserialize)]
struct TranscriptionJson {
    text: String,
    /// `verbose_json` only: the detected language (`hindi`, or `hi` on some servers).
    #[serde(default)]
    language: Option<String>,
}

impl Inner {
    async fn upload(
        &self,
        model: &str,
        language: Option<&str>,
        wav: &[u8],
    ) -> Result<Transcript, EngineError> {
        let mut form = Multipart::new()
            .file("file", "utterance.wav", "audio/wav", wav)
            .text("model", model);
        form = match language {
            Some(lang) => form.text("response_format", "json").text("language", lang),
            None => form.text("response_format", "verbose_json"),
        };
        let (content_type, body) = form.finish();
        let url = format!(
            "{}/audio/transcriptions",
            self.config.base_url.trim_end_matches('/')
        );
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = http::send(PROVIDER, request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| EngineError::from_reqwest(PROVIDER, "transcript", &e))?;
        let parsed: TranscriptionJson =
            serde_json::from_slice(&bytes).map_err(|_| EngineError::Protocol {
                provider: PROVIDER,
                detail: "transcription response is not {\"text\": ...} JSON".into(),
            })?;
        let language = parsed
            .language
            .as_deref()
            .and_then(crate::language::Language::from_code)
            .map(|l| l.code().to_string());
        Ok(Transcript {
            language,
            ..Transcript::finished(parsed.text.trim())
        })
    }
}

/// A session: frames are ignored, each utterance is one upload.
#[derive(Debug)]
struct Session {
    inner: Arc<Inner>,
    model: String,
    language: Option<String>,
    usage: SttUsage,
}

impl SttSession for Session {
    fn finish_utterance(&mut self, utterance: Vec<i16>) -> TranscriptFuture {
        if !utterance.is_empty() {
            self.usage.audio_seconds += utterance.len() as f64 / 8000.0;
        }
        let inner = self.inner.clone();
        let model = self.model.clone();
        let language = self.language.clone();
        Box::pin(async move {
            if utterance.is_empty() {
                return Ok(Transcript::finished(""));
            }
            let started = tokio::time::Instant::now();
            let pcm16k = upsample_8k_to_16k(PROVIDER, &utterance)?;
            let wav = wav::mono16(16_000, &pcm16k);
            let limit = inner.guard.timeouts.total;
            let transcript = inner
                .guard
                .run("transcript", limit, || {
                    inner.upload(&model, language.as_deref(), &wav)
                })
                .await?;
            metrics::stt_final_latency(PROVIDER, started.elapsed());
            Ok(transcript)
        })
    }

    fn usage(&self) -> SttUsage {
        self.usage
    }
}

#[async_trait::async_trait]
impl SpeechToText for OpenAiTranscribe {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn open(&self, options: SttOptions) -> Result<Box<dyn SttSession>, EngineError> {
        // Other allowed languages: let the model detect (no `language`).
        let language = options
            .language
            .or_else(|| self.inner.config.language.clone())
            .filter(|_| options.detect_languages.is_empty())
            .map(|l| iso_639_1(&l));
        Ok(Box::new(Session {
            inner: self.inner.clone(),
            model: options
                .model
                .unwrap_or_else(|| self.inner.config.model.clone()),
            language,
            usage: SttUsage::default(),
        }))
    }
}
