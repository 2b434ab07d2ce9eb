//! Builds the three engines the daemon shares between calls from the settings: each
//! provider with its own breaker, retry policy and time limits.

use std::sync::Arc;

use super::error::EngineError;
use super::llm::ChatCompletion;
use super::llm::echo::EchoChat;
use super::llm::openai::{OpenAiChat, OpenAiChatConfig};
use super::resilience::{BreakerPolicy, Clock, Guard, RetryPolicy, SystemClock, Timeouts};
use super::settings::{EngineSettings, LlmProvider, SttProvider, TtsProvider};
use super::stt::SpeechToText;
use super::stt::deepgram::{Deepgram, DeepgramConfig};
use super::stt::openai::{OpenAiTranscribe, OpenAiTranscribeConfig};
use super::stt::sarvam::{SarvamStt, SarvamSttConfig};
use super::tts::TextToSpeech;
use super::tts::elevenlabs::{ElevenLabs, ElevenLabsConfig};
use super::tts::espeak::{Espeak, EspeakConfig};
use super::tts::openai::{OpenAiSpeech, OpenAiSpeechConfig};
use super::tts::sarvam::{SarvamTts, SarvamTtsConfig};
use crate::media::g711::Law;
use crate::secret::Secret;

/// The engines of the daemon, shared by every call.
#[derive(Debug, Clone)]
pub struct Engines {
    /// Speech recognition.
    pub stt: Arc<dyn SpeechToText>,
    /// Chat completion.
    pub llm: Arc<dyn ChatCompletion>,
    /// Speech synthesis.
    pub tts: Arc<dyn TextToSpeech>,
    /// The fixed lines' audio, kept once synthesised (spoken even while synthesis fails).
    pub lines: Arc<super::tts::spoken_lines::SpokenLines>,
}

fn guard(provider: &'static str, timeouts: Timeouts, clock: &Arc<dyn Clock>) -> Guard {
    let retry = RetryPolicy {
        budget: timeouts.first_byte,
        ..RetryPolicy::default()
    };
    Guard::new(
        provider,
        timeouts,
        retry,
        BreakerPolicy::default(),
        clock.clone(),
    )
}

fn required_key(provider: &'static str, key: &Option<Secret>) -> Result<Secret, EngineError> {
    key.clone().ok_or(EngineError::Auth {
        provider,
        status: 0,
    })
}

