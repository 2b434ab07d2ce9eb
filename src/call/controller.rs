//! The call controller: one task that reads the ARI event stream, starts a session for
//! every new call, routes each event to the session that owns its channel or bridge,
//! reconciles with Asterisk after every (re)connect, renews call leases, and on
//! shutdown drains (new calls back to the dialplan, live calls finish or hear a goodbye)
//! and waits for the sessions to finish their rows. It publishes its calls on the
//! live-calls board and passes on the requests other daemons send about them.
//!
//! It owns the routing tables outright (no locks): sessions talk back only by ending.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::ari::events::StasisStart;
use crate::ari::{AriEvent, AriStreamItem, DialplanTarget, HangupReason};
use crate::call::board::{self, LiveCell};
use crate::call::context::{CallContext, call_of_agent_channel, is_our_channel};
use crate::call::inputs::{CallInput, SessionIds};
use crate::call::leases::RENEW_EVERY;
use crate::call::session;
use crate::call::setup;
use crate::service::Liveness;
use crate::store::EndReason;
use crate::store::call_log::LiveCall;
use crate::store::live_board::{CallRequest, PUBLISH_EVERY};

/// Events a session can have queued before the controller drops new ones (and says so).
const SESSION_QUEUE: usize = 256;
/// How long shutdown waits for sessions to take their calls down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// A running session as the controller knows it.
pub(crate) struct SessionEntry {
    pub(crate) ids: SessionIds,
    pub(crate) tx: mpsc::Sender<CallInput>,
    /// The call's entry on the live-calls board, kept current by the session.
    pub(crate) cell: LiveCell,
}

/// Owns the live sessions and the tables that route events to them.
pub struct CallController {
    pub(crate) ctx: CallContext,
    pub(crate) sessions: HashMap<Uuid, SessionEntry>,
    /// Channel id (caller or External Media) → call.
    pub(crate) by_channel: HashMap<String, Uuid>,
    /// Bridge id → call.
    pub(crate) by_bridge: HashMap<String, Uuid>,
    tasks: JoinSet<Uuid>,
    /// Signs of life for the systemd watchdog, and the live-call count.
    liveness: Arc<Liveness>,
    /// Set once a graceful stop began: new calls go back to the dialplan.
    draining: bool,
}

/// How the daemon asks the controller to stop: the number of stop requests so far
/// (SIGTERMs). One drains, two stop at once.
pub type StopRequests = watch::Receiver<u32>;

impl CallController {
    /// A controller with no calls.
    pub fn new(ctx: CallContext, liveness: Arc<Liveness>) -> Self {
        Self {
            ctx,
            sessions: HashMap::new(),
            by_channel: HashMap::new(),
            by_bridge: HashMap::new(),
            tasks: JoinSet::new(),
            liveness,
            draining: false,
        }
    }

