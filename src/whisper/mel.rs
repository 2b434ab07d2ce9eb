//! Whisper's log-mel frontend, computed exactly as openai/whisper `audio.py` and
//! `transcribe.py` do: 16 kHz mono in; STFT with n_fft 400, hop 160, a periodic Hann window,
//! centred frames with reflect padding (torch.stft defaults), 30 s of zeros appended to the
//! audio, magnitude squared with the last frame dropped; a Slaney-normalised mel filterbank
//! built like librosa's `filters.mel` (the values of whisper's `mel_filters.npz`); log10 with a
//! 1e-10 clamp, a floor at the maximum minus 8, and `(x + 4) / 4`. The model then sees windows
//! of 3000 frames (30 s) of the content frames, padded with 0.0 like `pad_or_trim`.
//!
//! ct2rs's own Whisper pipeline uses another frontend that loses most of a long utterance,
//! which is why this one exists.
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::WhisperError;

/// The sample rate Whisper models take.
pub const SAMPLE_RATE: u32 = 16_000;
/// FFT size (25 ms).
pub const N_FFT: usize = 400;
/// Hop between frames (10 ms).
pub const HOP_LENGTH: usize = 160;
/// Frames in one model input window (30 s).
pub const N_FRAMES: usize = 3000;
/// Frequency bins of one frame (`N_FFT / 2 + 1`).
const N_BINS: usize = N_FFT / 2 + 1;

/// Computes log-mel spectrograms; build once per model (it owns the FFT plan and the
/// filterbank) and share it: [`LogMel::compute`] takes `&self`.
pub struct LogMel {
    n_mels: usize,
    /// `n_mels × N_BINS`, row-major.
    filters: Vec<f32>,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel")
            .field("n_mels", &self.n_mels)
            .finish_non_exhaustive()
    }
}

/// A log-mel spectrogram of one clip: `n_mels` rows of `frames` columns (10 ms each), plus
/// the value whisper's padding frames would hold.
#[derive(Debug, Clone)]
pub struct LogMelSpectrogram {
    n_mels: usize,
    frames: usize,
    /// `n_mels × frames`, row-major.
    data: Vec<f32>,
}

impl LogMelSpectrogram {
    /// Mel bins (rows).
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Content frames (columns): one per 160 samples of audio, rounded down.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The value at mel bin `mel`, frame `frame`, if both are in range.
    pub fn get(&self, mel: usize, frame: usize) -> Option<f32> {
        if mel >= self.n_mels || frame >= self.frames {
            return None;
        }
        self.data.get(mel * self.frames + frame).copied()
    }

    /// The start frames of the 30 s windows that cover the content, in order
    /// (whisper's `seek` without timestamps): 0, 3000, 6000, … below `frames`.
    pub fn window_starts(&self) -> impl Iterator<Item = usize> + use<> {
        (0..self.frames).step_by(N_FRAMES)
    }

    /// The model input for the window starting at `start`: `n_mels × 3000` row-major, the
    /// content frames from `start` followed by 0.0 (whisper's `pad_or_trim` of the mel).
    pub fn window(&self, start: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; self.n_mels * N_FRAMES];
        let len = self.frames.saturating_sub(start).min(N_FRAMES);
        for (mel, dst) in out.chunks_exact_mut(N_FRAMES).enumerate() {
            let row = mel * self.frames + start;
            if let (Some(src), Some(dst)) = (self.data.get(row..row + len), dst.get_mut(..len)) {
                dst.copy_from_slice(src);
            }
        }
        out
    }
}

