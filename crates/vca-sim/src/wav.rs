//! Reading caller audio from, and writing recordings to, 8 kHz mono 16-bit PCM WAV files.

use std::path::Path;

use crate::error::SimError;

/// Reads an 8 kHz mono 16-bit PCM WAV; any other format is a clear error (convert with sox).
pub fn read_wav_8k_mono(path: &Path) -> Result<Vec<i16>, SimError> {
    let reader = hound::WavReader::open(path).map_err(|source| SimError::WavRead {
        path: path.to_owned(),
        source,
    })?;
    let spec = reader.spec();
    if spec.sample_rate != 8000
        || spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(SimError::WavFormat {
            path: path.to_owned(),
            found: format!(
                "{} Hz, {} channel(s), {}-bit {:?}",
                spec.sample_rate, spec.channels, spec.bits_per_sample, spec.sample_format
            ),
        });
    }
    reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| SimError::WavRead {
            path: path.to_owned(),
            source,
        })
}

/// Writes samples as an 8 kHz mono 16-bit PCM WAV.
pub fn write_wav_8k_mono(path: &Path, samples: &[i16]) -> Result<(), SimError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let err = |source| SimError::WavWrite {
        path: path.to_owned(),
        source,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(err)?;
    for &s in samples {
        writer.write_sample(s).map_err(err)?;
    }
    writer.finalize().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_format_check() {
        let dir = std::env::temp_dir().join(format!("vca-sim-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.wav");
        let samples: Vec<i16> = (0..800).map(|i| (i * 37 % 2000) as i16 - 1000).collect();
        write_wav_8k_mono(&p, &samples).unwrap();
        assert_eq!(read_wav_8k_mono(&p).unwrap(), samples);

        let bad = dir.join("b.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&bad, spec).unwrap();
        w.write_sample(0i16).unwrap();
        w.finalize().unwrap();
        let e = read_wav_8k_mono(&bad).unwrap_err();
        assert!(e.to_string().contains("16000 Hz"), "{e}");
        assert!(e.to_string().contains("sox"), "{e}");
    }
}
