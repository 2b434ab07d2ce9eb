//! The daemon's engine settings (which provider, where, which model, keys, time limits),
//! as validated by `config`, and the parsers of their values.

use std::time::Duration;

use crate::secret::Secret;

/// Which speech recognition provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SttProvider {
    /// Deepgram live streaming (WebSocket).
    Deepgram,
    /// Any OpenAI-compatible `/audio/transcriptions`.
    OpenAi,
    /// Whisper in this process through CTranslate2 (cargo feature `whisper-local`).
    WhisperLocal,
    /// Sarvam streaming (WebSocket) or per utterance (REST), by [`SttMode`].
    Sarvam,
}

/// How a provider that offers both is used (`VCA_STT_MODE`; Sarvam).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SttMode {
    /// The streaming WebSocket, fed every frame.
    Stream,
    /// One upload per utterance.
    Rest,
}

/// How a provider that offers both is used (`VCA_TTS_MODE`; Sarvam).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtsMode {
    /// The WebSocket stream (the call's codec at 8 kHz, pings while open).
    Stream,
    /// One streamed HTTP response per sentence.
    Http,
}

/// Which chat provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmProvider {
    /// Any OpenAI-compatible `/chat/completions`.
    OpenAi,
    /// Repeats the caller (tests, demo).
    Echo,
}

/// Which speech synthesis provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtsProvider {
    /// Any OpenAI-compatible `/audio/speech`.
    OpenAi,
    /// ElevenLabs streaming.
    ElevenLabs,
    /// Local espeak-ng.
    Espeak,
    /// Sarvam (Bulbul) over WebSocket or HTTP streaming, by [`TtsMode`].
    Sarvam,
}

/// Speech recognition settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SttSettings {
    /// The provider.
    pub provider: SttProvider,
    /// Base URL up to the API version.
    pub base_url: String,
    /// Model (whisper-local: the model directory).
    pub model: String,
    /// Default language (the AI profile may override per call).
    pub language: Option<String>,
    /// API key, if the provider needs one.
    pub api_key: Option<Secret>,
    /// End of speech → final transcript limit.
    pub final_timeout: Duration,
    /// whisper-local: transcriptions that run at once.
    pub workers: usize,
    /// Streaming or per utterance (Sarvam; others have one way).
    pub mode: SttMode,
}

/// Chat settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    /// The provider.
    pub provider: LlmProvider,
    /// Base URL up to the API version.
    pub base_url: String,
    /// Model.
    pub model: String,
    /// API key, if the provider needs one.
    pub api_key: Option<Secret>,
    /// The header the key goes in: `Authorization` sends `Bearer <key>`, any other
    /// header the bare key (Sarvam: `api-subscription-key`).
    pub api_key_header: String,
    /// Reply token limit.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Newest history messages sent with each request.
    pub max_history: usize,
    /// Request → first token limit.
    pub first_token_timeout: Duration,
}

/// Speech synthesis settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TtsSettings {
    /// The provider.
    pub provider: TtsProvider,
    /// Base URL up to the API version (unused by espeak-ng).
    pub base_url: String,
    /// Model (unused by espeak-ng).
    pub model: String,
    /// Default voice.
    pub voice: String,
    /// API key, if the provider needs one.
    pub api_key: Option<Secret>,
    /// Request → first audio limit.
    pub first_audio_timeout: Duration,
    /// WebSocket or HTTP streaming (Sarvam; others have one way).
    pub mode: TtsMode,
    /// The language spoken when a request names none (BCP-47; Sarvam needs one).
    pub language: Option<String>,
}

/// Every engine setting.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// Speech recognition.
    pub stt: SttSettings,
    /// Chat.
    pub llm: LlmSettings,
    /// Speech synthesis.
    pub tts: TtsSettings,
}

/// Parses `deepgram | openai | whisper-local`; `whisper-local` only in a build with that
/// cargo feature.
pub fn parse_stt_provider(s: &str) -> Result<SttProvider, String> {
    match s.to_ascii_lowercase().as_str() {
        "deepgram" => Ok(SttProvider::Deepgram),
        "openai" => Ok(SttProvider::OpenAi),
        "sarvam" => Ok(SttProvider::Sarvam),
        "whisper-local" | "whisper_local" if cfg!(feature = "whisper-local") => {
            Ok(SttProvider::WhisperLocal)
        }
        "whisper-local" | "whisper_local" => Err(format!(
            "{s:?}: this vca-bridge was built without it; build with `cargo build --release \
             --features whisper-local` (scripts/demo does)"
        )),
        _ => Err(format!(
            "{s:?}: use deepgram, openai, sarvam or whisper-local"
        )),
    }
}

