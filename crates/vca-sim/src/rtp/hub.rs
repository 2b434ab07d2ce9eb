//! [`RtpHub`]: the load runner's RTP, so that the simulator is not what a load figure
//! measures. A few threads (`--rtp-threads`), each with one UDP socket on a port of the
//! RTP range, carry many channels' [`PeerCore`]s. Every channel announces its own loopback
//! address (`UNICASTRTP_LOCAL_ADDRESS` 127.1.x.y, the thread's port), the thread's socket
//! is bound to the wildcard address on the `lo` device only, reads in batches
//! (`recvmmsg`) with the destination address (`IP_PKTINFO`) that says whose a datagram is
//! and the kernel's receive time (`SO_TIMESTAMPNS`), and sends in batches (`sendmmsg`),
//! each datagram from its channel's address. Sends are served on a 0.5 ms grid, so callers
//! due together share a wake-up. Arrival times are the kernel's, so the thread reads only
//! when it wakes to send (the daemon's packets never wake it) and a busy simulator adds
//! none of its own delay to the jitter it reports; how long datagrams waited to be read is
//! recorded beside them (`read_lag`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::IoSliceMut;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant, SystemTime};

use nix::cmsg_space;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::eventfd::EventFd;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeSpec;
use tokio::sync::{mpsc, oneshot};

use crate::error::SimError;
use crate::rtp::flood::{Flooder, RtpFlood};
use crate::rtp::peer::PeerCommand;
use crate::rtp::peer_core::{PACKET_MAX, PeerConfig, PeerCore};
use crate::rtp::recording::RtpRecording;
use crate::rtp::sourced_send::{BATCH, SourcedBatch};

/// Deadlines are served on a grid of this step (the first boundary at or after each), so
/// callers due together share a wake-up and a `sendmmsg`; a steady caller's packets keep
/// a constant offset from its grid, which adds no jitter.
const SLOT: Duration = Duration::from_micros(500);
/// How late the kernel may wake a hub thread.
const TIMER_SLACK_NS: u64 = 20_000;
/// Largest datagram read.
const RECV_BUFFER: usize = 2048;
/// Longest sleep without callers.
const IDLE_WAKE: Duration = Duration::from_millis(200);
/// The first channel address; later ones count up from it.
const FIRST_ADDRESS: u32 = u32::from_be_bytes([127, 1, 0, 1]);

/// A channel's place on the hub: its thread and the address it announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HubSlot {
    thread: usize,
    /// Whether this channel sends a flood beside its packets ([`RtpFlood`]).
    floods: bool,
    /// `UNICASTRTP_LOCAL_ADDRESS:PORT`.
    pub(crate) local: SocketAddrV4,
}

enum HubCommand {
    Attach {
        key: u32,
        core: Box<PeerCore>,
        flooder: Option<Flooder>,
        done: oneshot::Sender<RtpRecording>,
    },
    Peer {
        key: u32,
        command: PeerCommand,
    },
    Detach {
        key: u32,
    },
}

struct ThreadLink {
    port: u16,
    commands: std_mpsc::Sender<HubCommand>,
    wake: Arc<EventFd>,
}

impl ThreadLink {
    fn send(&self, command: HubCommand) -> bool {
        self.commands.send(command).is_ok() && self.wake.write(1).is_ok()
    }
}

/// The hub's threads, as the telephony model sees them.
#[derive(Clone)]
pub(crate) struct RtpHub {
    threads: Arc<[ThreadLink]>,
    next: Arc<AtomicU32>,
    flood: RtpFlood,
}

impl std::fmt::Debug for RtpHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports: Vec<u16> = self.threads.iter().map(|t| t.port).collect();
        f.debug_struct("RtpHub").field("ports", &ports).finish()
    }
}

