//! The OpenAI-compatible routes of [`super::FakeHttp`], checked as OpenAI does (Bearer key,
//! JSON content type and fields), errors in OpenAI's `{"error": {...}}` shape:
//! - `POST /v1/chat/completions` with `stream: true`: SSE with a `: keep-alive` comment,
//!   the role chunk, the reply one word per `chat.completion.chunk` (a comment after the
//!   second), the finish chunk, the usage chunk when `stream_options.include_usage`, and
//!   `data: [DONE]`.
//! - `POST /v1/audio/speech` with `response_format: "pcm"`: 24 kHz 16-bit little-endian
//!   mono, `ms_per_char` per character of the input.
//! - `POST /v1/audio/transcriptions`: a multipart upload of a mono 16-bit WAV `file` and a
//!   `model`; `{"text": ...}`.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::body::{ragged, streamed};
use super::http::{Behaviour, Framing, Received, Route, Shared, prelude, speech_samples};
use super::pause;
use super::script::Reply;
use super::wire::{parse_multipart, parse_wav};

/// Bytes per [`super::Framing::Whole`] piece of speech: 100 ms at 24 kHz, 2 bytes a sample.
const SPEECH_PIECE: usize = 4800;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/audio/speech", post(speech))
        .route("/v1/audio/transcriptions", post(transcriptions))
}

/// `{"error": {"message", "type", "param", "code"}}` with `status`, as OpenAI answers.
pub(crate) fn error(status: u16, message: &str) -> Response {
    let body = json!({
        "error": { "message": message, "type": "invalid_request_error", "param": null, "code": null }
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A scripted error status, with its `Retry-After`.
pub(crate) fn scripted_status(status: u16, retry_after: Option<&str>) -> Response {
    let mut response = error(status, "scripted failure");
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Whether `headers` carry `Authorization: Bearer {key}` (compared in constant time).
fn bearer_ok(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(key.as_bytes())))
}

pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The start of every JSON route: the prelude, then the key, the content type and the JSON
/// body checked as OpenAI does.
async fn json_prelude(
    shared: &Shared,
    route: Route,
    behaviour: &Behaviour,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Reply, Value), Response> {
    let reply = prelude(shared, Received::new(route, headers, body)).await?;
    if !bearer_ok(headers, &behaviour.api_key) {
        return Err(error(401, "Incorrect API key provided."));
    }
    if !is_json(headers) {
        return Err(error(400, "Content-Type must be application/json"));
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Err(error(
            400,
            "We could not parse the JSON body of your request",
        ));
    };
    Ok((reply, request))
}

/// The SSE events of one streamed reply, comments included.
fn chat_events(behaviour: &Behaviour, request: &Value, reply: &Reply) -> Vec<String> {
    let include_usage =
        request["stream_options"]["include_usage"] == json!(true) && !behaviour.omit_usage;
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": request["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if include_usage {
            c["usage"] = Value::Null;
        }
        format!("data: {c}\n\n")
    };
    let mut events = vec![": keep-alive\n\n".to_string()];
    events.push(chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    if matches!(reply, Reply::BadJson) {
        events.push("data: {\"choices\": [ {\"delta\": \n\n".into());
    }
    let text = match reply {
        Reply::Text(t) => t.as_str(),
        Reply::ToolCalls { before, .. } => before.as_str(),
        _ => behaviour.chat_reply.as_str(),
    };
    let words: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split(' ').collect()
    };
    for (i, w) in words.iter().enumerate() {
        let text = if i + 1 < words.len() {
            format!("{w} ")
        } else {
            (*w).to_string()
        };
        events.push(chunk(json!({"content": text}), Value::Null));
        if i == 1 {
            events.push(": still thinking\n\n".into());
        }
    }
    let finish = match reply {
        Reply::ToolCalls { calls, .. } => {
            for (index, (name, arguments)) in calls.iter().enumerate() {
                events.push(chunk(
                    json!({"tool_calls": [{"index": index, "id": format!("call_{index}_fake"),
                        "type": "function", "function": {"name": name, "arguments": ""}}]}),
                    Value::Null,
                ));
                // The arguments in three pieces, as servers stream them.
                for piece in thirds(arguments) {
                    events.push(chunk(
                        json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                        Value::Null,
                    ));
                }
            }
            "tool_calls"
        }
        _ => "stop",
    };
    events.push(chunk(json!({}), json!(finish)));
    if include_usage {
        events.push(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
                "usage": {"prompt_tokens": 42, "completion_tokens": words.len(), "total_tokens": 42 + words.len()}})
        ));
    }
    events.push("data: [DONE]\n\n".into());
    events
}

