//! Puts the two sides of a call side by side: the caller's frames (as the media core
//! produced them after reordering and concealment) and the agent's (as sent) each carry
//! their start in ms from the call's start; the [`StereoAligner`] lays them on one
//! timeline and hands out 20 ms stereo frames in order. A side that says nothing (no
//! packets, the media stopped for a transfer) is silence; a side more than half a second
//! behind the other is not waited for. Memory is two fixed one-second rings.

use crate::recording::ogg_opus::FRAME_SAMPLES;

/// Samples each side's ring holds (one second at 8 kHz).
const RING: usize = 8_000;
/// How far one side may run ahead before the other is taken as silent.
const MAX_LAG: u64 = 4_000;
/// Samples per millisecond.
const PER_MS: u64 = 8;

/// Which side of the call a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The caller (left channel).
    Caller,
    /// What we sent (right channel).
    Agent,
}

/// One side's samples not yet emitted.
struct Track {
    ring: Box<[i16; RING]>,
    /// One past the latest sample written, on the shared timeline.
    written_to: u64,
}

impl Track {
    fn new() -> Self {
        Self {
            ring: Box::new([0; RING]),
            written_to: 0,
        }
    }
}

/// Two timelines in, stereo frames out.
pub struct StereoAligner {
    /// The timeline's zero, in ms from the call's start.
    origin_ms: u64,
    caller: Track,
    agent: Track,
    /// The first sample of the next frame to emit.
    cursor: u64,
    /// Frames that arrived for time already emitted.
    late: u64,
}

impl StereoAligner {
    /// A timeline starting at `origin_ms` of the call.
    pub fn new(origin_ms: u64) -> Self {
        Self {
            origin_ms,
            caller: Track::new(),
            agent: Track::new(),
            cursor: 0,
            late: 0,
        }
    }

    /// Frames dropped because their time had already been written.
    pub fn late_frames(&self) -> u64 {
        self.late
    }

    /// Adds one side's 20 ms frame starting at `at_ms` of the call; `emit` gets every
    /// stereo frame that is complete (or no longer waited for) as a result.
    pub fn push(
        &mut self,
        side: Side,
        at_ms: u64,
        pcm: &[i16; FRAME_SAMPLES],
        mut emit: impl FnMut(&[i16; FRAME_SAMPLES], &[i16; FRAME_SAMPLES]),
    ) {
        let Some(start) = at_ms.checked_sub(self.origin_ms).map(|ms| ms * PER_MS) else {
            self.late += 1;
            return;
        };
        let end = start + FRAME_SAMPLES as u64;
        // A frame wholly behind the cursor is late; one that straddles it (the first frame
        // of a re-phased talk spurt overlaps the frame before) keeps its part from the
        // cursor on.
        if end <= self.cursor {
            self.late += 1;
            return;
        }
        // Make room: emit what must go for this frame to fit in the ring.
        while end > self.cursor + RING as u64 {
            self.emit_one(&mut emit);
        }
        let track = match side {
            Side::Caller => &mut self.caller,
            Side::Agent => &mut self.agent,
        };
        let cursor = self.cursor;
        for (i, &s) in pcm.iter().enumerate() {
            let at = start + i as u64;
            if at >= cursor {
                track.ring[(at % RING as u64) as usize] = s;
            }
        }
        track.written_to = track.written_to.max(end);
        loop {
            let (a, b) = (self.caller.written_to, self.agent.written_to);
            let next = self.cursor + FRAME_SAMPLES as u64;
            let both_there = a.min(b) >= next;
            let one_far_ahead = a.max(b) >= next + MAX_LAG;
            if !(both_there || one_far_ahead) {
                break;
            }
            self.emit_one(&mut emit);
        }
    }

    /// Emits everything written so far (the shorter side padded with silence): the end.
    pub fn flush(&mut self, mut emit: impl FnMut(&[i16; FRAME_SAMPLES], &[i16; FRAME_SAMPLES])) {
        let until = self.caller.written_to.max(self.agent.written_to);
        while self.cursor < until {
            self.emit_one(&mut emit);
        }
    }

