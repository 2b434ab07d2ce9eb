//! `vca-sim load`: many concurrent simulated calls against a running vca-bridge, with the
//! fake engines of [`crate::engines`], and the figures an operator sizes a box with.
//!
//! A tour, top to bottom:
//! - `rig.rs`: [`LoadRig`] starts the simulator and the fake engines in one process, prints
//!   the daemon's environment and waits for its ARI WebSocket.
//! - `config.rs`: [`LoadConfig`], one step's parameters.
//! - `script.rs`: the caller's timeline (greeting wait, then utterances separated by reply
//!   gaps) and where each utterance's last speech packet falls on the 20 ms send grid.
//! - `clock.rs`: ties a call's recording clock (arrivals since its External Media channel
//!   was created) and its send grid to one clock, by polling the recording at 1 ms.
//! - `analysis.rs`: per-call figures from a recording: pacing jitter, loss, agent-speech
//!   onsets and bridge-added turn latency. Pure functions, unit-tested on synthetic data.
//! - `procfs.rs`: the daemon's CPU time and RSS from `/proc/PID/{stat,status}`.
//! - `runner.rs`: one step (ramp, hold, collect); `sweep.rs`: steps in a row.
//! - `cli.rs`: the `vca-sim load` arguments and run ([`run_cli`]).
//! - `report.rs`: [`LoadReport`] (JSON) and the human table; `chart.rs`: the sweep PNG.

mod analysis;
mod chart;
mod cli;
mod clock;
mod config;
mod error;
mod procfs;
mod report;
mod rig;
mod runner;
mod script;
mod stats;
mod sweep;

pub use analysis::{AGENT_RMS_THRESHOLD, CallFigures, analyze_call};
pub use chart::draw_sweep_chart;
pub use cli::{DEFAULT_AUDIO, LoadArgs, parse_duration, run_cli};
pub use clock::CallClock;
pub use config::LoadConfig;
pub use error::LoadError;
pub use procfs::{ProcSample, read_proc};
pub use report::{
    DaemonFigures, FloodFigures, JitterFigures, LatencyFigures, LoadReport, RtpFigures, SweepReport,
};
pub use rig::{LoadRig, RigConfig, daemon_env};
pub use runner::run_step;
pub use script::{
    CALLER_RMS_THRESHOLD, CallerScript, UtteranceMark, builtin_utterance, last_speech_frame,
};
pub use stats::percentile;
pub use sweep::run_sweep;
