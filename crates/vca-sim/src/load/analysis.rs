//! Per-call figures from what the simulated caller received, as pure functions.
//!
//! - Outbound pacing jitter: for each pair of consecutive packets (arrival order) of one
//!   SSRC whose sequence numbers follow, `|inter-arrival − 20 ms|`.
//! - Loss: per SSRC, RFC 3550 style: extended highest − lowest sequence + 1, minus the
//!   distinct sequences received.
//! - Agent speech onset, by energy: a packet is agent speech when the RMS of its decoded
//!   samples exceeds [`AGENT_RMS_THRESHOLD`] (about -36 dBFS; the daemon's silence frames
//!   decode to a few units, the fake TTS to thousands). The onset answering an utterance is
//!   the first speech packet that arrives after the caller's last speech packet was sent,
//!   before the caller's next utterance starts, and follows a non-speech packet (a fresh
//!   talk spurt, not the tail of an earlier reply).
//! - Bridge-added turn latency = onset arrival − last caller speech packet's send time −
//!   (STT + LLM + TTS latencies + endpointing silence). It includes the daemon's VAD
//!   hangover, one 20 ms frame of endpointing granularity, the HTTP round trips, the
//!   resampling and the playout queue.

use crate::RtpRecording;
use crate::load::script::UtteranceMark;

/// RMS above which a received packet counts as agent speech.
pub const AGENT_RMS_THRESHOLD: f64 = 500.0;
/// Nominal packet interval in ms.
const PTIME_MS: f64 = 20.0;

/// What one call yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFigures {
    /// Packets received from the daemon.
    pub received: u64,
    /// Packets lost (sequence gaps) in what the daemon sent.
    pub lost: u64,
    /// `|inter-arrival − 20 ms|` samples in ms.
    pub jitter_ms: Vec<f64>,
    /// How long each received packet waited in the simulator's socket before it was read,
    /// ms (zero where the kernel's receive time is not taken): the caller's own timing
    /// error, which arrival times taken from the kernel do not include.
    pub read_lag_ms: Vec<f64>,
    /// Bridge-added turn latency samples in ms, one per answered utterance.
    pub turn_latency_ms: Vec<f64>,
    /// Utterances whose reply was looked for.
    pub turns_expected: u64,
    /// Utterances with no agent onset in their window.
    pub turns_missed: u64,
    /// Of those, the ones during which agent speech still arrived (an earlier reply went
    /// on talking, so the caller heard no silence); the rest heard none.
    pub turns_missed_agent_talking: u64,
    /// Packets classified as agent speech.
    pub agent_speech_packets: u64,
}

fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

/// Lost packets over all SSRCs of `rec`.
fn lost(rec: &RtpRecording) -> u64 {
    let mut ssrcs: Vec<u32> = rec.packets.iter().map(|p| p.ssrc).collect();
    ssrcs.sort_unstable();
    ssrcs.dedup();
    let mut total = 0u64;
    for ssrc in ssrcs {
        // Extend each sequence relative to the previous packet's (signed 16-bit step), so
        // wraps and reordering land where they belong.
        let mut ext: Vec<i64> = Vec::new();
        let mut last: Option<(u16, i64)> = None;
        for p in rec.packets.iter().filter(|p| p.ssrc == ssrc) {
            let e = match last {
                None => i64::from(p.sequence),
                Some((s, e)) => e + i64::from(p.sequence.wrapping_sub(s) as i16),
            };
            last = Some((p.sequence, e));
            ext.push(e);
        }
        ext.sort_unstable();
        ext.dedup();
        if let (Some(lo), Some(hi)) = (ext.first(), ext.last()) {
            let expected = hi - lo + 1;
            total += u64::try_from(expected - ext.len() as i64).unwrap_or(0);
        }
    }
    total
}

