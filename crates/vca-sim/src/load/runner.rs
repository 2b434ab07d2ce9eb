//! One load step: place `calls` calls spread over the ramp, follow each on its own task
//! (clock calibration, wait for the end, analysis of its recording), read the daemon's
//! `/proc` figures over the window in which all calls are up, and add everything up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::load::analysis::{CallFigures, analyze_call};
use crate::load::clock::CallClock;
use crate::load::config::LoadConfig;
use crate::load::error::LoadError;
use crate::load::procfs::{ProcSample, read_proc};
use crate::load::report::{
    DaemonFigures, FloodFigures, JitterFigures, LatencyFigures, LoadReport, RtpFigures,
    SetupFigures,
};
use crate::load::script::{CallerScript, UtteranceMark, reply_gap};
use crate::load::stats::{percentile, sort};
use crate::{CallSpec, EndedBy, HangupWhen, SimCall, SimHandle};

/// How often the daemon's RSS is sampled for the peak.
const RSS_PERIOD: Duration = Duration::from_millis(250);
/// Longest wait for a call's media to start.
const SETUP_LIMIT: Duration = Duration::from_secs(30);
/// Slack after a call's planned end before it counts as stuck.
const END_SLACK: Duration = Duration::from_secs(60);

/// What one call's task hands back.
#[derive(Debug, Default)]
struct CallResult {
    failure: Option<String>,
    figures: Option<CallFigures>,
    sent: u64,
    uncertainty_ms: Option<f64>,
    /// Call placed (`StasisStart`) to the daemon's first packet at the caller, ms.
    setup_ms: Option<f64>,
    /// Flood datagrams this caller sent beside its packets (0: it did not flood).
    flood_sent: u64,
}

/// What every call's task needs to know.
#[derive(Debug, Clone)]
struct CallPlan {
    marks: Arc<[UtteranceMark]>,
    media_start_delay: Duration,
    subtract_ms: f64,
    duration: Duration,
}

fn ended_by_label(e: &EndedBy) -> Option<String> {
    match e {
        EndedBy::Caller => None,
        EndedBy::App { reason, .. } => Some(format!(
            "app_hangup:{}",
            reason.as_deref().unwrap_or("none")
        )),
        EndedBy::AppContinued => Some("app_continued".to_string()),
        EndedBy::Restart => Some("restart".to_string()),
        EndedBy::NoApp => Some("no_app".to_string()),
    }
}

async fn follow_call(mut call: SimCall, plan: CallPlan) -> CallResult {
    let placed = Instant::now();
    let clock = CallClock::calibrate(&call, placed + SETUP_LIMIT).await;
    let outcome = tokio::time::timeout(plan.duration + END_SLACK, call.ended()).await;
    let mut result = CallResult::default();
    let outcome = match outcome {
        Ok(o) => o,
        Err(_) => {
            let _ = call.hangup();
            result.failure = Some("did_not_end".to_string());
            return result;
        }
    };
    let rec = match tokio::time::timeout(Duration::from_secs(10), call.media_finished()).await {
        Ok(rec) => rec,
        // The daemon left the External Media channel up: take what was received.
        Err(_) => call.recording().await,
    };
    result.failure = if outcome.entered_stasis {
        ended_by_label(&outcome.ended_by)
    } else {
        Some("no_stasis".to_string())
    };
    let Some(rec) = rec else {
        result.failure.get_or_insert_with(|| "no_media".to_string());
        return result;
    };
    let tick0 = clock.map(|c| c.tick0_ms(plan.media_start_delay));
    let figures = analyze_call(&rec, tick0, &plan.marks, plan.subtract_ms);
    if clock.is_none() {
        result.failure.get_or_insert_with(|| "no_clock".to_string());
    }
    if figures.agent_speech_packets == 0 {
        result
            .failure
            .get_or_insert_with(|| "no_agent_audio".to_string());
    }
    result.sent = rec.sent_packets;
    result.flood_sent = rec.flood_sent;
    result.setup_ms = clock.zip(rec.packets.first()).map(|(c, p)| {
        (c.created + p.arrival)
            .saturating_duration_since(placed)
            .as_secs_f64()
            * 1000.0
    });
    result.uncertainty_ms = clock.map(|c| c.uncertainty.as_secs_f64() * 1000.0);
    result.figures = Some(figures);
    result
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Samples `pid`'s RSS into `peak` until `stop`.
fn spawn_rss_sampler(pid: u32, peak: Arc<AtomicU64>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RSS_PERIOD);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {
                    if let Ok(s) = read_proc(pid) {
                        peak.fetch_max(s.rss_kib, Ordering::Relaxed);
                    }
                }
            }
        }
    });
}

