//! `vca-sim`: an Asterisk 22 simulator for tests, the demo and load tests.
//!
//! It speaks ARI REST + the events WebSocket on one loopback port with the paths, bodies,
//! status codes and event orderings of the recordings in `shared/asterisk/`, and runs one
//! UnicastRTP-like peer per External Media channel. Nothing here uses the daemon's ARI types:
//! every JSON body is built from the recordings, so the simulator checks the client
//! independently.
//!
//! A tour, top to bottom:
//! - [`Simulator`] / [`SimHandle`] (`handle.rs`): start it, place calls, drive the caller side,
//!   drop the WebSocket, restart, inspect state and the REST request log.
//! - `spec.rs`: what a call does ([`CallSpec`]) and how it ended ([`CallOutcome`]).
//! - `model/`: the telephony state (channels, bridges, calls, the app) and the exact event
//!   sequences each operation produces. One mutex, never held across an await.
//! - `ari/`: the axum routes under `/ari` (REST, auth, errors, the events WebSocket).
//! - `rtp/`: the per-channel RTP peer: strict-RTP source learning, paced G.711 sending,
//!   recording of what it receives.
//! - `control.rs`: the JSON control API under `/sim` used by the `vca-sim` binary.
//! - `listener.rs`: a TCP listener that can refuse connections for a while (restart).
//! - [`engines`]: fake STT, LLM and TTS providers (OpenAI-compatible, ElevenLabs, Deepgram)
//!   for load runs and the daemon's tests.
//! - [`load`]: `vca-sim load`, concurrent calls with latency, jitter, CPU and RSS figures.
//! - [`speech`]: espeak-ng test speech, the phone band to STT, and word error rates.

mod ari;
mod config;
mod control;
mod core;
pub mod engines;
mod error;
mod handle;
mod listener;
pub mod load;
mod model;
mod ops;
mod rtp;
mod spec;
pub mod speech;
mod timefmt;
mod wav;

pub use config::SimConfig;
pub use control::{CallRequest, CallView};
pub use error::SimError;
pub use handle::{SimCall, SimHandle, Simulator};
pub use model::request_log::RestRequest;
pub use rtp::recording::{ReceivedPacket, RtpRecording, RtpStats};
pub use spec::{
    ArgsMode, AudioPart, CallOutcome, CallSpec, CallStatus, EndedBy, HangupWhen, RestartSpec,
};
pub use wav::{read_wav_8k_mono, write_wav_8k_mono};
