//! Agent legs: `POST /channels` originating a leg into the app (FINDINGS 35, 39), the
//! `agent-sim` behaviours of extensions.conf (answers and talks, rings first, busy, no
//! answer, congestion), and every way such a leg ends: the agent hangs up (FINDINGS 37), the
//! app hangs it up ringing (46) or bridged (47), or the originate times out (39, 46). The
//! same records serve the agent a continued caller's `Dial()` reaches (FINDINGS 29), whose
//! legs are never in Stasis and produce no events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::failure::{AriFailure, AriResult};
use crate::model::hearing::HearLog;
use crate::model::json as ari;
use crate::model::timers::TimerAction;
use crate::model::{Channel, ChannelKind, Dialplan, Party, SimState};
use crate::spec::{AgentBehaviour, CallStatus};
use crate::timefmt::ari_timestamp;

/// The agent prompt's length (`vca-agent-speech.wav`, 4.19 s).
const PROMPT: Duration = Duration::from_millis(4190);

/// The `agent-sim` extensions of extensions.conf, by endpoint.
pub(crate) fn builtin_agents() -> BTreeMap<String, AgentBehaviour> {
    let answer = |ring: u64, after: u64| AgentBehaviour::Answer {
        ring: Duration::from_secs(ring),
        speech: None,
        after_speech: Some(Duration::from_secs(after)),
    };
    [
        ("100", answer(0, 20)),
        ("short", answer(0, 2)),
        ("ring3", answer(3, 20)),
        ("busy", AgentBehaviour::Busy),
        ("noanswer", AgentBehaviour::NoAnswer),
        ("congestion", AgentBehaviour::Congestion),
    ]
    .into_iter()
    .map(|(x, b)| (format!("Local/{x}@agent-sim"), b))
    .collect()
}

/// The simulator's agent prompt: 4.19 s of an 850 Hz tone at about -14 dBFS.
pub(crate) fn default_agent_speech() -> Arc<[i16]> {
    let n = (PROMPT.as_millis() as usize) * 8;
    (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (6000.0 * (2.0 * std::f64::consts::PI * 850.0 * t).sin()) as i16
        })
        .collect::<Vec<_>>()
        .into()
}

/// How an agent leg ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgentEnd {
    /// Dial BUSY.
    Busy,
    /// Rang until the timeout (cause 19).
    NoAnswer,
    /// Dial CONGESTION.
    Congestion,
    /// The app hung the leg up (while ringing or after answering).
    App,
    /// The agent hung up.
    Agent,
    /// The caller that dialled it (a continued caller's `Dial()`) went away.
    Caller,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Ringing,
    Up,
    Ended,
}

/// One agent leg (a Local pair `;1`/`;2`, or a mapped endpoint without a visible `;2`).
#[derive(Debug)]
pub(crate) struct AgentRecord {
    pub(crate) id: String,
    pub(crate) phone_id: String,
    pub(crate) endpoint: String,
    /// `100@agent-sim` or the resource of a non-Local endpoint.
    pub(crate) dialstring: String,
    pub(crate) exten: String,
    pub(crate) behaviour: AgentBehaviour,
    pub(crate) timeout: Duration,
    /// The call this leg is for (its id in `appArgs`, else the only call up).
    pub(crate) call_id: Option<String>,
    /// Set when a continued caller's `Dial()` created the leg.
    pub(crate) dialled_by: Option<String>,
    pub(crate) phase: Phase,
    pub(crate) created: Instant,
    pub(crate) answered_at: Option<Instant>,
    pub(crate) speech: Arc<[i16]>,
    /// Which caller the agent heard, and since when.
    pub(crate) hear_log: HearLog<Option<String>>,
    pub(crate) ended: Option<AgentEnd>,
    pub(crate) ended_at: Option<Instant>,
}

