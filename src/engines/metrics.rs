//! Metrics of engine calls, through the `metrics` facade (the daemon installs the
//! Prometheus recorder). Labels are the provider and error kind only, never per call.
//!
//! - `vca_stt_final_latency_seconds{provider}`: end of speech → final transcript.
//! - `vca_llm_first_token_seconds{provider}`: request sent → first content token.
//! - `vca_tts_first_audio_seconds{provider}`: request sent → first PCM audio.
//! - `vca_engine_errors_total{provider,kind}`: failed attempts and stream failures.
//! - `vca_engine_retries_total{provider}`: retries of idempotent requests.
//! - `vca_engine_circuit_open_total{provider}`: times a circuit breaker opened.
//! - `vca_engine_circuit_state{provider}`: 0 closed, 1 half-open, 2 open.

use std::time::Duration;

use super::error::EngineError;

/// Histogram: end of speech → final transcript.
pub const STT_FINAL_LATENCY: &str = "vca_stt_final_latency_seconds";
/// Histogram: request → first LLM token.
pub const LLM_FIRST_TOKEN: &str = "vca_llm_first_token_seconds";
/// Histogram: request → first TTS audio.
pub const TTS_FIRST_AUDIO: &str = "vca_tts_first_audio_seconds";
/// Counter of engine errors by provider and kind.
pub const ENGINE_ERRORS: &str = "vca_engine_errors_total";
/// Counter of retries by provider.
pub const ENGINE_RETRIES: &str = "vca_engine_retries_total";
/// Counter of circuit openings by provider.
pub const CIRCUIT_OPEN: &str = "vca_engine_circuit_open_total";
/// Gauge of circuit state by provider.
pub const CIRCUIT_STATE: &str = "vca_engine_circuit_state";

/// Counts one engine error.
pub fn error(err: &EngineError) {
    metrics::counter!(ENGINE_ERRORS, "provider" => err.provider(), "kind" => err.kind())
        .increment(1);
}

/// Counts one retry.
pub fn retry(provider: &'static str) {
    metrics::counter!(ENGINE_RETRIES, "provider" => provider).increment(1);
}

/// Counts a breaker opening.
pub fn circuit_opened(provider: &'static str) {
    metrics::counter!(CIRCUIT_OPEN, "provider" => provider).increment(1);
}

/// Sets the breaker state gauge.
pub fn circuit_state(provider: &'static str, value: f64) {
    metrics::gauge!(CIRCUIT_STATE, "provider" => provider).set(value);
}

/// Records end of speech → final transcript.
pub fn stt_final_latency(provider: &'static str, d: Duration) {
    metrics::histogram!(STT_FINAL_LATENCY, "provider" => provider).record(d.as_secs_f64());
}

/// Records request → first token.
pub fn llm_first_token(provider: &'static str, d: Duration) {
    metrics::histogram!(LLM_FIRST_TOKEN, "provider" => provider).record(d.as_secs_f64());
}

/// Records request → first audio.
pub fn tts_first_audio(provider: &'static str, d: Duration) {
    metrics::histogram!(TTS_FIRST_AUDIO, "provider" => provider).record(d.as_secs_f64());
}
