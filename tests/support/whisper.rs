//! The Whisper tiny.en model and phone-band test speech for the `whisper-local` tests: where
//! the fetched model lives, and espeak-ng speech through 8 kHz G.711 back to 16 kHz as a
//! caller's audio reaches STT (`vca_sim::speech` makes it). `None`, with a `SKIPPED`
//! message, when the model or espeak-ng is missing; in CI that is a failure instead.

use std::path::PathBuf;

use vca_media::g711::Law;
use vca_sim::speech::{self, SpeechError, VOICE};

/// The tiny.en model directory: `VCA_TEST_WHISPER_MODEL`, else `models/whisper-tiny.en`
/// of this checkout (scripts/test fetches it with `scripts/fetch-whisper-model tiny`).
pub fn tiny_en() -> Option<PathBuf> {
    let dir = std::env::var_os("VCA_TEST_WHISPER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/whisper-tiny.en")
        });
    if dir.join("model.bin").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no Whisper model at {}; scripts/test fetches it",
        dir.display()
    );
    eprintln!(
        "SKIPPED: no Whisper model at {} (scripts/fetch-whisper-model tiny)",
        dir.display()
    );
    None
}

/// espeak-ng speech of `text` in [`VOICE`] through the phone band in `law`, with 300 ms of
/// silence either side as a VAD-cut utterance has.
pub fn phone_speech(text: &str, law: Law) -> Option<Vec<f32>> {
    match speech::phone_speech(text, law, VOICE, 0) {
        Ok(speech) => Some(speech),
        Err(SpeechError::EspeakMissing) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "espeak-ng is not installed; scripts/test installs it"
            );
            eprintln!("SKIPPED: espeak-ng is not installed (apt-get install -y espeak-ng)");
            None
        }
        Err(e) => panic!("{e}"),
    }
}
