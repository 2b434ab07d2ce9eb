//! The caller's keypad: a key the profile maps acts at once (transfer, goodbye, say again);
//! other keys are collected — until `#` or two seconds without a key — and taken as the
//! caller's turn `[keypad: 1234]`. A key pressed while the agent speaks cuts it short, as
//! speech would.

use std::time::{Duration, Instant};

use super::{Conversation, GOODBYE_LIMIT, Phase, Recognition};
use crate::conversation::action::{Action, Observation, UtteranceId};
use crate::conversation::profile::KeyAction;
use crate::conversation::reply::Purpose;
use crate::store::EndReason;

/// Collected keys end after this long without another.
pub const KEYPAD_GAP: Duration = Duration::from_secs(2);
/// Keys collected into one turn at most (a longer run is cut there).
const MAX_DIGITS: usize = 32;

/// Keys being collected into a caller turn.
#[derive(Debug)]
pub(super) struct Keypad {
    digits: String,
    started_ms: u64,
    last_at: Instant,
}

impl Keypad {
    /// When the collection ends by itself.
    pub(super) fn deadline(&self) -> Instant {
        self.last_at + KEYPAD_GAP
    }
}

/// The text of a keypad turn, as stored and given to the model.
pub fn keypad_text(digits: &str) -> String {
    format!("[keypad: {digits}]")
}

impl Conversation {
    /// The caller pressed `digit` (`0`-`9`, `*`, `#`; others are ignored).
    pub fn handle_dtmf(&mut self, now: Instant, digit: char) {
        if !matches!(self.phase, Phase::Talking) || !matches!(digit, '0'..='9' | '*' | '#') {
            return;
        }
        if self.reply.is_some() {
            self.actions
                .push_back(Action::Observe(Observation::BargeIn));
            self.stop_reply(now, None);
        }
        self.tool_round = None;
        let now_ms = self.ms_since_answer(now);
        if let Some(keys) = self.keypad.as_mut() {
            if digit == '#' {
                self.finish_keypad(now);
            } else {
                keys.digits.push(digit);
                keys.last_at = now;
                if keys.digits.len() >= MAX_DIGITS {
                    self.finish_keypad(now);
                }
            }
            return;
        }
        if let Some(action) = self.profile.dtmf_map.get(&digit).cloned() {
            self.key_action(now, action);
            return;
        }
        if digit != '#' {
            self.keypad = Some(Keypad {
                digits: digit.to_string(),
                started_ms: now_ms,
                last_at: now,
            });
        }
    }

    fn key_action(&mut self, now: Instant, action: KeyAction) {
        match action {
            KeyAction::Transfer(target) => {
                self.actions
                    .push_back(Action::Observe(Observation::Key("transfer")));
                self.start_transfer(now, &target, "keypad");
            }
            KeyAction::Hangup => {
                self.actions
                    .push_back(Action::Observe(Observation::Key("hangup")));
                self.say_goodbye(now, EndReason::KeypadHangup, GOODBYE_LIMIT);
            }
            KeyAction::Repeat => {
                self.actions
                    .push_back(Action::Observe(Observation::Key("repeat")));
                if let Some(last) = self.state.history.last_agent_text().map(str::to_string) {
                    self.speak_fixed(now, &last, Purpose::Fallback);
                }
            }
        }
    }

    /// Ends the collection when its gap has passed.
    pub(super) fn keypad_timeout(&mut self, now: Instant) {
        if self.keypad.as_ref().is_some_and(|k| now >= k.deadline()) {
            self.finish_keypad(now);
        }
    }

    /// The collected keys become the caller's turn.
    fn finish_keypad(&mut self, now: Instant) {
        let Some(keys) = self.keypad.take() else {
            return;
        };
        if keys.digits.is_empty() {
            return;
        }
        let end_ms = self.ms_since_answer(now);
        let turn = Recognition {
            id: UtteranceId(0),
            start_ms: keys.started_ms,
            end_ms,
            heard_at: now,
        };
        let text = keypad_text(&keys.digits);
        self.take_caller_turn(now, &text, turn, true);
    }
}
