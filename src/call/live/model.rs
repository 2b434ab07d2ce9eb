//! One reply of the language model as the call's task sees it: the request until its first
//! token, then the stream of text. Dropping it cancels the request (barge-in).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;

use crate::conversation::ReplyId;
use crate::engines::EngineError;
use crate::engines::llm::{ChatCompletion, ChatRequest, LlmEvent, LlmStream, TokenUsage, ToolCall};

type Opening = Pin<Box<dyn Future<Output = Result<LlmStream, EngineError>> + Send>>;

enum Stage {
    Opening(Opening),
    Streaming(LlmStream),
    Over,
}

/// What the model gave next.
#[derive(Debug)]
pub(crate) enum ModelOutput {
    /// More text.
    Text(String),
    /// The model asks for tools to be called; `Done` follows.
    ToolCalls(Vec<ToolCall>),
    /// The reply is complete.
    Done(TokenUsage),
    /// It failed; nothing more follows.
    Failed(EngineError),
}

/// A model reply in flight.
pub(crate) struct ModelReply {
    pub(crate) id: ReplyId,
    stage: Stage,
}

impl ModelReply {
    /// Sends `request` to `llm` for reply `id`.
    pub(crate) fn start(llm: Arc<dyn ChatCompletion>, id: ReplyId, request: ChatRequest) -> Self {
        ModelReply {
            id,
            stage: Stage::Opening(Box::pin(async move { llm.stream_chat(request).await })),
        }
    }

    /// The next output; pending once it is over. Cancel-safe.
    pub(crate) async fn next(&mut self) -> ModelOutput {
        loop {
            match &mut self.stage {
                Stage::Opening(opening) => match opening.await {
                    Ok(stream) => self.stage = Stage::Streaming(stream),
                    Err(e) => {
                        self.stage = Stage::Over;
                        return ModelOutput::Failed(e);
                    }
                },
                Stage::Streaming(stream) => match stream.next().await {
                    Some(Ok(LlmEvent::Delta(text))) => return ModelOutput::Text(text),
                    Some(Ok(LlmEvent::ToolCalls(calls))) => return ModelOutput::ToolCalls(calls),
                    Some(Ok(LlmEvent::Done { usage, .. })) => {
                        self.stage = Stage::Over;
                        return ModelOutput::Done(usage);
                    }
                    Some(Err(e)) => {
                        self.stage = Stage::Over;
                        return ModelOutput::Failed(e);
                    }
                    None => {
                        self.stage = Stage::Over;
                        return ModelOutput::Failed(EngineError::Protocol {
                            provider: "llm",
                            detail: "the reply stream ended without its end".into(),
                        });
                    }
                },
                Stage::Over => return std::future::pending().await,
            }
        }
    }
}
