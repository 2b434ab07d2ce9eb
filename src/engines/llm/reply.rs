//! [`ReplyReader`]: the sans-IO reading of one streamed chat reply — SSE bytes in (split
//! anywhere), [`LlmEvent`]s out: text deltas, the tool calls assembled from their
//! fragments, then `Done` with the usage. The HTTP side only feeds it the body's chunks.

use std::collections::{BTreeMap, VecDeque};

use super::{LlmEvent, TokenUsage, ToolCall, ToolCallFragment, parse_chunk};
use crate::engines::sse::SseParser;

/// One reply being read: the SSE parser and the events parsed but not yet taken.
#[derive(Debug, Default)]
pub struct ReplyReader {
    parser: SseParser,
    pending: VecDeque<LlmEvent>,
    prompt_chars: usize,
    reply_chars: usize,
    usage: Option<TokenUsage>,
    finish_reason: Option<String>,
    /// Tool calls being assembled, by their `index`.
    calls: BTreeMap<u32, ToolCall>,
    done: bool,
}

impl ReplyReader {
    /// A reader for the reply to a prompt of `prompt_chars` characters (for the usage
    /// estimate when the provider sends none).
    pub fn new(prompt_chars: usize) -> Self {
        ReplyReader {
            prompt_chars,
            ..ReplyReader::default()
        }
    }

    /// Whether the reply is complete (`[DONE]`, or the end of a body that gave its
    /// `finish_reason`). Nothing is read after that.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether an event is waiting in [`Self::pop`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The next event, in order.
    pub fn pop(&mut self) -> Option<LlmEvent> {
        self.pending.pop_front()
    }

    /// Feeds a piece of the body.
    ///
    /// # Errors
    /// Why the body is not a chat stream: an endless line, a chunk that is not JSON, an
    /// error reported inside the stream.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.parser.push(bytes).map_err(|e| e.to_string())?;
        self.take_events()
    }

    /// The body ended.
    ///
    /// # Errors
    /// As [`Self::push`], and a body that ended before the reply was complete.
    pub fn end(&mut self) -> Result<(), String> {
        self.parser.finish();
        self.take_events()?;
        if !self.done {
            if self.finish_reason.is_some() {
                self.finish();
            } else {
                return Err("stream ended before the reply was complete".into());
            }
        }
        Ok(())
    }

    fn take_events(&mut self) -> Result<(), String> {
        while let Some(data) = self.parser.next_event() {
            if self.done {
                continue;
            }
            if data.trim() == "[DONE]" {
                self.finish();
                continue;
            }
            let chunk = parse_chunk(&data)?;
            if !chunk.content.is_empty() {
                self.reply_chars += chunk.content.chars().count();
                self.pending.push_back(LlmEvent::Delta(chunk.content));
            }
            for fragment in chunk.tool_calls {
                self.assemble(fragment);
            }
            if chunk.finish_reason.is_some() {
                self.finish_reason = chunk.finish_reason;
            }
            if chunk.usage.is_some() {
                self.usage = chunk.usage;
            }
        }
        Ok(())
    }

    /// Adds a piece of a tool call: the first `id` and `name` of an index stand (some servers
    /// repeat them on every piece), the arguments are concatenated.
    fn assemble(&mut self, fragment: ToolCallFragment) {
        let call = self
            .calls
            .entry(fragment.index)
            .or_insert_with(|| ToolCall {
                id: String::new(),
                name: String::new(),
                arguments: String::new(),
            });
        if call.id.is_empty()
            && let Some(id) = fragment.id
        {
            call.id = id;
        }
        if call.name.is_empty()
            && let Some(name) = fragment.name
        {
            call.name = name;
        }
        if let Some(piece) = fragment.arguments {
            self.reply_chars += piece.len();
            call.arguments.push_str(&piece);
        }
    }

    fn finish(&mut self) {
        self.done = true;
        if !self.calls.is_empty() {
            let calls = std::mem::take(&mut self.calls)
                .into_iter()
                .map(|(index, mut call)| {
                    if call.id.is_empty() {
                        call.id = format!("call_{index}");
                    }
                    call
                })
                .collect();
            self.pending.push_back(LlmEvent::ToolCalls(calls));
        }
        let usage = self
            .usage
            .unwrap_or_else(|| TokenUsage::estimate(self.prompt_chars, self.reply_chars));
        self.pending.push_back(LlmEvent::Done {
            usage,
            finish_reason: self.finish_reason.take(),
        });
    }
}
