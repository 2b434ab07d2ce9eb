//! Tool rounds: the model's answer asked for tools. What it said before them is spoken; the
//! built-ins act here (`end_call`: goodbye; `transfer_call`: the transfer), the tenant's HTTP
//! tools go to the driver ([`Action::CallTool`]). When every result is in and the spoken
//! part has played, the exchange joins the history and the model answers again — at most
//! [`MAX_TOOL_ROUNDS`] rounds a turn, the last one offered no tools. A tool that takes longer
//! than [`FILLER_AFTER`] gets one filler line. Anything the caller does (speech, a key, a
//! hang-up) drops the round; late results are ignored.

use crate::language::Line;
use std::time::{Duration, Instant};

use super::{Conversation, GOODBYE_LIMIT, Phase};
use crate::conversation::action::Action;
use crate::conversation::profile::{END_CALL, TRANSFER_CALL};
use crate::conversation::reply::Purpose;
use crate::engines::llm::ToolCall;
use crate::store::EndReason;

/// Model rounds that may call tools in one caller turn.
pub const MAX_TOOL_ROUNDS: u8 = 3;
/// A tool that has not answered by then gets the filler line.
pub const FILLER_AFTER: Duration = Duration::from_millis(800);

/// What a round ends in besides the model answering again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Terminal {
    EndCall,
    Transfer(String),
}

/// The tools the model called in one round.
#[derive(Debug)]
pub(super) struct ToolRound {
    /// Which model round of the turn asked for them.
    round: u8,
    calls: Vec<ToolCall>,
    /// Per call, its result once known.
    results: Vec<Option<String>>,
    /// What the agent said before calling them, once it has been said.
    spoken: Option<String>,
    asked_at: Instant,
    filler_said: bool,
    terminal: Option<Terminal>,
}

impl ToolRound {
    /// The reply that called the tools has been said (or was empty).
    pub(super) fn said(&mut self, spoken: String) {
        self.spoken = Some(spoken);
    }

    /// When the filler line is due, if it still may be.
    pub(super) fn filler_at(&self) -> Option<Instant> {
        let waiting = self.results.iter().any(Option::is_none);
        (waiting && !self.filler_said && self.terminal.is_none())
            .then_some(self.asked_at + FILLER_AFTER)
    }
}

/// A short error result for the model, as JSON text: `{error, message}` like the HTTP
/// tools' failures.
fn error_result(error: &str, message: &str) -> String {
    serde_json::json!({ "error": error, "message": message }).to_string()
}

/// The `tool_called` event of a call decided here (a built-in or a name not offered): its
/// name, id, outcome and arguments, and `error`/`message` when it failed.
fn tool_called_event(call: &ToolCall, result: &str) -> Action {
    let parsed: serde_json::Value = serde_json::from_str(result).unwrap_or_default();
    let error = parsed.get("error").and_then(serde_json::Value::as_str);
    let arguments: serde_json::Value = serde_json::from_str(&call.arguments)
        .unwrap_or_else(|_| serde_json::Value::String(call.arguments.clone()));
    let mut details = serde_json::json!({
        "name": call.name, "tool_call_id": call.id, "ok": error.is_none(),
        "outcome": error.unwrap_or("ok"), "duration_ms": 0, "arguments": arguments,
    });
    if let Some(error) = error {
        details["error"] = serde_json::json!(error);
        details["message"] = parsed.get("message").cloned().unwrap_or_default();
    }
    Action::Event {
        kind: "tool_called",
        details,
    }
}

