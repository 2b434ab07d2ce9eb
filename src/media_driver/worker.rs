//! [`MediaWorker`]: the sans-IO heart of a media thread. It holds many calls, routes each
//! datagram by its source address to the call whose Asterisk address it is (anything else
//! is dropped and counted — a packet from another call's Asterisk port reaches that call,
//! never the wrong one), and services each call when its own deadline comes, so every call
//! keeps its own 20 ms phase and a thread's work spreads over the tick. Deadlines are
//! served on a grid of [`SLOT`]s (the first slot boundary at or after each): a steady
//! stream goes out at a constant offset from its deadline (no jitter from the grid), and a
//! thread wakes at most once per slot however many calls it carries, instead of once per
//! call. Fed with commands, datagrams and `now`; packets go to a [`PacketSink`]. No
//! sockets or clocks inside: [`super::thread`] does the IO, tests drive it on a virtual
//! clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::call_media::{CallMedia, PacketSink};
use super::handle::{Command, MediaError};
use super::schedule::{CallKey, DeadlineQueue};
use crate::media::OUT_PACKET_LEN;

/// The grid deadlines are served on: a call's frame goes out at the first slot boundary at
/// or after its deadline, so all calls due in one slot share a wake-up and a `sendmmsg`,
/// and a thread wakes at most 2,000 times a second. The offset is constant while a talk
/// spurt lasts (the deadlines move by whole 20 ms ticks), so it adds no jitter; it adds at
/// most one slot to the first frame of a reply.
pub const SLOT: Duration = Duration::from_micros(500);

/// Deadline entries a call may hold at once: its pending one and a few it superseded.
const ENTRIES_PER_CALL: usize = 8;

/// What the async side asks of a media thread.
#[derive(Debug)]
pub enum WorkerCommand {
    /// A new call; the reply says whether it joined.
    Attach {
        /// The call's key on this thread.
        key: CallKey,
        /// The call.
        call: Box<CallMedia>,
        /// Joined, or why not.
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    /// An order for one call.
    Call {
        /// The call.
        key: CallKey,
        /// The order.
        command: Command,
    },
    /// The call leaves; `done` fires once its last counters are published.
    Detach {
        /// The call.
        key: CallKey,
        /// Fired when the call has left.
        done: oneshot::Sender<()>,
    },
}

/// Counters of one media thread, shared with the async side (metrics, load balancing).
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Calls on the thread.
    pub calls: AtomicUsize,
    /// Datagrams from an address that is no call's Asterisk address.
    pub unknown_source: AtomicU64,
    /// Packets the socket refused (a full send buffer) or failed to send.
    pub send_errors: AtomicU64,
    /// Failed socket receives.
    pub recv_errors: AtomicU64,
    /// Wake-ups of the thread.
    pub wakeups: AtomicU64,
    /// Frames sent, summed over the thread's calls.
    pub frames_sent: AtomicU64,
}

/// The calls of one media thread.
#[derive(Debug)]
pub struct MediaWorker {
    calls: HashMap<CallKey, CallMedia>,
    routes: HashMap<SocketAddr, CallKey>,
    deadlines: DeadlineQueue,
    dirty: Vec<CallKey>,
    out: [u8; OUT_PACKET_LEN],
    counters: Arc<WorkerCounters>,
    /// The slot grid's origin: the first time the worker was given.
    origin: Option<Instant>,
}

impl MediaWorker {
    /// An empty worker counting into `counters`.
    pub fn new(counters: Arc<WorkerCounters>) -> Self {
        MediaWorker {
            calls: HashMap::new(),
            routes: HashMap::new(),
            deadlines: DeadlineQueue::with_capacity(64),
            dirty: Vec::with_capacity(64),
            out: [0; OUT_PACKET_LEN],
            counters,
            origin: None,
        }
    }

    /// The slot `now` falls in: its boundary at or before `now`. A media thread gives the
    /// worker this, not the clock's reading, so every time a call's core sees is a slot
    /// boundary and a thread that wakes a little late still serves the slot it woke for.
    pub fn slot_of(&mut self, now: Instant) -> Instant {
        let origin = *self.origin.get_or_insert(now);
        let Some(since) = now.checked_duration_since(origin) else {
            return origin;
        };
        let slot = SLOT.as_nanos();
        let slots = since.as_nanos() / slot;
        origin + Duration::from_nanos(u64::try_from(slots * slot).unwrap_or(u64::MAX))
    }

    /// The first slot boundary at or after `t`.
    fn slot_at_or_after(&mut self, t: Instant) -> Instant {
        let origin = *self.origin.get_or_insert(t);
        let Some(since) = t.checked_duration_since(origin) else {
            return origin;
        };
        let slot = SLOT.as_nanos();
        let slots = since.as_nanos().div_ceil(slot);
        origin + Duration::from_nanos(u64::try_from(slots * slot).unwrap_or(u64::MAX))
    }

