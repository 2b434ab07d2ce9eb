//! The post-call summary: after a call whose profile asks for one (`post_call_summary`),
//! off the call path, the profile's model reads the transcript and answers with one JSON
//! object — a short summary and the outcome (`intent`, `resolved`, `follow_up`) — which is
//! stored on the call row. A model that fails or answers something else leaves the row
//! without a summary, says so in the log and counts it; the call is never touched.

use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engines::llm::{ChatCompletion, ChatMessage, ChatRequest, LlmEvent};
use crate::store::Store;

/// How long the model may take for the whole summary.
const SUMMARY_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest transcript sent, in characters (the newest part is kept).
const MAX_TRANSCRIPT_CHARS: usize = 12_000;
/// The longest summary stored, in characters.
const MAX_SUMMARY_CHARS: usize = 2_000;

const INSTRUCTION: &str = "You summarise a phone call between a business's voice agent and a \
caller, for the business. Answer with one JSON object and nothing else: \
{\"summary\": \"two or three sentences: who called, what they wanted, what was agreed\", \
\"intent\": \"what the caller wanted, in a few words\", \"resolved\": true or false, \
\"follow_up\": \"what the business should do next, or an empty string\"}. \
Write the summary in English, whatever language the call was in.";

/// What the model is asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSummary {
    pub summary: String,
    pub intent: String,
    pub resolved: bool,
    #[serde(default)]
    pub follow_up: String,
}

impl CallSummary {
    /// The outcome as stored on the call (`outcome` column).
    pub fn outcome(&self) -> serde_json::Value {
        serde_json::json!({
            "intent": self.intent,
            "resolved": self.resolved,
            "follow_up": self.follow_up,
        })
    }
}

/// Why there is no summary.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("the call has no transcript")]
    Empty,
    #[error("the model failed: {0}")]
    Model(String),
    #[error("the model took longer than {0:?}")]
    Timeout(Duration),
    #[error("the model's answer is not the summary object: {0}")]
    Unreadable(String),
    #[error("storing the summary: {0}")]
    Store(String),
}

/// The request for `turns` (speaker, text) on `model` (the profile's, or the daemon's).
pub fn request(turns: &[(String, String, i32)], model: Option<String>) -> ChatRequest {
    let mut transcript = String::new();
    for (speaker, text, _) in turns {
        let who = if speaker == "caller" {
            "Caller"
        } else {
            "Agent"
        };
        transcript.push_str(who);
        transcript.push_str(": ");
        transcript.push_str(text);
        transcript.push('\n');
    }
    if transcript.chars().count() > MAX_TRANSCRIPT_CHARS {
        let skip = transcript.chars().count() - MAX_TRANSCRIPT_CHARS;
        transcript = format!("[…]\n{}", transcript.chars().skip(skip).collect::<String>());
    }
    ChatRequest {
        system: INSTRUCTION.to_string(),
        history: vec![ChatMessage::user(transcript)],
        model,
        max_tokens: Some(400),
        temperature: Some(0.2),
        ..ChatRequest::default()
    }
}

/// Reads the model's answer: the first `{` to the last `}` (models like to wrap JSON in
/// prose or a code fence), with a non-empty summary, cut to [`MAX_SUMMARY_CHARS`].
pub fn parse(answer: &str) -> Result<CallSummary, SummaryError> {
    let unreadable = || SummaryError::Unreadable(answer.chars().take(120).collect());
    let start = answer.find('{').ok_or_else(unreadable)?;
    let end = answer.rfind('}').ok_or_else(unreadable)?;
    if end < start {
        return Err(unreadable());
    }
    let mut s: CallSummary =
        serde_json::from_str(&answer[start..=end]).map_err(|_| unreadable())?;
    s.summary = s.summary.trim().chars().take(MAX_SUMMARY_CHARS).collect();
    s.intent = s.intent.trim().chars().take(200).collect();
    s.follow_up = s.follow_up.trim().chars().take(500).collect();
    if s.summary.is_empty() {
        return Err(unreadable());
    }
    Ok(s)
}

/// Asks `llm` for the summary of the call and stores it on the row.
pub async fn summarise(
    store: &Store,
    llm: &dyn ChatCompletion,
    tenant_id: Uuid,
    call_id: Uuid,
    model: Option<String>,
) -> Result<CallSummary, SummaryError> {
    let turns = store
        .transcript_texts(call_id, tenant_id)
        .await
        .map_err(|e| SummaryError::Store(e.to_string()))?;
    if turns.iter().all(|(speaker, _, _)| speaker != "caller") {
        return Err(SummaryError::Empty);
    }
    let answer = tokio::time::timeout(SUMMARY_TIMEOUT, async {
        let mut stream = llm
            .stream_chat(request(&turns, model))
            .await
            .map_err(|e| SummaryError::Model(e.to_string()))?;
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event.map_err(|e| SummaryError::Model(e.to_string()))? {
                LlmEvent::Delta(d) => text.push_str(&d),
                LlmEvent::ToolCalls(_) => {}
                LlmEvent::Done { .. } => break,
            }
        }
        Ok::<_, SummaryError>(text)
    })
    .await
    .map_err(|_| SummaryError::Timeout(SUMMARY_TIMEOUT))??;
    let summary = parse(&answer)?;
    store
        .set_call_summary(tenant_id, call_id, &summary.summary, &summary.outcome())
        .await
        .map_err(|e| SummaryError::Store(e.to_string()))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_found_inside_prose_or_a_fence() {
        let s = parse(
            "Here it is:\n```json\n{\"summary\": \" Booked a table. \", \"intent\": \"booking\", \
             \"resolved\": true, \"follow_up\": \"\"}\n```",
        )
        .unwrap();
        assert_eq!(s.summary, "Booked a table.");
        assert_eq!(
            s.outcome(),
            serde_json::json!({"intent": "booking", "resolved": true, "follow_up": ""})
        );
    }

    #[test]
    fn anything_else_is_unreadable() {
        for bad in [
            "You said: hello",
            "{\"summary\": \"\", \"intent\": \"x\", \"resolved\": true}",
            "{\"summary\": \"ok\", \"resolved\": \"yes\", \"intent\": \"x\"}",
            "} {",
        ] {
            assert!(
                matches!(parse(bad), Err(SummaryError::Unreadable(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_request_carries_the_transcript_and_keeps_its_newest_part() {
        let turns = vec![
            ("agent".to_string(), "Hello!".to_string(), 0),
            ("caller".to_string(), "A table for two".to_string(), 1),
        ];
        let r = request(&turns, Some("m".into()));
        assert_eq!(
            r.history[0].content,
            "Agent: Hello!\nCaller: A table for two\n"
        );
        assert_eq!(r.model.as_deref(), Some("m"));
        let long = vec![("caller".to_string(), "x".repeat(20_000), 0)];
        let r = request(&long, None);
        assert!(r.history[0].content.starts_with("[…]\n"));
        assert!(r.history[0].content.chars().count() <= MAX_TRANSCRIPT_CHARS + 4);
    }
}
