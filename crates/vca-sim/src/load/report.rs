//! The figures of a load step ([`LoadReport`], serialised as JSON) and of a sweep
//! ([`SweepReport`]), and the human table printed on stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// RTP counts at the simulated caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RtpFigures {
    /// Packets the callers sent to the daemon.
    pub sent: u64,
    /// Packets the callers received from the daemon.
    pub received: u64,
    /// Sequence gaps in what the daemon sent.
    pub lost: u64,
    /// `lost / (received + lost)` in percent.
    pub lost_percent: f64,
}

/// Outbound pacing jitter, `|inter-arrival − 20 ms|`, pooled over all calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JitterFigures {
    /// Samples (consecutive packet pairs).
    pub samples: u64,
    /// Median, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Largest, ms.
    pub max_ms: Option<f64>,
    /// The simulator's own receive timing error: how long packets waited in its sockets
    /// before it read them, 99th percentile, ms. Arrival times are the kernel's receive
    /// times when the RTP threads run (`--rtp-threads`), so this is not in the jitter;
    /// with a task per channel it is not measured (0).
    #[serde(default)]
    pub sim_read_lag_p99_ms: Option<f64>,
    /// The same, largest, ms.
    #[serde(default)]
    pub sim_read_lag_max_ms: Option<f64>,
}

/// Call set-up: the call placed (its `StasisStart`) to the daemon's first RTP packet at
/// the caller — answer, tenant lookup, External Media, bridge, first frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetupFigures {
    /// Calls measured.
    pub samples: u64,
    /// Median, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Largest, ms.
    pub max_ms: Option<f64>,
}

/// The calls that flooded the daemon (`vca-sim load --flood-every`), reported apart: the
/// report's other figures are the other calls'.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FloodFigures {
    /// Calls that flooded.
    pub calls: u64,
    /// Flood datagrams they sent beside their own packets (from their own address and from
    /// strangers').
    pub packets_sent: u64,
    /// Of the flooding calls, those that completed as planned.
    pub calls_completed: u64,
    /// And those that did not.
    pub calls_failed: u64,
    /// What the flooding callers received from the daemon.
    pub rtp: RtpFigures,
    /// Their outbound pacing jitter p99, ms.
    pub jitter_p99_ms: Option<f64>,
    /// Their utterances whose reply was looked for.
    pub turns_expected: u64,
    /// And those with no reply in their window.
    pub turns_missed: u64,
}

/// Bridge-added turn latency, pooled over all answered utterances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyFigures {
    /// Utterances whose reply was looked for.
    pub turns_expected: u64,
    /// Utterances with a measured onset.
    pub samples: u64,
    /// Utterances with no agent onset before the caller's next utterance.
    pub turns_missed: u64,
    /// Of those, the ones during which agent speech still arrived (an earlier reply still
    /// playing); the others heard only silence in their window.
    #[serde(default)]
    pub turns_missed_agent_talking: u64,
    /// Median, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Smallest, ms.
    pub min_ms: Option<f64>,
    /// Largest, ms.
    pub max_ms: Option<f64>,
    /// Mean of the per-call clock alignment uncertainty (see `clock.rs`), ms.
    pub clock_uncertainty_mean_ms: Option<f64>,
    /// Largest per-call clock alignment uncertainty, ms.
    pub clock_uncertainty_max_ms: Option<f64>,
}

/// The daemon's CPU and memory, from `/proc`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonFigures {
    /// The process.
    pub pid: u32,
    /// `steady` (all calls up) or `whole_run` (the ramp left no steady window).
    pub window: String,
    /// Length of the measured window, s.
    pub window_s: f64,
    /// CPU time over the window in percent of one core.
    pub cpu_percent_of_core: f64,
    /// CPU ms per call-second over the window.
    pub cpu_ms_per_call_second: f64,
    /// RSS before the calls, MiB.
    pub rss_idle_mib: f64,
    /// RSS with all calls up (end of the window), MiB.
    pub rss_at_n_mib: f64,
    /// Largest RSS seen during the step, MiB.
    pub rss_peak_mib: f64,
    /// `(RSS at N − RSS idle) / N`, KiB.
    pub rss_per_call_kib: f64,
}

/// Everything one step measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Concurrent calls asked for.
    pub calls: usize,
    /// Ramp, s.
    pub ramp_s: f64,
    /// Call length, s.
    pub duration_s: f64,
    /// Fake STT latency, ms.
    pub stt_latency_ms: u64,
    /// Fake LLM first-token latency, ms.
    pub llm_latency_ms: u64,
    /// Fake TTS first-byte latency, ms.
    pub tts_latency_ms: u64,
    /// Endpointing silence subtracted, ms.
    pub endpointing_ms: u64,
    /// Calls that entered Stasis, got agent audio and were ended by the caller as planned.
    pub calls_completed: u64,
    /// The others.
    pub calls_failed: u64,
    /// Why calls failed, counted.
    pub failures: BTreeMap<String, u64>,
    /// RTP at the callers.
    pub rtp: RtpFigures,
    /// Outbound pacing jitter.
    pub jitter: JitterFigures,
    /// Call set-up time.
    #[serde(default)]
    pub setup: SetupFigures,
    /// Bridge-added turn latency.
    pub turn_latency: LatencyFigures,
    /// The daemon, when its pid was given.
    pub daemon: Option<DaemonFigures>,
    /// vca-sim's own CPU over the same window, percent of one core.
    pub sim_cpu_percent_of_core: Option<f64>,
    /// The flooding calls, when some flooded; every other figure leaves them out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flood: Option<FloodFigures>,
}

