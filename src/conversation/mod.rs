//! The conversation half of a call — what the agent says and when — as a sans-IO state
//! machine: no tokio, no IO, no clock. `call::live` drives it with the engines and media.
//!
//! - [`machine`]: [`Conversation`], the rules of one call's dialogue (greeting, turns,
//!   barge-in, fallbacks and their deadlines, limits, goodbye), fed with `handle_*` inputs
//!   and polled for [`Action`]s and its next deadline.
//! - [`action`]: what it asks the driver to do, and the ids that tie answers to requests.
//! - [`reply`]: one reply's sentences and where each is (synthesising, queued, playing).
//! - [`sentences`]: splitting a streamed reply into speakable sentences.
//! - [`heard`]: how much of a sentence cut short the caller heard.
//! - [`history`]: the bounded history sent to the model.
//! - [`profile`]: what the call runs with ([`AgentProfile`]).
//! - [`state`]: what is saved after each turn so a restarted daemon can continue.

pub mod action;
pub mod heard;
pub mod history;
pub mod machine;
pub mod profile;
mod reply;
pub mod sentences;
pub mod state;

#[cfg(test)]
mod tests;

pub use action::{Action, Observation, ReplyId, TurnRecord, UtteranceId};
pub use machine::{Activity, Conversation, Heard, RecognitionFailed, is_speech};
pub use profile::AgentProfile;
pub use state::ConversationState;
