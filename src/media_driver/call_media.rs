//! [`CallMedia`]: one call as its media thread holds it — the sans-IO [`MediaCore`], the
//! address Asterisk sends the call's RTP from, the channels to the call's task and the
//! recording tap. [`CallMedia::service`] drains the core at a moment and hands its packets
//! to a [`PacketSink`], its events and caller frames to the call's task, never waiting:
//! a full channel drops and counts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{broadcast, mpsc};

use super::counters::MediaCounters;
use super::handle::{Command, G711Frame, MediaEvent};
use crate::media::core::{CoreEvent, MediaCore, Output};
use crate::media::g711::Law;
use crate::media::{FRAME_SAMPLES, OUT_PACKET_LEN, RTP_HEADER_LEN, WIRE_RATE};
use crate::recording::RecordingTap;
use crate::recording::aligner::Side;

/// Where a media thread's outbound packets go: a batch for `sendmmsg`, or a test's list.
pub trait PacketSink {
    /// Sends (or queues for sending) `packet` to `to`.
    fn transmit(&mut self, packet: &[u8], to: SocketAddr);
}

/// One call on a media thread.
pub struct CallMedia {
    pub(super) core: MediaCore,
    pub(super) remote: SocketAddr,
    law: Law,
    events: mpsc::Sender<MediaEvent>,
    audio: broadcast::Sender<G711Frame>,
    pub(super) counters: Arc<MediaCounters>,
    recording: Option<RecordingTap>,
    /// The deadline this call has in the thread's queue, if one is pending.
    pub(super) scheduled: Option<Instant>,
    /// Latest time the core was given: the core's time never goes back, even though
    /// frames are sent a little ahead of their deadline.
    pub(super) now: Instant,
    /// Already listed for servicing after this receive batch.
    pub(super) dirty: bool,
}

impl std::fmt::Debug for CallMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMedia")
            .field("remote", &self.remote)
            .field("scheduled", &self.scheduled)
            .finish_non_exhaustive()
    }
}

impl CallMedia {
    /// A call on its core (whose start is the call's media timeline's zero), sending its
    /// events, caller frames and counters to the call's task.
    pub fn new(
        core: MediaCore,
        remote: SocketAddr,
        law: Law,
        events: mpsc::Sender<MediaEvent>,
        audio: broadcast::Sender<G711Frame>,
        counters: Arc<MediaCounters>,
    ) -> Self {
        let now = core.call_start();
        CallMedia {
            core,
            remote,
            law,
            events,
            audio,
            counters,
            recording: None,
            scheduled: None,
            now,
            dirty: false,
        }
    }

    /// The call's task has gone (its handle was dropped without a stop).
    pub(super) fn is_abandoned(&self) -> bool {
        self.events.is_closed()
    }

    /// Moves the call's time to `now` (never back) and returns it.
    pub(super) fn advance(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// A datagram from the call's Asterisk address. Drops are counted in the core.
    pub(super) fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let now = self.advance(now);
        let _ = self.core.handle_datagram(now, self.remote, datagram);
    }

    /// Runs the core at `now` and hands out everything it produced.
    pub(super) fn service(
        &mut self,
        now: Instant,
        out: &mut [u8; OUT_PACKET_LEN],
        sink: &mut impl PacketSink,
    ) {
        let now = self.advance(now);
        let (events, audio, counters, law, remote) = (
            &self.events,
            &self.audio,
            &self.counters,
            self.law,
            self.remote,
        );
        let recording = self.recording.as_ref();
        self.core.drain(now, out, |output| match output {
            Output::Transmit { packet, at_ms } => {
                sink.transmit(packet, remote);
                if let Some(tap) = recording
                    && let Some(codes) = packet
                        .get(RTP_HEADER_LEN..)
                        .and_then(|p| <&[u8; FRAME_SAMPLES]>::try_from(p).ok())
                    && !tap.frame(Side::Agent, at_ms, codes)
                {
                    counters.recording_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Output::Event { event, pcm } => emit(events, counters, media_event(event, pcm)),
            Output::Inbound(frame) => {
                if let Some(tap) = recording
                    && !tap.frame(Side::Caller, frame.at_ms, &frame.codes)
                {
                    counters.recording_dropped.fetch_add(1, Ordering::Relaxed);
                }
                // No receiver (nobody streams STT) is fine; lagging receivers lose the oldest.
                let _ = audio.send(G711Frame {
                    at_ms: frame.at_ms,
                    law,
                    filled_samples: frame.filled_samples,
                    codes: frame.codes,
                });
            }
        });
        self.counters.publish(self.core.stats());
    }

    /// A command from the call's task.
    pub(super) fn handle_command(&mut self, command: Command) {
        match command {
            Command::Play { id, pcm } => {
                // The handle converted the clip to the wire rate already, so this only
                // copies; a failure still reports the clip done so nobody waits for it.
                if self.core.handle_play(id, WIRE_RATE, &pcm).is_err() {
                    emit(&self.events, &self.counters, MediaEvent::PlayoutDone { id });
                }
            }
            Command::Flush => {
                let report = self.core.handle_flush();
                emit(&self.events, &self.counters, MediaEvent::Flushed(report));
            }
            Command::SetEndSilence(end_silence) => self.core.set_end_silence(end_silence),
            Command::Record(tap) => {
                // The recording starts with the next frame to be sent.
                let origin_ms = self.core.ms_since_start(self.core.next_transmit());
                if !tap.begin(origin_ms) {
                    self.counters
                        .recording_dropped
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.recording = Some(tap);
            }
        }
    }

    /// The last counters, when the call leaves its thread.
    pub(super) fn finish(&self) {
        self.counters.publish(self.core.stats());
    }
}

fn media_event(event: CoreEvent, pcm: &[i16]) -> MediaEvent {
    match event {
        CoreEvent::SpeechStarted { at_ms } => MediaEvent::SpeechStarted { at_ms },
        CoreEvent::Utterance(bounds) => MediaEvent::Utterance {
            pcm: pcm.to_vec(),
            start_ms: bounds.start_ms,
            end_ms: bounds.end_ms,
            forced: bounds.forced,
        },
        CoreEvent::BargeIn { at_ms, flushed } => MediaEvent::BargeIn { at_ms, flushed },
        CoreEvent::PlayoutStarted { id } => MediaEvent::PlayoutStarted { id },
        CoreEvent::PlayoutDone { id } => MediaEvent::PlayoutDone { id },
    }
}

fn emit(events: &mpsc::Sender<MediaEvent>, counters: &MediaCounters, event: MediaEvent) {
    if events.try_send(event).is_err() {
        counters.events_dropped.fetch_add(1, Ordering::Relaxed);
    }
}
