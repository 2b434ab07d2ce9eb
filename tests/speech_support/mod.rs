//! espeak-ng speech for tests and examples: at espeak-ng's own rate (22.05 kHz), or
//! resampled to a call's 8 kHz with the project's resampler. `None`, with a `SKIPPED`
//! message, when espeak-ng is not installed; in CI (`CI` set, where scripts/test installs
//! it) that is a failure instead.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use vca_media::resample::StreamResampler;

static CLIP: AtomicUsize = AtomicUsize::new(0);

/// `text` spoken in `voice` at `speed_wpm` words per minute (0: espeak-ng's default, 175),
/// with the rate it came at.
pub fn espeak(text: &str, voice: &str, speed_wpm: u32) -> Option<(u32, Vec<i16>)> {
    let path = std::env::temp_dir().join(format!(
        "vca-speech-{}-{}.wav",
        std::process::id(),
        CLIP.fetch_add(1, Ordering::SeqCst)
    ));
    let mut command = std::process::Command::new("espeak-ng");
    command.args(["-v", voice]);
    if speed_wpm > 0 {
        command.arg("-s").arg(speed_wpm.to_string());
    }
    let status = command.arg("-w").arg(&path).arg(text).status();
    if !matches!(status, Ok(s) if s.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "espeak-ng is not installed; scripts/test installs it"
        );
        eprintln!("SKIPPED: espeak-ng is not installed (apt-get install -y espeak-ng)");
        return None;
    }
    let mut reader = hound::WavReader::open(&path).unwrap();
    let rate = reader.spec().sample_rate;
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    std::fs::remove_file(&path).ok();
    Some((rate, samples))
}

/// As [`espeak`], resampled to 8 kHz.
pub fn espeak_8k(text: &str, voice: &str, speed_wpm: u32) -> Option<Vec<i16>> {
    let (rate, pcm) = espeak(text, voice, speed_wpm)?;
    let mut out = Vec::new();
    StreamResampler::new(rate, 8000)
        .unwrap()
        .process_clip(&pcm, &mut out)
        .unwrap();
    Some(out)
}
