//! vca-bridge: puts an AI voice agent on phone numbers served by Asterisk.
//!
//! A tour of the modules, top to bottom:
//! - [`call`]: per-call plumbing (RTP port pool, media driver).
//! - [`media`]: the sans-IO media core (G.711, RTP, VAD, resampling, playout).
pub mod call;
pub mod media;
