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
        }
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
