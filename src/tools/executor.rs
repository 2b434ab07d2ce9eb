//! Runs one model tool call against a tenant's HTTP tool and turns whatever happens into a
//! [`ToolOutcome`]: the text that goes back to the model as the `role: "tool"` message.
//!
//! In order, for one call:
//! 1. The call's `name` must be the tool's (else `unknown_tool`).
//! 2. `arguments` (a JSON text; empty counts as `{}`) must parse (else `arguments_not_json`)
//!    and satisfy the tool's schema (else `invalid_arguments`, naming up to three problems).
//!    Neither failure sends a request.
//! 3. `POST <url>` with the JSON body `{"call_id","tenant_id","tool","arguments","caller",
//!    "did"}` and the headers `Content-Type: application/json`,
//!    `X-VCA-Signature: t=<unix s>,v1=<hex HMAC-SHA256("<t>.<body>")>` ([`super::signature`])
//!    and `Idempotency-Key: <call id>:<tool call id>`. Redirects are not followed (the body
//!    and its signature go to the configured URL only).
//! 4. The whole exchange, connection to last body byte, is bounded by the tool's timeout.
//!    A 2xx body of at most [`MAX_RESULT_BYTES`] (8 KiB), JSON or text, is passed to the
//!    model verbatim (trimmed; an empty body becomes [`EMPTY_RESULT`]). **A larger body is an
//!    error result (`too_large`), not cut**: half a JSON document could silently drop what
//!    the model needed; the tool's author sees the failure and returns less. Reading stops
//!    at the limit, so a huge body is never downloaded.
//! 5. Timeouts, connection failures, non-2xx statuses, unreadable or non-UTF-8 bodies are
//!    error results: a short JSON object `{"error": "<kind>", "message": "<sentence>"}` the
//!    model can talk about. It never carries the URL, the secret, the tool's error body or
//!    transport details; those stay out of the logs too, except the status and kind.
//!
//! **No retries.** A tool may book a table or charge a card; whether a second POST is safe is
//! known only to its server. The `Idempotency-Key` lets a server that does de-duplicate do
//! so if the caller of this module ever retries, but this module sends each call once.
//!
//! The executor never panics on anything a server does, and never reads the arguments into
//! logs (they may hold a caller's details).
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::signature::{SIGNATURE_HEADER, sign, unix_now};
use super::tool::{HttpTool, shorten};

/// The largest 2xx body passed to the model.
pub const MAX_RESULT_BYTES: usize = 8 * 1024;

/// What the model gets for a 2xx with an empty body.
pub const EMPTY_RESULT: &str = r#"{"ok":true}"#;

/// Schema problems named in an `invalid_arguments` result, at most.
const MAX_ARGUMENT_ERRORS: usize = 3;

/// What the call is about, sent with every tool request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallContext {
    /// The call's id (the call row); the first half of the `Idempotency-Key`.
    pub call_id: Uuid,
    /// The tenant the call belongs to.
    pub tenant_id: Uuid,
    /// The calling number as received (E.164, or empty when withheld).
    pub caller: String,
    /// The dialled number (DID).
    pub did: String,
}

/// One tool call as the model made it (`choices[].delta.tool_calls[]`, assembled): its
/// `id` is the second half of the `Idempotency-Key` and the `tool_call_id` of the answer.
pub use crate::engines::llm::ToolCall;

/// Why a tool call did not produce a result. `as_str` is a stable label (metrics, events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToolFailure {
    /// The call names another tool than the one given.
    UnknownTool,
    /// `arguments` is not JSON. No request was sent.
    ArgumentsNotJson,
    /// `arguments` does not satisfy the tool's schema. No request was sent.
    InvalidArguments,
    /// No complete answer within the tool's timeout.
    Timeout,
    /// The connection could not be made or broke before a status line arrived.
    Unreachable,
    /// The server answered with a non-2xx status (3xx included: redirects are not followed).
    HttpStatus,
    /// The 2xx body is larger than [`MAX_RESULT_BYTES`].
    TooLarge,
    /// The 2xx body could not be read to its end, or is not UTF-8 text.
    Unreadable,
}

impl ToolFailure {
    /// A stable snake_case label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownTool => "unknown_tool",
            Self::ArgumentsNotJson => "arguments_not_json",
            Self::InvalidArguments => "invalid_arguments",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::HttpStatus => "http_status",
            Self::TooLarge => "too_large",
            Self::Unreadable => "unreadable",
        }
    }
}

/// How a tool call went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    /// True when the tool answered 2xx with a usable body.
    pub ok: bool,
    /// The `content` of the `role: "tool"` message: the tool's body when `ok`, else a short
    /// JSON error object.
    pub content: String,
    /// From the start of [`ToolExecutor::execute`] to the outcome.
    pub duration: Duration,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Why it failed, when it did.
    pub failure: Option<ToolFailure>,
}

/// Builds the outcomes; owns the start time.
struct Outcome {
    started: Instant,
}

impl Outcome {
    fn ok(&self, status: u16, content: String) -> ToolOutcome {
        ToolOutcome {
            ok: true,
            content,
            duration: self.started.elapsed(),
            status: Some(status),
            failure: None,
        }
    }

    fn failed(&self, failure: ToolFailure, status: Option<u16>, message: &str) -> ToolOutcome {
        ToolOutcome {
            ok: false,
            content: json!({ "error": failure.as_str(), "message": message }).to_string(),
            duration: self.started.elapsed(),
            status,
            failure: Some(failure),
        }
    }
}

/// Runs tool calls; one per daemon (it holds the HTTP connection pool). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ToolExecutor {
    http: reqwest::Client,
}

