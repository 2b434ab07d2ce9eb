//! The Whisper tiny.en model and phone-band test speech for the `whisper-local` tests: where
//! the fetched model lives, and espeak-ng speech through 8 kHz G.711 back to 16 kHz as a
//! caller's audio reaches STT (`vca_sim::speech` makes it). Without the model or espeak-ng
//! a test skips through [`super::skip`] (a failure in CI, where scripts/test fetches and
//! installs both).

use std::path::PathBuf;

use vca_media::g711::Law;
use vca_sim::speech::{self, SpeechError, VOICE};

use super::skip;
use super::speech::espeak_missing;

/// The tiny.en model directory: `VCA_TEST_WHISPER_MODEL`, else `models/whisper-tiny.en`
/// of this checkout; `None` when the test skips.
pub fn tiny_en() -> Option<PathBuf> {
    let dir = std::env::var_os("VCA_TEST_WHISPER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/whisper-tiny.en")
        });
    let missing = format!("no Whisper model at {}", dir.display());
    skip::require(
        dir.join("model.bin").is_file().then_some(dir),
        &missing,
        "scripts/fetch-whisper-model tiny; scripts/test fetches it",
    )
}

/// espeak-ng speech of `text` in [`VOICE`] through the phone band in `law`, with 300 ms of
/// silence either side as a VAD-cut utterance has; `None` when the test skips.
pub fn phone_speech(text: &str, law: Law) -> Option<Vec<f32>> {
    match speech::phone_speech(text, law, VOICE, 0) {
        Ok(speech) => Some(speech),
        Err(SpeechError::EspeakMissing) => espeak_missing(),
        Err(e) => panic!("phone-band speech of {text:?}: {e}"),
    }
}
