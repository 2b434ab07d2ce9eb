//! `POST /channels/{id}/continue` (FINDINGS 26-32): the caller leaves the bridge and Stasis
//! and runs the simulated dialplan. `humans,100` dials the agent endpoint with the recorded
//! varsets and Dial events, `humans,queue` plays the agent prompt, the next priority of
//! `from-tata-trunk` hangs up, and a target that does not exist hangs the caller up at
//! once (204 all the same). Events after `StasisEnd` reach only an app subscribed to the
//! caller.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use crate::model::agents::{AgentSetup, Phase};
use crate::model::dialplan::Target;
use crate::model::failure::{AriFailure, AriResult};
use crate::model::json as ari;
use crate::model::timers::TimerAction;
use crate::model::{ChannelKind, Party, SimState};
use crate::spec::{AgentBehaviour, EndedBy};

/// The `continue` parameters.
#[derive(Debug, Default)]
pub(crate) struct ContinueParams {
    pub(crate) context: Option<String>,
    pub(crate) extension: Option<String>,
    pub(crate) priority: Option<String>,
    pub(crate) label: Option<String>,
}

const DIAL_VARS: &[&str] = &[
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
];

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

impl SimState {
    /// `POST /channels/{id}/continue`.
    pub(crate) fn continue_in_dialplan(&mut self, id: &str, p: ContinueParams) -> AriResult<()> {
        let c = self
            .channels
            .get(id)
            .ok_or_else(AriFailure::channel_not_found)?;
        if c.stasis_app.is_none() {
            return Err(AriFailure::new(
                StatusCode::CONFLICT,
                "Channel not in Stasis application",
            ));
        }
        let (cur_ctx, cur_exten, cur_prio) = (
            c.dialplan.context.clone(),
            c.dialplan.exten.clone(),
            c.dialplan.priority,
        );
        let kind_call = match &c.kind {
            ChannelKind::Inbound { call_id } => Some(call_id.clone()),
            _ => None,
        };
        let (context, extension) = (non_empty(p.context), non_empty(p.extension));
        let mut priority = match non_empty(p.priority) {
            Some(pr) => pr.trim().parse::<i64>().unwrap_or(1),
            None if context.is_none() && extension.is_none() => cur_prio + 1,
            None => 1,
        };
        let context = context.unwrap_or(cur_ctx);
        let exten = extension.unwrap_or(cur_exten);
        // A label is looked up; failing that it may be a priority number (FINDINGS 31).
        if let Some(label) = non_empty(p.label) {
            match (
                self.dialplan.label(&context, &exten, &label),
                label.trim().parse::<i64>(),
            ) {
                (Some(n), _) => priority = n,
                (None, Ok(n)) if n > 0 => priority = n,
                (None, Ok(_)) => {
                    return Err(AriFailure::bad_request("Requested priority is illegal"));
                }
                (None, Err(_)) => {
                    return Err(AriFailure::not_found("Requested label can not be found"));
                }
            }
        }
        let Some(call_id) = kind_call else {
            if let Some(agent) = self.agent_of_channel(id) {
                self.app_hangs_up_agent(&agent);
            } else {
                self.external_media_leaves(id);
            }
            return Ok(());
        };
        self.leave_bridge(id);
        self.emit_channel("StasisEnd", id, json!({}));
        if let Some(c) = self.channels.get_mut(id) {
            c.stasis_app = None;
        }
        self.set_var_with_event(id, "STASISSTATUS", "SUCCESS");
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.dialplan_target = Some(format!("{context},{exten},{priority}"));
        }
        self.milestone(&call_id, |m| m.continued = true);
        self.run_dialplan(&call_id, &context, &exten, priority);
        self.refresh_hearing();
        Ok(())
    }

    /// Expands the `${…}` the recorded `NoOp`s use.
    fn expand(&self, call_id: &str, data: &str) -> String {
        let Some(c) = self.channels.get(call_id) else {
            return data.to_owned();
        };
        data.replace("${EXTEN}", &c.dialplan.exten)
            .replace("${CALLERID(num)}", &c.caller.number)
            .replace("${CHANNEL}", &c.name)
            .replace(
                "${STASISSTATUS}",
                c.vars.get("STASISSTATUS").map_or("", String::as_str),
            )
            .replace(
                "${DIALSTATUS}",
                c.vars.get("DIALSTATUS").map_or("", String::as_str),
            )
    }

    /// Moves the caller to a priority and emits `ChannelDialplan`.
    fn step(&mut self, call_id: &str, context: &str, exten: &str, priority: i64) -> Option<String> {
        let (app, data) = self
            .dialplan
            .find(context, exten)?
            .apps
            .get(usize::try_from(priority - 1).ok()?)?
            .clone();
        if let Some(c) = self.channels.get_mut(call_id) {
            c.dialplan.context = context.to_owned();
            c.dialplan.exten = exten.to_owned();
            c.dialplan.priority = priority;
        }
        let data = self.expand(call_id, &data);
        if let Some(c) = self.channels.get_mut(call_id) {
            c.dialplan.app_name = app.clone();
            c.dialplan.app_data = data.clone();
        }
        self.emit_channel(
            "ChannelDialplan",
            call_id,
            json!({ "dialplan_app": app, "dialplan_app_data": data }),
        );
        Some(app)
    }

    /// Runs `context,exten` from `priority` until it blocks (Dial, Playback) or hangs up.
    fn run_dialplan(&mut self, call_id: &str, context: &str, exten: &str, priority: i64) {
        let Some(ext) = self.dialplan.find(context, exten).cloned() else {
            return self.dialplan_missing(call_id, context, exten, priority);
        };
        if priority < 1 || priority > ext.priorities {
            return self.dialplan_missing(call_id, context, exten, priority);
        }
        let mut p = priority;
        while p <= ext.priorities {
            let Some(app) = self.step(call_id, context, exten, p) else {
                break;
            };
            match (app.as_str(), &ext.target) {
                (
                    "Dial",
                    Target::Dial {
                        endpoint,
                        timeout_s,
                    },
                ) => {
                    return self.dial_agent(call_id, endpoint, *timeout_s);
                }
                ("Playback", Target::Playback { .. }) => {
                    if let Some(c) = self.calls.get_mut(call_id) {
                        c.playback_since = Some(Instant::now());
                    }
                    self.schedule(
                        Duration::from_millis(4190),
                        TimerAction::PlaybackDone {
                            call_id: call_id.to_owned(),
                        },
                    );
                    return;
                }
                ("Hangup", _) => break,
                _ => p += 1,
            }
        }
        self.dialplan_hangup(call_id);
    }

    /// `continue` to a target that does not exist (FINDINGS 31).
    fn dialplan_missing(&mut self, call_id: &str, context: &str, exten: &str, priority: i64) {
        self.emit_channel(
            "ChannelHangupRequest",
            call_id,
            json!({ "cause": 16, "soft": true }),
        );
        if let Some(c) = self.channels.get_mut(call_id) {
            c.dialplan.context = context.to_owned();
            c.dialplan.exten = exten.to_owned();
            c.dialplan.priority = priority;
            c.dialplan.app_name = "AppDial2".to_owned();
            c.dialplan.app_data = "(Outgoing Line)".to_owned();
        }
        self.emit_channel(
            "ChannelDestroyed",
            call_id,
            json!({ "cause": 16, "cause_txt": "Normal Clearing" }),
        );
        self.emit_channel(
            "ChannelDialplan",
            call_id,
            json!({ "dialplan_app": "AppDial2", "dialplan_app_data": "(Outgoing Line)" }),
        );
        self.end_continued(call_id, EndedBy::AppContinued);
    }

    /// The dialplan hangs the caller up: `{16, soft}`, `ChannelDestroyed {16}`.
    fn dialplan_hangup(&mut self, call_id: &str) {
        self.emit_channel(
            "ChannelHangupRequest",
            call_id,
            json!({ "cause": 16, "soft": true }),
        );
        if let Some(c) = self.channels.get_mut(call_id) {
            c.dialplan.app_name = "AppDial2".to_owned();
            c.dialplan.app_data = "(Outgoing Line)".to_owned();
        }
        self.emit_channel(
            "ChannelDestroyed",
            call_id,
            json!({ "cause": 16, "cause_txt": "Normal Clearing" }),
        );
        self.end_continued(call_id, EndedBy::AppContinued);
    }

    /// The continued caller is gone; so is any agent its `Dial()` reached.
    pub(crate) fn end_continued(&mut self, call_id: &str, by: EndedBy) {
        let dialled: Vec<String> = self
            .agents
            .values()
            .filter(|a| a.dialled_by.as_deref() == Some(call_id) && a.phase != Phase::Ended)
            .map(|a| a.id.clone())
            .collect();
        for a in dialled {
            self.end_agent(&a, crate::model::agents::AgentEnd::Caller);
        }
        self.remove_call_channels(call_id);
        self.subscriptions.remove(call_id);
        self.end_call(call_id, by, true);
    }

    /// `humans,queue`: the prompt ended; `Hangup()`.
    pub(crate) fn playback_done(&mut self, call_id: &str) {
        if !self.channels.contains_key(call_id) {
            return;
        }
        if let Some(c) = self.calls.get_mut(call_id) {
            c.playback_since = None;
        }
        self.set_var_with_event(call_id, "PLAYBACKSTATUS", "SUCCESS");
        let (ctx, exten, prio) = match self.channels.get(call_id) {
            Some(c) => (
                c.dialplan.context.clone(),
                c.dialplan.exten.clone(),
                c.dialplan.priority,
            ),
            None => return,
        };
        self.run_dialplan(call_id, &ctx, &exten, prio + 1);
    }

    /// `Dial(endpoint,timeout)` from a continued caller (FINDINGS 29).
    fn dial_agent(&mut self, call_id: &str, endpoint: &str, timeout_s: u64) {
        for v in DIAL_VARS {
            self.set_var_with_event(call_id, v, "");
        }
        let (context, exten, dialstring) = match endpoint.split_once('/') {
            Some((_, r)) => {
                let (x, c) = r.split_once('@').unwrap_or((r, "default"));
                (c.to_owned(), x.to_owned(), r.to_owned())
            }
            None => (String::new(), endpoint.to_owned(), endpoint.to_owned()),
        };
        let Some(behaviour) = self.agent_map.get(endpoint).cloned() else {
            self.set_var_with_event(call_id, "DIALSTATUS", "CHANUNAVAIL");
            return self.dial_failed(call_id);
        };
        let caller = self
            .channels
            .get(call_id)
            .map(|c| c.caller.clone())
            .unwrap_or_default();
        let id = self.next_unique_id();
        let phone_id = self.next_unique_id();
        self.create_agent(AgentSetup {
            id: id.clone(),
            phone_id,
            endpoint: endpoint.to_owned(),
            context,
            exten,
            dialstring: dialstring.clone(),
            behaviour: behaviour.clone(),
            timeout: Duration::from_secs(timeout_s),
            caller: Party {
                name: String::new(),
                number: caller.number,
            },
            call_id: Some(call_id.to_owned()),
            dialled_by: Some(call_id.to_owned()),
            stasis: None,
        });
        if let Some(c) = self.channels.get_mut(&id) {
            c.state = "Down";
        }
        self.emit_caller_dial(call_id, &id, "", &dialstring);
        self.milestone(call_id, |m| m.agent_ringing = true);
        match behaviour {
            AgentBehaviour::Answer { ring, .. } if ring.is_zero() => {
                self.dial_answered(call_id, &id)
            }
            AgentBehaviour::Answer { ring, .. } => {
                self.emit_caller_dial(call_id, &id, "RINGING", &dialstring);
                if ring.as_secs() < timeout_s {
                    self.schedule(
                        ring,
                        TimerAction::AgentAnswer {
                            agent_id: id.clone(),
                        },
                    );
                }
                self.schedule(
                    Duration::from_secs(timeout_s),
                    TimerAction::RingTimeout { agent_id: id },
                );
            }
            AgentBehaviour::NoAnswer => {
                self.emit_caller_dial(call_id, &id, "RINGING", &dialstring);
                self.schedule(
                    Duration::from_secs(timeout_s),
                    TimerAction::RingTimeout { agent_id: id },
                );
            }
            AgentBehaviour::Busy | AgentBehaviour::Congestion => {
                let status = if behaviour == AgentBehaviour::Busy {
                    "BUSY"
                } else {
                    "CONGESTION"
                };
                self.set_var_with_event(call_id, "DIALSTATUS", status);
                self.emit_caller_dial(call_id, &id, status, &dialstring);
                self.end_agent(
                    &id,
                    if status == "BUSY" {
                        crate::model::agents::AgentEnd::Busy
                    } else {
                        crate::model::agents::AgentEnd::Congestion
                    },
                );
                self.dial_failed(call_id);
            }
        }
    }

    fn emit_caller_dial(&mut self, call_id: &str, agent_id: &str, status: &str, dialstring: &str) {
        if !self.subscribed(call_id) {
            return;
        }
        let (Some(caller), Some(peer)) = (self.channels.get(call_id), self.channels.get(agent_id))
        else {
            return;
        };
        let (caller, peer) = (ari::channel(caller), ari::channel(peer));
        self.emit(
            "Dial",
            json!({ "caller": caller, "peer": peer, "dialstatus": status, "forward": "", "dialstring": dialstring }),
        );
    }

    /// The dialled agent answered: `DIALSTATUS=ANSWER`, peer name and number, Dial ANSWER,
    /// `BRIDGEPEER` (no bridge events), and the agent's prompt starts.
    pub(crate) fn dial_answered(&mut self, call_id: &str, agent_id: &str) {
        let Some(a) = self.agents.get_mut(agent_id) else {
            return;
        };
        a.phase = Phase::Up;
        a.answered_at = Some(Instant::now());
        let (phone, dialstring, speech_ms) = (
            a.phone_id.clone(),
            a.dialstring.clone(),
            a.speech.len() as u64 / 8,
        );
        let leg_name = self
            .channels
            .get(agent_id)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let caller_name = self
            .channels
            .get(call_id)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        if let Some(c) = self.channels.get_mut(agent_id) {
            c.state = "Up";
            c.dialplan.exten.clear();
            c.vars.insert("BRIDGEPEER".into(), caller_name);
        }
        if let Some(c) = self.channels.get_mut(&phone) {
            c.state = "Up";
            c.dialplan.priority = 4;
            c.dialplan.app_name = "Playback".into();
            c.dialplan.app_data = "custom/vca-agent-speech".into();
        }
        self.set_var_with_event(call_id, "DIALSTATUS", "ANSWER");
        self.set_var_with_event(call_id, "DIALEDPEERNAME", &leg_name);
        self.set_var_with_event(call_id, "DIALEDPEERNUMBER", &dialstring);
        self.emit_caller_dial(call_id, agent_id, "ANSWER", "");
        self.set_var_with_event(call_id, "BRIDGEPEER", &leg_name);
        if let Some(c) = self.calls.get_mut(call_id) {
            c.agent_reached = Some(agent_id.to_owned());
        }
        self.milestone(call_id, |m| {
            m.agent_answered = true;
            m.bridged_with_agent = true;
        });
        self.schedule(
            Duration::from_millis(speech_ms),
            TimerAction::AgentSpoke {
                agent_id: agent_id.to_owned(),
            },
        );
    }

    /// The `Dial()` failed: `NoOp(DIALSTATUS=…)`, `Hangup()`.
    pub(crate) fn dial_failed(&mut self, call_id: &str) {
        let (ctx, exten) = match self.channels.get(call_id) {
            Some(c) => (c.dialplan.context.clone(), c.dialplan.exten.clone()),
            None => return,
        };
        self.run_dialplan(call_id, &ctx, &exten, 3);
    }

    /// The agent a caller's `Dial()` reached hung up: `Dial` returns non-zero and the
    /// caller is hung up at once (FINDINGS 29-30).
    pub(crate) fn dial_ended_by_agent(&mut self, call_id: &str) {
        if !self.channels.contains_key(call_id) {
            return;
        }
        let answered = self
            .agents
            .values()
            .find(|a| a.dialled_by.as_deref() == Some(call_id))
            .and_then(|a| a.answered_at)
            .map(|t| t.elapsed());
        self.set_var_with_event(call_id, "BRIDGEPEER", "");
        let ms = answered.map_or(0, |d| d.as_millis());
        let (secs, ms) = ((ms / 1000).to_string(), ms.to_string());
        self.set_var_with_event(call_id, "ANSWEREDTIME", &secs);
        self.set_var_with_event(call_id, "ANSWEREDTIME_MS", &ms);
        self.set_var_with_event(call_id, "DIALEDTIME", &secs);
        self.set_var_with_event(call_id, "DIALEDTIME_MS", &ms);
        self.set_var_with_event(call_id, "DIALSTATUS", "ANSWER");
        self.dialplan_hangup(call_id);
    }

    /// A dialled agent rang out (`NOANSWER`).
    pub(crate) fn dial_rang_out(&mut self, call_id: &str) {
        if !self.channels.contains_key(call_id) {
            return;
        }
        self.set_var_with_event(call_id, "DIALSTATUS", "NOANSWER");
        self.dial_failed(call_id);
    }
}