fn own_cpu() -> Option<ProcSample> {
    read_proc(std::process::id()).ok()
}

/// Runs one step against the daemon connected to `sim`.
pub async fn run_step(sim: &SimHandle, cfg: &LoadConfig) -> Result<LoadReport, LoadError> {
    if cfg.calls == 0 || cfg.duration.is_zero() {
        return Err(LoadError::Invalid(
            "calls and duration must be above zero".into(),
        ));
    }
    if cfg.utterance.is_empty() {
        return Err(LoadError::Invalid("the caller audio is empty".into()));
    }
    let gap = reply_gap(cfg.endpointing, cfg.latencies.total());
    let script = CallerScript::build(
        &cfg.utterance,
        cfg.greeting_wait,
        gap,
        cfg.duration,
        cfg.media_start_delay,
    );
    let plan = CallPlan {
        marks: script.marks.clone().into(),
        media_start_delay: cfg.media_start_delay,
        subtract_ms: (cfg.latencies.total() + cfg.endpointing).as_secs_f64() * 1000.0,
        duration: cfg.duration,
    };

    let idle = cfg.daemon_pid.map(read_proc).transpose()?;
    let peak = Arc::new(AtomicU64::new(idle.map_or(0, |s| s.rss_kib)));
    let stop_sampler = CancellationToken::new();
    if let Some(pid) = cfg.daemon_pid {
        spawn_rss_sampler(pid, peak.clone(), stop_sampler.clone());
    }

    let start = Instant::now();
    let window_from = start + cfg.ramp + Duration::from_secs(1);
    let window_to = start + cfg.duration;
    let steady = window_to >= window_from + Duration::from_secs(2);
    let mut at_from = if steady {
        None
    } else {
        Some((cfg.daemon_pid.map(read_proc).transpose()?, own_cpu(), start))
    };

    let mut tasks = Vec::with_capacity(cfg.calls);
    for i in 0..cfg.calls {
        tokio::time::sleep_until(start + cfg.ramp.mul_f64(i as f64 / cfg.calls as f64)).await;
        let mut spec = CallSpec::new(
            cfg.did.clone(),
            format!("{}{:04}", cfg.caller_prefix, i % 10_000),
        )
        .transmit_silence(true)
        .hangup(HangupWhen::After(cfg.duration));
        spec.audio = script.parts.clone();
        let call = sim.place_call(spec);
        tasks.push(tokio::spawn(follow_call(call, plan.clone())));
    }

    let mut at_to = None;
    if steady {
        tokio::time::sleep_until(window_from).await;
        at_from = Some((
            cfg.daemon_pid.map(read_proc).transpose()?,
            own_cpu(),
            Instant::now(),
        ));
        tokio::time::sleep_until(window_to).await;
        at_to = Some((
            cfg.daemon_pid.map(read_proc).transpose()?,
            own_cpu(),
            Instant::now(),
        ));
    }

    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await.unwrap_or_else(|_| CallResult {
            failure: Some("task_panicked".into()),
            ..CallResult::default()
        }));
    }
    if at_to.is_none() {
        at_to = Some((
            cfg.daemon_pid.map(read_proc).transpose()?,
            own_cpu(),
            Instant::now(),
        ));
    }
    stop_sampler.cancel();

    let mut report = LoadReport {
        calls: cfg.calls,
        ramp_s: cfg.ramp.as_secs_f64(),
        duration_s: cfg.duration.as_secs_f64(),
        stt_latency_ms: cfg.latencies.stt.as_millis() as u64,
        llm_latency_ms: cfg.latencies.llm.as_millis() as u64,
        tts_latency_ms: cfg.latencies.tts.as_millis() as u64,
        endpointing_ms: cfg.endpointing.as_millis() as u64,
        ..LoadReport::default()
    };
    let (flooding, quiet): (Vec<CallResult>, Vec<CallResult>) =
        results.into_iter().partition(|r| r.flood_sent > 0);
    if !flooding.is_empty() {
        report.flood = Some(flood_figures(flooding));
    }
    aggregate_calls(&mut report, quiet);

    if let (Some((d0, s0, t0)), Some((d1, s1, t1))) = (at_from, at_to) {
        let window_s = t1.duration_since(t0).as_secs_f64().max(1e-3);
        let call_seconds = if steady {
            cfg.calls as f64 * window_s
        } else {
            cfg.calls as f64 * cfg.duration.as_secs_f64()
        };
        if let (Some(s0), Some(s1)) = (s0, s1) {
            report.sim_cpu_percent_of_core = Some((s1.cpu_ms - s0.cpu_ms) / window_s / 10.0);
        }
        if let (Some(pid), Some(idle), Some(d0), Some(d1)) = (cfg.daemon_pid, idle, d0, d1) {
            let cpu_ms = d1.cpu_ms - d0.cpu_ms;
            let rss_at_n = if steady {
                d1.rss_kib
            } else {
                peak.load(Ordering::Relaxed)
            };
            report.daemon = Some(DaemonFigures {
                pid,
                window: if steady { "steady" } else { "whole_run" }.to_string(),
                window_s,
                cpu_percent_of_core: cpu_ms / window_s / 10.0,
                cpu_ms_per_call_second: cpu_ms / call_seconds,
                rss_idle_mib: mib(idle.rss_kib),
                rss_at_n_mib: mib(rss_at_n),
                rss_peak_mib: mib(peak.load(Ordering::Relaxed).max(d1.rss_kib)),
                rss_per_call_kib: (rss_at_n as f64 - idle.rss_kib as f64) / cfg.calls as f64,
            });
        }
    }
    Ok(report)
}

