//! Publishes a call's media counters (atomics the media task bumps per packet) into the
//! daemon's Prometheus metrics once a second and at the end of the call, as deltas, so
//! the metrics carry no per-call labels and the hot path touches nothing but atomics.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::counters::MediaCounters;
use crate::media::stats::DropReason;

/// What was already published of one call's counters.
#[derive(Debug)]
pub struct MediaMetrics {
    counters: Arc<MediaCounters>,
    packets_in: u64,
    packets_out: u64,
    lost: u64,
    dropped: [u64; DropReason::COUNT],
    audio_dropped: u64,
    skipped: u64,
    recording_dropped: u64,
    pool_exhausted: u64,
}

impl MediaMetrics {
    /// A publisher for one call.
    pub fn new(counters: Arc<MediaCounters>) -> Self {
        Self {
            counters,
            packets_in: 0,
            packets_out: 0,
            lost: 0,
            dropped: [0; DropReason::COUNT],
            audio_dropped: 0,
            skipped: 0,
            recording_dropped: 0,
            pool_exhausted: 0,
        }
    }

    /// Adds what changed since the last call to the global counters.
    pub fn publish(&mut self) {
        let c = &self.counters;
        let delta = |now: u64, seen: &mut u64| {
            let d = now.saturating_sub(*seen);
            *seen = now;
            d
        };
        let d = delta(c.packets_in.load(Ordering::Relaxed), &mut self.packets_in);
        metrics::counter!("vca_rtp_packets_in_total").increment(d);
        let d = delta(c.packets_out.load(Ordering::Relaxed), &mut self.packets_out);
        metrics::counter!("vca_rtp_packets_out_total").increment(d);
        let d = delta(c.packets_lost.load(Ordering::Relaxed), &mut self.lost);
        metrics::counter!("vca_rtp_packets_lost_total").increment(d);
        for reason in DropReason::ALL {
            let i = reason.index();
            let d = delta(c.dropped[i].load(Ordering::Relaxed), &mut self.dropped[i]);
            if d > 0 {
                metrics::counter!("vca_rtp_packets_dropped_total", "reason" => reason.label())
                    .increment(d);
            }
        }
        let d = delta(
            c.inbound_audio_dropped.load(Ordering::Relaxed),
            &mut self.audio_dropped,
        );
        metrics::counter!("vca_media_audio_dropped_total").increment(d);
        let d = delta(
            c.outbound_frames_skipped.load(Ordering::Relaxed),
            &mut self.skipped,
        );
        metrics::counter!("vca_rtp_frames_skipped_total").increment(d);
        let d = delta(
            c.recording_dropped.load(Ordering::Relaxed),
            &mut self.recording_dropped,
        );
        if d > 0 {
            metrics::counter!("vca_recording_frames_dropped_total").increment(d);
        }
        let d = delta(
            c.utterance_pool_exhausted.load(Ordering::Relaxed),
            &mut self.pool_exhausted,
        );
        if d > 0 {
            metrics::counter!("vca_utterance_pool_exhausted_total").increment(d);
        }
    }
}
