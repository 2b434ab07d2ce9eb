//! The call's language in the form each provider's API wants: Deepgram's `language=`
//! (`hi`, `en-IN`, `multi` to detect), OpenAI's and ElevenLabs' ISO 639-1 (`hi`), Whisper's
//! `<|hi|>` token, espeak-ng's voice (`hi`, `en-us`, `en-gb`) and Sarvam's `hi-IN` /
//! `od-IN` (`unknown` to detect).
//!
//! Every function takes the BCP-47 tag the call carries (`hi-IN`, `en`, `or-IN`). A tag
//! that is not one of [`Language`]'s passes through in the plainest form the provider may
//! still accept (its primary subtag), so a configured language outside the table is not
//! refused here; the provider answers for it.

use crate::language::{Language, LanguageTag};

/// English regions Deepgram has models for (`en-IN`, `en-GB`, ...); others become `en`.
const DEEPGRAM_ENGLISH_REGIONS: [&str; 5] = ["US", "GB", "AU", "IN", "NZ"];

/// Languages Deepgram's `multi` (code-switching) detects among (nova-3: English, Spanish,
/// French, German, Hindi, Russian, Portuguese, Japanese, Italian, Dutch); of ours, these.
const DEEPGRAM_MULTI: [Language; 2] = [Language::English, Language::Hindi];

/// ElevenLabs models that take `language_code` (language enforcement): the v2.5 models.
const ELEVENLABS_LANGUAGE_MODELS: [&str; 2] = ["eleven_flash_v2_5", "eleven_turbo_v2_5"];

/// ISO 639-1 of a tag (`en-IN` → `en`, `od-IN` → `or`); unknown tags give their primary
/// subtag in lower case.
pub fn iso_639_1(tag: &str) -> String {
    match LanguageTag::parse(tag) {
        Ok(t) => t.language().code().to_string(),
        Err(_) => tag
            .split(['-', '_'])
            .next()
            .unwrap_or(tag)
            .to_ascii_lowercase(),
    }
}

/// Whether a session with these other allowed languages asks the provider to detect.
pub fn detecting(detect_languages: &[String]) -> bool {
    !detect_languages.is_empty()
}

/// Deepgram's `language=`: `en-IN`/`en-GB`/... for English with a region Deepgram has,
/// otherwise the ISO 639-1 code (`hi`, `ta`).
pub fn deepgram(tag: &str) -> String {
    match LanguageTag::parse(tag) {
        Ok(t) if t.language() == Language::English => match t.region() {
            Some(r) if DEEPGRAM_ENGLISH_REGIONS.contains(&r) => format!("en-{r}"),
            _ => "en".to_string(),
        },
        Ok(t) => t.language().code().to_string(),
        Err(_) => tag.to_string(),
    }
}

/// `multi` when the call's language and every other allowed language are ones Deepgram's
/// `multi` detects among; `None` (keep the call's language) otherwise.
pub fn deepgram_detect(primary: Option<&str>, detect_languages: &[String]) -> Option<&'static str> {
    if !detecting(detect_languages) {
        return None;
    }
    let within =
        |tag: &str| LanguageTag::parse(tag).is_ok_and(|t| DEEPGRAM_MULTI.contains(&t.language()));
    let all = primary
        .into_iter()
        .chain(detect_languages.iter().map(String::as_str));
    all.clone().all(within).then_some("multi")
}

/// Whisper's language token: `<|hi|>`.
pub fn whisper_token(tag: &str) -> String {
    format!("<|{}|>", iso_639_1(tag))
}

/// ElevenLabs' `language_code` (ISO 639-1), only for models that take it.
pub fn elevenlabs(tag: &str, model: &str) -> Option<String> {
    ELEVENLABS_LANGUAGE_MODELS
        .contains(&model)
        .then(|| iso_639_1(tag))
}

/// espeak-ng's voice for a language: `en-gb` for British English, `en-us` for other
/// English, the ISO 639-1 code otherwise (`hi`, `bn`, `ta`, `te`, `kn`, `ml`, `mr`, `gu`,
/// `pa`, `or`).
pub fn espeak_voice(tag: &str) -> String {
    match LanguageTag::parse(tag) {
        Ok(t) if t.language() == Language::English => match t.region() {
            Some("GB") => "en-gb".to_string(),
            _ => "en-us".to_string(),
        },
        Ok(t) => t.language().code().to_string(),
        Err(_) => tag.to_ascii_lowercase(),
    }
}

