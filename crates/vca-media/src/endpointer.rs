//! Endpointing: turns a stream of 20 ms VAD decisions into caller turns. Speech starts
//! after a minimum voiced time, ends after a configured silence (counted from the last
//! voiced sample, located to 2 ms within the last voiced frame) or at the maximum length;
//! a pre-roll of audio from before the start is kept so the first syllable is not lost.
//!
//! Memory: a per-call ring holds just the pre-roll. The utterance's audio goes into a
//! buffer from an [`UtterancePool`], taken at the first voiced frame of a run (the ring's
//! pre-roll is copied in) and given back when the run turns out to be noise, when the
//! utterance has been handed out ([`Endpointer::release_utterance`]) or when the
//! endpointer is dropped. With the pool dry the turn is still detected, without audio.
//! Steady-state frames never allocate.
use std::time::Duration;

use super::FRAME_MS;
use super::config::{EndpointerConfig, frames_in};
use super::utterance_pool::{PRIVATE_POOL_BUFFERS, PooledBuffer, UtterancePool};
use super::vad::MIN_SPEECH_RMS;

/// The end of voicing within a frame is located to blocks of this many ms.
const VOICED_END_BLOCK_MS: u64 = 2;
/// Trailing silence kept after the last voiced sample of an utterance.
const TAIL_MS: u64 = 200;
/// Extra wait before a stalled stream (no frames at all) ends an utterance: the reorder
/// hold plus a frame.
const STALL_GRACE_MS: u64 = 100;

/// Where an utterance lies on the call's media timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtteranceBounds {
    /// Start of the first voiced frame, ms from call start.
    pub start_ms: u64,
    /// End of the last voiced sample, ms from call start: the end of the last 2 ms block
    /// above the speech energy floor in the last voiced frame (the frame's end if none
    /// is, or the end of the audio if forced).
    pub end_ms: u64,
    /// The maximum utterance length (or the end of the pool buffer) ended it, not silence.
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
        last_voiced_end_ms: u64,
    },
}

/// What the pool buffer in hand holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holding {
    /// No buffer, or a buffer with nothing worth keeping.
    Nothing,
    /// The audio of the run (or utterance) in progress.
    Live,
    /// A finished utterance not yet handed out.
    Finished,
}

/// The endpointer of one call.
pub struct Endpointer {
    sample_rate: u64,
    frame_samples: usize,
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
    pool: UtterancePool,
    buffer: Option<PooledBuffer>,
    holding: Holding,
    audio_len: usize,
    audio_start_ms: u64,
}

impl Endpointer {
    /// An endpointer for frames of audio at `sample_rate` Hz with a private pool of one
    /// buffer.
    pub fn new(config: &EndpointerConfig, sample_rate: u32) -> Self {
        let pool = UtterancePool::for_endpointer(PRIVATE_POOL_BUFFERS, config, sample_rate);
        Self::with_pool(config, sample_rate, pool)
    }

