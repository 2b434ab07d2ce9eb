//! espeak-ng speech for tests, resampled to a call's 8 kHz (`vca_sim::speech` makes it).
//! `None`, with a `SKIPPED` message, when espeak-ng is not installed; in CI (`CI` set,
//! where scripts/test installs it) that is a failure instead.

use vca_sim::speech::{self, SpeechError};

/// `text` spoken in `voice` at `speed_wpm` words per minute (0: espeak-ng's default, 175),
/// at 8 kHz.
pub fn espeak_8k(text: &str, voice: &str, speed_wpm: u32) -> Option<Vec<i16>> {
    match speech::espeak_8k(text, voice, speed_wpm) {
        Ok(pcm) => Some(pcm),
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
