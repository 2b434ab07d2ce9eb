//! The delivery worker every daemon runs, off the call path: it takes due deliveries from
//! the outbox (`FOR UPDATE SKIP LOCKED` with a lease, so several daemons share the work and
//! none sends a delivery another is sending), sends them at once, and records each attempt:
//! delivered, due again after the backoff, or failed once the retry window is over.
//!
//! A database that goes away is logged once per outage and retried with a growing pause; a
//! receiver that fails is the delivery's business, not the worker's. Nothing here panics.

use std::time::Duration;

use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

use super::sender::{Sender, SenderError};
use super::settings::WebhookSettings;
use crate::store::outbox::{AttemptResult, ClaimedDelivery};
use crate::store::{Store, StoreError};

/// The longest pause between two tries while the database is away.
const MAX_OUTAGE_PAUSE: Duration = Duration::from_secs(30);

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Deliveries taken.
    pub taken: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// One delivery worker.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    sender: Sender,
    settings: WebhookSettings,
}

impl Worker {
    /// A worker on `store` with `settings`.
    pub fn new(store: Store, settings: WebhookSettings) -> Result<Worker, SenderError> {
        Ok(Worker {
            sender: Sender::new(settings.timeout, settings.allow_private)?,
            store,
            settings,
        })
    }

    /// Delivers until `stop`; a round under way is finished first.
    pub async fn run(self, stop: CancellationToken) {
        let mut failures: u32 = 0;
        loop {
            let pause = match self.round().await {
                Ok(round) => {
                    if failures > 0 {
                        tracing::info!("webhook outbox reachable again");
                    }
                    failures = 0;
                    if round.taken as i64 >= self.settings.batch {
                        Duration::ZERO
                    } else {
                        self.settings.poll_interval
                    }
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, "webhook outbox unavailable; retrying");
                    }
                    metrics::counter!("vca_webhook_outbox_errors_total").increment(1);
                    failures = failures.saturating_add(1);
                    self.settings
                        .poll_interval
                        .saturating_mul(1u32 << failures.min(6))
                        .min(MAX_OUTAGE_PAUSE)
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Takes one batch of due deliveries, sends them concurrently and records every
    /// attempt.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let claimed = self
            .store
            .claim_deliveries(self.settings.batch, self.settings.lease())
            .await?;
        let mut round = Round {
            taken: claimed.len(),
            ..Round::default()
        };
        let results = join_all(claimed.iter().map(|d| self.attempt(d))).await;
        let mut first_error = None;
        for result in results {
            match result {
                Ok(Some(status)) => match status.as_str() {
                    "delivered" => round.delivered += 1,
                    "failed" => round.failed += 1,
                    _ => round.retrying += 1,
                },
                Ok(None) => {}
                Err(e) => {
                    if first_error.is_none() {
                        first_error = Some(e);
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(round),
        }
    }

    /// Sends one delivery and records the attempt; the delivery's status after it.
    async fn attempt(&self, d: &ClaimedDelivery) -> Result<Option<String>, StoreError> {
        let sent = self.sender.send(d).await;
        let result = AttemptResult {
            status_code: sent.status_code,
            error: sent.error.clone(),
            duration_ms: i64::try_from(sent.duration.as_millis()).unwrap_or(i64::MAX),
            delivered: sent.delivered,
            retry_in: self.settings.backoff.jittered(d.attempts),
            retry_window: self.settings.backoff.window,
        };
        let status = self.store.record_attempt(d.id, d.attempts, &result).await?;
        let outcome = match status.as_deref() {
            Some("delivered") => "delivered",
            Some("failed") => "failed",
            Some(_) => "retrying",
            None => "superseded",
        };
        metrics::counter!("vca_webhook_deliveries_total", "outcome" => outcome).increment(1);
        if !sent.delivered {
            tracing::info!(
                delivery = d.id,
                event_id = %d.event_id,
                event_type = %d.event_type,
                tenant_id = %d.tenant_id,
                webhook_id = %d.webhook_id,
                attempt = d.attempts,
                status = ?sent.status_code,
                error = sent.error.as_deref().unwrap_or(""),
                outcome,
                "webhook delivery attempt failed"
            );
        }
        Ok(status)
    }
}
