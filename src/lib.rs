//! vca-bridge: puts an AI voice agent on phone numbers served by Asterisk.
//!
//! A tour of the modules, top to bottom:
//! - [`media`]: the sans-IO media core (G.711, RTP, VAD, resampling, playout).
//! - [`sim`]: `vca-sim`, an Asterisk simulator (ARI REST + WebSocket + UnicastRTP peer) for tests.
pub mod media;
pub mod sim;
