//! [`MediaCore`]: the sans-IO media state machine of one call. It takes datagrams, agent
//! audio, commands and the current time; it hands out datagrams to send (paced on absolute
//! 20 ms deadlines), decoded caller frames and events. No sockets, tasks or clocks inside.
//!
//! Driving it: after any input (a datagram, agent audio, a flush) or when the deadline of
//! [`MediaCore::poll_timeout`] has passed, call [`MediaCore::drain`] with the current time.
//! It runs the time-driven work, then hands out — in this order — every packet due, the
//! events so far, and each decoded caller frame followed by the events it caused. Then
//! sleep until the next [`MediaCore::poll_timeout`]. The `poll_*` methods it is made of stay
//! public for tests that look at one output alone.
//!
//! Pacing: frames go out every 20 ms, silence while the agent is quiet (Asterisk relays
//! only what it gets, so the stream never stalls). When agent audio is queued while
//! nothing plays, the first frame of that talk spurt leaves as soon as the core is drained
//! (at least [`crate::config::OutboundConfig::min_frame_gap`] after the frame before) and
//! the phase moves there: the following frames are due every 20 ms from it. The RTP
//! timestamp stays continuous (+160 per packet: the previous frame's 20 ms of media are
//! not cut short) and the marker bit is set on the spurt's first packet.
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::barge_in::BargeInDetector;
use super::config::{MediaConfig, OutboundConfig};
use super::endpointer::{EndpointEvent, Endpointer, UtteranceBounds};
use super::inbound::{InboundFrame, InboundStream};
use super::outbound::{RtpIdentity, RtpSender};
use super::playout::{FlushReport, PlayoutId, PlayoutProgress, PlayoutQueue};
use super::resample::ResampleError;
use super::stats::{DropReason, MediaStats};
use super::utterance_pool::{PRIVATE_POOL_BUFFERS, UtterancePool};
use super::vad::{MIN_SPEECH_RMS, VoiceDetector};
use super::{FRAME_DURATION, FRAME_MS, FRAME_SAMPLES, OUT_PACKET_LEN};

/// A late pacer catches up by sending at most this many overdue frames back to back; if it
/// is later than that, the overdue frames are skipped (timestamp still follows the clock).
const MAX_CATCH_UP_FRAMES: u64 = 10;
/// Frames quieter than this (sum of squares of a 20 ms frame at [`MIN_SPEECH_RMS`]) are
/// never speech.
const MIN_SPEECH_ENERGY: i64 = FRAME_SAMPLES as i64 * MIN_SPEECH_RMS * MIN_SPEECH_RMS;
/// Events the core can hold between drains without allocating.
const EVENT_CAPACITY: usize = 32;

/// Something the conversation side needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreEvent {
    /// The caller started speaking (start of the voiced run, ms from call start).
    SpeechStarted {
        /// ms from call start.
        at_ms: u64,
    },
    /// The caller's turn ended. Its audio is the `pcm` of [`Output::Event`] (or
    /// [`MediaCore::utterance_pcm`] for the `poll_*` path). The audio is **empty** when
    /// the utterance pool had no buffer for this utterance: the turn's bounds are right,
    /// its audio was not kept, and [`MediaStats::utterance_pool_exhausted`] counted it (an
    /// utterance that got a buffer is never empty: it holds at least the minimum speech).
    Utterance(UtteranceBounds),
    /// The caller talked over the agent. With auto-flush the queue was already flushed and
    /// `flushed` says what was heard; otherwise `flushed` is `None`.
    BargeIn {
        /// Start of the caller's speech, ms from call start.
        at_ms: u64,
        /// What the automatic flush removed.
        flushed: Option<FlushReport>,
    },
    /// The first frame of a queued clip went out.
    PlayoutStarted {
        /// The clip.
        id: PlayoutId,
    },
    /// A queued clip has been sent completely.
    PlayoutDone {
        /// The clip.
        id: PlayoutId,
    },
}

