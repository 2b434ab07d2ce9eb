//! The UnicastRTP peer of each External Media channel (FINDINGS 7-13).
//!
//! - `strict.rs`: sans-IO strict-RTP source learning and locking.
//! - `packet.rs`: RTP header parsing and writing into caller-owned buffers.
//! - `feed.rs`: sans-IO caller audio timeline, one 20 ms frame per tick.
//! - `recording.rs`: what the peer received, decoded, with per-packet facts and stats.
//! - `peer_core.rs`: sans-IO peer — strict RTP and recording in, the caller's timeline out.
//! - `peer.rs`: the peer's orders and set-up, and the tokio task that drives a core on a
//!   socket of its own (tests, the demo).
//! - `hub.rs`: a few threads that drive many cores on one socket each, batched, every
//!   channel on its own loopback address (`vca-sim load --rtp-threads`);
//!   `sourced_send.rs` is its `sendmmsg` with a source address per datagram; `flood.rs`
//!   the hostile copies some of its channels send beside their packets.

pub(crate) mod feed;
pub(crate) mod flood;
pub(crate) mod hub;
pub(crate) mod packet;
pub(crate) mod peer;
pub(crate) mod peer_core;
pub(crate) mod recording;
pub(crate) mod sourced_send;
pub(crate) mod strict;
