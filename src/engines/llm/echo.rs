//! The `echo` chat engine for tests and the demo: it replies with what the caller last
//! said, word by word, as a streaming LLM would. No network, never fails.

use futures_util::stream;

use super::{ChatCompletion, ChatRequest, LlmEvent, LlmStream, Role, TokenUsage};
use crate::engines::error::EngineError;

/// Provider label in metrics.
pub const PROVIDER: &str = "echo";

/// Repeats the caller's last message.
#[derive(Debug, Clone, Default)]
pub struct EchoChat;

impl EchoChat {
    /// The reply text for a request: "You said: <last caller message>".
    pub fn reply_for(request: &ChatRequest) -> String {
        let heard = request
            .history
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.trim())
            .unwrap_or("");
        if heard.is_empty() {
            "I did not hear anything.".to_string()
        } else {
            format!("You said: {heard}")
        }
    }
}

#[async_trait::async_trait]
impl ChatCompletion for EchoChat {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn stream_chat(&self, request: ChatRequest) -> Result<LlmStream, EngineError> {
        let reply = Self::reply_for(&request);
        let prompt_chars = request.system.chars().count()
            + request
                .history
                .iter()
                .map(|m| m.content.chars().count())
                .sum::<usize>();
        let words: Vec<&str> = reply.split_whitespace().collect();
        let last = words.len().saturating_sub(1);
        let mut events: Vec<Result<LlmEvent, EngineError>> = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                Ok(LlmEvent::Delta(if i == last {
                    (*w).to_string()
                } else {
                    format!("{w} ")
                }))
            })
            .collect();
        events.push(Ok(LlmEvent::Done {
            usage: TokenUsage::estimate(prompt_chars, reply.chars().count()),
            finish_reason: Some("stop".into()),
        }));
        Ok(Box::pin(stream::iter(events)))
    }
}
