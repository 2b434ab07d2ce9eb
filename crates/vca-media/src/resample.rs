//! Sample-rate conversion with rubato's FFT resampler (`Fft`, `FixedSync::Both`): fixed
//! 20 ms chunks in and out, continuous state between chunks (no clicks at chunk
//! boundaries), buffers allocated once. Used 8 kHz → 16 kHz for STT and TTS rates → 8 kHz
//! for playout. The polynomial resampler is never used (it aliases when downsampling).
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// TTS and STT rates the media path converts from or to.
pub const SUPPORTED_RATES: [u32; 6] = [8000, 16000, 22050, 24000, 44100, 48000];

/// Why resampling could not be set up or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// A rate outside [`SUPPORTED_RATES`].
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
    /// rubato refused the configuration.
    #[error("resampler construction failed: {0}")]
    Construction(#[from] rubato::ResamplerConstructionError),
    /// rubato failed on a chunk (wrong buffer sizes).
    #[error("resampling failed: {0}")]
    Process(#[from] rubato::ResampleError),
    /// The caller passed a chunk of the wrong length.
    #[error("chunk has {got} samples, expected {expected}")]
    ChunkLength {
        /// Samples passed.
        got: usize,
        /// Samples required ([`StreamResampler::chunk_in`]).
        expected: usize,
    },
}

/// A mono streaming resampler working on fixed 20 ms chunks.
pub struct StreamResampler {
    from: u32,
    to: u32,
    inner: Fft<f32>,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz (both in [`SUPPORTED_RATES`]).
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        for rate in [from, to] {
            if !SUPPORTED_RATES.contains(&rate) {
                return Err(ResampleError::UnsupportedRate(rate));
            }
        }
        let chunk = (from / 50) as usize;
        let inner = Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Both)?;
        let input = vec![0.0; inner.input_frames_max()];
        let output = vec![0.0; inner.output_frames_max()];
        Ok(StreamResampler {
            from,
            to,
            inner,
            input,
            output,
        })
    }

    /// Input rate.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Samples each call to [`Self::process_chunk`] takes.
    pub fn chunk_in(&self) -> usize {
        self.inner.input_frames_next()
    }

    /// Samples each call to [`Self::process_chunk`] produces.
    pub fn chunk_out(&self) -> usize {
        self.inner.output_frames_next()
    }

    /// Latency of the resampler in output samples.
    pub fn delay(&self) -> usize {
        self.inner.output_delay()
    }

    /// Forgets the audio history (for an unrelated new clip).
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// Resamples exactly [`Self::chunk_in`] samples into `out` (at least
    /// [`Self::chunk_out`] long); returns the samples written. Does not allocate.
    pub fn process_chunk(
        &mut self,
        input: &[i16],
        out: &mut [i16],
    ) -> Result<usize, ResampleError> {
        let chunk_in = self.chunk_in();
        if input.len() != chunk_in {
            return Err(ResampleError::ChunkLength {
                got: input.len(),
                expected: chunk_in,
            });
        }
        for (dst, &src) in self.input.iter_mut().zip(input) {
            *dst = f32::from(src) / 32768.0;
        }
        self.run_chunk(out)
    }

    fn run_chunk(&mut self, out: &mut [i16]) -> Result<usize, ResampleError> {
        let chunk_in = self.chunk_in();
        let chunk_out = self.chunk_out();
        let input_buf = self.input.get(..chunk_in).unwrap_or(&[]);
        let input = InterleavedSlice::new(input_buf, 1, chunk_in).map_err(|_| {
            ResampleError::ChunkLength {
                got: input_buf.len(),
                expected: chunk_in,
            }
        })?;
        let output_len = self.output.len();
        let mut output =
            InterleavedSlice::new_mut(&mut self.output, 1, output_len).map_err(|_| {
                ResampleError::ChunkLength {
                    got: output_len,
                    expected: chunk_out,
                }
            })?;
        let (_, produced) = self.inner.process_into_buffer(&input, &mut output, None)?;
        let n = produced.min(out.len());
        for (dst, &src) in out.iter_mut().zip(&self.output[..n]) {
            *dst = (src * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        }
        Ok(n)
    }

    /// Resamples a whole clip (any length) into `out`, trimming the resampler's delay so
    /// the output lines up with the input and has `len × to / from` samples (rounded).
    /// Resets the resampler first. Allocates only by growing `out`.
    pub fn process_clip(&mut self, pcm: &[i16], out: &mut Vec<i16>) -> Result<(), ResampleError> {
        self.reset();
        let expected = ((pcm.len() as u64 * u64::from(self.to) + u64::from(self.from) / 2)
            / u64::from(self.from)) as usize;
        let mut to_trim = self.delay();
        let chunk_in = self.chunk_in();
        let mut chunk_out = vec![0i16; self.chunk_out()];
        let mut produced_total = 0usize;
        let mut chunks = pcm.chunks(chunk_in);
        let start = out.len();
        while produced_total < expected {
            match chunks.next() {
                Some(chunk) => {
                    for (i, dst) in self.input.iter_mut().take(chunk_in).enumerate() {
                        *dst = chunk.get(i).map_or(0.0, |&s| f32::from(s) / 32768.0);
                    }
                }
                None => {
                    for dst in self.input.iter_mut() {
                        *dst = 0.0;
                    }
                }
            }
            let n = self.run_chunk(&mut chunk_out)?;
            let produced = chunk_out.get(..n).unwrap_or(&[]);
            let skip = to_trim.min(produced.len());
            to_trim -= skip;
            let useful = produced.get(skip..).unwrap_or(&[]);
            let take = useful.len().min(expected - produced_total);
            out.extend_from_slice(useful.get(..take).unwrap_or(&[]));
            produced_total += take;
        }
        debug_assert_eq!(out.len() - start, expected);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, len: usize, amp: f64) -> Vec<i16> {
        (0..len)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    #[test]
    fn chunk_sizes_are_20_ms() {
        for (from, to, cin, cout) in [
            (8000, 16000, 160, 320),
            (24000, 8000, 480, 160),
            (22050, 8000, 441, 160),
            (16000, 8000, 320, 160),
        ] {
            let r = StreamResampler::new(from, to).unwrap();
            assert_eq!((r.chunk_in(), r.chunk_out()), (cin, cout), "{from}->{to}");
        }
    }

    #[test]
    fn rejects_unsupported_rates() {
        assert!(matches!(
            StreamResampler::new(11025, 8000),
            Err(ResampleError::UnsupportedRate(11025))
        ));
    }

    #[test]
    fn clip_from_24k_keeps_length_and_waveform() {
        for rate in [16000, 22050, 24000] {
            let mut r = StreamResampler::new(rate, 8000).unwrap();
            let len = rate as usize + 123;
            let input = sine(rate, 440.0, len, 10000.0);
            let mut out = Vec::new();
            r.process_clip(&input, &mut out).unwrap();
            assert_eq!(out.len(), (len * 8000 + rate as usize / 2) / rate as usize);
            // Away from the clip edges the output follows an ideal sine (allowing the
            // resampler's sub-sample delay) at every chunk boundary and in between: no
            // clicks, no gaps.
            let worst = (-100..=100)
                .map(|d| {
                    let delay = f64::from(d) / 100.0;
                    out[200..out.len() - 200]
                        .iter()
                        .enumerate()
                        .map(|(i, &a)| {
                            let t = (i + 200) as f64 - delay;
                            let ideal =
                                10000.0 * (2.0 * std::f64::consts::PI * 440.0 * t / 8000.0).sin();
                            (f64::from(a) - ideal).abs()
                        })
                        .fold(0.0, f64::max)
                })
                .fold(f64::MAX, f64::min);
            assert!(worst < 100.0, "{rate}: deviation {worst}");
        }
    }
}
