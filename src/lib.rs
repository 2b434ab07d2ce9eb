//! vca-bridge: puts an AI voice agent on phone numbers served by Asterisk.
//!
//! A tour of the modules, top to bottom:
//! - [`daemon`], [`cli`], [`check_config`], [`logging`]: the binary's commands and plumbing.
//! - [`config`]: settings from file, environment and flags; secrets that never print.
//! - [`phone`]: E.164 normalisation and masking of phone numbers.
//! - [`store`]: PostgreSQL repositories (tenants, numbers, profiles, calls) and Redis.
//! - [`admin`]: the admin HTTP API (axum) with bearer auth and OpenAPI.
//! - [`ari`]: the Asterisk REST Interface client: REST calls, typed events, the event
//!   WebSocket supervisor.
//! - [`call`]: per-call plumbing (RTP port pool, media driver, call lifecycle).
//! - [`media`]: the sans-IO media core (G.711, RTP, VAD, resampling, playout).
//! - [`sim`]: `vca-sim`, an Asterisk simulator (ARI REST + events + UnicastRTP peers) that
//!   matches the recordings in `shared/asterisk/`; used by tests, the demo and load runs.
//! - `whisper` (feature `whisper-local`): in-process Whisper speech-to-text (CTranslate2).
pub mod admin;
pub mod ari;
pub mod call;
pub mod check_config;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod logging;
pub mod media;
pub mod phone;
pub mod sim;
pub mod store;
pub mod telemetry;
#[cfg(feature = "whisper-local")]
pub mod whisper;
