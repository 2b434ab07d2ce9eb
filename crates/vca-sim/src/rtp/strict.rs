//! Strict RTP as Asterisk 22 does it on a UnicastRTP channel (strictrtp=yes, probation=4),
//! per FINDINGS 11: the external_host address is the preferred source from the start; another
//! source is adopted during learning after `probation` sequential packets (all of them
//! dropped); the source locks on the first packet from it that arrives `learn` after the
//! channel was created; after that every other source is dropped. Sans-IO: time is input.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// From the current source: play it.
    Accept,
    /// From another source while learning: counted towards adoption, dropped.
    Probation,
    /// From another source after the lock: dropped.
    Locked,
}

/// The learning state of one channel.
#[derive(Debug)]
pub(crate) struct StrictRtp {
    source: SocketAddr,
    locked: bool,
    learn_until: Instant,
    probation: u32,
    candidate: Option<(SocketAddr, u16, u32)>,
}

impl StrictRtp {
    /// Learning starts at `created`, preferring `external_host`.
    pub(crate) fn new(
        external_host: SocketAddr,
        created: Instant,
        learn: Duration,
        probation: u32,
    ) -> Self {
        StrictRtp {
            source: external_host,
            locked: false,
            learn_until: created + learn,
            probation: probation.max(1),
            candidate: None,
        }
    }

    /// The source accepted now (locked or not).
    pub(crate) fn source(&self) -> SocketAddr {
        self.source
    }

    /// Whether the source is locked.
    pub(crate) fn is_locked(&self) -> bool {
        self.locked
    }

    /// Judges one packet from `src` with sequence number `seq` arriving at `now`.
    pub(crate) fn handle_packet(&mut self, src: SocketAddr, seq: u16, now: Instant) -> Verdict {
        if src == self.source {
            if !self.locked && now >= self.learn_until {
                self.locked = true;
            }
            self.candidate = None;
            return Verdict::Accept;
        }
        if self.locked {
            return Verdict::Locked;
        }
        let count = match self.candidate {
            Some((c, last, n)) if c == src && seq == last.wrapping_add(1) => n + 1,
            _ => 1,
        };
        if count >= self.probation {
            self.source = src;
            self.candidate = None;
        } else {
            self.candidate = Some((src, seq, count));
        }
        Verdict::Probation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn external_host_accepted_at_once_then_locks_and_drops_others() {
        let t0 = Instant::now();
        let mut s = StrictRtp::new(addr(4000), t0, Duration::from_secs(5), 4);
        assert_eq!(s.handle_packet(addr(4000), 1, t0), Verdict::Accept);
        assert!(!s.is_locked());
        let later = t0 + Duration::from_secs(6);
        assert_eq!(s.handle_packet(addr(4000), 2, later), Verdict::Accept);
        assert!(s.is_locked());
        for seq in 0..10 {
            assert_eq!(s.handle_packet(addr(5000), seq, later), Verdict::Locked);
        }
        assert_eq!(s.source(), addr(4000));
    }

    #[test]
    fn other_source_adopted_after_probation_then_external_host_dropped() {
        // Q1/Q2 of rtp-to-asterisk-experiments.csv.
        let t0 = Instant::now();
        let mut s = StrictRtp::new(addr(4000), t0, Duration::from_secs(5), 4);
        let verdicts: Vec<_> = (100..106)
            .map(|q| s.handle_packet(addr(5000), q, t0))
            .collect();
        assert_eq!(&verdicts[..4], &[Verdict::Probation; 4]);
        assert_eq!(&verdicts[4..], &[Verdict::Accept; 2]);
        let later = t0 + Duration::from_secs(6);
        assert_eq!(s.handle_packet(addr(5000), 106, later), Verdict::Accept);
        assert!(s.is_locked());
        assert_eq!(s.handle_packet(addr(4000), 1, later), Verdict::Locked);
    }

    #[test]
    fn non_sequential_packets_restart_probation() {
        let t0 = Instant::now();
        let mut s = StrictRtp::new(addr(4000), t0, Duration::from_secs(5), 4);
        for q in [1u16, 2, 3, 10, 11, 12] {
            assert_eq!(s.handle_packet(addr(5000), q, t0), Verdict::Probation);
        }
        assert_eq!(s.handle_packet(addr(5000), 13, t0), Verdict::Probation);
        assert_eq!(s.handle_packet(addr(5000), 14, t0), Verdict::Accept);
    }
}