/// `text` cut in three pieces at character boundaries.
fn thirds(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().div_ceil(3).max(1);
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// Whether the messages are what the chat API takes: system/user/assistant with string
/// content (an assistant with `tool_calls` may have null content), and each `tool` message
/// answering a call of the assistant message before it.
fn messages_valid(messages: &[Value]) -> bool {
    let mut open_calls: Vec<String> = Vec::new();
    !messages.is_empty()
        && messages.iter().all(|m| match m["role"].as_str() {
            Some("system" | "user") => {
                open_calls.clear();
                m["content"].is_string()
            }
            Some("assistant") => {
                let calls = m["tool_calls"].as_array();
                open_calls = calls
                    .map(|c| {
                        c.iter()
                            .filter_map(|c| c["id"].as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let calls_ok = calls.is_none_or(|c| {
                    c.iter().all(|c| {
                        c["type"] == json!("function")
                            && c["function"]["name"].is_string()
                            && c["function"]["arguments"].is_string()
                    })
                });
                calls_ok
                    && (m["content"].is_string() || (calls.is_some() && m["content"].is_null()))
            }
            Some("tool") => {
                m["content"].is_string()
                    && m["tool_call_id"]
                        .as_str()
                        .is_some_and(|id| open_calls.iter().any(|c| c == id))
            }
            _ => false,
        })
}

/// Whether `tools` (absent, or an array of functions with a name and an object schema) is
/// what the chat API takes.
fn tools_valid(request: &Value) -> bool {
    match &request["tools"] {
        Value::Null => true,
        Value::Array(tools) => tools.iter().all(|t| {
            t["type"] == json!("function")
                && t["function"]["name"].is_string()
                && t["function"]["parameters"]["type"] == json!("object")
        }),
        _ => false,
    }
}

async fn chat(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let behaviour = s.behaviour();
    let (reply, request) = match json_prelude(&s, Route::Chat, &behaviour, &headers, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let messages_ok = request["messages"]
        .as_array()
        .is_some_and(|m| messages_valid(m));
    if !request["model"].is_string() || !messages_ok {
        return error(400, "model and messages are required");
    }
    if !tools_valid(&request) {
        return error(400, "tools must be functions with an object schema");
    }
    if request["stream"] != json!(true) {
        return error(400, "this fake only streams");
    }
    pause(behaviour.latencies.llm).await;
    let events = chat_events(&behaviour, &request, &reply);
    let pieces = match behaviour.framing {
        Framing::Ragged => ragged(&Bytes::from(events.concat())),
        Framing::Whole => events.into_iter().map(Bytes::from).collect(),
    };
    let mut response = streamed(
        &s.bodies,
        "text/event-stream",
        pieces,
        behaviour.gap(),
        &reply,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn speech(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let behaviour = s.behaviour();
    let (reply, request) = match json_prelude(&s, Route::Speech, &behaviour, &headers, &body).await
    {
        Ok(r) => r,
        Err(r) => return r,
    };
    let input = request["input"].as_str().unwrap_or("");
    if !request["model"].is_string() || !request["voice"].is_string() || input.is_empty() {
        return error(400, "model, voice and input are required");
    }
    if request["response_format"] != json!("pcm") {
        return error(400, "this fake only serves response_format pcm");
    }
    pause(behaviour.latencies.tts).await;
    let n = speech_samples(behaviour.voice, behaviour.ms_per_char, 24_000, input);
    let pcm = s.pcm(behaviour.voice, 24_000, n);
    streamed(
        &s.bodies,
        "audio/pcm",
        behaviour.pieces(pcm, SPEECH_PIECE),
        behaviour.gap(),
        &reply,
    )
}

async fn transcriptions(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let behaviour = s.behaviour();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut received = Received::new(Route::Transcriptions, &headers, &body);
    let parts = parse_multipart(&content_type, &body);
    if let Ok(parts) = &parts {
        for p in parts {
            if p.filename.is_none() {
                received.form.insert(
                    p.name.clone(),
                    String::from_utf8_lossy(&p.body).into_owned(),
                );
            } else if let Ok(wav) = parse_wav(&p.body) {
                received.wav = Some((wav.rate, wav.samples.len()));
            }
        }
    }
    let reply = match prelude(&s, received).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !bearer_ok(&headers, &behaviour.api_key) {
        return error(401, "Incorrect API key provided.");
    }
    if !content_type.starts_with("multipart/form-data") {
        return error(400, "Content-Type must be multipart/form-data");
    }
    let parts = match parts {
        Ok(p) => p,
        Err(e) => return error(400, &format!("bad multipart body: {e}")),
    };
    let field = |name: &str| parts.iter().find(|p| p.name == name);
    let Some(file) = field("file").filter(|f| f.filename.is_some()) else {
        return error(400, "file is required");
    };
    match parse_wav(&file.body) {
        Ok(w) if w.channels == 1 && w.bits == 16 && !w.samples.is_empty() => {}
        _ => return error(400, "file is not a mono 16-bit WAV"),
    }
    if field("model").is_none() {
        return error(400, "model is required");
    }
    pause(behaviour.latencies.stt).await;
    let text = match &reply {
        Reply::BadJson => "{\"text\": ".to_string(),
        reply => {
            let transcript = match reply {
                Reply::Text(t) => t.as_str(),
                _ => behaviour.transcript.as_str(),
            };
            let verbose = field("response_format").is_some_and(|f| f.body == b"verbose_json");
            if verbose {
                // The language as OpenAI names it: by the transcript's script here.
                let devanagari = transcript
                    .chars()
                    .any(|c| ('\u{0900}'..='\u{097F}').contains(&c));
                let language = if devanagari { "hindi" } else { "english" };
                json!({"task": "transcribe", "language": language, "duration": 1.0, "text": transcript})
                    .to_string()
            } else {
                json!({"text": transcript}).to_string()
            }
        }
    };
    streamed(
        &s.bodies,
        "application/json",
        vec![Bytes::from(text)],
        behaviour.gap(),
        &reply,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_reply_streams_word_by_word_with_usage_when_asked() {
        let behaviour = Behaviour::for_load("k", super::super::EngineLatencies::ZERO);
        let request = json!({"model": "m", "stream_options": {"include_usage": true}});
        let events = chat_events(&behaviour, &request, &Reply::Normal);
        let text: String = events
            .iter()
            .filter_map(|e| e.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .filter_map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(text, super::super::REPLY_TEXT);
        assert_eq!(events.last().map(String::as_str), Some("data: [DONE]\n\n"));
        assert!(
            events
                .iter()
                .any(|e| e.contains("\"completion_tokens\":10"))
        );
        let without = chat_events(&behaviour, &json!({"model": "m"}), &Reply::Normal);
        assert!(without.iter().all(|e| !e.contains("completion_tokens")));
    }

    #[test]
    fn bearer_key_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(!bearer_ok(&headers, "k"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        assert!(bearer_ok(&headers, "k"));
        assert!(!bearer_ok(&headers, "kk"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Token k"));
        assert!(!bearer_ok(&headers, "k"));
    }
}
