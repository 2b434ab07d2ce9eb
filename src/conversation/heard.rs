//! What the caller heard of a sentence cut short: the share of it that was played,
//! rounded down to whole words.

/// The first words of `text` that fit in `share` (0.0-1.0) of it, counted in words.
pub fn words_heard(text: &str, share: f64) -> &str {
    let total = text.split_whitespace().count();
    let keep = ((total as f64) * share.clamp(0.0, 1.0)).floor() as usize;
    if keep == 0 {
        return "";
    }
    let mut end = 0;
    for (n, (start, word)) in word_spans(text).enumerate() {
        end = start + word.len();
        if n + 1 == keep {
            break;
        }
    }
    text.get(..end).map_or("", str::trim_start)
}

/// Each word of `text` with its byte offset.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace().map(move |word| {
        // `word` is a sub-slice of `text`, so the pointer difference is its offset.
        let start = word.as_ptr() as usize - text.as_ptr() as usize;
        (start, word)
    })
}

#[cfg(test)]
mod tests {
    use super::words_heard;

    #[test]
    fn keeps_whole_words_up_to_the_share() {
        let s = "Our clinic opens at nine every day.";
        assert_eq!(words_heard(s, 0.5), "Our clinic opens");
        assert_eq!(words_heard(s, 1.0), s);
        assert_eq!(words_heard(s, 0.1), "");
        assert_eq!(words_heard(s, 0.0), "");
        assert_eq!(words_heard("  नमस्ते आप कैसे हैं", 0.5), "नमस्ते आप");
        assert_eq!(words_heard("", 1.0), "");
    }
}
