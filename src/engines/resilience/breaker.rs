//! A circuit breaker per provider: opens after N consecutive failures, fails fast while
//! open, lets one probe through after a cool-down (half-open), and closes when the probe
//! succeeds. Time comes from an injected [`Clock`], so tests step it by hand.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::policy::BreakerPolicy;
use crate::clock::Clock;
use crate::engines::error::EngineError;
use crate::engines::metrics;

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; `failures` consecutive failures so far.
    Closed {
        /// Consecutive failures counted.
        failures: u32,
    },
    /// Requests fail fast until the clock reaches `until`.
    Open {
        /// When a probe may go through.
        until: Instant,
    },
    /// One probe is (or may be) in flight; others fail fast.
    HalfOpen {
        /// Whether the probe is out.
        probing: bool,
    },
}

impl BreakerState {
    /// The gauge value: 0 closed, 1 half-open, 2 open.
    fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed { .. } => 0.0,
            BreakerState::HalfOpen { .. } => 1.0,
            BreakerState::Open { .. } => 2.0,
        }
    }
}

/// The breaker of one provider, shared by all calls to it.
#[derive(Debug)]
pub struct CircuitBreaker {
    provider: &'static str,
    policy: BreakerPolicy,
    clock: Arc<dyn Clock>,
    state: Mutex<BreakerState>,
}

/// Permission for one attempt; report its outcome with [`Permit::success`] or
/// [`Permit::failure`]. Dropped unreported (the call was cancelled), it frees a probe
/// slot without judging the provider.
#[derive(Debug)]
#[must_use]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    resolved: bool,
}

impl CircuitBreaker {
    /// A closed breaker for `provider`.
    pub fn new(provider: &'static str, policy: BreakerPolicy, clock: Arc<dyn Clock>) -> Self {
        metrics::circuit_state(provider, 0.0);
        CircuitBreaker {
            provider,
            policy,
            clock,
            state: Mutex::new(BreakerState::Closed { failures: 0 }),
        }
    }

    /// The provider label.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The current state (an open breaker past its cool-down still reads `Open`).
    pub fn state(&self) -> BreakerState {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, state: &mut BreakerState, next: BreakerState) {
        let was_open = matches!(state, BreakerState::Open { .. });
        *state = next;
        if matches!(next, BreakerState::Open { .. }) && !was_open {
            metrics::circuit_opened(self.provider);
        }
        metrics::circuit_state(self.provider, next.gauge());
    }

    /// Asks to send one request: fails fast with [`EngineError::CircuitOpen`] while open.
    pub fn acquire(&self) -> Result<Permit<'_>, EngineError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let open = EngineError::CircuitOpen {
            provider: self.provider,
        };
        match *state {
            BreakerState::Closed { .. } => {}
            BreakerState::Open { until } => {
                if self.clock.now() < until {
                    return Err(open);
                }
                self.set(&mut state, BreakerState::HalfOpen { probing: true });
            }
            BreakerState::HalfOpen { probing: true } => return Err(open),
            BreakerState::HalfOpen { probing: false } => {
                self.set(&mut state, BreakerState::HalfOpen { probing: true });
            }
        }
        Ok(Permit {
            breaker: self,
            resolved: false,
        })
    }

    fn record_success(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if *state != (BreakerState::Closed { failures: 0 }) {
            self.set(&mut state, BreakerState::Closed { failures: 0 });
        }
    }

    fn record_failure(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let reopen = BreakerState::Open {
            until: self.clock.now() + self.policy.cooldown,
        };
        match *state {
            BreakerState::Closed { failures } => {
                let failures = failures.saturating_add(1);
                if failures >= self.policy.failure_threshold {
                    self.set(&mut state, reopen);
                } else {
                    *state = BreakerState::Closed { failures };
                }
            }
            BreakerState::HalfOpen { .. } => self.set(&mut state, reopen),
            BreakerState::Open { .. } => {}
        }
    }

    fn release_probe(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if *state == (BreakerState::HalfOpen { probing: true }) {
            *state = BreakerState::HalfOpen { probing: false };
        }
    }
}

impl Permit<'_> {
    /// The provider answered properly.
    pub fn success(mut self) {
        self.resolved = true;
        self.breaker.record_success();
    }

    /// The attempt failed with `err`; only failures that say the provider is unhealthy
    /// count. Others (a 400, an auth refusal) prove it is up.
    pub fn failure(mut self, err: &EngineError) {
        self.resolved = true;
        if matches!(err, EngineError::Cancelled { .. }) {
            self.breaker.release_probe();
        } else if err.counts_against_provider() {
            self.breaker.record_failure();
        } else {
            self.breaker.record_success();
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.resolved {
            self.breaker.release_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::resilience::ManualClock;
    use std::time::Duration;

    fn unavailable() -> EngineError {
        EngineError::Unavailable {
            provider: "t",
            reason: "refused".into(),
        }
    }

    #[test]
    fn opens_fails_fast_half_opens_and_closes() {
        let clock = ManualClock::new();
        let policy = BreakerPolicy {
            failure_threshold: 3,
            cooldown: Duration::from_secs(10),
        };
        let b = CircuitBreaker::new("t", policy, Arc::new(clock.clone()));
        for _ in 0..3 {
            b.acquire().unwrap().failure(&unavailable());
        }
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        assert!(matches!(b.acquire(), Err(EngineError::CircuitOpen { .. })));
        clock.advance(Duration::from_secs(10));
        let probe = b.acquire().unwrap();
        assert!(
            matches!(b.acquire(), Err(EngineError::CircuitOpen { .. })),
            "only one probe"
        );
        probe.failure(&unavailable());
        assert!(
            matches!(b.acquire(), Err(EngineError::CircuitOpen { .. })),
            "reopened"
        );
        clock.advance(Duration::from_secs(10));
        b.acquire().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn success_resets_the_count_and_client_errors_do_not_count() {
        let b = CircuitBreaker::new("t", BreakerPolicy::default(), Arc::new(ManualClock::new()));
        for _ in 0..4 {
            b.acquire().unwrap().failure(&unavailable());
        }
        b.acquire().unwrap().success();
        for _ in 0..4 {
            b.acquire().unwrap().failure(&unavailable());
        }
        for _ in 0..10 {
            b.acquire().unwrap().failure(&EngineError::Http {
                provider: "t",
                status: 400,
                retry_after: None,
            });
        }
        assert!(matches!(b.state(), BreakerState::Closed { .. }));
    }

    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let clock = ManualClock::new();
        let policy = BreakerPolicy {
            failure_threshold: 1,
            cooldown: Duration::from_secs(1),
        };
        let b = CircuitBreaker::new("t", policy, Arc::new(clock.clone()));
        b.acquire().unwrap().failure(&unavailable());
        clock.advance(Duration::from_secs(1));
        drop(b.acquire().unwrap());
        assert!(b.acquire().is_ok());
    }
}
