//! What the caller actually heard of an agent reply cut short by barge-in: the
//! sentences played in full, plus the share of the interrupted sentence that was sent,
//! cut at a word boundary.

use crate::media::playout::{FlushReport, PlayoutId};

/// One sentence handed to playout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedSentence {
    /// Its playout clip.
    pub id: PlayoutId,
    /// Its text.
    pub text: String,
}

/// The text the caller heard, given the sentences queued in order, those that finished
/// playing, and (after a flush) the report of what was cut.
pub fn heard_text(
    queued: &[QueuedSentence],
    done: &[PlayoutId],
    flushed: Option<&FlushReport>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    for s in queued {
        if done.contains(&s.id) {
            parts.push(s.text.clone());
            continue;
        }
        if let Some(p) = flushed.and_then(|f| f.interrupted).filter(|p| p.id == s.id) {
            let share = if p.total_ms == 0 {
                0.0
            } else {
                p.played_ms as f64 / p.total_ms as f64
            };
            let words: Vec<&str> = s.text.split_whitespace().collect();
            let keep = (words.len() as f64 * share).floor() as usize;
            if keep > 0 {
                parts.push(words[..keep.min(words.len())].join(" "));
            }
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::playout::PartialPlayout;

    fn q(id: u64, text: &str) -> QueuedSentence {
        QueuedSentence {
            id: PlayoutId(id),
            text: text.into(),
        }
    }

    #[test]
    fn keeps_played_sentences_and_the_heard_share() {
        let queued = [
            q(1, "Hello there."),
            q(2, "Our clinic opens at nine every day."),
            q(3, "Anything else?"),
        ];
        let report = FlushReport {
            interrupted: Some(PartialPlayout {
                id: PlayoutId(2),
                played_ms: 500,
                total_ms: 1000,
            }),
            not_started: vec![PlayoutId(3)],
        };
        assert_eq!(
            heard_text(&queued, &[PlayoutId(1)], Some(&report)),
            "Hello there. Our clinic opens"
        );
        assert_eq!(heard_text(&queued, &[], None), "");
        assert_eq!(
            heard_text(&queued, &[PlayoutId(1), PlayoutId(2), PlayoutId(3)], None),
            "Hello there. Our clinic opens at nine every day. Anything else?"
        );
    }
}
