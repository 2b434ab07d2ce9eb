//! The library API: start a simulator in-process and drive it from tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::SimConfig;
use crate::core::Shared;
use crate::error::SimError;
use crate::listener::GatedListener;
use crate::model::agents::AgentView;
use crate::model::hearing::Heard;
use crate::model::json;
use crate::model::request_log::RestRequest;
use crate::rtp::recording::RtpRecording;
use crate::spec::{
    AgentBehaviour, CallOutcome, CallSpec, CallStatus, Milestones, RestartSpec, Trigger,
};

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen` (127.0.0.1:0 by default) and serves ARI and `/sim` on it.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let listen = config.listen;
        let tcp = TcpListener::bind(listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: listen,
                source,
            })?;
        let addr = tcp.local_addr().map_err(|source| SimError::Bind {
            addr: listen,
            source,
        })?;
        let hub = match config.rtp_threads {
            0 => None,
            n => Some(crate::rtp::hub::RtpHub::start(
                n,
                config.rtp_ports,
                config.rtp_flood,
            )?),
        };
        let shared = Shared::new(config);
        shared.state().rtp_hub = hub;
        let listener = GatedListener::new(tcp, shared.accepting.subscribe()).map_err(|source| {
            SimError::Bind {
                addr: listen,
                source,
            }
        })?;
        let app = axum::Router::new()
            .nest("/ari", crate::ari::router(shared.clone()))
            .nest("/sim", crate::control::router(shared.clone()));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await;
        });
        Ok(SimHandle { shared, addr, stop })
    }
}

/// A running simulator. Dropping it stops the server, drops the WebSocket and ends every
/// RTP peer.
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: CancellationToken,
}

impl SimHandle {
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/ari`.
    pub fn ari_url(&self) -> String {
        format!("http://{}/ari", self.addr)
    }

    /// `ws://127.0.0.1:PORT/ari/events?app=APP&api_key=USER:PASS`.
    pub fn events_url(&self) -> String {
        let c = &self.shared.config;
        format!(
            "ws://{}/ari/events?app={}&api_key={}:{}",
            self.addr, c.app, c.user, c.password
        )
    }

    /// `http://127.0.0.1:PORT/sim`, the control API.
    pub fn control_url(&self) -> String {
        format!("http://{}/sim", self.addr)
    }

    /// The configuration in force.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// A call arrives. If the app does not exist it fails at once (see [`SimCall::status`]).
    pub fn place_call(&self, spec: CallSpec) -> SimCall {
        let placed = self.shared.place_call(&spec);
        SimCall {
            shared: self.shared.clone(),
            id: placed.id,
            status: placed.status,
            media_done: placed.media_done,
            audio_done: placed.audio_done,
            milestones: placed.milestones,
        }
    }

    /// From now on, agent legs originated to `endpoint` (`PJSIP/1001`, `Local/200@agents`,
    /// without `/n` options) behave like `behaviour`.
    pub fn set_agent(&self, endpoint: impl Into<String>, behaviour: AgentBehaviour) {
        self.shared
            .state()
            .agent_map
            .insert(endpoint.into(), behaviour);
    }

    /// Every agent leg so far (originated by the app or dialled by the dialplan), oldest
    /// first.
    pub fn agents(&self) -> Vec<AgentView> {
        let st = self.shared.state();
        let mut v: Vec<_> = st.agents.values().collect();
        v.sort_by_key(|a| a.created);
        v.into_iter().map(|a| a.view()).collect()
    }

    /// The agent leg with this `;1` channel id.
    pub fn agent(&self, id: &str) -> Option<AgentView> {
        self.shared.state().agents.get(id).map(|a| a.view())
    }

    /// What the agent of leg `id` heard (the caller's audio while they were connected).
    pub fn agent_heard(&self, id: &str) -> Option<Heard> {
        self.shared.agent_heard(id)
    }

    /// The agent of leg `id` hangs up now (as its phone's `Hangup()` would).
    pub fn hangup_agent(&self, id: &str) -> Result<(), SimError> {
        let mut st = self.shared.state();
        if !st.agents.contains_key(id) {
            return Err(SimError::UnknownCall(id.to_owned()));
        }
        st.agent_hangs_up(id);
        st.refresh_hearing();
        Ok(())
    }

    /// What the caller of call `id` heard.
    pub async fn caller_heard(&self, id: &str) -> Option<Heard> {
        self.shared.caller_heard(id).await
    }

    /// How many events WebSockets of the app are open: the current one plus those an
    /// `ApplicationReplaced` left open and silent.
    pub fn websockets_open(&self) -> usize {
        let st = self.shared.state();
        st.ws.iter().count() + st.replaced.len()
    }

    /// The caller of call `id` hangs up.
    pub fn hangup_caller(&self, id: &str) -> Result<(), SimError> {
        self.shared.state().caller_hangup(id)
    }

    /// The caller of call `id` presses `digits`, each `duration_ms` long; returns after the
    /// last `ChannelDtmfReceived` was emitted.
    pub async fn send_dtmf(
        &self,
        id: &str,
        digits: &str,
        duration_ms: u32,
    ) -> Result<(), SimError> {
        self.shared.send_dtmf(id, digits, duration_ms).await
    }

    /// Drops the app's WebSocket without a close frame. Returns whether one was connected.
    pub fn drop_websocket(&self) -> bool {
        self.shared.state().drop_ws()
    }

    /// Sends `frame` as is on the app's events WebSocket — malformed JSON, unknown event
    /// types — to test the app's tolerance. Returns whether an app was connected.
    pub fn send_raw_event(&self, frame: impl Into<String>) -> bool {
        self.shared.state().send_raw(frame.into())
    }

    /// Upgrades to the events WebSocket get 404 for `d`.
    pub fn refuse_websocket(&self, d: Duration) {
        self.shared.refuse_websocket(d);
    }

    /// Whether the app's events WebSocket is connected.
    pub fn websocket_connected(&self) -> bool {
        self.shared.state().ws.is_some()
    }

    /// Waits until the app's events WebSocket is connected.
    pub async fn wait_websocket(&self) {
        while !self.websocket_connected() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Restarts the simulated Asterisk; returns once ARI answers again.
    pub async fn restart(&self, spec: RestartSpec) {
        self.shared.restart(spec).await;
    }

    /// `GET /channels` as ARI would answer it.
    pub fn channels(&self) -> Vec<Value> {
        let st = self.shared.state();
        st.channels_in_order()
            .into_iter()
            .map(json::channel)
            .collect()
    }

    /// `GET /bridges` as ARI would answer it.
    pub fn bridges(&self) -> Vec<Value> {
        let st = self.shared.state();
        st.bridges_in_order()
            .into_iter()
            .map(json::bridge)
            .collect()
    }

    /// Every REST request received under `/ari`, in order.
    pub fn requests(&self) -> Vec<RestRequest> {
        self.shared.requests()
    }

    /// The next `method` request under `/ari` whose path ends with `path_suffix` (e.g.
    /// `POST`, `/addChannel`) fails with `status` and changes nothing; once.
    pub fn fail_next(&self, method: &str, path_suffix: &str, status: u16) {
        self.shared.fail_next(method, path_suffix, status);
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Where call `id` is now.
    pub fn call_status(&self, id: &str) -> Option<CallStatus> {
        self.shared
            .state()
            .calls
            .get(id)
            .map(|c| c.status.borrow().clone())
    }

    /// What call `id`'s External Media peer received (live snapshot or final).
    pub async fn recording(&self, id: &str) -> Option<RtpRecording> {
        self.shared.recording(id).await
    }

    /// What External Media channel `em_id` received (live snapshot or final): unlike
    /// [`SimHandle::recording`], which follows a call's first channel, this reads any.
    pub async fn external_media_recording(&self, em_id: &str) -> Option<RtpRecording> {
        self.shared.external_media_recording(em_id).await
    }

    /// Stops the server and ends everything.
    pub fn shutdown(&self) {
        self.stop.cancel();
        let mut st = self.shared.state();
        st.drop_ws();
        st.channels.clear();
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A placed call, to follow and drive from the caller side.
#[derive(Debug)]
pub struct SimCall {
    shared: Arc<Shared>,
    id: String,
    status: watch::Receiver<CallStatus>,
    media_done: watch::Receiver<bool>,
    audio_done: watch::Receiver<bool>,
    milestones: watch::Receiver<Milestones>,
}

impl SimCall {
    /// What has happened in the call so far.
    pub fn milestones(&self) -> Milestones {
        *self.milestones.borrow()
    }

    /// Waits until `t` has happened (returns at once if it already has; also returns if
    /// the simulator goes away).
    pub async fn wait_for(&mut self, t: Trigger) {
        let _ = self.milestones.wait_for(|m| m.reached(t)).await;
    }

    /// Where `continue` sent the caller (`context,exten,priority`), if it did.
    pub fn dialplan_target(&self) -> Option<String> {
        self.shared
            .state()
            .calls
            .get(&self.id)
            .and_then(|c| c.dialplan_target.clone())
    }

    /// The agent leg (`;1` id) the caller ended up connected to: bridged with it by the
    /// app, or reached by the dialplan's `Dial()` after `continue`.
    pub fn agent_reached(&self) -> Option<String> {
        self.shared
            .state()
            .calls
            .get(&self.id)
            .and_then(|c| c.agent_reached.clone())
    }

    /// What the caller heard so far: 8 kHz audio from entering Stasis, tagged per 20 ms
    /// (app audio, music on hold, agent).
    pub async fn heard(&self) -> Option<Heard> {
        self.shared.caller_heard(&self.id).await
    }

    /// The inbound channel id (also the call id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the call is now.
    pub fn status(&self) -> CallStatus {
        self.status.borrow().clone()
    }

    /// Waits until the call has ended (caller or app hung up, restart, or failed).
    pub async fn ended(&mut self) -> CallOutcome {
        loop {
            if let CallStatus::Ended(o) = &*self.status.borrow_and_update() {
                return o.clone();
            }
            if self.status.changed().await.is_err() {
                return CallOutcome {
                    ended_by: crate::spec::EndedBy::Restart,
                    entered_stasis: true,
                };
            }
        }
    }

    /// Waits until the caller's audio has been sent completely.
    pub async fn audio_sent(&mut self) {
        let _ = self.audio_done.wait_for(|d| *d).await;
    }

    /// Waits until the call's media is over (its External Media channel is gone, or it
    /// never had one) and returns the final recording, if it had media.
    pub async fn media_finished(&mut self) -> Option<RtpRecording> {
        let _ = self.media_done.wait_for(|d| *d).await;
        self.shared.recording(&self.id).await
    }

    /// What was received so far.
    pub async fn recording(&self) -> Option<RtpRecording> {
        self.shared.recording(&self.id).await
    }

    /// The caller hangs up.
    pub fn hangup(&self) -> Result<(), SimError> {
        self.shared.state().caller_hangup(&self.id)
    }

    /// The caller presses `digits`.
    pub async fn send_dtmf(&self, digits: &str, duration_ms: u32) -> Result<(), SimError> {
        self.shared.send_dtmf(&self.id, digits, duration_ms).await
    }
}
