//! What every part of a running simulator shares: the telephony state behind its one mutex,
//! the REST request log, the listener gate and the readiness windows of a restart.

use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::SimConfig;
use crate::model::SimState;
use crate::model::channels::PeerLaunch;
use crate::model::request_log::RestRequest;
use crate::model::timers::{Timer, TimerAction};
use crate::rtp::peer::{PeerSetup, PeerTransport, run_peer};
use crate::rtp::recording::RtpRecording;

/// Whether ARI answers, and how it refuses when it does not.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Readiness {
    /// Until then every `/ari` request gets 404 (HTTP up, ARI not loaded).
    pub(crate) ari_not_ready_until: Option<Instant>,
    /// Until then WebSocket upgrades get 404.
    pub(crate) ws_refused_until: Option<Instant>,
}

/// A failure injected into the REST API ([`Shared::fail_next`]).
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    method: String,
    path_suffix: String,
    status: u16,
}

/// The state of one simulator, shared by the HTTP handlers, peers and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<SimConfig>,
    state: Mutex<SimState>,
    requests: Mutex<Vec<RestRequest>>,
    /// Injected failures: the next request of a method to a path ending so gets the status.
    faults: Mutex<Vec<Fault>>,
    readiness: Mutex<Readiness>,
    /// `false` closes the listener (connections refused) until set `true` again.
    pub(crate) accepting: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Needs a tokio runtime: it starts the task that fires the model's timers.
    pub(crate) fn new(config: SimConfig) -> Arc<Self> {
        let config = Arc::new(config);
        let (timers, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            state: Mutex::new(SimState::new(config.clone(), timers)),
            config,
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            readiness: Mutex::new(Readiness::default()),
            accepting: watch::Sender::new(true),
        });
        tokio::spawn(run_timers(Arc::downgrade(&shared), rx));
        shared
    }

    /// The telephony state. Never hold the guard across an await.
    pub(crate) fn state(&self) -> MutexGuard<'_, SimState> {
        lock(&self.state)
    }

    pub(crate) fn log_request(&self, r: RestRequest) {
        lock(&self.requests).push(r);
    }

    pub(crate) fn requests(&self) -> Vec<RestRequest> {
        lock(&self.requests).clone()
    }

    /// The next `method` request whose path ends with `path_suffix` gets `status`.
    pub(crate) fn fail_next(&self, method: &str, path_suffix: &str, status: u16) {
        lock(&self.faults).push(Fault {
            method: method.to_owned(),
            path_suffix: path_suffix.to_owned(),
            status,
        });
    }

    /// The injected failure for this request, taken (once) if there is one.
    pub(crate) fn take_fault(&self, method: &str, path: &str) -> Option<u16> {
        let mut faults = lock(&self.faults);
        let i = faults
            .iter()
            .position(|f| f.method == method && path.ends_with(&f.path_suffix))?;
        Some(faults.remove(i).status)
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.requests).clear();
    }

    pub(crate) fn readiness(&self) -> Readiness {
        *lock(&self.readiness)
    }

    pub(crate) fn set_readiness(&self, f: impl FnOnce(&mut Readiness)) {
        f(&mut lock(&self.readiness));
    }

    /// Whether `/ari` is answering now.
    pub(crate) fn ari_ready(&self) -> bool {
        self.readiness()
            .ari_not_ready_until
            .is_none_or(|t| Instant::now() >= t)
    }

    /// Whether a WebSocket upgrade is accepted now.
    pub(crate) fn ws_accepted(&self) -> bool {
        self.ari_ready()
            && self
                .readiness()
                .ws_refused_until
                .is_none_or(|t| Instant::now() >= t)
    }

    /// Starts the RTP peer of a new External Media channel; when the channel goes, its
    /// recording is handed to the call it served and written out.
    pub(crate) fn spawn_peer(self: &Arc<Self>, launch: PeerLaunch) {
        let shared = Arc::clone(self);
        let hub = self.state().rtp_hub.clone();
        tokio::spawn(async move {
            let PeerSetup { transport, config } = launch.setup;
            let rec = match (transport, hub) {
                (PeerTransport::Socket(socket), _) => {
                    run_peer(socket, config, launch.commands).await
                }
                (PeerTransport::Hub(slot), Some(hub)) => {
                    hub.run(slot, config, launch.commands).await
                }
                (PeerTransport::Hub(_), None) => RtpRecording::default(),
            };
            shared.deposit_recording(&launch.channel_id, launch.created, rec);
        });
    }

    fn deposit_recording(&self, em_id: &str, created: std::time::Instant, rec: RtpRecording) {
        {
            let mut st = self.state();
            for call in st.calls.values_mut() {
                if call.em_ids.iter().any(|e| e == em_id) {
                    call.em_recordings
                        .insert(em_id.to_owned(), (created, rec.clone()));
                }
            }
        }
        let target = self
            .state()
            .calls
            .values()
            .find(|c| c.em_id.as_deref() == Some(em_id))
            .map(|c| (c.id.clone(), c.record_to.clone()));
        let Some((call_id, path)) = target else {
            return;
        };
        let written = path.filter(|p| rec.write_wav(p).is_ok());
        let mut st = self.state();
        if let Some(call) = st.calls.get_mut(&call_id) {
            call.recording = Some(rec);
            call.recording_path = written;
            call.media_done.send_replace(true);
        }
    }
}

/// Earliest-first order for the timer heap.
struct Due(Timer, u64);

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.0.at, self.1) == (other.0.at, other.1)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.0.at, other.1).cmp(&(self.0.at, self.1))
    }
}

/// Fires the model's timers at their instants, in order (ties in the order queued), until
/// the simulator is gone.
async fn run_timers(shared: Weak<Shared>, mut rx: mpsc::UnboundedReceiver<Timer>) {
    let mut heap: BinaryHeap<Due> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let next = heap.peek().map(|d| Instant::from_std(d.0.at));
        tokio::select! {
            t = rx.recv() => match t {
                Some(t) => {
                    seq += 1;
                    heap.push(Due(t, seq));
                }
                None => return,
            },
            () = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let Some(Due(t, _)) = heap.pop() else { continue };
                let Some(shared) = shared.upgrade() else { return };
                let action: TimerAction = t.action;
                shared.state().fire(action);
            }
        }
    }
}
