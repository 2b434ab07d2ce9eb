//! [`RtpFlood`]: hostile RTP beside a load run (`vca-sim load --flood-every`,
//! `scripts/chaos flood`). Every `every`-th External Media channel of the RTP hub becomes
//! a flood source: with each packet it really sends, it also sends `right_source` copies
//! from its own announced address (the source the daemon locked on) with random sequence
//! numbers, and `wrong_source` copies from a stranger's loopback address (127.2.x.y, the
//! same port) to the same daemon port. The flooded calls' own figures are reported apart
//! (`LoadReport::flood`), so a load report shows whether the other calls were disturbed.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::rtp::peer_core::PACKET_MAX;
use crate::rtp::sourced_send::SourcedBatch;

/// The key given to flood datagrams: no caller's (those are 127.1.x.y addresses), so the
/// caller's sent counter never counts them.
pub(crate) const FLOOD_KEY: u32 = 0;

/// Which channels flood and how hard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpFlood {
    /// Every this-many-th channel floods (1: all, 0: none).
    pub every: u32,
    /// Extra packets from the channel's own address per real packet (9: 10x the rate).
    pub right_source: u32,
    /// Packets from a stranger's address per real packet (100: 100x the rate).
    pub wrong_source: u32,
}

impl RtpFlood {
    /// Whether the `n`-th channel (from 0) floods.
    pub(crate) fn floods(&self, n: u32) -> bool {
        self.every > 0 && n % self.every == self.every - 1
    }
}

/// One flooding channel's state.
#[derive(Debug)]
pub(crate) struct Flooder {
    flood: RtpFlood,
    stranger: Ipv4Addr,
    rng: u32,
    /// Flood datagrams queued.
    pub(crate) queued: u64,
}

impl Flooder {
    /// The flooder of the channel announcing `own` (127.1.x.y): its stranger is 127.2.x.y.
    pub(crate) fn new(flood: RtpFlood, own: Ipv4Addr) -> Flooder {
        let [_, _, x, y] = own.octets();
        Flooder {
            flood,
            stranger: Ipv4Addr::new(127, 2, x, y),
            rng: u32::from(own) | 1,
            queued: 0,
        }
    }

    fn next_random(&mut self) -> u32 {
        // xorshift32: cheap, and never zero from a non-zero state.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        self.rng
    }

    /// Queues the copies of `packet` (the caller's, from `own` to `to`) into `batch`; `flush`
    /// sends the batch whenever it fills.
    pub(crate) fn copy(
        &mut self,
        packet: &[u8],
        own: Ipv4Addr,
        to: SocketAddrV4,
        batch: &mut SourcedBatch,
        flush: &mut dyn FnMut(&mut SourcedBatch),
    ) {
        let len = packet.len().min(PACKET_MAX);
        let Some(packet) = packet.get(..len) else {
            return;
        };
        let copies = [
            (self.flood.right_source, own, true),
            (self.flood.wrong_source, self.stranger, false),
        ];
        for (count, from, reseq) in copies {
            for _ in 0..count {
                if batch.is_full() {
                    flush(batch);
                }
                let sequence = self.next_random().to_be_bytes();
                let Some(buffer) = batch.next_buffer() else {
                    return;
                };
                let Some(dst) = buffer.get_mut(..len) else {
                    return;
                };
                dst.copy_from_slice(packet);
                if reseq && let Some(seq) = dst.get_mut(2..4) {
                    seq.copy_from_slice(&sequence[..2]);
                }
                batch.commit(len, from, to, FLOOD_KEY);
                self.queued += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_channel_floods() {
        let f = RtpFlood {
            every: 20,
            right_source: 9,
            wrong_source: 100,
        };
        let flooding: Vec<u32> = (0..60).filter(|&n| f.floods(n)).collect();
        assert_eq!(flooding, vec![19, 39, 59]);
        assert!(!RtpFlood::default().floods(0));
    }

    #[test]
    fn copies_come_from_the_own_and_a_stranger_address() {
        let flood = RtpFlood {
            every: 1,
            right_source: 3,
            wrong_source: 70,
        };
        let own = Ipv4Addr::new(127, 1, 0, 7);
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4000);
        let mut flooder = Flooder::new(flood, own);
        let mut batch = SourcedBatch::new();
        let mut flushes = 0;
        let packet = [0x80u8, 0, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4, 0xff, 0xff];
        flooder.copy(&packet, own, to, &mut batch, &mut |b| {
            flushes += 1;
            b.clear_for_test();
        });
        assert_eq!(flooder.queued, 73);
        // 73 datagrams through a batch of 64: one flush on the way, 9 left queued.
        assert_eq!(flushes, 1);
        let queued = batch.queued_for_test();
        assert_eq!(queued.len(), 9);
        let strangers = queued
            .iter()
            .filter(|(from, ..)| *from == Ipv4Addr::new(127, 2, 0, 7))
            .count();
        assert_eq!(strangers, 9, "the last copies are the stranger's");
        assert!(
            queued
                .iter()
                .all(|(_, dst, key, seq)| *dst == to && *key == FLOOD_KEY && *seq == 0x1234),
            "a stranger's copy is the packet as it was"
        );
    }

    #[test]
    fn the_right_sources_copies_carry_other_sequence_numbers() {
        let flood = RtpFlood {
            every: 1,
            right_source: 9,
            wrong_source: 0,
        };
        let own = Ipv4Addr::new(127, 1, 0, 9);
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4000);
        let mut flooder = Flooder::new(flood, own);
        let mut batch = SourcedBatch::new();
        let packet = [0x80u8, 0, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4, 0xff, 0xff];
        flooder.copy(&packet, own, to, &mut batch, &mut |_| {});
        let queued = batch.queued_for_test();
        assert_eq!(queued.len(), 9);
        assert!(queued.iter().all(|(from, ..)| *from == own));
        let mut seqs: Vec<u16> = queued.iter().map(|(.., seq)| *seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert!(seqs.len() >= 8, "random sequence numbers: {seqs:?}");
    }
}
