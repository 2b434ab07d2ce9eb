//! What one call's conversation is configured with: the AI profile's side
//! ([`AgentProfile`]: prompt, limits, keypad map, tools, transfer targets) and the lines the
//! daemon speaks on its own ([`ConversationLines`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engines::llm::ToolSpec;

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
    /// Spoken before a transfer whose target has no `announce` of its own.
    pub transfer_announce: String,
    /// Spoken when a transfer failed (busy, no answer, …); the conversation goes on.
    pub nobody_available: String,
    /// Spoken once when a tool has not answered in a moment.
    pub tool_filler: String,
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
            transfer_announce: "Please hold while I connect you.".into(),
            nobody_available:
                "I'm sorry, nobody is available to take your call right now. Is there anything else I can help you with?"
                    .into(),
            tool_filler: "One moment, please.".into(),
        }
    }
}

/// What a key of the caller's keypad does (the profile's `dtmf_map`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    /// Hand the caller to this transfer target.
    Transfer(String),
    /// Say goodbye and hang up.
    Hangup,
    /// Say the agent's last turn again.
    Repeat,
}

/// A transfer target as the conversation knows it: its name and what is said before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// The target's name (`[a-z0-9-]{1,40}`), as the model and the keypad map name it.
    pub name: String,
    /// Spoken before transferring; `None` uses [`ConversationLines::transfer_announce`].
    pub announce: Option<String>,
}

/// The tools the model is offered and how the conversation treats each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolBox {
    /// Offer `transfer_call` (its `target` is one of the transfer targets).
    pub transfer_call: bool,
    /// Offer `end_call`.
    pub end_call: bool,
    /// The tenant's HTTP tools the profile may use (run by the driver).
    pub http: Vec<ToolSpec>,
}

/// The built-in tool that hands the caller to a transfer target.
pub const TRANSFER_CALL: &str = "transfer_call";
/// The built-in tool that ends the call after a goodbye.
pub const END_CALL: &str = "end_call";

impl ToolBox {
    /// Whether the model is offered any tool.
    pub fn is_empty(&self) -> bool {
        !self.transfer_call && !self.end_call && self.http.is_empty()
    }

    /// The `tools` of a chat request: the built-ins (with `target` an enum of `targets`)
    /// and the HTTP tools.
    pub fn specs(&self, targets: &[TargetInfo]) -> Vec<ToolSpec> {
        let mut specs = Vec::new();
        if self.transfer_call && !targets.is_empty() {
            let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            specs.push(ToolSpec {
                name: TRANSFER_CALL.into(),
                description:
                    "Transfer the caller to a person or team. Use it when the caller asks \
                              for a human or when you cannot help."
                        .into(),
                parameters: serde_json::json!({
                    "type": "object",
                    "properties": {"target": {"type": "string", "enum": names,
                                              "description": "Who to transfer the caller to."}},
                    "required": ["target"],
                }),
            });
        }
        if self.end_call {
            specs.push(ToolSpec {
                name: END_CALL.into(),
                description:
                    "End the call after saying goodbye, when the conversation is complete.".into(),
                parameters: serde_json::json!({"type": "object", "properties": {}}),
            });
        }
        specs.extend(self.http.iter().cloned());
        specs
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
    /// What each key of the caller's keypad does; other keys are collected as digits.
    pub dtmf_map: BTreeMap<char, KeyAction>,
    /// The tenant's transfer targets.
    pub targets: Vec<TargetInfo>,
    /// The tools the model is offered.
    pub tools: ToolBox,
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
            dtmf_map: BTreeMap::new(),
            targets: Vec::new(),
            tools: ToolBox::default(),
        }
    }

    /// The target called `name`, if the tenant has it.
    pub fn target(&self, name: &str) -> Option<&TargetInfo> {
        self.targets.iter().find(|t| t.name == name)
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
            dtmf_map: BTreeMap::new(),
            targets: Vec::new(),
            tools: ToolBox::default(),
        }
    }
}
