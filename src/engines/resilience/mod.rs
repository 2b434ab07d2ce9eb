//! Resilience shared by every provider: timeouts per stage, bounded retries with
//! jittered backoff, and a circuit breaker per provider.
//!
//! A provider builds one [`Guard`] (its breaker, retry policy and timeouts) and runs each
//! idempotent phase of a call (an upload, a request up to its first token or byte) through
//! [`Guard::run`]. Streams after their first item are not retried: the caller has
//! already acted on what arrived.

mod breaker;
mod policy;
mod retry;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use breaker::{BreakerState, CircuitBreaker};
pub use policy::{BreakerPolicy, RetryPolicy, Timeouts};
pub use retry::{Guard, parse_retry_after};
