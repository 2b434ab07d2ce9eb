//! 8 kHz → 16 kHz for per-utterance uploads, with the media path's band-limited
//! resampler (rubato FFT), aligned so the output has exactly twice the samples.

use crate::engines::error::EngineError;
use crate::media::resample::StreamResampler;

/// The utterance at 16 kHz.
pub fn upsample_8k_to_16k(provider: &'static str, pcm: &[i16]) -> Result<Vec<i16>, EngineError> {
    let mut resampler =
        StreamResampler::new(8000, 16_000).map_err(|e| EngineError::InvalidRequest {
            provider,
            detail: e.to_string(),
        })?;
    let mut out = Vec::with_capacity(pcm.len() * 2);
    resampler
        .process_clip(pcm, &mut out)
        .map_err(|e| EngineError::InvalidRequest {
            provider,
            detail: e.to_string(),
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_the_length_and_keeps_a_tone() {
        let tone: Vec<i16> = (0..8000)
            .map(|i| {
                ((f64::from(i) / 8000.0 * 440.0 * std::f64::consts::TAU).sin() * 10_000.0) as i16
            })
            .collect();
        let up = upsample_8k_to_16k("t", &tone).unwrap();
        assert_eq!(up.len(), 16_000);
        // Every other output sample lines up with an input sample.
        let mid = &up[4000..12_000];
        let err: f64 = mid
            .iter()
            .step_by(2)
            .zip(&tone[2000..6000])
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
            .sum::<f64>()
            / 4000.0;
        assert!(err < 500.0, "mean error {err}");
    }
}
