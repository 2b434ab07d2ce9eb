//! Chat completions from any OpenAI-compatible server (OpenAI, Groq, DeepInfra, Ollama,
//! vLLM, llama.cpp): `POST {base}/chat/completions` with `stream: true` and
//! `stream_options.include_usage`, read as server-sent events.

use std::time::Duration;

use serde_json::json;

use super::reply::ReplyReader;
use super::{ChatCompletion, ChatMessage, ChatRequest, LlmStream, Role};
use crate::engines::error::EngineError;
use crate::engines::resilience::Guard;
use crate::engines::{http, metrics};
use crate::secret::Secret;

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "openai_llm";
/// Where requests go unless `VCA_LLM_BASE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The model unless `VCA_LLM_MODEL` (or the AI profile) says otherwise.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// Settings of the OpenAI-compatible chat provider.
#[derive(Debug, Clone)]
pub struct OpenAiChatConfig {
    /// Base URL up to the version (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`).
    pub base_url: String,
    /// The key; local servers may need none.
    pub api_key: Option<Secret>,
    /// The header the key goes in: `None` or `Authorization` sends `Bearer <key>`, any
    /// other header (Sarvam's `api-subscription-key`) the bare key.
    pub api_key_header: Option<String>,
    /// Default model.
    pub model: String,
    /// Default reply token limit.
    pub max_tokens: u32,
    /// Default temperature.
    pub temperature: f32,
    /// Newest history messages kept in a request.
    pub max_history: usize,
}

/// The OpenAI-compatible streaming chat provider.
#[derive(Debug)]
pub struct OpenAiChat {
    client: reqwest::Client,
    config: OpenAiChatConfig,
    guard: Guard,
}

impl OpenAiChat {
    /// A provider using `guard` for timeouts, retries and its breaker.
    pub fn new(config: OpenAiChatConfig, guard: Guard) -> Result<Self, EngineError> {
        Ok(OpenAiChat {
            client: http::client(PROVIDER, &guard.timeouts)?,
            config,
            guard,
        })
    }

    fn body(&self, request: &ChatRequest) -> (serde_json::Value, usize) {
        let skip = request
            .history
            .len()
            .saturating_sub(self.config.max_history);
        let mut history = &request.history[skip..];
        // A tool result must follow the assistant message that called it: never start with one.
        while history.first().is_some_and(|m| m.role == Role::Tool) {
            history = &history[1..];
        }
        let mut messages = Vec::with_capacity(history.len() + 1);
        if !request.system.is_empty() {
            messages.push(ChatMessage::system(request.system.clone()));
        }
        messages.extend(history.iter().cloned());
        let prompt_chars = messages
            .iter()
            .map(|m| {
                m.content.chars().count()
                    + m.tool_calls
                        .iter()
                        .map(|c| c.arguments.len())
                        .sum::<usize>()
            })
            .sum();
        let mut body = json!({
            "model": request.model.as_deref().unwrap_or(&self.config.model),
            "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": request.max_tokens.unwrap_or(self.config.max_tokens),
            "temperature": request.temperature.unwrap_or(self.config.temperature),
        });
        if !request.tools.is_empty()
            && let Some(obj) = body.as_object_mut()
        {
            let tools: Vec<serde_json::Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters,
                    }})
                })
                .collect();
            obj.insert("tools".into(), json!(tools));
            obj.insert("tool_choice".into(), json!("auto"));
        }
        (body, prompt_chars)
    }

    async fn start(
        &self,
        body: &serde_json::Value,
        prompt_chars: usize,
    ) -> Result<Reading, EngineError> {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(body);
        if let Some(key) = &self.config.api_key {
            request =
                match self.config.api_key_header.as_deref() {
                    Some(name) if !name.eq_ignore_ascii_case("authorization") => {
                        let mut value = reqwest::header::HeaderValue::from_str(key.expose())
                            .map_err(|_| EngineError::InvalidRequest {
                                provider: PROVIDER,
                                detail: "the API key holds characters a header cannot carry".into(),
                            })?;
                        value.set_sensitive(true);
                        request.header(name, value)
                    }
                    _ => request.bearer_auth(key.expose()),
                };
        }
        let response = http::send(PROVIDER, request).await?;
        let mut reading = Reading {
            response,
            reply: ReplyReader::new(prompt_chars),
        };
        reading
            .fill(self.guard.timeouts.first_byte, "first token")
            .await?;
        Ok(reading)
    }
}

/// A response being read into events.
struct Reading {
    response: reqwest::Response,
    reply: ReplyReader,
}

impl Reading {
    /// Reads until at least one event is pending or the reply is complete.
    async fn fill(&mut self, limit: Duration, stage: &'static str) -> Result<(), EngineError> {
        while !self.reply.has_pending() && !self.reply.is_done() {
            match http::next_chunk(PROVIDER, &mut self.response, limit, stage).await? {
                Some(bytes) => self.reply.push(&bytes).map_err(protocol)?,
                None => self.reply.end().map_err(protocol)?,
            }
        }
        Ok(())
    }
}

/// One message as OpenAI's chat API takes it.
fn message_json(m: &ChatMessage) -> serde_json::Value {
    let mut v = json!({"role": m.role, "content": m.content});
    if let Some(obj) = v.as_object_mut() {
        if !m.tool_calls.is_empty() {
            if m.content.is_empty() {
                obj.insert("content".into(), serde_json::Value::Null);
            }
            let calls: Vec<serde_json::Value> = m
                .tool_calls
                .iter()
                .map(|c| {
                    json!({"id": c.id, "type": "function",
                           "function": {"name": c.name, "arguments": c.arguments}})
                })
                .collect();
            obj.insert("tool_calls".into(), json!(calls));
        }
        if let Some(id) = &m.tool_call_id {
            obj.insert("tool_call_id".into(), json!(id));
        }
    }
    v
}

fn protocol(detail: String) -> EngineError {
    EngineError::Protocol {
        provider: PROVIDER,
        detail,
    }
}

#[async_trait::async_trait]
impl ChatCompletion for OpenAiChat {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn stream_chat(&self, request: ChatRequest) -> Result<LlmStream, EngineError> {
        let (body, prompt_chars) = self.body(&request);
        let started = tokio::time::Instant::now();
        let limit = self.guard.timeouts.connect + self.guard.timeouts.first_byte;
        let reading = self
            .guard
            .run("first token", limit, || self.start(&body, prompt_chars))
            .await?;
        metrics::llm_first_token(PROVIDER, started.elapsed());
        let idle = self.guard.timeouts.idle;
        let stream = futures_util::stream::unfold(Some(reading), move |state| async move {
            let mut reading = state?;
            if !reading.reply.has_pending()
                && !reading.reply.is_done()
                && let Err(e) = reading.fill(idle, "next token").await
            {
                metrics::error(&e);
                return Some((Err(e), None));
            }
            let event = reading.reply.pop()?;
            Some((Ok(event), Some(reading)))
        });
        Ok(Box::pin(stream))
    }
}
