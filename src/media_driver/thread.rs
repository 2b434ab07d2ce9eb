//! The IO of one media thread: a UDP socket of `VCA_RTP_PORT_RANGE`, a command queue with an
//! eventfd to wake it, and the [`MediaWorker`] they feed. Each turn serves one slot of the
//! worker's grid ([`SLOT`]): it takes the commands, reads every waiting datagram in batches
//! (`recvmmsg`), services the calls that received and the calls that are due, sends what
//! they produced in batches (`sendmmsg`), then sleeps in `ppoll` until the next slot with
//! work — a sleep precise to tens of microseconds (the thread's timer slack is lowered),
//! not a 1 ms tick. While a deadline is less than a slot away the socket is not watched:
//! what arrives meanwhile is read at that wake-up, so datagrams never cost a wake-up of
//! their own on a busy thread, and wait at most one slot on any. Nothing here allocates,
//! locks or logs per packet.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::eventfd::EventFd;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use nix::sys::time::TimeSpec;

use super::call_media::PacketSink;
use super::worker::{MediaWorker, SLOT, WorkerCommand, WorkerCounters};
use crate::media::OUT_PACKET_LEN;

/// Datagrams read or sent per system call.
pub const BATCH: usize = 64;
/// Largest datagram read.
const RECV_BUFFER: usize = 2048;
/// The thread's timer slack: how late the kernel may wake it to coalesce timers.
const TIMER_SLACK_NS: u64 = 20_000;
/// Longest sleep of a thread without calls: it notices its queue closing within this.
const IDLE_WAKE: std::time::Duration = std::time::Duration::from_secs(1);

/// Outbound packets waiting for one `sendmmsg`.
struct SendBatch<'s> {
    socket: &'s UdpSocket,
    headers: MultiHeaders<SockaddrStorage>,
    packets: Box<[[u8; OUT_PACKET_LEN]; BATCH]>,
    lens: [usize; BATCH],
    addrs: [Option<SockaddrStorage>; BATCH],
    len: usize,
    counters: &'s WorkerCounters,
}

impl<'s> SendBatch<'s> {
    fn new(socket: &'s UdpSocket, counters: &'s WorkerCounters) -> Self {
        SendBatch {
            socket,
            headers: MultiHeaders::preallocate(BATCH, None),
            packets: Box::new([[0; OUT_PACKET_LEN]; BATCH]),
            lens: [0; BATCH],
            addrs: [None; BATCH],
            len: 0,
            counters,
        }
    }

    /// Sends every queued packet; those the kernel refuses are lost and counted.
    fn flush(&mut self) {
        let mut from = 0;
        while from < self.len {
            let (packets, lens) = (&self.packets, &self.lens);
            let iovs: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
                let len = lens.get(i).copied().unwrap_or(0);
                [IoSlice::new(
                    packets.get(i).and_then(|p| p.get(..len)).unwrap_or(&[]),
                )]
            });
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            let slices = iovs.get(from..self.len).unwrap_or(&[]);
            let addrs = self.addrs.get(from..self.len).unwrap_or(&[]);
            let sent = sendmmsg(
                self.socket.as_raw_fd(),
                &mut self.headers,
                slices,
                addrs,
                no_cmsgs,
                MsgFlags::MSG_DONTWAIT,
            )
            .map(Iterator::count);
            match sent {
                Ok(n) if n > 0 => from += n,
                Err(Errno::EINTR) => {}
                _ => {
                    // A full send buffer or a refused destination: skip this packet.
                    self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                    from += 1;
                }
            }
        }
        self.len = 0;
    }
}

impl PacketSink for SendBatch<'_> {
    fn transmit(&mut self, packet: &[u8], to: SocketAddr) {
        if self.len == BATCH {
            self.flush();
        }
        let i = self.len;
        if let (Some(slot), Some(len), Some(addr)) = (
            self.packets.get_mut(i),
            self.lens.get_mut(i),
            self.addrs.get_mut(i),
        ) {
            let n = packet.len().min(OUT_PACKET_LEN);
            if let (Some(dst), Some(src)) = (slot.get_mut(..n), packet.get(..n)) {
                dst.copy_from_slice(src);
            }
            *len = n;
            *addr = Some(SockaddrStorage::from(to));
            self.len += 1;
        }
    }
}

