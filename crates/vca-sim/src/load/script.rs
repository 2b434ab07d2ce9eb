//! The simulated caller's timeline on the 20 ms send grid: wait for the greeting, then say
//! the utterance, leave room for the agent's reply, and repeat while it fits in the call.
//!
//! The grid matters because the simulator's RTP peer sends tick `k` of the timeline at
//! `connect + media_start_delay + k × 20 ms` (absolute deadlines). An utterance's end is its
//! last frame above about -40 dBFS.

use std::sync::Arc;
use std::time::Duration;

use crate::AudioPart;
use crate::engines::{MS_PER_CHAR, REPLY_TEXT, speech_like};

/// Samples in one 20 ms frame at 8 kHz.
const FRAME: usize = 160;
/// Grid period in ms.
const TICK_MS: u64 = 20;
/// RMS above which a caller frame counts as speech (about -40 dBFS).
pub const CALLER_RMS_THRESHOLD: f64 = 330.0;

/// Where one utterance ends on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtteranceMark {
    /// Tick of the utterance's last speech frame.
    pub last_speech_tick: u64,
    /// Tick where the next utterance starts (the end of the window in which the agent's
    /// reply to this one is looked for).
    pub window_end_tick: u64,
}

/// The caller's audio and the marks to measure against.
#[derive(Debug, Clone)]
pub struct CallerScript {
    /// What the caller sends, for [`crate::CallSpec::audio`].
    pub parts: Vec<AudioPart>,
    /// One mark per utterance.
    pub marks: Vec<UtteranceMark>,
}

/// Index of the last 20 ms frame of `audio` louder than [`CALLER_RMS_THRESHOLD`] (about
/// -40 dBFS), the caller's last speech packet. Energy, not the daemon's VAD: the VAD's
/// hangover after speech is part of what the bridge adds to a turn.
pub fn last_speech_frame(audio: &[i16]) -> Option<usize> {
    audio
        .chunks(FRAME)
        .enumerate()
        .rev()
        .find(|(_, c)| {
            let energy = c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / FRAME as f64;
            energy.sqrt() > CALLER_RMS_THRESHOLD
        })
        .map(|(i, _)| i)
}

/// The built-in caller utterance: 1.2 s of the speech-like signal at 8 kHz.
pub fn builtin_utterance() -> Arc<[i16]> {
    speech_like(8000, 8000 * 6 / 5).into()
}

fn ticks(d: Duration) -> u64 {
    u64::try_from(d.as_millis().div_ceil(u128::from(TICK_MS))).unwrap_or(u64::MAX)
}

impl CallerScript {
    /// Builds the timeline for one call of `call_length` whose audio starts
    /// `media_start_delay` after bridging: `greeting_wait`, then `utterance` followed by
    /// `reply_gap` silence, repeated while a whole utterance and its gap fit.
    pub fn build(
        utterance: &Arc<[i16]>,
        greeting_wait: Duration,
        reply_gap: Duration,
        call_length: Duration,
        media_start_delay: Duration,
    ) -> CallerScript {
        let greeting_ticks = ticks(greeting_wait);
        let speech_ticks = utterance.len().div_ceil(FRAME) as u64;
        let gap_ticks = ticks(reply_gap);
        // Leave the call's setup (a few hundred ms) out of the usable time.
        let usable = ticks(
            call_length
                .saturating_sub(media_start_delay)
                .saturating_sub(Duration::from_millis(300)),
        );
        let last = last_speech_frame(utterance).map_or(0, |f| f as u64);
        let mut parts = vec![AudioPart::Pause(Duration::from_millis(
            greeting_ticks * TICK_MS,
        ))];
        let mut marks = Vec::new();
        let mut start = greeting_ticks;
        while speech_ticks > 0 && start + speech_ticks + gap_ticks <= usable {
            parts.push(AudioPart::Speech(utterance.clone()));
            parts.push(AudioPart::Pause(Duration::from_millis(gap_ticks * TICK_MS)));
            let next = start + speech_ticks + gap_ticks;
            marks.push(UtteranceMark {
                last_speech_tick: start + last,
                window_end_tick: next,
            });
            start = next;
        }
        CallerScript { parts, marks }
    }
}

/// How long the caller leaves for a reply: endpointing, the engines, the reply's audio
/// (the fake TTS speaks `MS_PER_CHAR` per character) and 1.5 s of slack.
pub(crate) fn reply_gap(endpointing: Duration, engines: Duration) -> Duration {
    let reply = Duration::from_millis(REPLY_TEXT.chars().count() as u64 * MS_PER_CHAR);
    endpointing + engines + reply + Duration::from_millis(1500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utterances_repeat_while_they_fit() {
        // 10 frames of audio, the last 4 silent.
        let mut a = speech_like(8000, 1600);
        a[960..].fill(0);
        let a: Arc<[i16]> = a.into();
        let s = CallerScript::build(
            &a,
            Duration::from_millis(1000),
            Duration::from_millis(2000),
            Duration::from_secs(8),
            Duration::from_millis(500),
        );
        // usable = (8000 - 500 - 300) / 20 = 360 ticks; each turn is 10 + 100 ticks after 50.
        assert_eq!(s.marks.len(), 2);
        assert_eq!(s.marks[0].last_speech_tick, 50 + 5);
        assert_eq!(s.marks[0].window_end_tick, 160);
        assert_eq!(s.marks[1].last_speech_tick, 160 + 5);
        assert_eq!(s.parts.len(), 5);
    }

    #[test]
    fn nothing_fits_in_a_short_call() {
        let a = builtin_utterance();
        let s = CallerScript::build(
            &a,
            Duration::from_secs(3),
            Duration::from_secs(4),
            Duration::from_secs(5),
            Duration::from_millis(500),
        );
        assert!(s.marks.is_empty());
    }
}