impl LogMel {
    /// A frontend with `n_mels` bins: 80 (most models) or 128 (large-v3).
    pub fn new(n_mels: usize) -> Result<Self, WhisperError> {
        if n_mels != 80 && n_mels != 128 {
            return Err(WhisperError::UnsupportedMels(n_mels));
        }
        let window = (0..N_FFT)
            .map(|n| {
                let phase = 2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64;
                (0.5 - 0.5 * phase.cos()) as f32
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        Ok(Self {
            n_mels,
            filters: mel_filters(SAMPLE_RATE, N_FFT, n_mels),
            window,
            fft,
        })
    }

    /// Mel bins this frontend produces.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// The Slaney mel filterbank in use, `n_mels × 201` row-major.
    pub fn filters(&self) -> &[f32] {
        &self.filters
    }

    /// The log-mel spectrogram of `pcm` (16 kHz mono, nominally in [-1, 1]).
    pub fn compute(&self, pcm: &[f32]) -> LogMelSpectrogram {
        let frames = pcm.len() / HOP_LENGTH;
        // Frames whose window reaches into the audio; later ones see only the appended zeros
        // and sit at the clamp (1e-10 → -10), which never raises the maximum.
        let touched = ((pcm.len() + N_FFT / 2) / HOP_LENGTH + 1).min(frames + N_FRAMES);
        let computed = touched.max(frames);
        let mut log_spec = vec![-10.0f32; self.n_mels * computed];

        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; N_BINS];
        for t in 0..touched {
            for (k, (dst, w)) in input.iter_mut().zip(&self.window).enumerate() {
                *dst = padded_sample(pcm, (t * HOP_LENGTH + k) as isize - (N_FFT / 2) as isize) * w;
            }
            if self
                .fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .is_err()
            {
                // Only fails on wrong buffer lengths, which the plan made itself.
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = norm_sqr(*c);
            }
            for (mel, filter) in self.filters.chunks_exact(N_BINS).enumerate() {
                let energy: f32 = filter.iter().zip(&power).map(|(f, p)| f * p).sum();
                if let Some(dst) = log_spec.get_mut(mel * computed + t) {
                    *dst = energy.max(1e-10).log10();
                }
            }
        }

        let max = log_spec.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let floor = max - 8.0;
        let mut data = Vec::with_capacity(self.n_mels * frames);
        for row in log_spec.chunks_exact(computed) {
            data.extend(row.iter().take(frames).map(|&v| (v.max(floor) + 4.0) / 4.0));
        }
        LogMelSpectrogram {
            n_mels: self.n_mels,
            frames,
            data,
        }
    }
}

fn norm_sqr(c: Complex<f32>) -> f32 {
    c.re * c.re + c.im * c.im
}

/// Sample `i` of the audio as torch.stft sees it: the clip followed by 30 s of zeros, with
/// `N_FFT / 2` samples of reflect padding in front (`x[-i] = x[i]`).
fn padded_sample(pcm: &[f32], i: isize) -> f32 {
    // Past the clip lie the appended zeros; the reflection at their far end is never reached
    // because no computed frame extends beyond the clip by more than `N_FFT`.
    pcm.get(i.unsigned_abs()).copied().unwrap_or(0.0)
}

/// The Slaney mel scale (librosa, `htk=False`): linear below 1 kHz, logarithmic above.
const SLANEY_F_SP: f64 = 200.0 / 3.0;
const SLANEY_MIN_LOG_HZ: f64 = 1000.0;
const SLANEY_MIN_LOG_MEL: f64 = SLANEY_MIN_LOG_HZ / SLANEY_F_SP;

fn slaney_logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz → mel on the Slaney scale (librosa `hz_to_mel`, `htk=False`).
fn hz_to_mel(hz: f64) -> f64 {
    if hz >= SLANEY_MIN_LOG_HZ {
        SLANEY_MIN_LOG_MEL + (hz / SLANEY_MIN_LOG_HZ).ln() / slaney_logstep()
    } else {
        hz / SLANEY_F_SP
    }
}

/// Mel → Hz on the Slaney scale (librosa `mel_to_hz`, `htk=False`).
fn mel_to_hz(mel: f64) -> f64 {
    if mel >= SLANEY_MIN_LOG_MEL {
        SLANEY_MIN_LOG_HZ * (slaney_logstep() * (mel - SLANEY_MIN_LOG_MEL)).exp()
    } else {
        mel * SLANEY_F_SP
    }
}

/// The centre frequencies (Hz) of `n_mels + 2` points evenly spaced in mel from 0 to
/// `sample_rate / 2` (librosa `mel_frequencies`): filter `i` rises from point `i`, peaks at
/// point `i + 1` and falls to point `i + 2`.
pub fn mel_points(sample_rate: u32, n_mels: usize) -> Vec<f64> {
    let max_mel = hz_to_mel(f64::from(sample_rate) / 2.0);
    let steps = (n_mels + 1) as f64;
    (0..n_mels + 2)
        .map(|i| mel_to_hz(max_mel * i as f64 / steps))
        .collect()
}

/// librosa `filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=False, norm="slaney")`
/// as float32, `n_mels × (n_fft / 2 + 1)` row-major: triangles on the Slaney mel scale, each
/// scaled to unit area (`2 / (upper − lower)`). Computed in f64 like librosa.
pub fn mel_filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|k| f64::from(sample_rate) / 2.0 * k as f64 / (bins - 1) as f64)
        .collect();
    let points = mel_points(sample_rate, n_mels);
    let mut out = Vec::with_capacity(n_mels * bins);
    for i in 0..n_mels {
        let (lo, mid, hi) = (points[i], points[i + 1], points[i + 2]);
        let enorm = 2.0 / (hi - lo);
        for &f in &fft_freqs {
            let lower = (f - lo) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            out.push((lower.min(upper).max(0.0) * enorm) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() <= 1e-6 * b.abs().max(1e-3)
    }

    /// Values read from openai/whisper `assets/mel_filters.npz` (`mel_80`, `mel_128`),
    /// written as printed there.
    #[test]
    #[allow(clippy::excessive_precision)]
    fn filterbank_matches_whisper_assets() {
        let m80 = mel_filters(16_000, 400, 80);
        assert_eq!(m80.len(), 80 * 201);
        let at = |m: &[f32], r: usize, c: usize| m[r * 201 + c];
        assert!(close(at(&m80, 0, 1), 0.024_862_595));
        assert_eq!(at(&m80, 0, 0), 0.0);
        assert_eq!(at(&m80, 0, 2), 0.0);
        assert!(close(at(&m80, 1, 1), 0.001_990_821_9));
        assert!(close(at(&m80, 1, 2), 0.022_871_772));
        assert!(close(at(&m80, 10, 10), 0.019_908_218));
        assert!(close(at(&m80, 10, 11), 0.004_954_375));
        assert!(close(at(&m80, 40, 43), 0.014_735_566));
        assert!(close(at(&m80, 79, 186), 0.000_366_741_67));
        assert!(close(at(&m80, 79, 192), 0.003_164_711_9));
        assert!(close(at(&m80, 79, 199), 0.000_448_759));
        assert_eq!(at(&m80, 79, 200), 0.0);
        let nonzero_row40: Vec<usize> = (0..201).filter(|&c| at(&m80, 40, c) != 0.0).collect();
        assert_eq!(nonzero_row40, vec![42, 43, 44]);

        let m128 = mel_filters(16_000, 400, 128);
        assert!(close(at(&m128, 0, 1), 0.012_373_987));
        assert!(close(at(&m128, 1, 1), 0.030_392_565));
        assert!(close(at(&m128, 40, 24), 0.040_376_365));
        assert!(close(at(&m128, 79, 61), 0.012_756_716));
        assert!(close(at(&m128, 127, 195), 0.005_041_601_6));
    }

    #[test]
    fn rejects_unknown_mel_sizes() {
        assert!(matches!(
            LogMel::new(64),
            Err(WhisperError::UnsupportedMels(64))
        ));
    }

    #[test]
    fn hann_window_is_periodic() {
        let mel = LogMel::new(80).unwrap();
        assert_eq!(mel.window[0], 0.0);
        assert!((mel.window[200] - 1.0).abs() < 1e-7);
        assert!((mel.window[100] - mel.window[300]).abs() < 1e-6);
        assert!(mel.window[399] > 0.0);
    }

    #[test]
    fn reflect_padding_mirrors_without_the_edge() {
        let pcm = [0.1, 0.2, 0.3, 0.4];
        assert_eq!(padded_sample(&pcm, -1), 0.2);
        assert_eq!(padded_sample(&pcm, -3), 0.4);
        assert_eq!(padded_sample(&pcm, 2), 0.3);
        assert_eq!(padded_sample(&pcm, 4), 0.0);
    }

    #[test]
    fn window_pads_with_zero_after_the_content() {
        let mel = LogMel::new(80).unwrap();
        let pcm: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let spec = mel.compute(&pcm);
        assert_eq!(spec.frames(), 100);
        let w = spec.window(0);
        assert_eq!(w.len(), 80 * N_FRAMES);
        assert_eq!(Some(w[5 * N_FRAMES + 99]), spec.get(5, 99));
        assert_eq!(w[5 * N_FRAMES + 100], 0.0);
        assert_eq!(spec.window_starts().collect::<Vec<_>>(), vec![0]);
    }
}
