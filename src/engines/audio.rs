//! Audio handed between engines and the media path: PCM chunks out of TTS, and the
//! little-endian byte assembler that turns a streamed body (split at any byte) into
//! samples.

/// A piece of synthesized speech: mono 16-bit PCM at `rate_hz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmChunk {
    /// Sample rate (8000, 16000, 22050 or 24000 from our providers).
    pub rate_hz: u32,
    /// The samples.
    pub samples: Vec<i16>,
}

/// Joins a byte stream of 16-bit little-endian samples split at arbitrary points.
#[derive(Debug, Default)]
pub struct Le16Assembler {
    carry: Option<u8>,
}

impl Le16Assembler {
    /// An assembler with nothing carried.
    pub fn new() -> Self {
        Self::default()
    }

    /// The whole samples in `bytes` (plus a byte carried from the previous call); an odd
    /// trailing byte is kept for the next call.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<i16> {
        let mut out = Vec::with_capacity(bytes.len() / 2 + 1);
        if let Some(low) = self.carry.take() {
            match bytes.split_first() {
                Some((&high, rest)) => {
                    out.push(i16::from_le_bytes([low, high]));
                    bytes = rest;
                }
                None => {
                    self.carry = Some(low);
                    return out;
                }
            }
        }
        let mut pairs = bytes.chunks_exact(2);
        out.extend(pairs.by_ref().map(|p| i16::from_le_bytes([p[0], p[1]])));
        self.carry = pairs.remainder().first().copied();
        out
    }

    /// Whether half a sample is waiting (at the end of a body: it was cut).
    pub fn has_carry(&self) -> bool {
        self.carry.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_splits_join_up() {
        let samples: Vec<i16> = vec![1, -2, 300, -32768, 32767];
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        for split in 0..bytes.len() {
            let mut a = Le16Assembler::new();
            let mut got = a.push(&bytes[..split]);
            got.extend(a.push(&[]));
            got.extend(a.push(&bytes[split..]));
            assert_eq!(got, samples);
            assert!(!a.has_carry());
        }
    }
}