/// What a test can read about an agent leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    /// The `;1` channel id (the originate's `channelId`).
    pub id: String,
    /// The `;2` channel id (the agent's phone; `otherChannelId`). A non-Local endpoint
    /// (`PJSIP/…`) has no `;2` channel: the id is reserved but no channel carries it.
    pub phone_id: String,
    /// The endpoint as originated (`Local/100@agent-sim`, `PJSIP/1001`).
    pub endpoint: String,
    /// The call it was for, if known.
    pub call_id: Option<String>,
    /// Whether the agent answered.
    pub answered: bool,
    /// `ringing`, `up` or `ended`.
    pub state: String,
    /// How it ended, once it has.
    pub ended: Option<AgentEnd>,
    /// Created by a continued caller's `Dial()` (not by the app).
    pub dialled_by_dialplan: bool,
}

impl AgentRecord {
    pub(crate) fn view(&self) -> AgentView {
        AgentView {
            id: self.id.clone(),
            phone_id: self.phone_id.clone(),
            endpoint: self.endpoint.clone(),
            call_id: self.call_id.clone(),
            answered: self.answered_at.is_some(),
            state: match self.phase {
                Phase::Ringing => "ringing",
                Phase::Up => "up",
                Phase::Ended => "ended",
            }
            .to_owned(),
            ended: self.ended,
            dialled_by_dialplan: self.dialled_by.is_some(),
        }
    }
}

/// The parameters of `POST /channels`.
#[derive(Debug, Default)]
pub(crate) struct OriginateParams {
    pub(crate) endpoint: Option<String>,
    pub(crate) app: Option<String>,
    pub(crate) app_args: Option<String>,
    pub(crate) extension: Option<String>,
    pub(crate) channel_id: Option<String>,
    pub(crate) other_channel_id: Option<String>,
    pub(crate) caller_id: Option<String>,
    pub(crate) timeout: Option<String>,
}

/// `"Name" <number>` or `number`.
fn parse_caller_id(s: &str) -> Party {
    let s = s.trim();
    if let (Some(open), Some(close)) = (s.rfind('<'), s.rfind('>'))
        && open < close
    {
        return Party {
            name: s[..open].trim().trim_matches('"').to_owned(),
            number: s[open + 1..close].trim().to_owned(),
        };
    }
    Party {
        name: String::new(),
        number: s.to_owned(),
    }
}

/// `Local/100@agent-sim/n` → (`Local/100@agent-sim`, context, exten, dialstring).
fn split_endpoint(endpoint: &str) -> Option<(String, String, String, String)> {
    let (tech, resource) = endpoint.split_once('/')?;
    if tech.is_empty() || resource.is_empty() {
        return None;
    }
    if tech.eq_ignore_ascii_case("local") {
        let resource = resource.split('/').next().unwrap_or(resource);
        let (exten, context) = resource.split_once('@').unwrap_or((resource, "default"));
        return Some((
            format!("Local/{exten}@{context}"),
            context.to_owned(),
            exten.to_owned(),
            format!("{exten}@{context}"),
        ));
    }
    Some((
        format!("{tech}/{resource}"),
        String::new(),
        resource.to_owned(),
        resource.to_owned(),
    ))
}

impl SimState {
    fn agent_behaviour(&self, endpoint: &str) -> Option<AgentBehaviour> {
        self.agent_map.get(endpoint).cloned()
    }

    /// The call an agent leg is for: one whose id is in `appArgs`, else the only call up.
    fn link_call(&self, args: &[String]) -> Option<String> {
        let live: Vec<&String> = self
            .calls
            .values()
            .filter(|c| matches!(*c.status.borrow(), CallStatus::Up))
            .map(|c| &c.id)
            .collect();
        if let Some(id) = args.iter().find(|a| live.contains(a)) {
            return Some(id.clone());
        }
        match live.as_slice() {
            [only] => Some((*only).clone()),
            _ => None,
        }
    }

