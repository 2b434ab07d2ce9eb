//! Splits a reply streaming in from the language model into sentences, so each can be
//! spoken as soon as it is complete: the first audio leaves long before the reply ends.
//!
//! A sentence ends at `.`, `!`, `?` (and their full-width forms) followed by white space,
//! at a newline, and at the danda `।` and double danda `॥` of Devanagari, Bengali, Odia
//! and Gurmukhi text, even with no space after them. Tamil, Telugu, Kannada, Malayalam and
//! Gujarati end sentences with `.` as English does. Decimal numbers (`3.5`, `३.५`),
//! abbreviations (`Dr.`, `Rs.`, `e.g.`, initials) and Hinglish stay in one piece.

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
    matches!(c, '.' | '!' | '?' | '।' | '॥' | '？' | '！' | '\n')
}

/// A terminal that ends a sentence whatever follows it.
fn ends_outright(c: char) -> bool {
    matches!(c, '।' | '॥' | '\n')
}

/// Words a full stop follows without ending the sentence, lower case. ("No." is not one:
/// it is a whole answer far more often than a number's prefix.)
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "rs", "vs", "etc", "e.g", "i.e", "approx",
    "dept", "govt", "ltd", "pvt", "inc", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "ft", "ph", "tel", "ext", "smt", "shri",
    "sh",
];

/// Whether the `.` at byte `dot` of `text` ends an abbreviation or an initial.
fn is_abbreviation(text: &str, dot: usize) -> bool {
    let word = text[..dot]
        .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"')
        .next()
        .unwrap_or("");
    let lower = word.to_lowercase();
    let single_initial = word.chars().count() == 1 && word.chars().all(|c| c.is_uppercase());
    single_initial || ABBREVIATIONS.contains(&lower.as_str())
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
            if ends_outright(c) {
                // A danda may be followed by a quote or another danda: take those along.
                let mut end = i + c.len_utf8();
                while let Some((j, next)) = chars.peek().copied() {
                    if matches!(next, '।' | '॥' | '"' | '”' | '\'' | ')') {
                        end = j + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                return Some(end);
            }
            if is_terminal(c) {
                // A terminal followed by white space ends a sentence; "3.5", "e.g.x" and
                // "Dr. Rao" do not. Wait for the next char before deciding.
                match chars.peek() {
                    Some((_, next)) if next.is_whitespace() => {
                        if c == '.' && is_abbreviation(text, i) {
                            continue;
                        }
                        return Some(i + c.len_utf8());
                    }
                    Some(_) => {}
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
    fn dandas_end_sentences_even_without_a_space() {
        assert_eq!(
            split(&["नमस्ते। आपकी", " क्या मदद करूँ?", " कल।अब बताइए॥ ठीक"]),
            ["नमस्ते।", "आपकी क्या मदद करूँ?", "कल।", "अब बताइए॥", "ठीक"]
        );
        assert_eq!(split(&["আমি ভালো আছি। ধন্যবাদ"]), ["আমি ভালো আছি।", "ধন্যবাদ"]);
        assert_eq!(split(&["ਸਤ ਸ੍ਰੀ ਅਕਾਲ। ਜੀ"]), ["ਸਤ ਸ੍ਰੀ ਅਕਾਲ।", "ਜੀ"]);
    }

    #[test]
    fn a_danda_takes_its_closing_quote_along() {
        assert_eq!(
            split(&["उसने कहा \"ठीक है।\" फिर"]),
            ["उसने कहा \"ठीक है।\"", "फिर"]
        );
    }

    #[test]
    fn scripts_that_end_with_a_full_stop() {
        assert_eq!(
            split(&["வணக்கம். நான் உதவுகிறேன்."]),
            ["வணக்கம்.", "நான் உதவுகிறேன்."]
        );
        assert_eq!(split(&["నమస్కారం! ఎలా ఉన్నారు?"]), ["నమస్కారం!", "ఎలా ఉన్నారు?"]);
        assert_eq!(split(&["ನಮಸ್ಕಾರ. ಹೇಳಿ"]), ["ನಮಸ್ಕಾರ.", "ಹೇಳಿ"]);
        assert_eq!(split(&["നമസ്കാരം. പറയൂ"]), ["നമസ്കാരം.", "പറയൂ"]);
        assert_eq!(split(&["નમસ્તે. કહો"]), ["નમસ્તે.", "કહો"]);
        assert_eq!(split(&["你好？ 好！ 了"]), ["你好？", "好！", "了"]);
    }

    #[test]
    fn abbreviations_initials_and_numbers_stay_whole() {
        assert_eq!(
            split(&["Dr. Rao sees you at 4 p.m. tomorrow. The fee is Rs. 500."]),
            [
                "Dr. Rao sees you at 4 p.m. tomorrow.",
                "The fee is Rs. 500."
            ]
        );
        assert_eq!(
            split(&["A. P. J. Abdul Kalam was born in 1931. Next"]),
            ["A. P. J. Abdul Kalam was born in 1931.", "Next"]
        );
        assert_eq!(split(&["कीमत ३.५ लाख है। ठीक"]), ["कीमत ३.५ लाख है।", "ठीक"]);
    }

    #[test]
    fn hinglish_stays_in_one_piece() {
        assert_eq!(
            split(&["Aapka table kal 8 baje ke liye book ho gaya hai. Kuch aur?"]),
            [
                "Aapka table kal 8 baje ke liye book ho gaya hai.",
                "Kuch aur?"
            ]
        );
        assert_eq!(
            split(&["आपका table कल 8 बजे के लिए book हो गया है। और कुछ?"]),
            ["आपका table कल 8 बजे के लिए book हो गया है।", "और कुछ?"]
        );
    }

    #[test]
    fn empty_and_whitespace_yield_nothing() {
        assert!(split(&["", "  ", "\n"]).is_empty());
    }
}