/// Sarvam's language code: `<language>-IN` (Sarvam knows only Indian variants), Odia as
/// `od-IN`.
pub fn sarvam(tag: &str) -> String {
    match LanguageTag::parse(tag) {
        Ok(t) => {
            let primary = match t.language() {
                Language::Odia => "od",
                l => l.code(),
            };
            format!("{primary}-IN")
        }
        Err(_) => tag.to_string(),
    }
}

/// Sarvam's STT `language_code` for a session: `unknown` (detect) when other languages
/// are allowed, the call's language otherwise, `unknown` without one.
pub fn sarvam_stt(primary: Option<&str>, detect_languages: &[String]) -> String {
    match primary {
        Some(tag) if !detecting(detect_languages) => sarvam(tag),
        _ => "unknown".to_string(),
    }
}

/// A provider's name for a detected language as our canonical BCP-47 tag (`od-IN` →
/// `od-IN`, `hi` → `hi`); `None` for what is not a language we speak.
pub fn canonical(reported: &str) -> Option<String> {
    LanguageTag::parse(reported).ok().map(|t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn langs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn deepgram_forms() {
        assert_eq!(deepgram("hi-IN"), "hi");
        assert_eq!(deepgram("en-IN"), "en-IN");
        assert_eq!(deepgram("en-gb"), "en-GB");
        assert_eq!(deepgram("en-ZA"), "en");
        assert_eq!(deepgram("ta"), "ta");
        assert_eq!(deepgram("od-IN"), "or");
        assert_eq!(deepgram_detect(Some("hi-IN"), &[]), None);
        assert_eq!(
            deepgram_detect(Some("hi-IN"), &langs(&["en-IN"])),
            Some("multi")
        );
        assert_eq!(deepgram_detect(Some("hi-IN"), &langs(&["ta-IN"])), None);
    }

    #[test]
    fn iso_and_whisper_forms() {
        assert_eq!(iso_639_1("hi-IN"), "hi");
        assert_eq!(iso_639_1("od-IN"), "or");
        assert_eq!(iso_639_1("PT_br"), "pt");
        assert_eq!(whisper_token("hi-IN"), "<|hi|>");
        assert_eq!(whisper_token("en"), "<|en|>");
    }

    #[test]
    fn elevenlabs_only_for_models_that_take_it() {
        assert_eq!(
            elevenlabs("hi-IN", "eleven_flash_v2_5").as_deref(),
            Some("hi")
        );
        assert_eq!(elevenlabs("hi-IN", "eleven_multilingual_v2"), None);
    }

    #[test]
    fn espeak_voices() {
        assert_eq!(espeak_voice("en"), "en-us");
        assert_eq!(espeak_voice("en-IN"), "en-us");
        assert_eq!(espeak_voice("en-GB"), "en-gb");
        for (tag, voice) in [
            ("hi-IN", "hi"),
            ("bn-IN", "bn"),
            ("ta", "ta"),
            ("te", "te"),
            ("kn", "kn"),
            ("ml", "ml"),
            ("mr", "mr"),
            ("gu", "gu"),
            ("pa", "pa"),
            ("od-IN", "or"),
        ] {
            assert_eq!(espeak_voice(tag), voice, "{tag}");
        }
    }

    #[test]
    fn sarvam_forms() {
        assert_eq!(sarvam("hi"), "hi-IN");
        assert_eq!(sarvam("or-IN"), "od-IN");
        assert_eq!(sarvam("en-GB"), "en-IN");
        assert_eq!(sarvam_stt(Some("hi-IN"), &[]), "hi-IN");
        assert_eq!(sarvam_stt(Some("hi-IN"), &langs(&["en-IN"])), "unknown");
        assert_eq!(sarvam_stt(None, &[]), "unknown");
        assert_eq!(canonical("od-IN").as_deref(), Some("od-IN"));
        assert_eq!(canonical("hi-in").as_deref(), Some("hi-IN"));
        assert_eq!(canonical("xx-YY"), None);
    }
}
