//! [`MediaEngine`]: the media threads of the daemon (`VCA_MEDIA_THREADS`, one per core by
//! default). Each binds one UDP port of `VCA_RTP_PORT_RANGE` and carries many calls; a call
//! is told which thread's address to give Asterisk as `external_host` ([`MediaEngine::slot`]),
//! then joins that thread with the address Asterisk sends from ([`MediaEngine::attach`]).
//! Threads are picked by fewest calls; their counters become metrics once a second.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{setsockopt, sockopt};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::call_media::CallMedia;
use super::counters::MediaCounters;
use super::handle::{
    EVENT_CAPACITY, INBOUND_AUDIO_CAPACITY, InboundAudio, MediaError, MediaHandle,
};
use super::thread;
use super::worker::{WorkerCommand, WorkerCounters};
use crate::media::config::MediaConfig;
use crate::media::core::MediaCore;
use crate::media::outbound::RtpIdentity;
use crate::media::stats::DropReason;
use crate::media::utterance_pool::UtterancePool;

/// Commands queued for one media thread before senders wait.
const COMMAND_CAPACITY: usize = 4096;
/// Socket buffers asked for (the kernel caps them at `net.core.rmem_max`/`wmem_max`):
/// a media thread's socket carries many calls.
const SOCKET_BUFFER: usize = 4 << 20;
/// How often the threads' counters are published.
const METRICS_PERIOD: Duration = Duration::from_secs(1);

/// Why the media threads could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaEngineError {
    /// The configured range holds no ports.
    #[error("the RTP port range is empty")]
    EmptyRange,
    /// Fewer free ports in the range than media threads.
    #[error("only {found} of {threads} media thread ports free in {start}-{end}")]
    Exhausted {
        /// Ports found free.
        found: usize,
        /// Threads asked for.
        threads: usize,
        /// First port of the range.
        start: u16,
        /// Last port of the range.
        end: u16,
    },
    /// Binding a port failed for another reason than its being in use.
    #[error("binding RTP port {port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// The OS error.
        source: io::Error,
    },
    /// The thread's wake-up eventfd or the thread itself could not be made.
    #[error("starting media thread {index}: {source}")]
    Thread {
        /// The thread's index.
        index: usize,
        /// The OS error.
        source: io::Error,
    },
}

/// A media thread as the async side reaches it.
#[derive(Debug)]
pub(super) struct ThreadLink {
    pub(super) commands: SyncSender<WorkerCommand>,
    pub(super) wake: Arc<EventFd>,
    pub(super) local_addr: SocketAddr,
    pub(super) counters: Arc<WorkerCounters>,
}

impl ThreadLink {
    /// Queues `command` without blocking the thread; waits (asynchronously) while the
    /// queue is full.
    pub(super) async fn send(&self, mut command: WorkerCommand) -> Result<(), MediaError> {
        let mut waited = Duration::ZERO;
        loop {
            match self.commands.try_send(command) {
                Ok(()) => {
                    self.wake();
                    return Ok(());
                }
                Err(TrySendError::Full(back)) if waited < Duration::from_secs(2) => {
                    command = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    waited += Duration::from_millis(1);
                }
                Err(TrySendError::Full(_)) => return Err(MediaError::Busy),
                Err(TrySendError::Disconnected(_)) => return Err(MediaError::Stopped),
            }
        }
    }

    /// Queues `command` if there is room, never waiting (for `Drop`).
    pub(super) fn try_send(&self, command: WorkerCommand) {
        if self.commands.try_send(command).is_ok() {
            self.wake();
        }
    }

    fn wake(&self) {
        // A failed write means the counter is saturated: the thread is awake anyway.
        let _ = self.wake.write(1);
    }
}

/// Where a call's media will run: the thread, and the address Asterisk must send to.
#[derive(Debug, Clone)]
pub struct MediaSlot {
    thread: usize,
    local_addr: SocketAddr,
}

impl MediaSlot {
    /// The media thread's address (External Media `external_host`, with the advertised IP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

struct EngineInner {
    threads: Vec<Arc<ThreadLink>>,
    /// Buffers for callers' utterances, shared by every call; made with the first call's
    /// endpointer settings (the longest utterance).
    utterances: OnceLock<UtterancePool>,
    utterance_buffers: usize,
    next_key: AtomicU64,
    next_thread: AtomicUsize,
    /// Why real-time priority was refused, if it was.
    realtime_refused: Option<String>,
}

/// The daemon's media threads. Cheap to clone; clones share the threads.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("addrs", &self.local_addrs())
            .finish()
    }
}

