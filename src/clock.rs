//! The daemon's one source of time: [`Clock`]. The sans-IO cores (media, conversation) take
//! `now` as input and never read a clock; their drivers and the engines' circuit breakers
//! read it here, so tests can run on tokio's paused time, on a clock that runs late, or on
//! a [`ManualClock`] moved by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock, and how to wait on it.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Instant;

    /// Completes at (or after) `deadline`. tokio's timer by default, which follows paused
    /// time in tests; a test clock may wake late on purpose.
    fn sleep_until(&self, deadline: Instant) -> tokio::time::Sleep {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }
}

/// The process's monotonic clock, read through tokio so that it follows paused time in
/// tests (outside a paused runtime it is `Instant::now()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock {
    origin: Instant,
    micros: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock standing at the moment it was made.
    pub fn new() -> Self {
        ManualClock {
            origin: Instant::now(),
            micros: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let micros = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + Duration::from_micros(self.micros.load(Ordering::SeqCst))
    }
}
