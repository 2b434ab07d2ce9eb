//! One load step's parameters.

use std::sync::Arc;
use std::time::Duration;

use crate::engines::EngineLatencies;

/// What one step of `vca-sim load` does.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Concurrent calls.
    pub calls: usize,
    /// Calls start evenly spread over this long.
    pub ramp: Duration,
    /// Each call lasts this long (the caller hangs up after it).
    pub duration: Duration,
    /// The dialled number (a DID the daemon's database knows).
    pub did: String,
    /// Caller numbers are this prefix plus a 4-digit call index.
    pub caller_prefix: String,
    /// One caller utterance, 8 kHz mono.
    pub utterance: Arc<[i16]>,
    /// The fake engines' latencies (subtracted from turn latency).
    pub latencies: EngineLatencies,
    /// The daemon's endpointing silence (subtracted from turn latency).
    pub endpointing: Duration,
    /// Silence before the caller's first utterance, for the greeting.
    pub greeting_wait: Duration,
    /// The simulator's delay from bridging to the first caller packet.
    pub media_start_delay: Duration,
    /// The daemon's process id, for CPU and RSS; `None` measures nothing.
    pub daemon_pid: Option<u32>,
}

impl LoadConfig {
    /// Defaults of the CLI for `calls` calls to `did` saying `utterance`.
    pub fn new(calls: usize, did: impl Into<String>, utterance: Arc<[i16]>) -> Self {
        LoadConfig {
            calls,
            ramp: Duration::from_secs(10),
            duration: Duration::from_secs(30),
            did: did.into(),
            caller_prefix: "+9198765".to_string(),
            utterance,
            latencies: EngineLatencies::default(),
            endpointing: Duration::from_millis(600),
            greeting_wait: Duration::from_millis(3000),
            media_start_delay: Duration::from_millis(500),
            daemon_pid: None,
        }
    }
}
