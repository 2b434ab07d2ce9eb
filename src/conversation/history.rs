//! The conversation history sent to the language model, bounded by a character budget
//! (oldest turns go first), and the goodbye detector for the caller's words.

use serde::{Deserialize, Serialize};

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The person on the phone.
    Caller,
    /// The AI agent.
    Agent,
}

impl Speaker {
    /// The word stored in `transcript_turns.speaker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Caller => "caller",
            Speaker::Agent => "agent",
        }
    }
}

/// One turn of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
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
        self.turns.push(Turn { speaker, text });
        while self.turns.len() > 1 && self.chars() > self.budget_chars {
            self.turns.remove(0);
        }
    }

    /// Total characters held.
    pub fn chars(&self) -> usize {
        self.turns.iter().map(|t| t.text.chars().count()).sum()
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

/// Whether the caller is saying goodbye: a short utterance made of farewell words.
pub fn is_goodbye(text: &str) -> bool {
    const FAREWELLS: &[&str] = &[
        "bye",
        "goodbye",
        "good bye",
        "bye bye",
        "bye-bye",
        "see you",
        "that's all",
        "that is all",
        "thats all",
        "nothing else",
        "hang up",
        "alvida",
        "namaste",
    ];
    let lower: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' || c == ' ' || c == '-' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<&str> = lower.split_whitespace().collect();
    if words.is_empty() || words.len() > 8 {
        return false;
    }
    let joined = words.join(" ");
    FAREWELLS.iter().any(|f| {
        joined == *f
            || joined.starts_with(&format!("{f} "))
            || joined.ends_with(&format!(" {f}"))
            || joined.contains(&format!(" {f} "))
    })
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
    fn goodbyes_are_short_farewells() {
        for yes in [
            "Bye!",
            "Okay, goodbye.",
            "thanks, bye bye",
            "That's all, thank you",
            "bye-bye",
        ] {
            assert!(is_goodbye(yes), "{yes}");
        }
        for no in [
            "",
            "I want to buy a car",
            "Can you tell me about the goodbye party we are planning next friday evening at the office",
            "by the way",
        ] {
            assert!(!is_goodbye(no), "{no}");
        }
    }
}
