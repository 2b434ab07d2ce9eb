//! Live counters of one call's media, bumped by the media task and read by metrics: plain
//! atomics, so the hot path touches nothing else.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::media::stats::{DropReason, MediaStats};

/// Live counters of one call's media, for metrics. All loads are `Relaxed`.
#[derive(Debug, Default)]
pub struct MediaCounters {
    /// Datagrams received.
    pub packets_in: AtomicU64,
    /// Packets sent.
    pub packets_out: AtomicU64,
    /// Datagrams dropped, indexed by [`DropReason::index`].
    pub dropped: [AtomicU64; DropReason::COUNT],
    /// Inbound packets never received.
    pub packets_lost: AtomicU64,
    /// Inbound timeline re-anchors (SSRC change, sequence restart, long pause).
    pub resyncs: AtomicU64,
    /// Inbound G.711 frames dropped because the streaming consumer lagged.
    pub inbound_audio_dropped: AtomicU64,
    /// Events dropped because the conversation side lagged.
    pub events_dropped: AtomicU64,
    /// Outbound frames skipped because the task woke up far too late.
    pub outbound_frames_skipped: AtomicU64,
    /// Frames a recorded call's recorder had no room for.
    pub recording_dropped: AtomicU64,
    /// Caller turns that found no free utterance buffer (heard as nothing).
    pub utterance_pool_exhausted: AtomicU64,
}

impl MediaCounters {
    /// Datagrams dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped
            .get(reason.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Mirrors the core's counters.
    pub(super) fn publish(&self, stats: &MediaStats) {
        self.packets_in.store(stats.packets_in, Ordering::Relaxed);
        self.packets_out.store(stats.packets_out, Ordering::Relaxed);
        for (counter, &value) in self.dropped.iter().zip(stats.dropped.iter()) {
            counter.store(value, Ordering::Relaxed);
        }
        self.packets_lost
            .store(stats.packets_lost, Ordering::Relaxed);
        self.resyncs.store(stats.resyncs, Ordering::Relaxed);
        self.utterance_pool_exhausted
            .store(stats.utterance_pool_exhausted, Ordering::Relaxed);
        self.outbound_frames_skipped
            .store(stats.outbound_frames_skipped, Ordering::Relaxed);
    }
}
