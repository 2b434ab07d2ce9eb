//! Every line the daemon speaks by itself — not the model's words — in each language
//! ([`Line`], [`builtin`]), and a profile's own wording of them ([`LineBook`], from the
//! profile's `lines`). English and Hindi are complete; another language without its own
//! wording of a line speaks the English one, or the profile's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::tag::{Language, LanguageError, LanguageTag};

/// A line the daemon speaks by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Line {
    /// The greeting of a profile that has not set its own.
    Greeting,
    /// Spoken before the agent hangs up (a goodbye, the last turn, a shutdown).
    Goodbye,
    /// Spoken when speech recognition gave nothing.
    SttRetry,
    /// Spoken when the language model fails or is too slow.
    LlmFallback,
    /// Spoken before hanging up at the profile's maximum duration.
    MaxDuration,
    /// Spoken before a transfer whose target has no `announce`.
    TransferAnnounce,
    /// Spoken when a transfer failed; the conversation goes on.
    NobodyAvailable,
    /// Spoken once when a tool has not answered in a moment.
    ToolFiller,
    /// Spoken first when the call is recorded.
    RecordingNotice,
}

impl Line {
    /// Every line.
    pub const ALL: [Line; 9] = [
        Line::Greeting,
        Line::Goodbye,
        Line::SttRetry,
        Line::LlmFallback,
        Line::MaxDuration,
        Line::TransferAnnounce,
        Line::NobodyAvailable,
        Line::ToolFiller,
        Line::RecordingNotice,
    ];

    /// Its key in a profile's `lines`.
    pub fn key(self) -> &'static str {
        match self {
            Line::Greeting => "greeting",
            Line::Goodbye => "goodbye",
            Line::SttRetry => "stt_retry",
            Line::LlmFallback => "llm_fallback",
            Line::MaxDuration => "max_duration",
            Line::TransferAnnounce => "transfer_announce",
            Line::NobodyAvailable => "nobody_available",
            Line::ToolFiller => "tool_filler",
            Line::RecordingNotice => "recording_notice",
        }
    }

    /// The line a key names.
    pub fn from_key(key: &str) -> Option<Line> {
        Line::ALL.into_iter().find(|l| l.key() == key)
    }
}

/// The daemon's own wording of `line` in `language` (English where it has none).
pub fn builtin(line: Line, language: Language) -> &'static str {
    match language {
        Language::Hindi => hindi(line),
        _ => english(line),
    }
}

/// Whether the daemon has its own wording of every line in `language`.
pub fn is_complete(language: Language) -> bool {
    matches!(language, Language::English | Language::Hindi)
}

fn english(line: Line) -> &'static str {
    match line {
        Line::Greeting => "Hello! How can I help you today?",
        Line::Goodbye => "Thank you for calling. Goodbye!",
        Line::SttRetry => "Sorry, I didn't catch that. Could you say it again?",
        Line::LlmFallback => {
            "I'm sorry, I'm having trouble answering right now. Could you say that again?"
        }
        Line::MaxDuration => {
            "We have reached the time limit for this call. Thank you for calling. Goodbye!"
        }
        Line::TransferAnnounce => "Please hold while I connect you.",
        Line::NobodyAvailable => {
            "I'm sorry, nobody is available to take your call right now. Is there anything else I can help you with?"
        }
        Line::ToolFiller => "One moment, please.",
        Line::RecordingNotice => "This call is being recorded.",
    }
}

// Worded so that no line depends on whether the agent's voice is a man's or a woman's.
fn hindi(line: Line) -> &'static str {
    match line {
        Line::Greeting => "नमस्ते! बताइए, आज मैं आपकी क्या मदद करूँ?",
        Line::Goodbye => "कॉल करने के लिए धन्यवाद। नमस्ते!",
        Line::SttRetry => "माफ़ कीजिए, मुझे ठीक से सुनाई नहीं दिया। क्या आप फिर से बोलेंगे?",
        Line::LlmFallback => "माफ़ कीजिए, अभी जवाब देने में दिक्कत हो रही है। क्या आप फिर से बोलेंगे?",
        Line::MaxDuration => "इस कॉल का समय पूरा हो गया है। कॉल करने के लिए धन्यवाद। नमस्ते!",
        Line::TransferAnnounce => "कृपया लाइन पर बने रहिए, आपकी कॉल जोड़ी जा रही है।",
        Line::NobodyAvailable => {
            "माफ़ कीजिए, अभी कोई भी कॉल लेने के लिए उपलब्ध नहीं है। क्या आपको कोई और मदद चाहिए?"
        }
        Line::ToolFiller => "एक पल रुकिए।",
        Line::RecordingNotice => "यह कॉल रिकॉर्ड की जा रही है।",
    }
}

/// A profile's wording of one line, as written in its `lines`: one text for the profile's
/// language, or a text per language tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LineText {
    /// For the profile's `language`.
    One(String),
    /// Per language (`{"hi-IN": "…", "en": "…"}`).
    PerLanguage(BTreeMap<String, String>),
}

/// The longest line a profile may set, in characters.
pub const MAX_LINE_CHARS: usize = 500;

