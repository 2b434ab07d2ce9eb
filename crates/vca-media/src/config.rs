//! Settings of one call's media: the G.711 law, jitter handling, endpointing and barge-in.
use std::time::Duration;

use super::g711::Law;

/// Everything the media core needs to know about one call. `Default` is a µ-law call with
/// the documented default timings.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConfig {
    /// The call's G.711 law (the External Media `format`); inbound packets with the other
    /// payload type are dropped and outbound packets always carry this one.
    pub law: Law,
    /// Reorder window and concealment limits for inbound RTP.
    pub jitter: JitterConfig,
    /// Speech start / end detection for caller turns.
    pub endpointer: EndpointerConfig,
    /// Caller-speech-over-agent detection.
    pub barge_in: BargeInConfig,
    /// Aggressiveness of the webrtc VAD, 0 (least) to 3 (most).
    pub vad_mode: u8,
    /// Pacing of outbound RTP.
    pub outbound: OutboundConfig,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            law: Law::Ulaw,
            jitter: JitterConfig::default(),
            endpointer: EndpointerConfig::default(),
            barge_in: BargeInConfig::default(),
            vad_mode: 2,
            outbound: OutboundConfig::default(),
        }
    }
}

/// Inbound jitter handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterConfig {
    /// How long a packet waits for a missing predecessor before the gap is concealed.
    pub max_hold: Duration,
    /// Longest gap filled with silence or concealment; a longer gap re-anchors the timeline
    /// to the arrival time instead (the sender paused, e.g. between prompts).
    pub max_fill: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            max_hold: Duration::from_millis(60),
            max_fill: Duration::from_millis(1000),
        }
    }
}

/// Endpointing: when a caller's turn starts and ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointerConfig {
    /// Voiced time needed before speech counts as started.
    pub min_speech: Duration,
    /// Silence after speech that ends the utterance (per AI profile).
    pub end_silence: Duration,
    /// Audio kept from before the detected start, so the first syllable is not lost.
    pub pre_roll: Duration,
    /// Longest utterance; reaching it forces an end.
    pub max_utterance: Duration,
    /// Unvoiced dips shorter than this do not break a run of voiced frames.
    pub gap_tolerance: Duration,
}

impl Default for EndpointerConfig {
    fn default() -> Self {
        EndpointerConfig {
            min_speech: Duration::from_millis(200),
            end_silence: Duration::from_millis(600),
            pre_roll: Duration::from_millis(300),
            max_utterance: Duration::from_secs(30),
            gap_tolerance: Duration::from_millis(100),
        }
    }
}

/// Barge-in: the caller talking over the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BargeInConfig {
    /// Caller speech needed while agent audio plays before it counts as barge-in.
    pub min_speech: Duration,
    /// Unvoiced dips shorter than this do not break a run of voiced frames.
    pub gap_tolerance: Duration,
    /// Flush the playout queue in the core the moment barge-in is detected.
    pub auto_flush: bool,
    /// Whether barge-in is detected at all.
    pub enabled: bool,
}

impl Default for BargeInConfig {
    fn default() -> Self {
        BargeInConfig {
            min_speech: Duration::from_millis(250),
            gap_tolerance: Duration::from_millis(60),
            auto_flush: true,
            enabled: true,
        }
    }
}

/// Outbound pacing. Frames go out every 20 ms (silence while the agent is quiet, so the
/// stream never stalls); a talk spurt may move that phase so its first frame leaves at
/// once instead of at the next tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundConfig {
    /// When agent audio is queued while nothing plays, send its first frame as soon as
    /// it is queued (the following frames every 20 ms from there) rather than at the next
    /// tick of the old phase.
    pub rephase_talk_spurts: bool,
    /// The closest a re-phased first frame may follow the frame before it (at least 1 ms,
    /// so every frame has its own millisecond on the call's timeline).
    pub min_frame_gap: Duration,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            rephase_talk_spurts: true,
            min_frame_gap: Duration::from_millis(2),
        }
    }
}

/// Whole 20 ms frames in `d`, rounded up, at least 1.
pub(crate) fn frames_in(d: Duration) -> u64 {
    let ms = d.as_millis() as u64;
    ms.div_ceil(super::FRAME_MS).max(1)
}
