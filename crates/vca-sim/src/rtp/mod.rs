//! The UnicastRTP peer of each External Media channel (FINDINGS 7-13).
//!
//! - `strict.rs`: sans-IO strict-RTP source learning and locking.
//! - `packet.rs`: RTP header parsing and writing into caller-owned buffers.
//! - `feed.rs`: sans-IO caller audio timeline, one 20 ms frame per tick.
//! - `recording.rs`: what the peer received, decoded, with per-packet facts and stats.
//! - `peer.rs`: the tokio task that owns the socket and the send deadline.

pub(crate) mod feed;
pub(crate) mod packet;
pub(crate) mod peer;
pub(crate) mod recording;
pub(crate) mod strict;
