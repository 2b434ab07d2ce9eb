//! The languages the agent speaks ([`Language`]) and the BCP-47 tags that name them on a
//! profile or in a transcript ([`LanguageTag`]): `hi-IN`, `en`, `en-GB`, `hi-Latn-IN`.
//! A tag is checked once, where it comes in (the admin API, a provider's answer), and is
//! then a value every layer can trust.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language the daemon has lines, goodbye words and provider mappings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    English,
    Hindi,
    Bengali,
    Tamil,
    Telugu,
    Kannada,
    Malayalam,
    Marathi,
    Gujarati,
    Punjabi,
    Odia,
}

impl Language {
    /// Every supported language.
    pub const ALL: [Language; 11] = [
        Language::English,
        Language::Hindi,
        Language::Bengali,
        Language::Tamil,
        Language::Telugu,
        Language::Kannada,
        Language::Malayalam,
        Language::Marathi,
        Language::Gujarati,
        Language::Punjabi,
        Language::Odia,
    ];

    /// Its ISO 639-1 code (`or` for Odia; Sarvam writes `od`).
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Hindi => "hi",
            Language::Bengali => "bn",
            Language::Tamil => "ta",
            Language::Telugu => "te",
            Language::Kannada => "kn",
            Language::Malayalam => "ml",
            Language::Marathi => "mr",
            Language::Gujarati => "gu",
            Language::Punjabi => "pa",
            Language::Odia => "or",
        }
    }

    /// Its English name, as the model is told which language to answer in.
    pub fn name(self) -> &'static str {
        match self {
            Language::English => "English",
            Language::Hindi => "Hindi",
            Language::Bengali => "Bengali",
            Language::Tamil => "Tamil",
            Language::Telugu => "Telugu",
            Language::Kannada => "Kannada",
            Language::Malayalam => "Malayalam",
            Language::Marathi => "Marathi",
            Language::Gujarati => "Gujarati",
            Language::Punjabi => "Punjabi",
            Language::Odia => "Odia",
        }
    }

    /// The Unicode block of its native script (`None` for Latin).
    pub fn script_block(self) -> Option<std::ops::RangeInclusive<char>> {
        let block = match self {
            Language::English => return None,
            Language::Hindi | Language::Marathi => '\u{0900}'..='\u{097F}',
            Language::Bengali => '\u{0980}'..='\u{09FF}',
            Language::Punjabi => '\u{0A00}'..='\u{0A7F}',
            Language::Gujarati => '\u{0A80}'..='\u{0AFF}',
            Language::Odia => '\u{0B00}'..='\u{0B7F}',
            Language::Tamil => '\u{0B80}'..='\u{0BFF}',
            Language::Telugu => '\u{0C00}'..='\u{0C7F}',
            Language::Kannada => '\u{0C80}'..='\u{0CFF}',
            Language::Malayalam => '\u{0D00}'..='\u{0D7F}',
        };
        Some(block)
    }

    /// The language of a primary subtag or a provider's name for it (`hi`, `hin`,
    /// `hindi`, `od`, `or`), any case.
    pub fn from_code(code: &str) -> Option<Language> {
        let code = code.to_ascii_lowercase();
        let found = match code.as_str() {
            "en" | "eng" | "english" => Language::English,
            "hi" | "hin" | "hindi" => Language::Hindi,
            "bn" | "ben" | "bengali" | "bangla" => Language::Bengali,
            "ta" | "tam" | "tamil" => Language::Tamil,
            "te" | "tel" | "telugu" => Language::Telugu,
            "kn" | "kan" | "kannada" => Language::Kannada,
            "ml" | "mal" | "malayalam" => Language::Malayalam,
            "mr" | "mar" | "marathi" => Language::Marathi,
            "gu" | "guj" | "gujarati" => Language::Gujarati,
            "pa" | "pan" | "punjabi" | "panjabi" => Language::Punjabi,
            "or" | "od" | "ori" | "ory" | "odia" | "oriya" => Language::Odia,
            _ => return None,
        };
        Some(found)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string is not a language tag the daemon takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LanguageError {
    /// Not BCP-47 shaped (`language[-Script][-REGION]`).
    #[error("{0:?} is not a language tag; use BCP 47 such as hi-IN, en-IN or en")]
    Malformed(String),
    /// Well formed, but not a language the daemon speaks.
    #[error(
        "language {0:?} is not supported; use one of en, hi, bn, ta, te, kn, ml, mr, gu, pa, od \
         with an optional region (hi-IN, en-GB)"
    )]
    Unsupported(String),
}

/// A checked BCP-47 tag of a supported language, in canonical case (`hi-IN`, `en-GB`,
/// `hi-Latn-IN`). Odia keeps the primary subtag it was written with (`od-IN` as Sarvam
/// names it, or `or-IN`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LanguageTag {
    tag: String,
    language: Language,
}