/// One output of [`MediaCore::drain`].
#[derive(Debug)]
pub enum Output<'a> {
    /// A packet to send to Asterisk.
    Transmit {
        /// The whole RTP packet; its payload is the frame's G.711 codes.
        packet: &'a [u8],
        /// Where the frame sits on the call's timeline, ms from the call's start: when it
        /// is due (its send time). Strictly increasing; 20 ms apart except at a re-phased
        /// talk spurt, whose first frame may follow the one before by less (down to
        /// [`crate::config::OutboundConfig::min_frame_gap`]), so the previous frame's
        /// 20 ms and this one overlap on the timeline.
        at_ms: u64,
    },
    /// Something happened; for an utterance, `pcm` is its audio (8 kHz).
    Event {
        /// The event.
        event: CoreEvent,
        /// The utterance's audio with [`CoreEvent::Utterance`], empty otherwise.
        pcm: &'a [i16],
    },
    /// A decoded caller frame, after VAD, endpointing and barge-in saw it.
    Inbound(&'a InboundFrame),
}

/// The media state machine of one call.
pub struct MediaCore {
    call_start: Instant,
    inbound: InboundStream,
    vad: VoiceDetector,
    endpointer: Endpointer,
    barge_in: BargeInDetector,
    auto_flush: bool,
    playout: PlayoutQueue,
    sender: RtpSender,
    law: super::g711::Law,
    outbound: OutboundConfig,
    /// The current send phase: frame `n` of it is due `phase_origin_ms + n × 20` ms after
    /// the call's start.
    phase_origin_ms: u64,
    /// Frames sent (or skipped) on the current phase.
    phase_frames: u64,
    /// Timeline position of the last frame sent.
    last_sent_ms: Option<u64>,
    out_pcm: [i16; FRAME_SAMPLES],
    out_codes: [u8; FRAME_SAMPLES],
    events: VecDeque<CoreEvent>,
    stats: MediaStats,
}

impl MediaCore {
    /// A core for a call whose media starts at `now` and whose RTP comes from (and goes to)
    /// `remote`, with a private utterance pool of one buffer. Outbound frame `n` is due at
    /// `now + n × 20 ms` (until a talk spurt re-phases it).
    pub fn new(
        config: &MediaConfig,
        remote: SocketAddr,
        now: Instant,
        identity: RtpIdentity,
    ) -> Result<Self, ResampleError> {
        let pool = UtterancePool::for_endpointer(
            PRIVATE_POOL_BUFFERS,
            &config.endpointer,
            super::WIRE_RATE,
        );
        Self::with_pool(config, remote, now, identity, pool)
    }

    /// As [`Self::new`], the utterance buffers coming from `pool` (shared with other calls,
    /// on any thread). A buffer is taken at the first voiced frame of a caller's run and
    /// given back once the utterance has been handed out by [`Self::drain`] (or the run
    /// was noise, or the core is dropped).
    pub fn with_pool(
        config: &MediaConfig,
        remote: SocketAddr,
        now: Instant,
        identity: RtpIdentity,
        pool: UtterancePool,
    ) -> Result<Self, ResampleError> {
        Ok(MediaCore {
            call_start: now,
            inbound: InboundStream::new(config.law, remote, now, &config.jitter),
            vad: VoiceDetector::new(config.vad_mode),
            endpointer: Endpointer::with_pool(&config.endpointer, super::WIRE_RATE, pool),
            barge_in: BargeInDetector::new(&config.barge_in),
            auto_flush: config.barge_in.auto_flush,
            playout: PlayoutQueue::new(),
            sender: RtpSender::new(config.law, identity),
            law: config.law,
            outbound: config.outbound.clone(),
            phase_origin_ms: 0,
            phase_frames: 0,
            last_sent_ms: None,
            out_pcm: [0; FRAME_SAMPLES],
            out_codes: [0; FRAME_SAMPLES],
            events: VecDeque::with_capacity(EVENT_CAPACITY),
            stats: MediaStats::default(),
        })
    }

    // ---- getters ----

    /// The counters.
    pub fn stats(&self) -> &MediaStats {
        &self.stats
    }

    /// Time zero of the call's media timeline.
    pub fn call_start(&self) -> Instant {
        self.call_start
    }

    /// Audio of the last [`CoreEvent::Utterance`], 8 kHz, for the `poll_*` path. Valid
    /// until [`Self::release_utterance`], the next [`Self::drain`] or the caller's next
    /// run of voiced frames ([`Self::drain`] hands it out in the event and then gives its
    /// buffer back to the pool itself).
    pub fn utterance_pcm(&self) -> &[i16] {
        self.endpointer.utterance_pcm()
    }

    /// The pool the utterance buffers come from.
    pub fn utterance_pool(&self) -> &UtterancePool {
        self.endpointer.pool()
    }

