//! Fake STT/LLM/TTS providers for tests: real servers on 127.0.0.1:0 that speak each
//! provider's documented wire protocol, check requests the way the real API does
//! (auth header, JSON fields, content types) and record what they received.
//!
//! - [`http::FakeHttp`]: OpenAI-compatible `/v1/chat/completions` (SSE),
//!   `/v1/audio/speech` (PCM 24 kHz), `/v1/audio/transcriptions` (multipart WAV), and
//!   ElevenLabs `/v1/text-to-speech/{voice}/stream`. Scripted [`http::Reply`]s give
//!   errors, slow starts, hangs, cuts and bad JSON.
//! - [`deepgram::FakeDeepgram`]: Deepgram live `/v1/listen` over WebSocket.
//!
//! Use from a test file with `mod fake_providers;`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err
)]

pub mod audio;
pub mod deepgram;
pub mod http;