impl MediaEngine {
    /// Starts `threads` media threads, each on the first free port of `range` on `bind_ip`,
    /// with `utterance_buffers` buffers for the callers speaking at once (a caller who
    /// starts speaking when none is free is counted and heard as nothing), at real-time
    /// priority `realtime_priority` (SCHED_FIFO; 0: normal scheduling; where the system
    /// refuses it the threads run at normal priority and [`Self::realtime_refused`] says
    /// why). Inside a tokio runtime, their counters are published as metrics.
    pub fn start(
        bind_ip: IpAddr,
        range: RangeInclusive<u16>,
        threads: usize,
        utterance_buffers: usize,
        realtime_priority: u8,
    ) -> Result<Self, MediaEngineError> {
        if range.is_empty() {
            return Err(MediaEngineError::EmptyRange);
        }
        let (start, end) = (*range.start(), *range.end());
        let threads = threads.max(1);
        let mut sockets = Vec::with_capacity(threads);
        for port in range {
            if sockets.len() == threads {
                break;
            }
            match UdpSocket::bind((bind_ip, port)) {
                Ok(socket) => sockets.push(socket),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(source) => return Err(MediaEngineError::Bind { port, source }),
            }
        }
        if sockets.len() < threads {
            return Err(MediaEngineError::Exhausted {
                found: sockets.len(),
                threads,
                start,
                end,
            });
        }
        let mut links = Vec::with_capacity(threads);
        let mut realtime_refused = None;
        for (index, socket) in sockets.into_iter().enumerate() {
            let (link, refused) = spawn_thread(index, socket, realtime_priority)?;
            links.push(Arc::new(link));
            realtime_refused = realtime_refused.or(refused);
        }
        let engine = MediaEngine {
            inner: Arc::new(EngineInner {
                threads: links,
                utterances: OnceLock::new(),
                utterance_buffers: utterance_buffers.max(1),
                next_key: AtomicU64::new(1),
                next_thread: AtomicUsize::new(0),
                realtime_refused,
            }),
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(publish_metrics(Arc::downgrade(&engine.inner)));
        }
        Ok(engine)
    }

    /// Why the media threads could not have the real-time priority asked for, if they
    /// could not.
    pub fn realtime_refused(&self) -> Option<&str> {
        self.inner.realtime_refused.as_deref()
    }

    /// The media threads' addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.inner.threads.iter().map(|t| t.local_addr).collect()
    }

    /// Calls on each media thread.
    pub fn calls_per_thread(&self) -> Vec<usize> {
        self.inner
            .threads
            .iter()
            .map(|t| t.counters.calls.load(Ordering::Relaxed))
            .collect()
    }

    /// Utterance buffers free now, if a call has made the pool.
    pub fn utterance_buffers_free(&self) -> Option<usize> {
        self.inner.utterances.get().map(UtterancePool::available)
    }

    /// Each media thread's counters.
    pub fn thread_counters(&self) -> Vec<Arc<WorkerCounters>> {
        self.inner
            .threads
            .iter()
            .map(|t| Arc::clone(&t.counters))
            .collect()
    }

    /// Picks the thread for a new call: the one with fewest calls, taking turns among
    /// equals (calls starting together spread over the threads).
    pub fn slot(&self) -> MediaSlot {
        let threads = &self.inner.threads;
        let n = threads.len().max(1);
        let first = self.inner.next_thread.fetch_add(1, Ordering::Relaxed) % n;
        let mut best = first;
        let mut best_calls = usize::MAX;
        for offset in 0..n {
            let i = (first + offset) % n;
            let calls = threads
                .get(i)
                .map_or(usize::MAX, |t| t.counters.calls.load(Ordering::Relaxed));
            if calls < best_calls {
                best = i;
                best_calls = calls;
            }
        }
        let local_addr = threads
            .get(best)
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |t| t.local_addr);
        MediaSlot {
            thread: best,
            local_addr,
        }
    }

    /// Starts the media of a call on `slot`'s thread, exchanging RTP with `remote` (the
    /// `UNICASTRTP_LOCAL_ADDRESS:UNICASTRTP_LOCAL_PORT` of the externalMedia response; RTP
    /// from anywhere else never reaches the call). Its timeline starts now.
    pub async fn attach(
        &self,
        slot: &MediaSlot,
        remote: SocketAddr,
        config: MediaConfig,
    ) -> Result<MediaHandle, MediaError> {
        let link = self
            .inner
            .threads
            .get(slot.thread)
            .cloned()
            .ok_or(MediaError::Stopped)?;
        let pool = self
            .inner
            .utterances
            .get_or_init(|| {
                UtterancePool::for_endpointer(
                    self.inner.utterance_buffers,
                    &config.endpointer,
                    crate::media::WIRE_RATE,
                )
            })
            .clone();
        let core =
            MediaCore::with_pool(&config, remote, Instant::now(), RtpIdentity::random(), pool)?;
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let (audio_tx, audio_rx) = broadcast::channel(INBOUND_AUDIO_CAPACITY);
        let counters = Arc::new(MediaCounters::default());
        let call = CallMedia::new(
            core,
            remote,
            config.law,
            event_tx,
            audio_tx,
            Arc::clone(&counters),
        );
        let key = self.inner.next_key.fetch_add(1, Ordering::Relaxed);
        let (reply, joined) = oneshot::channel();
        link.send(WorkerCommand::Attach {
            key,
            call: Box::new(call),
            reply,
        })
        .await?;
        joined.await.map_err(|_| MediaError::Stopped)??;
        Ok(MediaHandle {
            events: event_rx,
            inbound_audio: Some(InboundAudio {
                rx: audio_rx,
                counters: Arc::clone(&counters),
            }),
            counters,
            local_addr: link.local_addr,
            key,
            link,
            detached: false,
        })
    }
}

