//! Jittered exponential backoff for reconnecting the ARI event WebSocket.
//!
//! Pure: the delay for retry number `attempt` is computed from the policy and a caller-supplied
//! RNG, so tests can use a seeded one. Attempt 0 is the first retry after a loss.
use std::time::Duration;

use rand::Rng;

/// Shape of the reconnect delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Upper bound of the first retry's delay (attempt 0).
    pub initial: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    /// First retry within 200 ms, doubling, capped at 5 s.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
        }
    }
}

impl BackoffPolicy {
    /// The ceiling for retry number `attempt`: `initial × 2^attempt`, capped at `max`.
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry number `attempt`: uniformly drawn from the upper half of the
    /// ceiling (`[ceiling/2, ceiling]`), so retries of many daemons spread out while the delay
    /// still grows and never exceeds `max`.
    #[must_use]
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let ceiling_us = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        let floor_us = ceiling_us / 2;
        if ceiling_us == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(rng.random_range(floor_us..=ceiling_us))
    }
}
