//! A fixed reorder window over RTP sequence numbers: holds up to [`WINDOW`] packets so
//! that packets arriving out of order are played in order, and tells duplicates from
//! late arrivals. No allocation after construction.
use std::time::Instant;

use super::MAX_PAYLOAD;

/// Packets the window can hold ahead of the next expected sequence number.
pub const WINDOW: usize = 8;

/// One received packet waiting in the window.
#[derive(Clone, Copy)]
pub struct BufferedPacket {
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp of the first sample.
    pub timestamp: u32,
    /// When the datagram arrived.
    pub arrived: Instant,
    /// Payload bytes used in `payload`.
    pub len: usize,
    /// The G.711 payload, padding and headers removed.
    pub payload: [u8; MAX_PAYLOAD],
}

impl BufferedPacket {
    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload[..self.len.min(MAX_PAYLOAD)]
    }
}

/// What [`ReorderWindow::insert`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Held until its turn.
    Stored,
    /// Already received (in the window or recently released).
    Duplicate,
    /// Older than the next expected sequence number and not a known duplicate.
    Late,
    /// At least [`WINDOW`] ahead of the next expected number: older packets must be
    /// released first with [`ReorderWindow::pop_before`].
    TooFarAhead,
}

/// Result of [`ReorderWindow::pop_before`].
// A transient return value: boxing the packet would allocate on the per-packet path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy)]
pub enum PopBefore {
    /// The next held packet below the target, and how many sequence numbers were skipped
    /// (never received) just before it.
    Packet(BufferedPacket, u16),
    /// Nothing held below the target any more; the window now expects the target, after
    /// skipping this many missing sequence numbers.
    Done(u16),
}

/// The window itself. Slot `seq % WINDOW` holds packet `seq`.
pub struct ReorderWindow {
    slots: Box<[Option<BufferedPacket>]>,
    held: usize,
    next_seq: u16,
    /// Bit `i` set: sequence `next_seq - 1 - i` was received and released.
    history: u64,
}

impl Default for ReorderWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReorderWindow {
    /// An empty window expecting sequence number 0.
    pub fn new() -> Self {
        ReorderWindow {
            slots: vec![None; WINDOW].into_boxed_slice(),
            held: 0,
            next_seq: 0,
            history: 0,
        }
    }

    /// Forgets everything and expects `next_seq`.
    pub fn reset(&mut self, next_seq: u16) {
        for slot in self.slots.iter_mut() {
            *slot = None;
        }
        self.held = 0;
        self.next_seq = next_seq;
        self.history = 0;
    }

    /// The sequence number the window releases next.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Signed distance of `seq` from the next expected number (wrapping).
    pub fn distance(&self, seq: u16) -> i32 {
        i32::from(seq.wrapping_sub(self.next_seq) as i16)
    }

    /// Packets currently held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Whether the next expected packet is held (so [`Self::pop_ready`] returns it).
    pub fn has_next(&self) -> bool {
        self.slot_of(self.next_seq)
            .is_some_and(|p| p.seq == self.next_seq)
    }

    /// Arrival time of the earliest-arrived held packet.
    pub fn earliest_arrival(&self) -> Option<Instant> {
        self.slots.iter().flatten().map(|p| p.arrived).min()
    }

    fn slot_index(seq: u16) -> usize {
        usize::from(seq) % WINDOW
    }

    fn slot_of(&self, seq: u16) -> Option<&BufferedPacket> {
        self.slots
            .get(Self::slot_index(seq))
            .and_then(Option::as_ref)
    }

    /// Offers a packet to the window.
    pub fn insert(&mut self, packet: &BufferedPacket) -> Insert {
        let d = self.distance(packet.seq);
        if d < 0 {
            let back = (-d - 1) as u32;
            if back < 64 && self.history & (1u64 << back) != 0 {
                return Insert::Duplicate;
            }
            return Insert::Late;
        }
        if d as usize >= WINDOW {
            return Insert::TooFarAhead;
        }
        let index = Self::slot_index(packet.seq);
        match self.slots.get_mut(index) {
            Some(Some(held)) if held.seq == packet.seq => Insert::Duplicate,
            Some(slot) => {
                if slot.is_none() {
                    self.held += 1;
                }
                *slot = Some(*packet);
                Insert::Stored
            }
            None => Insert::Late,
        }
    }

    /// Releases the next expected packet if it is held.
    pub fn pop_ready(&mut self) -> Option<BufferedPacket> {
        let seq = self.next_seq;
        let slot = self.slots.get_mut(Self::slot_index(seq))?;
        if slot.is_some_and(|p| p.seq == seq) {
            let packet = slot.take();
            self.held -= 1;
            self.advance(true);
            packet
        } else {
            None
        }
    }

    /// Releases the oldest held packet, skipping the missing numbers before it.
    pub fn pop_oldest(&mut self) -> Option<(BufferedPacket, u16)> {
        if self.held == 0 {
            return None;
        }
        let mut skipped = 0u16;
        loop {
            if let Some(packet) = self.pop_ready() {
                return Some((packet, skipped));
            }
            self.advance(false);
            skipped += 1;
        }
    }

    /// Releases held packets numbered below `target` one at a time, then moves the window
    /// to expect `target`.
    pub fn pop_before(&mut self, target: u16) -> PopBefore {
        let mut skipped = 0u16;
        while self.distance(target) > 0 {
            if let Some(packet) = self.pop_ready() {
                return PopBefore::Packet(packet, skipped);
            }
            self.advance(false);
            skipped += 1;
        }
        PopBefore::Done(skipped)
    }

    fn advance(&mut self, received: bool) {
        self.history = (self.history << 1) | u64::from(received);
        self.next_seq = self.next_seq.wrapping_add(1);
        // A slot that now maps past the window can only hold a stale packet; none can exist
        // because inserts are limited to WINDOW ahead.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16) -> BufferedPacket {
        BufferedPacket {
            seq,
            timestamp: u32::from(seq) * 160,
            arrived: Instant::now(),
            len: 1,
            payload: [0; MAX_PAYLOAD],
        }
    }

    #[test]
    fn releases_in_order_after_reordering() {
        let mut w = ReorderWindow::new();
        w.reset(65534);
        assert_eq!(w.insert(&packet(65535)), Insert::Stored);
        assert!(w.pop_ready().is_none());
        assert_eq!(w.insert(&packet(65534)), Insert::Stored);
        assert_eq!(w.pop_ready().map(|p| p.seq), Some(65534));
        assert_eq!(w.pop_ready().map(|p| p.seq), Some(65535));
        assert_eq!(w.next_seq(), 0);
    }

    #[test]
    fn tells_duplicates_from_late_packets() {
        let mut w = ReorderWindow::new();
        w.reset(10);
        assert_eq!(w.insert(&packet(10)), Insert::Stored);
        assert_eq!(w.insert(&packet(10)), Insert::Duplicate);
        assert!(w.pop_ready().is_some());
        assert_eq!(w.insert(&packet(10)), Insert::Duplicate);
        assert_eq!(w.insert(&packet(9)), Insert::Late);
        assert_eq!(w.insert(&packet(19)), Insert::TooFarAhead);
    }

    #[test]
    fn pop_oldest_counts_skipped_numbers() {
        let mut w = ReorderWindow::new();
        w.reset(0);
        w.insert(&packet(3));
        let (p, skipped) = w.pop_oldest().unwrap();
        assert_eq!((p.seq, skipped), (3, 3));
        assert_eq!(w.insert(&packet(1)), Insert::Late);
    }
}
