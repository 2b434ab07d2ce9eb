//! The caller side of placed calls: arrival in Stasis (or failure when the app does not
//! exist, FINDINGS 20), the caller hanging up (FINDINGS 16) and DTMF (FINDINGS 10).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::watch;

use crate::error::SimError;
use crate::model::{CallRecord, Channel, ChannelKind, Dialplan, Party, SimState};
use crate::rtp::peer::PeerCommand;
use crate::spec::{ArgsMode, AudioPart, CallSpec, CallStatus, EndedBy};
use crate::timefmt::ari_timestamp;

/// What the handle keeps to follow a placed call.
pub(crate) struct PlacedCall {
    pub(crate) id: String,
    pub(crate) status: watch::Receiver<CallStatus>,
    pub(crate) media_done: watch::Receiver<bool>,
    pub(crate) audio_done: watch::Receiver<bool>,
    pub(crate) milestones: watch::Receiver<crate::spec::Milestones>,
}

impl SimState {
    /// A call arrives from the trunk and the dialplan runs `Stasis(app[,DID,caller])`.
    pub(crate) fn place_call(&mut self, spec: &CallSpec, parts: Arc<[AudioPart]>) -> PlacedCall {
        let id = self.next_unique_id();
        let leg_id = self.next_unique_id();
        let local = self.next_local_seq();
        let app = self.config.app.clone();
        let args_mode = spec.args.unwrap_or(self.config.default_args);
        let (args, app_data) = match args_mode {
            ArgsMode::DidAndCaller => (
                vec![spec.did.clone(), spec.caller.clone()],
                format!("{app},{},{}", spec.did, spec.caller),
            ),
            ArgsMode::Empty => (Vec::new(), app.clone()),
        };
        let exists = self.app_exists();
        let initial = if exists {
            CallStatus::Up
        } else {
            CallStatus::Ended(crate::spec::CallOutcome {
                ended_by: EndedBy::NoApp,
                entered_stasis: false,
            })
        };
        let (status, status_rx) = watch::channel(initial);
        let (media_done, media_rx) = watch::channel(!exists);
        let (audio_done, audio_rx) = watch::channel(false);
        let (milestones, milestones_rx) = watch::channel(crate::spec::Milestones::default());
        let record_to = spec.record_to.clone().or_else(|| {
            self.config
                .record_dir
                .as_ref()
                .map(|d| d.join(format!("{id}-heard.wav")))
        });
        let order = self.next_order();
        self.calls.insert(
            id.clone(),
            CallRecord {
                id: id.clone(),
                did: spec.did.clone(),
                caller: spec.caller.clone(),
                parts,
                transmit_silence: spec.transmit_silence,
                record_to,
                status,
                em_id: None,
                recording: None,
                recording_path: None,
                media_done,
                audio_done,
                order,
                audio_started: None,
                started: std::time::Instant::now(),
                ended_at: None,
                hear_log: crate::model::hearing::HearLog::default(),
                em_ids: Vec::new(),
                em_recordings: std::collections::HashMap::new(),
                dialplan_target: None,
                agent_reached: None,
                playback_since: None,
                keys: spec.keys.clone(),
                milestones,
            },
        );
        let placed = PlacedCall {
            id: id.clone(),
            status: status_rx,
            media_done: media_rx,
            audio_done: audio_rx,
            milestones: milestones_rx,
        };
        if !exists {
            return placed;
        }
        for (index, k) in spec.keys.iter().enumerate() {
            self.schedule(
                k.at,
                crate::model::timers::TimerAction::KeyDown {
                    call_id: id.clone(),
                    index,
                },
            );
        }
        let now = ari_timestamp();
        let inbound = Channel {
            id: id.clone(),
            name: format!("Local/{}@caller-sim-{local:08x};1", spec.caller_exten),
            state: "Up",
            moh: None,
            caller: Party {
                name: String::new(),
                number: spec.caller.clone(),
            },
            connected: Party {
                name: String::new(),
                number: spec.caller.clone(),
            },
            dialplan: Dialplan {
                context: "from-tata-trunk".to_owned(),
                exten: spec.did.clone(),
                priority: 2,
                app_name: "Stasis".to_owned(),
                app_data,
            },
            creationtime: now.clone(),
            order: self.next_order(),
            stasis_app: Some(app),
            bridge: None,
            vars: BTreeMap::new(),
            kind: ChannelKind::Inbound {
                call_id: id.clone(),
            },
        };
        let leg = Channel {
            id: leg_id.clone(),
            name: format!("Local/{}@caller-sim-{local:08x};2", spec.caller_exten),
            state: "Up",
            moh: None,
            caller: Party::default(),
            connected: Party {
                name: String::new(),
                number: spec.caller.clone(),
            },
            dialplan: Dialplan {
                context: "caller-sim".to_owned(),
                exten: "s".to_owned(),
                priority: 2,
                app_name: "Playback".to_owned(),
                app_data: "vca-caller-speech".to_owned(),
            },
            creationtime: now,
            order: self.next_order(),
            stasis_app: None,
            bridge: None,
            vars: BTreeMap::new(),
            kind: ChannelKind::CallerLeg {
                call_id: id.clone(),
            },
        };
        self.channels.insert(id.clone(), inbound);
        self.channels.insert(leg_id, leg);
        self.emit_channel("StasisStart", &id, json!({ "args": args }));
        placed
    }

