//! What a call's conversation saves after each turn ([`ConversationState`]): enough for a
//! restarted daemon to continue the call. Plain data; `store::conversation_state` keeps it
//! in Redis.

use serde::{Deserialize, Serialize};

use super::history::{History, Speaker};
use crate::language::LanguageTag;

/// What is saved after each turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationState {
    /// The bounded history sent to the language model.
    pub history: History,
    /// Caller turns so far.
    pub turn_count: u32,
    /// Transcript rows written so far (the next row's `seq`).
    pub next_seq: i32,
    /// Whether the greeting has been spoken.
    pub greeted: bool,
    /// Latency of each turn, ms (end of caller speech → first agent audio).
    pub turn_latencies_ms: Vec<u64>,
    /// The language the caller switched to, if they did (else the profile's).
    #[serde(default)]
    pub language: Option<LanguageTag>,
}

impl ConversationState {
    /// A state rebuilt from transcript rows `(speaker, text, seq)` when Redis has none.
    pub fn from_transcript(rows: &[(String, String, i32)], history_chars: usize) -> Self {
        let mut history = History::new(history_chars);
        let mut turn_count = 0;
        let mut next_seq = 0;
        for (speaker, text, seq) in rows {
            let speaker = if speaker == "caller" {
                turn_count += 1;
                Speaker::Caller
            } else {
                Speaker::Agent
            };
            history.push(speaker, text);
            next_seq = next_seq.max(seq + 1);
        }
        ConversationState {
            history,
            turn_count,
            next_seq,
            greeted: true,
            turn_latencies_ms: Vec::new(),
            language: None,
        }
    }
}
