//! The telephony state of the simulated Asterisk: channels, bridges, calls and the one
//! Stasis app with its events WebSocket. Every operation emits exactly the event sequence
//! the recordings show, in order. It lives behind one mutex that is never held across an
//! await; RTP peers are separate tasks reached through channels.
//!
//! - `json.rs`: ARI object shapes. `failure.rs`: ARI error answers.
//! - `calls.rs`: the caller side (place, hang up, DTMF). `channels.rs`: channel routes.
//! - `bridges.rs`: bridge routes and media connection. `restart.rs`: restart and WebSocket.
//! - `dialplan.rs`: the extensions of extensions.conf. `transfer.rs`: `continue` into them.
//! - `agents.rs`: agent legs originated into the app (`agent-sim` behaviours).
//! - `moh.rs`: channel and bridge music on hold, hold, redirect, app-sent DTMF.
//! - `hearing.rs`: what the caller and the agents heard, rendered from a log.
//! - `timers.rs`: the actions the model schedules for later (rings, prompts, timeouts).

pub(crate) mod agents;
pub(crate) mod bridges;
pub(crate) mod calls;
pub(crate) mod channels;
pub(crate) mod dialplan;
pub(crate) mod failure;
pub(crate) mod hearing;
pub(crate) mod json;
pub(crate) mod moh;
pub(crate) mod request_log;
pub(crate) mod restart;
pub(crate) mod timers;
pub(crate) mod transfer;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::SimConfig;
use crate::model::agents::AgentRecord;
use crate::model::dialplan::DialplanConfig;
use crate::model::hearing::{HearLog, Hearing};
use crate::model::timers::{Timer, TimerAction};
use crate::rtp::peer::PeerCommand;
use crate::rtp::recording::RtpRecording;
use crate::spec::{
    AgentBehaviour, AudioPart, CallOutcome, CallStatus, EndedBy, KeyPress, Milestones,
};
use crate::timefmt::epoch_seconds;

/// Name and number (caller or connected line).
#[derive(Debug, Clone, Default)]
pub(crate) struct Party {
    pub(crate) name: String,
    pub(crate) number: String,
}

/// Where a channel is in the dialplan.
#[derive(Debug, Clone)]
pub(crate) struct Dialplan {
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) priority: i64,
    pub(crate) app_name: String,
    pub(crate) app_data: String,
}

impl Dialplan {
    /// An outgoing channel not yet in an application (`AppDial2`).
    pub(crate) fn app_dial(context: &str) -> Self {
        Dialplan {
            context: context.to_owned(),
            exten: "s".to_owned(),
            priority: 1,
            app_name: "AppDial2".to_owned(),
            app_data: "(Outgoing Line)".to_owned(),
        }
    }
}

/// What a channel is for.
#[derive(Debug)]
pub(crate) enum ChannelKind {
    /// The `;1` leg of a placed call: what the app sees as the inbound call.
    Inbound { call_id: String },
    /// The `;2` leg: the simulated caller, never in Stasis.
    CallerLeg { call_id: String },
    /// A UnicastRTP External Media channel and its peer task.
    ExternalMedia {
        peer: mpsc::UnboundedSender<PeerCommand>,
        call_id: Option<String>,
        media_connected: bool,
        /// When it was created: its peer's recording times count from here.
        created: std::time::Instant,
    },
    /// The `;1` leg of an agent (originated into the app, or dialled by the dialplan).
    AgentLeg { agent_id: String },
    /// The `;2` leg of an agent: the agent's phone running its `agent-sim` extension.
    AgentPhone { agent_id: String },
}

/// One channel.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) id: String,
    pub(crate) name: String,
    /// `Down`, `Ring`, `Ringing`, `Busy` or `Up`.
    pub(crate) state: &'static str,
    /// The music-on-hold class playing on the channel (channel MOH or hold).
    pub(crate) moh: Option<String>,
    pub(crate) caller: Party,
    pub(crate) connected: Party,
    pub(crate) dialplan: Dialplan,
    pub(crate) creationtime: String,
    /// Creation order, for listing.
    pub(crate) order: u64,
    /// The Stasis application the channel is in, if any.
    pub(crate) stasis_app: Option<String>,
    pub(crate) bridge: Option<String>,
    pub(crate) vars: BTreeMap<String, String>,
    pub(crate) kind: ChannelKind,
}

/// One bridge.
#[derive(Debug)]
pub(crate) struct Bridge {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) technology: &'static str,
    pub(crate) bridge_type: &'static str,
    /// Members in the order they joined (BRIDGEPEER goes to the earlier one first).
    pub(crate) channels: Vec<String>,
    pub(crate) creationtime: String,
    pub(crate) order: u64,
    /// The `Announcer/ARI_MOH-…;2` channel name while bridge MOH plays.
    pub(crate) moh_announcer: Option<String>,
}

