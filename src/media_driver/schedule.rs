//! [`DeadlineQueue`]: when each call on a media thread next needs the thread — its next
//! outbound frame, a reorder hold running out, an utterance to end. A binary heap of
//! `(deadline, call)`; an entry whose call has since been given an earlier deadline, or
//! has left, is stale and skipped when it comes up (the caller keeps the deadline it
//! scheduled and compares). The heap keeps its capacity, so once warm it does not allocate.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// A call's key on its media thread.
pub type CallKey = u64;

/// Deadlines of the calls of one media thread, earliest first.
#[derive(Debug, Default)]
pub struct DeadlineQueue {
    heap: BinaryHeap<Reverse<(Instant, CallKey)>>,
}

impl DeadlineQueue {
    /// A queue with room for `capacity` entries before it grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(capacity),
        }
    }

    /// `call` needs the thread at `deadline`.
    pub fn push(&mut self, deadline: Instant, call: CallKey) {
        self.heap.push(Reverse((deadline, call)));
    }

    /// The earliest deadline, if any.
    pub fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// The earliest entry if its deadline is at or before `horizon`.
    pub fn pop_due(&mut self, horizon: Instant) -> Option<(Instant, CallKey)> {
        match self.heap.peek() {
            Some(Reverse((deadline, _))) if *deadline <= horizon => {
                self.heap.pop().map(|Reverse(entry)| entry)
            }
            _ => None,
        }
    }

    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Makes room for `capacity` entries in all (when a call joins, not per packet).
    pub fn ensure_capacity(&mut self, capacity: usize) {
        if let Some(more) = capacity.checked_sub(self.heap.len()) {
            self.heap.reserve(more);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_come_out_earliest_first_and_only_when_due() {
        let t0 = Instant::now();
        let mut q = DeadlineQueue::with_capacity(4);
        q.push(t0 + Duration::from_millis(20), 1);
        q.push(t0 + Duration::from_millis(5), 2);
        q.push(t0 + Duration::from_millis(12), 3);
        assert_eq!(q.peek(), Some(t0 + Duration::from_millis(5)));
        assert_eq!(q.pop_due(t0), None);
        assert_eq!(
            q.pop_due(t0 + Duration::from_millis(12)),
            Some((t0 + Duration::from_millis(5), 2))
        );
        assert_eq!(
            q.pop_due(t0 + Duration::from_millis(12)),
            Some((t0 + Duration::from_millis(12), 3))
        );
        assert_eq!(q.pop_due(t0 + Duration::from_millis(12)), None);
        assert_eq!(q.len(), 1);
    }
}
