//! The caller's audio timeline as 20 ms ticks: speech parts in order (a short last frame is
//! sent short, as Asterisk does not repacketize), pauses, then idle. Idle ticks are silence
//! frames with `transmit_silence`, nothing without. Sans-IO and allocation-free per tick.

use std::sync::Arc;
use std::time::Duration;

use crate::spec::AudioPart;

/// Samples in one 20 ms frame at 8 kHz.
pub(crate) const FRAME_SAMPLES: usize = 160;

/// What one tick produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// `n` samples of speech were written to the output buffer.
    Speech(usize),
    /// A full frame of silence is to be sent.
    Silence,
    /// Nothing is sent this tick.
    Nothing,
}

/// The caller side of one call's media.
#[derive(Debug)]
pub(crate) struct CallerFeed {
    parts: Arc<[AudioPart]>,
    transmit_silence: bool,
    index: usize,
    offset: usize,
    pause_left: Option<u64>,
}

impl CallerFeed {
    pub(crate) fn new(parts: Arc<[AudioPart]>, transmit_silence: bool) -> Self {
        CallerFeed {
            parts,
            transmit_silence,
            index: 0,
            offset: 0,
            pause_left: None,
        }
    }

    /// Skips `n` ticks of the timeline without producing them.
    pub(crate) fn skip(&mut self, n: u64) {
        let mut scratch = [0i16; FRAME_SAMPLES];
        for _ in 0..n {
            if self.is_done() {
                break;
            }
            self.poll_frame(&mut scratch);
        }
    }

    /// Whether every part has been played.
    pub(crate) fn is_done(&self) -> bool {
        self.index >= self.parts.len()
    }

    /// What the caller leg produces when it has nothing to say.
    pub(crate) fn idle(&self) -> Frame {
        if self.transmit_silence {
            Frame::Silence
        } else {
            Frame::Nothing
        }
    }

    /// Produces the next tick's frame into `out`.
    pub(crate) fn poll_frame(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> Frame {
        while let Some(part) = self.parts.get(self.index) {
            match part {
                AudioPart::Speech(samples) => {
                    let rest = samples.get(self.offset..).unwrap_or(&[]);
                    if rest.is_empty() {
                        self.index += 1;
                        self.offset = 0;
                        continue;
                    }
                    let n = rest.len().min(FRAME_SAMPLES);
                    out[..n].copy_from_slice(&rest[..n]);
                    self.offset += n;
                    if self.offset >= samples.len() {
                        self.index += 1;
                        self.offset = 0;
                    }
                    return Frame::Speech(n);
                }
                AudioPart::Pause(d) => {
                    let left = *self.pause_left.get_or_insert_with(|| ticks(*d));
                    if left == 0 {
                        self.pause_left = None;
                        self.index += 1;
                        continue;
                    }
                    self.pause_left = Some(left - 1);
                    return self.idle();
                }
            }
        }
        self.idle()
    }
}

/// Whole 20 ms ticks in `d`, rounded up.
pub(crate) fn ticks(d: Duration) -> u64 {
    let ms = d.as_millis();
    u64::try_from(ms.div_ceil(20)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_pause_speech_then_idle() {
        let a: Arc<[i16]> = (0..330).map(|i| i as i16).collect::<Vec<_>>().into();
        let parts: Arc<[AudioPart]> = vec![
            AudioPart::Speech(a),
            AudioPart::Pause(Duration::from_millis(40)),
            AudioPart::Speech(vec![7i16; 160].into()),
        ]
        .into();
        let mut f = CallerFeed::new(parts, false);
        let mut out = [0i16; FRAME_SAMPLES];
        assert_eq!(f.poll_frame(&mut out), Frame::Speech(160));
        assert_eq!(out[0], 0);
        assert_eq!(f.poll_frame(&mut out), Frame::Speech(160));
        assert_eq!(out[0], 160);
        assert_eq!(f.poll_frame(&mut out), Frame::Speech(10));
        assert_eq!(out[9], 329);
        assert_eq!(f.poll_frame(&mut out), Frame::Nothing);
        assert_eq!(f.poll_frame(&mut out), Frame::Nothing);
        assert!(!f.is_done());
        assert_eq!(f.poll_frame(&mut out), Frame::Speech(160));
        assert!(f.is_done());
        assert_eq!(f.poll_frame(&mut out), Frame::Nothing);
    }

    #[test]
    fn transmit_silence_fills_idle() {
        let mut f = CallerFeed::new(Vec::new().into(), true);
        let mut out = [0i16; FRAME_SAMPLES];
        assert_eq!(f.poll_frame(&mut out), Frame::Silence);
        assert!(f.is_done());
    }
}
