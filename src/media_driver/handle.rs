//! [`MediaHandle`]: what a call's task holds of its media on a media thread — queue and
//! flush agent audio, receive events — and [`InboundAudio`], the caller's G.711 frames for
//! streaming STT. Both talk to the media thread over bounded queues that never block it:
//! if a consumer lags, the oldest audio or events are dropped and counted. Agent audio is
//! converted to the wire rate here, on the call's task, so the media thread only copies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::counters::MediaCounters;
use super::engine::ThreadLink;
use super::schedule::CallKey;
use super::worker::WorkerCommand;
use crate::media::g711::Law;
use crate::media::playout::{FlushReport, PlayoutId};
use crate::media::resample::{ResampleError, SUPPORTED_RATES, StreamResampler};
use crate::media::{FRAME_SAMPLES, WIRE_RATE};
use crate::recording::RecordingTap;

/// Events buffered for the call's task before new ones are dropped (and counted).
pub(super) const EVENT_CAPACITY: usize = 64;

/// Inbound G.711 frames buffered for a streaming STT consumer (1.28 s; tokio rounds a
/// broadcast capacity up to a power of two); older ones are dropped.
pub const INBOUND_AUDIO_CAPACITY: usize = 64;

/// Errors of the media driver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The media thread has ended (stopped, or the call is gone).
    #[error("the media session has stopped")]
    Stopped,
    /// The media thread's command queue stayed full.
    #[error("the media thread is not taking commands")]
    Busy,
    /// Another call on the same media thread already takes RTP from this address.
    #[error("RTP from {0} already goes to another call")]
    RemoteInUse(SocketAddr),
    /// The core could not be built (resampler setup).
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// Agent audio at a rate the playout cannot convert.
    #[error("unsupported playout sample rate {0} Hz")]
    UnsupportedRate(u32),
}

/// Something the call's task needs to know about the call's audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The caller started speaking.
    SpeechStarted {
        /// Start of the voiced run, ms from the media's start.
        at_ms: u64,
    },
    /// The caller finished a turn.
    Utterance {
        /// The audio at 8 kHz, pre-roll included.
        pcm: Vec<i16>,
        /// Start of speech, ms from the media's start.
        start_ms: u64,
        /// End of speech, ms from the media's start.
        end_ms: u64,
        /// Ended by the maximum utterance length rather than silence.
        forced: bool,
    },
    /// The caller talked over the agent; `flushed` says what was cut (with auto-flush).
    BargeIn {
        /// Start of the caller's speech, ms from the media's start.
        at_ms: u64,
        /// What the automatic flush removed.
        flushed: Option<FlushReport>,
    },
    /// The first frame of a clip queued with [`MediaHandle::play`] went out.
    PlayoutStarted {
        /// The clip.
        id: PlayoutId,
    },
    /// A clip queued with [`MediaHandle::play`] has been sent completely.
    PlayoutDone {
        /// The clip.
        id: PlayoutId,
    },
    /// What a [`MediaHandle::flush`] removed.
    Flushed(FlushReport),
}

/// One 20 ms frame of the caller's audio exactly as G.711 (for streaming STT that takes
/// the call's codec as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct G711Frame {
    /// Start of the frame, ms from the media's start.
    pub at_ms: u64,
    /// The law of `codes`.
    pub law: Law,
    /// Samples synthesised by concealment or pause fill.
    pub filled_samples: u16,
    /// 160 code words.
    pub codes: [u8; FRAME_SAMPLES],
}

/// The caller's G.711 frames as they arrive. If this consumer lags more than 1.28 s, the
/// oldest frames are dropped and counted in [`MediaCounters::inbound_audio_dropped`].
#[derive(Debug)]
pub struct InboundAudio {
    pub(super) rx: broadcast::Receiver<G711Frame>,
    pub(super) counters: Arc<MediaCounters>,
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

/// What the call's task asks of its media.
#[derive(Debug)]
pub enum Command {
    /// Queue agent audio, already at the wire rate.
    Play {
        /// The clip.
        id: PlayoutId,
        /// 8 kHz samples.
        pcm: Vec<i16>,
    },
    /// Drop all queued agent audio.
    Flush,
    /// Change the silence that ends a caller's turn.
    SetEndSilence(Duration),
    /// Tap both sides for the recording.
    Record(RecordingTap),
}

/// The call's grip on its media: the one handle, held by the call's task. Dropping it
/// without [`MediaHandle::stop`] takes the call off its thread as well.
#[derive(Debug)]
pub struct MediaHandle {
    pub(super) events: mpsc::Receiver<MediaEvent>,
    pub(super) inbound_audio: Option<InboundAudio>,
    pub(super) counters: Arc<MediaCounters>,
    pub(super) local_addr: SocketAddr,
    pub(super) key: CallKey,
    pub(super) link: Arc<ThreadLink>,
    pub(super) detached: bool,
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

    /// Queues agent audio at `rate` Hz (8000, 16000, 22050, 24000, 44100 or 48000);
    /// [`MediaEvent::PlayoutStarted`] and [`MediaEvent::PlayoutDone`] with `id` follow.
    pub async fn play(&self, id: PlayoutId, rate: u32, pcm: Vec<i16>) -> Result<(), MediaError> {
        if !SUPPORTED_RATES.contains(&rate) {
            return Err(MediaError::UnsupportedRate(rate));
        }
        let pcm = if rate == WIRE_RATE {
            pcm
        } else {
            let mut wire = Vec::with_capacity(pcm.len() * WIRE_RATE as usize / rate as usize + 64);
            StreamResampler::new(rate, WIRE_RATE)?.process_clip(&pcm, &mut wire)?;
            wire
        };
        self.send(Command::Play { id, pcm }).await
    }

    /// Drops all queued agent audio at once; a [`MediaEvent::Flushed`] follows with what
    /// was cut. Does not wait for the media task.
    pub async fn flush(&self) -> Result<(), MediaError> {
        self.send(Command::Flush).await
    }

    /// Changes the silence that ends a caller's turn.
    pub async fn set_end_silence(&self, end_silence: Duration) -> Result<(), MediaError> {
        self.send(Command::SetEndSilence(end_silence)).await
    }

    /// From the next frame on, both sides of the call go to `tap` as well.
    pub async fn record(&self, tap: RecordingTap) -> Result<(), MediaError> {
        self.send(Command::Record(tap)).await
    }

    /// Takes the call off its media thread and waits until it is off (its last counters
    /// published).
    pub async fn stop(mut self) -> Result<(), MediaError> {
        self.detached = true;
        let (done, gone) = oneshot::channel();
        self.link
            .send(WorkerCommand::Detach {
                key: self.key,
                done,
            })
            .await?;
        gone.await.map_err(|_| MediaError::Stopped)
    }

    /// The counters, for metrics.
    pub fn counters(&self) -> Arc<MediaCounters> {
        Arc::clone(&self.counters)
    }

    /// The local address RTP is received on and sent from (the media thread's).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    async fn send(&self, command: Command) -> Result<(), MediaError> {
        self.link
            .send(WorkerCommand::Call {
                key: self.key,
                command,
            })
            .await
    }
}

impl Drop for MediaHandle {
    fn drop(&mut self) {
        if !self.detached {
            // Nobody waits for it; if the queue is full the thread still drops the call
            // when it next finds its event channel closed.
            let (done, _) = oneshot::channel();
            self.link.try_send(WorkerCommand::Detach {
                key: self.key,
                done,
            });
        }
    }
}
