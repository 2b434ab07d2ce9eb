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
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// A piece of one tool call, as streamed: `id` and `name` usually on the first piece of an
/// `index`, `arguments` as pieces of a JSON text to concatenate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallFragment {
    /// Which call of the response (several = parallel calls).
    pub index: u32,
    /// The call's id, when this piece carries it.
    pub id: Option<String>,
    /// The function's name, when this piece carries it.
    pub name: Option<String>,
    /// A piece of the arguments.
    pub arguments: Option<String>,
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
    /// Pieces of tool calls in this chunk.
    pub tool_calls: Vec<ToolCallFragment>,
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
        if let Some(delta) = choice.delta {
            event.content = delta.content.unwrap_or_default();
            event.tool_calls = delta
                .tool_calls
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(n, t)| {
                    let function = t.function;
                    ToolCallFragment {
                        // A server that omits `index` streams one call per chunk position.
                        index: t.index.unwrap_or(n as u32),
                        id: t.id.filter(|id| !id.is_empty()),
                        name: function
                            .as_ref()
                            .and_then(|f| f.name.clone())
                            .filter(|n| !n.is_empty()),
                        arguments: function.and_then(|f| f.arguments),
                    }
                })
                .collect();
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
        let e = parse_chunk(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"book_table","arguments":""}},{"index":1,"id":"call_2","function":{"name":"end_call"}}]}}]}"#).unwrap();
        assert_eq!(e.tool_calls.len(), 2);
        assert_eq!(e.tool_calls[0].id.as_deref(), Some("call_1"));
        assert_eq!(e.tool_calls[0].name.as_deref(), Some("book_table"));
        assert_eq!(e.tool_calls[1].index, 1);
        let e = parse_chunk(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"party"}}]}}]}"#).unwrap();
        assert_eq!(e.tool_calls[0].arguments.as_deref(), Some("{\"party"));
        assert_eq!(e.tool_calls[0].id, None);
        assert!(parse_chunk(r#"{"error":{"message":"overloaded"}}"#).is_err());
    }
}
