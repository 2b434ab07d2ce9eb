//! Shared by `tests/whisper_model.rs` and `examples/whisper-wer.rs`: phone-band test speech
//! (espeak-ng → 8 kHz → G.711 encode and decode → 16 kHz, through the project's own
//! resampler and codec, as a caller's audio reaches the STT), word error rate, and where the
//! fetched models live.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../speech_support/mod.rs"]
mod speech_support;

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use vca_media::g711::Law;
use vca_media::resample::StreamResampler;

/// Sentences a caller might say, without digits or contractions (so scoring needs no
/// number or spelling normalisation).
pub const SENTENCES: [&str; 20] = [
    "I would like to book an appointment for next Tuesday morning.",
    "Can you tell me when the pharmacy closes today?",
    "My internet connection has been very slow since yesterday.",
    "Please send the invoice to my email address.",
    "The delivery truck arrived late this afternoon.",
    "I need to change the shipping address on my order.",
    "Could you transfer me to the billing department?",
    "We are planning a family trip to the mountains.",
    "The doctor asked me to come back next month.",
    "Is the restaurant open for dinner on Sunday evening?",
    "I lost my credit card and want to block it.",
    "The weather forecast says it will rain all weekend.",
    "Please cancel my subscription at the end of this month.",
    "Our office has moved to a new building downtown.",
    "I am calling about the job advertisement in the newspaper.",
    "The train to the airport leaves every half hour.",
    "Can I speak with the manager about my complaint?",
    "My package was damaged when it arrived this morning.",
    "We would like a table for four people tonight.",
    "Thank you very much for your help, have a nice day.",
];

/// The model directory `models/NAME` of this checkout (filled by
/// `scripts/fetch-whisper-model`), or `None` with a message when it is not there (a
/// failure in CI, where scripts/test fetches tiny.en).
pub fn model_dir(name: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name);
    if dir.join("model.bin").is_file() {
        Some(dir)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no Whisper model at {}; scripts/test fetches it",
            dir.display()
        );
        eprintln!(
            "SKIPPED: no Whisper model at {} (run scripts/fetch-whisper-model first)",
            dir.display()
        );
        None
    }
}

/// Words per minute of the test speech; 0 leaves espeak-ng's default (175).
pub static SPEED_WPM: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The espeak-ng voice of the test speech.
pub const VOICE: &str = "en-us";

/// Speech at espeak-ng's own rate (22.05 kHz) in [`VOICE`], or `None` with a message when
/// espeak-ng is not installed.
pub fn espeak(text: &str) -> Option<(u32, Vec<i16>)> {
    espeak_voice(text, VOICE)
}

/// As [`espeak`], in `voice`, at [`SPEED_WPM`].
pub fn espeak_voice(text: &str, voice: &str) -> Option<(u32, Vec<i16>)> {
    speech_support::espeak(text, voice, SPEED_WPM.load(Ordering::SeqCst))
}

/// `pcm` at `rate` as a phone call carries it and the bridge hands it to STT: resampled to
/// 8 kHz, G.711-encoded in `law` and decoded, resampled to 16 kHz, as floats in [-1, 1].
pub fn phone_band_16k(rate: u32, pcm: &[i16], law: Law) -> Vec<f32> {
    let mut narrow = Vec::new();
    StreamResampler::new(rate, 8000)
        .unwrap()
        .process_clip(pcm, &mut narrow)
        .unwrap();
    let companded: Vec<i16> = narrow.iter().map(|&s| law.decode(law.encode(s))).collect();
    let mut wide = Vec::new();
    StreamResampler::new(8000, 16_000)
        .unwrap()
        .process_clip(&companded, &mut wide)
        .unwrap();
    wide.iter().map(|&s| f32::from(s) / 32768.0).collect()
}

/// espeak-ng speech of `text` through the phone band (see [`phone_band_16k`]), with 300 ms
/// of silence either side as a VAD-cut utterance has.
pub fn phone_speech(text: &str, law: Law) -> Option<Vec<f32>> {
    let (rate, pcm) = espeak(text)?;
    let mut speech = vec![0.0f32; 4800];
    speech.extend(phone_band_16k(rate, &pcm, law));
    speech.extend(std::iter::repeat_n(0.0, 4800));
    Some(speech)
}

/// Clean 16 kHz speech (no phone band) of `text` in `voice`, with the same 300 ms margins.
pub fn wideband_speech(text: &str, voice: &str) -> Option<Vec<f32>> {
    let (rate, pcm) = espeak_voice(text, voice)?;
    let mut wide = Vec::new();
    StreamResampler::new(rate, 16_000)
        .unwrap()
        .process_clip(&pcm, &mut wide)
        .unwrap();
    let mut speech = vec![0.0f32; 4800];
    speech.extend(wide.iter().map(|&s| f32::from(s) / 32768.0));
    speech.extend(std::iter::repeat_n(0.0, 4800));
    Some(speech)
}

/// As [`phone_speech`], in `voice`.
pub fn phone_speech_voice(text: &str, law: Law, voice: &str) -> Option<Vec<f32>> {
    let (rate, pcm) = espeak_voice(text, voice)?;
    let mut speech = vec![0.0f32; 4800];
    speech.extend(phone_band_16k(rate, &pcm, law));
    speech.extend(std::iter::repeat_n(0.0, 4800));
    Some(speech)
}

/// Lower-case words with punctuation removed (apostrophes dropped, hyphens split).
pub fn normalize(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .filter(|c| *c != '\'' && *c != '’')
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Word-level edit distance (substitutions + deletions + insertions) between a reference
/// and a hypothesis, and the number of reference words.
pub fn word_errors(reference: &str, hypothesis: &str) -> (usize, usize) {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let substitution = prev[j] + usize::from(rw != hw);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    (prev[h.len()], r.len())
}
