//! The conversation half of a call: what the agent says and when.
//!
//! - [`agent`]: the per-call loop (greeting, turns, barge-in, limits, fallbacks).
//! - [`reply`]: one reply as a task: model stream → sentences → speech → playout.
//! - [`sentences`]: splitting a streamed reply into speakable sentences.
//! - [`heard`]: what the caller actually heard of a reply cut short.
//! - [`history`]: the bounded history sent to the model; goodbye detection.
//! - [`state`]: the per-call state in Redis that lets a restarted daemon continue.

pub mod agent;
pub mod heard;
pub mod history;
pub mod reply;
pub mod sentences;
pub mod state;

use std::time::Duration;

use crate::store::ai_profiles::AiProfile;

/// The lines the daemon speaks on its own, and the model's end-of-call marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationLines {
    /// Spoken before the agent hangs up.
    pub goodbye: String,
    /// Spoken when speech recognition fails.
    pub stt_retry: String,
    /// Spoken when the language model fails or is too slow.
    pub llm_fallback: String,
    /// A reply containing this ends the call (after a goodbye); never spoken.
    pub end_marker: String,
}

impl Default for ConversationLines {
    fn default() -> Self {
        Self {
            goodbye: "Thank you for calling. Goodbye!".into(),
            stt_retry: "Sorry, I didn't catch that. Could you say it again?".into(),
            llm_fallback:
                "I'm sorry, I'm having trouble answering right now. Could you say that again?"
                    .into(),
            end_marker: "[END_CALL]".into(),
        }
    }
}

/// What the conversation takes from the tenant's AI profile.
#[derive(Debug, Clone)]
pub struct AgentProfile {
    pub system_prompt: String,
    pub greeting: String,
    pub language: String,
    pub voice: Option<String>,
    pub llm_model: Option<String>,
    pub max_turns: u32,
    pub max_duration: Duration,
    /// Character budget of the history sent to the model.
    pub history_chars: usize,
}

impl AgentProfile {
    /// From a stored profile, with the end-of-call instruction added to the prompt.
    pub fn from_profile(p: &AiProfile, lines: &ConversationLines, history_chars: usize) -> Self {
        let mut system_prompt = p.system_prompt.trim().to_string();
        if !lines.end_marker.is_empty() {
            system_prompt.push_str(&format!(
                "\n\nYou are speaking on a phone call; keep replies short and plain, without lists or markup. \
                 When the conversation is complete and the call should end, finish your reply with {}.",
                lines.end_marker
            ));
        }
        Self {
            system_prompt,
            greeting: p.greeting.clone(),
            language: p.language.clone(),
            voice: p.voice.clone(),
            llm_model: p.llm_model.clone(),
            max_turns: u32::try_from(p.max_turns).unwrap_or(20),
            max_duration: Duration::from_secs(u64::try_from(p.max_duration_seconds).unwrap_or(300)),
            history_chars,
        }
    }
}
