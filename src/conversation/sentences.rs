//! Splits a reply streaming in from the language model into sentences, so each can be
//! spoken as soon as it is complete: the first audio leaves long before the reply ends.

/// A sentence longer than this is cut at its last comma or space, so speech starts
/// even when the model writes one long sentence.
const MAX_SENTENCE_CHARS: usize = 220;
/// A first piece at least this long may be cut at a comma, to speak sooner.
const EARLY_CUT_CHARS: usize = 80;

/// Collects text deltas and yields complete sentences.
#[derive(Debug, Default)]
pub struct SentenceSplitter {
    pending: String,
    emitted_any: bool,
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '।' | '\n')
}

impl SentenceSplitter {
    /// An empty splitter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a delta; returns the sentences it completed, trimmed and non-empty.
    pub fn push(&mut self, delta: &str) -> Vec<String> {
        self.pending.push_str(delta);
        let mut out = Vec::new();
        while let Some(cut) = self.next_cut() {
            let rest = self.pending.split_off(cut);
            let sentence = std::mem::replace(&mut self.pending, rest);
            let sentence = sentence.trim();
            if !sentence.is_empty() {
                out.push(sentence.to_string());
                self.emitted_any = true;
            }
        }
        out
    }

    /// The end of the reply: whatever is left, as a last sentence.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_string())
    }

    /// Byte index just after the next sentence end, if the pending text holds one.
    fn next_cut(&self) -> Option<usize> {
        let text = self.pending.as_str();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if is_terminal(c) {
                // A terminal followed by white space (or a newline itself) ends a sentence;
                // "3.5" and "e.g.x" do not. Wait for the next char before deciding.
                match chars.peek() {
                    Some((_, next)) if next.is_whitespace() || c == '\n' => {
                        return Some(i + c.len_utf8());
                    }
                    Some(_) => {}
                    None if c == '\n' => return Some(i + c.len_utf8()),
                    None => return None,
                }
            }
        }
        let len = text.chars().count();
        let limit = if self.emitted_any {
            MAX_SENTENCE_CHARS
        } else {
            EARLY_CUT_CHARS
        };
        if len >= limit {
            if let Some(i) = text.rfind(", ") {
                return Some(i + 1);
            }
            if len >= MAX_SENTENCE_CHARS {
                return text.rfind(' ').map(|i| i + 1);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(deltas: &[&str]) -> Vec<String> {
        let mut s = SentenceSplitter::new();
        let mut out = Vec::new();
        for d in deltas {
            out.extend(s.push(d));
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn splits_on_sentence_ends_across_deltas() {
        assert_eq!(
            split(&[
                "Hello",
                " there. How",
                " are you",
                "? I am",
                " fine!",
                " Bye"
            ]),
            ["Hello there.", "How are you?", "I am fine!", "Bye"]
        );
    }

    #[test]
    fn numbers_and_abbreviations_do_not_split() {
        assert_eq!(
            split(&["It costs 3.5 rupees.", " OK"]),
            ["It costs 3.5 rupees.", "OK"]
        );
    }

    #[test]
    fn waits_for_the_character_after_a_full_stop() {
        let mut s = SentenceSplitter::new();
        assert!(s.push("Done.").is_empty());
        assert_eq!(s.push(" Next"), ["Done."]);
    }

    #[test]
    fn long_first_sentence_is_cut_at_a_comma() {
        let long = "When you arrive at the clinic tomorrow morning, please bring your insurance card, and also your ID";
        let out = split(&[long]);
        assert!(out.len() >= 2, "{out:?}");
        assert!(out[0].ends_with(','));
    }

    #[test]
    fn empty_and_whitespace_yield_nothing() {
        assert!(split(&["", "  ", "\n"]).is_empty());
    }
}
