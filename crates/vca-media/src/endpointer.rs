//! Endpointing: turns a stream of 20 ms VAD decisions into caller turns. Speech starts
//! after a minimum voiced time, ends after a configured silence or at the maximum length;
//! a pre-roll of audio from before the start is kept so the first syllable is not lost.
//! Buffers are allocated up front; steady-state frames do not allocate.
use std::time::Duration;

use super::FRAME_MS;
use super::config::{EndpointerConfig, frames_in};

/// Audio kept ahead of a speech run beyond the pre-roll, so long runs with dips still get
/// their full pre-roll.
const RING_EXTRA_MS: u64 = 2000;
/// Utterance audio preallocated (160 KB at 8 kHz, 320 KB at 16 kHz per call; pages the
/// utterances never reach are not resident); a longer utterance grows the buffer once
/// (amortised doubling).
const PREALLOCATED_MS: u64 = 10_000;
/// Trailing silence kept after the last voiced frame of an utterance.
const TAIL_MS: u64 = 200;
/// Extra wait before a stalled stream (no frames at all) ends an utterance: the reorder
/// hold plus a frame.
const STALL_GRACE_MS: u64 = 100;

/// Where an utterance lies on the call's media timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtteranceBounds {
    /// Start of the first voiced frame, ms from call start.
    pub start_ms: u64,
    /// End of the last voiced frame (or of the audio, if forced), ms from call start.
    pub end_ms: u64,
    /// The maximum utterance length ended it, not silence.
    pub forced: bool,
}

/// What the endpointer found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointEvent {
    /// The caller started speaking at `at_ms` (start of the voiced run).
    SpeechStarted {
        /// ms from call start.
        at_ms: u64,
    },
    /// The caller's turn ended; its audio is in [`Endpointer::utterance_pcm`].
    UtteranceEnded(UtteranceBounds),
}

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    Speaking {
        start_ms: u64,
        audio_start_ms: u64,
        last_voiced_end_ms: u64,
    },
}

/// The endpointer of one call.
pub struct Endpointer {
    sample_rate: u64,
    min_speech_frames: u64,
    end_silence_ms: u64,
    pre_roll_ms: u64,
    max_utterance_ms: u64,
    gap_tolerance_ms: u64,
    state: State,
    run_start_ms: Option<u64>,
    run_voiced_frames: u64,
    run_unvoiced_ms: u64,
    ring: Box<[i16]>,
    ring_pos: usize,
    ring_len: usize,
    expected_at_ms: Option<u64>,
    current: Vec<i16>,
}

impl Endpointer {
    /// An endpointer for frames of audio at `sample_rate` Hz.
    pub fn new(config: &EndpointerConfig, sample_rate: u32) -> Self {
        let sample_rate = u64::from(sample_rate);
        let pre_roll_ms = config.pre_roll.as_millis() as u64;
        let ring_samples = ((pre_roll_ms + RING_EXTRA_MS) * sample_rate / 1000) as usize;
        let max_utterance_ms = (config.max_utterance.as_millis() as u64).max(FRAME_MS);
        let prealloc =
            ((max_utterance_ms.min(PREALLOCATED_MS) + pre_roll_ms) * sample_rate / 1000) as usize;
        Endpointer {
            sample_rate,
            min_speech_frames: frames_in(config.min_speech),
            end_silence_ms: (config.end_silence.as_millis() as u64).max(FRAME_MS),
            pre_roll_ms,
            max_utterance_ms,
            gap_tolerance_ms: config.gap_tolerance.as_millis() as u64,
            state: State::Idle,
            run_start_ms: None,
            run_voiced_frames: 0,
            run_unvoiced_ms: 0,
            ring: vec![0; ring_samples.max(1)].into_boxed_slice(),
            ring_pos: 0,
            ring_len: 0,
            expected_at_ms: None,
            current: Vec::with_capacity(prealloc),
        }
    }

    /// Changes the silence that ends an utterance (e.g. per AI profile).
    pub fn set_end_silence(&mut self, end_silence: Duration) {
        self.end_silence_ms = (end_silence.as_millis() as u64).max(FRAME_MS);
    }

    /// Whether the caller is mid-utterance.
    pub fn is_speaking(&self) -> bool {
        matches!(self.state, State::Speaking { .. })
    }