    /// The inbound channel of a call, if the call is still up.
    fn inbound_of(&self, call_id: &str) -> Result<String, SimError> {
        if !self.calls.contains_key(call_id) {
            return Err(SimError::UnknownCall(call_id.to_owned()));
        }
        if self.channels.contains_key(call_id) {
            Ok(call_id.to_owned())
        } else {
            Err(SimError::CallEnded(call_id.to_owned()))
        }
    }

    /// The caller hangs up: `ChannelHangupRequest{cause:16}` (no `soft`), BRIDGEPEER,
    /// `ChannelLeftBridge`, `StasisEnd`; no `ChannelDestroyed` reaches a plain app. The
    /// External Media channel and the bridge stay.
    pub(crate) fn caller_hangup(&mut self, call_id: &str) -> Result<(), SimError> {
        let inbound = self.inbound_of(call_id)?;
        let in_stasis = self
            .channels
            .get(&inbound)
            .is_some_and(|c| c.stasis_app.is_some());
        if !in_stasis {
            // Continued into the dialplan: a subscribed app sees the hang-up and the
            // channel's end (not recorded for this case; the agent its Dial() reached goes
            // with it, as Dial hangs up its callee).
            self.emit_channel("ChannelHangupRequest", &inbound, json!({ "cause": 16 }));
            if self
                .channels
                .get(&inbound)
                .is_some_and(|c| c.vars.get("BRIDGEPEER").is_some_and(|v| !v.is_empty()))
            {
                self.set_var_with_event(&inbound, "BRIDGEPEER", "");
            }
            if let Some(c) = self.channels.get_mut(&inbound) {
                c.dialplan.app_name = "AppDial2".to_owned();
                c.dialplan.app_data = "(Outgoing Line)".to_owned();
            }
            self.emit_channel(
                "ChannelDestroyed",
                &inbound,
                json!({ "cause": 16, "cause_txt": "Normal Clearing" }),
            );
            self.end_continued(call_id, EndedBy::Caller);
            self.refresh_hearing();
            return Ok(());
        }
        self.emit_channel("ChannelHangupRequest", &inbound, json!({ "cause": 16 }));
        self.leave_bridge(&inbound);
        self.emit_channel("StasisEnd", &inbound, json!({}));
        self.remove_call_channels(call_id);
        self.subscriptions.remove(call_id);
        self.end_call(call_id, EndedBy::Caller, true);
        self.refresh_hearing();
        Ok(())
    }

    /// Removes a call's inbound and caller-leg channels (no events).
    pub(crate) fn remove_call_channels(&mut self, call_id: &str) {
        self.channels.retain(|_, c| match &c.kind {
            ChannelKind::Inbound { call_id: id } | ChannelKind::CallerLeg { call_id: id } => {
                id != call_id
            }
            _ => true,
        });
    }

    /// The caller starts a digit: the RTP towards the app pauses for its length.
    pub(crate) fn dtmf_begin(
        &mut self,
        call_id: &str,
        digit: char,
        duration_ms: u32,
    ) -> Result<(), SimError> {
        if !matches!(digit, '0'..='9' | 'A'..='D' | '*' | '#') {
            return Err(SimError::InvalidDigit(digit));
        }
        let inbound = self.inbound_of(call_id)?;
        let em = self.calls.get(call_id).and_then(|c| c.em_id.clone());
        let in_bridge = self.channels.get(&inbound).and_then(|c| c.bridge.clone());
        let on_moh = self.channels.get(&inbound).is_some_and(|c| c.moh.is_some());
        if let Some(em) = em
            && let Some(c) = self.channels.get(&em)
            && c.bridge.is_some()
            && c.bridge == in_bridge
            && let ChannelKind::ExternalMedia { peer, .. } = &c.kind
        {
            // During channel MOH the recorded gap was 474 ms for a 100 ms digit.
            let extra = if on_moh { 360 } else { 0 };
            let gap = std::time::Duration::from_millis(u64::from(duration_ms) + extra);
            let _ = peer.send(PeerCommand::Dtmf(gap));
        }
        Ok(())
    }

    /// The digit ends: `ChannelDtmfReceived{digit, duration_ms}` on the inbound channel.
    pub(crate) fn dtmf_end(
        &mut self,
        call_id: &str,
        digit: char,
        duration_ms: u32,
    ) -> Result<(), SimError> {
        let inbound = self.inbound_of(call_id)?;
        self.emit_channel(
            "ChannelDtmfReceived",
            &inbound,
            json!({ "digit": digit.to_string(), "duration_ms": duration_ms }),
        );
        Ok(())
    }
}
