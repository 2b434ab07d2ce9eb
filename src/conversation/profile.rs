//! What one call's conversation is configured with: the AI profile's side
//! ([`AgentProfile`]) and the lines the daemon speaks on its own ([`ConversationLines`]).

use std::time::Duration;

use crate::store::ai_profiles::{
    AiProfile, DEFAULT_MAX_DURATION_SECONDS, DEFAULT_MAX_TURNS, DEFAULT_PROFILE_LANGUAGE,
};

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
#[derive(Debug, Clone, PartialEq)]
pub struct AgentProfile {
    /// Sent to the model first, with the phone-call instruction added.
    pub system_prompt: String,
    /// Spoken when the call is answered; empty for none.
    pub greeting: String,
    /// BCP-47 tag of the call's language.
    pub language: String,
    /// TTS voice; `None` uses the daemon's configured voice.
    pub voice: Option<String>,
    /// Language model; `None` uses the daemon's configured model.
    pub llm_model: Option<String>,
    /// Caller turns after which the agent says goodbye.
    pub max_turns: u32,
    /// Call length after which the agent says goodbye.
    pub max_duration: Duration,
    /// Character budget of the history sent to the model.
    pub history_chars: usize,
    /// The daemon's own lines and the end-of-call marker.
    pub lines: ConversationLines,
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
            max_turns: u32::try_from(p.max_turns).unwrap_or(DEFAULT_MAX_TURNS as u32),
            max_duration: Duration::from_secs(
                u64::try_from(p.max_duration_seconds)
                    .unwrap_or(DEFAULT_MAX_DURATION_SECONDS as u64),
            ),
            history_chars,
            lines: lines.clone(),
        }
    }

    /// The profile of a call whose AI profile was deleted while it was up (a re-adopted
    /// call): a neutral assistant with the default limits and no greeting.
    pub fn neutral(lines: &ConversationLines, history_chars: usize) -> Self {
        Self {
            system_prompt: "You are a helpful phone assistant. Keep replies short.".into(),
            greeting: String::new(),
            language: DEFAULT_PROFILE_LANGUAGE.into(),
            voice: None,
            llm_model: None,
            max_turns: DEFAULT_MAX_TURNS as u32,
            max_duration: Duration::from_secs(DEFAULT_MAX_DURATION_SECONDS as u64),
            history_chars,
            lines: lines.clone(),
        }
    }
}