/// Builds the engines for calls of `law` (ElevenLabs and Sarvam pick their output format
/// by it).
/// Fails only if an HTTP client cannot start, a required key is absent (config
/// validation reports that earlier, naming the setting) or the whisper-local model does
/// not load. Loading a whisper-local model blocks for up to a few seconds.
pub fn build_engines(settings: &EngineSettings, law: Law) -> Result<Engines, EngineError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let stt = &settings.stt;
    let stt_timeouts = Timeouts {
        first_byte: stt.final_timeout,
        total: stt.final_timeout,
        ..Timeouts::STT
    };
    let stt: Arc<dyn SpeechToText> = match stt.provider {
        SttProvider::Deepgram => Arc::new(Deepgram::new(
            DeepgramConfig {
                base_url: stt.base_url.clone(),
                api_key: required_key(super::stt::deepgram::PROVIDER, &stt.api_key)?,
                model: stt.model.clone(),
                language: stt.language.clone(),
                endpointing_ms: super::stt::deepgram::ENDPOINTING_MS,
                utterance_end_ms: super::stt::deepgram::UTTERANCE_END_MS,
                keepalive_every: super::stt::deepgram::KEEPALIVE_EVERY,
            },
            guard(super::stt::deepgram::PROVIDER, stt_timeouts, &clock),
        )),
        SttProvider::OpenAi => Arc::new(OpenAiTranscribe::new(
            OpenAiTranscribeConfig {
                base_url: stt.base_url.clone(),
                api_key: stt.api_key.clone(),
                model: stt.model.clone(),
                language: stt.language.clone(),
            },
            guard(super::stt::openai::PROVIDER, stt_timeouts, &clock),
        )?),
        SttProvider::Sarvam => Arc::new(SarvamStt::new(
            SarvamSttConfig {
                base_url: stt.base_url.clone(),
                api_key: required_key(super::stt::sarvam::PROVIDER, &stt.api_key)?,
                model: stt.model.clone(),
                language: stt.language.clone(),
                mode: stt.mode,
                high_vad_sensitivity: true,
                keepalive_every: super::stt::sarvam::KEEPALIVE_EVERY,
            },
            guard(super::stt::sarvam::PROVIDER, stt_timeouts, &clock),
        )?),
        #[cfg(feature = "whisper-local")]
        SttProvider::WhisperLocal => Arc::new(super::stt::whisper_local::WhisperLocal::load(
            super::stt::whisper_local::WhisperLocalConfig {
                model_dir: stt.model.clone().into(),
                language: stt.language.clone(),
                workers: stt.workers,
                final_timeout: stt.final_timeout,
            },
        )?),
        // Settings refuse `whisper-local` in a build without the feature.
        #[cfg(not(feature = "whisper-local"))]
        SttProvider::WhisperLocal => {
            return Err(EngineError::InvalidRequest {
                provider: "whisper_local",
                detail: "this build lacks the whisper-local feature".into(),
            });
        }
    };
    let llm = &settings.llm;
    let llm: Arc<dyn ChatCompletion> = match llm.provider {
        LlmProvider::Echo => Arc::new(EchoChat),
        LlmProvider::OpenAi => Arc::new(OpenAiChat::new(
            OpenAiChatConfig {
                base_url: llm.base_url.clone(),
                api_key: llm.api_key.clone(),
                api_key_header: Some(llm.api_key_header.clone()),
                model: llm.model.clone(),
                max_tokens: llm.max_tokens,
                temperature: llm.temperature,
                max_history: llm.max_history,
            },
            guard(
                super::llm::openai::PROVIDER,
                Timeouts {
                    first_byte: llm.first_token_timeout,
                    ..Timeouts::LLM
                },
                &clock,
            ),
        )?),
    };
    let tts = &settings.tts;
    let tts_timeouts = Timeouts {
        first_byte: tts.first_audio_timeout,
        ..Timeouts::TTS
    };
    let tts: Arc<dyn TextToSpeech> = match tts.provider {
        TtsProvider::Espeak => Arc::new(Espeak::new(
            EspeakConfig {
                voice: tts.voice.clone(),
                ..EspeakConfig::default()
            },
            guard(super::tts::espeak::PROVIDER, tts_timeouts, &clock),
        )),
        TtsProvider::OpenAi => Arc::new(OpenAiSpeech::new(
            OpenAiSpeechConfig {
                base_url: tts.base_url.clone(),
                api_key: tts.api_key.clone(),
                model: tts.model.clone(),
                voice: tts.voice.clone(),
            },
            guard(super::tts::openai::PROVIDER, tts_timeouts, &clock),
        )?),
        TtsProvider::ElevenLabs => Arc::new(ElevenLabs::new(
            ElevenLabsConfig {
                base_url: tts.base_url.clone(),
                api_key: required_key(super::tts::elevenlabs::PROVIDER, &tts.api_key)?,
                model: tts.model.clone(),
                voice: tts.voice.clone(),
                law,
            },
            guard(super::tts::elevenlabs::PROVIDER, tts_timeouts, &clock),
        )?),
        TtsProvider::Sarvam => Arc::new(SarvamTts::new(
            SarvamTtsConfig {
                base_url: tts.base_url.clone(),
                api_key: required_key(super::tts::sarvam::PROVIDER, &tts.api_key)?,
                model: tts.model.clone(),
                voice: tts.voice.clone(),
                language: tts
                    .language
                    .clone()
                    .unwrap_or_else(|| super::tts::sarvam::DEFAULT_LANGUAGE.to_string()),
                law,
                mode: tts.mode,
                ping_every: super::tts::sarvam::PING_EVERY,
            },
            guard(super::tts::sarvam::PROVIDER, tts_timeouts, &clock),
        )?),
    };
    Ok(Engines {
        stt,
        llm,
        tts,
        lines: Arc::default(),
    })
}