/// The HTTP client could not be built (TLS backend failure).
#[derive(Debug, thiserror::Error)]
#[error("tool HTTP client could not be built: {0}")]
pub struct ToolExecutorError(#[source] reqwest::Error);

impl ToolExecutor {
    /// An executor with its own connection pool: no redirects, no cookies.
    ///
    /// # Errors
    /// [`ToolExecutorError`] if the TLS backend cannot be initialised.
    pub fn new() -> Result<Self, ToolExecutorError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vca-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ToolExecutorError)?;
        Ok(Self { http })
    }

    /// Runs `call` against `tool`. Never fails and never panics: every problem is an
    /// outcome with `ok: false` (see the module docs for the order of checks).
    pub async fn execute(
        &self,
        tool: &HttpTool,
        context: &ToolCallContext,
        call: &ToolCall,
    ) -> ToolOutcome {
        let outcome = Outcome {
            started: Instant::now(),
        };
        let result = self.run(tool, context, call, &outcome).await;
        match result.failure {
            None => tracing::debug!(
                tool = tool.name(),
                status = result.status,
                duration_ms = result.duration.as_millis(),
                "tool call answered"
            ),
            Some(failure) => tracing::info!(
                tool = tool.name(),
                failure = failure.as_str(),
                status = result.status,
                duration_ms = result.duration.as_millis(),
                "tool call failed"
            ),
        }
        result
    }

    async fn run(
        &self,
        tool: &HttpTool,
        context: &ToolCallContext,
        call: &ToolCall,
        outcome: &Outcome,
    ) -> ToolOutcome {
        if call.name != tool.name() {
            return outcome.failed(
                ToolFailure::UnknownTool,
                None,
                &format!("There is no tool named {:?} here.", shorten(&call.name, 64)),
            );
        }
        let arguments = match parse_arguments(&call.arguments) {
            Ok(arguments) => arguments,
            Err(detail) => {
                return outcome.failed(
                    ToolFailure::ArgumentsNotJson,
                    None,
                    &format!("The arguments are not valid JSON ({detail})."),
                );
            }
        };
        let problems: Vec<String> = tool
            .validator()
            .iter_errors(&arguments)
            .take(MAX_ARGUMENT_ERRORS)
            .map(|error| {
                let at = error.instance_path().to_string();
                let what = shorten(&error.to_string(), 160);
                if at.is_empty() {
                    what
                } else {
                    format!("{at}: {what}")
                }
            })
            .collect();
        if !problems.is_empty() {
            return outcome.failed(
                ToolFailure::InvalidArguments,
                None,
                &format!(
                    "The arguments do not match the tool's parameters: {}.",
                    problems.join("; ")
                ),
            );
        }
        let body = json!({
            "call_id": context.call_id,
            "tenant_id": context.tenant_id,
            "tool": tool.name(),
            "arguments": arguments,
            "caller": context.caller,
            "did": context.did,
        })
        .to_string();
        let signature = sign(
            tool.secret().expose().as_bytes(),
            unix_now(),
            body.as_bytes(),
        );
        let request = self
            .http
            .post(tool.url().clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                ACCEPT,
                HeaderValue::from_static("application/json, text/plain;q=0.9, */*;q=0.5"),
            )
            .header(SIGNATURE_HEADER, signature)
            .header(
                "Idempotency-Key",
                format!("{}:{}", context.call_id, call.id),
            )
            .body(body);
        let exchange = async {
            let response = request.send().await.map_err(|err| {
                if err.is_timeout() {
                    ToolFailure::Timeout
                } else {
                    ToolFailure::Unreachable
                }
            })?;
            let status = response.status().as_u16();
            if !response.status().is_success() {
                return Ok((status, None));
            }
            read_limited(response)
                .await
                .map(|body| (status, Some(body)))
        };
        let secs = tool.timeout().as_secs_f64();
        match tokio::time::timeout(tool.timeout(), exchange).await {
            Err(_) | Ok(Err(ToolFailure::Timeout)) => outcome.failed(
                ToolFailure::Timeout,
                None,
                &format!("The tool did not answer within {secs} seconds."),
            ),
            Ok(Err(ToolFailure::TooLarge)) => outcome.failed(
                ToolFailure::TooLarge,
                None,
                "The tool's answer was too large (more than 8 KiB).",
            ),
            Ok(Err(ToolFailure::Unreadable)) => outcome.failed(
                ToolFailure::Unreadable,
                None,
                "The tool's answer could not be read.",
            ),
            Ok(Err(_)) => outcome.failed(
                ToolFailure::Unreachable,
                None,
                "The tool could not be reached.",
            ),
            Ok(Ok((status, None))) => outcome.failed(
                ToolFailure::HttpStatus,
                Some(status),
                &format!("The tool failed (HTTP status {status})."),
            ),
            Ok(Ok((status, Some(bytes)))) => match String::from_utf8(bytes) {
                Ok(text) if text.trim().is_empty() => outcome.ok(status, EMPTY_RESULT.to_owned()),
                Ok(text) => outcome.ok(status, text.trim().to_owned()),
                Err(_) => outcome.failed(
                    ToolFailure::Unreadable,
                    Some(status),
                    "The tool's answer was not text.",
                ),
            },
        }
    }
}

/// The model's arguments: empty (some servers send `""` for a function without parameters)
/// is `{}`; otherwise JSON, or the parser's short position message.
fn parse_arguments(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(text).map_err(|err| shorten(&err.to_string(), 120))
}

/// The body, up to [`MAX_RESULT_BYTES`]; stops reading (and fails) past it.
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, ToolFailure> {
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_RESULT_BYTES as u64) {
        return Err(ToolFailure::TooLarge);
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESULT_BYTES {
                    return Err(ToolFailure::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(err) if err.is_timeout() => return Err(ToolFailure::Timeout),
            Err(_) => return Err(ToolFailure::Unreadable),
        }
    }
}
