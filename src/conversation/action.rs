//! What [`Conversation`](super::Conversation) asks its driver to do ([`Action`]), what it
//! reports for metrics ([`Observation`]), and the ids that tie inputs to earlier actions.

use crate::engines::llm::{ChatRequest, ToolCall};
use crate::language::LanguageTag;
use crate::media::playout::PlayoutId;
use crate::store::EndReason;
use crate::store::transcript::UsageDelta;

use super::history::Speaker;

/// One utterance of the caller, from the moment the media side ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtteranceId(pub u64);

/// One reply of the agent (the model's answer, the greeting, a fixed line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyId(pub u64);

/// A transcript row to write, with offsets in ms from the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnRecord {
    /// Its `seq` in the call's transcript.
    pub seq: i32,
    /// Who spoke.
    pub speaker: Speaker,
    /// What was said (for an interrupted agent turn: what was heard).
    pub text: String,
    /// When it started.
    pub start_ms: u64,
    /// When it ended.
    pub end_ms: u64,
    /// The caller cut the agent short.
    pub interrupted: bool,
}

/// Something worth counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// A caller turn was taken (a non-empty transcript).
    Turn,
    /// End of the caller's speech → the reply's first audio queued, in ms.
    TurnLatency(u64),
    /// The caller talked over the agent and the reply was cut.
    BargeIn,
    /// A fallback line was spoken, or a sentence skipped (`stt`, `llm`, `llm_slow`, `tts_skip`).
    Fallback(&'static str),
    /// A key the profile maps was pressed (`transfer`, `hangup`, `repeat`).
    Key(&'static str),
}

/// What the driver must do, in the order given.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Transcribe this utterance (the driver holds its audio); answer with
    /// [`Conversation::handle_transcript`](super::Conversation::handle_transcript).
    Recognise {
        /// The utterance.
        utterance: UtteranceId,
    },
    /// Ask the language model; stream its text into `handle_reply_text`, then
    /// `handle_reply_done` or `handle_reply_failed`.
    StartReply {
        /// The reply the text belongs to.
        reply: ReplyId,
        /// The request.
        request: ChatRequest,
    },
    /// Stop everything of this reply: the model stream and any sentence not yet queued
    /// for playout. Later inputs about it are ignored anyway.
    CancelReply {
        /// The reply.
        reply: ReplyId,
    },
    /// Synthesise this sentence and queue it for playout as `clip`; then
    /// `handle_clip_queued` (or `handle_clip_failed`). Sentences of one reply are spoken
    /// in the order given.
    Speak {
        /// The reply the sentence belongs to.
        reply: ReplyId,
        /// The playout clip to queue it as.
        clip: PlayoutId,
        /// The text.
        text: String,
        /// The language to speak it in (voice and pronunciation follow).
        language: LanguageTag,
        /// A fixed line (greeting, fallback, goodbye, filler), not the model's words: its
        /// audio may be kept and spoken again.
        fixed: bool,
    },
    /// Drop all queued agent audio at once. What was heard is already accounted for.
    Flush,
    /// Write a transcript row.
    WriteTurn(TurnRecord),
    /// Add to the call's counters.
    AddUsage(UsageDelta),
    /// Save [`Conversation::state`](super::Conversation::state) (Redis), so a restarted
    /// daemon can continue the call.
    SaveState,
    /// Count this.
    Observe(Observation),
    /// Run this tenant tool (its arguments as the model wrote them); answer with
    /// [`Conversation::handle_tool_result`](super::Conversation::handle_tool_result).
    CallTool(ToolCall),
    /// Hand the caller to this transfer target; the announce has been spoken. Answer with
    /// `handle_transfer_failed` (the conversation goes on) or `handle_transfer_done`.
    Transfer {
        /// The target's name.
        target: String,
    },
    /// Record a call event.
    Event {
        /// Its kind (`transfer_requested`, `keypad`, …).
        kind: &'static str,
        /// Its details.
        details: serde_json::Value,
    },
    /// The conversation is over: hang the call up for this reason. Nothing follows.
    HangUp(EndReason),
}