    /// Audio of the last ended utterance (pre-roll included), at the endpointer's rate.
    /// Valid until the next utterance starts (one buffer serves both: the caller copies it
    /// when the end is reported); empty while the caller speaks.
    pub fn utterance_pcm(&self) -> &[i16] {
        match self.state {
            State::Idle => &self.current,
            State::Speaking { .. } => &[],
        }
    }

    /// Takes one 20 ms frame starting at `at_ms` with its VAD decision.
    pub fn handle_frame(
        &mut self,
        at_ms: u64,
        voiced: bool,
        samples: &[i16],
    ) -> Option<EndpointEvent> {
        if let Some(expected) = self.expected_at_ms
            && at_ms > expected
        {
            // The timeline jumped (the sender paused): the gap is silence.
            self.run_unvoiced_ms += at_ms - expected;
            if at_ms - expected > self.pre_roll_ms {
                self.ring_len = 0;
            }
        }
        self.expected_at_ms = Some(at_ms + FRAME_MS);
        self.push_ring(samples);
        let frame_end = at_ms + FRAME_MS;
        match self.state {
            State::Idle => self.idle_frame(at_ms, voiced),
            State::Speaking {
                start_ms,
                audio_start_ms,
                last_voiced_end_ms,
            } => {
                self.current.extend_from_slice(samples);
                let last_voiced_end_ms = if voiced {
                    frame_end
                } else {
                    last_voiced_end_ms
                };
                self.state = State::Speaking {
                    start_ms,
                    audio_start_ms,
                    last_voiced_end_ms,
                };
                if frame_end.saturating_sub(last_voiced_end_ms) >= self.end_silence_ms {
                    Some(self.finish(false, frame_end))
                } else if frame_end.saturating_sub(start_ms) >= self.max_utterance_ms {
                    Some(self.finish(true, frame_end))
                } else {
                    None
                }
            }
        }
    }