/// Figures of one call. `tick0_ms` is when tick 0 of the caller's grid was sent, on the
/// recording's clock; `subtract_ms` the configured engine latencies plus endpointing.
pub fn analyze_call(
    rec: &RtpRecording,
    tick0_ms: Option<f64>,
    marks: &[UtteranceMark],
    subtract_ms: f64,
) -> CallFigures {
    let mut f = CallFigures {
        received: rec.packets.len() as u64,
        lost: lost(rec),
        ..CallFigures::default()
    };
    let arrival_ms: Vec<f64> = rec
        .packets
        .iter()
        .map(|p| p.arrival.as_secs_f64() * 1000.0)
        .collect();
    f.read_lag_ms = rec
        .packets
        .iter()
        .map(|p| p.read_lag.as_secs_f64() * 1000.0)
        .collect();
    for (i, w) in rec.packets.windows(2).enumerate() {
        if w[0].ssrc == w[1].ssrc && w[1].sequence == w[0].sequence.wrapping_add(1) {
            f.jitter_ms
                .push((arrival_ms[i + 1] - arrival_ms[i] - PTIME_MS).abs());
        }
    }
    let mut speech = Vec::with_capacity(rec.packets.len());
    let mut offset = 0usize;
    for p in &rec.packets {
        let end = (offset + p.payload_len).min(rec.pcm.len());
        speech.push(rms(rec.pcm.get(offset..end).unwrap_or(&[])) > AGENT_RMS_THRESHOLD);
        offset = end;
    }
    f.agent_speech_packets = speech.iter().filter(|s| **s).count() as u64;
    let Some(tick0) = tick0_ms else {
        return f;
    };
    for m in marks {
        f.turns_expected += 1;
        let sent = tick0 + m.last_speech_tick as f64 * PTIME_MS;
        let window_end = tick0 + m.window_end_tick as f64 * PTIME_MS;
        let onset = (1..arrival_ms.len()).find(|&i| {
            arrival_ms[i] > sent && arrival_ms[i] < window_end && speech[i] && !speech[i - 1]
        });
        match onset {
            Some(i) => f.turn_latency_ms.push(arrival_ms[i] - sent - subtract_ms),
            None => {
                f.turns_missed += 1;
                let talking = (0..arrival_ms.len())
                    .any(|i| arrival_ms[i] > sent && arrival_ms[i] < window_end && speech[i]);
                if talking {
                    f.turns_missed_agent_talking += 1;
                }
            }
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    use super::*;
    use crate::ReceivedPacket;

    /// A recording of `n` packets, packet `i` arriving at `at(i)` ms with sequence
    /// `seq(i)`, loud when `loud(i)`.
    fn recording(
        n: usize,
        at: impl Fn(usize) -> f64,
        seq: impl Fn(usize) -> u16,
        loud: impl Fn(usize) -> bool,
    ) -> RtpRecording {
        let mut rec = RtpRecording::default();
        for i in 0..n {
            let v = if loud(i) { 4000 } else { 3 };
            rec.pcm.extend(std::iter::repeat_n(v, 160));
            rec.packets.push(ReceivedPacket {
                arrival: Duration::from_secs_f64(at(i) / 1000.0),
                read_lag: Duration::ZERO,
                source: SocketAddr::from((Ipv4Addr::LOCALHOST, 30000)),
                payload_type: 8,
                sequence: seq(i),
                timestamp: (i * 160) as u32,
                ssrc: 7,
                marker: false,
                payload_len: 160,
            });
        }
        rec
    }

    #[test]
    fn jitter_is_distance_from_20ms() {
        // Arrivals 0, 20, 45, 60, 80: gaps 20, 25, 15, 20.
        let times = [0.0, 20.0, 45.0, 60.0, 80.0];
        let rec = recording(5, |i| times[i], |i| i as u16, |_| false);
        let f = analyze_call(&rec, None, &[], 0.0);
        let expect = [0.0, 5.0, 5.0, 0.0];
        assert_eq!(f.jitter_ms.len(), 4);
        for (a, b) in f.jitter_ms.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(f.lost, 0);
        assert_eq!(f.received, 5);
    }

    #[test]
    fn loss_counts_gaps_across_wrap_and_skips_jitter_there() {
        // Sequences 65534, 65535, 1, 2 (0 lost), then 5 (3, 4 lost).
        let seqs = [65534u16, 65535, 1, 2, 5];
        let rec = recording(5, |i| i as f64 * 20.0, |i| seqs[i], |_| false);
        let f = analyze_call(&rec, None, &[], 0.0);
        assert_eq!(f.lost, 3);
        // Only 65534→65535 and 1→2 are consecutive.
        assert_eq!(f.jitter_ms.len(), 2);
    }

    #[test]
    fn late_packet_is_not_loss() {
        let seqs = [10u16, 12, 11, 13];
        let rec = recording(4, |i| i as f64 * 20.0, |i| seqs[i], |_| false);
        assert_eq!(analyze_call(&rec, None, &[], 0.0).lost, 0);
    }

    #[test]
    fn turn_latency_from_fresh_onset() {
        // 200 packets every 20 ms from t=0. Loud 10..30 (the tail of an earlier reply,
        // still playing when the caller stops) and 60..90 (the answer).
        let rec = recording(
            200,
            |i| i as f64 * 20.0,
            |i| i as u16,
            |i| (10..30).contains(&i) || (60..90).contains(&i),
        );
        // Tick 0 sent at 100 ms; the caller's last speech tick is 5 → sent at 200 ms.
        let marks = [UtteranceMark {
            last_speech_tick: 5,
            window_end_tick: 150,
        }];
        let f = analyze_call(&rec, Some(100.0), &marks, 700.0);
        // Onset is packet 60 at 1200 ms: 1200 - 200 - 700 = 300.
        assert_eq!(f.turn_latency_ms, vec![300.0]);
        assert_eq!(f.turns_expected, 1);
        assert_eq!(f.turns_missed, 0);
        assert_eq!(f.agent_speech_packets, 50);
    }

    #[test]
    fn no_onset_in_window_is_a_miss() {
        let rec = recording(100, |i| i as f64 * 20.0, |i| i as u16, |i| i >= 90);
        let marks = [UtteranceMark {
            last_speech_tick: 0,
            window_end_tick: 50,
        }];
        let f = analyze_call(&rec, Some(0.0), &marks, 0.0);
        assert!(f.turn_latency_ms.is_empty());
        assert_eq!(f.turns_missed, 1);
        assert_eq!(f.turns_missed_agent_talking, 0, "silence in the window");
    }

    #[test]
    fn a_miss_during_an_earlier_reply_is_told_apart() {
        // Loud from packet 0 to 80: a reply that began before the caller's utterance ended
        // and goes on through its window, with no fresh onset.
        let rec = recording(100, |i| i as f64 * 20.0, |i| i as u16, |i| i < 80);
        let marks = [UtteranceMark {
            last_speech_tick: 10,
            window_end_tick: 50,
        }];
        let f = analyze_call(&rec, Some(0.0), &marks, 0.0);
        assert_eq!(f.turns_missed, 1);
        assert_eq!(f.turns_missed_agent_talking, 1);
    }
}