    /// `POST /channels` with `app`: an agent leg into the app. Answers 200 with the `;1`
    /// channel (Down); everything else is events (FINDINGS 35, 39).
    pub(crate) fn originate(&mut self, p: OriginateParams) -> AriResult<Value> {
        let endpoint = p
            .endpoint
            .filter(|e| !e.is_empty())
            .ok_or_else(|| AriFailure::bad_request("Endpoint must be specified"))?;
        let app = p.app.filter(|a| !a.is_empty());
        if app.is_none() && p.extension.as_deref().is_none_or(str::is_empty) {
            return Err(AriFailure::bad_request(
                "Application or extension must be specified",
            ));
        }
        let (endpoint, context, exten, dialstring) = split_endpoint(&endpoint)
            .ok_or_else(|| AriFailure::bad_request("Invalid endpoint specified"))?;
        let allocation_failed = || AriFailure {
            status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            body: json!({ "error": "Allocation failed" }),
        };
        // Originating a channel into dialplan (no app) is how the recordings placed their
        // callers; the simulator places callers with `place_call` instead.
        let app = app.ok_or_else(allocation_failed)?;
        let behaviour = self
            .agent_behaviour(&endpoint)
            .ok_or_else(allocation_failed)?;
        for id in [&p.channel_id, &p.other_channel_id].into_iter().flatten() {
            if self.channels.contains_key(id) {
                return Err(AriFailure::new(
                    axum::http::StatusCode::CONFLICT,
                    "Channel with given unique ID already exists",
                ));
            }
        }
        let timeout = p
            .timeout
            .and_then(|t| t.trim().parse::<i64>().ok())
            .filter(|t| *t > 0)
            .map_or(Duration::from_secs(30), |t| Duration::from_secs(t as u64));
        let args: Vec<String> = p
            .app_args
            .filter(|a| !a.is_empty())
            .map(|a| a.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let caller = parse_caller_id(p.caller_id.as_deref().unwrap_or(""));
        let id = match p.channel_id.filter(|c| !c.is_empty()) {
            Some(c) => c,
            None => self.next_unique_id(),
        };
        let phone_id = match p.other_channel_id.filter(|c| !c.is_empty()) {
            Some(c) => c,
            None => self.next_unique_id(),
        };
        let call_id = self.link_call(&args);
        let app_data = std::iter::once(app.clone())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(",");
        self.create_agent(AgentSetup {
            id: id.clone(),
            phone_id,
            endpoint,
            context,
            exten,
            dialstring,
            behaviour,
            timeout,
            caller,
            call_id,
            dialled_by: None,
            stasis: Some((app, app_data, args)),
        });
        let body = self
            .channels
            .get(&id)
            .map(ari::channel)
            .unwrap_or(Value::Null);
        self.run_agent_start(&id);
        Ok(body)
    }

    /// Creates the two legs (no events yet) and the record.
    pub(crate) fn create_agent(&mut self, s: AgentSetup) {
        let local = self.next_local_seq();
        let is_local = s.endpoint.starts_with("Local/");
        let base = format!("{}-{local:08x}", s.endpoint);
        let now = ari_timestamp();
        let (leg_name, phone_name) = if is_local {
            (format!("{base};1"), format!("{base};2"))
        } else {
            (base.clone(), format!("{base};phone"))
        };
        let dialled = s.dialled_by.is_some();
        let leg = Channel {
            id: s.id.clone(),
            name: leg_name,
            state: if dialled { "Up" } else { "Down" },
            moh: None,
            caller: if dialled {
                Party {
                    name: String::new(),
                    number: s.exten.clone(),
                }
            } else {
                s.caller.clone()
            },
            connected: s.caller.clone(),
            dialplan: Dialplan {
                context: s.context.clone(),
                // A dialled leg shows its extension until it answers, then "" (recorded).
                exten: s.exten.clone(),
                priority: 1,
                app_name: if dialled { "AppDial" } else { "AppDial2" }.to_owned(),
                app_data: "(Outgoing Line)".to_owned(),
            },
            creationtime: now.clone(),
            order: self.next_order(),
            stasis_app: None,
            bridge: None,
            vars: BTreeMap::new(),
            kind: ChannelKind::AgentLeg {
                agent_id: s.id.clone(),
            },
        };
        let phone = Channel {
            id: s.phone_id.clone(),
            name: phone_name,
            state: if dialled { "Up" } else { "Ring" },
            moh: None,
            caller: s.caller.clone(),
            connected: if dialled {
                Party {
                    name: String::new(),
                    number: s.exten.clone(),
                }
            } else {
                s.caller.clone()
            },
            dialplan: Dialplan {
                context: s.context.clone(),
                exten: s.exten.clone(),
                priority: 1,
                app_name: String::new(),
                app_data: String::new(),
            },
            creationtime: now,
            order: self.next_order(),
            stasis_app: None,
            bridge: None,
            vars: BTreeMap::new(),
            kind: ChannelKind::AgentPhone {
                agent_id: s.id.clone(),
            },
        };
        self.channels.insert(s.id.clone(), leg);
        if is_local {
            self.channels.insert(s.phone_id.clone(), phone);
        }
        if !dialled {
            self.subscriptions.insert(s.id.clone());
            if is_local {
                self.subscriptions.insert(s.phone_id.clone());
            }
        }
        let speech = match &s.behaviour {
            AgentBehaviour::Answer {
                speech: Some(sp), ..
            } => sp.clone(),
            _ => default_agent_speech(),
        };
        let rec = AgentRecord {
            id: s.id.clone(),
            phone_id: s.phone_id,
            endpoint: s.endpoint,
            dialstring: s.dialstring,
            exten: s.exten,
            behaviour: s.behaviour,
            timeout: s.timeout,
            call_id: s.call_id,
            dialled_by: s.dialled_by,
            phase: Phase::Ringing,
            created: Instant::now(),
            answered_at: None,
            speech,
            hear_log: HearLog::default(),
            ended: None,
            ended_at: None,
        };
        if let Some((app, app_data, args)) = s.stasis {
            self.pending_stasis
                .insert(rec.id.clone(), (app, app_data, args));
        }
        self.agents.insert(rec.id.clone(), rec);
    }

    fn agent(&self, id: &str) -> Option<&AgentRecord> {
        self.agents.get(id)
    }

    fn set_dialplan(
        &mut self,
        id: &str,
        exten: Option<&str>,
        priority: i64,
        app: &str,
        data: &str,
    ) {
        if let Some(c) = self.channels.get_mut(id) {
            if let Some(x) = exten {
                c.dialplan.exten = x.to_owned();
            }
            c.dialplan.priority = priority;
            c.dialplan.app_name = app.to_owned();
            c.dialplan.app_data = data.to_owned();
        }
    }

    /// `ChannelDialplan` on the agent's phone leg after moving it to `priority`/`app`.
    fn phone_step(
        &mut self,
        agent_id: &str,
        exten: Option<&str>,
        priority: i64,
        app: &str,
        data: &str,
    ) {
        let Some(phone) = self.agent(agent_id).map(|a| a.phone_id.clone()) else {
            return;
        };
        self.set_dialplan(&phone, exten, priority, app, data);
        self.emit_channel(
            "ChannelDialplan",
            &phone,
            json!({ "dialplan_app": app, "dialplan_app_data": data }),
        );
    }

    fn set_state(&mut self, id: &str, state: &'static str) {
        if let Some(c) = self.channels.get_mut(id) {
            c.state = state;
        }
    }

    fn agent_dial(&mut self, agent_id: &str, status: &str) {
        let Some(a) = self.agent(agent_id) else {
            return;
        };
        let (leg, dialstring) = (a.id.clone(), a.dialstring.clone());
        if !self.subscribed(&leg) {
            return;
        }
        let Some(c) = self.channels.get(&leg) else {
            return;
        };
        let peer = ari::channel(c);
        self.emit(
            "Dial",
            json!({ "dialstatus": status, "forward": "", "dialstring": dialstring, "peer": peer }),
        );
    }

    /// The originate's first events, then the behaviour's.
    fn run_agent_start(&mut self, agent_id: &str) {
        let Some(a) = self.agent(agent_id) else {
            return;
        };
        let (phone, behaviour, timeout, exten) = (
            a.phone_id.clone(),
            a.behaviour.clone(),
            a.timeout,
            a.exten.clone(),
        );
        let call_id = a.call_id.clone();
        self.emit_channel(
            "ChannelCallerId",
            &phone,
            json!({ "caller_presentation": 0, "caller_presentation_txt": "Presentation Allowed, Not Screened" }),
        );
        self.emit_channel("ChannelConnectedLine", &phone, json!({}));
        self.agent_dial(agent_id, "");
        let phone_name = self
            .channels
            .get(&phone)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let noop = format!("agent-sim {exten} {phone_name} {phone}");
        self.phone_step(agent_id, None, 1, "NoOp", &noop);
        let id = agent_id.to_owned();
        match behaviour {
            AgentBehaviour::Answer { ring, .. } if ring.is_zero() => {
                self.phone_step(agent_id, None, 2, "Answer", "");
                self.agent_answer(agent_id);
            }
            AgentBehaviour::Answer { ring, .. } => {
                self.start_ringing(agent_id, &format!("{}", ring.as_secs().max(1)));
                if let Some(call) = &call_id {
                    self.milestone(call, |m| m.agent_ringing = true);
                }
                if ring < timeout {
                    self.schedule(
                        ring,
                        TimerAction::AgentAnswer {
                            agent_id: id.clone(),
                        },
                    );
                }
                self.schedule(timeout, TimerAction::RingTimeout { agent_id: id });
            }
            AgentBehaviour::NoAnswer => {
                self.start_ringing(agent_id, "60");
                if let Some(call) = &call_id {
                    self.milestone(call, |m| m.agent_ringing = true);
                }
                self.schedule(timeout, TimerAction::RingTimeout { agent_id: id });
            }
            AgentBehaviour::Busy => self.agent_fails(agent_id, true),
            AgentBehaviour::Congestion => self.agent_fails(agent_id, false),
        }
    }

    fn start_ringing(&mut self, agent_id: &str, wait: &str) {
        let Some(leg) = self.agent(agent_id).map(|a| a.id.clone()) else {
            return;
        };
        self.phone_step(agent_id, None, 2, "Ringing", "");
        self.set_state(&leg, "Ringing");
        self.emit_channel("ChannelStateChange", &leg, json!({}));
        self.phone_step(agent_id, None, 3, "Wait", wait);
        self.agent_dial(agent_id, "RINGING");
    }

    /// Busy (causes 0 then 17 / 0) or congestion (0, 0 / 34), FINDINGS 39.
    fn agent_fails(&mut self, agent_id: &str, busy: bool) {
        let Some(a) = self.agent(agent_id) else {
            return;
        };
        let (leg, phone) = (a.id.clone(), a.phone_id.clone());
        let (app, status) = if busy {
            ("Busy", "BUSY")
        } else {
            ("Congestion", "CONGESTION")
        };
        self.phone_step(agent_id, None, 2, app, "5");
        self.set_state(&phone, "Busy");
        self.emit_channel("ChannelStateChange", &phone, json!({}));
        self.agent_dial(agent_id, status);
        self.emit_channel("ChannelHangupRequest", &phone, json!({ "cause": 0 }));
        let destroy_leg = |st: &mut SimState| {
            st.emit_channel(
                "ChannelDestroyed",
                &leg,
                json!({ "cause": 0, "cause_txt": "Unknown" }),
            );
        };
        if busy {
            self.emit_channel(
                "ChannelHangupRequest",
                &phone,
                json!({ "cause": 16, "soft": true }),
            );
            self.set_dialplan(&phone, None, 2, "", "");
            self.emit_channel(
                "ChannelDestroyed",
                &phone,
                json!({ "cause": 17, "cause_txt": "User busy" }),
            );
            destroy_leg(self);
        } else {
            destroy_leg(self);
            self.emit_channel(
                "ChannelHangupRequest",
                &phone,
                json!({ "cause": 16, "soft": true }),
            );
            self.set_dialplan(&phone, None, 2, "", "");
            self.emit_channel(
                "ChannelDestroyed",
                &phone,
                json!({ "cause": 34, "cause_txt": "Circuit/channel congestion" }),
            );
        }
        self.end_agent(
            agent_id,
            if busy {
                AgentEnd::Busy
            } else {
                AgentEnd::Congestion
            },
        );
    }

    /// The agent answers: both legs Up, Dial ANSWER, STASISSTATUS, StasisStart with the
    /// app args; the phone then runs MixMonitor and Playback (FINDINGS 35).
    pub(crate) fn agent_answer(&mut self, agent_id: &str) {
        let Some(a) = self.agent(agent_id) else {
            return;
        };
        if a.phase != Phase::Ringing {
            return;
        }
        if let Some(call_id) = a.dialled_by.clone() {
            return self.dial_answered(&call_id, agent_id);
        }
        let (leg, phone, ringing) = (a.id.clone(), a.phone_id.clone(), a.answered_at.is_none());
        let was_ringing = self
            .channels
            .get(&leg)
            .is_some_and(|c| c.state == "Ringing");
        if was_ringing && ringing {
            self.phone_step(agent_id, None, 4, "Goto", "agent-sim,100,1");
            let name = self
                .channels
                .get(&phone)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            self.phone_step(
                agent_id,
                Some("100"),
                1,
                "NoOp",
                &format!("agent-sim 100 {name} {phone}"),
            );
            self.phone_step(agent_id, Some("100"), 2, "Answer", "");
            self.set_state(&phone, "Up");
            self.emit_channel("ChannelStateChange", &phone, json!({}));
            self.set_state(&leg, "Up");
            self.emit_channel("ChannelStateChange", &leg, json!({}));
        } else {
            self.set_state(&leg, "Up");
            self.emit_channel("ChannelStateChange", &leg, json!({}));
            self.set_state(&phone, "Up");
            self.emit_channel("ChannelStateChange", &phone, json!({}));
        }
        self.agent_dial(agent_id, "ANSWER");
        let now = Instant::now();
        let mut call_id = None;
        let mut after = None;
        if let Some(a) = self.agents.get_mut(agent_id) {
            a.phase = Phase::Up;
            a.answered_at = Some(now);
            call_id = a.call_id.clone();
            if let AgentBehaviour::Answer { after_speech, .. } = &a.behaviour {
                after = Some((a.speech.len() as u64 / 8, *after_speech));
            }
        }
        if let Some((app, app_data, args)) = self.pending_stasis.remove(agent_id) {
            if let Some(c) = self.channels.get_mut(&leg) {
                c.dialplan.app_name = "Stasis".to_owned();
                c.dialplan.app_data = app_data;
                c.stasis_app = Some(app);
            }
            self.set_var_with_event(&leg, "STASISSTATUS", "");
            self.emit_channel("StasisStart", &leg, json!({ "args": args }));
        }
        if let Some(call) = &call_id {
            self.milestone(call, |m| {
                m.agent_ringing = true;
                m.agent_answered = true;
            });
        }
        let mix = format!(
            "/tmp/ast-agent-both-{phone}.wav,r(/tmp/ast-agent-heard-{phone}.wav)t(/tmp/ast-agent-said-{phone}.wav)"
        );
        self.phone_step(agent_id, None, 3, "MixMonitor", &mix);
        self.set_var_with_event(
            &phone,
            "MIXMONITOR_FILENAME",
            &format!("/tmp/ast-agent-both-{phone}.wav"),
        );
        self.phone_step(agent_id, None, 4, "Playback", "custom/vca-agent-speech");
        if let Some((speech_ms, _)) = after {
            self.schedule(
                Duration::from_millis(speech_ms),
                TimerAction::AgentSpoke {
                    agent_id: agent_id.to_owned(),
                },
            );
        }
    }

    /// The prompt ended: `PLAYBACKSTATUS`, `Wait(n)`, and the hang-up timer.
    pub(crate) fn agent_spoke(&mut self, agent_id: &str) {
        let Some(a) = self.agent(agent_id) else {
            return;
        };
        if a.phase != Phase::Up {
            return;
        }
        let phone = a.phone_id.clone();
        let after = match &a.behaviour {
            AgentBehaviour::Answer { after_speech, .. } => *after_speech,
            _ => None,
        };
        self.set_var_with_event(&phone, "PLAYBACKSTATUS", "SUCCESS");
        let wait = after.map_or_else(|| "3600".to_owned(), |d| d.as_secs().to_string());
        self.phone_step(agent_id, None, 5, "Wait", &wait);
        if let Some(d) = after {
            self.schedule(
                d,
                TimerAction::AgentHangup {
                    agent_id: agent_id.to_owned(),
                },
            );
        }
    }

    /// The agent hangs up (FINDINGS 37): `;2` Hangup, `;2 {16, soft}`, `;1 {16}`,
    /// `;2` destroyed, then `;1` leaves the bridge and Stasis and is destroyed. The caller
    /// stays in the bridge.
    pub(crate) fn agent_hangs_up(&mut self, agent_id: &str) {
        let Some(a) = self.agent(agent_id) else {
            return;
        };
        if a.phase != Phase::Up {
            return;
        }
        let (leg, phone, dialled_by) = (a.id.clone(), a.phone_id.clone(), a.dialled_by.clone());
        self.phone_step(agent_id, None, 6, "Hangup", "");
        self.emit_channel(
            "ChannelHangupRequest",
            &phone,
            json!({ "cause": 16, "soft": true }),
        );
        self.emit_channel("ChannelHangupRequest", &leg, json!({ "cause": 16 }));
        self.set_dialplan(&phone, None, 6, "", "");
        self.emit_channel(
            "ChannelDestroyed",
            &phone,
            json!({ "cause": 16, "cause_txt": "Normal Clearing" }),
        );
        self.leg_leaves_stasis(&leg);
        self.end_agent(agent_id, AgentEnd::Agent);
        if let Some(call_id) = dialled_by {
            self.dial_ended_by_agent(&call_id);
        }
    }

    /// `;1` leaves its bridge and Stasis and is destroyed (cause 16).
    fn leg_leaves_stasis(&mut self, leg: &str) {
        self.leave_bridge(leg);
        let in_stasis = self
            .channels
            .get(leg)
            .is_some_and(|c| c.stasis_app.is_some());
        if in_stasis {
            self.emit_channel("StasisEnd", leg, json!({}));
            if let Some(c) = self.channels.get_mut(leg) {
                c.stasis_app = None;
            }
            self.set_var_with_event(leg, "STASISSTATUS", "SUCCESS");
        }
        self.set_dialplan(leg, None, 1, "AppDial2", "(Outgoing Line)");
        self.emit_channel(
            "ChannelDestroyed",
            leg,
            json!({ "cause": 16, "cause_txt": "Normal Clearing" }),
        );
    }

    /// The originate timeout with the agent still ringing (FINDINGS 39, 46): `;2 {19}`,
    /// `;1` destroyed 19, `;2 {16, soft}`, `;2` destroyed 19; no final Dial event.
    pub(crate) fn ring_timeout(&mut self, agent_id: &str) {
        let Some(a) = self.agent(agent_id) else {
            return;
        };
        if a.phase != Phase::Ringing {
            return;
        }
        let (leg, phone) = (a.id.clone(), a.phone_id.clone());
        let cause = json!({ "cause": 19, "cause_txt": "User alerting, no answer" });
        self.emit_channel("ChannelHangupRequest", &phone, json!({ "cause": 19 }));
        self.emit_channel("ChannelDestroyed", &leg, cause.clone());
        self.emit_channel(
            "ChannelHangupRequest",
            &phone,
            json!({ "cause": 16, "soft": true }),
        );
        if let Some(c) = self.channels.get_mut(&phone) {
            c.dialplan.app_name.clear();
            c.dialplan.app_data.clear();
        }
        self.emit_channel("ChannelDestroyed", &phone, cause);
        let dialled_by = self.agent(agent_id).and_then(|a| a.dialled_by.clone());
        self.end_agent(agent_id, AgentEnd::NoAnswer);
        if let Some(call_id) = dialled_by {
            self.dial_rang_out(&call_id);
        }
    }

    /// `DELETE` of an agent leg by the app: ringing (FINDINGS 46: `{32, soft}`, Dial
    /// NOANSWER, …) or answered (FINDINGS 47).
    pub(crate) fn app_hangs_up_agent(&mut self, agent_id: &str) {
        let Some(a) = self.agent(agent_id) else {
            return;
        };
        let (leg, phone, phase) = (a.id.clone(), a.phone_id.clone(), a.phase);
        let normal = json!({ "cause": 16, "cause_txt": "Normal Clearing" });
        self.emit_channel(
            "ChannelHangupRequest",
            &leg,
            json!({ "cause": 32, "soft": true }),
        );
        match phase {
            Phase::Ringing => {
                self.agent_dial(agent_id, "NOANSWER");
                self.emit_channel("ChannelHangupRequest", &phone, json!({ "cause": 16 }));
                self.emit_channel("ChannelDestroyed", &leg, normal.clone());
            }
            Phase::Up => {
                self.leave_bridge(&leg);
                let in_stasis = self
                    .channels
                    .get(&leg)
                    .is_some_and(|c| c.stasis_app.is_some());
                if in_stasis {
                    self.emit_channel("StasisEnd", &leg, json!({}));
                    if let Some(c) = self.channels.get_mut(&leg) {
                        c.stasis_app = None;
                    }
                    self.set_var_with_event(&leg, "STASISSTATUS", "SUCCESS");
                }
                self.emit_channel("ChannelHangupRequest", &phone, json!({ "cause": 16 }));
                self.set_dialplan(&leg, None, 1, "AppDial2", "(Outgoing Line)");
                self.emit_channel("ChannelDestroyed", &leg, normal.clone());
            }
            Phase::Ended => return,
        }
        self.emit_channel(
            "ChannelHangupRequest",
            &phone,
            json!({ "cause": 16, "soft": true }),
        );
        if let Some(c) = self.channels.get_mut(&phone) {
            c.dialplan.app_name.clear();
            c.dialplan.app_data.clear();
        }
        self.emit_channel("ChannelDestroyed", &phone, normal);
        let dialled_by = self.agent(agent_id).and_then(|a| a.dialled_by.clone());
        self.end_agent(agent_id, AgentEnd::App);
        if let Some(call_id) = dialled_by {
            self.dial_ended_by_agent(&call_id);
        }
    }

    /// The leg is over: its channels go, the record stays.
    pub(crate) fn end_agent(&mut self, agent_id: &str, how: AgentEnd) {
        let Some(a) = self.agents.get_mut(agent_id) else {
            return;
        };
        if a.phase == Phase::Ended {
            return;
        }
        a.phase = Phase::Ended;
        a.ended.get_or_insert(how);
        let now = Instant::now();
        a.ended_at = Some(now);
        a.hear_log.push(now, None);
        let (leg, phone) = (a.id.clone(), a.phone_id.clone());
        self.pending_stasis.remove(agent_id);
        self.leave_bridge(&leg);
        self.destroy_channel(&leg);
        self.destroy_channel(&phone);
    }

    /// The agent a channel id belongs to (either leg).
    pub(crate) fn agent_of_channel(&self, channel_id: &str) -> Option<String> {
        match self.channels.get(channel_id).map(|c| &c.kind) {
            Some(ChannelKind::AgentLeg { agent_id } | ChannelKind::AgentPhone { agent_id }) => {
                Some(agent_id.clone())
            }
            _ => None,
        }
    }
}

/// Everything [`SimState::create_agent`] needs.
pub(crate) struct AgentSetup {
    pub(crate) id: String,
    pub(crate) phone_id: String,
    pub(crate) endpoint: String,
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) dialstring: String,
    pub(crate) behaviour: AgentBehaviour,
    pub(crate) timeout: Duration,
    pub(crate) caller: Party,
    pub(crate) call_id: Option<String>,
    pub(crate) dialled_by: Option<String>,
    /// Originated into the app: app name, `Stasis` app data, args.
    pub(crate) stasis: Option<(String, String, Vec<String>)>,
}