/// A sweep: one report per step, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The steps run.
    pub steps: Vec<LoadReport>,
    /// Why the sweep stopped before its last step, if it did.
    pub stopped_early: Option<String>,
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

impl LoadReport {
    /// The human table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "vca-sim load: {} calls, ramp {:.0} s, {:.0} s each; engines stt {} / llm {} / tts {} ms; endpointing {} ms",
            self.calls,
            self.ramp_s,
            self.duration_s,
            self.stt_latency_ms,
            self.llm_latency_ms,
            self.tts_latency_ms,
            self.endpointing_ms
        );
        let _ = writeln!(
            t,
            "  calls            completed {}  failed {}{}",
            self.calls_completed,
            self.calls_failed,
            if self.failures.is_empty() {
                String::new()
            } else {
                format!("  {:?}", self.failures)
            }
        );
        let _ = writeln!(
            t,
            "  rtp packets      sent {}  received {}  lost {} ({:.3} %)",
            self.rtp.sent, self.rtp.received, self.rtp.lost, self.rtp.lost_percent
        );
        let _ = writeln!(
            t,
            "  pacing jitter    p50 {} ms  p99 {} ms  max {} ms  ({} samples; the caller read them {} ms p99, {} ms max after the kernel got them)",
            ms(self.jitter.p50_ms),
            ms(self.jitter.p99_ms),
            ms(self.jitter.max_ms),
            self.jitter.samples,
            ms(self.jitter.sim_read_lag_p99_ms),
            ms(self.jitter.sim_read_lag_max_ms),
        );
        let _ = writeln!(
            t,
            "  call set-up      p50 {} ms  p99 {} ms  max {} ms  (StasisStart to the first packet, {} calls)",
            ms(self.setup.p50_ms),
            ms(self.setup.p99_ms),
            ms(self.setup.max_ms),
            self.setup.samples
        );
        let l = &self.turn_latency;
        let _ = writeln!(
            t,
            "  turn latency     p50 {} ms  p99 {} ms  min {} ms  max {} ms  ({} of {} turns, {} missed, {} of them while the agent was still talking; clock ±{} ms)",
            ms(l.p50_ms),
            ms(l.p99_ms),
            ms(l.min_ms),
            ms(l.max_ms),
            l.samples,
            l.turns_expected,
            l.turns_missed,
            l.turns_missed_agent_talking,
            ms(l.clock_uncertainty_max_ms)
        );
        match &self.daemon {
            Some(d) => {
                let _ = writeln!(
                    t,
                    "  daemon cpu       {:.1} % of a core  {:.2} ms per call-second  ({} window {:.1} s)",
                    d.cpu_percent_of_core, d.cpu_ms_per_call_second, d.window, d.window_s
                );
                let _ = writeln!(
                    t,
                    "  daemon rss       idle {:.1} MiB  at N {:.1} MiB  peak {:.1} MiB  {:.0} KiB per call",
                    d.rss_idle_mib, d.rss_at_n_mib, d.rss_peak_mib, d.rss_per_call_kib
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "  daemon           (no --daemon-pid: CPU and RSS not measured)"
                );
            }
        }
        if let Some(c) = self.sim_cpu_percent_of_core {
            let _ = writeln!(t, "  vca-sim cpu      {c:.1} % of a core");
        }
        if let Some(f) = &self.flood {
            let _ = writeln!(
                t,
                "  flooding calls   {} (left out above; {} flood datagrams sent): completed {}  failed {}  received {}  lost {}  jitter p99 {} ms  turns missed {} of {}",
                f.calls,
                f.packets_sent,
                f.calls_completed,
                f.calls_failed,
                f.rtp.received,
                f.rtp.lost,
                ms(f.jitter_p99_ms),
                f.turns_missed,
                f.turns_expected
            );
        }
        t
    }
}

impl SweepReport {
    /// One line per step.
    pub fn table(&self) -> String {
        let mut t = String::from(
            "calls  done  fail  lost%   jit p50  jit p99  jit max  read p99  setup p99  lat p50  lat p99  cpu%core  ms/call-s  rss MiB  KiB/call  sim%core\n",
        );
        for s in &self.steps {
            let d = s.daemon.as_ref();
            let _ = writeln!(
                t,
                "{:>5}  {:>4}  {:>4}  {:>5.2}  {:>7}  {:>7}  {:>7}  {:>8}  {:>9}  {:>7}  {:>7}  {:>8}  {:>9}  {:>7}  {:>8}  {:>8}",
                s.calls,
                s.calls_completed,
                s.calls_failed,
                s.rtp.lost_percent,
                ms(s.jitter.p50_ms),
                ms(s.jitter.p99_ms),
                ms(s.jitter.max_ms),
                ms(s.jitter.sim_read_lag_p99_ms),
                ms(s.setup.p99_ms),
                ms(s.turn_latency.p50_ms),
                ms(s.turn_latency.p99_ms),
                ms(d.map(|d| d.cpu_percent_of_core)),
                ms(d.map(|d| d.cpu_ms_per_call_second)),
                ms(d.map(|d| d.rss_at_n_mib)),
                ms(d.map(|d| d.rss_per_call_kib)),
                ms(s.sim_cpu_percent_of_core),
            );
        }
        if let Some(why) = &self.stopped_early {
            let _ = writeln!(t, "stopped early: {why}");
        }
        t
    }
}
