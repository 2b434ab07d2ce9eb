//! The JSON of one OpenAI-compatible `chat.completion.chunk` (one SSE `data:` line).

use serde::Deserialize;

use super::TokenUsage;

#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

/// What one chunk says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkEvent {
    /// Reply text in this chunk (empty for role-only or usage-only chunks).
    pub content: String,
    /// Set on the chunk that ends the choice.
    pub finish_reason: Option<String>,
    /// Set on the usage chunk (`stream_options.include_usage`).
    pub usage: Option<TokenUsage>,
}

/// Parses one chunk; an `error` object from the provider is reported as `Err`.
pub fn parse_chunk(data: &str) -> Result<ChunkEvent, String> {
    let chunk: Chunk = serde_json::from_str(data)
        .map_err(|e| format!("bad chunk JSON at column {}", e.column()))?;
    if chunk.error.is_some() {
        return Err("the provider reported an error inside the stream".into());
    }
    let mut event = ChunkEvent {
        usage: chunk.usage.map(|u| TokenUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            estimated: false,
        }),
        ..ChunkEvent::default()
    };
    if let Some(choice) = chunk.choices.into_iter().next() {
        if let Some(text) = choice.delta.and_then(|d| d.content) {
            event.content = text;
        }
        event.finish_reason = choice.finish_reason;
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_finish_and_usage() {
        let e = parse_chunk(r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"usage":null}"#).unwrap();
        assert_eq!(e.content, "Hi");
        assert_eq!(e.finish_reason, None);
        let e =
            parse_chunk(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#).unwrap();
        assert_eq!(e.finish_reason.as_deref(), Some("stop"));
        let e = parse_chunk(r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#).unwrap();
        assert_eq!(e.usage.unwrap().prompt_tokens, 12);
        assert!(parse_chunk("{not json").is_err());
        assert!(parse_chunk(r#"{"error":{"message":"overloaded"}}"#).is_err());
    }
}