    /// Calls held.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is held.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// A command from the async side, at `now`.
    pub fn handle_command(
        &mut self,
        now: Instant,
        command: WorkerCommand,
        sink: &mut impl PacketSink,
    ) {
        self.origin.get_or_insert(now);
        match command {
            WorkerCommand::Attach { key, call, reply } => {
                let joined = self.attach(key, *call);
                let _ = reply.send(joined);
            }
            WorkerCommand::Call { key, command } => {
                if let Some(call) = self.calls.get_mut(&key) {
                    call.handle_command(command);
                    // A reply queued while nothing played may go out now (re-phasing is
                    // the core's choice); at least the call's deadline may have moved.
                    self.service(key, now, sink);
                }
            }
            WorkerCommand::Detach { key, done } => {
                self.detach(key);
                let _ = done.send(());
            }
        }
    }

    fn attach(&mut self, key: CallKey, call: CallMedia) -> Result<(), MediaError> {
        if self.routes.contains_key(&call.remote) {
            return Err(MediaError::RemoteInUse(call.remote));
        }
        self.routes.insert(call.remote, key);
        self.calls.insert(key, call);
        // Room for every call's entries (a pending deadline and a few superseded ones),
        // so servicing does not grow them.
        let calls = self.calls.len();
        self.deadlines.ensure_capacity(calls * ENTRIES_PER_CALL);
        if let Some(more) = calls.checked_sub(self.dirty.len()) {
            self.dirty.reserve(more);
        }
        self.counters
            .calls
            .store(self.calls.len(), Ordering::Relaxed);
        // The first frame goes out at its slot like every later one.
        self.schedule(key);
        Ok(())
    }

    fn detach(&mut self, key: CallKey) {
        if let Some(call) = self.calls.remove(&key) {
            call.finish();
            self.routes.remove(&call.remote);
            self.counters
                .calls
                .store(self.calls.len(), Ordering::Relaxed);
        }
    }

    /// A datagram that arrived at `now` from `src`. The call it belongs to is serviced by
    /// the next [`Self::service_received`].
    pub fn handle_datagram(&mut self, now: Instant, src: SocketAddr, datagram: &[u8]) {
        let Some(&key) = self.routes.get(&src) else {
            self.counters.unknown_source.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if let Some(call) = self.calls.get_mut(&key) {
            call.handle_datagram(now, datagram);
            if !call.dirty {
                call.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// Services every call that received datagrams since the last time.
    pub fn service_received(&mut self, now: Instant, sink: &mut impl PacketSink) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &key in &dirty {
            if let Some(call) = self.calls.get_mut(&key) {
                call.dirty = false;
            }
            self.service(key, now, sink);
        }
        dirty.clear();
        self.dirty = dirty;
    }

    /// Services every call whose slot has come by `now`.
    pub fn service_due(&mut self, now: Instant, sink: &mut impl PacketSink) {
        while let Some((deadline, key)) = self.deadlines.pop_due(now) {
            let Some(call) = self.calls.get_mut(&key) else {
                continue; // The call left.
            };
            if call.scheduled != Some(deadline) {
                continue; // Superseded by an earlier deadline, already serviced.
            }
            call.scheduled = None;
            self.service(key, now, sink);
        }
    }

    /// When the thread must wake next (the earliest call's slot), if any call is held.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.deadlines.peek()
    }

    fn service(&mut self, key: CallKey, now: Instant, sink: &mut impl PacketSink) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if call.is_abandoned() {
            self.detach(key);
            return;
        }
        let mut counting = CountingSink {
            inner: sink,
            sent: 0,
        };
        call.service(now, &mut self.out, &mut counting);
        if counting.sent > 0 {
            self.counters
                .frames_sent
                .fetch_add(counting.sent, Ordering::Relaxed);
        }
        self.schedule(key);
    }

    /// Puts the call's next deadline, on the slot grid, in the queue (unless an earlier
    /// entry is pending).
    fn schedule(&mut self, key: CallKey) {
        let Some(due) = self.calls.get(&key).map(|c| c.core.poll_timeout()) else {
            return;
        };
        let next = self.slot_at_or_after(due);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        match call.scheduled {
            // The pending entry comes first; servicing then schedules the next one.
            Some(pending) if pending <= next => {}
            _ => {
                call.scheduled = Some(next);
                self.deadlines.push(next, key);
            }
        }
    }
}

struct CountingSink<'a, S> {
    inner: &'a mut S,
    sent: u64,
}

impl<S: PacketSink> PacketSink for CountingSink<'_, S> {
    fn transmit(&mut self, packet: &[u8], to: SocketAddr) {
        self.sent += 1;
        self.inner.transmit(packet, to);
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