    /// Runs until stopped. The first stop request drains: new calls are sent back to
    /// the dialplan, live calls may finish for up to `drain_timeout`, then the rest hear a
    /// goodbye and are hung up. A second request hangs every call up at once. Either way
    /// every call row is final when this returns.
    ///
    /// `handover` turning true (the daemon gave the owner lease up on SIGTERM) stands every
    /// call down instead — no goodbye, no hang-up, no row: the standby re-adopts them — and
    /// returns once they have let go.
    pub async fn run(
        mut self,
        mut stream: mpsc::Receiver<AriStreamItem>,
        mut stop: StopRequests,
        mut handover: watch::Receiver<bool>,
        drain_timeout: Duration,
    ) {
        let mut renew = tokio::time::interval(RENEW_EVERY);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut beat = tokio::time::interval(Duration::from_secs(1));
        let mut publish = tokio::time::interval(PUBLISH_EVERY);
        publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (request_tx, mut requests) = mpsc::channel::<CallRequest>(64);
        let requests_stop = tokio_util::sync::CancellationToken::new();
        let _requests_stop = requests_stop.clone().drop_guard();
        tokio::spawn(board::take_requests(
            self.ctx.board.clone(),
            self.ctx.settings.node.clone(),
            request_tx,
            requests_stop,
        ));
        let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
        let drain_deadline = tokio::time::sleep_until(far);
        tokio::pin!(drain_deadline);
        let mut wrapping_up = false;
        let mut handing_over = false;
        loop {
            self.liveness.beat();
            self.liveness
                .live_calls
                .store(self.sessions.len(), std::sync::atomic::Ordering::Relaxed);
            if self.draining && self.sessions.is_empty() {
                break;
            }
            if *handover.borrow() && self.sessions.is_empty() {
                self.liveness
                    .live_calls
                    .store(0, std::sync::atomic::Ordering::Relaxed);
                tracing::info!("handed over: every call goes on under the standby");
                return;
            }
            tokio::select! {
                changed = handover.changed(), if !*handover.borrow() => {
                    if changed.is_ok() && *handover.borrow() {
                        self.stand_down();
                        drain_deadline.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                        handing_over = true;
                    }
                }
                changed = stop.changed() => {
                    let requests = if changed.is_ok() { *stop.borrow() } else { 2 };
                    if requests >= 2 {
                        tracing::warn!(calls = self.sessions.len(), "second stop request: hanging up every call now");
                        break;
                    }
                    if requests == 1 && !self.draining {
                        self.draining = true;
                        tracing::info!(calls = self.sessions.len(), drain_seconds = drain_timeout.as_secs(), "draining: no new calls; waiting for live calls to finish");
                        drain_deadline.as_mut().reset(tokio::time::Instant::now() + drain_timeout);
                    }
                }
                () = &mut drain_deadline, if self.draining || handing_over => {
                    if handing_over {
                        tracing::warn!(calls = self.sessions.len(), "calls did not let go in time; dropping them");
                        self.tasks.abort_all();
                        return;
                    }
                    if wrapping_up {
                        tracing::warn!("calls did not end after their goodbye; hanging up");
                        break;
                    }
                    wrapping_up = true;
                    tracing::info!(calls = self.sessions.len(), "drain time is up: saying goodbye to the remaining calls");
                    for entry in self.sessions.values() {
                        let _ = entry.tx.try_send(CallInput::WrapUp);
                    }
                    drain_deadline.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                }
                item = stream.recv() => match item {
                    None => break,
                    Some(AriStreamItem::Connected { reconnect, .. }) => {
                        tracing::info!(reconnect, "ARI connected; reconciling calls");
                        self.reconcile().await;
                    }
                    Some(AriStreamItem::Event(msg)) => self.dispatch(msg.event),
                    Some(AriStreamItem::StoodDown { replaced }) => {
                        tracing::warn!(calls = self.sessions.len(), replaced, "no longer the ARI application's owner: standing down every call");
                        self.stand_down();
                    }
                },
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    match done {
                        Ok(call_id) => self.forget(call_id),
                        Err(e) => tracing::error!(error = %e, "a call session failed"),
                    }
                }
                _ = renew.tick() => {
                    let leases = self.ctx.leases.clone();
                    tokio::spawn(async move { leases.renew_all().await });
                }
                _ = publish.tick() => self.publish(),
                Some(request) = requests.recv() => self.on_request(request),
                _ = beat.tick() => {}
            }
        }
        self.hang_up_all(EndReason::DaemonShutdown).await;
        self.liveness
            .live_calls
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// Asks every session to hang up and waits for them, at most [`SHUTDOWN_GRACE`].
    async fn hang_up_all(&mut self, reason: EndReason) {
        for entry in self.sessions.values() {
            let _ = entry.tx.try_send(CallInput::Hangup {
                reason: reason.clone(),
            });
        }
        let wait = async {
            while let Some(done) = self.tasks.join_next().await {
                if let Ok(call_id) = done {
                    self.sessions.remove(&call_id);
                }
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, wait).await.is_err() {
            tracing::warn!(
                left = self.sessions.len(),
                "sessions did not finish in time; aborting them"
            );
            self.tasks.abort_all();
        }
    }

    /// Stops serving every call at once and silently: they belong to the daemon that owns
    /// the application now.
    fn stand_down(&mut self) {
        for entry in self.sessions.values() {
            let _ = entry.tx.try_send(CallInput::StandDown);
        }
    }

    /// Puts every answered call on the live-calls board (one round trip, off this task).
    fn publish(&self) {
        let entries: Vec<_> = self
            .sessions
            .values()
            .filter_map(|s| s.cell.snapshot())
            .collect();
        if entries.is_empty() {
            return;
        }
        let board = self.ctx.board.clone();
        tokio::spawn(async move {
            if let Err(e) = board.publish(&entries).await {
                tracing::debug!(error = %e, "cannot publish the live calls");
            }
        });
    }

    /// A request about one of our calls, from the admin API of any daemon.
    fn on_request(&self, request: CallRequest) {
        match request {
            CallRequest::Hangup { call_id } => match self.sessions.get(&call_id) {
                Some(entry) => {
                    tracing::info!(call_id = %call_id, "an operator hangs the call up");
                    let _ = entry.tx.try_send(CallInput::OperatorHangup);
                }
                None => {
                    tracing::info!(call_id = %call_id, "hang-up requested for a call that is no longer here")
                }
            },
        }
    }

    /// Number of live sessions.
    pub fn live_calls(&self) -> usize {
        self.sessions.len()
    }

    fn dispatch(&mut self, event: AriEvent) {
        if let AriEvent::StasisStart(start) = &event {
            let id = start.channel.id.as_str();
            if !is_our_channel(id) && !self.by_channel.contains_key(id) {
                if self.draining {
                    self.send_back(id.to_string());
                } else {
                    self.start_new_call(start.clone());
                }
                return;
            }
        }
        let owner = match &event {
            AriEvent::BridgeDestroyed(b) => self.by_bridge.get(&b.bridge.id).copied(),
            other => other.channel_id().and_then(|ch| {
                self.by_channel
                    .get(ch)
                    .copied()
                    .or_else(|| call_of_agent_channel(ch))
            }),
        };
        let Some(call_id) = owner else {
            return;
        };
        if let Some(entry) = self.sessions.get(&call_id)
            && let Err(mpsc::error::TrySendError::Full(_)) =
                entry.tx.try_send(CallInput::Ari(Box::new(event)))
        {
            tracing::warn!(call_id = %call_id, "call session is not keeping up; an ARI event was dropped");
        }
    }

    fn register(
        &mut self,
        call_id: Uuid,
        ids: SessionIds,
    ) -> (mpsc::Receiver<CallInput>, LiveCell) {
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let cell = LiveCell::default();
        self.by_channel.insert(ids.caller_channel.clone(), call_id);
        self.by_channel.insert(ids.media_channel.clone(), call_id);
        self.by_bridge.insert(ids.bridge.clone(), call_id);
        self.sessions.insert(
            call_id,
            SessionEntry {
                ids,
                tx,
                cell: cell.clone(),
            },
        );
        (rx, cell)
    }

    fn forget(&mut self, call_id: Uuid) {
        if let Some(entry) = self.sessions.remove(&call_id) {
            self.by_channel.remove(&entry.ids.caller_channel);
            self.by_channel.remove(&entry.ids.media_channel);
            self.by_bridge.remove(&entry.ids.bridge);
            if entry.cell.snapshot().is_some() {
                let board = self.ctx.board.clone();
                tokio::spawn(async move {
                    if let Err(e) = board.remove(call_id).await {
                        tracing::debug!(error = %e, "cannot take the call off the live board");
                    }
                });
            }
        }
    }

    /// While draining: a new call goes back to the dialplan's `unavailable` label (the
    /// shipped dialplan plays "service unavailable" there); if that fails it is hung up busy.
    fn send_back(&self, channel: String) {
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            tracing::info!(channel = %channel, "draining: sending a new call back to the dialplan");
            metrics::counter!("vca_calls_rejected_total", "reason" => "draining").increment(1);
            let target = DialplanTarget {
                label: Some("unavailable".into()),
                ..DialplanTarget::default()
            };
            if let Err(e) = ctx.ari.continue_in_dialplan(&channel, &target).await {
                tracing::warn!(channel = %channel, error = %e, "cannot send the call back; hanging up busy");
                setup::delete_channel(&ctx, &channel, HangupReason::Busy).await;
            }
        });
    }

    /// Starts the session of a new call.
    pub(crate) fn start_new_call(&mut self, start: StasisStart) {
        let call_id = Uuid::new_v4();
        let ids = SessionIds::for_new_call(call_id, &start.channel.id);
        let (rx, cell) = self.register(call_id, ids.clone());
        let ctx = self.ctx.clone();
        self.tasks.spawn(async move {
            session::run_new_call(ctx, start, call_id, ids, rx, cell).await;
            call_id
        });
    }

    /// Starts the session that re-adopts a call from an earlier run.
    pub(crate) fn start_readopted(&mut self, live: LiveCall, agent: Option<String>) {
        let mut ids = SessionIds::for_new_call(live.id, &live.channel_id);
        // A fresh External Media id: the old one may still exist until we delete it.
        ids.media_channel = format!(
            "{}-{}",
            ids.media_channel,
            &Uuid::new_v4().simple().to_string()[..8]
        );
        if let Some(bridge) = &live.bridge_id {
            ids.bridge = bridge.clone();
        }
        let call_id = live.id;
        let (rx, cell) = self.register(call_id, ids.clone());
        let ctx = self.ctx.clone();
        self.tasks.spawn(async move {
            session::run_readopted(ctx, live, ids, agent, rx, cell).await;
            call_id
        });
    }
}
