//! The signals the fakes speak. [`tone`]: a plain 440 Hz sine, which the tests compare
//! sample for sample. [`speech_like`]: a voiced harmonic series (f0 about 130 Hz with a slow
//! glide) shaped by three formant bumps (500, 1500, 2500 Hz) and a 4 Hz syllable envelope
//! that never falls silent; webrtc-vad classifies it as speech and every 20 ms frame is
//! well above the energy threshold, so onsets are easy to find at the far end (load runs).

use std::f64::consts::TAU;

/// Peak amplitude of the speech-like signal.
const PEAK: f64 = 12_000.0;
/// Amplitude of the tone.
const TONE_AMPLITUDE: f64 = 8000.0;

/// `n` samples of a 440 Hz tone at `rate`, amplitude 8000.
pub fn tone(rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            ((t * 440.0 * TAU).sin() * TONE_AMPLITUDE) as i16
        })
        .collect()
}

/// `samples` of the signal at `rate` Hz.
pub fn speech_like(rate: u32, samples: usize) -> Vec<i16> {
    let rate_f = f64::from(rate);
    let top = (rate_f / 2.0).min(3400.0);
    let formants = [(500.0, 1.0), (1500.0, 0.6), (2500.0, 0.35)];
    let mut out = Vec::with_capacity(samples);
    let mut phase = 0.0f64;
    let weights: Vec<f64> = (1..=40)
        .map(|h| {
            let f = 130.0 * f64::from(h);
            formants
                .iter()
                .map(|(c, g)| g * (-((f - c) / 300.0).powi(2)).exp())
                .sum::<f64>()
                + 0.05 / f64::from(h)
        })
        .collect();
    let norm: f64 = weights.iter().sum();
    for i in 0..samples {
        let t = i as f64 / rate_f;
        let f0 = 130.0 + 12.0 * (TAU * 0.7 * t).sin();
        phase += TAU * f0 / rate_f;
        let mut v = 0.0;
        for (k, w) in weights.iter().enumerate() {
            let h = (k + 1) as f64;
            if f0 * h >= top {
                break;
            }
            v += w * (phase * h).sin();
        }
        let envelope = 0.55 + 0.45 * (TAU * 4.0 * t).sin().abs();
        out.push((v / norm * envelope * PEAK * 2.5).clamp(-32_000.0, 32_000.0) as i16);
    }
    out
}

/// `samples` of the signal at 24 kHz, the rate of OpenAI `response_format: pcm`.
pub fn speech_like_24k(samples: usize) -> Vec<i16> {
    speech_like(24_000, samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vca_media::vad::VoiceDetector;

    fn rms(f: &[i16]) -> f64 {
        (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64).sqrt()
    }

    #[test]
    fn every_frame_is_loud_and_mostly_voiced_at_8k() {
        let s = speech_like(8000, 8000 * 2);
        let mut vad = VoiceDetector::new(2);
        let mut voiced = 0;
        let mut frames = 0;
        for f in s.chunks_exact(160) {
            assert!(rms(f) > 1500.0, "rms {}", rms(f));
            let frame: &[i16; 160] = f.try_into().unwrap();
            frames += 1;
            if vad.is_speech(frame) {
                voiced += 1;
            }
        }
        assert!(voiced * 10 >= frames * 9, "{voiced} of {frames} voiced");
    }
}
