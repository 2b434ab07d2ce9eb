//! What the integration tests share, one module per concern:
//! - `db`: a fresh PostgreSQL database per test, and the real Redis.
//! - `admin`: the admin API router over them, driven with `oneshot`.
//! - `daemon`: a whole daemon against vca-sim and the fake providers ([`daemon::World`]).
//! - `sim`: the simulated caller's audio.
//! - `speech`: espeak-ng speech at 8 kHz.
//! - `whisper` (feature `whisper-local`): the tiny.en model and phone-band speech.
//! - `receiver`: a webhook receiver on 127.0.0.1 that records what it gets.
//! - `ops`: repository files, INI parsing and `check-config` runs.
//! - `tcp_gate`: a relay in front of PostgreSQL that a test closes (an outage) and opens.
//! - `skip`: the one way a test skips for a missing tool or model (a failure under `CI`).
//!
//! The fake providers themselves are library code: `vca_sim::engines`.

pub mod admin;
pub mod daemon;
pub mod db;
pub mod ops;
pub mod receiver;
pub mod sim;
pub mod skip;
pub mod speech;
pub mod tcp_gate;
#[cfg(feature = "whisper-local")]
pub mod whisper;
