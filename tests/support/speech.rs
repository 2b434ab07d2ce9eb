//! espeak-ng speech for tests, resampled to a call's 8 kHz (`vca_sim::speech` makes it).
//! Without espeak-ng a test skips through [`super::skip`] (a failure in CI, where
//! scripts/test installs it).

use vca_sim::speech::{self, SpeechError};

use super::skip;

/// `text` spoken in `voice` at `speed_wpm` words per minute (0: espeak-ng's default, 175),
/// at 8 kHz; `None` when the test skips.
pub fn espeak_8k(text: &str, voice: &str, speed_wpm: u32) -> Option<Vec<i16>> {
    match speech::espeak_8k(text, voice, speed_wpm) {
        Ok(pcm) => Some(pcm),
        Err(SpeechError::EspeakMissing) => espeak_missing(),
        Err(e) => panic!("espeak-ng speech of {text:?}: {e}"),
    }
}

/// Whether espeak-ng is installed; `false` when the test skips.
pub fn espeak_or_skip() -> bool {
    if speech::espeak_installed() {
        true
    } else {
        espeak_missing::<()>().is_some()
    }
}

/// The skip (or, in CI, the failure) of a test without espeak-ng.
pub fn espeak_missing<T>() -> Option<T> {
    skip::require(
        None,
        "espeak-ng is not installed",
        "apt-get install -y espeak-ng; scripts/test installs it",
    )
}
