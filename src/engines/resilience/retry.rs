//! Running an idempotent phase of an engine call under the provider's breaker, a time
//! limit per attempt, and bounded retries with full-jitter exponential backoff.
//!
//! Retried: connect failures, 429 (after its `Retry-After` when that is within the cap)
//! and 5xx. Never retried: other 4xx, auth refusals, bad responses, timeouts (a retry
//! after a timeout would leave the caller in silence too long).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::breaker::CircuitBreaker;
use super::policy::{BreakerPolicy, RetryPolicy, Timeouts};
use crate::clock::Clock;
use crate::engines::error::EngineError;
use crate::engines::metrics;

/// Everything that guards one provider: shared by all its calls.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The provider label used in errors and metrics.
    pub provider: &'static str,
    /// The provider's circuit breaker.
    pub breaker: Arc<CircuitBreaker>,
    /// Retry policy for idempotent phases.
    pub retry: RetryPolicy,
    /// Stage time limits.
    pub timeouts: Timeouts,
}

/// Reads a `Retry-After` header given in seconds (an HTTP date is not honoured).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

impl Guard {
    /// A guard with a fresh breaker for `provider`.
    pub fn new(
        provider: &'static str,
        timeouts: Timeouts,
        retry: RetryPolicy,
        breaker: BreakerPolicy,
        clock: Arc<dyn Clock>,
    ) -> Guard {
        Guard {
            provider,
            breaker: Arc::new(CircuitBreaker::new(provider, breaker, clock)),
            retry,
            timeouts,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retry policy is spent.
    /// Each attempt must finish within `limit` (and the remaining budget for retries);
    /// past it the attempt is dropped (cancelling its request) and the call fails with
    /// [`EngineError::Timeout`] for `stage`.
    pub async fn run<T, F, Fut>(
        &self,
        stage: &'static str,
        limit: Duration,
        mut attempt: F,
    ) -> Result<T, EngineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, EngineError>>,
    {
        let started = tokio::time::Instant::now();
        let mut retries = 0u32;
        let mut this_limit = limit;
        loop {
            let permit = match self.breaker.acquire() {
                Ok(p) => p,
                Err(e) => {
                    metrics::error(&e);
                    return Err(e);
                }
            };
            let outcome = match tokio::time::timeout(this_limit, attempt()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(EngineError::Timeout {
                    provider: self.provider,
                    stage,
                }),
            };
            let err = match outcome {
                Ok(value) => {
                    permit.success();
                    return Ok(value);
                }
                Err(err) => err,
            };
            permit.failure(&err);
            metrics::error(&err);
            let Some(delay) = self.next_delay(&err, retries) else {
                return Err(err);
            };
            let elapsed = started.elapsed();
            let remaining = self.retry.budget.saturating_sub(elapsed + delay);
            if remaining < Duration::from_millis(200) {
                return Err(err);
            }
            this_limit = limit.min(remaining);
            metrics::retry(self.provider);
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }

    /// The wait before the next attempt after `err`, or `None` to stop.
    fn next_delay(&self, err: &EngineError, retries: u32) -> Option<Duration> {
        if retries >= self.retry.max_retries || !err.is_retryable() {
            return None;
        }
        if let EngineError::Http {
            retry_after: Some(after),
            ..
        } = err
        {
            return (*after <= self.retry.retry_after_cap).then_some(*after);
        }
        let ceiling = self
            .retry
            .base_delay
            .saturating_mul(1u32 << retries.min(16))
            .min(self.retry.max_delay);
        let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Some(Duration::from_micros(rand::rng().random_range(0..=micros)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::resilience::ManualClock;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn guard(max_retries: u32) -> Guard {
        Guard {
            provider: "t",
            breaker: Arc::new(CircuitBreaker::new(
                "t",
                BreakerPolicy::default(),
                Arc::new(ManualClock::new()),
            )),
            retry: RetryPolicy {
                max_retries,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
                retry_after_cap: Duration::from_secs(1),
                budget: Duration::from_secs(60),
            },
            timeouts: Timeouts::LLM,
        }
    }

    async fn count_attempts(g: &Guard, err: EngineError) -> (u32, Result<(), EngineError>) {
        let n = AtomicU32::new(0);
        let r = g
            .run("test", Duration::from_secs(5), || {
                n.fetch_add(1, Ordering::SeqCst);
                let err = err.clone();
                async move { Err::<(), _>(err) }
            })
            .await;
        (n.load(Ordering::SeqCst), r)
    }

    fn http(status: u16, retry_after: Option<Duration>) -> EngineError {
        EngineError::Http {
            provider: "t",
            status,
            retry_after,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_5xx_and_429_but_not_4xx() {
        // A fresh guard per case: the breaker would open after five failures.
        assert_eq!(count_attempts(&guard(2), http(500, None)).await.0, 3);
        let after = Some(Duration::from_millis(300));
        assert_eq!(count_attempts(&guard(2), http(429, after)).await.0, 3);
        assert_eq!(count_attempts(&guard(2), http(400, None)).await.0, 1);
        let auth = EngineError::Auth {
            provider: "t",
            status: 401,
        };
        assert_eq!(count_attempts(&guard(2), auth).await.0, 1);
        let (n, r) = count_attempts(&guard(2), http(429, Some(Duration::from_secs(30)))).await;
        assert_eq!(n, 1, "a Retry-After above the cap is not waited for");
        assert_eq!(r.unwrap_err().kind(), "http_429");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_attempt_times_out() {
        let g = guard(0);
        let r: Result<(), _> = g
            .run("first token", Duration::from_millis(50), || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            })
            .await;
        assert_eq!(r.unwrap_err().kind(), "timeout");
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