impl RtpHub {
    /// Starts `threads` threads on the first free ports of `ports` (inclusive); the
    /// channels `flood` picks send its copies beside their packets.
    pub(crate) fn start(
        threads: usize,
        (lo, hi): (u16, u16),
        flood: RtpFlood,
    ) -> Result<RtpHub, SimError> {
        let mut links = Vec::with_capacity(threads);
        let mut port = lo.min(hi);
        while links.len() < threads {
            if port > lo.max(hi) {
                return Err(SimError::RtpHub(format!(
                    "no free port for RTP thread {} in {lo}-{hi}",
                    links.len()
                )));
            }
            let Ok(socket) = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
            else {
                port += 1;
                continue;
            };
            prepare(&socket)?;
            let wake =
                Arc::new(EventFd::new().map_err(|e| SimError::RtpHub(format!("eventfd: {e}")))?);
            let thread_wake = Arc::clone(&wake);
            let (tx, rx) = std_mpsc::channel();
            let index = links.len();
            std::thread::Builder::new()
                .name(format!("sim-rtp-{index}"))
                .spawn(move || run(socket, rx, thread_wake))
                .map_err(|e| SimError::RtpHub(format!("thread: {e}")))?;
            links.push(ThreadLink {
                port,
                commands: tx,
                wake,
            });
            port += 1;
        }
        Ok(RtpHub {
            threads: links.into(),
            next: Arc::new(AtomicU32::new(0)),
            flood,
        })
    }

    /// A new channel's thread and address: threads in turn, a loopback address never
    /// given before.
    pub(crate) fn reserve(&self) -> Option<HubSlot> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let thread = (n as usize) % self.threads.len().max(1);
        let link = self.threads.get(thread)?;
        // Skip host parts .0 and .255: 254 addresses per /24.
        let (block, host) = (n / 254, n % 254);
        let ip = FIRST_ADDRESS.checked_add(block.checked_mul(256)?.checked_add(host)?)?;
        if ip >> 24 != 127 {
            return None;
        }
        Some(HubSlot {
            thread,
            floods: self.flood.floods(n),
            local: SocketAddrV4::new(Ipv4Addr::from(ip), link.port),
        })
    }

    /// Runs one channel's peer on its thread until `commands` closes (the channel was hung
    /// up); returns what it received.
    pub(crate) async fn run(
        &self,
        slot: HubSlot,
        config: PeerConfig,
        mut commands: mpsc::UnboundedReceiver<PeerCommand>,
    ) -> RtpRecording {
        let Some(link) = self.threads.get(slot.thread) else {
            return RtpRecording::default();
        };
        let key = u32::from(*slot.local.ip());
        let (done, recording) = oneshot::channel();
        let core = Box::new(PeerCore::new(config));
        let flooder = slot
            .floods
            .then(|| Flooder::new(self.flood, *slot.local.ip()));
        if !link.send(HubCommand::Attach {
            key,
            core,
            flooder,
            done,
        }) {
            return RtpRecording::default();
        }
        while let Some(command) = commands.recv().await {
            link.send(HubCommand::Peer { key, command });
        }
        link.send(HubCommand::Detach { key });
        recording.await.unwrap_or_default()
    }
}

/// Binds the socket to `lo` (nothing from another interface reaches it) and asks for the
/// destination address and kernel receive time of every datagram.
fn prepare(socket: &UdpSocket) -> Result<(), SimError> {
    let opt = |what: &str, r: nix::Result<()>| {
        r.map_err(|e| SimError::RtpHub(format!("{what}: {e} (the RTP threads need root)")))
    };
    opt(
        "SO_BINDTODEVICE lo",
        setsockopt(
            socket,
            sockopt::BindToDevice,
            &std::ffi::OsString::from("lo"),
        ),
    )?;
    opt(
        "IP_PKTINFO",
        setsockopt(socket, sockopt::Ipv4PacketInfo, &true),
    )?;
    opt(
        "SO_TIMESTAMPNS",
        setsockopt(socket, sockopt::ReceiveTimestampns, &true),
    )?;
    // A thread carries hundreds of callers: room for a few ticks of all of them.
    let _ = setsockopt(socket, sockopt::RcvBuf, &(8 << 20));
    let _ = setsockopt(socket, sockopt::SndBuf, &(8 << 20));
    socket
        .set_nonblocking(true)
        .map_err(|e| SimError::RtpHub(format!("nonblocking: {e}")))
}

/// One caller on a thread.
struct Peer {
    core: Box<PeerCore>,
    from: Ipv4Addr,
    to: Option<SocketAddrV4>,
    scheduled: Option<Instant>,
    flooder: Option<Flooder>,
    done: oneshot::Sender<RtpRecording>,
}

/// A hub thread's callers and their deadlines.
struct Callers {
    peers: HashMap<u32, Peer>,
    deadlines: BinaryHeap<Reverse<(Instant, u32)>>,
    origin: Instant,
    /// The flooding callers' copies ([`Flooder`]), sent apart from the callers' own
    /// packets, so they count toward no caller's sent packets.
    flood: SourcedBatch,
}

