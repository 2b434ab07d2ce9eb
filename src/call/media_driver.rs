//! The tokio driver of one call's media: owns the call's UDP socket (leased from the
//! [`PortPool`](super::port_pool::PortPool)), feeds the sans-IO
//! [`MediaCore`] with datagrams and the time, sends its packets on absolute 20 ms deadlines
//! from the same socket it receives on (Asterisk locks the source), and talks to the
//! conversation side over bounded channels that never block media: if the consumer lags,
//! the oldest audio is dropped and counted.
//!
//! Entry point: [`MediaSession::spawn`] → [`MediaHandle`].
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::port_pool::PortLease;
use crate::media::FRAME_SAMPLES;
use crate::media::OUT_PACKET_LEN;
use crate::media::config::MediaConfig;
use crate::media::core::{CoreEvent, MediaCore};
use crate::media::g711::Law;
use crate::media::outbound::RtpIdentity;
use crate::media::playout::{FlushReport, PlayoutId};
use crate::media::resample::{ResampleError, SUPPORTED_RATES};
use crate::media::stats::{DropReason, MediaStats};

/// Events buffered for the conversation side before new ones are dropped (and counted).
const EVENT_CAPACITY: usize = 64;
/// Inbound G.711 frames buffered for a streaming STT consumer (1.28 s; tokio rounds a
/// broadcast capacity up to a power of two); older ones are dropped.
pub const INBOUND_AUDIO_CAPACITY: usize = 64;
/// Commands buffered from the conversation side.
const COMMAND_CAPACITY: usize = 32;
/// Largest datagram read from the socket.
const RECV_BUFFER: usize = 2048;

/// Where the driver gets the time and how it sleeps. Injectable so tests can run on paused
/// tokio time or with a deliberately late timer.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Instant;
    /// Completes at (or after) `deadline`.
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send;
}

/// tokio's clock (follows paused time in tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }
}

/// Errors of the media driver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The media task has ended (stopped, or the call is gone).
    #[error("the media session has stopped")]
    Stopped,
    /// The core could not be built (resampler setup).
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// Agent audio at a rate the playout cannot convert.
    #[error("unsupported playout sample rate {0} Hz")]
    UnsupportedRate(u32),
}

/// Something the conversation side needs to know about the call's audio.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// The caller started speaking.
    SpeechStarted {
        /// Start of the voiced run, ms from call start.
        at_ms: u64,
    },
    /// The caller finished a turn.
    Utterance {
        /// The audio, pre-roll included.
        pcm: Vec<i16>,
        /// Its sample rate (8000, or 16000 if configured).
        sample_rate: u32,
        /// Start of speech, ms from call start.
        start_ms: u64,
        /// End of speech, ms from call start.
        end_ms: u64,
        /// Ended by the maximum utterance length rather than silence.
        forced: bool,
    },
    /// The caller talked over the agent; `flushed` says what was cut (with auto-flush).
    BargeIn {
        /// Start of the caller's speech, ms from call start.
        at_ms: u64,
        /// What the automatic flush removed.
        flushed: Option<FlushReport>,
    },
    /// A clip queued with [`MediaHandle::play`] has been sent completely.
    PlayoutDone {
        /// The clip.
        id: PlayoutId,
    },
}

/// One 20 ms frame of the caller's audio exactly as G.711 (for streaming STT that takes
/// the call's codec as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct G711Frame {
    /// Start of the frame, ms from call start.
    pub at_ms: u64,
    /// The law of `codes`.
    pub law: Law,
    /// Samples synthesised by concealment or pause fill.
    pub filled_samples: u16,
    /// 160 code words.
    pub codes: [u8; FRAME_SAMPLES],
}

