//! What one call's conversation is configured with ([`AgentProfile`]): the AI profile's
//! prompt, greeting, languages and lines, limits, keypad map, tools and transfer targets.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engines::llm::ToolSpec;
use crate::language::{LanguageTag, LineBook};

use crate::store::ai_profiles::{AiProfile, DEFAULT_MAX_DURATION_SECONDS, DEFAULT_MAX_TURNS};

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
    /// Spoken before transferring; `None` uses the `transfer_announce` line.
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
    /// The call's language, until the caller switches to one of `languages`.
    pub language: LanguageTag,
    /// Other languages the caller may switch to; the agent follows.
    pub languages: Vec<LanguageTag>,
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
    /// The lines the daemon speaks by itself, in the profile's wording where it has one.
    pub lines: LineBook,
    /// A reply containing this ends the call (after a goodbye); never spoken. Empty: none.
    pub end_marker: String,
    /// What each key of the caller's keypad does; other keys are collected as digits.
    pub dtmf_map: BTreeMap<char, KeyAction>,
    /// The tenant's transfer targets.
    pub targets: Vec<TargetInfo>,
    /// The tools the model is offered.
    pub tools: ToolBox,
    /// Said before the greeting: the call is recorded. `None` when it is not.
    pub recording_notice: Option<String>,
}

impl AgentProfile {
    /// From a stored profile, with the end-of-call instruction added to the prompt. Stored
    /// values the admin API would refuse today (a profile written before it checked them)
    /// fall back: an unknown language to English, unusable lines to the daemon's.
    pub fn from_profile(p: &AiProfile, end_marker: &str, history_chars: usize) -> Self {
        let mut system_prompt = p.system_prompt.trim().to_string();
        if !end_marker.is_empty() {
            system_prompt.push_str(&format!(
                "\n\nYou are speaking on a phone call; keep replies short and plain, without lists or markup. \
                 When the conversation is complete and the call should end, finish your reply with {end_marker}."
            ));
        }
        let language = LanguageTag::parse(&p.language).unwrap_or_else(|_| LanguageTag::english());
        let mut languages: Vec<LanguageTag> = Vec::new();
        for tag in p
            .languages
            .iter()
            .filter_map(|l| LanguageTag::parse(l).ok())
        {
            let known = tag.language() == language.language()
                || languages.iter().any(|l| l.language() == tag.language());
            if !known {
                languages.push(tag);
            }
        }
        let lines = LineBook::parse(&p.lines, &language).unwrap_or_default();
        let recording_notice = p.record_calls.then(|| {
            p.recording_notice.clone().unwrap_or_else(|| {
                lines
                    .get(crate::language::Line::RecordingNotice, language.language())
                    .to_string()
            })
        });
        Self {
            system_prompt,
            greeting: p.greeting.clone(),
            recording_notice,
            lines,
            end_marker: end_marker.to_string(),
            language,
            languages,
            voice: p.voice.clone(),
            llm_model: p.llm_model.clone(),
            max_turns: u32::try_from(p.max_turns).unwrap_or(DEFAULT_MAX_TURNS as u32),
            max_duration: Duration::from_secs(
                u64::try_from(p.max_duration_seconds)
                    .unwrap_or(DEFAULT_MAX_DURATION_SECONDS as u64),
            ),
            history_chars,
            dtmf_map: BTreeMap::new(),
            targets: Vec::new(),
            tools: ToolBox::default(),
        }
    }

    /// The tag of `language` if the profile lets the call be in it (its own language or
    /// one of `languages`).
    pub fn allowed(&self, language: crate::language::Language) -> Option<&LanguageTag> {
        std::iter::once(&self.language)
            .chain(&self.languages)
            .find(|t| t.language() == language)
    }

    /// The target called `name`, if the tenant has it.
    pub fn target(&self, name: &str) -> Option<&TargetInfo> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The profile of a call whose AI profile was deleted while it was up (a re-adopted
    /// call): a neutral assistant with the default limits and no greeting.
    pub fn neutral(end_marker: &str, history_chars: usize) -> Self {
        Self {
            system_prompt: "You are a helpful phone assistant. Keep replies short.".into(),
            greeting: String::new(),
            language: LanguageTag::english(),
            languages: Vec::new(),
            lines: LineBook::builtin(),
            end_marker: end_marker.to_string(),
            voice: None,
            llm_model: None,
            max_turns: DEFAULT_MAX_TURNS as u32,
            max_duration: Duration::from_secs(DEFAULT_MAX_DURATION_SECONDS as u64),
            history_chars,
            dtmf_map: BTreeMap::new(),
            targets: Vec::new(),
            tools: ToolBox::default(),
            recording_notice: None,
        }
    }
}