impl Callers {
    /// The first slot boundary at or after `t`.
    fn slot_at_or_after(&self, t: Instant) -> Instant {
        let Some(since) = t.checked_duration_since(self.origin) else {
            return self.origin;
        };
        let slot = SLOT.as_nanos();
        let slots = since.as_nanos().div_ceil(slot);
        self.origin + Duration::from_nanos(u64::try_from(slots * slot).unwrap_or(u64::MAX))
    }

    fn schedule(&mut self, key: u32) {
        let Some(due) = self.peers.get(&key).and_then(|p| p.core.poll_timeout()) else {
            return;
        };
        let next = self.slot_at_or_after(due);
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer.scheduled.is_none_or(|s| next < s) {
            peer.scheduled = Some(next);
            self.deadlines.push(Reverse((next, key)));
        }
    }

    fn handle_command(&mut self, now: Instant, command: HubCommand) {
        match command {
            HubCommand::Attach {
                key,
                core,
                flooder,
                done,
            } => {
                let (from, to) = (Ipv4Addr::from(key), v4(core.external_host()));
                self.peers.insert(
                    key,
                    Peer {
                        core,
                        from,
                        to,
                        scheduled: None,
                        flooder,
                        done,
                    },
                );
                self.schedule(key);
            }
            HubCommand::Peer { key, command } => {
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.core.handle_command(now, command);
                    self.schedule(key);
                }
            }
            HubCommand::Detach { key } => {
                if let Some(peer) = self.peers.remove(&key) {
                    let mut rec = peer.core.into_recording();
                    rec.flood_sent = peer.flooder.map_or(0, |f| f.queued);
                    let _ = peer.done.send(rec);
                }
            }
        }
    }

    /// Produces every packet whose slot has come by `now` into `batch`, sending whenever
    /// it fills.
    fn service_due(&mut self, now: Instant, batch: &mut SourcedBatch, socket: &UdpSocket) {
        while let Some(&Reverse((slot, key))) = self.deadlines.peek() {
            if slot > now {
                break;
            }
            self.deadlines.pop();
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            if peer.scheduled != Some(slot) {
                continue; // Superseded.
            }
            peer.scheduled = None;
            let due = peer.core.poll_timeout();
            if due.is_none_or(|d| self.slot_at_or_after(d) > slot) {
                // The timeline moved later (a new Connect, a Disconnect): not due yet.
                self.schedule(key);
                continue;
            }
            if batch.is_full() {
                self.flush(batch, socket);
            }
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            if let (Some(buffer), Some(to)) = (batch.next_buffer(), peer.to)
                && let Some(len) = peer.core.handle_timeout(buffer)
            {
                if let Some(flooder) = peer.flooder.as_mut() {
                    flooder.copy(
                        buffer.get(..len).unwrap_or(&[]),
                        peer.from,
                        to,
                        &mut self.flood,
                        &mut |b| b.flush(socket.as_fd(), &mut |_, _| {}),
                    );
                }
                batch.commit(len, peer.from, to, key);
            } else if peer.to.is_none() {
                // Not an IPv4 destination: the deadline still moves on.
                let mut scratch = [0u8; PACKET_MAX];
                let _ = peer.core.handle_timeout(&mut scratch);
            }
            self.schedule(key);
        }
    }

    fn flush(&mut self, batch: &mut SourcedBatch, socket: &UdpSocket) {
        let peers = &mut self.peers;
        batch.flush(socket.as_fd(), &mut |key, ok| {
            if ok && let Some(peer) = peers.get_mut(&key) {
                peer.core.note_sent();
            }
        });
        if !self.flood.is_empty() {
            self.flood.flush(socket.as_fd(), &mut |_, _| {});
        }
    }

    fn next_wakeup(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((slot, _))| *slot)
    }
}

fn v4(addr: SocketAddr) -> Option<SocketAddrV4> {
    match addr {
        SocketAddr::V4(v4) => Some(v4),
        SocketAddr::V6(_) => None,
    }
}

/// Received datagrams with their source, destination and kernel receive time.
struct RecvBatch {
    headers: MultiHeaders<SockaddrIn>,
    buffers: Box<[[u8; RECV_BUFFER]; BATCH]>,
    meta: [Received; BATCH],
}

#[derive(Clone, Copy)]
struct Received {
    len: usize,
    src: Option<SocketAddrV4>,
    dst: u32,
    kernel: Option<TimeSpec>,
}

