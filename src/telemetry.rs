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
            let recorder = PrometheusBuilder::new().build_recorder();
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
        "vca_ari_connected",
        "1 while the ARI event WebSocket is connected."
    );
    metrics::describe_counter!(
        "vca_ari_reconnects_total",
        "Successful ARI reconnections after the first connection."
    );
}