/// Starts media thread `index` on `socket`, at real-time priority `priority` if that is
/// above 0 and allowed; the second value says why it was not.
fn spawn_thread(
    index: usize,
    socket: UdpSocket,
    priority: u8,
) -> Result<(ThreadLink, Option<String>), MediaEngineError> {
    let thread_err = |source: io::Error| MediaEngineError::Thread { index, source };
    let local_addr = socket.local_addr().map_err(thread_err)?;
    socket.set_nonblocking(true).map_err(thread_err)?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = setsockopt(&socket, sockopt::RcvBuf, &SOCKET_BUFFER);
    let _ = setsockopt(&socket, sockopt::SndBuf, &SOCKET_BUFFER);
    let wake = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)
        .map(Arc::new)
        .map_err(|e| thread_err(io::Error::from(e)))?;
    let (commands, receiver) = sync_channel(COMMAND_CAPACITY);
    let counters = Arc::new(WorkerCounters::default());
    let (thread_wake, thread_counters) = (Arc::clone(&wake), Arc::clone(&counters));
    let handle = std::thread::Builder::new()
        .name(format!("vca-media-{index}"))
        .spawn(move || thread::run(socket, receiver, thread_wake, thread_counters))
        .map_err(thread_err)?;
    let refused = (priority > 0)
        .then(|| raise_priority(&handle, priority).err())
        .flatten();
    let link = ThreadLink {
        commands,
        wake,
        local_addr,
        counters,
    };
    Ok((link, refused))
}

/// Puts the thread under SCHED_FIFO at `priority`: a due frame then never waits for a core
/// behind the async side, PostgreSQL or anything else of normal priority. The thread
/// sleeps between slots, and the kernel keeps 5 % of every second for the rest.
fn raise_priority(handle: &std::thread::JoinHandle<()>, priority: u8) -> Result<(), String> {
    use std::os::unix::thread::JoinHandleExt;
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy,
    };
    let value = priority.try_into()?;
    set_thread_priority_and_policy(
        handle.as_pthread_t(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| e.to_string())
}

/// Publishes the threads' counters as deltas until the engine is gone.
async fn publish_metrics(engine: Weak<EngineInner>) {
    let mut seen: Vec<[u64; 4]> = Vec::new();
    let mut tick = tokio::time::interval(METRICS_PERIOD);
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        seen.resize(engine.threads.len(), [0; 4]);
        for (i, (link, seen)) in engine.threads.iter().zip(seen.iter_mut()).enumerate() {
            let c = &link.counters;
            let now = [
                c.unknown_source.load(Ordering::Relaxed),
                c.send_errors.load(Ordering::Relaxed),
                c.recv_errors.load(Ordering::Relaxed),
                c.wakeups.load(Ordering::Relaxed),
            ];
            let d = |k: usize| now[k].saturating_sub(seen[k]);
            metrics::counter!("vca_rtp_packets_dropped_total", "reason" => DropReason::WrongSource.label())
                .increment(d(0));
            metrics::counter!("vca_rtp_send_errors_total").increment(d(1));
            metrics::counter!("vca_rtp_recv_errors_total").increment(d(2));
            if let Some(pool) = engine.utterances.get() {
                metrics::gauge!("vca_utterance_buffers_free").set(pool.available() as f64);
            }
            let thread = i.to_string();
            metrics::gauge!("vca_media_thread_calls", "thread" => thread.clone())
                .set(c.calls.load(Ordering::Relaxed) as f64);
            metrics::counter!("vca_media_thread_wakeups_total", "thread" => thread).increment(d(3));
            *seen = now;
        }
    }
}
