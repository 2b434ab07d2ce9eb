//! WAV for engines: writing a mono 16-bit file (STT uploads) and reading one as it
//! streams in (espeak-ng's `--stdout`, whose header sizes are unknown when piped).

use super::audio::Le16Assembler;

/// A mono 16-bit PCM WAV file of `samples` at `rate`.
pub fn mono16(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX - 44);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Why a streamed WAV cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// Not RIFF/WAVE.
    #[error("not a RIFF/WAVE stream")]
    NotWav,
    /// Not mono 16-bit PCM.
    #[error("unsupported WAV format: {0}")]
    Unsupported(String),
    /// The header never ended.
    #[error("WAV header too long")]
    HeaderTooLong,
}

/// Reads a WAV stream pushed in pieces: header first, then samples.
#[derive(Debug, Default)]
pub struct WavStreamReader {
    header: Vec<u8>,
    rate: Option<u32>,
    in_data: bool,
    samples: Le16Assembler,
}

const MAX_HEADER: usize = 64 * 1024;

impl WavStreamReader {
    /// A reader waiting for the header.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sample rate, once the `fmt ` chunk has been read.
    pub fn rate(&self) -> Option<u32> {
        self.rate
    }

    /// Feeds bytes; returns the samples they complete (empty while in the header).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<i16>, WavError> {
        if self.in_data {
            return Ok(self.samples.push(bytes));
        }
        self.header.extend_from_slice(bytes);
        if self.header.len() < 12 {
            return Ok(Vec::new());
        }
        if &self.header[0..4] != b"RIFF" || &self.header[8..12] != b"WAVE" {
            return Err(WavError::NotWav);
        }
        let mut pos = 12;
        while let Some(head) = self.header.get(pos..pos + 8) {
            let id = [head[0], head[1], head[2], head[3]];
            let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
            if &id == b"data" {
                self.in_data = true;
                let rest = self.header.split_off(pos + 8);
                if self.rate.is_none() {
                    return Err(WavError::Unsupported("data before fmt".into()));
                }
                return Ok(self.samples.push(&rest));
            }
            let Some(body) = self.header.get(pos + 8..pos + 8 + len) else {
                break;
            };
            if &id == b"fmt " {
                self.rate = Some(read_fmt(body)?);
            }
            pos += 8 + len + (len & 1);
        }
        if self.header.len() > MAX_HEADER {
            return Err(WavError::HeaderTooLong);
        }
        Ok(Vec::new())
    }
}

/// The sample rate of a `fmt ` chunk that describes mono 16-bit PCM.
fn read_fmt(body: &[u8]) -> Result<u32, WavError> {
    let field16 = |at: usize| {
        body.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let format = field16(0);
    let channels = field16(2);
    let bits = field16(14);
    let rate = body
        .get(4..8)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    match (format, channels, rate, bits) {
        (Some(1), Some(1), Some(rate), Some(16)) if rate > 0 => Ok(rate),
        _ => Err(WavError::Unsupported(format!(
            "format {format:?}, channels {channels:?}, bits {bits:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_wav_reads_back_split_anywhere() {
        let samples: Vec<i16> = (0..50).map(|i| i * 100 - 2500).collect();
        let bytes = mono16(16000, &samples);
        assert_eq!(bytes.len(), 44 + 100);
        for split in 0..bytes.len() {
            let mut r = WavStreamReader::new();
            let mut got = r.push(&bytes[..split]).unwrap();
            got.extend(r.push(&bytes[split..]).unwrap());
            assert_eq!(got, samples, "split at {split}");
            assert_eq!(r.rate(), Some(16000));
        }
    }

    #[test]
    fn refuses_non_wav_and_stereo() {
        assert_eq!(
            WavStreamReader::new()
                .push(b"ID3\x04 not a wav file")
                .unwrap_err(),
            WavError::NotWav
        );
        let mut stereo = mono16(8000, &[0; 4]);
        stereo[22] = 2;
        assert!(matches!(
            WavStreamReader::new().push(&stereo),
            Err(WavError::Unsupported(_))
        ));
    }
}