/// Why a profile's `lines` are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinesError {
    /// Not one of [`Line::key`].
    #[error(
        "lines: {0:?} is not a line; use goodbye, stt_retry, llm_fallback, max_duration, \
         transfer_announce, nobody_available, tool_filler or recording_notice"
    )]
    UnknownLine(String),
    /// `greeting`: the profile's own `greeting` field says it.
    #[error("lines: the greeting is the profile's `greeting` field, not one of its lines")]
    Greeting,
    /// A language key that is not a supported tag.
    #[error("lines.{line}: {error}")]
    Language {
        /// The line.
        line: String,
        /// What is wrong with its key.
        error: LanguageError,
    },
    /// Empty, only white space, or longer than [`MAX_LINE_CHARS`].
    #[error("lines.{0}: each text must be 1 to 500 characters")]
    Length(String),
    /// The same language twice under one line (`hi` and `hi-IN`).
    #[error("lines.{0}: a language is given twice")]
    Duplicate(String),
}

/// The lines of one call's profile: its own wording where it has one, the daemon's
/// otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineBook {
    own: BTreeMap<(Line, Language), String>,
}

impl LineBook {
    /// The daemon's wording of every line.
    pub fn builtin() -> LineBook {
        LineBook::default()
    }

    /// A profile's `lines`, checked; a bare text is for `language` (the profile's).
    pub fn parse(
        lines: &BTreeMap<String, LineText>,
        language: &LanguageTag,
    ) -> Result<LineBook, LinesError> {
        let mut own = BTreeMap::new();
        for (key, text) in lines {
            let line = Line::from_key(key).ok_or_else(|| LinesError::UnknownLine(key.clone()))?;
            if line == Line::Greeting {
                return Err(LinesError::Greeting);
            }
            let texts: Vec<(Language, &String)> = match text {
                LineText::One(text) => vec![(language.language(), text)],
                LineText::PerLanguage(per) => per
                    .iter()
                    .map(|(tag, text)| {
                        LanguageTag::parse(tag)
                            .map(|t| (t.language(), text))
                            .map_err(|error| LinesError::Language {
                                line: key.clone(),
                                error,
                            })
                    })
                    .collect::<Result<_, _>>()?,
            };
            for (lang, text) in texts {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > MAX_LINE_CHARS {
                    return Err(LinesError::Length(key.clone()));
                }
                if own.insert((line, lang), text.to_string()).is_some() {
                    return Err(LinesError::Duplicate(key.clone()));
                }
            }
        }
        Ok(LineBook { own })
    }

    /// `line` in `language`: the profile's wording, else the daemon's.
    pub fn get(&self, line: Line, language: Language) -> &str {
        self.own
            .get(&(line, language))
            .map(String::as_str)
            .unwrap_or_else(|| builtin(line, language))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(json: serde_json::Value) -> BTreeMap<String, LineText> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn english_and_hindi_have_every_line() {
        for line in Line::ALL {
            let en = builtin(line, Language::English);
            let hi = builtin(line, Language::Hindi);
            assert!(!en.is_empty() && !hi.is_empty());
            assert_ne!(en, hi, "{line:?}");
            assert!(
                hi.chars().any(|c| ('\u{0900}'..='\u{097F}').contains(&c)),
                "{line:?} is in Devanagari"
            );
            assert_eq!(Line::from_key(line.key()), Some(line));
        }
        assert!(is_complete(Language::Hindi));
        assert_eq!(
            builtin(Line::Goodbye, Language::Tamil),
            builtin(Line::Goodbye, Language::English)
        );
    }

    #[test]
    fn a_profile_s_wording_wins_in_its_language_only() {
        let hi = LanguageTag::parse("hi-IN").unwrap();
        let book = LineBook::parse(
            &lines(serde_json::json!({
                "goodbye": "फिर मिलेंगे!",
                "stt_retry": {"en-IN": "Pardon?", "hi": "जी, फिर से?"},
            })),
            &hi,
        )
        .unwrap();
        assert_eq!(book.get(Line::Goodbye, Language::Hindi), "फिर मिलेंगे!");
        assert_eq!(
            book.get(Line::Goodbye, Language::English),
            builtin(Line::Goodbye, Language::English)
        );
        assert_eq!(book.get(Line::SttRetry, Language::English), "Pardon?");
        assert_eq!(book.get(Line::SttRetry, Language::Hindi), "जी, फिर से?");
        assert_eq!(book.get(Line::ToolFiller, Language::Hindi), "एक पल रुकिए।");
    }

    #[test]
    fn bad_lines_are_named() {
        let en = LanguageTag::english();
        let err = |json| LineBook::parse(&lines(json), &en).unwrap_err();
        assert_eq!(
            err(serde_json::json!({"farewell": "x"})),
            LinesError::UnknownLine("farewell".into())
        );
        assert!(matches!(
            err(serde_json::json!({"goodbye": {"fr": "Au revoir"}})),
            LinesError::Language { .. }
        ));
        assert_eq!(
            err(serde_json::json!({"goodbye": "  "})),
            LinesError::Length("goodbye".into())
        );
        assert_eq!(
            err(serde_json::json!({"greeting": "Hi"})),
            LinesError::Greeting
        );
        assert_eq!(
            err(serde_json::json!({"goodbye": "x".repeat(501)})),
            LinesError::Length("goodbye".into())
        );
        assert_eq!(
            err(serde_json::json!({"goodbye": {"hi": "a", "hi-IN": "b"}})),
            LinesError::Duplicate("goodbye".into())
        );
        assert!(
            serde_json::from_value::<BTreeMap<String, LineText>>(serde_json::json!({"goodbye": 3}))
                .is_err()
        );
    }
}
