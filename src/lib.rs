//! vca-bridge: puts an AI voice agent on phone numbers served by Asterisk.
//!
//! A tour of the modules, top to bottom (docs/ARCHITECTURE.md maps each flow to them):
//! - [`daemon`], [`cli`], [`check_config`], [`logging`], [`service`], [`telemetry`]: the
//!   binary's commands and plumbing (systemd notifications, metrics).
//! - [`config`]: settings from file, environment and flags, validated into typed values.
//! - [`admin`]: the admin HTTP API (axum) with bearer auth and OpenAPI.
//! - [`call`]: the call path — the controller that routes ARI events to one session per
//!   call, routing and leases, set-up and teardown on Asterisk, reconciliation after a
//!   reconnect, and the live call's task that drives its conversation.
//! - [`conversation`]: the dialogue of one call as a sans-IO state machine (no tokio, no IO,
//!   no clock): turns, barge-in, fallbacks, limits, transcript rows.
//! - [`media_driver`]: the tokio side of a call's media — its UDP socket from the port pool,
//!   the task that drives the media core, the call's handle on it.
//! - [`media`]: the sans-IO media core (G.711, RTP, VAD, endpointing, resampling, playout):
//!   the workspace's `vca-media` crate, which has no tokio in its manifest.
//! - [`engines`]: speech-to-text, language model and text-to-speech providers behind
//!   traits, with timeouts, retries and circuit breakers.
//! - [`tools`]: tenant HTTP tools the language model may call — schema-checked arguments,
//!   a signed POST, bounded results.
//! - [`webhooks`]: signed deliveries of call events from the outbox, with retries, shared
//!   by every daemon, and the address policy that keeps them off private networks.
//! - [`ari`]: the Asterisk REST Interface client: REST calls, typed events, the event
//!   WebSocket supervisor.
//! - [`store`]: PostgreSQL repositories (tenants, numbers, profiles, calls) and Redis.
//! - [`phone`], [`secret`], [`clock`], [`language`]: leaves every layer uses — E.164
//!   numbers and their masking, a value that never prints, the one source of time, the
//!   languages a call may be in (tags, the daemon's own lines, goodbye words).
//! - `whisper` (feature `whisper-local`): in-process Whisper speech-to-text (CTranslate2).
//!
//! The Asterisk simulator (`vca-sim`, with its fake engines and load runner) is the
//! workspace's `vca-sim` crate; the daemon never depends on it.
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
/// Fuzz targets for every parser of outside input and the stable fuzzer that runs them
/// (`scripts/fuzz`); for the fuzzers and tests only.
#[doc(hidden)]
pub mod fuzz;
pub mod language;
pub mod logging;
pub mod media_driver;
/// The sans-IO media core, its own crate (no tokio in its manifest).
pub use vca_media as media;
pub mod phone;
pub mod recording;
pub mod secret;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod webhooks;
#[cfg(feature = "whisper-local")]
pub mod whisper;
