//! RTP in: accepts datagrams only from Asterisk's address and with the call's payload
//! type, follows SSRC changes, reorders within a small window, drops duplicates, conceals
//! losses, fills the sender's pauses, and re-cuts the decoded audio into 20 ms frames on a
//! media timeline measured from the start of the call. No allocation after construction.
//!
//! Decoded frames wait in a small ring until polled, sized from the jitter hold (what one
//! release can produce when the driver drains after each datagram); a run of silent
//! filler frames (a sender's pause, the end of a concealment) takes one slot however
//! long it is.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtp_rs::RtpReader;

use super::config::{JitterConfig, frames_in};
use super::g711::Law;
use super::reorder::{BufferedPacket, Insert, PopBefore, ReorderWindow, WINDOW};
use super::stats::{DropReason, MediaStats};
use super::{FRAME_MS, FRAME_SAMPLES, MAX_PAYLOAD, WIRE_RATE};

/// Slots of the ready ring beyond the frames of the jitter hold: the reorder window's
/// packets, a concealment fade (3 frames), a partial frame and a silent run.
const READY_EXTRA: usize = WINDOW + 6;
/// A sequence jump this large (either way) is a new stream, not loss or reordering, once
/// the packet after it confirms it.
const SEQ_RESTART: i32 = 1000;
/// A packet this far ahead of the next expected one (320 ms of 20 ms packets, twice the
/// reorder window) gives up on the packets before it only once the packet after it
/// confirms it.
const JUMP_AHEAD: i32 = 2 * WINDOW as i32;
/// Concealment fades the last received audio out over this many samples (60 ms).
const CONCEAL_FADE: u32 = 480;

/// One 20 ms frame of caller audio on the call's media timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundFrame {
    /// Start of the frame, in ms from the start of the call.
    pub at_ms: u64,
    /// How many of the 160 samples were synthesised (concealment, pause fill, padding).
    pub filled_samples: u16,
    /// The G.711 code words (as received, or encoded from the synthesised samples).
    pub codes: [u8; FRAME_SAMPLES],
    /// The decoded 16-bit samples.
    pub pcm: [i16; FRAME_SAMPLES],
}

impl InboundFrame {
    const EMPTY: InboundFrame = InboundFrame {
        at_ms: 0,
        filled_samples: 0,
        codes: [0; FRAME_SAMPLES],
        pcm: [0; FRAME_SAMPLES],
    };
}

/// A slot of the ready ring: a frame, and how many identical silent frames follow it.
#[derive(Debug, Clone, Copy)]
struct Ready {
    frame: InboundFrame,
    /// Filler frames of silence right after `frame` (each 20 ms later); only a silent
    /// filler frame repeats.
    repeats: u32,
}

impl Ready {
    const EMPTY: Ready = Ready {
        frame: InboundFrame::EMPTY,
        repeats: 0,
    };
}

#[derive(Debug, Clone, Copy)]
struct StreamState {
    ssrc: u32,
    /// RTP timestamp the next released packet should carry if there is no gap.
    next_ts: Option<u32>,
}

/// How a run of synthesised samples is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// The sender paused on purpose: silence.
    Silence,
    /// Packets were lost: fade out a repetition of the last audio.
    Conceal,
}

/// The inbound half of a call's RTP.
pub struct InboundStream {
    law: Law,
    remote: SocketAddr,
    call_start: Instant,
    max_hold: Duration,
    max_fill_samples: u32,
    stream: Option<StreamState>,
    /// After a packet far from the stream's sequence: the sequence number that, arriving
    /// next, confirms the jump as a new stream (RFC 3550 A.1's `bad_seq`).
    jump_confirm: Option<u16>,
    window: ReorderWindow,
    scratch: BufferedPacket,
    assembling: InboundFrame,
    assembled: usize,
    /// Media-timeline position (samples since call start) of the next appended sample.
    timeline: u64,
    last_pcm: [i16; FRAME_SAMPLES],
    last_pos: usize,
    conceal_run: u32,
    ready: Box<[Ready]>,
    ready_head: usize,
    ready_len: usize,
}

