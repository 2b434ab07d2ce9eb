//! One agent reply inside [`Conversation`](super::Conversation): the text as it streams in,
//! its sentences and where each one is (being synthesised, queued, playing, played or
//! skipped), and what the caller heard of it when it is cut short.

use std::time::{Duration, Instant};

use crate::engines::llm::ToolCall;
use crate::media::playout::{FlushReport, PlayoutId};
use crate::store::EndReason;

use super::action::ReplyId;
use super::heard::words_heard;
use super::sentences::SentenceSplitter;

/// Why a reply is spoken, which decides what happens once it has played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Purpose {
    /// The profile's greeting.
    Greeting,
    /// The model's answer to the caller's turn that ended at `caller_end_ms`.
    Answer {
        /// End of the caller's speech, ms from the answer.
        caller_end_ms: u64,
    },
    /// An answer whose text asked to end the call: the goodbye follows it.
    EndingAnswer {
        /// End of the caller's speech, ms from the answer.
        caller_end_ms: u64,
    },
    /// The model's answer after tools were called (its latency was counted before).
    Continuation,
    /// An apology (recognition failed, the model failed or was too slow), the last turn
    /// said again.
    Fallback,
    /// The filler line while a tool runs: heard by the caller, never part of the model's
    /// history (the model did not say it).
    Filler,
    /// What is said before handing the caller to a transfer target.
    Announce,
    /// The goodbye; the call ends for this reason once it has played.
    Goodbye(EndReason),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ClipState {
    /// Handed to the driver; speech synthesis runs.
    Synthesising,
    /// In the playout queue, not started.
    Queued { duration: Duration },
    /// Its first frame went out at `since`.
    Playing { since: Instant, duration: Duration },
    /// Sent completely.
    Played,
    /// Synthesis failed; nothing was queued.
    Skipped,
}

#[derive(Debug, Clone)]
struct Sentence {
    clip: PlayoutId,
    text: String,
    state: ClipState,
}

/// One reply and its sentences.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) id: ReplyId,
    pub(super) purpose: Purpose,
    splitter: SentenceSplitter,
    /// The model's text so far, end marker included.
    raw_text: String,
    text_done: bool,
    sentences: Vec<Sentence>,
    /// When its first sentence was queued for playout, ms from the answer.
    pub(super) started_ms: Option<u64>,
    /// An answer with no audio queued by then is replaced by the fallback line.
    pub(super) deadline: Option<Instant>,
    /// The tools the model asked for in this reply.
    pub(super) tool_calls: Vec<ToolCall>,
    /// Which model round of the caller's turn this is (1 = the first answer).
    pub(super) round: u8,
    /// Fixed text (greeting, fallback, goodbye, filler), not the model's.
    pub(super) fixed: bool,
}

impl Reply {
    /// A reply whose text the model will stream.
    pub(super) fn from_model(id: ReplyId, purpose: Purpose, deadline: Instant) -> Self {
        Reply {
            id,
            purpose,
            splitter: SentenceSplitter::new(),
            raw_text: String::new(),
            text_done: false,
            sentences: Vec::new(),
            started_ms: None,
            deadline: Some(deadline),
            tool_calls: Vec::new(),
            round: 1,
            fixed: false,
        }
    }

    /// A reply of fixed text, already split into sentences by the caller.
    pub(super) fn fixed(id: ReplyId, purpose: Purpose) -> Self {
        Reply {
            id,
            purpose,
            splitter: SentenceSplitter::new(),
            raw_text: String::new(),
            text_done: true,
            sentences: Vec::new(),
            started_ms: None,
            deadline: None,
            tool_calls: Vec::new(),
            round: 0,
            fixed: true,
        }
    }

