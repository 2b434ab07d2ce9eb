//! `whisper-local`: Whisper in this process ([`crate::whisper`], CTranslate2), one
//! transcription per utterance, like the OpenAI-compatible provider but with no network.
//!
//! The model is loaded once when the engines are built; every call shares one
//! [`WhisperPool`], which runs transcriptions on blocking threads, at most `workers` at a
//! time with a bounded queue, and reports its queueing (`vca_whisper_*` metrics). A session
//! ignores the streamed frames; at the end of each utterance it resamples the 8 kHz PCM to
//! 16 kHz (the media path's band-limited resampler) and waits for the pool within the STT
//! final timeout. A full pool is refused at once (the loop speaks its "please repeat" line)
//! rather than letting turns pile up behind each other.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    SpeechToText, SttOptions, SttSession, SttUsage, Transcript, TranscriptFuture, iso_639_1,
    upsample_8k_to_16k,
};
use crate::engines::error::EngineError;
use crate::engines::metrics;
use crate::whisper::{
    ModelOptions, WhisperError, WhisperModel, WhisperPool, describe_metrics, pcm_i16_to_f32,
};

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "whisper_local";

/// Requests that may wait for a worker, per worker, before the pool refuses.
const QUEUE_PER_WORKER: usize = 4;

/// Settings of the local Whisper provider.
#[derive(Debug, Clone)]
pub struct WhisperLocalConfig {
    /// A CTranslate2 Whisper model directory (`scripts/fetch-whisper-model`).
    pub model_dir: PathBuf,
    /// Default language (ISO 639-1; a region suffix is dropped), `None` to auto-detect.
    pub language: Option<String>,
    /// Transcriptions that run at once (model replicas); the machine's cores are shared
    /// between them.
    pub workers: usize,
    /// End of speech → transcript limit, queueing included.
    pub final_timeout: Duration,
}

/// The local Whisper provider.
#[derive(Debug)]
pub struct WhisperLocal {
    pool: WhisperPool,
    language: Option<String>,
    final_timeout: Duration,
}

impl WhisperLocal {
    /// Loads the model (blocking: hundreds of milliseconds to seconds) and starts the pool.
    pub fn load(config: WhisperLocalConfig) -> Result<Self, EngineError> {
        describe_metrics();
        let workers = config.workers.max(1);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let options = ModelOptions {
            replicas: workers,
            threads_per_replica: (cores / workers).max(1),
            ..ModelOptions::default()
        };
        let model = WhisperModel::load(&config.model_dir, options).map_err(load_error)?;
        let pool =
            WhisperPool::new(model, workers, workers * QUEUE_PER_WORKER).map_err(load_error)?;
        Ok(WhisperLocal {
            pool,
            language: config.language.map(|l| iso_639_1(&l)),
            final_timeout: config.final_timeout,
        })
    }
}

fn load_error(e: WhisperError) -> EngineError {
    EngineError::Process {
        provider: PROVIDER,
        detail: format!("loading the model: {e}"),
    }
}

/// Counts a failed transcription in `vca_engine_errors_total` and hands it on.
fn failed(e: EngineError) -> EngineError {
    metrics::error(&e);
    e
}

/// Our error for a failed transcription.
fn transcribe_error(e: WhisperError) -> EngineError {
    match e {
        WhisperError::Busy { in_flight, limit } => EngineError::Unavailable {
            provider: PROVIDER,
            reason: format!("all workers and queue slots taken ({in_flight} of {limit})"),
        },
        WhisperError::UnsupportedLanguage(l) => EngineError::InvalidRequest {
            provider: PROVIDER,
            detail: format!("the model does not know language {l:?}"),
        },
        other => EngineError::Process {
            provider: PROVIDER,
            detail: other.to_string(),
        },
    }
}

#[async_trait::async_trait]
impl SpeechToText for WhisperLocal {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn open(&self, options: SttOptions) -> Result<Box<dyn SttSession>, EngineError> {
        let detecting = !options.detect_languages.is_empty();
        let mut language = options
            .language
            .map(|l| iso_639_1(&l))
            .or_else(|| self.language.clone())
            .filter(|_| !detecting);
        if !self.pool.model().is_multilingual() && language.as_deref().is_some_and(|l| l != "en") {
            // An English-only model cannot take another language; hearing English is better
            // than failing every turn of the call.
            tracing::warn!(
                language = language.as_deref().unwrap_or_default(),
                "the whisper model is English-only; transcribing this call as English"
            );
            language = None;
        }
        Ok(Box::new(Session {
            pool: self.pool.clone(),
            language,
            final_timeout: self.final_timeout,
            usage: SttUsage::default(),
        }))
    }
}

/// A call's session: frames are ignored, each utterance is one transcription.
#[derive(Debug)]
struct Session {
    pool: WhisperPool,
    language: Option<String>,
    final_timeout: Duration,
    usage: SttUsage,
}

impl SttSession for Session {
    fn finish_utterance(&mut self, utterance: Vec<i16>) -> TranscriptFuture {
        if !utterance.is_empty() {
            self.usage.audio_seconds += utterance.len() as f64 / 8000.0;
        }
        let pool = self.pool.clone();
        let language = self.language.clone();
        let final_timeout = self.final_timeout;
        Box::pin(async move {
            if utterance.is_empty() {
                return Ok(Transcript::finished(""));
            }
            let started = tokio::time::Instant::now();
            let pcm_16k = pcm_i16_to_f32(&upsample_8k_to_16k(PROVIDER, &utterance)?);
            let run = pool.transcribe(pcm_16k, language.as_deref());
            let transcript = match tokio::time::timeout(final_timeout, run).await {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => return Err(failed(transcribe_error(e))),
                Err(_) => {
                    return Err(failed(EngineError::Timeout {
                        provider: PROVIDER,
                        stage: "final transcript",
                    }));
                }
            };
            metrics::stt_final_latency(PROVIDER, started.elapsed());
            tracing::debug!(
                audio_s = transcript.audio_seconds,
                queued_ms = transcript.queued_for.as_millis() as u64,
                compute_ms = transcript.compute.as_millis() as u64,
                "whisper transcription"
            );
            Ok(Transcript {
                language: language.is_none().then(|| transcript.language.clone()),
                ..Transcript::finished(transcript.text.trim())
            })
        })
    }

    fn usage(&self) -> SttUsage {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pool_is_unavailable_not_a_process_failure() {
        let e = transcribe_error(WhisperError::Busy {
            in_flight: 5,
            limit: 5,
        });
        assert!(matches!(e, EngineError::Unavailable { .. }), "{e:?}");
        let e = transcribe_error(WhisperError::UnsupportedLanguage("hi".into()));
        assert!(matches!(e, EngineError::InvalidRequest { .. }), "{e:?}");
    }

    #[test]
    fn a_missing_model_directory_is_a_clear_error() {
        let err = WhisperLocal::load(WhisperLocalConfig {
            model_dir: PathBuf::from("/nonexistent/whisper-model"),
            language: Some("en".into()),
            workers: 1,
            final_timeout: Duration::from_secs(5),
        })
        .expect_err("no model there");
        let text = err.to_string();
        assert!(text.contains("fetch-whisper-model"), "{text}");
    }
}
