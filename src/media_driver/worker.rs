//! [`MediaWorker`]: the sans-IO heart of a media thread. It holds many calls, routes each
//! datagram by its source address to the call whose Asterisk address it is (anything else
//! is dropped and counted — a packet from another call's Asterisk port reaches that call,
//! never the wrong one), and services each call when its own deadline comes, so every call
//! keeps its own 20 ms phase and a thread's work spreads over the tick. Fed with commands,
//! datagrams and `now`; packets go to a [`PacketSink`]. No sockets or clocks inside:
//! [`super::thread`] does the IO, tests drive it on a virtual clock.

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

/// Frames are sent up to this much ahead of their deadline, so calls due within it share
/// one wake-up and one `sendmmsg`. Well under the 0.5 ms send-time jitter the thread aims at.
pub const SEND_AHEAD: Duration = Duration::from_micros(150);

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
        }
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
        match command {
            WorkerCommand::Attach { key, call, reply } => {
                let joined = self.attach(now, key, *call, sink);
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

    fn attach(
        &mut self,
        now: Instant,
        key: CallKey,
        call: CallMedia,
        sink: &mut impl PacketSink,
    ) -> Result<(), MediaError> {
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
        self.service(key, now, sink);
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

    /// Services every call whose deadline falls before `now + SEND_AHEAD`.
    pub fn service_due(&mut self, now: Instant, sink: &mut impl PacketSink) {
        let horizon = now + SEND_AHEAD;
        while let Some((deadline, key)) = self.deadlines.pop_due(horizon) {
            let Some(call) = self.calls.get_mut(&key) else {
                continue; // The call left.
            };
            if call.scheduled != Some(deadline) {
                continue; // Superseded by an earlier deadline, already serviced.
            }
            call.scheduled = None;
            self.service(key, horizon, sink);
        }
    }

    /// When the thread must wake next (a little before the earliest deadline), if any call
    /// is held.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.deadlines
            .peek()
            .map(|d| d.checked_sub(SEND_AHEAD).unwrap_or(d))
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
        let next = call.core.poll_timeout();
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