/// Live counters of one call's media, for metrics. All loads are `Relaxed`.
#[derive(Debug, Default)]
pub struct MediaCounters {
    /// Datagrams received.
    pub packets_in: AtomicU64,
    /// Packets sent.
    pub packets_out: AtomicU64,
    /// Datagrams dropped, indexed by [`DropReason::index`].
    pub dropped: [AtomicU64; DropReason::COUNT],
    /// Inbound packets never received.
    pub packets_lost: AtomicU64,
    /// Inbound timeline re-anchors (SSRC change, sequence restart, long pause).
    pub resyncs: AtomicU64,
    /// Inbound G.711 frames dropped because the streaming consumer lagged.
    pub inbound_audio_dropped: AtomicU64,
    /// Events dropped because the conversation side lagged.
    pub events_dropped: AtomicU64,
    /// Failed socket sends.
    pub send_errors: AtomicU64,
    /// Failed socket receives.
    pub recv_errors: AtomicU64,
    /// Outbound frames skipped because the task woke up far too late.
    pub outbound_frames_skipped: AtomicU64,
}

impl MediaCounters {
    /// Datagrams dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped
            .get(reason.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn publish(&self, stats: &MediaStats) {
        self.packets_in.store(stats.packets_in, Ordering::Relaxed);
        self.packets_out.store(stats.packets_out, Ordering::Relaxed);
        for (counter, &value) in self.dropped.iter().zip(stats.dropped.iter()) {
            counter.store(value, Ordering::Relaxed);
        }
        self.packets_lost
            .store(stats.packets_lost, Ordering::Relaxed);
        self.resyncs.store(stats.resyncs, Ordering::Relaxed);
        self.outbound_frames_skipped
            .store(stats.outbound_frames_skipped, Ordering::Relaxed);
    }
}

/// The caller's G.711 frames as they arrive. If this consumer lags more than 1.28 s, the
/// oldest frames are dropped and counted in [`MediaCounters::inbound_audio_dropped`].
#[derive(Debug)]
pub struct InboundAudio {
    rx: broadcast::Receiver<G711Frame>,
    counters: Arc<MediaCounters>,
}

impl InboundAudio {
    /// The next frame; `None` once the session has stopped.
    pub async fn recv(&mut self) -> Option<G711Frame> {
        loop {
            match self.rx.recv().await {
                Ok(frame) => return Some(frame),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.counters
                        .inbound_audio_dropped
                        .fetch_add(n, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

enum Command {
    Play {
        id: PlayoutId,
        rate: u32,
        pcm: Vec<i16>,
    },
    Flush(oneshot::Sender<FlushReport>),
    SetEndSilence(Duration),
    Stop,
}

/// Queues and flushes agent audio of one call; cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaPlayer {
    commands: mpsc::Sender<Command>,
}

impl MediaPlayer {
    /// Queues agent audio at `rate` Hz; a [`MediaEvent::PlayoutDone`] with `id` follows
    /// when it has all been sent.
    pub async fn play(&self, id: PlayoutId, rate: u32, pcm: Vec<i16>) -> Result<(), MediaError> {
        if !SUPPORTED_RATES.contains(&rate) {
            return Err(MediaError::UnsupportedRate(rate));
        }
        self.commands
            .send(Command::Play { id, rate, pcm })
            .await
            .map_err(|_| MediaError::Stopped)
    }

    /// Drops all queued agent audio at once and reports how much of it was heard.
    pub async fn flush(&self) -> Result<FlushReport, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Flush(tx))
            .await
            .map_err(|_| MediaError::Stopped)?;
        rx.await.map_err(|_| MediaError::Stopped)
    }
}

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
        Self::spawn_with_clock(lease, remote, config, TokioClock)
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
            utterance_rate: config.utterance_rate.hz(),
            commands: command_rx,
            events: event_tx,
            audio: audio_tx,
            counters: Arc::clone(&counters),
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

/// The conversation side's grip on a call's media task.
#[derive(Debug)]
pub struct MediaHandle {
    events: mpsc::Receiver<MediaEvent>,
    inbound_audio: Option<InboundAudio>,
    commands: mpsc::Sender<Command>,
    counters: Arc<MediaCounters>,
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MediaHandle {
    /// The next event; `None` once the session has stopped.
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        self.events.recv().await
    }

    /// The stream of raw inbound G.711 frames (once; later calls return `None`).
    pub fn take_inbound_audio(&mut self) -> Option<InboundAudio> {
        self.inbound_audio.take()
    }

    /// Queues agent audio at `rate` Hz (8000, 16000, 22050, 24000, 44100 or 48000); a
    /// [`MediaEvent::PlayoutDone`] with `id` follows when it has all been sent.
    pub async fn play(&self, id: PlayoutId, rate: u32, pcm: Vec<i16>) -> Result<(), MediaError> {
        if !SUPPORTED_RATES.contains(&rate) {
            return Err(MediaError::UnsupportedRate(rate));
        }
        self.send(Command::Play { id, rate, pcm }).await
    }

    /// Drops all queued agent audio at once and reports how much of it was heard.
    pub async fn flush(&self) -> Result<FlushReport, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Flush(tx)).await?;
        rx.await.map_err(|_| MediaError::Stopped)
    }

