//! `/healthz` (the process runs) and `/readyz` (its dependencies answer), no auth.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::AppState;
use crate::ari::ConnectionState;

/// One dependency's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Component {
    pub ok: bool,
    /// Why it is not ready; absent when ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The readiness report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    pub components: BTreeMap<&'static str, Component>,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: 200 only when PostgreSQL and Redis answer and (in the daemon) the ARI event
/// stream is connected; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (pg, redis) = tokio::join!(app.store().ping(), app.redis().ping());
    let mut components = BTreeMap::new();
    components.insert(
        "postgres",
        match pg {
            Ok(()) => Component {
                ok: true,
                error: None,
            },
            Err(e) => {
                tracing::warn!(error = %e, "readiness: postgres not answering");
                Component {
                    ok: false,
                    error: Some("not answering".into()),
                }
            }
        },
    );
    components.insert(
        "redis",
        match redis {
            Ok(()) => Component {
                ok: true,
                error: None,
            },
            Err(e) => {
                tracing::warn!(error = %e, "readiness: redis not answering");
                Component {
                    ok: false,
                    error: Some("not answering".into()),
                }
            }
        },
    );
    if let Some(ari) = app.ari_state() {
        components.insert(
            "ari",
            if ari.is_connected() {
                Component {
                    ok: true,
                    error: None,
                }
            } else {
                Component {
                    ok: false,
                    error: Some(ari_problem(&ari)),
                }
            },
        );
    }
    let ready = components.values().all(|c| c.ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "unavailable" },
            components,
        }),
    )
}

fn ari_problem(state: &ConnectionState) -> String {
    match state {
        ConnectionState::Connecting { attempt } => format!("connecting (attempt {attempt})"),
        ConnectionState::Disconnected { reason, retry_in } => {
            format!(
                "disconnected ({reason:?}); retrying in {} ms",
                retry_in.as_millis()
            )
        }
        ConnectionState::Stopped => "stopped".into(),
        ConnectionState::Standby => "standby".into(),
        ConnectionState::Replaced => "replaced".into(),
        ConnectionState::Connected { .. } => String::new(),
    }
}

/// Prometheus metrics in text format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(app): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match app.metrics_handle() {
        Some(handle) => {
            crate::telemetry::record_process();
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4",
                )],
                handle.render(),
            )
                .into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "metrics are not enabled in this process\n",
        )
            .into_response(),
    }
}
