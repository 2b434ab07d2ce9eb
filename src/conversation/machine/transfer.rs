//! Handing the caller to a person: a transfer is a phase of the conversation. The target's
//! announce is spoken first (the caller never hears silence: announce, then ringback or hold
//! music from the driver); then [`Action::Transfer`] asks the driver to hand over. If that
//! fails (busy, no answer, a missing extension), the "nobody is available" line is spoken
//! and the conversation goes on; if it succeeds, the conversation is over.

use crate::language::Line;
use std::time::Instant;

use super::{Conversation, Phase};
use crate::conversation::action::Action;
use crate::conversation::reply::Purpose;

impl Conversation {
    /// Starts a transfer to `target` (asked for by `via`: `keypad` or `model`). An unknown
    /// target is a failed transfer.
    pub(super) fn start_transfer(&mut self, now: Instant, target: &str, via: &'static str) {
        if self.reply.is_some() {
            self.stop_reply(now, None);
        }
        self.keypad = None;
        self.tool_round = None;
        self.actions.push_back(Action::Event {
            kind: "transfer_requested",
            details: serde_json::json!({ "target": target, "via": via }),
        });
        let Some(info) = self.profile.target(target).cloned() else {
            self.actions.push_back(Action::Event {
                kind: "transfer_failed",
                details: serde_json::json!({ "target": target, "reason": "failed",
                                             "detail": "no such target" }),
            });
            self.speak_nobody_available(now);
            return;
        };
        self.phase = Phase::Transferring {
            target: info.name.clone(),
            handed_over: false,
        };
        let announce = info
            .announce
            .unwrap_or_else(|| self.line(Line::TransferAnnounce));
        // An empty announce hands over at once (the reply completes with nothing to say).
        self.speak_fixed(now, &announce, Purpose::Announce);
    }

    /// The announce has been said: the driver hands the caller over now.
    pub(super) fn hand_over(&mut self) {
        if let Phase::Transferring {
            target,
            handed_over,
        } = &mut self.phase
            && !*handed_over
        {
            *handed_over = true;
            let target = target.clone();
            self.actions.push_back(Action::Transfer { target });
        }
    }

    /// The transfer could not be made (`reason`: `no_such_extension`, `busy`, `no_answer`,
    /// `congestion`, `failed`); the driver has taken the hold music off and records the
    /// reason. The conversation goes on.
    pub fn handle_transfer_failed(&mut self, now: Instant, _reason: &str) {
        if !matches!(self.phase, Phase::Transferring { .. }) {
            return;
        }
        self.phase = Phase::Talking;
        self.speak_nobody_available(now);
    }

    /// The caller was handed over: the conversation is over (the driver supervises the
    /// rest of the call).
    pub fn handle_transfer_done(&mut self, _now: Instant) {
        if matches!(self.phase, Phase::Transferring { .. }) {
            self.phase = Phase::Closed;
            self.waiting.clear();
        }
    }

    /// Whether a transfer is under way (announce or hand-over).
    pub fn is_transferring(&self) -> bool {
        matches!(self.phase, Phase::Transferring { .. })
    }

    fn speak_nobody_available(&mut self, now: Instant) {
        let line = self.line(Line::NobodyAvailable);
        self.speak_fixed(now, &line, Purpose::Fallback);
    }
}
