//! The agent's outbound audio: a queue of clips (PCM of any length at any supported rate,
//! resampled to 8 kHz on arrival), drained as exactly one 20 ms frame per tick. Each clip
//! carries an id so the conversation side learns when it has finished playing, and
//! [`PlayoutQueue::flush`] (barge-in) reports how much of what was queued the caller heard.
//!
//! Memory: an idle queue holds no audio storage. Queueing a clip grows the storage (per
//! sentence, never per frame); the storage is freed when the last queued sample has been
//! played or the queue is flushed. A resampler (FFT plans and buffers) exists only while a
//! clip is being converted.
use std::collections::VecDeque;

use super::resample::{ResampleError, StreamResampler};
use super::{FRAME_SAMPLES, WIRE_RATE};

/// Identifies one queued clip (a sentence of the agent's reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlayoutId(pub u64);

/// A clip cut short by [`PlayoutQueue::flush`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialPlayout {
    /// The clip.
    pub id: PlayoutId,
    /// How much of it was sent, in ms.
    pub played_ms: u64,
    /// Its full length, in ms.
    pub total_ms: u64,
}

/// What a flush removed: the clip that was playing (with how much was heard) and the clips
/// that never started. Clips that finished earlier were reported by `PlayoutDone`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// The clip that was playing when the queue was flushed.
    pub interrupted: Option<PartialPlayout>,
    /// Clips that had not started, in queue order.
    pub not_started: Vec<PlayoutId>,
}

#[derive(Debug, Clone, Copy)]
struct QueuedClip {
    id: PlayoutId,
    remaining: usize,
    total: usize,
}

/// A clip's progress through playout, reported by [`PlayoutQueue::poll_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayoutProgress {
    /// Its first sample is in this frame.
    Started(PlayoutId),
    /// Its last sample is in this frame.
    Done(PlayoutId),
}

/// What one tick of the queue produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayoutTick {
    /// The frame carries agent audio (otherwise it is silence).
    pub audio: bool,
    /// The first audio frame after silence: the RTP marker bit goes on it.
    pub talk_spurt_start: bool,
}

/// The playout queue of one call.
pub struct PlayoutQueue {
    samples: VecDeque<i16>,
    clips: VecDeque<QueuedClip>,
    was_playing: bool,
}

impl Default for PlayoutQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl PlayoutQueue {
    /// An empty queue.
    pub fn new() -> Self {
        PlayoutQueue {
            samples: VecDeque::new(),
            clips: VecDeque::new(),
            was_playing: false,
        }
    }

    /// Queues a clip of `pcm` sampled at `rate` Hz. Converting the rate happens here, not
    /// per frame, with a resampler built for this clip and dropped after it. A zero-length
    /// clip completes on the next tick.
    pub fn push(&mut self, id: PlayoutId, rate: u32, pcm: &[i16]) -> Result<(), ResampleError> {
        let len = if rate == WIRE_RATE {
            self.samples.extend(pcm.iter().copied());
            pcm.len()
        } else {
            let mut resampler = StreamResampler::new(rate, WIRE_RATE)?;
            let mut converted = Vec::new();
            resampler.process_clip(pcm, &mut converted)?;
            self.samples.extend(converted.iter().copied());
            converted.len()
        };
        self.clips.push_back(QueuedClip {
            id,
            remaining: len,
            total: len,
        });
        Ok(())
    }

    /// Whether agent audio is queued or the last tick played some.
    pub fn is_playing(&self) -> bool {
        self.was_playing || !self.samples.is_empty()
    }

    /// Queued audio not yet played, in samples at 8 kHz.
    pub fn queued_samples(&self) -> usize {
        self.samples.len()
    }

    /// Whether the next tick starts a talk spurt: audio is queued and the last tick played
    /// none.
    pub fn talk_spurt_pending(&self) -> bool {
        !self.was_playing && !self.samples.is_empty()
    }