/// The flooding calls' own figures, apart from the others'.
fn flood_figures(results: Vec<CallResult>) -> FloodFigures {
    let calls = results.len() as u64;
    let packets_sent = results.iter().map(|r| r.flood_sent).sum();
    let mut own = LoadReport::default();
    aggregate_calls(&mut own, results);
    FloodFigures {
        calls,
        packets_sent,
        calls_completed: own.calls_completed,
        calls_failed: own.calls_failed,
        rtp: own.rtp,
        jitter_p99_ms: own.jitter.p99_ms,
        turns_expected: own.turn_latency.turns_expected,
        turns_missed: own.turn_latency.turns_missed,
    }
}

/// Adds up the calls' results into `report`.
fn aggregate_calls(report: &mut LoadReport, results: Vec<CallResult>) {
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut jitter = Vec::new();
    let mut read_lag = Vec::new();
    let mut setup = Vec::new();
    let mut latency = Vec::new();
    let mut uncertainty = Vec::new();
    let mut rtp = RtpFigures::default();
    let mut lat = LatencyFigures::default();
    for r in results {
        match r.failure {
            Some(why) => {
                report.calls_failed += 1;
                *failures.entry(why).or_default() += 1;
            }
            None => report.calls_completed += 1,
        }
        rtp.sent += r.sent;
        setup.extend(r.setup_ms);
        if let Some(u) = r.uncertainty_ms {
            uncertainty.push(u);
        }
        if let Some(f) = r.figures {
            rtp.received += f.received;
            rtp.lost += f.lost;
            lat.turns_expected += f.turns_expected;
            lat.turns_missed += f.turns_missed;
            lat.turns_missed_agent_talking += f.turns_missed_agent_talking;
            jitter.extend(f.jitter_ms);
            read_lag.extend(f.read_lag_ms);
            latency.extend(f.turn_latency_ms);
        }
    }
    let total = rtp.received + rtp.lost;
    rtp.lost_percent = if total == 0 {
        0.0
    } else {
        rtp.lost as f64 * 100.0 / total as f64
    };
    sort(&mut jitter);
    sort(&mut read_lag);
    sort(&mut setup);
    report.setup = SetupFigures {
        samples: setup.len() as u64,
        p50_ms: percentile(&setup, 50.0),
        p99_ms: percentile(&setup, 99.0),
        max_ms: setup.last().copied(),
    };
    sort(&mut latency);
    report.jitter = JitterFigures {
        samples: jitter.len() as u64,
        p50_ms: percentile(&jitter, 50.0),
        p99_ms: percentile(&jitter, 99.0),
        max_ms: jitter.last().copied(),
        sim_read_lag_p99_ms: percentile(&read_lag, 99.0),
        sim_read_lag_max_ms: read_lag.last().copied(),
    };
    lat.samples = latency.len() as u64;
    lat.p50_ms = percentile(&latency, 50.0);
    lat.p99_ms = percentile(&latency, 99.0);
    lat.min_ms = latency.first().copied();
    lat.max_ms = latency.last().copied();
    if !uncertainty.is_empty() {
        lat.clock_uncertainty_mean_ms =
            Some(uncertainty.iter().sum::<f64>() / uncertainty.len() as f64);
        lat.clock_uncertainty_max_ms = uncertainty.iter().copied().reduce(f64::max);
    }
    report.turn_latency = lat;
    report.rtp = rtp;
    report.failures = failures;
}