/// Received datagrams waiting to be routed.
struct RecvBatch {
    headers: MultiHeaders<SockaddrStorage>,
    buffers: Box<[[u8; RECV_BUFFER]; BATCH]>,
    meta: [(usize, Option<SocketAddr>); BATCH],
}

impl RecvBatch {
    fn new() -> Self {
        RecvBatch {
            headers: MultiHeaders::preallocate(BATCH, None),
            buffers: Box::new([[0; RECV_BUFFER]; BATCH]),
            meta: [(0, None); BATCH],
        }
    }

    /// Reads what is waiting (without blocking); the number of datagrams read.
    fn receive(&mut self, socket: &UdpSocket) -> Result<usize, Errno> {
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
            self.buffers.each_mut().map(|b| [IoSliceMut::new(b)]);
        let results = recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        let mut n = 0;
        for (msg, meta) in results.zip(self.meta.iter_mut()) {
            *meta = (msg.bytes, msg.address.as_ref().and_then(to_socket_addr));
            n += 1;
        }
        Ok(n)
    }
}

fn to_socket_addr(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// Runs a media thread until its command queue closes.
pub fn run(
    socket: UdpSocket,
    commands: Receiver<WorkerCommand>,
    wake: Arc<EventFd>,
    counters: Arc<WorkerCounters>,
) {
    // Best effort: without it the kernel may add up to 50 µs to every sleep.
    let _ = nix::sys::prctl::set_timerslack(TIMER_SLACK_NS);
    let mut worker = MediaWorker::new(Arc::clone(&counters));
    let mut sink = SendBatch::new(&socket, &counters);
    let mut received = RecvBatch::new();
    loop {
        // Every time the worker sees is the boundary of the slot being served.
        let now = worker.slot_of(Instant::now());
        loop {
            match commands.try_recv() {
                Ok(command) => worker.handle_command(now, command, &mut sink),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    sink.flush();
                    return;
                }
            }
        }
        loop {
            match received.receive(&socket) {
                Ok(n) => {
                    for (i, &(len, src)) in received.meta.iter().take(n).enumerate() {
                        let data = received.buffers.get(i).and_then(|b| b.get(..len));
                        if let (Some(src), Some(data)) = (src, data) {
                            worker.handle_datagram(now, src, data);
                        }
                    }
                    if n < BATCH {
                        break;
                    }
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => {}
                Err(_) => {
                    counters.recv_errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        worker.service_received(now, &mut sink);
        worker.service_due(now, &mut sink);
        sink.flush();
        let woke = Instant::now();
        let until = worker.next_wakeup().unwrap_or(woke + IDLE_WAKE);
        // A deadline within a slot reads whatever arrives by then; otherwise a datagram
        // wakes the thread.
        let watch_socket = until > woke + SLOT;
        sleep(&socket, &wake, until, watch_socket);
        counters.wakeups.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sleeps until `until`, a command or (with `watch_socket`) a datagram, whichever comes
/// first.
fn sleep(socket: &UdpSocket, wake: &EventFd, until: Instant, watch_socket: bool) {
    let timeout = until.saturating_duration_since(Instant::now());
    if timeout.is_zero() {
        return;
    }
    let timeout = Some(TimeSpec::from_duration(timeout));
    let socket_events = if watch_socket {
        PollFlags::POLLIN
    } else {
        PollFlags::empty()
    };
    let mut fds = [
        PollFd::new(socket.as_fd(), socket_events),
        PollFd::new(wake.as_fd(), PollFlags::POLLIN),
    ];
    if ppoll(&mut fds, timeout, None).is_ok()
        && fds
            .get(1)
            .and_then(PollFd::revents)
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
    {
        // Resets the counter; the commands are read at the top of the loop.
        let _ = wake.read();
    }
}