    /// Gives the buffer of the last utterance back to the pool (for the `poll_*` path, once
    /// [`Self::utterance_pcm`] has been copied).
    pub fn release_utterance(&mut self) {
        self.endpointer.release_utterance();
    }

    /// Whether agent audio is playing or queued.
    pub fn is_playing(&self) -> bool {
        self.playout.is_playing()
    }

    /// The SSRC of our outbound packets.
    pub fn outbound_ssrc(&self) -> u32 {
        self.sender.ssrc()
    }

    // ---- input ----

    /// One datagram that arrived at `now` from `src`. `Err` says why it was dropped (it is
    /// counted either way). Never panics.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        src: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        self.inbound
            .handle_datagram(now, src, datagram, &mut self.stats)
    }

    /// Queues agent audio `pcm` at `rate` Hz under `id`.
    pub fn handle_play(
        &mut self,
        id: PlayoutId,
        rate: u32,
        pcm: &[i16],
    ) -> Result<(), ResampleError> {
        self.playout.push(id, rate, pcm)
    }

    /// Flushes the playout queue (barge-in decided elsewhere, or the agent changed its mind).
    pub fn handle_flush(&mut self) -> FlushReport {
        self.playout.flush()
    }

    /// Changes the silence that ends a caller's turn.
    pub fn set_end_silence(&mut self, end_silence: Duration) {
        self.endpointer.set_end_silence(end_silence);
    }

    /// Time-driven work: ends an utterance whose stream stopped.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now_ms = self.ms_since_start(now);
        if let Some(event) = self.endpointer.handle_timeout(now_ms) {
            self.push_endpoint_event(event);
        }
    }

    // ---- output ----

    /// The next outbound packet if one is due at `now`, written into `out`; returns its
    /// length. Frame `n` of the current phase is due at `call_start + origin + n × 20 ms`;
    /// the first frame of a talk spurt may re-phase (see the module docs). Does not
    /// allocate.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8; OUT_PACKET_LEN]) -> Option<usize> {
        let due = self.next_transmit();
        if now < due {
            return None;
        }
        if now < self.regular_due() {
            // A talk spurt starts before the old phase's next tick: move the phase to now
            // (whole ms of the timeline, never closer to the previous frame than the gap).
            self.phase_origin_ms = self.ms_since_start(now).max(self.ms_since_start(due));
            self.phase_frames = 0;
        }
        let due = self.regular_due();
        let behind = (now.duration_since(due).as_micros() / FRAME_DURATION.as_micros()) as u64;
        if behind > MAX_CATCH_UP_FRAMES {
            let skip = behind - MAX_CATCH_UP_FRAMES;
            self.phase_frames += skip;
            self.sender.skip_frames(skip as u32);
            self.stats.outbound_frames_skipped += skip;
        }
        let at_ms = self.phase_origin_ms + self.phase_frames * FRAME_MS;
        let events = &mut self.events;
        let tick = self
            .playout
            .poll_frame(&mut self.out_pcm, |progress| match progress {
                PlayoutProgress::Started(id) => events.push_back(CoreEvent::PlayoutStarted { id }),
                PlayoutProgress::Done(id) => events.push_back(CoreEvent::PlayoutDone { id }),
            });
        if tick.audio {
            self.law.encode_into(&self.out_pcm, &mut self.out_codes);
        } else {
            self.out_codes = [self.law.silence(); FRAME_SAMPLES];
        }
        let len = self
            .sender
            .write_packet(tick.talk_spurt_start, &self.out_codes, out);
        self.phase_frames += 1;
        self.last_sent_ms = Some(at_ms);
        self.stats.packets_out += 1;
        Some(len)
    }

    /// When the next outbound frame is due: the next tick of the current phase, or — when
    /// agent audio waits to start a talk spurt — as soon as the gap after the previous
    /// frame allows.
    pub fn next_transmit(&self) -> Instant {
        let regular = self.regular_due();
        match self.last_sent_ms {
            Some(last)
                if self.outbound.rephase_talk_spurts && self.playout.talk_spurt_pending() =>
            {
                let gap = (self.outbound.min_frame_gap.as_millis() as u64).max(1);
                regular.min(self.call_start + Duration::from_millis(last + gap))
            }
            _ => regular,
        }
    }

    /// The next tick of the current phase.
    fn regular_due(&self) -> Instant {
        self.call_start + Duration::from_millis(self.phase_origin_ms + self.phase_frames * FRAME_MS)
    }

    /// Where the last frame sent sits on the call's timeline (its `at_ms`).
    pub fn last_transmit_ms(&self) -> Option<u64> {
        self.last_sent_ms
    }

    /// The next decoded caller frame, after running it through VAD, the endpointer and the
    /// barge-in detector (their events go to [`Self::poll_event`]). Does not allocate.
    pub fn poll_inbound(&mut self, now: Instant) -> Option<InboundFrame> {
        let frame = self.inbound.poll_frame(now, &mut self.stats)?;
        let voiced = frame.filled_samples < FRAME_SAMPLES as u16
            && frame_energy(&frame.pcm) > MIN_SPEECH_ENERGY
            && self.vad.is_speech(&frame.pcm);
        if let Some(event) = self
            .endpointer
            .handle_frame(frame.at_ms, voiced, &frame.pcm)
        {
            if matches!(event, EndpointEvent::SpeechStarted { .. }) && !self.endpointer.has_buffer()
            {
                self.stats.utterance_pool_exhausted += 1;
            }
            self.push_endpoint_event(event);
        }
        let playing = self.playout.is_playing();
        if let Some(at_ms) = self.barge_in.handle_frame(frame.at_ms, voiced, playing) {
            let flushed = self.auto_flush.then(|| self.playout.flush());
            self.events.push_back(CoreEvent::BargeIn { at_ms, flushed });
        }
        Some(frame)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<CoreEvent> {
        self.events.pop_front()
    }

    /// Everything due at `now`, in the documented order, through `output`: time-driven work,
    /// the packets due (written into `out`), the events, then each decoded caller frame and
    /// the events it caused, and last the end of an utterance those frames left already
    /// stalled — so [`Self::poll_timeout`] is after `now` when it returns. An utterance's
    /// pool buffer goes back to the pool once its event has been handed out. Does not
    /// allocate. The one way the driver, the tests and the bench run the core.
    pub fn drain(
        &mut self,
        now: Instant,
        out: &mut [u8; OUT_PACKET_LEN],
        mut output: impl FnMut(Output<'_>),
    ) {
        self.handle_timeout(now);
        while let Some(len) = self.poll_transmit(now, out) {
            let at_ms = self.last_sent_ms.unwrap_or(0);
            output(Output::Transmit {
                packet: out.get(..len).unwrap_or(&[]),
                at_ms,
            });
        }
        self.drain_events(&mut output);
        while let Some(frame) = self.poll_inbound(now) {
            output(Output::Inbound(&frame));
            self.drain_events(&mut output);
        }
        // Frames released just now may have left an utterance whose stall deadline has
        // already passed: end it here, so that the deadline handed out is after `now`.
        self.handle_timeout(now);
        self.drain_events(&mut output);
    }

    fn drain_events(&mut self, output: &mut impl FnMut(Output<'_>)) {
        while let Some(event) = self.events.pop_front() {
            let utterance = matches!(event, CoreEvent::Utterance(_));
            let pcm: &[i16] = if utterance {
                self.endpointer.utterance_pcm()
            } else {
                &[]
            };
            output(Output::Event { event, pcm });
            if utterance {
                self.endpointer.release_utterance();
            }
        }
    }

    /// The earliest instant at which the core has time-driven work: the next outbound
    /// frame, a held packet to release, or a stalled utterance to end.
    pub fn poll_timeout(&self) -> Instant {
        let mut deadline = self.next_transmit();
        if let Some(t) = self.inbound.poll_timeout() {
            deadline = deadline.min(t);
        }
        if let Some(ms) = self.endpointer.poll_timeout() {
            deadline = deadline.min(self.call_start + Duration::from_millis(ms));
        }
        deadline
    }

    fn push_endpoint_event(&mut self, event: EndpointEvent) {
        self.events.push_back(match event {
            EndpointEvent::SpeechStarted { at_ms } => CoreEvent::SpeechStarted { at_ms },
            EndpointEvent::UtteranceEnded(bounds) => CoreEvent::Utterance(bounds),
        });
    }

    /// Milliseconds from the call's start to `now`: the timeline of every `at_ms`.
    pub fn ms_since_start(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.call_start).as_millis() as u64
    }
}

fn frame_energy(pcm: &[i16; FRAME_SAMPLES]) -> i64 {
    pcm.iter().map(|&s| i64::from(s) * i64::from(s)).sum()
}

/// Milliseconds in one frame, re-exported for callers computing offsets.
pub const FRAME_LENGTH_MS: u64 = FRAME_MS;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::RtpIdentity;

    fn rtp(seq: u16, ts: u32) -> Vec<u8> {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(&[0xFF; 160]);
        p
    }

    /// What one drain handed out, in order.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Transmit,
        Started(PlayoutId),
        Done(PlayoutId),
        Inbound(u64),
    }

    fn drain(core: &mut MediaCore, now: Instant) -> Vec<Seen> {
        let mut out = [0u8; OUT_PACKET_LEN];
        let mut seen = Vec::new();
        core.drain(now, &mut out, |o| match o {
            Output::Transmit { packet: p, .. } => {
                assert_eq!(p.len(), OUT_PACKET_LEN);
                seen.push(Seen::Transmit);
            }
            Output::Event {
                event: CoreEvent::PlayoutStarted { id },
                ..
            } => seen.push(Seen::Started(id)),
            Output::Event {
                event: CoreEvent::PlayoutDone { id },
                ..
            } => seen.push(Seen::Done(id)),
            Output::Event { .. } => {}
            Output::Inbound(f) => seen.push(Seen::Inbound(f.at_ms)),
        });
        seen
    }

    #[test]
    fn drain_hands_out_packets_then_their_events_then_caller_frames() {
        let remote: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let t0 = Instant::now();
        let identity = RtpIdentity {
            ssrc: 1,
            first_seq: 0,
            first_timestamp: 0,
        };
        let mut core = MediaCore::new(&MediaConfig::default(), remote, t0, identity).unwrap();
        // A 20 ms clip: it starts and ends within the first frame.
        core.handle_play(PlayoutId(1), 8000, &[1000; 160]).unwrap();
        core.handle_datagram(t0, remote, &rtp(0, 160)).unwrap();
        let seen = drain(&mut core, t0 + Duration::from_millis(20));
        assert_eq!(
            seen,
            [
                Seen::Transmit,
                Seen::Transmit,
                Seen::Started(PlayoutId(1)),
                Seen::Done(PlayoutId(1)),
                Seen::Inbound(0),
            ]
        );
        // Nothing is due again before the next frame.
        assert_eq!(core.poll_timeout(), t0 + Duration::from_millis(40));
        assert!(drain(&mut core, t0 + Duration::from_millis(39)).is_empty());
    }

    /// Found by fuzzing (`scripts/fuzz media_core`): speech released in a burst that
    /// arrived late left an utterance whose stall deadline had already passed, so the
    /// deadline handed out after the drain was in the past (a needless immediate wake-up
    /// of the driver). The drain now ends such an utterance itself.
    #[test]
    fn a_late_burst_of_speech_leaves_no_deadline_in_the_past() {
        let speech = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/asterisk/rtp/caller-speech.ulaw"
        ))
        .unwrap();
        let remote: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let t0 = Instant::now();
        let identity = RtpIdentity {
            ssrc: 1,
            first_seq: 0,
            first_timestamp: 0,
        };
        let mut core = MediaCore::new(&MediaConfig::default(), remote, t0, identity).unwrap();
        let packet = |seq: u16, payload: &[u8]| {
            let mut p = rtp(seq, u32::from(seq) * 160);
            p.truncate(12);
            p.extend_from_slice(payload);
            p
        };
        // The first packet on time; the next 1.2 s of speech (from 1 s into the
        // recording) all at once, 3 s later.
        core.handle_datagram(t0, remote, &packet(0, &[0xFF; 160]))
            .unwrap();
        let late = t0 + Duration::from_secs(3);
        for (n, chunk) in speech.chunks_exact(160).skip(50).take(60).enumerate() {
            core.handle_datagram(late, remote, &packet(n as u16 + 1, chunk))
                .unwrap();
        }
        let mut out = [0u8; OUT_PACKET_LEN];
        let (mut started, mut ended) = (false, false);
        core.drain(late, &mut out, |o| match o {
            Output::Event {
                event: CoreEvent::SpeechStarted { .. },
                ..
            } => started = true,
            Output::Event {
                event: CoreEvent::Utterance(_),
                ..
            } => ended = true,
            _ => {}
        });
        assert!(started, "the burst must hold speech");
        assert!(ended, "its stall deadline passed long ago");
        assert!(core.poll_timeout() > late);
    }
}