    /// Adds streamed text; returns the sentences it completed, end marker removed.
    pub(super) fn push_text(&mut self, delta: &str, end_marker: &str) -> Vec<String> {
        self.raw_text.push_str(delta);
        self.splitter
            .push(delta)
            .into_iter()
            .map(|s| strip_marker(&s, end_marker))
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The model finished: the rest of the text as a last sentence, if any.
    pub(super) fn finish_text(&mut self, end_marker: &str) -> Option<String> {
        self.text_done = true;
        self.splitter
            .finish()
            .map(|s| strip_marker(&s, end_marker))
            .filter(|s| !s.is_empty())
    }

    /// The model stopped early: what it did say stands, the unfinished rest is dropped.
    pub(super) fn abandon_text(&mut self) {
        self.text_done = true;
    }

    /// Whether the model's text holds the end-of-call marker.
    pub(super) fn asks_to_end(&self, end_marker: &str) -> bool {
        !end_marker.is_empty() && self.raw_text.contains(end_marker)
    }

    /// A sentence handed to speech synthesis as `clip`.
    pub(super) fn add_sentence(&mut self, clip: PlayoutId, text: String) {
        self.sentences.push(Sentence {
            clip,
            text,
            state: ClipState::Synthesising,
        });
    }

    /// Whether any sentence was handed to speech synthesis.
    pub(super) fn has_sentences(&self) -> bool {
        !self.sentences.is_empty()
    }

    /// Whether `clip` is one of this reply's.
    pub(super) fn owns(&self, clip: PlayoutId) -> bool {
        self.sentences.iter().any(|s| s.clip == clip)
    }

    /// `clip` was queued for playout; its audio lasts `duration`.
    pub(super) fn clip_queued(&mut self, clip: PlayoutId, duration: Duration) {
        self.set(clip, |state| match state {
            ClipState::Synthesising => ClipState::Queued { duration },
            other => other,
        });
    }

    /// Synthesis of `clip` failed.
    pub(super) fn clip_skipped(&mut self, clip: PlayoutId) {
        self.set(clip, |state| match state {
            ClipState::Synthesising => ClipState::Skipped,
            other => other,
        });
    }

    /// The first frame of `clip` went out at `now`.
    pub(super) fn clip_started(&mut self, clip: PlayoutId, now: Instant) {
        self.set(clip, |state| match state {
            ClipState::Queued { duration } => ClipState::Playing {
                since: now,
                duration,
            },
            other => other,
        });
    }

    /// `clip` was sent completely.
    pub(super) fn clip_played(&mut self, clip: PlayoutId) {
        self.set(clip, |state| match state {
            ClipState::Skipped => ClipState::Skipped,
            _ => ClipState::Played,
        });
    }

    fn set(&mut self, clip: PlayoutId, f: impl FnOnce(ClipState) -> ClipState) {
        if let Some(s) = self.sentences.iter_mut().find(|s| s.clip == clip) {
            s.state = f(s.state);
        }
    }

    /// The text is complete and every sentence has played or was skipped.
    pub(super) fn is_complete(&self) -> bool {
        self.text_done
            && self
                .sentences
                .iter()
                .all(|s| matches!(s.state, ClipState::Played | ClipState::Skipped))
    }

    /// Whether it had sentences and speech synthesis failed for every one: the caller heard
    /// nothing of it.
    pub(super) fn all_skipped(&self) -> bool {
        !self.sentences.is_empty() && self.sentences.iter().all(|s| s.state == ClipState::Skipped)
    }

    /// What the caller heard of it at `now`: every sentence played in full, and the share
    /// of the one playing — from `flushed` when the media side reports it, else from the
    /// time it has been playing.
    pub(super) fn heard(&self, now: Instant, flushed: Option<&FlushReport>) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for s in &self.sentences {
            let share = match s.state {
                ClipState::Played => 1.0,
                ClipState::Playing { since, duration } => {
                    match flushed
                        .and_then(|f| f.interrupted)
                        .filter(|p| p.id == s.clip)
                    {
                        Some(p) => ratio(p.played_ms, p.total_ms),
                        None => ratio(
                            now.saturating_duration_since(since).as_millis() as u64,
                            duration.as_millis() as u64,
                        ),
                    }
                }
                _ => 0.0,
            };
            let words = words_heard(&s.text, share);
            if !words.is_empty() {
                parts.push(words);
            }
        }
        parts.join(" ")
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).clamp(0.0, 1.0)
    }
}

fn strip_marker(sentence: &str, end_marker: &str) -> String {
    if end_marker.is_empty() {
        sentence.trim().to_string()
    } else {
        sentence.replace(end_marker, " ").trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::playout::PartialPlayout;

    fn reply_with(sentences: &[(u64, &str)]) -> Reply {
        let mut r = Reply::fixed(ReplyId(1), Purpose::Greeting);
        for (clip, text) in sentences {
            r.add_sentence(PlayoutId(*clip), (*text).to_string());
        }
        r
    }

    #[test]
    fn heard_counts_played_sentences_and_the_share_of_the_playing_one() {
        let t0 = Instant::now();
        let mut r = reply_with(&[
            (1, "Hello there."),
            (2, "Our clinic opens at nine every day."),
            (3, "Anything else?"),
        ]);
        for clip in 1..=2 {
            r.clip_queued(PlayoutId(clip), Duration::from_millis(1000));
        }
        r.clip_started(PlayoutId(1), t0);
        r.clip_played(PlayoutId(1));
        r.clip_started(PlayoutId(2), t0 + Duration::from_millis(1000));
        let at = t0 + Duration::from_millis(1500);
        assert_eq!(r.heard(at, None), "Hello there. Our clinic opens");
        let report = FlushReport {
            interrupted: Some(PartialPlayout {
                id: PlayoutId(2),
                played_ms: 900,
                total_ms: 1000,
            }),
            not_started: vec![PlayoutId(3)],
        };
        assert_eq!(
            r.heard(at, Some(&report)),
            "Hello there. Our clinic opens at nine every"
        );
        assert!(!r.is_complete());
        r.clip_played(PlayoutId(2));
        r.clip_skipped(PlayoutId(3));
        assert!(r.is_complete());
    }

    #[test]
    fn model_text_is_split_and_the_marker_never_spoken() {
        let mut r = Reply::from_model(
            ReplyId(2),
            Purpose::Answer { caller_end_ms: 0 },
            Instant::now(),
        );
        assert_eq!(r.push_text("Fine. Bye [END", "[END_CALL]"), ["Fine."]);
        assert!(r.push_text("_CALL]", "[END_CALL]").is_empty());
        assert_eq!(r.finish_text("[END_CALL]").as_deref(), Some("Bye"));
        assert!(r.asks_to_end("[END_CALL]"));
        assert!(!r.asks_to_end(""));
    }
}
