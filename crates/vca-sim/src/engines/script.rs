//! Scripted replies: what the next requests to a route get instead of the documented
//! success, queued by a test and taken one per request (then back to [`Reply::Normal`]).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use super::lock;

/// What to do with the next request to a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The documented success response.
    Normal,
    /// An error status, with `Retry-After` if given.
    Status {
        /// The status.
        status: u16,
        /// The `Retry-After` value.
        retry_after: Option<String>,
    },
    /// Wait this long before answering at all (slow first byte).
    SlowStart(Duration),
    /// Send this many body pieces, then never send more (the connection stays open).
    HangAfter(usize),
    /// Send this many body pieces, then drop the connection mid-body.
    CutAfter(usize),
    /// Wait this long between body pieces.
    Trickle(Duration),
    /// A 200 whose content is malformed (bad JSON in SSE or in the transcription).
    BadJson,
    /// Chat: a reply of this text instead of the configured one; transcriptions: this
    /// transcript.
    Text(String),
    /// Chat only: `before` as text, then these tool calls (name, arguments), streamed as
    /// OpenAI does — `id` and `name` on the first fragment of each `index`, the arguments
    /// in several pieces across chunks — ending with `finish_reason: "tool_calls"`.
    ToolCalls {
        /// Text streamed before the calls (may be empty).
        before: String,
        /// Each call's function name and arguments (a JSON text).
        calls: Vec<(String, String)>,
    },
}

/// The queued replies of every route.
#[derive(Debug)]
pub(crate) struct Scripts<K> {
    queues: Mutex<HashMap<K, VecDeque<Reply>>>,
}

impl<K> Default for Scripts<K> {
    fn default() -> Self {
        Scripts {
            queues: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash> Scripts<K> {
    /// Queues `replies` for the next requests to `route`.
    pub(crate) fn push(&self, route: K, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.queues).entry(route).or_default().extend(replies);
    }

    /// The reply for this request to `route`.
    pub(crate) fn next(&self, route: &K) -> Reply {
        lock(&self.queues)
            .get_mut(route)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Reply::Normal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_taken_in_order_then_normal() {
        let scripts = Scripts::default();
        scripts.push("chat", [Reply::BadJson, Reply::HangAfter(2)]);
        assert_eq!(scripts.next(&"speech"), Reply::Normal);
        assert_eq!(scripts.next(&"chat"), Reply::BadJson);
        assert_eq!(scripts.next(&"chat"), Reply::HangAfter(2));
        assert_eq!(scripts.next(&"chat"), Reply::Normal);
    }
}
