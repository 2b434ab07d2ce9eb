//! The tokio side of a call's media: the UDP sockets ([`port_pool`]), the task that drives
//! the sans-IO [`MediaCore`](crate::media::core::MediaCore) with datagrams and the time
//! ([`driver`]), the one handle the call's task holds ([`MediaHandle`]), and the counters
//! and metrics of it all.
//!
//! - [`port_pool`]: the RTP ports of `VCA_RTP_PORT_RANGE`, each leased with its bound socket.
//! - [`driver`]: [`MediaSession::spawn`] starts the media task of one call.
//! - [`handle`]: [`MediaHandle`] (queue and flush agent audio, next event) and
//!   [`InboundAudio`] (the caller's G.711 frames for streaming STT).
//! - [`counters`], [`metrics`]: live atomics per call, published as Prometheus deltas.

pub mod counters;
pub mod driver;
pub mod handle;
pub mod metrics;
pub mod port_pool;

pub use counters::MediaCounters;
pub use driver::MediaSession;
pub use handle::{
    G711Frame, INBOUND_AUDIO_CAPACITY, InboundAudio, MediaError, MediaEvent, MediaHandle,
};
pub use metrics::MediaMetrics;
pub use port_pool::{PortLease, PortPool, PortPoolError};
