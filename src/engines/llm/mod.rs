//! Streaming chat completion: the trait the conversation loop calls, its request and
//! event types, and the providers (OpenAI-compatible SSE, echo).

mod chunk;
pub mod echo;
pub mod openai;
pub mod reply;

use std::pin::Pin;

use futures_util::Stream;
use serde::{Deserialize, Serialize};

use super::error::EngineError;

pub use chunk::{ChunkEvent, ToolCallFragment, parse_chunk};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions (the AI profile's system prompt).
    System,
    /// The caller (a transcript).
    User,
    /// The agent (what the caller actually heard of it), with the tools it called.
    Assistant,
    /// The result of one tool call.
    Tool,
}

/// A function the model may call (sent as an OpenAI `tools` entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// `[a-z][a-z0-9_]{0,63}`.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// Its arguments as a JSON Schema object.
    pub parameters: serde_json::Value,
}

/// One call of a tool the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The model's id for the call (answered by the tool message's `tool_call_id`).
    pub id: String,
    /// The tool.
    pub name: String,
    /// Its arguments: a JSON text as the model wrote it (not necessarily valid).
    pub arguments: String,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who said it.
    pub role: Role,
    /// What was said (a tool message: the result).
    pub content: String,
    /// An assistant message: the tools it called after saying `content`.
    pub tool_calls: Vec<ToolCall>,
    /// A tool message: the call it answers.
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// The system prompt.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A caller message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An agent message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// An agent message that said `content` and then called `calls`.
    pub fn assistant_calling(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        ChatMessage {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }

    /// The result of the tool call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
}

/// One chat completion request. `None` fields take the provider's configured value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    /// The system prompt (sent first).
    pub system: String,
    /// The conversation so far, oldest first, ending with the caller's turn. The
    /// provider keeps only the newest `max_history` messages.
    pub history: Vec<ChatMessage>,
    /// Per-call model override (AI profile).
    pub model: Option<String>,
    /// Per-call limit of reply tokens.
    pub max_tokens: Option<u32>,
    /// Per-call sampling temperature.
    pub temperature: Option<f32>,
    /// Functions the model may call (`tool_choice: "auto"`); empty for none.
    pub tools: Vec<ToolSpec>,
    /// BCP-47 tag of the language the reply is to be in (the system prompt says so too;
    /// providers without a parameter for it ignore this).
    pub language: Option<String>,
}

/// Token counts of one completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens of the reply.
    pub completion_tokens: u32,
    /// `true` when the provider gave no usage and these are estimates (4 chars ≈ 1 token).
    pub estimated: bool,
}

impl TokenUsage {
    /// An estimate from character counts (about four characters per token).
    pub fn estimate(prompt_chars: usize, completion_chars: usize) -> Self {
        let tokens = |chars: usize| u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX);
        TokenUsage {
            prompt_tokens: tokens(prompt_chars),
            completion_tokens: tokens(completion_chars),
            estimated: true,
        }
    }
}

/// What a completion stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    /// The next piece of the reply text.
    Delta(String),
    /// The model asks for these tools to be called (`finish_reason: "tool_calls"`); `Done`
    /// follows.
    ToolCalls(Vec<ToolCall>),
    /// The reply is complete; nothing follows.
    Done {
        /// Token usage (from the provider, or estimated).
        usage: TokenUsage,
        /// Why generation stopped (`stop`, `length`, ...), when the provider says.
        finish_reason: Option<String>,
    },
}

/// A reply streaming in. Dropping it cancels the request (barge-in).
pub type LlmStream = Pin<Box<dyn Stream<Item = Result<LlmEvent, EngineError>> + Send>>;

/// A streaming chat completion engine, shared by all calls (`Arc<dyn ChatCompletion>`).
#[async_trait::async_trait]
pub trait ChatCompletion: Send + Sync + std::fmt::Debug {
    /// The provider label (`openai_llm`, `echo`).
    fn name(&self) -> &'static str;

    /// Starts a completion. Returns once the first token (or the end) has arrived,
    /// retrying connect errors, 429 and 5xx before that; the stream then yields the
    /// remaining events, failing with [`EngineError::Timeout`] if the provider stalls.
    async fn stream_chat(&self, request: ChatRequest) -> Result<LlmStream, EngineError>;
}
