//! The admin HTTP API: tenants, phone numbers, AI profiles, calls, webhooks, usage and
//! tenant API keys under `/api` (the operator's bearer token, or a tenant key scoped to its
//! tenant), plus `/healthz` and `/readyz`. [`router`] builds the whole
//! `Router`, so tests drive it with `oneshot` and no socket; [`server`] serves it on the
//! daemon's socket with the limits against hostile clients.

mod access;
mod ai_profiles;
mod api_keys;
mod auth;
mod auth_limit;
mod calls;
pub mod error;
mod extract;
mod health;
mod limits;
mod live_calls;
pub mod openapi;
mod openapi_rules;
mod page;
mod phone_numbers;
mod recordings;
pub mod server;
mod tenant_key;
mod tenants;
mod tools;
mod transfer_targets;
mod usage;
mod validate;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::ari::ConnectionState;
use crate::secret::Secret;
use crate::store::Store;
use crate::store::redis::RedisPool;
use error::ApiError;

/// How long a request may take unless [`AppState::with_request_timeout`] says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    redis: RedisPool,
    admin_token: Secret,
    country_code: u16,
    /// The ARI connection state, when the daemon runs the call path.
    ari: Option<watch::Receiver<ConnectionState>>,
    /// Renders `/metrics`, when this process installed the recorder.
    metrics: Option<PrometheusHandle>,
    /// Webhook URLs may point at private addresses (`VCA_WEBHOOK_ALLOW_PRIVATE`).
    webhook_allow_private: bool,
    /// Failed authentications per source address.
    auth_failures: auth_limit::AuthFailures,
    /// `VCA_RECORDINGS_DIR`, where recordings are read from.
    recordings_dir: std::path::PathBuf,
    /// `VCA_ADMIN_REQUEST_TIMEOUT_MS`: how long a request (its body read included) may take.
    request_timeout: Duration,
}

impl AppState {
    /// Builds the state from its parts.
    pub fn new(store: Store, redis: RedisPool, admin_token: Secret, country_code: u16) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                redis,
                admin_token,
                country_code,
                ari: None,
                metrics: None,
                webhook_allow_private: false,
                auth_failures: auth_limit::AuthFailures::default(),
                recordings_dir: std::path::PathBuf::from("/var/lib/vca-bridge/recordings"),
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
            }),
        }
    }

    fn inner_mut(&mut self) -> Option<&mut Inner> {
        Arc::get_mut(&mut self.inner)
    }

    /// Adds the ARI connection state to `/readyz` (call before cloning the state).
    pub fn with_ari_state(mut self, ari: watch::Receiver<ConnectionState>) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.ari = Some(ari);
        }
        self
    }

    /// Serves `/metrics` from this handle (call before cloning the state).
    pub fn with_metrics(mut self, metrics: Option<PrometheusHandle>) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.metrics = metrics;
        }
        self
    }

    /// Lets webhook URLs point at private addresses (call before cloning the state).
    pub fn with_webhook_allow_private(mut self, allow: bool) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.webhook_allow_private = allow;
        }
        self
    }

    /// Reads recordings from `dir` (call before cloning the state).
    pub fn with_recordings_dir(mut self, dir: std::path::PathBuf) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.recordings_dir = dir;
        }
        self
    }

    /// Locks a source address out after `max` failed authentications in a minute
    /// (`VCA_ADMIN_AUTH_MAX_FAILURES`; call before cloning the state).
    pub fn with_auth_max_failures(mut self, max: u32) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.auth_failures = auth_limit::AuthFailures::new(max);
        }
        self
    }

    /// Answers 408 to requests taking longer than `timeout` (call before cloning the state).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.request_timeout = timeout;
        }
        self
    }

    fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    fn recordings_dir(&self) -> &std::path::Path {
        &self.inner.recordings_dir
    }

    fn webhook_allow_private(&self) -> bool {
        self.inner.webhook_allow_private
    }

    fn metrics_handle(&self) -> Option<&PrometheusHandle> {
        self.inner.metrics.as_ref()
    }

    fn ari_state(&self) -> Option<ConnectionState> {
        self.inner.ari.as_ref().map(|rx| rx.borrow().clone())
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn redis(&self) -> &RedisPool {
        &self.inner.redis
    }

    fn auth_failures(&self) -> &auth_limit::AuthFailures {
        &self.inner.auth_failures
    }

    fn admin_token(&self) -> &str {
        self.inner.admin_token.expose()
    }

    fn country_code(&self) -> u16 {
        self.inner.country_code
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The whole admin API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route("/tenants/{id}", get(tenants::get).patch(tenants::update))
        .route(
            "/tenants/{tid}/phone-numbers",
            get(phone_numbers::list).post(phone_numbers::create),
        )
        .route(
            "/tenants/{tid}/phone-numbers/{id}",
            get(phone_numbers::get)
                .patch(phone_numbers::update)
                .delete(phone_numbers::delete),
        )
        .route(
            "/tenants/{tid}/ai-profiles",
            get(ai_profiles::list).post(ai_profiles::create),
        )
        .route(
            "/tenants/{tid}/ai-profiles/{id}",
            get(ai_profiles::get)
                .patch(ai_profiles::update)
                .delete(ai_profiles::delete),
        )
        .route(
            "/tenants/{tid}/transfer-targets",
            get(transfer_targets::list).post(transfer_targets::create),
        )
        .route(
            "/tenants/{tid}/transfer-targets/{id}",
            get(transfer_targets::get)
                .patch(transfer_targets::update)
                .delete(transfer_targets::delete),
        )
        .route("/tenants/{tid}/tools", get(tools::list).post(tools::create))
        .route(
            "/tenants/{tid}/tools/{id}",
            get(tools::get).patch(tools::update).delete(tools::delete),
        )
        .route(
            "/tenants/{tid}/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/tenants/{tid}/webhooks/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/tenants/{tid}/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/tenants/{tid}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/tenants/{tid}/api-keys/{id}",
            get(api_keys::get).delete(api_keys::delete),
        )
        .route("/tenants/{tid}/usage", get(usage::of_tenant))
        .route("/usage", get(usage::all))
        .route("/tenants/{tid}/calls", get(calls::list))
        .route("/tenants/{tid}/calls/live", get(live_calls::list))
        .route("/tenants/{tid}/calls/{id}", get(calls::get))
        .route(
            "/tenants/{tid}/calls/{id}/recording",
            get(recordings::get).delete(recordings::delete),
        )
        .route(
            "/tenants/{tid}/calls/{id}/hangup",
            axum::routing::post(live_calls::hangup),
        )
        .route("/calls/live", get(live_calls::list_all))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .nest("/api", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::bound_time,
        ))
        .layer(axum::middleware::from_fn(limits::bound_uri))
        .with_state(state)
}