impl Conversation {
    /// The reply's text is complete and it called tools: run them.
    pub(super) fn begin_tool_round(&mut self, now: Instant) {
        let Some(reply) = self.reply.as_mut() else {
            return;
        };
        reply.deadline = None;
        let round_no = reply.round.max(1);
        let calls = reply.tool_calls.clone();
        let offered_http: Vec<String> = self
            .profile
            .tools
            .http
            .iter()
            .map(|t| t.name.clone())
            .collect();
        let mut round = ToolRound {
            round: round_no,
            results: vec![None; calls.len()],
            calls: calls.clone(),
            spoken: None,
            asked_at: now,
            filler_said: false,
            terminal: None,
        };
        for (i, call) in calls.iter().enumerate() {
            let result = match call.name.as_str() {
                END_CALL if self.profile.tools.end_call => {
                    round.terminal.get_or_insert(Terminal::EndCall);
                    Some(r#"{"ok":true}"#.to_string())
                }
                TRANSFER_CALL if self.profile.tools.transfer_call => {
                    match transfer_target(&call.arguments) {
                        Some(t) if self.profile.target(&t).is_some() => {
                            round.terminal.get_or_insert(Terminal::Transfer(t));
                            Some(r#"{"ok":true}"#.to_string())
                        }
                        Some(t) => Some(error_result(
                            "invalid_arguments",
                            &format!("no transfer target named {t:?}"),
                        )),
                        None => Some(error_result(
                            "invalid_arguments",
                            "give the target as {\"target\": \"<name>\"}",
                        )),
                    }
                }
                name if offered_http.iter().any(|n| n == name) => {
                    self.actions.push_back(Action::CallTool(call.clone()));
                    None
                }
                name => Some(error_result(
                    "unknown_tool",
                    &format!("there is no tool named {name:?}"),
                )),
            };
            if let Some(result) = &result {
                // HTTP tools report theirs when they answer (the driver's event).
                self.actions.push_back(tool_called_event(call, result));
            }
            if let Some(slot) = round.results.get_mut(i) {
                *slot = result;
            }
        }
        self.tool_round = Some(round);
        self.complete_reply_if_done(now);
    }

    /// The result of the tool call `id`: `content` goes back to the model as the tool
    /// message (a result, or an error it can talk about).
    pub fn handle_tool_result(&mut self, now: Instant, id: &str, content: &str) {
        let Some(round) = self.tool_round.as_mut() else {
            return;
        };
        let Some(i) = round.calls.iter().position(|c| c.id == id) else {
            return;
        };
        if let Some(slot) = round.results.get_mut(i).filter(|r| r.is_none()) {
            *slot = Some(content.to_string());
        }
        self.advance_tools(now);
    }

    /// The filler line, once, when a tool is slow and nothing is being said.
    pub(super) fn tools_timeout(&mut self, now: Instant) {
        let due = self
            .tool_round
            .as_ref()
            .and_then(ToolRound::filler_at)
            .is_some_and(|at| now >= at);
        if !due || !matches!(self.phase, Phase::Talking) {
            return;
        }
        if let Some(round) = self.tool_round.as_mut() {
            round.filler_said = true;
        }
        if self.reply.is_none() {
            let line = self.line(Line::ToolFiller);
            self.speak_fixed(now, &line, Purpose::Filler);
        }
    }

    /// Moves the round on once what was said has played and, for the model to answer again,
    /// every result is in.
    pub(super) fn advance_tools(&mut self, now: Instant) {
        if self.reply.is_some() || !matches!(self.phase, Phase::Talking) {
            return;
        }
        let Some(round) = self.tool_round.as_ref() else {
            return;
        };
        let Some(spoken) = round.spoken.clone() else {
            return;
        };
        if let Some(terminal) = round.terminal.clone() {
            self.tool_round = None;
            if !spoken.is_empty() {
                self.state
                    .history
                    .push(crate::conversation::history::Speaker::Agent, &spoken);
            }
            match terminal {
                Terminal::EndCall => self.say_goodbye(now, EndReason::AgentEnded, GOODBYE_LIMIT),
                Terminal::Transfer(target) => self.start_transfer(now, &target, "model"),
            }
            return;
        }
        if round.results.iter().any(Option::is_none) {
            return;
        }
        let Some(round) = self.tool_round.take() else {
            return;
        };
        let results: Vec<(String, String)> = round
            .calls
            .iter()
            .zip(round.results)
            .map(|(c, r)| (c.id.clone(), r.unwrap_or_default()))
            .collect();
        self.state
            .history
            .push_tool_exchange(&spoken, round.calls, &results);
        self.actions.push_back(Action::SaveState);
        let end_ms = self.ms_since_answer(now);
        self.start_answer(now, end_ms, now, round.round + 1);
    }
}

/// The `target` of `transfer_call`'s arguments.
fn transfer_target(arguments: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(arguments).ok()?;
    v.get("target")?.as_str().map(str::to_string)
}