/// A placed call, kept after it ends so tests can read its outcome and recording.
#[derive(Debug)]
pub(crate) struct CallRecord {
    pub(crate) id: String,
    pub(crate) did: String,
    pub(crate) caller: String,
    pub(crate) parts: Arc<[AudioPart]>,
    pub(crate) transmit_silence: bool,
    pub(crate) record_to: Option<PathBuf>,
    pub(crate) status: watch::Sender<CallStatus>,
    /// The External Media channel bridged with this call, once there is one.
    pub(crate) em_id: Option<String>,
    /// What that channel's peer received, once it has stopped.
    pub(crate) recording: Option<RtpRecording>,
    /// Where the recording was written, once it has been.
    pub(crate) recording_path: Option<PathBuf>,
    /// True once the media of the call is over (recording final, WAV written).
    pub(crate) media_done: watch::Sender<bool>,
    /// True once the caller's audio has been sent completely.
    pub(crate) audio_done: watch::Sender<bool>,
    pub(crate) order: u64,
    /// When the caller's audio was first connected to an External Media channel; a
    /// later External Media channel (a re-adopting app) continues the same timeline.
    pub(crate) audio_started: Option<std::time::Instant>,
    /// When the call entered Stasis (the caller's recording starts here).
    pub(crate) started: std::time::Instant,
    /// When it ended.
    pub(crate) ended_at: Option<std::time::Instant>,
    /// What the caller could hear, and since when.
    pub(crate) hear_log: HearLog,
    /// Every External Media channel the caller was ever bridged with.
    pub(crate) em_ids: Vec<String>,
    /// Final recordings of those channels, with their creation instants.
    pub(crate) em_recordings: HashMap<String, (std::time::Instant, RtpRecording)>,
    /// Where a `continue` sent the caller: `context,exten,priority`.
    pub(crate) dialplan_target: Option<String>,
    /// The agent the caller ended up talking to (`;1` id), if any.
    pub(crate) agent_reached: Option<String>,
    /// Since when a continued caller hears a dialplan `Playback` of the agent prompt.
    pub(crate) playback_since: Option<std::time::Instant>,
    /// Keys the caller presses by itself.
    pub(crate) keys: Vec<KeyPress>,
    /// What has happened to the call so far (hang-up triggers wait on it).
    pub(crate) milestones: watch::Sender<Milestones>,
}

/// The events WebSocket of the app, while one is connected.
#[derive(Debug)]
pub(crate) struct WsLink {
    pub(crate) id: u64,
    pub(crate) tx: mpsc::UnboundedSender<String>,
    /// Cancelled to drop the connection abruptly (no close frame).
    pub(crate) kill: CancellationToken,
}

/// The whole simulated PBX.
#[derive(Debug)]
pub(crate) struct SimState {
    pub(crate) config: Arc<SimConfig>,
    pub(crate) channels: HashMap<String, Channel>,
    pub(crate) bridges: HashMap<String, Bridge>,
    pub(crate) calls: HashMap<String, CallRecord>,
    pub(crate) ws: Option<WsLink>,
    /// Connections replaced by a newer one (ApplicationReplaced): open and silent.
    pub(crate) replaced: Vec<WsLink>,
    next_ws_id: u64,
    pub(crate) dialplan: DialplanConfig,
    /// How agent endpoints behave (`Local/100@agent-sim`, `PJSIP/1001`…).
    pub(crate) agent_map: BTreeMap<String, AgentBehaviour>,
    /// Agent legs, kept after they end so tests can read what happened.
    pub(crate) agents: HashMap<String, AgentRecord>,
    /// Channels the app subscribed to explicitly (or through an originate).
    pub(crate) subscriptions: HashSet<String>,
    /// Originated agent legs not yet answered: app, `Stasis` app data, args.
    pub(crate) pending_stasis: HashMap<String, (String, String, Vec<String>)>,
    timers: mpsc::UnboundedSender<Timer>,
    /// The RTP threads External Media channels run on, when the simulator has them
    /// (`SimConfig::rtp_threads`); otherwise every channel binds a socket of its own.
    pub(crate) rtp_hub: Option<crate::rtp::hub::RtpHub>,
    counter: u64,
    local_seq: u64,
    order: u64,
}