    /// Bytes of audio storage held (0 for an idle queue).
    pub fn storage_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<i16>()
    }

    /// Fills `frame` with the next 20 ms (silence when nothing is queued) and reports every
    /// clip whose first or last sample is in this frame. Does not allocate.
    pub fn poll_frame(
        &mut self,
        frame: &mut [i16; FRAME_SAMPLES],
        mut progress: impl FnMut(PlayoutProgress),
    ) -> PlayoutTick {
        let available = self.samples.len().min(FRAME_SAMPLES);
        for (dst, src) in frame.iter_mut().zip(self.samples.drain(..available)) {
            *dst = src;
        }
        for dst in frame.iter_mut().skip(available) {
            *dst = 0;
        }
        if available > 0 && self.samples.is_empty() {
            // The reply has been played: free its storage (no allocation here).
            self.samples = VecDeque::new();
        }
        let mut consumed = available;
        while let Some(clip) = self.clips.front_mut() {
            let step = consumed.min(clip.remaining);
            if clip.remaining == clip.total && (step > 0 || clip.total == 0) {
                progress(PlayoutProgress::Started(clip.id));
            }
            clip.remaining -= step;
            consumed -= step;
            if clip.remaining == 0 {
                progress(PlayoutProgress::Done(clip.id));
                self.clips.pop_front();
            } else {
                break;
            }
        }
        let audio = available > 0;
        let tick = PlayoutTick {
            audio,
            talk_spurt_start: audio && !self.was_playing,
        };
        self.was_playing = audio;
        tick
    }

    /// Drops everything queued (barge-in) and reports what the caller heard of it.
    pub fn flush(&mut self) -> FlushReport {
        let mut report = FlushReport::default();
        let mut clips = self.clips.drain(..);
        if let Some(first) = clips.next() {
            if first.remaining < first.total {
                report.interrupted = Some(PartialPlayout {
                    id: first.id,
                    played_ms: samples_to_ms(first.total - first.remaining),
                    total_ms: samples_to_ms(first.total),
                });
            } else {
                report.not_started.push(first.id);
            }
        }
        report.not_started.extend(clips.map(|c| c.id));
        self.samples = VecDeque::new();
        report
    }
}

fn samples_to_ms(samples: usize) -> u64 {
    samples as u64 * 1000 / u64::from(WIRE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_whole_frames_and_reports_finished_clips() {
        let mut q = PlayoutQueue::new();
        q.push(PlayoutId(1), 8000, &[7; 200]).unwrap();
        q.push(PlayoutId(2), 8000, &[9; 100]).unwrap();
        let mut frame = [0; FRAME_SAMPLES];
        let mut seen = Vec::new();
        let t1 = q.poll_frame(&mut frame, |p| seen.push(p));
        assert!(t1.audio && t1.talk_spurt_start);
        assert_eq!(seen, vec![PlayoutProgress::Started(PlayoutId(1))]);
        seen.clear();
        let t2 = q.poll_frame(&mut frame, |p| seen.push(p));
        assert!(t2.audio && !t2.talk_spurt_start);
        assert_eq!(
            seen,
            vec![
                PlayoutProgress::Done(PlayoutId(1)),
                PlayoutProgress::Started(PlayoutId(2)),
                PlayoutProgress::Done(PlayoutId(2))
            ]
        );
        assert_eq!(&frame[..40], &[7; 40]);
        assert_eq!(&frame[40..140], &[9; 100]);
        assert_eq!(&frame[140..], &[0; 20]);
        let t3 = q.poll_frame(&mut frame, |p| seen.push(p));
        assert!(!t3.audio);
        assert_eq!(frame, [0; FRAME_SAMPLES]);
    }

    #[test]
    fn flush_reports_what_was_heard() {
        let mut q = PlayoutQueue::new();
        q.push(PlayoutId(1), 16000, &[1000; 16000]).unwrap(); // 1 s
        q.push(PlayoutId(2), 8000, &[5; 800]).unwrap();
        let mut frame = [0; FRAME_SAMPLES];
        for _ in 0..10 {
            q.poll_frame(&mut frame, |_| {});
        }
        let report = q.flush();
        assert_eq!(
            report,
            FlushReport {
                interrupted: Some(PartialPlayout {
                    id: PlayoutId(1),
                    played_ms: 200,
                    total_ms: 1000
                }),
                not_started: vec![PlayoutId(2)],
            }
        );
        assert_eq!(q.queued_samples(), 0);
    }
}