impl RecvBatch {
    fn new() -> Self {
        RecvBatch {
            headers: MultiHeaders::preallocate(
                BATCH,
                Some(cmsg_space!(nix::libc::in_pktinfo, TimeSpec)),
            ),
            buffers: Box::new([[0; RECV_BUFFER]; BATCH]),
            meta: [Received {
                len: 0,
                src: None,
                dst: 0,
                kernel: None,
            }; BATCH],
        }
    }

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
            let (mut dst, mut kernel) = (0, None);
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    match c {
                        ControlMessageOwned::Ipv4PacketInfo(info) => {
                            dst = u32::from_be(info.ipi_addr.s_addr);
                        }
                        ControlMessageOwned::ScmTimestampns(ts) => kernel = Some(ts),
                        _ => {}
                    }
                }
            }
            *meta = Received {
                len: msg.bytes,
                src: msg.address.map(|a| SocketAddrV4::new(a.ip(), a.port())),
                dst,
                kernel,
            };
            n += 1;
        }
        Ok(n)
    }
}

/// When a datagram the kernel stamped `kernel` (wall clock) arrived on the monotonic clock,
/// and how long it waited to be read, from one reading of both clocks.
fn arrival(
    kernel: Option<TimeSpec>,
    read_mono: Instant,
    read_wall: Duration,
) -> (Instant, Duration) {
    let Some(ts) = kernel else {
        return (read_mono, Duration::ZERO);
    };
    let stamped = Duration::from(ts);
    let lag = read_wall.saturating_sub(stamped);
    (read_mono.checked_sub(lag).unwrap_or(read_mono), lag)
}

fn wall_now() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// A hub thread: commands, batched receive, due sends, sleep until the next deadline.
fn run(socket: UdpSocket, commands: std_mpsc::Receiver<HubCommand>, wake: Arc<EventFd>) {
    let _ = nix::sys::prctl::set_timerslack(TIMER_SLACK_NS);
    let mut callers = Callers {
        peers: HashMap::new(),
        deadlines: BinaryHeap::new(),
        origin: Instant::now(),
        flood: SourcedBatch::new(),
    };
    let mut batch = SourcedBatch::new();
    let mut received = RecvBatch::new();
    loop {
        let now = Instant::now();
        loop {
            match commands.try_recv() {
                Ok(command) => callers.handle_command(now, command),
                Err(std_mpsc::TryRecvError::Empty) => break,
                Err(std_mpsc::TryRecvError::Disconnected) => return,
            }
        }
        loop {
            match received.receive(&socket) {
                Ok(n) => {
                    let (read_mono, read_wall) = (Instant::now(), wall_now());
                    for (i, meta) in received.meta.iter().take(n).enumerate() {
                        let (Some(src), Some(data), Some(peer)) = (
                            meta.src,
                            received.buffers.get(i).and_then(|b| b.get(..meta.len)),
                            callers.peers.get_mut(&meta.dst),
                        ) else {
                            continue; // Not addressed to any caller: dropped.
                        };
                        let (at, lag) = arrival(meta.kernel, read_mono, read_wall);
                        peer.core
                            .handle_datagram(data, SocketAddr::V4(src), at, lag);
                    }
                    if n < BATCH {
                        break;
                    }
                }
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        callers.service_due(Instant::now(), &mut batch, &socket);
        if !batch.is_empty() {
            callers.flush(&mut batch, &socket);
        }
        // While any caller sends, datagrams wait for its next slot: their arrival times are
        // the kernel's, so reading them later changes no figure, and the daemon's sends
        // never have to wake this thread.
        let (until, watch_socket) = match callers.next_wakeup() {
            Some(slot) => (slot, false),
            None => (Instant::now() + IDLE_WAKE, true),
        };
        sleep(&socket, &wake, until, watch_socket);
    }
}

fn sleep(socket: &UdpSocket, wake: &EventFd, until: Instant, watch_socket: bool) {
    let timeout = until.saturating_duration_since(Instant::now());
    if timeout.is_zero() {
        return;
    }
    let socket_events = if watch_socket {
        PollFlags::POLLIN
    } else {
        PollFlags::empty()
    };
    let mut fds = [
        PollFd::new(socket.as_fd(), socket_events),
        PollFd::new(wake.as_fd(), PollFlags::POLLIN),
    ];
    if ppoll(&mut fds, Some(TimeSpec::from_duration(timeout)), None).is_ok()
        && fds
            .get(1)
            .and_then(PollFd::revents)
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
    {
        let _ = wake.read();
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
