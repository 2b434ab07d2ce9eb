//! Prometheus metrics: the process-wide recorder behind the `metrics` facade, rendered
//! at `/metrics`. Installed once per process; every part of the daemon records through
//! `metrics::counter!`/`gauge!`/`histogram!` with no per-call labels.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (first call) and returns the handle that renders it; `None`
/// if another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            // Latency histograms (seconds): engine and turn latencies live between tens of
            // milliseconds and a few seconds.
            let builder = PrometheusBuilder::new();
            let builder = builder
                .set_buckets(&[
                    0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    Some(handle)
                }
                Err(_) => None,
            }
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "vca_calls_total",
        "Calls by outcome: completed, failed, rejected, interrupted."
    );
    metrics::describe_counter!("vca_calls_rejected_total", "Rejected calls by reason.");
    metrics::describe_counter!(
        "vca_calls_readopted_total",
        "Calls re-adopted after a daemon restart."
    );
    metrics::describe_gauge!("vca_live_calls", "Calls in progress on this daemon.");
    metrics::describe_gauge!(
        "vca_admin_connections",
        "Admin API connections open (at most VCA_ADMIN_MAX_CONNECTIONS)."
    );
    metrics::describe_counter!(
        "vca_admin_connection_cap_reached_total",
        "Times the admin API reached its connection cap and new connections had to wait."
    );
    metrics::describe_gauge!(
        "vca_ari_connected",
        "1 while the ARI event WebSocket is connected."
    );
    metrics::describe_counter!(
        "vca_ari_reconnects_total",
        "Successful ARI reconnections after the first connection."
    );
    metrics::describe_counter!(
        "vca_webhook_deliveries_total",
        "Webhook delivery attempts by outcome: delivered, retrying, failed, superseded."
    );
    metrics::describe_counter!(
        "vca_webhook_outbox_errors_total",
        "Rounds of the webhook worker that failed because the database was unavailable."
    );
}

/// Clock ticks per second of `/proc` CPU times (USER_HZ, 100 on every Linux platform
/// this daemon targets).
const USER_HZ: f64 = 100.0;

/// Sets the process gauges from `/proc/self` (CPU seconds, resident memory, open
/// descriptors); called before each `/metrics` render. Missing files are skipped.
pub fn record_process() {
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        && let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest)
    {
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i - 3)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        metrics::gauge!("process_cpu_seconds_total").set((ticks(14) + ticks(15)) / USER_HZ);
        metrics::gauge!("process_threads").set(ticks(20));
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(kb) = line.strip_prefix("VmRSS:") {
                let kb: f64 = kb
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(0.0);
                metrics::gauge!("process_resident_memory_bytes").set(kb * 1024.0);
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(dir.count() as f64);
    }
}
