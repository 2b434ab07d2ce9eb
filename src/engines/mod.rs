//! The conversation engines: streaming speech-to-text, chat completion and
//! text-to-speech behind three `Arc<dyn …>` traits, their providers, and the
//! resilience every engine call goes through.
//!
//! - [`stt`]: [`stt::SpeechToText`] and per-call [`stt::SttSession`]; Deepgram live,
//!   Sarvam streaming or REST, OpenAI-compatible transcriptions.
//! - [`llm`]: [`llm::ChatCompletion`]; OpenAI-compatible SSE and `echo`.
//! - [`tts`]: [`tts::TextToSpeech`]; OpenAI-compatible speech, ElevenLabs, Sarvam,
//!   espeak-ng.
//! - [`language_forms`]: the call's language in each provider's form; [`sarvam`]: what
//!   Sarvam's APIs share (key header, URLs, error and close codes).
//! - [`settings`], [`factory`]: [`EngineSettings`] (validated by `config`) and
//!   [`build_engines`], which gives the loop its three `Arc<dyn …>` engines.
//! - [`resilience`]: timeouts, retries with jittered backoff, circuit breakers.
//! - [`error`]: [`EngineError`], one type for every failure, with a metric label.
//! - [`metrics`]: the names and helpers of engine metrics.
//! - [`sse`], [`http`], [`audio`], [`wav`]: protocol plumbing shared by providers.

pub mod audio;
pub mod error;
pub mod factory;
pub mod http;
pub mod language_forms;
pub mod llm;
pub mod metrics;
pub mod resilience;
pub mod sarvam;
pub mod settings;
pub mod sse;
pub mod stt;
pub mod tts;
pub mod wav;

pub use audio::PcmChunk;
pub use error::EngineError;
pub use factory::{Engines, build_engines};
pub use settings::EngineSettings;
