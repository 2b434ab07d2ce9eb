//! Counters kept by the media core: packets in and out, and every dropped packet by reason.

/// Why an inbound datagram was dropped. Every drop is counted under exactly one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// It came from an address other than the one Asterisk gave us.
    #[error("datagram from an unexpected source address")]
    WrongSource,
    /// Not a valid RTP version 2 packet (too short, truncated header, bad padding).
    #[error("malformed RTP packet")]
    Malformed,
    /// A payload type other than the call's G.711 law.
    #[error("unexpected RTP payload type")]
    WrongPayloadType,
    /// An RTP packet with no payload bytes.
    #[error("empty RTP payload")]
    EmptyPayload,
    /// A payload larger than [`crate::MAX_PAYLOAD`].
    #[error("RTP payload too large")]
    Oversized,
    /// A sequence number already received.
    #[error("duplicate RTP packet")]
    Duplicate,
    /// A sequence number older than what was already played out (arrived too late to reorder).
    #[error("RTP packet arrived too late")]
    Late,
    /// A sequence number far from the stream's (16 or more ahead, or 1,000 or more
    /// behind) not yet confirmed by the packet that follows it: a stream jumps or restarts
    /// only after two sequential packets (RFC 3550, appendix A.1), so one stray packet
    /// cannot make the packets around it late.
    #[error("RTP sequence jump not confirmed by the next packet")]
    SequenceJump,
}

impl DropReason {
    /// Number of reasons (size of [`MediaStats::dropped`]).
    pub const COUNT: usize = 8;
    /// Every reason, in index order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::WrongSource,
        DropReason::Malformed,
        DropReason::WrongPayloadType,
        DropReason::EmptyPayload,
        DropReason::Oversized,
        DropReason::Duplicate,
        DropReason::Late,
        DropReason::SequenceJump,
    ];

    /// Position of this reason in [`MediaStats::dropped`].
    pub const fn index(self) -> usize {
        match self {
            DropReason::WrongSource => 0,
            DropReason::Malformed => 1,
            DropReason::WrongPayloadType => 2,
            DropReason::EmptyPayload => 3,
            DropReason::Oversized => 4,
            DropReason::Duplicate => 5,
            DropReason::Late => 6,
            DropReason::SequenceJump => 7,
        }
    }

    /// A short snake_case label for metrics.
    pub const fn label(self) -> &'static str {
        match self {
            DropReason::WrongSource => "wrong_source",
            DropReason::Malformed => "malformed",
            DropReason::WrongPayloadType => "wrong_payload_type",
            DropReason::EmptyPayload => "empty_payload",
            DropReason::Oversized => "oversized",
            DropReason::Duplicate => "duplicate",
            DropReason::Late => "late",
            DropReason::SequenceJump => "sequence_jump",
        }
    }
}

/// Plain counters of one call's media. The driver mirrors them into atomics for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Datagrams received (accepted or not).
    pub packets_in: u64,
    /// Packets accepted into the reorder window.
    pub packets_accepted: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Dropped datagrams, indexed by [`DropReason::index`].
    pub dropped: [u64; DropReason::COUNT],
    /// Packets never received (sequence numbers skipped after the reorder window gave up).
    pub packets_lost: u64,
    /// Samples synthesised to conceal lost packets.
    pub samples_concealed: u64,
    /// Samples of silence inserted for pauses in the sender's stream (DTMF, prompts).
    pub samples_pause_filled: u64,
    /// Times the inbound timeline was re-anchored (new SSRC, sequence jump, long pause).
    pub resyncs: u64,
    /// Times the sender changed SSRC.
    pub ssrc_changes: u64,
    /// Decoded inbound frames discarded because nobody polled them (should stay 0).
    pub inbound_frames_overflowed: u64,
    /// Outbound frames skipped because the pacer woke up more than the catch-up limit late.
    pub outbound_frames_skipped: u64,
    /// Caller turns that started while the utterance pool had no free buffer: the turn
    /// was detected and reported, its audio was not kept (the utterance's pcm is empty).
    pub utterance_pool_exhausted: u64,
}

impl MediaStats {
    /// Count of datagrams dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// Count of all dropped datagrams.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.dropped[reason.index()] += 1;
    }
}
