//! What the model asks to happen later: an agent answering after its ring time, its prompt
//! ending, its hang-up, an originate timing out, a dialplan `Playback` ending. The model
//! only queues [`Timer`]s (it never sleeps); the scheduler task in `core.rs` fires each at
//! its instant through [`SimState::fire`]. Every action re-checks the state when it fires,
//! so one that no longer applies (the leg is gone) does nothing.

use std::time::Instant;

use crate::model::SimState;

/// One scheduled action.
#[derive(Debug)]
pub(crate) struct Timer {
    pub(crate) at: Instant,
    pub(crate) action: TimerAction,
}

/// The actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimerAction {
    /// A ringing agent answers.
    AgentAnswer { agent_id: String },
    /// The agent's prompt ended (`PLAYBACKSTATUS`, `Wait`).
    AgentSpoke { agent_id: String },
    /// The agent hangs up (its extension's `Hangup()`).
    AgentHangup { agent_id: String },
    /// The originate (or `Dial`) timeout passed with the agent still ringing.
    RingTimeout { agent_id: String },
    /// A continued caller's `Playback` ended.
    PlaybackDone { call_id: String },
    /// The caller presses a key (`index` into the call's keys).
    KeyDown { call_id: String, index: usize },
    /// The key is released: `ChannelDtmfReceived`.
    KeyUp { call_id: String, index: usize },
}

impl SimState {
    /// Runs a scheduled action.
    pub(crate) fn fire(&mut self, action: TimerAction) {
        match action {
            TimerAction::AgentAnswer { agent_id } => self.agent_answer(&agent_id),
            TimerAction::AgentSpoke { agent_id } => self.agent_spoke(&agent_id),
            TimerAction::AgentHangup { agent_id } => self.agent_hangs_up(&agent_id),
            TimerAction::RingTimeout { agent_id } => self.ring_timeout(&agent_id),
            TimerAction::PlaybackDone { call_id } => self.playback_done(&call_id),
            TimerAction::KeyDown { call_id, index } => self.key_down(&call_id, index),
            TimerAction::KeyUp { call_id, index } => self.key_up(&call_id, index),
        }
        self.refresh_hearing();
    }

    fn key_down(&mut self, call_id: &str, index: usize) {
        let Some(k) = self
            .calls
            .get(call_id)
            .and_then(|c| c.keys.get(index))
            .copied()
        else {
            return;
        };
        if self.dtmf_begin(call_id, k.digit, k.duration_ms).is_ok() {
            self.schedule(
                std::time::Duration::from_millis(u64::from(k.duration_ms)),
                TimerAction::KeyUp {
                    call_id: call_id.to_owned(),
                    index,
                },
            );
        }
    }

    fn key_up(&mut self, call_id: &str, index: usize) {
        let Some(k) = self
            .calls
            .get(call_id)
            .and_then(|c| c.keys.get(index))
            .copied()
        else {
            return;
        };
        let _ = self.dtmf_end(call_id, k.digit, k.duration_ms);
    }
}
