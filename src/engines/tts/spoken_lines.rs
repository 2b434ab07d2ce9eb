//! [`SpokenLines`]: the audio of the agent's fixed lines (greetings, the "sorry, say that
//! again" fallbacks, goodbyes, fillers), kept once synthesised. A fallback line is spoken
//! because an engine is failing; when the failing engine is speech synthesis itself, the
//! line would be lost with it and the caller would hear nothing. With the audio kept, a
//! fixed line spoken once is spoken again without asking the provider.
//!
//! A call synthesises its fallback lines ahead when it starts ([`SpokenLines::claim`]
//! makes sure only one call asks for each line).
//!
//! Keyed by what decides the audio — provider, voice, model, language and text — so a
//! tenant's voice never speaks another's lines differently. Bounded: past
//! [`SpokenLines::CAPACITY`] lines nothing more is kept (the lines a daemon speaks are a
//! few per profile). Looked up once per fixed sentence, never per frame.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::TtsRequest;

/// What decides a line's audio.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LineKey {
    provider: &'static str,
    voice: Option<String>,
    model: Option<String>,
    rate_wpm: Option<u32>,
    language: Option<String>,
    text: String,
}

impl LineKey {
    fn of(provider: &'static str, request: &TtsRequest) -> Self {
        LineKey {
            provider,
            voice: request.voice.clone(),
            model: request.model.clone(),
            rate_wpm: request.rate_wpm,
            language: request.language.clone(),
            text: request.text.clone(),
        }
    }
}

/// A line's audio: its sample rate and samples.
pub type LineAudio = Arc<(u32, Vec<i16>)>;

/// The fixed lines' audio, shared by every call of the daemon.
#[derive(Debug, Default)]
pub struct SpokenLines {
    /// `None`: being synthesised ahead by one call.
    lines: Mutex<HashMap<LineKey, Option<LineAudio>>>,
}

impl SpokenLines {
    /// Most lines kept.
    pub const CAPACITY: usize = 512;

    /// The audio of `request` from `provider`, if it was kept.
    pub fn get(&self, provider: &'static str, request: &TtsRequest) -> Option<LineAudio> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .get(&LineKey::of(provider, request))
            .cloned()
            .flatten()
    }

    /// Whether the caller should synthesise `request` ahead: true (and it is marked as
    /// under way) when it is neither kept nor under way and there is room. The caller then
    /// [`SpokenLines::keep`]s it or [`SpokenLines::release`]s it.
    pub fn claim(&self, provider: &'static str, request: &TtsRequest) -> bool {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let key = LineKey::of(provider, request);
        if lines.len() >= Self::CAPACITY || lines.contains_key(&key) {
            return false;
        }
        lines.insert(key, None);
        true
    }

    /// Gives up a claim whose synthesis failed: the next call may try.
    pub fn release(&self, provider: &'static str, request: &TtsRequest) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let key = LineKey::of(provider, request);
        if lines.get(&key).is_some_and(Option::is_none) {
            lines.remove(&key);
        }
    }

    /// Keeps `audio` as what `provider` says for `request` (unless full or empty).
    pub fn keep(&self, provider: &'static str, request: &TtsRequest, rate: u32, pcm: &[i16]) {
        if pcm.is_empty() || rate == 0 {
            return;
        }
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let key = LineKey::of(provider, request);
        let room = lines.len() < Self::CAPACITY;
        match lines.get_mut(&key) {
            Some(Some(_)) => {}
            Some(slot) => *slot = Some(Arc::new((rate, pcm.to_vec()))),
            None if room => {
                lines.insert(key, Some(Arc::new((rate, pcm.to_vec()))));
            }
            None => {}
        }
    }

    /// How many lines are kept or under way.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no line is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str, voice: Option<&str>, language: &str) -> TtsRequest {
        TtsRequest {
            text: text.into(),
            voice: voice.map(str::to_string),
            language: Some(language.into()),
            ..TtsRequest::default()
        }
    }

    #[test]
    fn a_line_is_found_only_for_the_same_provider_voice_language_and_text() {
        let lines = SpokenLines::default();
        let sorry = request("Sorry, say that again?", Some("alloy"), "en-IN");
        lines.keep("openai_tts", &sorry, 24_000, &[1, 2, 3]);
        let found = lines.get("openai_tts", &sorry).unwrap();
        assert_eq!(*found, (24_000, vec![1, 2, 3]));
        assert!(lines.get("elevenlabs", &sorry).is_none());
        assert!(
            lines
                .get(
                    "openai_tts",
                    &request("Sorry, say that again?", Some("nova"), "en-IN")
                )
                .is_none()
        );
        assert!(
            lines
                .get(
                    "openai_tts",
                    &request("Sorry, say that again?", Some("alloy"), "hi-IN")
                )
                .is_none()
        );
        assert!(
            lines
                .get("openai_tts", &request("Goodbye.", Some("alloy"), "en-IN"))
                .is_none()
        );
    }

    #[test]
    fn a_line_is_claimed_once_until_kept_or_released() {
        let lines = SpokenLines::default();
        let sorry = request("Sorry?", None, "en");
        assert!(lines.claim("espeak", &sorry));
        assert!(!lines.claim("espeak", &sorry), "under way");
        assert!(lines.get("espeak", &sorry).is_none());
        lines.release("espeak", &sorry);
        assert!(lines.claim("espeak", &sorry), "free again after a failure");
        lines.keep("espeak", &sorry, 8_000, &[7]);
        assert!(!lines.claim("espeak", &sorry), "kept");
        assert_eq!(*lines.get("espeak", &sorry).unwrap(), (8_000, vec![7]));
        lines.release("espeak", &sorry);
        assert!(
            lines.get("espeak", &sorry).is_some(),
            "a kept line is not released"
        );
    }

    #[test]
    fn empty_audio_is_not_kept_and_the_cache_stops_growing_at_its_capacity() {
        let lines = SpokenLines::default();
        lines.keep("espeak", &request("a", None, "en"), 22_050, &[]);
        lines.keep("espeak", &request("a", None, "en"), 0, &[1]);
        assert!(lines.is_empty());
        for n in 0..SpokenLines::CAPACITY + 10 {
            lines.keep(
                "espeak",
                &request(&format!("line {n}"), None, "en"),
                8_000,
                &[1],
            );
        }
        assert_eq!(lines.len(), SpokenLines::CAPACITY);
        assert!(
            lines
                .get("espeak", &request("line 0", None, "en"))
                .is_some()
        );
    }
}
