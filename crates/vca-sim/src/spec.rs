//! What a simulated call does (number, caller, audio, hangup timing) and how it ended.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What `StasisStart.args` carries for a placed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgsMode {
    /// `[DID, caller]`, from our shipped dialplan `Stasis(vca-bridge,${EXTEN},${CALLERID(num)})`.
    DidAndCaller,
    /// `[]`, from a bare `Stasis(vca-bridge)` as in the recordings.
    Empty,
}

/// One piece of what the caller says.
#[derive(Debug, Clone)]
pub enum AudioPart {
    /// 8 kHz 16-bit samples, sent as paced G.711.
    Speech(Arc<[i16]>),
    /// A pause: silence frames with `transmit_silence`, no packets without it.
    Pause(Duration),
}

/// When the simulated caller hangs up by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupWhen {
    /// Never: the app (or [`crate::SimHandle::hangup_caller`]) ends the call.
    Never,
    /// This long after the call entered Stasis.
    After(Duration),
    /// This long after the caller's audio has been sent completely.
    AfterAudio(Duration),
    /// This long after something happened in the call (an agent leg rings, …).
    On(Trigger, Duration),
}

/// Something that happens during a transfer, for [`HangupWhen::On`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Music on hold started on the caller.
    MohStarted,
    /// An agent leg for this call rings (or is being dialled). An agent leg belongs to the
    /// call whose id is in its `appArgs`, else to the only call up.
    AgentRinging,
    /// That agent answered (its `StasisStart`).
    AgentAnswered,
    /// The caller is in one bridge with an agent.
    BridgedWithAgent,
    /// The caller left Stasis through `continue`.
    Continued,
}

/// What has happened in a call so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestones {
    /// Music on hold has played on the caller.
    pub moh_started: bool,
    /// An agent leg for the call has rung.
    pub agent_ringing: bool,
    /// An agent leg for the call answered.
    pub agent_answered: bool,
    /// The caller was bridged with an agent.
    pub bridged_with_agent: bool,
    /// The caller was continued into the dialplan.
    pub continued: bool,
}

impl Milestones {
    /// Whether `t` has happened.
    pub fn reached(&self, t: Trigger) -> bool {
        match t {
            Trigger::MohStarted => self.moh_started,
            Trigger::AgentRinging => self.agent_ringing,
            Trigger::AgentAnswered => self.agent_answered,
            Trigger::BridgedWithAgent => self.bridged_with_agent,
            Trigger::Continued => self.continued,
        }
    }
}

/// A key the simulated caller presses by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPress {
    /// When the digit starts, counted from the call entering Stasis.
    pub at: Duration,
    /// `0-9`, `*`, `#`, `A-D`.
    pub digit: char,
    /// How long it is held (the `duration_ms` of `ChannelDtmfReceived`).
    pub duration_ms: u32,
}

/// How an agent endpoint behaves when the app originates a leg to it (extensions.conf
/// `agent-sim`, FINDINGS 35-39).
#[derive(Debug, Clone, PartialEq)]
pub enum AgentBehaviour {
    /// Rings for `ring` (zero: answers at once, as `100`; 3 s: `ring3`), answers, says
    /// `speech` (`None`: the simulator's agent prompt, a 4.19 s 850 Hz tone), then stays
    /// `after_speech` (`None`: until the app or the caller ends it) and hangs up.
    Answer {
        /// Ringing time before answering.
        ring: Duration,
        /// What the agent says first (8 kHz samples).
        speech: Option<Arc<[i16]>>,
        /// How long the agent stays after speaking before hanging up.
        after_speech: Option<Duration>,
    },
    /// `Busy(5)`: Dial BUSY at once, causes 0 / 17.
    Busy,
    /// `Ringing`, `Wait(60)`: rings until the originate timeout (cause 19).
    NoAnswer,
    /// `Congestion(5)`: Dial CONGESTION at once, causes 0 / 34.
    Congestion,
}

