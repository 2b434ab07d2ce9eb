//! The sans-IO media core: plain structs fed with datagrams, PCM and the current time.
//!
//! Nothing in here owns a socket, a task or a clock: every input carries the `Instant` it
//! happened at, and every output (datagrams to send, events) is polled out. Methods follow
//! the quinn-proto vocabulary: `handle_*` for input, `poll_*` for output.
//!
//! - [`g711`]: µ-law / A-law codec.
//! - [`inbound`]: RTP in (source lock, payload type, SSRC resync, reorder, concealment, 20 ms framing).
//! - [`reorder`]: the small reorder window used by [`inbound`].
//! - [`outbound`]: RTP out (SSRC, sequence, timestamp, marker).
//! - [`vad`], [`endpointer`], [`barge_in`]: speech detection.
//! - [`utterance_pool`]: the utterance buffers, shared by the calls of a pool (lock-free).
//! - [`resample`]: rubato FFT resamplers for STT and TTS rates.
//! - [`playout`]: the agent's audio queue, one 20 ms frame per tick.
//! - [`core`]: [`core::MediaCore`], the per-call state machine that ties them together.
pub mod barge_in;
pub mod config;
pub mod core;
pub mod endpointer;
pub mod g711;
pub mod inbound;
pub mod outbound;
pub mod playout;
pub mod reorder;
pub mod resample;
pub mod stats;
pub mod utterance_pool;
pub mod vad;

use std::time::Duration;

/// Sample rate of G.711 on the wire.
pub const WIRE_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Length of one frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
/// Length of one frame in milliseconds.
pub const FRAME_MS: u64 = 20;
/// Largest RTP payload accepted (120 ms of G.711); anything larger is dropped.
pub const MAX_PAYLOAD: usize = 960;
/// Size of the fixed RTP header we send (no CSRC, no extension).
pub const RTP_HEADER_LEN: usize = 12;
/// Size of every packet we send: header plus one 20 ms G.711 frame.
pub const OUT_PACKET_LEN: usize = RTP_HEADER_LEN + FRAME_SAMPLES;
