//! Tenant HTTP tools: what runs when the language model calls one of a business's own
//! functions during a call (issue 12, "Tool calls"). Not wired into the call path here; the
//! conversation layer owns when to call and what to say meanwhile.
//!
//! - [`tool`]: [`ToolDefinition`] (name, URL, timeout ≤ 10 s, secret, JSON Schema
//!   `parameters`) checked and compiled once into an [`HttpTool`]; [`compile_parameters`]
//!   validates a schema on its own (for the admin API).
//! - [`executor`]: [`ToolExecutor::execute`] — one model [`ToolCall`] in a
//!   [`ToolCallContext`] → one [`ToolOutcome`] (`ok`, `content` for the `role: "tool"`
//!   message, `duration`, `status`, `failure`). Arguments validated first (no request when
//!   they are wrong), a signed POST with an idempotency key, an 8 KiB result limit, no
//!   retries, and error results the model can talk about.
//! - [`signature`]: `X-VCA-Signature` — [`sign`] and [`verify`], for the executor, test
//!   receivers and (later) webhooks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use vca_bridge::secret::Secret;
//! use vca_bridge::tools::{HttpTool, ToolCall, ToolCallContext, ToolDefinition, ToolExecutor};
//!
//! let tool = HttpTool::new(&ToolDefinition {
//!     name: "book_table".into(),
//!     url: "https://bistro.example/vca/book".into(),
//!     timeout: Duration::from_secs(3),
//!     secret: Secret::new("whsec_…"),
//!     parameters: serde_json::json!({
//!         "type": "object",
//!         "properties": {"party_size": {"type": "integer", "minimum": 1}, "time": {"type": "string"}},
//!         "required": ["party_size", "time"]
//!     }),
//! })?;
//! let executor = ToolExecutor::new()?;
//! let outcome = executor
//!     .execute(
//!         &tool,
//!         &ToolCallContext {
//!             call_id: uuid::Uuid::new_v4(),
//!             tenant_id: uuid::Uuid::new_v4(),
//!             caller: "+15551234567".into(),
//!             did: "+15559876543".into(),
//!         },
//!         &ToolCall {
//!             id: "call_1".into(),
//!             name: "book_table".into(),
//!             arguments: r#"{"party_size":4,"time":"19:00"}"#.into(),
//!         },
//!     )
//!     .await;
//! // `outcome.content` goes back to the model as the tool message, ok or not.
//! # let _ = outcome;
//! # Ok(())
//! # }
//! ```
pub mod executor;
pub mod signature;
pub mod tool;

pub use executor::{
    EMPTY_RESULT, MAX_RESULT_BYTES, ToolCall, ToolCallContext, ToolExecutor, ToolExecutorError,
    ToolFailure, ToolOutcome,
};
pub use signature::{SIGNATURE_HEADER, sign, verify, verify_at};
pub use tool::{
    HttpTool, MAX_TOOL_TIMEOUT, ToolDefinition, ToolDefinitionError, compile_parameters,
};
