//! vca-bridge: puts an AI voice agent on phone numbers served by Asterisk.
//!
//! A tour of the modules, top to bottom:
//! - [`daemon`], [`cli`], [`check_config`], [`logging`], [`service`], [`telemetry`]: the
//!   binary's commands and plumbing (systemd notifications, metrics).
//! - [`config`]: settings from file, environment and flags; secrets that never print.
//! - [`phone`]: E.164 normalisation and masking of phone numbers.
//! - [`store`]: PostgreSQL repositories (tenants, numbers, profiles, calls) and Redis.
//! - [`admin`]: the admin HTTP API (axum) with bearer auth and OpenAPI.
//! - [`ari`]: the Asterisk REST Interface client: REST calls, typed events, the event
//!   WebSocket supervisor.
//! - [`engines`]: STT, LLM and TTS providers behind traits, with timeouts, retries and
//!   circuit breakers.
//! - [`call`]: per-call plumbing (RTP port pool, media driver, call lifecycle).
//! - [`engines`]: speech-to-text, language model and text-to-speech providers, with
//!   timeouts, retries and circuit breakers.
//! - [`conversation`]: the agent's side of a call: turns, barge-in, limits, transcript.
//! - [`media`]: the sans-IO media core (G.711, RTP, VAD, resampling, playout): the
//!   `vca-media` crate of this workspace, which has no tokio.
//!
//! The simulator of Asterisk (`vca-sim`, with its fake engines and load runner) is the
//! workspace's `vca-sim` crate; the daemon never depends on it.
//! - `whisper` (feature `whisper-local`): in-process Whisper speech-to-text (CTranslate2).
pub mod admin;
pub mod ari;
pub mod call;
pub mod check_config;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conversation;
pub mod daemon;
pub mod engines;
pub mod logging;
pub mod media_driver;
/// The sans-IO media core, its own crate (no tokio in its manifest).
pub use vca_media as media;
pub mod phone;
pub mod service;
pub mod store;
pub mod telemetry;
#[cfg(feature = "whisper-local")]
pub mod whisper;