    fn emit_one(&mut self, emit: &mut impl FnMut(&[i16; FRAME_SAMPLES], &[i16; FRAME_SAMPLES])) {
        let mut left = [0i16; FRAME_SAMPLES];
        let mut right = [0i16; FRAME_SAMPLES];
        for i in 0..FRAME_SAMPLES {
            let at = ((self.cursor + i as u64) % RING as u64) as usize;
            left[i] = std::mem::take(&mut self.caller.ring[at]);
            right[i] = std::mem::take(&mut self.agent.ring[at]);
        }
        self.cursor += FRAME_SAMPLES as u64;
        emit(&left, &right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        aligner: &mut StereoAligner,
        side: Side,
        at_ms: u64,
        value: i16,
        out: &mut Vec<(i16, i16)>,
    ) {
        aligner.push(side, at_ms, &[value; FRAME_SAMPLES], |l, r| {
            out.push((l[0], r[0]))
        });
    }

    #[test]
    fn both_sides_meet_frame_by_frame() {
        let mut a = StereoAligner::new(1_000);
        let mut out = Vec::new();
        run(&mut a, Side::Agent, 1_000, 2, &mut out);
        assert!(out.is_empty(), "waits for the caller");
        run(&mut a, Side::Caller, 1_000, 1, &mut out);
        run(&mut a, Side::Caller, 1_020, 3, &mut out);
        run(&mut a, Side::Agent, 1_020, 4, &mut out);
        assert_eq!(out, vec![(1, 2), (3, 4)]);
    }

    #[test]
    fn a_silent_side_is_not_waited_for_long() {
        let mut a = StereoAligner::new(0);
        let mut out = Vec::new();
        for f in 0..40 {
            run(&mut a, Side::Agent, f * 20, 5, &mut out);
        }
        // 800 ms of agent only: everything older than the 500 ms lag went out as silence/5.
        assert_eq!(out.len(), 15);
        assert!(out.iter().all(|&(l, r)| l == 0 && r == 5));
        a.flush(|l, r| out.push((l[0], r[0])));
        assert_eq!(out.len(), 40);
    }

    #[test]
    fn late_and_early_frames_are_handled() {
        let mut a = StereoAligner::new(100);
        let mut out = Vec::new();
        run(&mut a, Side::Caller, 80, 1, &mut out);
        assert_eq!(a.late_frames(), 1, "before the origin");
        run(&mut a, Side::Caller, 100, 1, &mut out);
        run(&mut a, Side::Agent, 100, 2, &mut out);
        run(&mut a, Side::Caller, 100, 9, &mut out);
        assert_eq!(a.late_frames(), 2, "already written");
        // A jump far ahead (a gap of 5 s): the ring never overflows, the gap is silence.
        run(&mut a, Side::Agent, 5_100, 7, &mut out);
        run(&mut a, Side::Caller, 5_100, 6, &mut out);
        assert_eq!(out.first(), Some(&(1, 2)));
        assert_eq!(out.last(), Some(&(6, 7)));
        assert_eq!(out.len(), 251);
        assert!(out[1..250].iter().all(|&p| p == (0, 0)));
    }

    #[test]
    fn frames_off_the_20_ms_grid_land_where_they_belong() {
        let mut a = StereoAligner::new(0);
        let mut got = Vec::new();
        a.push(Side::Caller, 10, &[1; FRAME_SAMPLES], |l, _| {
            got.extend_from_slice(l)
        });
        a.push(Side::Agent, 0, &[0; FRAME_SAMPLES], |l, _| {
            got.extend_from_slice(l)
        });
        a.flush(|l, _| got.extend_from_slice(l));
        assert_eq!(got.len(), 2 * FRAME_SAMPLES);
        assert!(got[..80].iter().all(|&s| s == 0));
        assert!(got[80..240].iter().all(|&s| s == 1));
    }

    #[test]
    fn a_frame_straddling_the_cursor_keeps_its_part_after_it() {
        // A re-phased talk spurt: the agent's reply frame starts 8 ms after the previous
        // (silent) frame, which has already gone out with the caller's.
        let mut a = StereoAligner::new(0);
        let mut got = Vec::new();
        a.push(Side::Agent, 0, &[0; FRAME_SAMPLES], |_, r| {
            got.extend_from_slice(r)
        });
        a.push(Side::Caller, 0, &[0; FRAME_SAMPLES], |_, r| {
            got.extend_from_slice(r)
        });
        assert_eq!(got.len(), FRAME_SAMPLES);
        a.push(Side::Agent, 8, &[3; FRAME_SAMPLES], |_, r| {
            got.extend_from_slice(r)
        });
        a.flush(|_, r| got.extend_from_slice(r));
        assert_eq!(a.late_frames(), 0);
        assert_eq!(got.len(), 2 * FRAME_SAMPLES);
        // Samples 160..224 are the reply frame's samples from the cursor on.
        assert!(
            got[FRAME_SAMPLES..FRAME_SAMPLES + 224 - 160]
                .iter()
                .all(|&s| s == 3)
        );
    }
}
