//! The `VCA_WEBHOOK_*` settings of delivery, with their defaults.

use std::time::Duration;

use super::backoff::Backoff;

/// How webhooks are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `VCA_WEBHOOK_ALLOW_PRIVATE`: let webhooks reach loopback, private and link-local
    /// addresses (tests, a receiver on the same private network). Default false.
    pub allow_private: bool,
    /// `VCA_WEBHOOK_TIMEOUT_MS`: one attempt, connection to response status. Default 10 s.
    pub timeout: Duration,
    /// `VCA_WEBHOOK_RETRY_BASE_MS`, `VCA_WEBHOOK_RETRY_MAX_SECONDS`,
    /// `VCA_WEBHOOK_RETRY_WINDOW_SECONDS`: the retry schedule (30 s doubling to 1 h, for 24 h).
    pub backoff: Backoff,
    /// `VCA_WEBHOOK_POLL_MS`: how often an idle worker looks for due deliveries. Default 1 s.
    pub poll_interval: Duration,
    /// Deliveries one worker takes and sends at once.
    pub batch: i64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            timeout: Duration::from_secs(10),
            backoff: Backoff {
                base: Duration::from_secs(30),
                max: Duration::from_secs(3600),
                window: Duration::from_secs(86_400),
            },
            poll_interval: Duration::from_secs(1),
            batch: 16,
        }
    }
}

impl WebhookSettings {
    /// How long a taken delivery stays away from other workers: longer than an attempt
    /// and its recording take, so no two workers send it at once.
    #[must_use]
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(1)
    }
}