impl LanguageTag {
    /// Checks and canonicalises `s`.
    pub fn parse(s: &str) -> Result<LanguageTag, LanguageError> {
        let malformed = || LanguageError::Malformed(s.to_string());
        let mut parts = s.trim().split(['-', '_']);
        let primary = parts
            .next()
            .filter(|p| is_alpha(p, 2..=3))
            .ok_or_else(malformed)?;
        let mut tag = primary.to_ascii_lowercase();
        let mut rest: Vec<&str> = parts.collect();
        if let Some(script) = rest.first().copied().filter(|p| is_alpha(p, 4..=4)) {
            let mut chars = script.chars();
            tag.push('-');
            tag.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            tag.push_str(&chars.as_str().to_ascii_lowercase());
            rest.remove(0);
        }
        match rest.as_slice() {
            [] => {}
            [region] if is_alpha(region, 2..=2) => {
                tag.push('-');
                tag.push_str(&region.to_ascii_uppercase());
            }
            [region] if region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit()) => {
                tag.push('-');
                tag.push_str(region);
            }
            _ => return Err(malformed()),
        }
        let language =
            Language::from_code(primary).ok_or_else(|| LanguageError::Unsupported(s.into()))?;
        if primary.len() == 3 {
            // BCP 47 uses the two-letter code where one exists, as every one here does.
            return Err(LanguageError::Unsupported(s.into()));
        }
        Ok(LanguageTag { tag, language })
    }

    /// The tag as written canonically.
    pub fn as_str(&self) -> &str {
        &self.tag
    }

    /// Its language.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Its region subtag (`IN`), if any.
    pub fn region(&self) -> Option<&str> {
        self.tag
            .rsplit('-')
            .next()
            .filter(|r| self.tag.contains('-') && r.len() != 4)
    }

    /// `<language>-<REGION>` with the region defaulting to `IN`, Odia as `od`: the form
    /// Sarvam's APIs take (`hi-IN`, `en-IN`, `od-IN`).
    pub fn with_region_or_india(&self) -> String {
        let primary = match self.language {
            Language::Odia => "od",
            l => l.code(),
        };
        format!("{primary}-{}", self.region().unwrap_or("IN"))
    }

    /// English, the language of a profile that names none.
    pub fn english() -> LanguageTag {
        LanguageTag {
            tag: "en".into(),
            language: Language::English,
        }
    }
}

fn is_alpha(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
}

impl FromStr for LanguageTag {
    type Err = LanguageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LanguageTag::parse(s)
    }
}

impl TryFrom<String> for LanguageTag {
    type Error = LanguageError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        LanguageTag::parse(&s)
    }
}

impl From<LanguageTag> for String {
    fn from(t: LanguageTag) -> String {
        t.tag
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)
    }
}

impl fmt::Debug for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_tags_are_accepted_and_canonical() {
        for t in [
            "en-IN",
            "hi-IN",
            "bn-IN",
            "ta-IN",
            "te-IN",
            "kn-IN",
            "ml-IN",
            "mr-IN",
            "gu-IN",
            "pa-IN",
            "od-IN",
            "en-US",
            "en-GB",
            "en",
            "hi",
            "or-IN",
            "hi-Latn-IN",
        ] {
            let tag = LanguageTag::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(tag.as_str(), t);
        }
        assert_eq!(
            LanguageTag::parse("HI_in").map(|t| t.to_string()),
            Ok("hi-IN".into())
        );
        assert_eq!(
            LanguageTag::parse("hi-latn").map(|t| t.to_string()),
            Ok("hi-Latn".into())
        );
    }

    #[test]
    fn malformed_and_unsupported_are_told_apart() {
        for bad in [
            "",
            "e",
            "english-IN",
            "hi-INDIA",
            "hi-IN-x",
            "1n",
            "hi IN",
            "hi--IN",
        ] {
            assert!(
                matches!(LanguageTag::parse(bad), Err(LanguageError::Malformed(_))),
                "{bad}"
            );
        }
        for unsupported in ["fr-FR", "zh", "hin", "xx-IN"] {
            assert!(
                matches!(
                    LanguageTag::parse(unsupported),
                    Err(LanguageError::Unsupported(_))
                ),
                "{unsupported}"
            );
        }
    }

    #[test]
    fn regions_and_the_sarvam_form() {
        let hi = LanguageTag::parse("hi").unwrap();
        assert_eq!(hi.region(), None);
        assert_eq!(hi.with_region_or_india(), "hi-IN");
        assert_eq!(
            LanguageTag::parse("en-GB").unwrap().with_region_or_india(),
            "en-GB"
        );
        assert_eq!(
            LanguageTag::parse("or-IN").unwrap().with_region_or_india(),
            "od-IN"
        );
        assert_eq!(LanguageTag::parse("hi-Latn").unwrap().region(), None);
        assert_eq!(
            LanguageTag::parse("hi-Latn-IN").unwrap().region(),
            Some("IN")
        );
        assert_eq!(
            LanguageTag::parse("ta-IN").unwrap().language(),
            Language::Tamil
        );
    }

    #[test]
    fn provider_names_map_to_languages() {
        assert_eq!(Language::from_code("hindi"), Some(Language::Hindi));
        assert_eq!(Language::from_code("OD"), Some(Language::Odia));
        assert_eq!(Language::from_code("unknown"), None);
    }

    #[test]
    fn serde_checks_on_the_way_in() {
        let t: LanguageTag = serde_json::from_str("\"hi-in\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"hi-IN\"");
        assert!(serde_json::from_str::<LanguageTag>("\"klingon\"").is_err());
    }
}