impl AgentBehaviour {
    /// `agent-sim,100`: answers at once, prompt, 20 s, hangs up.
    pub fn answers() -> Self {
        AgentBehaviour::Answer {
            ring: Duration::ZERO,
            speech: None,
            after_speech: Some(Duration::from_secs(20)),
        }
    }

    /// Parses `answer[:RING_MS[:AFTER_MS|never]]`, `busy`, `noanswer`, `congestion`
    /// (`vca-sim serve --agent` and `/sim/agents`).
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split(':');
        let kind = parts.next()?.trim();
        Some(match kind {
            "busy" => AgentBehaviour::Busy,
            "noanswer" | "no_answer" => AgentBehaviour::NoAnswer,
            "congestion" => AgentBehaviour::Congestion,
            "answer" => {
                let ring = match parts.next() {
                    Some(ms) => Duration::from_millis(ms.trim().parse().ok()?),
                    None => Duration::ZERO,
                };
                let after_speech = match parts.next().map(str::trim) {
                    None => Some(Duration::from_secs(20)),
                    Some("never") => None,
                    Some(ms) => Some(Duration::from_millis(ms.parse().ok()?)),
                };
                AgentBehaviour::Answer {
                    ring,
                    speech: None,
                    after_speech,
                }
            }
            _ => return None,
        })
    }
}

/// A call to place with [`crate::SimHandle::place_call`].
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// The dialled number (`dialplan.exten`), e.g. `+15559876543`.
    pub did: String,
    /// The calling number (`caller.number`), e.g. `+15551234567`.
    pub caller: String,
    /// What the caller says, in order, once bridged with an External Media channel.
    pub audio: Vec<AudioPart>,
    /// Send silence frames whenever the caller is not speaking (asterisk.conf
    /// `transmit_silence=yes`, as in the main recording).
    pub transmit_silence: bool,
    /// When the caller hangs up by itself.
    pub hangup: HangupWhen,
    /// `StasisStart.args`; `None` uses the simulator's default.
    pub args: Option<ArgsMode>,
    /// Where to write what the caller heard (8 kHz mono 16-bit WAV) when the media ends.
    pub record_to: Option<PathBuf>,
    /// Keys the caller presses by itself, at times counted from entering Stasis.
    pub keys: Vec<KeyPress>,
    /// The caller-sim extension in the channel names (`Local/<exten>@caller-sim-…;1`),
    /// `s` by default; the recordings use `press0`, `keys`, `hangup6`….
    pub caller_exten: String,
}

impl CallSpec {
    /// A call from `caller` to `did` that says nothing and never hangs up by itself.
    pub fn new(did: impl Into<String>, caller: impl Into<String>) -> Self {
        CallSpec {
            did: did.into(),
            caller: caller.into(),
            audio: Vec::new(),
            transmit_silence: true,
            hangup: HangupWhen::Never,
            args: None,
            record_to: None,
            keys: Vec::new(),
            caller_exten: "s".to_owned(),
        }
    }

    /// Names the caller's channels `Local/<exten>@caller-sim-…`.
    pub fn caller_exten(mut self, exten: impl Into<String>) -> Self {
        self.caller_exten = exten.into();
        self
    }

    /// The caller presses `digits` starting `at` after entering Stasis, each held
    /// `duration_ms`, 250 ms apart (SendDTMF's spacing); `w` pauses 0.5 s and `W` 1 s as in
    /// `SendDTMF(1w2W*WW#)`. Other characters are ignored.
    pub fn keys(mut self, at: Duration, digits: &str, duration_ms: u32) -> Self {
        let mut t = at;
        let mut first = true;
        for c in digits.chars() {
            match c {
                'w' => t += Duration::from_millis(500),
                'W' => t += Duration::from_secs(1),
                '0'..='9' | '*' | '#' | 'A'..='D' => {
                    if !first {
                        t += Duration::from_millis(250);
                    }
                    first = false;
                    self.keys.push(KeyPress {
                        at: t,
                        digit: c,
                        duration_ms,
                    });
                    t += Duration::from_millis(u64::from(duration_ms));
                }
                _ => {}
            }
        }
        self
    }

