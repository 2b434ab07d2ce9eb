//! A sweep: steps of increasing concurrency against the same daemon, one after the other,
//! stopping early once outbound pacing jitter p99 passes a limit.

use std::time::Duration;

use crate::SimHandle;
use crate::load::config::LoadConfig;
use crate::load::error::LoadError;
use crate::load::report::{LoadReport, SweepReport};
use crate::load::runner::run_step;

/// Longest wait for the previous step's channels to be gone.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// Waits until the simulator holds no channels, then lets the daemon settle.
async fn drain(sim: &SimHandle, settle: Duration) {
    let until = tokio::time::Instant::now() + DRAIN_LIMIT;
    while !sim.channels().is_empty() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(settle).await;
}

/// Runs `base` once per entry of `steps` (its `calls` replaced), `settle` apart; stops
/// after a step whose jitter p99 exceeds `jitter_p99_limit_ms`. `on_step` sees each
/// report as it is done.
pub async fn run_sweep(
    sim: &SimHandle,
    base: &LoadConfig,
    steps: &[usize],
    settle: Duration,
    jitter_p99_limit_ms: f64,
    mut on_step: impl FnMut(&LoadReport),
) -> Result<SweepReport, LoadError> {
    let mut sweep = SweepReport::default();
    for (i, &calls) in steps.iter().enumerate() {
        if i > 0 {
            drain(sim, settle).await;
        }
        let cfg = LoadConfig {
            calls,
            ..base.clone()
        };
        let report = run_step(sim, &cfg).await?;
        on_step(&report);
        let p99 = report.jitter.p99_ms;
        sweep.steps.push(report);
        if let Some(p99) = p99.filter(|p| *p > jitter_p99_limit_ms)
            && i + 1 < steps.len()
        {
            sweep.stopped_early = Some(format!(
                "jitter p99 {p99:.1} ms at {calls} calls exceeds {jitter_p99_limit_ms} ms"
            ));
            break;
        }
    }
    Ok(sweep)
}
