//! The `echo` chat engine for tests and the demo: it replies with what the caller last
//! said, word by word, as a streaming LLM would, in the language the request asks for
//! ("You said: …", "आपने कहा: …"). No network, never fails.

use futures_util::stream;

use super::{ChatCompletion, ChatRequest, LlmEvent, LlmStream, Role, TokenUsage};
use crate::engines::error::EngineError;
use crate::language::{Language, LanguageTag};

/// Provider label in metrics.
pub const PROVIDER: &str = "echo";

/// Repeats the caller's last message.
#[derive(Debug, Clone, Default)]
pub struct EchoChat;

impl EchoChat {
    /// The reply text for a request: "You said: <last caller message>" in the request's
    /// language.
    pub fn reply_for(request: &ChatRequest) -> String {
        let language = request
            .language
            .as_deref()
            .and_then(|l| LanguageTag::parse(l).ok())
            .map_or(Language::English, |t| t.language());
        let heard = request
            .history
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.trim())
            .unwrap_or("");
        if heard.is_empty() {
            match language {
                Language::Hindi => "मुझे कुछ सुनाई नहीं दिया।".to_string(),
                _ => "I did not hear anything.".to_string(),
            }
        } else {
            format!("{}: {heard}", you_said(language))
        }
    }
}

/// "You said" in `language`.
fn you_said(language: Language) -> &'static str {
    match language {
        Language::English => "You said",
        Language::Hindi => "आपने कहा",
        Language::Bengali => "আপনি বললেন",
        Language::Tamil => "நீங்கள் சொன்னது",
        Language::Telugu => "మీరు చెప్పింది",
        Language::Kannada => "ನೀವು ಹೇಳಿದ್ದು",
        Language::Malayalam => "നിങ്ങൾ പറഞ്ഞത്",
        Language::Marathi => "तुम्ही म्हणालात",
        Language::Gujarati => "તમે કહ્યું",
        Language::Punjabi => "ਤੁਸੀਂ ਕਿਹਾ",
        Language::Odia => "ଆପଣ କହିଲେ",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::llm::ChatMessage;

    fn request(language: Option<&str>, heard: &str) -> ChatRequest {
        ChatRequest {
            history: vec![ChatMessage::new(Role::User, heard)],
            language: language.map(str::to_string),
            ..ChatRequest::default()
        }
    }

    #[test]
    fn echoes_in_the_requested_language() {
        assert_eq!(
            EchoChat::reply_for(&request(None, "hello")),
            "You said: hello"
        );
        assert_eq!(
            EchoChat::reply_for(&request(Some("hi-IN"), "मुझे टेबल चाहिए")),
            "आपने कहा: मुझे टेबल चाहिए"
        );
        assert_eq!(
            EchoChat::reply_for(&request(Some("ta-IN"), "வணக்கம்")),
            "நீங்கள் சொன்னது: வணக்கம்"
        );
        assert_eq!(
            EchoChat::reply_for(&request(Some("hi"), "  ")),
            "मुझे कुछ सुनाई नहीं दिया।"
        );
        assert_eq!(
            EchoChat::reply_for(&request(Some("xx"), "ok")),
            "You said: ok"
        );
    }
}