    /// When the utterance in progress must end even if no more frames arrive (the sender
    /// stopped), in ms from call start.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::Speaking {
                last_voiced_end_ms, ..
            } => Some(last_voiced_end_ms + self.end_silence_ms + STALL_GRACE_MS),
            State::Idle => None,
        }
    }

    /// Ends the utterance in progress if the stream has stalled past [`Self::poll_timeout`].
    pub fn handle_timeout(&mut self, now_ms: u64) -> Option<EndpointEvent> {
        let deadline = self.poll_timeout()?;
        if now_ms < deadline {
            return None;
        }
        let end = self.expected_at_ms.unwrap_or(now_ms);
        Some(self.finish(false, end))
    }

    fn idle_frame(&mut self, at_ms: u64, voiced: bool) -> Option<EndpointEvent> {
        if self.run_unvoiced_ms > self.gap_tolerance_ms {
            self.reset_run();
        }
        if !voiced {
            if self.run_start_ms.is_some() {
                self.run_unvoiced_ms += FRAME_MS;
                if self.run_unvoiced_ms > self.gap_tolerance_ms {
                    self.reset_run();
                }
            }
            return None;
        }
        let run_start = *self.run_start_ms.get_or_insert(at_ms);
        self.run_voiced_frames += 1;
        self.run_unvoiced_ms = 0;
        if self.run_voiced_frames < self.min_speech_frames {
            return None;
        }
        let frame_end = at_ms + FRAME_MS;
        let wanted_ms = frame_end - run_start.saturating_sub(self.pre_roll_ms);
        let wanted = ((wanted_ms * self.sample_rate / 1000) as usize).min(self.ring_len);
        let audio_start_ms = frame_end - (wanted as u64 * 1000 / self.sample_rate);
        self.current.clear();
        self.copy_ring_tail(wanted);
        self.state = State::Speaking {
            start_ms: run_start,
            audio_start_ms,
            last_voiced_end_ms: frame_end,
        };
        self.reset_run();
        Some(EndpointEvent::SpeechStarted { at_ms: run_start })
    }

    fn finish(&mut self, forced: bool, frame_end: u64) -> EndpointEvent {
        let (start_ms, audio_start_ms, last_voiced_end_ms) = match self.state {
            State::Speaking {
                start_ms,
                audio_start_ms,
                last_voiced_end_ms,
            } => (start_ms, audio_start_ms, last_voiced_end_ms),
            State::Idle => (frame_end, frame_end, frame_end),
        };
        let end_ms = if forced {
            frame_end
        } else {
            last_voiced_end_ms
        };
        let keep_until = (end_ms + TAIL_MS).min(frame_end);
        let keep = (keep_until.saturating_sub(audio_start_ms) * self.sample_rate / 1000) as usize;
        self.current.truncate(keep);
        self.state = State::Idle;
        self.reset_run();
        EndpointEvent::UtteranceEnded(UtteranceBounds {
            start_ms,
            end_ms,
            forced,
        })
    }

    fn reset_run(&mut self) {
        self.run_start_ms = None;
        self.run_voiced_frames = 0;
        self.run_unvoiced_ms = 0;
    }

    fn push_ring(&mut self, samples: &[i16]) {
        let cap = self.ring.len();
        for &s in samples {
            if let Some(slot) = self.ring.get_mut(self.ring_pos) {
                *slot = s;
            }
            self.ring_pos = (self.ring_pos + 1) % cap;
        }
        self.ring_len = (self.ring_len + samples.len()).min(cap);
    }

    fn copy_ring_tail(&mut self, count: usize) {
        let cap = self.ring.len();
        let start = (self.ring_pos + cap - count.min(cap)) % cap;
        if start + count <= cap {
            if let Some(part) = self.ring.get(start..start + count) {
                self.current.extend_from_slice(part);
            }
        } else {
            let first = cap - start;
            if let (Some(a), Some(b)) = (self.ring.get(start..), self.ring.get(..count - first)) {
                self.current.extend_from_slice(a);
                self.current.extend_from_slice(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [i16; 160] = [100; 160];

    fn run(
        ep: &mut Endpointer,
        pattern: &[(bool, u64)],
        start_ms: u64,
    ) -> Vec<(u64, EndpointEvent)> {
        let mut events = Vec::new();
        let mut at = start_ms;
        for &(voiced, frames) in pattern {
            for _ in 0..frames {
                if let Some(e) = ep.handle_frame(at, voiced, &FRAME) {
                    events.push((at, e));
                }
                at += FRAME_MS;
            }
        }
        events
    }

    #[test]
    fn speech_starts_after_min_voiced_and_ends_after_silence() {
        let mut ep = Endpointer::new(&EndpointerConfig::default(), 8000);
        let events = run(&mut ep, &[(false, 50), (true, 50), (false, 40)], 0);
        assert_eq!(
            events,
            vec![
                (1180, EndpointEvent::SpeechStarted { at_ms: 1000 }),
                (
                    2580,
                    EndpointEvent::UtteranceEnded(UtteranceBounds {
                        start_ms: 1000,
                        end_ms: 2000,
                        forced: false
                    })
                )
            ]
        );
        // pre-roll 300 ms + 1000 ms speech + 200 ms tail, at 8 kHz
        assert_eq!(ep.utterance_pcm().len(), 1500 * 8);
    }

    #[test]
    fn short_noise_never_starts_speech() {
        let mut ep = Endpointer::new(&EndpointerConfig::default(), 8000);
        let events = run(
            &mut ep,
            &[(true, 9), (false, 10), (true, 9), (false, 50)],
            0,
        );
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn max_length_forces_an_end() {
        let config = EndpointerConfig {
            max_utterance: Duration::from_secs(2),
            ..EndpointerConfig::default()
        };
        let mut ep = Endpointer::new(&config, 8000);
        let events = run(&mut ep, &[(true, 105)], 0);
        assert_eq!(
            events.last().map(|e| e.1),
            Some(EndpointEvent::UtteranceEnded(UtteranceBounds {
                start_ms: 0,
                end_ms: 2000,
                forced: true
            }))
        );
    }

    #[test]
    fn stalled_stream_ends_by_timeout() {
        let mut ep = Endpointer::new(&EndpointerConfig::default(), 8000);
        run(&mut ep, &[(true, 20)], 0);
        assert_eq!(ep.poll_timeout(), Some(400 + 600 + STALL_GRACE_MS));
        assert_eq!(ep.handle_timeout(1099), None);
        assert!(matches!(
            ep.handle_timeout(1100),
            Some(EndpointEvent::UtteranceEnded(UtteranceBounds {
                end_ms: 400,
                ..
            }))
        ));
    }
}
