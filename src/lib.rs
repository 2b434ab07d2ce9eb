//! vca-bridge: puts an AI voice agent on phone numbers served by Asterisk.
//!
//! A tour of the modules, top to bottom:
//! - [`ari`]: the Asterisk ARI client (REST, typed events, WebSocket supervisor).
//! - [`media`]: the sans-IO media core (G.711, RTP, VAD, resampling, playout).
pub mod ari;
pub mod media;