/// Parses `stream | rest`.
pub fn parse_stt_mode(s: &str) -> Result<SttMode, String> {
    match s.to_ascii_lowercase().as_str() {
        "stream" | "streaming" | "ws" | "websocket" => Ok(SttMode::Stream),
        "rest" | "http" => Ok(SttMode::Rest),
        _ => Err(format!("{s:?}: use stream or rest")),
    }
}

/// Parses `stream | http`.
pub fn parse_tts_mode(s: &str) -> Result<TtsMode, String> {
    match s.to_ascii_lowercase().as_str() {
        "stream" | "streaming" | "ws" | "websocket" => Ok(TtsMode::Stream),
        "http" | "rest" => Ok(TtsMode::Http),
        _ => Err(format!("{s:?}: use stream or http")),
    }
}

/// Parses an HTTP header name for the LLM key (`Authorization`, `api-subscription-key`).
pub fn parse_header_name(s: &str) -> Result<String, String> {
    reqwest::header::HeaderName::from_bytes(s.as_bytes())
        .map(|_| s.to_string())
        .map_err(|_| format!("{s:?} is not an HTTP header name"))
}

/// Parses a BCP-47 language tag of a language the daemon speaks, canonically written.
pub fn parse_language(s: &str) -> Result<String, String> {
    crate::language::LanguageTag::parse(s)
        .map(|t| t.to_string())
        .map_err(|e| e.to_string())
}

/// Parses `openai | echo`.
pub fn parse_llm_provider(s: &str) -> Result<LlmProvider, String> {
    match s.to_ascii_lowercase().as_str() {
        "openai" => Ok(LlmProvider::OpenAi),
        "echo" => Ok(LlmProvider::Echo),
        _ => Err(format!("{s:?}: use openai or echo")),
    }
}

/// Parses `openai | elevenlabs | espeak`.
pub fn parse_tts_provider(s: &str) -> Result<TtsProvider, String> {
    match s.to_ascii_lowercase().as_str() {
        "openai" => Ok(TtsProvider::OpenAi),
        "elevenlabs" => Ok(TtsProvider::ElevenLabs),
        "espeak" | "espeak-ng" => Ok(TtsProvider::Espeak),
        "sarvam" => Ok(TtsProvider::Sarvam),
        _ => Err(format!("{s:?}: use openai, elevenlabs, sarvam or espeak")),
    }
}

/// Parses a base URL with one of `schemes`, without a trailing slash.
pub fn parse_base_url(s: &str, schemes: &[&str]) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u) if schemes.contains(&u.scheme()) && u.host().is_some() => {
            Ok(s.trim_end_matches('/').to_string())
        }
        _ => Err(format!("{s:?} is not a {} URL", schemes.join(" or "))),
    }
}

/// Checks a whisper-local model directory: a CTranslate2 Whisper model has `model.bin`,
/// `config.json` and `vocabulary.txt` (scripts/fetch-whisper-model makes one).
pub fn parse_whisper_model_dir(s: &str) -> Result<String, String> {
    let dir = std::path::Path::new(s);
    if !dir.is_dir() {
        return Err(format!(
            "{s:?} is not a directory; give a CTranslate2 Whisper model directory \
             (scripts/fetch-whisper-model tiny|base makes models/whisper-tiny.en or models/whisper-base)"
        ));
    }
    for file in ["model.bin", "config.json", "vocabulary.txt"] {
        if !dir.join(file).is_file() {
            return Err(format!(
                "{s:?} has no {file}; it is not a CTranslate2 Whisper model directory \
                 (scripts/fetch-whisper-model makes one)"
            ));
        }
    }
    Ok(s.to_string())
}

/// Parses a time limit in milliseconds (100 ms to 30 s).
pub fn parse_timeout_ms(s: &str) -> Result<Duration, String> {
    match s.parse::<u64>() {
        Ok(ms) if (100..=30_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(format!("{s:?}: give milliseconds between 100 and 30000")),
    }
}

/// Whether a provider at `base_url` needs an API key: hosted services (https) do,
/// local servers on plain http (Ollama, vLLM, llama.cpp, whisper.cpp) may not.
pub fn key_required(base_url: &str) -> bool {
    !base_url.starts_with("http://") && !base_url.starts_with("ws://")
}
