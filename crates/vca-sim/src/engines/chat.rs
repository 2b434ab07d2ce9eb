//! `POST /v1/chat/completions` with `stream: true`: after the LLM latency, the SSE events
//! of a fixed two-sentence reply, one word per `chat.completion.chunk`, a finish chunk, a
//! usage chunk and `data: [DONE]`. All events are built once; a request clones `Bytes`.
//! The words follow the first one without delay, so everything after the configured
//! latency is the daemon's own time.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::EngineState;
use super::auth::error;

/// The agent's reply to every turn.
pub const REPLY_TEXT: &str = "Sure, I can help with that. Is there anything else?";

/// The reply split as it is streamed: each word with its leading space.
pub fn reply_words() -> Vec<String> {
    REPLY_TEXT
        .split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_string()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

/// The prebuilt SSE events of one reply.
#[derive(Debug)]
pub(crate) struct ChatEvents {
    events: Vec<Bytes>,
}

fn sse(value: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

impl ChatEvents {
    pub(crate) fn build() -> Self {
        let chunk = |delta: serde_json::Value, finish: Option<&str>| {
            json!({
                "id": "chatcmpl-vca-sim",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "vca-sim-fake",
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
                "usage": null,
            })
        };
        let words = reply_words();
        let mut events = Vec::with_capacity(words.len() + 4);
        events.push(sse(&chunk(
            json!({ "role": "assistant", "content": "" }),
            None,
        )));
        for w in &words {
            events.push(sse(&chunk(json!({ "content": w }), None)));
        }
        events.push(sse(&chunk(json!({}), Some("stop"))));
        events.push(sse(&json!({
            "id": "chatcmpl-vca-sim",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "vca-sim-fake",
            "choices": [],
            "usage": { "prompt_tokens": 20, "completion_tokens": words.len(), "total_tokens": 20 + words.len() },
        })));
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        ChatEvents { events }
    }
}

/// Whether the request asks for a stream and has at least one message.
fn valid_request(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    v.get("stream").and_then(|s| s.as_bool()) == Some(true)
        && v.get("messages")
            .and_then(|m| m.as_array())
            .is_some_and(|m| !m.is_empty())
}

pub(crate) async fn handle(State(state): State<Arc<EngineState>>, body: Bytes) -> Response {
    if !valid_request(&body) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "expected JSON with stream: true and messages",
        );
    }
    tokio::time::sleep(state.latencies.llm).await;
    let events = state.chat_events.events.clone();
    let stream = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_rebuild_the_reply() {
        assert_eq!(reply_words().concat(), REPLY_TEXT);
    }

    #[test]
    fn request_must_stream() {
        assert!(valid_request(
            br#"{"stream":true,"messages":[{"role":"user","content":"x"}]}"#
        ));
        assert!(!valid_request(
            br#"{"stream":false,"messages":[{"role":"user","content":"x"}]}"#
        ));
        assert!(!valid_request(br#"{"stream":true,"messages":[]}"#));
        assert!(!valid_request(b"nope"));
    }
}
