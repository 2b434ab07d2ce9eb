//! The media task of one call: owns the call's UDP socket (leased from the
//! [`PortPool`](super::PortPool)), feeds the sans-IO [`MediaCore`] with datagrams and the
//! time through [`MediaCore::drain`], sends its packets on absolute 20 ms deadlines from
//! the same socket it receives on (Asterisk locks the source), and hands events and the
//! caller's G.711 frames to the call's task without ever waiting for it.
//!
//! Entry point: [`MediaSession::spawn`] → [`MediaHandle`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{broadcast, mpsc};

use super::counters::MediaCounters;
use super::handle::{
    Command, G711Frame, INBOUND_AUDIO_CAPACITY, InboundAudio, MediaError, MediaEvent, MediaHandle,
};
use super::port_pool::PortLease;
use crate::clock::{Clock, SystemClock};
use crate::media::OUT_PACKET_LEN;
use crate::media::config::MediaConfig;
use crate::media::core::{CoreEvent, MediaCore, Output};
use crate::media::g711::Law;
use crate::media::outbound::RtpIdentity;
use crate::media::{FRAME_SAMPLES, RTP_HEADER_LEN};
use crate::recording::RecordingTap;
use crate::recording::aligner::Side;

/// Events buffered for the call's task before new ones are dropped (and counted).
const EVENT_CAPACITY: usize = 64;
/// Commands buffered from the call's task.
const COMMAND_CAPACITY: usize = 32;
/// Largest datagram read from the socket.
const RECV_BUFFER: usize = 2048;

/// Spawns per-call media tasks.
#[derive(Debug)]
pub struct MediaSession;

impl MediaSession {
    /// Starts the media of a call on `lease`'s socket, exchanging RTP with `remote` (the
    /// `UNICASTRTP_LOCAL_ADDRESS:UNICASTRTP_LOCAL_PORT` of the externalMedia response; RTP
    /// from anywhere else is dropped and counted). Must be called inside a tokio runtime.
    pub fn spawn(
        lease: PortLease,
        remote: SocketAddr,
        config: MediaConfig,
    ) -> Result<MediaHandle, MediaError> {
        Self::spawn_with_clock(lease, remote, config, SystemClock)
    }

    /// [`Self::spawn`] with an injected clock.
    pub fn spawn_with_clock<C: Clock>(
        lease: PortLease,
        remote: SocketAddr,
        config: MediaConfig,
        clock: C,
    ) -> Result<MediaHandle, MediaError> {
        let core = MediaCore::new(&config, remote, clock.now(), RtpIdentity::random())?;
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (audio_tx, audio_rx) = broadcast::channel(INBOUND_AUDIO_CAPACITY);
        let counters = Arc::new(MediaCounters::default());
        let local_addr = lease.local_addr();
        let driver = Driver {
            core,
            lease,
            remote,
            clock,
            law: config.law,
            commands: command_rx,
            events: event_tx,
            audio: audio_tx,
            counters: Arc::clone(&counters),
            recording: None,
        };
        let task = tokio::spawn(tracing::Instrument::in_current_span(driver.run()));
        Ok(MediaHandle {
            events: event_rx,
            inbound_audio: Some(InboundAudio {
                rx: audio_rx,
                counters: Arc::clone(&counters),
            }),
            commands: command_tx,
            counters,
            local_addr,
            task,
        })
    }
}

struct Driver<C: Clock> {
    core: MediaCore,
    lease: PortLease,
    remote: SocketAddr,
    clock: C,
    law: Law,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<MediaEvent>,
    audio: broadcast::Sender<G711Frame>,
    counters: Arc<MediaCounters>,
    /// Where the call's frames go when it is recorded.
    recording: Option<RecordingTap>,
}

impl<C: Clock> Driver<C> {
    async fn run(mut self) {
        let mut recv_buf = [0u8; RECV_BUFFER];
        let mut out = [0u8; OUT_PACKET_LEN];
        loop {
            let deadline = self.core.poll_timeout();
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    None | Some(Command::Stop) => break,
                    Some(command) => self.handle_command(command),
                },
                received = self.lease.socket().recv_from(&mut recv_buf) => match received {
                    Ok((len, src)) => {
                        let now = self.clock.now();
                        let datagram = recv_buf.get(..len).unwrap_or(&[]);
                        // Drops are counted inside the core.
                        let _ = self.core.handle_datagram(now, src, datagram);
                    }
                    Err(_) => {
                        self.counters.recv_errors.fetch_add(1, Ordering::Relaxed);
                    }
                },
                () = self.clock.sleep_until(deadline) => {}
            }
            let now = self.clock.now();
            let (events, audio, counters, law) =
                (&self.events, &self.audio, &self.counters, self.law);
            let (socket, remote) = (self.lease.socket(), self.remote);
            let recording = self.recording.as_ref();
            self.core.drain(now, &mut out, |output| match output {
                Output::Transmit { packet, at_ms } => {
                    // A UDP send that would block means the kernel's buffer is full: the
                    // frame is lost and counted, the pacing goes on.
                    if socket.try_send_to(packet, remote).is_err() {
                        counters.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
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
        self.counters.publish(self.core.stats());
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Play { id, rate, pcm } => {
                // The rate was checked by the handle; a resampler failure drops the clip
                // but still reports it done so the conversation does not wait forever.
                if self.core.handle_play(id, rate, &pcm).is_err() {
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
            Command::Stop => {}
        }
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