impl InboundStream {
    /// A stream accepting `law` from `remote` only; `call_start` is time zero of the timeline.
    pub fn new(law: Law, remote: SocketAddr, call_start: Instant, jitter: &JitterConfig) -> Self {
        let max_fill_samples =
            (jitter.max_fill.as_millis() as u64 * u64::from(WIRE_RATE) / 1000) as u32;
        let ready_capacity = frames_in(jitter.max_hold) as usize + READY_EXTRA;
        InboundStream {
            law,
            remote,
            call_start,
            max_hold: jitter.max_hold,
            max_fill_samples,
            stream: None,
            jump_confirm: None,
            window: ReorderWindow::new(),
            scratch: BufferedPacket {
                seq: 0,
                timestamp: 0,
                arrived: call_start,
                len: 0,
                payload: [0; MAX_PAYLOAD],
            },
            assembling: InboundFrame::EMPTY,
            assembled: 0,
            timeline: 0,
            last_pcm: [0; FRAME_SAMPLES],
            last_pos: 0,
            conceal_run: 0,
            ready: vec![Ready::EMPTY; ready_capacity].into_boxed_slice(),
            ready_head: 0,
            ready_len: 0,
        }
    }

    /// The only address RTP is accepted from.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// The SSRC currently followed, once a packet was accepted.
    pub fn ssrc(&self) -> Option<u32> {
        self.stream.map(|s| s.ssrc)
    }

