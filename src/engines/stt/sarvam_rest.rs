//! Sarvam transcription per utterance (`VCA_STT_MODE=rest`): `POST /speech-to-text`,
//! multipart with the utterance as a 16 kHz mono WAV, `model` and `language_code`
//! (`unknown` to detect); the answer's `transcript` and `language_code`.

use std::sync::Arc;

use serde::Deserialize;

use super::multipart::Multipart;
use super::{SttSession, SttUsage, Transcript, TranscriptFuture, upsample_8k_to_16k};
use crate::engines::error::EngineError;
use crate::engines::resilience::Guard;
use crate::engines::sarvam::KEY_HEADER;
use crate::engines::{http, language_forms, metrics, wav};

use super::sarvam::PROVIDER;

/// A session: frames are ignored, each utterance is one upload.
#[derive(Debug)]
pub(super) struct RestSession {
    pub(super) client: reqwest::Client,
    pub(super) url: url::Url,
    pub(super) key: reqwest::header::HeaderValue,
    pub(super) guard: Arc<Guard>,
    pub(super) model: String,
    pub(super) language_code: String,
    pub(super) usage: SttUsage,
}

#[derive(Deserialize)]
struct Answer {
    transcript: String,
    #[serde(default)]
    language_code: Option<String>,
}

struct Upload {
    client: reqwest::Client,
    url: url::Url,
    key: reqwest::header::HeaderValue,
    model: String,
    language_code: String,
}

impl Upload {
    async fn send(&self, wav: &[u8]) -> Result<Answer, EngineError> {
        let (content_type, body) = Multipart::new()
            .file("file", "utterance.wav", "audio/wav", wav)
            .text("model", &self.model)
            .text("language_code", &self.language_code)
            .finish();
        let request = self
            .client
            .post(self.url.clone())
            .header(KEY_HEADER, self.key.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let response = http::send(PROVIDER, request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| EngineError::from_reqwest(PROVIDER, "transcript", &e))?;
        serde_json::from_slice(&bytes).map_err(|_| EngineError::Protocol {
            provider: PROVIDER,
            detail: "speech-to-text response is not {\"transcript\": ...} JSON".into(),
        })
    }
}

impl SttSession for RestSession {
    fn finish_utterance(&mut self, utterance: Vec<i16>) -> TranscriptFuture {
        if !utterance.is_empty() {
            self.usage.audio_seconds += utterance.len() as f64 / 8000.0;
        }
        let guard = self.guard.clone();
        let upload = Upload {
            client: self.client.clone(),
            url: self.url.clone(),
            key: self.key.clone(),
            model: self.model.clone(),
            language_code: self.language_code.clone(),
        };
        Box::pin(async move {
            if utterance.is_empty() {
                return Ok(Transcript::finished(""));
            }
            let started = tokio::time::Instant::now();
            let pcm16k = upsample_8k_to_16k(PROVIDER, &utterance)?;
            let wav = wav::mono16(16_000, &pcm16k);
            let answer = guard
                .run("transcript", guard.timeouts.total, || upload.send(&wav))
                .await?;
            metrics::stt_final_latency(PROVIDER, started.elapsed());
            Ok(Transcript {
                text: answer.transcript.trim().to_string(),
                complete: true,
                language: answer
                    .language_code
                    .filter(|l| !l.is_empty())
                    .map(|l| language_forms::canonical(&l).unwrap_or(l)),
            })
        })
    }

    fn usage(&self) -> SttUsage {
        self.usage
    }
}