    /// Changes the silence that ends a caller's turn.
    pub async fn set_end_silence(&self, end_silence: Duration) -> Result<(), MediaError> {
        self.send(Command::SetEndSilence(end_silence)).await
    }

    /// Stops the task and waits for it; the port returns to the pool.
    pub async fn stop(self) -> Result<(), MediaError> {
        // The task may already be gone; stopping is then already done.
        let _ = self.commands.send(Command::Stop).await;
        self.task.await.map_err(|_| MediaError::Stopped)
    }

    /// A cloneable handle that can queue and flush agent audio, for the tasks that
    /// produce the agent's speech while this handle keeps the events.
    pub fn player(&self) -> MediaPlayer {
        MediaPlayer {
            commands: self.commands.clone(),
        }
    }

    /// The counters, for metrics.
    pub fn counters(&self) -> Arc<MediaCounters> {
        Arc::clone(&self.counters)
    }

    /// The local address RTP is received on and sent from.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    async fn send(&self, command: Command) -> Result<(), MediaError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| MediaError::Stopped)
    }
}

struct Driver<C: Clock> {
    core: MediaCore,
    lease: PortLease,
    remote: SocketAddr,
    clock: C,
    law: Law,
    utterance_rate: u32,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<MediaEvent>,
    audio: broadcast::Sender<G711Frame>,
    counters: Arc<MediaCounters>,
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
            while let Some(len) = self.core.poll_transmit(now, &mut out) {
                let packet = out.get(..len).unwrap_or(&[]);
                if self
                    .lease
                    .socket()
                    .send_to(packet, self.remote)
                    .await
                    .is_err()
                {
                    self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.core.handle_timeout(now);
            self.forward_events();
            while let Some(frame) = self.core.poll_inbound(now) {
                // No receiver (nobody streams STT) is fine; lagging receivers lose the oldest.
                let _ = self.audio.send(G711Frame {
                    at_ms: frame.at_ms,
                    law: self.law,
                    filled_samples: frame.filled_samples,
                    codes: frame.codes,
                });
                self.forward_events();
            }
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
                    self.emit(MediaEvent::PlayoutDone { id });
                }
            }
            Command::Flush(reply) => {
                let report = self.core.handle_flush();
                // The caller may have given up waiting; the flush happened anyway.
                let _ = reply.send(report);
            }
            Command::SetEndSilence(end_silence) => self.core.set_end_silence(end_silence),
            Command::Stop => {}
        }
    }

    fn forward_events(&mut self) {
        while let Some(event) = self.core.poll_event() {
            let event = match event {
                CoreEvent::SpeechStarted { at_ms } => MediaEvent::SpeechStarted { at_ms },
                CoreEvent::Utterance(bounds) => MediaEvent::Utterance {
                    pcm: self.core.utterance_pcm().to_vec(),
                    sample_rate: self.utterance_rate,
                    start_ms: bounds.start_ms,
                    end_ms: bounds.end_ms,
                    forced: bounds.forced,
                },
                CoreEvent::BargeIn { at_ms, flushed } => MediaEvent::BargeIn { at_ms, flushed },
                CoreEvent::PlayoutDone { id } => MediaEvent::PlayoutDone { id },
            };
            self.emit(event);
        }
    }

    fn emit(&self, event: MediaEvent) {
        if self.events.try_send(event).is_err() {
            self.counters.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