    /// Takes one datagram that arrived at `now` from `src`. `Err` says why it was dropped
    /// (already counted in `stats`). Never panics, whatever the bytes.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        src: SocketAddr,
        datagram: &[u8],
        stats: &mut MediaStats,
    ) -> Result<(), DropReason> {
        stats.packets_in += 1;
        let result = self.accept(now, src, datagram, stats);
        if let Err(reason) = result {
            stats.count_drop(reason);
        }
        result
    }

    fn accept(
        &mut self,
        now: Instant,
        src: SocketAddr,
        datagram: &[u8],
        stats: &mut MediaStats,
    ) -> Result<(), DropReason> {
        if src != self.remote {
            return Err(DropReason::WrongSource);
        }
        let rtp = RtpReader::new(datagram).map_err(|_| DropReason::Malformed)?;
        if rtp.payload_type() != self.law.payload_type() {
            return Err(DropReason::WrongPayloadType);
        }
        let payload = rtp.payload();
        if payload.is_empty() {
            return Err(DropReason::EmptyPayload);
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(DropReason::Oversized);
        }
        let seq = u16::from(rtp.sequence_number());
        let ssrc = rtp.ssrc();
        match self.stream {
            None => self.start_stream(ssrc, seq),
            Some(state) if state.ssrc != ssrc => {
                stats.ssrc_changes += 1;
                stats.resyncs += 1;
                self.flush_window(stats);
                self.start_stream(ssrc, seq);
            }
            Some(_) => {
                let d = self.window.distance(seq);
                let restart = d >= SEQ_RESTART || d <= -SEQ_RESTART;
                if restart || d >= JUMP_AHEAD {
                    // Trusted only once the packet after it follows (RFC 3550 A.1): a
                    // stray packet must not throw the packets in between away.
                    if self.jump_confirm != Some(seq) {
                        self.jump_confirm = Some(seq.wrapping_add(1));
                        return Err(DropReason::SequenceJump);
                    }
                    self.jump_confirm = None;
                }
                if restart {
                    stats.resyncs += 1;
                    self.flush_window(stats);
                    self.start_stream(ssrc, seq);
                }
            }
        }
        self.scratch.seq = seq;
        self.scratch.timestamp = rtp.timestamp();
        self.scratch.arrived = now;
        self.scratch.len = payload.len();
        if let Some(dst) = self.scratch.payload.get_mut(..payload.len()) {
            dst.copy_from_slice(payload);
        }
        let mut outcome = self.window.insert(&self.scratch);
        if outcome == Insert::TooFarAhead {
            let target = seq.wrapping_sub(WINDOW as u16 - 1);
            self.release_before(target, stats);
            outcome = self.window.insert(&self.scratch);
        }
        match outcome {
            Insert::Stored => {
                stats.packets_accepted += 1;
                self.release_ready(stats);
                Ok(())
            }
            Insert::Duplicate => Err(DropReason::Duplicate),
            Insert::Late | Insert::TooFarAhead => Err(DropReason::Late),
        }
    }

    /// Releases packets whose missing predecessors waited longer than the hold time, then
    /// returns the next complete frame, if any.
    pub fn poll_frame(&mut self, now: Instant, stats: &mut MediaStats) -> Option<InboundFrame> {
        self.release_overdue(now, stats);
        if self.ready_len == 0 {
            return None;
        }
        let cap = self.ready.len();
        let slot = self.ready.get_mut(self.ready_head)?;
        let frame = slot.frame;
        if slot.repeats > 0 {
            slot.repeats -= 1;
            slot.frame.at_ms += FRAME_MS;
        } else {
            self.ready_head = (self.ready_head + 1) % cap;
            self.ready_len -= 1;
        }
        Some(frame)
    }

    /// When a held packet stops waiting for a missing one (the next call to
    /// [`Self::poll_frame`] after this releases it).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.window.held() > 0 && !self.window.has_next() {
            self.window.earliest_arrival().map(|t| t + self.max_hold)
        } else {
            None
        }
    }

    fn start_stream(&mut self, ssrc: u32, seq: u16) {
        self.stream = Some(StreamState {
            ssrc,
            next_ts: None,
        });
        self.window.reset(seq);
    }

    fn release_overdue(&mut self, now: Instant, stats: &mut MediaStats) {
        while let Some(deadline) = self.poll_timeout() {
            if deadline > now {
                break;
            }
            match self.window.pop_oldest() {
                Some((packet, skipped)) => self.release(&packet, skipped, stats),
                None => break,
            }
            self.release_ready(stats);
        }
    }

    fn release_ready(&mut self, stats: &mut MediaStats) {
        while let Some(packet) = self.window.pop_ready() {
            self.release(&packet, 0, stats);
        }
    }

    fn release_before(&mut self, target: u16, stats: &mut MediaStats) {
        loop {
            match self.window.pop_before(target) {
                PopBefore::Packet(packet, skipped) => self.release(&packet, skipped, stats),
                PopBefore::Done(skipped) => {
                    stats.packets_lost += u64::from(skipped);
                    break;
                }
            }
        }
    }

    fn flush_window(&mut self, stats: &mut MediaStats) {
        while let Some((packet, skipped)) = self.window.pop_oldest() {
            self.release(&packet, skipped, stats);
        }
    }

    /// Appends a released packet to the timeline, filling any timestamp gap before it.
    fn release(&mut self, packet: &BufferedPacket, skipped: u16, stats: &mut MediaStats) {
        stats.packets_lost += u64::from(skipped);
        let Some(state) = self.stream.as_mut() else {
            return;
        };
        match state.next_ts {
            None => self.reanchor(packet.arrived, stats),
            Some(expected) => {
                let gap = packet.timestamp.wrapping_sub(expected) as i32;
                let limit = self.max_fill_samples as i32;
                if gap > limit || gap < -limit {
                    stats.resyncs += 1;
                    self.reanchor(packet.arrived, stats);
                } else if gap > 0 {
                    let fill = if skipped > 0 {
                        stats.samples_concealed += gap as u64;
                        Fill::Conceal
                    } else {
                        stats.samples_pause_filled += gap as u64;
                        Fill::Silence
                    };
                    self.fill(gap as u32, fill, stats);
                }
            }
        }
        let len = packet.len.min(MAX_PAYLOAD);
        if let Some(state) = self.stream.as_mut() {
            state.next_ts = Some(packet.timestamp.wrapping_add(len as u32));
        }
        self.conceal_run = 0;
        for &code in packet.payload() {
            let sample = self.law.decode(code);
            if let Some(slot) = self.last_pcm.get_mut(self.last_pos) {
                *slot = sample;
            }
            self.last_pos = (self.last_pos + 1) % FRAME_SAMPLES;
            self.push_sample(code, sample, false, stats);
        }
    }

    /// Moves the timeline to the arrival time (never backwards), padding the frame being
    /// assembled so that no frame straddles the jump.
    fn reanchor(&mut self, arrived: Instant, stats: &mut MediaStats) {
        if self.assembled > 0 {
            let missing = (FRAME_SAMPLES - self.assembled) as u32;
            self.fill(missing, Fill::Silence, stats);
        }
        let elapsed = arrived.saturating_duration_since(self.call_start);
        let wall = elapsed.as_micros() as u64 * u64::from(WIRE_RATE) / 1_000_000;
        self.timeline = self.timeline.max(wall);
    }

    fn fill(&mut self, samples: u32, fill: Fill, stats: &mut MediaStats) {
        let silence_code = self.law.silence();
        for _ in 0..samples {
            let (code, sample) = match fill {
                Fill::Silence => (silence_code, 0),
                Fill::Conceal => {
                    if self.conceal_run >= CONCEAL_FADE {
                        (silence_code, 0)
                    } else {
                        let index = (self.last_pos + self.conceal_run as usize) % FRAME_SAMPLES;
                        let last = i32::from(self.last_pcm.get(index).copied().unwrap_or(0));
                        let gain = (CONCEAL_FADE - self.conceal_run) as i32;
                        let sample = (last * gain / CONCEAL_FADE as i32) as i16;
                        self.conceal_run += 1;
                        (self.law.encode(sample), sample)
                    }
                }
            };
            self.push_sample(code, sample, true, stats);
        }
    }

    fn push_sample(&mut self, code: u8, sample: i16, filled: bool, stats: &mut MediaStats) {
        if self.assembled == 0 {
            self.assembling.at_ms = self.timeline * 1000 / u64::from(WIRE_RATE);
            self.assembling.filled_samples = 0;
        }
        if let (Some(c), Some(p)) = (
            self.assembling.codes.get_mut(self.assembled),
            self.assembling.pcm.get_mut(self.assembled),
        ) {
            *c = code;
            *p = sample;
        }
        if filled {
            self.assembling.filled_samples += 1;
        }
        self.assembled += 1;
        self.timeline += 1;
        if self.assembled == FRAME_SAMPLES {
            self.assembled = 0;
            self.push_ready(stats);
        }
    }

    fn push_ready(&mut self, stats: &mut MediaStats) {
        let cap = self.ready.len();
        let silent = self.is_silent_filler(&self.assembling);
        if silent && self.ready_len > 0 {
            let last = (self.ready_head + self.ready_len - 1) % cap;
            let at_ms = self.assembling.at_ms;
            let continues = self
                .ready
                .get(last)
                .is_some_and(|slot| self.silent_run_continues(slot, at_ms));
            if continues && let Some(slot) = self.ready.get_mut(last) {
                slot.repeats += 1;
                return;
            }
        }
        if self.ready_len == cap {
            let dropped = self.ready.get(self.ready_head).map_or(1, |r| 1 + r.repeats);
            self.ready_head = (self.ready_head + 1) % cap;
            self.ready_len -= 1;
            stats.inbound_frames_overflowed += u64::from(dropped);
        }
        let tail = (self.ready_head + self.ready_len) % cap;
        if let Some(slot) = self.ready.get_mut(tail) {
            *slot = Ready {
                frame: self.assembling,
                repeats: 0,
            };
        }
        self.ready_len += 1;
    }

    /// A frame made up entirely of synthesised digital silence.
    fn is_silent_filler(&self, frame: &InboundFrame) -> bool {
        let silence = self.law.silence();
        usize::from(frame.filled_samples) == FRAME_SAMPLES
            && frame.codes.iter().all(|&c| c == silence)
            && frame.pcm.iter().all(|&s| s == 0)
    }

    /// Whether a silent filler frame at `at_ms` is the next of `slot`'s silent run.
    fn silent_run_continues(&self, slot: &Ready, at_ms: u64) -> bool {
        slot.repeats < u32::MAX
            && self.is_silent_filler(&slot.frame)
            && slot.frame.at_ms + FRAME_MS * (u64::from(slot.repeats) + 1) == at_ms
    }
}