    /// An endpointer taking its utterance buffers from `pool`. An utterance longer than
    /// the pool's buffers is forced to end when its buffer is full.
    pub fn with_pool(config: &EndpointerConfig, sample_rate: u32, pool: UtterancePool) -> Self {
        let sample_rate = u64::from(sample_rate);
        let pre_roll_ms = config.pre_roll.as_millis() as u64;
        // The pre-roll and the first voiced frame: what is copied when a run starts.
        let ring_samples = ((pre_roll_ms + FRAME_MS) * sample_rate / 1000) as usize;
        Endpointer {
            sample_rate,
            frame_samples: (FRAME_MS * sample_rate / 1000) as usize,
            min_speech_frames: frames_in(config.min_speech),
            end_silence_ms: (config.end_silence.as_millis() as u64).max(FRAME_MS),
            pre_roll_ms,
            max_utterance_ms: (config.max_utterance.as_millis() as u64).max(FRAME_MS),
            gap_tolerance_ms: config.gap_tolerance.as_millis() as u64,
            state: State::Idle,
            run_start_ms: None,
            run_voiced_frames: 0,
            run_unvoiced_ms: 0,
            ring: vec![0; ring_samples.max(1)].into_boxed_slice(),
            ring_pos: 0,
            ring_len: 0,
            expected_at_ms: None,
            pool,
            buffer: None,
            holding: Holding::Nothing,
            audio_len: 0,
            audio_start_ms: 0,
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

    /// Whether a pool buffer is in hand (during a run or an utterance: its audio is kept).
    pub fn has_buffer(&self) -> bool {
        self.buffer.is_some()
    }

    /// The pool the utterance buffers come from.
    pub fn pool(&self) -> &UtterancePool {
        &self.pool
    }

    /// Audio of the last ended utterance (pre-roll included), at the endpointer's rate.
    /// Valid until [`Self::release_utterance`] or the next run of voiced frames; empty
    /// while the caller speaks, and for an utterance that got no pool buffer.
    pub fn utterance_pcm(&self) -> &[i16] {
        match (self.state, self.holding, &self.buffer) {
            (State::Idle, Holding::Finished, Some(buffer)) => {
                buffer.as_slice().get(..self.audio_len).unwrap_or(&[])
            }
            _ => &[],
        }
    }

    /// Gives the buffer of a finished utterance back to the pool (its audio has been
    /// copied out). Does nothing during a run or an utterance.
    pub fn release_utterance(&mut self) {
        if self.holding == Holding::Finished {
            self.drop_buffer();
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
            State::Idle => {
                if self.holding == Holding::Live {
                    self.append(samples);
                }
                self.idle_frame(at_ms, voiced, samples)
            }
            State::Speaking {
                start_ms,
                last_voiced_end_ms,
            } => {
                self.append(samples);
                let last_voiced_end_ms = if voiced {
                    at_ms + self.voiced_end_ms(samples)
                } else {
                    last_voiced_end_ms
                };
                self.state = State::Speaking {
                    start_ms,
                    last_voiced_end_ms,
                };
                if frame_end.saturating_sub(last_voiced_end_ms) >= self.end_silence_ms {
                    Some(self.finish(false, frame_end))
                } else if frame_end.saturating_sub(start_ms) >= self.max_utterance_ms
                    || self.buffer_full()
                {
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

    fn idle_frame(&mut self, at_ms: u64, voiced: bool, samples: &[i16]) -> Option<EndpointEvent> {
        if self.run_unvoiced_ms > self.gap_tolerance_ms {
            self.abandon_run();
        }
        if !voiced {
            if self.run_start_ms.is_some() {
                self.run_unvoiced_ms += FRAME_MS;
                if self.run_unvoiced_ms > self.gap_tolerance_ms {
                    self.abandon_run();
                }
            }
            return None;
        }
        let run_start = *self.run_start_ms.get_or_insert(at_ms);
        self.run_voiced_frames += 1;
        self.run_unvoiced_ms = 0;
        let frame_end = at_ms + FRAME_MS;
        if self.holding != Holding::Live {
            // The first voiced frame of a run (or a retry while the pool was dry).
            self.begin_audio(run_start, frame_end);
        }
        if self.run_voiced_frames < self.min_speech_frames {
            return None;
        }
        self.state = State::Speaking {
            start_ms: run_start,
            last_voiced_end_ms: at_ms + self.voiced_end_ms(samples),
        };
        self.reset_run();
        Some(EndpointEvent::SpeechStarted { at_ms: run_start })
    }

    /// Takes a buffer (or reuses the one in hand) and copies into it the ring's audio from
    /// the pre-roll before `run_start` up to `frame_end`.
    fn begin_audio(&mut self, run_start: u64, frame_end: u64) {
        if self.buffer.is_none() {
            self.buffer = self.pool.take();
        }
        let wanted_ms = frame_end - run_start.saturating_sub(self.pre_roll_ms);
        let wanted = ((wanted_ms * self.sample_rate / 1000) as usize).min(self.ring_len);
        let Some(buffer) = self.buffer.as_mut() else {
            self.holding = Holding::Nothing;
            return;
        };
        let dst = buffer.as_mut_slice();
        let count = wanted.min(dst.len());
        let cap = self.ring.len();
        let start = (self.ring_pos + cap - count.min(cap)) % cap;
        for (i, slot) in dst.iter_mut().take(count).enumerate() {
            *slot = self.ring.get((start + i) % cap).copied().unwrap_or(0);
        }
        self.audio_len = count;
        self.audio_start_ms = frame_end - (count as u64 * 1000 / self.sample_rate);
        self.holding = Holding::Live;
    }

    /// Appends a frame to the live audio; a full buffer takes nothing more.
    fn append(&mut self, samples: &[i16]) {
        if self.holding != Holding::Live {
            return;
        }
        if let Some(buffer) = self.buffer.as_mut()
            && let Some(dst) = buffer
                .as_mut_slice()
                .get_mut(self.audio_len..self.audio_len + samples.len())
        {
            dst.copy_from_slice(samples);
            self.audio_len += samples.len();
        }
    }

    /// Whether the live buffer has no room for another frame.
    fn buffer_full(&self) -> bool {
        self.holding == Holding::Live
            && self
                .buffer
                .as_ref()
                .is_some_and(|b| b.len() - self.audio_len.min(b.len()) < self.frame_samples)
    }

    /// Where voicing ends in a voiced frame, in ms from its start: the end of the last
    /// 2 ms block whose energy is above the speech floor (the frame's end if none is).
    fn voiced_end_ms(&self, samples: &[i16]) -> u64 {
        let block = (VOICED_END_BLOCK_MS * self.sample_rate / 1000).max(1) as usize;
        let floor = block as i64 * MIN_SPEECH_RMS * MIN_SPEECH_RMS;
        let blocks = samples.len() / block;
        (0..blocks)
            .rev()
            .find(|&b| {
                samples.get(b * block..(b + 1) * block).is_some_and(|s| {
                    s.iter().map(|&x| i64::from(x) * i64::from(x)).sum::<i64>() > floor
                })
            })
            .map_or(FRAME_MS, |b| (b as u64 + 1) * VOICED_END_BLOCK_MS)
    }

    fn finish(&mut self, forced: bool, frame_end: u64) -> EndpointEvent {
        let (start_ms, last_voiced_end_ms) = match self.state {
            State::Speaking {
                start_ms,
                last_voiced_end_ms,
            } => (start_ms, last_voiced_end_ms),
            State::Idle => (frame_end, frame_end),
        };
        let end_ms = if forced {
            frame_end
        } else {
            last_voiced_end_ms
        };
        let keep_until = (end_ms + TAIL_MS).min(frame_end);
        let keep =
            (keep_until.saturating_sub(self.audio_start_ms) * self.sample_rate / 1000) as usize;
        self.audio_len = self.audio_len.min(keep);
        self.holding = if self.buffer.is_some() {
            Holding::Finished
        } else {
            Holding::Nothing
        };
        self.state = State::Idle;
        self.reset_run();
        EndpointEvent::UtteranceEnded(UtteranceBounds {
            start_ms,
            end_ms,
            forced,
        })
    }

    /// The run was noise: forget it and give its buffer back.
    fn abandon_run(&mut self) {
        self.reset_run();
        if self.holding == Holding::Live {
            self.drop_buffer();
        }
    }

    fn drop_buffer(&mut self) {
        self.buffer = None;
        self.holding = Holding::Nothing;
        self.audio_len = 0;
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

    /// A loud frame (RMS far above the speech floor) whose first `loud` samples carry
    /// the sound and the rest is digital silence.
    fn voiced_for(loud: usize) -> [i16; 160] {
        let mut f = [0i16; 160];
        for (i, s) in f.iter_mut().take(loud).enumerate() {
            *s = if i % 2 == 0 { 3000 } else { -3000 };
        }
        f
    }

    fn feed(
        ep: &mut Endpointer,
        at: u64,
        voiced: bool,
        frame: &[i16; 160],
    ) -> Option<EndpointEvent> {
        ep.handle_frame(at, voiced, frame)
    }

    #[test]
    fn silence_is_counted_from_the_last_voiced_sample() {
        let config = EndpointerConfig {
            end_silence: Duration::from_millis(610),
            ..EndpointerConfig::default()
        };
        let mut ep = Endpointer::new(&config, 8000);
        let mut events = Vec::new();
        for n in 0..20u64 {
            events.extend(feed(&mut ep, n * 20, true, &voiced_for(160)).map(|e| (n * 20, e)));
        }
        // The last voiced frame sounds for its first 7 ms only: voicing ends in the 2 ms
        // block 6-8 ms.
        events.extend(feed(&mut ep, 400, true, &voiced_for(56)).map(|e| (400, e)));
        for n in 21..60u64 {
            events.extend(feed(&mut ep, n * 20, false, &[0; 160]).map(|e| (n * 20, e)));
        }
        let bounds = UtteranceBounds {
            start_ms: 0,
            end_ms: 408,
            forced: false,
        };
        // 610 ms after 408 is 1018: the frame ending at 1020 ends the turn. Counted from
        // the end of the frame (420) it would have been the frame ending at 1040.
        assert_eq!(
            events,
            vec![
                (180, EndpointEvent::SpeechStarted { at_ms: 0 }),
                (1000, EndpointEvent::UtteranceEnded(bounds)),
            ]
        );
        // The audio keeps 200 ms of tail after the last voiced sample.
        assert_eq!(ep.utterance_pcm().len(), 608 * 8);
    }

    #[test]
    fn noise_runs_and_handed_out_utterances_give_their_buffer_back() {
        let pool = UtterancePool::for_endpointer(1, &EndpointerConfig::default(), 8000);
        let mut ep = Endpointer::with_pool(&EndpointerConfig::default(), 8000, pool.clone());
        // A short noise takes the buffer for its run, then gives it back.
        run(&mut ep, &[(true, 3)], 0);
        assert_eq!(pool.available(), 0);
        run(&mut ep, &[(false, 10)], 60);
        assert_eq!(pool.available(), 1);
        // An utterance keeps it until it is released.
        let events = run(&mut ep, &[(true, 30), (false, 40)], 260);
        assert_eq!(events.len(), 2);
        assert_eq!(pool.available(), 0);
        assert!(!ep.utterance_pcm().is_empty());
        ep.release_utterance();
        assert_eq!(pool.available(), 1);
        assert!(ep.utterance_pcm().is_empty());
        // Dropped mid-utterance, the endpointer gives it back too.
        run(&mut ep, &[(true, 30)], 2000);
        assert_eq!(pool.available(), 0);
        drop(ep);
        assert_eq!(pool.available(), 1);
    }

    #[test]
    fn a_dry_pool_still_reports_the_turn_without_audio() {
        let pool = UtterancePool::for_endpointer(1, &EndpointerConfig::default(), 8000);
        let held = pool.take().unwrap();
        let mut ep = Endpointer::with_pool(&EndpointerConfig::default(), 8000, pool.clone());
        let events = run(&mut ep, &[(true, 50), (false, 40)], 0);
        assert_eq!(events.len(), 2);
        assert!(!ep.has_buffer());
        assert!(ep.utterance_pcm().is_empty());
        drop(held);
        // The next turn gets the buffer back.
        let events = run(&mut ep, &[(false, 20), (true, 50), (false, 40)], 1800);
        assert_eq!(events.len(), 2);
        assert_eq!(ep.utterance_pcm().len(), 1500 * 8);
    }

    #[test]
    fn an_utterance_longer_than_the_buffer_is_forced_to_end_when_it_is_full() {
        let pool = UtterancePool::new(1, 8000); // 1 s
        let mut ep = Endpointer::with_pool(&EndpointerConfig::default(), 8000, pool);
        let events = run(&mut ep, &[(false, 20), (true, 35)], 0);
        let ended = events.iter().find_map(|(_, e)| match e {
            EndpointEvent::UtteranceEnded(b) => Some(*b),
            EndpointEvent::SpeechStarted { .. } => None,
        });
        let b = ended.unwrap();
        assert!(b.forced);
        // Pre-roll 300 ms (from 100) and the speech from 400 fill the 1 s buffer at 1100.
        assert_eq!(b.end_ms, 1100);
        assert_eq!(ep.utterance_pcm().len(), 1000 * 8);
    }
}
