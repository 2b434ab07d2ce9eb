//! The model's token vocabulary (`vocabulary.txt`, one token per line, line n = id n) and
//! the decoding of generated tokens back to text. Whisper uses GPT-2's byte-level BPE: every
//! byte is written as one printable character (`bytes_to_unicode`), so decoding maps each
//! character back to its byte and reads the bytes as UTF-8. Special tokens (`<|…|>`, at and
//! above `<|endoftext|>`) are never part of the text.
use std::collections::HashMap;
use std::path::Path;

use super::WhisperError;

/// Token strings by id, ids of the special tokens decoding needs.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    tokens: Vec<String>,
    ids: HashMap<String, usize>,
    /// `<|endoftext|>`: the first special token; every id from here up is not text.
    end_of_text: usize,
    /// GPT-2 byte-to-unicode table inverted: char → byte.
    char_to_byte: HashMap<char, u8>,
}

impl Vocabulary {
    /// Reads `vocabulary.txt`.
    pub fn load(path: &Path) -> Result<Self, WhisperError> {
        let text = std::fs::read_to_string(path).map_err(|source| WhisperError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_lines(text.lines())
    }

    /// A vocabulary from its lines (token n on line n).
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Self, WhisperError> {
        let tokens: Vec<String> = lines.into_iter().map(str::to_owned).collect();
        let ids: HashMap<String, usize> = tokens
            .iter()
            .enumerate()
            .map(|(id, token)| (token.clone(), id))
            .collect();
        let end_of_text = *ids
            .get("<|endoftext|>")
            .ok_or(WhisperError::MissingToken("<|endoftext|>"))?;
        Ok(Self {
            tokens,
            ids,
            end_of_text,
            char_to_byte: bytes_to_unicode()
                .into_iter()
                .map(|(byte, ch)| (ch, byte))
                .collect(),
        })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary is empty (never, once loaded: it has `<|endoftext|>`).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Multilingual Whisper vocabularies have 51865 tokens or more; English-only ones 51864.
    pub fn is_multilingual(&self) -> bool {
        self.tokens.len() >= 51_865
    }

    /// The id of `token`, if present.
    pub fn id(&self, token: &str) -> Option<usize> {
        self.ids.get(token).copied()
    }

    /// The token with `id`, if present.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.tokens.get(id).map(String::as_str)
    }

    /// Whether `id` is a special token (`<|endoftext|>` or later: task, language,
    /// timestamp tokens).
    pub fn is_special(&self, id: usize) -> bool {
        id >= self.end_of_text
    }

    /// The text of a generated token sequence: special tokens dropped, bytes reassembled,
    /// invalid UTF-8 replaced, surrounding whitespace trimmed.
    pub fn decode(&self, ids: &[usize]) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            if self.is_special(id) {
                continue;
            }
            let Some(token) = self.tokens.get(id) else {
                continue;
            };
            for ch in token.chars() {
                match self.char_to_byte.get(&ch) {
                    Some(&b) => bytes.push(b),
                    None => {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
        }
        String::from_utf8_lossy(&bytes).trim().to_owned()
    }
}

/// GPT-2's `bytes_to_unicode`: printable bytes stand for themselves, the other 68 bytes map
/// to U+0100 upwards in byte order.
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut out = Vec::with_capacity(256);
    let mut next = 256u32;
    for b in 0..=255u8 {
        if printable(b) {
            out.push((b, char::from(b)));
        } else {
            out.push((b, char::from_u32(next).unwrap_or('\u{FFFD}')));
            next += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary::from_lines([
            "Hello",
            "Ġworld",
            ",",
            "Ġcaf",
            "Ã©",
            "<|endoftext|>",
            "<|startoftranscript|>",
            "<|notimestamps|>",
        ])
        .unwrap()
    }

    #[test]
    fn byte_table_matches_gpt2() {
        let table = bytes_to_unicode();
        assert_eq!(table.len(), 256);
        assert_eq!(table[usize::from(b' ')].1, 'Ġ');
        assert_eq!(table[usize::from(b'\n')].1, 'Ċ');
        assert_eq!(table[usize::from(b'A')].1, 'A');
        assert_eq!(table[0xAD].1, '\u{143}');
    }

    #[test]
    fn decodes_byte_level_tokens_and_drops_specials() {
        let v = vocab();
        assert_eq!(v.decode(&[6, 0, 1, 2, 3, 4, 5]), "Hello world, café");
        assert!(v.is_special(5) && v.is_special(7) && !v.is_special(4));
        assert_eq!(v.id("<|notimestamps|>"), Some(7));
        assert!(!v.is_multilingual());
    }

    #[test]
    fn needs_end_of_text() {
        assert!(matches!(
            Vocabulary::from_lines(["a", "b"]),
            Err(WhisperError::MissingToken("<|endoftext|>"))
        ));
    }
}