    /// Adds speech (8 kHz 16-bit samples).
    pub fn speech(mut self, samples: Vec<i16>) -> Self {
        self.audio.push(AudioPart::Speech(samples.into()));
        self
    }

    /// Adds a pause.
    pub fn pause(mut self, d: Duration) -> Self {
        self.audio.push(AudioPart::Pause(d));
        self
    }

    /// Sets the hangup policy.
    pub fn hangup(mut self, when: HangupWhen) -> Self {
        self.hangup = when;
        self
    }

    /// Sets `transmit_silence`.
    pub fn transmit_silence(mut self, on: bool) -> Self {
        self.transmit_silence = on;
        self
    }

    /// Sets the Stasis args mode.
    pub fn args(mut self, mode: ArgsMode) -> Self {
        self.args = Some(mode);
        self
    }

    /// Writes what the caller heard to this WAV when the media ends.
    pub fn record_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.record_to = Some(path.into());
        self
    }
}

/// Who ended a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
#[non_exhaustive]
pub enum EndedBy {
    /// The simulated caller hung up (cause 16).
    Caller,
    /// The app sent `DELETE /channels/{id}` with this reason / reason_code, if any.
    App {
        /// `reason` query parameter.
        reason: Option<String>,
        /// `reason_code` query parameter.
        reason_code: Option<i32>,
    },
    /// The app sent `POST /channels/{id}/continue`; the dialplan then hung up.
    AppContinued,
    /// Asterisk restarted with the call up.
    Restart,
    /// The Stasis app did not exist when the call arrived; the dialplan hung up (cause 16).
    NoApp,
}

/// The final state of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    /// Who ended it.
    pub ended_by: EndedBy,
    /// Whether the call ever entered Stasis (false: it failed at once).
    pub entered_stasis: bool,
}

/// Where a call is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum CallStatus {
    /// In Stasis, caller still there.
    Up,
    /// Over.
    Ended(CallOutcome),
}

/// How an Asterisk restart unfolds (FINDINGS 18).
#[derive(Debug, Clone, Copy)]
pub struct RestartSpec {
    /// After the hangups, how long the WebSocket stays open before it is dropped.
    pub drop_after: Duration,
    /// How long connections are refused (process restarting).
    pub refused_for: Duration,
    /// Then how long HTTP answers 404 (HTTP up, ARI not loaded yet).
    pub not_ready_for: Duration,
}

impl Default for RestartSpec {
    fn default() -> Self {
        RestartSpec {
            drop_after: Duration::from_millis(50),
            refused_for: Duration::from_millis(300),
            not_ready_for: Duration::from_millis(200),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_senddtmf_spacing() {
        let s = CallSpec::new("1", "2").keys(Duration::from_millis(2000), "1w2W*WW#", 100);
        let at: Vec<(char, u64)> = s
            .keys
            .iter()
            .map(|k| (k.digit, k.at.as_millis() as u64))
            .collect();
        // keys.jsonl: 1, 2, *, # ended 0.852, 1.352 and 2.354 s apart.
        assert_eq!(at, [('1', 2000), ('2', 2850), ('*', 4200), ('#', 6550)]);
    }

    #[test]
    fn behaviours_parse() {
        assert_eq!(AgentBehaviour::parse("busy"), Some(AgentBehaviour::Busy));
        assert_eq!(
            AgentBehaviour::parse("noanswer"),
            Some(AgentBehaviour::NoAnswer)
        );
        assert_eq!(
            AgentBehaviour::parse("answer:3000:never"),
            Some(AgentBehaviour::Answer {
                ring: Duration::from_secs(3),
                speech: None,
                after_speech: None
            })
        );
        assert_eq!(
            AgentBehaviour::parse("answer"),
            Some(AgentBehaviour::answers())
        );
        assert_eq!(AgentBehaviour::parse("answer:x"), None);
        assert_eq!(AgentBehaviour::parse("maybe"), None);
    }
}
