//! The `vca-sim load` command line: arguments, audio choice, the file-descriptor check,
//! and the run (one step or a sweep) with its table, JSON and chart outputs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::engines::EngineLatencies;
use crate::load::chart::draw_sweep_chart;
use crate::load::config::LoadConfig;
use crate::load::error::LoadError;
use crate::load::rig::{LoadRig, RigConfig, daemon_env};
use crate::load::runner::run_step;
use crate::load::script::builtin_utterance;
use crate::load::sweep::run_sweep;
use crate::{SimConfig, read_wav_8k_mono};

/// The recorded caller speech, relative to the repository (where scripts run).
pub const DEFAULT_AUDIO: &str = "../shared/asterisk/rtp/caller-speech-source.wav";

/// `vca-sim load` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Print the daemon's VCA_* environment for these addresses and key, then exit.
    #[arg(long)]
    pub print_daemon_env: bool,
    /// The daemon's pid, for CPU and RSS from /proc.
    #[arg(long)]
    pub daemon_pid: Option<u32>,
    /// Concurrent calls (one step).
    #[arg(long, default_value_t = 10)]
    pub calls: usize,
    /// Steps of concurrent calls, e.g. 10,50,100,200 (overrides --calls).
    #[arg(long, value_delimiter = ',')]
    pub sweep: Vec<usize>,
    /// Calls start evenly over this long (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub ramp: Duration,
    /// Each call lasts this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// One caller utterance: 8 kHz mono 16-bit WAV (default: the recorded caller speech
    /// at ../shared/asterisk/rtp/caller-speech-source.wav, else a built-in speech-like
    /// signal).
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Use the built-in speech-like utterance (1.2 s) even if the recording exists.
    #[arg(long)]
    pub builtin_audio: bool,
    /// The dialled number; the daemon's database must route it to a tenant whose call
    /// limit allows the load.
    #[arg(long, default_value = "+918000000001")]
    pub did: String,
    /// Caller numbers are this prefix plus 4 digits.
    #[arg(long, default_value = "+9198765")]
    pub caller_prefix: String,
    /// Fake STT latency, ms.
    #[arg(long, default_value_t = 100)]
    pub stt_latency_ms: u64,
    /// Fake LLM first-token latency, ms.
    #[arg(long, default_value_t = 200)]
    pub llm_latency_ms: u64,
    /// Fake TTS first-byte latency, ms.
    #[arg(long, default_value_t = 100)]
    pub tts_latency_ms: u64,
    /// Percent of the fake engines' requests (transcription, chat, speech) answered 503
    /// instead, each drawn independently (`scripts/chaos engines`).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub engine_failure_percent: u8,
    /// The daemon's endpointing silence, ms (the AI profile's; subtracted from latency).
    #[arg(long, default_value_t = 600)]
    pub endpointing_ms: u64,
    /// Silence before the caller's first utterance (the greeting plays), ms.
    #[arg(long, default_value_t = 3000)]
    pub greeting_wait_ms: u64,
    /// ARI (and /sim) listen address; the daemon's VCA_ARI_URL.
    #[arg(long, default_value = "127.0.0.1:8088")]
    pub listen: SocketAddr,
    /// The fake engines' listen address.
    #[arg(long, default_value = "127.0.0.1:8099")]
    pub engines_listen: SocketAddr,
    /// The bearer key the fake engines require (the daemon's VCA_*_API_KEY).
    #[arg(long, default_value = "vca-load-test-key")]
    pub api_key: String,
    /// Simulator RTP port range, LOW-HIGH.
    #[arg(long, default_value = "10000-20000")]
    pub rtp_ports: String,
    /// Threads carrying the simulated channels' RTP, one socket each, batched, every
    /// channel on its own loopback address 127.1.x.y (needs root: the sockets are bound to
    /// `lo`). 0: a tokio task and a socket per channel, as in the tests.
    #[arg(long, default_value_t = 1)]
    pub rtp_threads: usize,
    /// Every this-many-th External Media channel floods the daemon (needs
    /// `--rtp-threads`): beside each of its packets it sends `--flood-right-source` copies
    /// from its own address with random sequence numbers and `--flood-wrong-source` copies
    /// from a stranger's (127.2.x.y). The flooding calls are reported apart. 0: no flood.
    #[arg(long, default_value_t = 0)]
    pub flood_every: u32,
    /// Copies from the channel's own address per packet (9: 10x the packet rate).
    #[arg(long, default_value_t = 9)]
    pub flood_right_source: u32,
    /// Copies from a stranger's address per packet (100: 100x the packet rate).
    #[arg(long, default_value_t = 100)]
    pub flood_wrong_source: u32,
    /// Seconds to wait for the daemon's ARI WebSocket.
    #[arg(long, default_value_t = 120)]
    pub wait_daemon_s: u64,
    /// Pause between sweep steps once the previous calls are gone, s.
    #[arg(long, default_value_t = 5)]
    pub settle_s: u64,
    /// Stop a sweep after a step whose jitter p99 exceeds this, ms.
    #[arg(long, default_value_t = 20.0)]
    pub max_jitter_p99_ms: f64,
    /// Write the report (or the sweep's combined report) here as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the sweep chart (PNG) here.
    #[arg(long)]
    pub chart: Option<PathBuf>,
}

