//! The daemon's side of call media: a few media threads ([`engine`]), each owning one UDP
//! socket and many calls' sans-IO [`MediaCore`](crate::media::core::MediaCore)s, and the
//! one handle a call's task holds of its media ([`MediaHandle`]).
//!
//! - [`engine`]: [`MediaEngine`] starts the threads (`VCA_MEDIA_THREADS`) on ports of
//!   `VCA_RTP_PORT_RANGE`, picks a thread for a call and attaches the call to it.
//! - [`thread`]: a thread's IO — `recvmmsg`, `sendmmsg`, `ppoll` on absolute deadlines.
//! - [`worker`]: [`MediaWorker`], the sans-IO part of a thread — routing by source address
//!   and servicing each call at its own deadline ([`schedule`]); [`call_media`] is one call.
//! - [`handle`]: [`MediaHandle`] (queue and flush agent audio, next event) and
//!   [`InboundAudio`] (the caller's G.711 frames for streaming STT).
//! - [`counters`], [`metrics`]: live atomics per call, published as Prometheus deltas.

pub mod call_media;
pub mod counters;
pub mod engine;
pub mod handle;
pub mod metrics;
pub mod schedule;
pub mod thread;
pub mod worker;

pub use call_media::{CallMedia, PacketSink};
pub use counters::MediaCounters;
pub use engine::{MediaEngine, MediaEngineError, MediaSlot};
pub use handle::{
    Command, G711Frame, INBOUND_AUDIO_CAPACITY, InboundAudio, MediaError, MediaEvent, MediaHandle,
};
pub use metrics::MediaMetrics;
pub use worker::{MediaWorker, SLOT, WorkerCommand, WorkerCounters};
