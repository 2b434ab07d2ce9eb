//! The conversation history sent to the language model, bounded by a character budget
//! (oldest turns go first, a tool exchange with the turn that called it).

use serde::{Deserialize, Serialize};

use crate::engines::llm::{ChatMessage, ToolCall};

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The person on the phone.
    Caller,
    /// The AI agent.
    Agent,
    /// The result of a tool the agent called (history only, never a transcript row).
    Tool,
}

impl Speaker {
    /// The word stored in `transcript_turns.speaker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Caller => "caller",
            Speaker::Agent => "agent",
            Speaker::Tool => "tool",
        }
    }
}

/// One turn of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
    /// An agent turn: the tools it called after saying `text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A tool turn: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Turn {
    /// The turn as a chat message.
    pub fn to_message(&self) -> ChatMessage {
        match self.speaker {
            Speaker::Caller => ChatMessage::user(self.text.clone()),
            Speaker::Agent if self.tool_calls.is_empty() => {
                ChatMessage::assistant(self.text.clone())
            }
            Speaker::Agent => {
                ChatMessage::assistant_calling(self.text.clone(), self.tool_calls.clone())
            }
            Speaker::Tool => ChatMessage::tool_result(
                self.tool_call_id.clone().unwrap_or_default(),
                self.text.clone(),
            ),
        }
    }

    fn chars(&self) -> usize {
        self.text.chars().count()
            + self
                .tool_calls
                .iter()
                .map(|c| c.name.len() + c.arguments.chars().count())
                .sum::<usize>()
    }
}

/// The history, never longer than its character budget.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    turns: Vec<Turn>,
    budget_chars: usize,
}

impl History {
    /// An empty history that keeps at most `budget_chars` characters of text.
    pub fn new(budget_chars: usize) -> Self {
        Self {
            turns: Vec::new(),
            budget_chars,
        }
    }

    /// Appends a turn (empty text is ignored) and drops the oldest turns over budget;
    /// the newest turn is always kept, cut to the budget if it alone exceeds it.
    pub fn push(&mut self, speaker: Speaker, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let text: String = text.chars().take(self.budget_chars.max(1)).collect();
        self.push_turn(Turn {
            speaker,
            text,
            tool_calls: Vec::new(),
            tool_call_id: None,
        });
    }

    /// Appends one tool exchange: the agent's turn that said `text` (possibly nothing) and
    /// called `calls`, then each call's result, in the order of `results`.
    pub fn push_tool_exchange(
        &mut self,
        text: &str,
        calls: Vec<ToolCall>,
        results: &[(String, String)],
    ) {
        self.turns.push(Turn {
            speaker: Speaker::Agent,
            text: text.trim().to_string(),
            tool_calls: calls,
            tool_call_id: None,
        });
        for (id, content) in results {
            self.turns.push(Turn {
                speaker: Speaker::Tool,
                text: content.clone(),
                tool_call_id: Some(id.clone()),
                tool_calls: Vec::new(),
            });
        }
        self.trim();
    }

    fn push_turn(&mut self, turn: Turn) {
        self.turns.push(turn);
        self.trim();
    }

    /// Drops the oldest turns over budget — a tool result never stays without the turn
    /// that called it — but keeps the newest turn (or exchange).
    fn trim(&mut self) {
        while self.chars() > self.budget_chars {
            let last_start = self
                .turns
                .iter()
                .rposition(|t| t.speaker != Speaker::Tool)
                .unwrap_or(0);
            if last_start == 0 {
                break;
            }
            self.turns.remove(0);
            while self
                .turns
                .first()
                .is_some_and(|t| t.speaker == Speaker::Tool)
            {
                self.turns.remove(0);
            }
        }
    }

    /// Total characters held.
    pub fn chars(&self) -> usize {
        self.turns.iter().map(Turn::chars).sum()
    }

    /// The agent's last spoken turn, if any.
    pub fn last_agent_text(&self) -> Option<&str> {
        self.turns
            .iter()
            .rev()
            .find(|t| t.speaker == Speaker::Agent && !t.text.is_empty())
            .map(|t| t.text.as_str())
    }

    /// The turns, oldest first.
    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// Sets the budget (after loading a saved history).
    pub fn set_budget(&mut self, budget_chars: usize) {
        self.budget_chars = budget_chars;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_drops_oldest_turns() {
        let mut h = History::new(20);
        h.push(Speaker::Agent, "Hello there!");
        h.push(Speaker::Caller, "hi");
        h.push(Speaker::Agent, "How can I help?");
        assert_eq!(h.turns().len(), 2);
        assert_eq!(h.turns()[0].text, "hi");
        assert!(h.chars() <= 20);
        h.push(
            Speaker::Caller,
            "a very long turn that alone exceeds the budget",
        );
        assert_eq!(h.turns().len(), 1);
        assert_eq!(h.chars(), 20);
        h.push(Speaker::Caller, "   ");
        assert_eq!(h.turns().len(), 1);
    }

    #[test]
    fn a_tool_exchange_leaves_the_budget_whole_never_as_an_orphaned_result() {
        let call = ToolCall {
            id: "c1".into(),
            name: "book_table".into(),
            arguments: "{}".into(),
        };
        let mut h = History::new(60);
        h.push(Speaker::Caller, "Book a table for two");
        h.push_tool_exchange("Checking.", vec![call], &[("c1".into(), "booked".into())]);
        assert_eq!(h.turns().len(), 3);
        assert_eq!(
            h.turns()[2].to_message().tool_call_id.as_deref(),
            Some("c1")
        );
        h.push(Speaker::Agent, "You're booked for two at eight tonight.");
        assert!(h.chars() <= 60);
        assert_ne!(
            h.turns().first().map(|t| t.speaker),
            Some(Speaker::Tool),
            "{:?}",
            h.turns()
        );
        // The newest exchange stays whole even over budget.
        let big = ToolCall {
            id: "c2".into(),
            name: "lookup".into(),
            arguments: "x".repeat(100),
        };
        h.push_tool_exchange("", vec![big], &[("c2".into(), "y".repeat(50))]);
        assert_eq!(h.turns().len(), 2);
        assert_eq!(h.turns()[0].tool_calls.len(), 1);
        assert_eq!(h.turns()[1].speaker, Speaker::Tool);
    }
}
