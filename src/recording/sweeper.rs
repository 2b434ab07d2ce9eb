//! The retention sweeper: in every daemon, at start and then every
//! `VCA_RECORDING_SWEEP_SECONDS`, deletes the recording files older than their tenant's
//! `recording_retention_days` and marks their rows `expired` (the call keeps its totals for
//! usage). It also closes segments a dead daemon left `recording` on calls that have ended
//! since. A daemon removes only files it can see: its own, or any on shared storage.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::recording::call::left_behind;
use crate::recording::layout::resolve;
use crate::store::Store;

/// Rows looked at per round.
const BATCH: i64 = 500;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Files deleted (or already gone) and rows marked `expired`.
    pub expired: u64,
    /// Segments left open by a dead daemon, now closed.
    pub closed: u64,
}

/// Sweeps until `stop`.
pub async fn run(
    store: Store,
    dir: std::path::PathBuf,
    node: String,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        match sweep(&store, &dir, &node).await {
            Ok(s) if s.expired + s.closed > 0 => {
                tracing::info!(expired = s.expired, closed = s.closed, "recording sweep");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "recording sweep failed; trying again later"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// One sweep, in rounds of [`BATCH`] rows until nothing is left to do.
pub async fn sweep(
    store: &Store,
    dir: &Path,
    node: &str,
) -> Result<Swept, crate::store::StoreError> {
    let mut swept = Swept::default();
    loop {
        let rows = store.sweepable_segments(BATCH).await?;
        let mut progressed = false;
        for (seg, expired) in &rows {
            let Some(file) = resolve(dir, &seg.path) else {
                continue;
            };
            let here = seg.node == node || file.exists();
            if !here {
                // Another daemon's disk: that daemon sweeps it.
                continue;
            }
            if *expired {
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        metrics::counter!("vca_recording_errors_total", "stage" => "sweep")
                            .increment(1);
                        tracing::warn!(path = %seg.path, error = %e, "cannot delete an expired recording");
                        continue;
                    }
                }
                store
                    .retire_segments(seg.call_id, &[seg.id], "expired")
                    .await?;
                metrics::counter!("vca_recordings_expired_total").increment(1);
                swept.expired += 1;
            } else {
                store
                    .close_open_segment(seg.call_id, seg.segment, &left_behind(&file))
                    .await?;
                swept.closed += 1;
            }
            progressed = true;
        }
        if !progressed || (rows.len() as i64) < BATCH {
            return Ok(swept);
        }
    }
}
