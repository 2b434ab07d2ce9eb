//! Numbers that bound an engine call: stage timeouts and the retry policy.
//!
//! Defaults keep the caller's silence under about three seconds when an engine is slow
//! or down: an LLM gets 2.5 s to its first token, TTS 2 s to its first audio, STT 2.5 s
//! from end of speech to the final transcript, and retries stop when the budget is spent.

use std::time::Duration;

/// Time limits of one engine call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS (+ WebSocket upgrade) connect.
    pub connect: Duration,
    /// From sending the request to the first useful item (token, audio, transcript).
    pub first_byte: Duration,
    /// Longest gap between two chunks of a streamed response.
    pub idle: Duration,
    /// Whole request for non-streamed calls (STT uploads).
    pub total: Duration,
}

impl Timeouts {
    /// Defaults for a streamed chat completion.
    pub const LLM: Timeouts = Timeouts {
        connect: Duration::from_millis(1500),
        first_byte: Duration::from_millis(2500),
        idle: Duration::from_millis(2000),
        total: Duration::from_secs(30),
    };
    /// Defaults for a streamed speech synthesis.
    pub const TTS: Timeouts = Timeouts {
        connect: Duration::from_millis(1500),
        first_byte: Duration::from_millis(2000),
        idle: Duration::from_millis(2000),
        total: Duration::from_secs(30),
    };
    /// Defaults for speech recognition (`first_byte` is end of speech → final text).
    pub const STT: Timeouts = Timeouts {
        connect: Duration::from_millis(1500),
        first_byte: Duration::from_millis(2500),
        idle: Duration::from_secs(10),
        total: Duration::from_millis(2500),
    };
}

/// How often and how long to retry an idempotent request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = never retry).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles each time, with full jitter.
    pub base_delay: Duration,
    /// Longest backoff between two attempts.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; a longer one ends the retries at once.
    pub retry_after_cap: Duration,
    /// Total time all attempts together may take; no retry starts past it.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            retry_after_cap: Duration::from_secs(1),
            budget: Duration::from_millis(2500),
        }
    }
}

/// Settings of a provider's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through.
    pub cooldown: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failure_threshold: 5,
            cooldown: Duration::from_secs(10),
        }
    }
}
