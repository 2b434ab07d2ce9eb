//! Hangup reasons accepted by `DELETE /channels/{id}?reason=...` (channels.json, Asterisk 22).
//!
//! Asterisk answers 400 `Invalid reason for hangup reason provided` to anything else, so the
//! set is closed here rather than passed as free text.

/// Why we hang up a channel; sent as the ARI `reason` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HangupReason {
    /// Normal clearing (Q.850 16).
    Normal,
    /// User busy (17): e.g. a tenant over its concurrent-call limit.
    Busy,
    /// Congestion (34).
    Congestion,
    /// No answer (19).
    NoAnswer,
    /// Timeout.
    Timeout,
    /// Call rejected (21): e.g. a suspended tenant.
    Rejected,
    /// Unallocated number (1): a DID that maps to no tenant.
    Unallocated,
    /// Normal, unspecified (31).
    NormalUnspecified,
    /// Number incomplete (28).
    NumberIncomplete,
    /// Codec mismatch (58).
    CodecMismatch,
    /// Interworking (127).
    Interworking,
    /// Failure (38).
    Failure,
    /// Answered elsewhere (26).
    AnsweredElsewhere,
}

impl HangupReason {
    /// The value ARI expects in the `reason` query parameter.
    #[must_use]
    pub fn as_ari_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Busy => "busy",
            Self::Congestion => "congestion",
            Self::NoAnswer => "no_answer",
            Self::Timeout => "timeout",
            Self::Rejected => "rejected",
            Self::Unallocated => "unallocated",
            Self::NormalUnspecified => "normal_unspecified",
            Self::NumberIncomplete => "number_incomplete",
            Self::CodecMismatch => "codec_mismatch",
            Self::Interworking => "interworking",
            Self::Failure => "failure",
            Self::AnsweredElsewhere => "answered_elsewhere",
        }
    }
}

impl std::fmt::Display for HangupReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_ari_str())
    }
}
