//! The one error type every engine call returns, and its metric label.
//!
//! Errors never carry an API key or a provider's response body (which may echo the
//! request): only a status, a stage or a short description written by us.

use std::time::Duration;

/// Why an STT, LLM or TTS call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// A stage of the call took longer than its limit.
    #[error("{provider}: timed out waiting for {stage}")]
    Timeout {
        /// Provider label (`openai_llm`, `deepgram`, ...).
        provider: &'static str,
        /// What we were waiting for: `connect`, `first byte`, `next chunk`, `final transcript`.
        stage: &'static str,
    },
    /// The provider could not be reached (connection refused, reset, DNS).
    #[error("{provider}: unavailable: {reason}")]
    Unavailable {
        /// Provider label.
        provider: &'static str,
        /// What went wrong, in our words.
        reason: String,
    },
    /// The provider's circuit breaker is open: failing fast without a request.
    #[error("{provider}: circuit open after repeated failures")]
    CircuitOpen {
        /// Provider label.
        provider: &'static str,
    },
    /// The provider answered with an HTTP error status (not 401/403).
    #[error("{provider}: HTTP {status}")]
    Http {
        /// Provider label.
        provider: &'static str,
        /// The status code.
        status: u16,
        /// `Retry-After` of a 429 or 503, when given in seconds.
        retry_after: Option<Duration>,
    },
    /// The provider refused our credentials (HTTP 401/403, WebSocket upgrade refused).
    #[error("{provider}: authentication refused (HTTP {status}); check the API key setting")]
    Auth {
        /// Provider label.
        provider: &'static str,
        /// 401 or 403.
        status: u16,
    },
    /// The provider sent something we cannot read: bad JSON, a cut stream, a bad WAV.
    #[error("{provider}: protocol error: {detail}")]
    Protocol {
        /// Provider label.
        provider: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A local engine process failed (espeak-ng missing, killed, bad exit).
    #[error("{provider}: process failed: {detail}")]
    Process {
        /// Provider label.
        provider: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// The request itself is unusable (empty text, unsupported rate); not retried.
    #[error("{provider}: invalid request: {detail}")]
    InvalidRequest {
        /// Provider label.
        provider: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The session was closed or the work was cancelled (barge-in, hang-up).
    #[error("{provider}: cancelled")]
    Cancelled {
        /// Provider label.
        provider: &'static str,
    },
}

impl EngineError {
    /// A short label for the `kind` metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::Timeout { .. } => "timeout",
            EngineError::Unavailable { .. } => "unavailable",
            EngineError::CircuitOpen { .. } => "circuit_open",
            EngineError::Http { status: 429, .. } => "http_429",
            EngineError::Http { status, .. } if *status >= 500 => "http_5xx",
            EngineError::Http { .. } => "http_4xx",
            EngineError::Auth { .. } => "auth",
            EngineError::Protocol { .. } => "protocol",
            EngineError::Process { .. } => "process",
            EngineError::InvalidRequest { .. } => "invalid_request",
            EngineError::Cancelled { .. } => "cancelled",
        }
    }

    /// The provider label the error belongs to.
    pub fn provider(&self) -> &'static str {
        match self {
            EngineError::Timeout { provider, .. }
            | EngineError::Unavailable { provider, .. }
            | EngineError::CircuitOpen { provider }
            | EngineError::Http { provider, .. }
            | EngineError::Auth { provider, .. }
            | EngineError::Protocol { provider, .. }
            | EngineError::Process { provider, .. }
            | EngineError::InvalidRequest { provider, .. }
            | EngineError::Cancelled { provider } => provider,
        }
    }

    /// Whether the same request may be sent again: connect failures, 429 and 5xx only.
    pub fn is_retryable(&self) -> bool {
        match self {
            EngineError::Unavailable { .. } => true,
            EngineError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// Whether the failure says the provider is unhealthy (counts toward opening its
    /// circuit). Our own bad requests, auth refusals and cancellations do not.
    pub fn counts_against_provider(&self) -> bool {
        matches!(
            self,
            EngineError::Timeout { .. }
                | EngineError::Unavailable { .. }
                | EngineError::Protocol { .. }
                | EngineError::Process { .. }
        ) || matches!(self, EngineError::Http { status, .. } if *status == 429 || *status >= 500)
    }

    /// The error for a reqwest failure before or while reading a response.
    pub(crate) fn from_reqwest(
        provider: &'static str,
        stage: &'static str,
        e: &reqwest::Error,
    ) -> Self {
        if e.is_timeout() {
            EngineError::Timeout { provider, stage }
        } else if e.is_connect() {
            EngineError::Unavailable {
                provider,
                reason: "connection failed".into(),
            }
        } else if e.is_body() || e.is_decode() {
            EngineError::Protocol {
                provider,
                detail: format!("response body cut while reading {stage}"),
            }
        } else {
            EngineError::Unavailable {
                provider,
                reason: format!("request failed while waiting for {stage}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_and_breaker_classification() {
        let http = |status| EngineError::Http {
            provider: "p",
            status,
            retry_after: None,
        };
        assert!(http(500).is_retryable());
        assert!(http(503).is_retryable());
        assert!(http(429).is_retryable());
        assert!(!http(400).is_retryable());
        assert!(
            !EngineError::Auth {
                provider: "p",
                status: 401
            }
            .is_retryable()
        );
        assert!(!http(404).counts_against_provider());
        assert!(http(502).counts_against_provider());
        assert!(!EngineError::Cancelled { provider: "p" }.counts_against_provider());
        assert_eq!(http(429).kind(), "http_429");
        assert_eq!(http(500).kind(), "http_5xx");
        assert_eq!(http(418).kind(), "http_4xx");
    }
}