/// `10s`, `500ms`, `2m` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: give a duration like 10s or 500ms"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("{s:?}: the unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?}: out of range"))
}

fn parse_ports(s: &str) -> Result<(u16, u16), LoadError> {
    let bad = || LoadError::Invalid(format!("--rtp-ports {s:?}: give LOW-HIGH"));
    let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
    Ok((
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    ))
}

/// The caller utterance the arguments choose.
fn utterance(a: &LoadArgs) -> Result<(Arc<[i16]>, String), LoadError> {
    let read = |p: &Path| {
        read_wav_8k_mono(p)
            .map(|s| (Arc::from(s), p.display().to_string()))
            .map_err(|e| LoadError::Invalid(format!("--audio {}: {e}", p.display())))
    };
    match &a.audio {
        Some(p) => read(p),
        None if !a.builtin_audio && Path::new(DEFAULT_AUDIO).exists() => {
            read(Path::new(DEFAULT_AUDIO))
        }
        None => Ok((
            builtin_utterance(),
            "built-in speech-like signal".to_string(),
        )),
    }
}

/// The soft `Max open files` limit of this process, from /proc/self/limits.
fn open_files_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), LoadError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| LoadError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    std::fs::write(path, text + "\n").map_err(|e| LoadError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Runs `vca-sim load`.
pub async fn run_cli(a: LoadArgs) -> Result<(), LoadError> {
    let sim = SimConfig {
        listen: a.listen,
        rtp_ports: parse_ports(&a.rtp_ports)?,
        rtp_threads: a.rtp_threads,
        rtp_flood: crate::RtpFlood {
            every: a.flood_every,
            right_source: a.flood_right_source,
            wrong_source: a.flood_wrong_source,
        },
        ..SimConfig::default()
    };
    if a.flood_every > 0 && a.rtp_threads == 0 {
        return Err(LoadError::Invalid(
            "--flood-every needs --rtp-threads 1 or more".into(),
        ));
    }
    if a.print_daemon_env {
        for (k, v) in daemon_env(
            a.listen,
            &sim.user,
            &sim.password,
            a.engines_listen,
            &a.api_key,
        ) {
            println!("{k}={v}");
        }
        return Ok(());
    }
    let most = a.sweep.iter().copied().max().unwrap_or(a.calls);
    let needed = most as u64 * 4 + 256;
    if let Some(limit) = open_files_limit().filter(|l| *l < needed) {
        eprintln!(
            "vca-sim load: open-file limit {limit} may be short for {most} calls; run `ulimit -n {needed}` first"
        );
    }
    let (utterance, audio_name) = utterance(&a)?;
    let latencies = EngineLatencies {
        stt: Duration::from_millis(a.stt_latency_ms),
        llm: Duration::from_millis(a.llm_latency_ms),
        tts: Duration::from_millis(a.tts_latency_ms),
    };
    let media_start_delay = sim.media_start_delay;
    let rig = LoadRig::start(RigConfig {
        sim,
        engines_listen: a.engines_listen,
        api_key: a.api_key.clone(),
        latencies,
        engine_failure_percent: a.engine_failure_percent,
    })
    .await?;
    eprintln!(
        "vca-sim load: ARI at {}, engines at {}; caller audio: {audio_name}; waiting for the daemon",
        rig.sim.ari_url(),
        rig.engines.base_url()
    );
    rig.wait_daemon(Duration::from_secs(a.wait_daemon_s))
        .await?;
    let base = LoadConfig {
        calls: a.calls,
        ramp: a.ramp,
        duration: a.duration,
        did: a.did.clone(),
        caller_prefix: a.caller_prefix.clone(),
        utterance,
        latencies,
        endpointing: Duration::from_millis(a.endpointing_ms),
        greeting_wait: Duration::from_millis(a.greeting_wait_ms),
        media_start_delay,
        daemon_pid: a.daemon_pid,
    };
    if a.sweep.is_empty() {
        let report = run_step(&rig.sim, &base).await?;
        print!("{}", report.table());
        if let Some(p) = &a.json {
            write_json(p, &report)?;
        }
        return Ok(());
    }
    let sweep = run_sweep(
        &rig.sim,
        &base,
        &a.sweep,
        Duration::from_secs(a.settle_s),
        a.max_jitter_p99_ms,
        |r| print!("{}", r.table()),
    )
    .await?;
    print!("{}", sweep.table());
    if let Some(p) = &a.json {
        write_json(p, &sweep)?;
    }
    if let Some(p) = &a.chart {
        draw_sweep_chart(&sweep, p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("s").is_err());
    }
}