impl SimState {
    pub(crate) fn new(config: Arc<SimConfig>, timers: mpsc::UnboundedSender<Timer>) -> Self {
        let mut agent_map = crate::model::agents::builtin_agents();
        agent_map.extend(config.agents.clone());
        SimState {
            dialplan: config.dialplan.clone(),
            agent_map,
            agents: HashMap::new(),
            subscriptions: HashSet::new(),
            pending_stasis: HashMap::new(),
            timers,
            config,
            channels: HashMap::new(),
            bridges: HashMap::new(),
            calls: HashMap::new(),
            ws: None,
            replaced: Vec::new(),
            next_ws_id: 1,
            rtp_hub: None,
            counter: 0,
            local_seq: 0,
            order: 0,
        }
    }

    /// The next unique id, `epoch.counter` as Asterisk makes them.
    pub(crate) fn next_unique_id(&mut self) -> String {
        let id = format!("{}.{}", epoch_seconds(), self.counter);
        self.counter += 1;
        id
    }

    /// A restarted Asterisk counts ids from 0 again.
    pub(crate) fn reset_counters(&mut self) {
        self.counter = 0;
        self.local_seq = 0;
    }

    pub(crate) fn next_order(&mut self) -> u64 {
        self.order += 1;
        self.order
    }

    pub(crate) fn next_local_seq(&mut self) -> u64 {
        let n = self.local_seq;
        self.local_seq += 1;
        n
    }

    /// Whether the Stasis app exists: connected, or still holding channels or bridges
    /// after an abrupt disconnect (FINDINGS 19-20).
    pub(crate) fn app_exists(&self) -> bool {
        self.ws.is_some()
            || !self.bridges.is_empty()
            || self
                .channels
                .values()
                .any(|c| c.stasis_app.as_deref() == Some(self.config.app.as_str()))
    }

    /// Sends an event to the app's WebSocket, or discards it when none is connected.
    pub(crate) fn emit(&mut self, kind: &str, fields: Value) {
        let Some(ws) = &self.ws else { return };
        let ev = json::event(kind, fields, &self.config.asterisk_id, &self.config.app);
        if ws.tx.send(ev.to_string()).is_err() {
            self.ws = None;
        }
    }

    /// Sends an arbitrary text frame to the app's WebSocket (tests of malformed streams);
    /// returns whether an app was connected to receive it.
    pub(crate) fn send_raw(&mut self, frame: String) -> bool {
        let Some(ws) = &self.ws else { return false };
        if ws.tx.send(frame).is_err() {
            self.ws = None;
            return false;
        }
        true
    }

    /// Whether the app is subscribed to this channel: it is in our Stasis app, or the app
    /// subscribed to it (`POST /applications/{app}/subscription`, or an originate).
    pub(crate) fn subscribed(&self, channel_id: &str) -> bool {
        self.subscriptions.contains(channel_id)
            || self
                .channels
                .get(channel_id)
                .is_some_and(|c| c.stasis_app.as_deref() == Some(self.config.app.as_str()))
    }

    /// Schedules `action` for `after` from now (never, if that is beyond what an
    /// `Instant` can hold: a timeout of `i64::MAX` seconds from the network).
    pub(crate) fn schedule(&self, after: std::time::Duration, action: TimerAction) {
        let Some(at) = std::time::Instant::now().checked_add(after) else {
            return;
        };
        let _ = self.timers.send(Timer { at, action });
    }

    /// A channel is gone: forget it and its subscription.
    pub(crate) fn destroy_channel(&mut self, id: &str) {
        self.channels.remove(id);
        self.subscriptions.remove(id);
    }

    /// Records what every live caller and agent can hear now, where it changed. Parties
    /// that have ended are skipped (their logs got a last, silent step when they ended).
    pub(crate) fn refresh_hearing(&mut self) {
        let now = std::time::Instant::now();
        let ids: Vec<String> = self
            .calls
            .values()
            .filter(|c| c.ended_at.is_none())
            .map(|c| c.id.clone())
            .collect();
        for id in ids {
            let h = self.hearing_of(&id);
            if let Some(c) = self.calls.get_mut(&id) {
                for s in &h.sources {
                    if let crate::model::hearing::Source::App(em) = s
                        && !c.em_ids.contains(em)
                    {
                        c.em_ids.push(em.clone());
                    }
                }
                c.hear_log.push(now, h);
            }
        }
        let agent_ids: Vec<String> = self
            .agents
            .values()
            .filter(|a| a.ended_at.is_none())
            .map(|a| a.id.clone())
            .collect();
        for id in agent_ids {
            let heard = self.agent_hears(&id);
            if let Some(a) = self.agents.get_mut(&id) {
                a.hear_log.push(now, heard);
            }
        }
    }

    /// Updates a call's milestones.
    pub(crate) fn milestone(&mut self, call_id: &str, f: impl FnOnce(&mut Milestones)) {
        if let Some(c) = self.calls.get(call_id) {
            c.milestones.send_if_modified(|m| {
                let before = *m;
                f(m);
                before != *m
            });
        }
    }

    fn hearing_of(&self, call_id: &str) -> Hearing {
        crate::model::hearing::hearing_of(self, call_id)
    }

    /// Emits a channel event (`channel` field plus `extra`) if the app is subscribed.
    pub(crate) fn emit_channel(&mut self, kind: &str, channel_id: &str, extra: Value) {
        if !self.subscribed(channel_id) {
            return;
        }
        self.emit_channel_always(kind, channel_id, extra);
    }

    /// Emits a channel event regardless of subscription (events Asterisk still delivers
    /// right after StasisEnd, such as an External Media channel's ChannelDestroyed).
    pub(crate) fn emit_channel_always(&mut self, kind: &str, channel_id: &str, extra: Value) {
        let Some(c) = self.channels.get(channel_id) else {
            return;
        };
        let mut fields = match extra {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        fields.insert("channel".into(), json::channel(c));
        self.emit(kind, Value::Object(fields));
    }

    /// Emits `ChannelVarset` and stores the variable.
    pub(crate) fn set_var_with_event(&mut self, channel_id: &str, name: &str, value: &str) {
        if let Some(c) = self.channels.get_mut(channel_id) {
            c.vars.insert(name.to_owned(), value.to_owned());
        }
        self.emit_channel(
            "ChannelVarset",
            channel_id,
            json!({ "variable": name, "value": value }),
        );
    }

    /// Marks a call ended (once) and, if it never had media, its media done.
    pub(crate) fn end_call(&mut self, call_id: &str, ended_by: EndedBy, entered_stasis: bool) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        if matches!(*call.status.borrow(), CallStatus::Ended(_)) {
            return;
        }
        call.status.send_replace(CallStatus::Ended(CallOutcome {
            ended_by,
            entered_stasis,
        }));
        let now = std::time::Instant::now();
        call.ended_at = Some(now);
        call.hear_log.push(now, Hearing::default());
        if call.em_id.is_none() {
            call.media_done.send_replace(true);
        }
    }

    /// Registers a new events WebSocket. The previous one, if any, gets
    /// `ApplicationReplaced` and stays open and silent (FINDINGS 48).
    pub(crate) fn attach_ws(
        &mut self,
        tx: mpsc::UnboundedSender<String>,
    ) -> (u64, CancellationToken) {
        if let Some(old) = self.ws.take() {
            let ev = json::replaced_event(&self.config.asterisk_id, &self.config.app);
            if old.tx.send(ev.to_string()).is_ok() {
                self.replaced.push(old);
            }
        }
        let id = self.next_ws_id;
        self.next_ws_id += 1;
        let kill = CancellationToken::new();
        self.ws = Some(WsLink {
            id,
            tx,
            kill: kill.clone(),
        });
        (id, kill)
    }

    /// The client closed (or the connection failed): forget the link if it is still ours.
    pub(crate) fn detach_ws(&mut self, id: u64) {
        if self.ws.as_ref().is_some_and(|w| w.id == id) {
            self.ws = None;
        }
        self.replaced.retain(|w| w.id != id);
    }

    /// Drops the WebSocket abruptly (no close frame); later events are discarded.
    pub(crate) fn drop_ws(&mut self) -> bool {
        for w in self.replaced.drain(..) {
            w.kill.cancel();
        }
        match self.ws.take() {
            Some(w) => {
                w.kill.cancel();
                true
            }
            None => false,
        }
    }

    /// Channels in creation order.
    pub(crate) fn channels_in_order(&self) -> Vec<&Channel> {
        let mut v: Vec<&Channel> = self.channels.values().collect();
        v.sort_by_key(|c| c.order);
        v
    }

    /// Bridges in creation order.
    pub(crate) fn bridges_in_order(&self) -> Vec<&Bridge> {
        let mut v: Vec<&Bridge> = self.bridges.values().collect();
        v.sort_by_key(|b| b.order);
        v
    }

    /// The `/applications/{app}` object, if the app exists.
    pub(crate) fn application_json(&self, name: &str) -> Option<Value> {
        if name != self.config.app || !self.app_exists() {
            return None;
        }
        let channel_ids: Vec<&str> = self
            .channels_in_order()
            .into_iter()
            .filter(|c| c.stasis_app.as_deref() == Some(name) || self.subscriptions.contains(&c.id))
            .map(|c| c.id.as_str())
            .collect();
        let bridge_ids: Vec<&str> = self
            .bridges_in_order()
            .into_iter()
            .map(|b| b.id.as_str())
            .collect();
        Some(json!({
            "name": name,
            "channel_ids": channel_ids,
            "bridge_ids": bridge_ids,
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }))
    }
}
