//! The byte formats the fakes read and write: 16-bit little-endian PCM, G.711 µ-law, RIFF
//! WAV (what a transcription upload carries) and multipart/form-data (how it is carried).
//! Malformed input is an `Err` saying what is wrong, never a panic.

use vca_media::g711::Law;

/// Little-endian bytes of samples.
pub fn le_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// µ-law bytes of samples.
pub fn ulaw_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| Law::Ulaw.encode(s)).collect()
}

/// A parsed RIFF/WAVE PCM file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Channels.
    pub channels: u16,
    /// Sample rate.
    pub rate: u32,
    /// Bits per sample.
    pub bits: u16,
    /// Samples (mono 16-bit assumed by callers; checked via the fields).
    pub samples: Vec<i16>,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a canonical PCM WAV; `Err` says what is wrong.
pub fn parse_wav(bytes: &[u8]) -> Result<Wav, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let mut pos = 12;
    let mut fmt = None;
    while let (Some(id), Some(len)) = (bytes.get(pos..pos + 4), u32_at(bytes, pos + 4)) {
        let len = len as usize;
        let start = pos + 8;
        let body = &bytes[start..start.saturating_add(len).min(bytes.len())];
        if id == b"fmt " {
            let format = (body.len() >= 16).then(|| {
                (
                    u16_at(body, 0),
                    u16_at(body, 2),
                    u32_at(body, 4),
                    u16_at(body, 14),
                )
            });
            match format {
                Some((Some(1), Some(channels), Some(rate), Some(bits))) => {
                    fmt = Some((channels, rate, bits));
                }
                _ => return Err("fmt chunk is not PCM".into()),
            }
        } else if id == b"data" {
            let (channels, rate, bits) = fmt.ok_or("data before fmt")?;
            let samples = body
                .chunks_exact(2)
                .map(|p| i16::from_le_bytes([p[0], p[1]]))
                .collect();
            return Ok(Wav {
                channels,
                rate,
                bits,
                samples,
            });
        }
        pos = start.saturating_add(len).saturating_add(len & 1);
    }
    Err("no data chunk".into())
}

/// One part of a multipart/form-data body.
#[derive(Debug, Clone)]
pub struct Part {
    /// The `name` of its Content-Disposition.
    pub name: String,
    /// The `filename`, for file parts.
    pub filename: Option<String>,
    /// Its Content-Type header, if any.
    pub content_type: Option<String>,
    /// Its bytes.
    pub body: Vec<u8>,
}

/// Parses a multipart/form-data body with the boundary from its Content-Type.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .ok_or("no boundary in Content-Type")?
        .trim_matches('"');
    if boundary.is_empty() {
        return Err("empty boundary".into());
    }
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut sections = split_bytes(body, &delimiter).into_iter();
    sections.next(); // preamble
    for section in sections {
        if section.starts_with(b"--") {
            return Ok(parts);
        }
        let section = section.strip_prefix(b"\r\n").ok_or("part without CRLF")?;
        let split = find(section, b"\r\n\r\n").ok_or("part without header end")?;
        let head = std::str::from_utf8(&section[..split]).map_err(|_| "non-UTF-8 part head")?;
        let data = section[split + 4..]
            .strip_suffix(b"\r\n")
            .ok_or("part not ended by CRLF")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            body: data.to_vec(),
        };
        for line in head.split("\r\n") {
            let (key, value) = line.split_once(':').ok_or("bad part header")?;
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for attr in value.split(';').map(str::trim) {
                        if let Some(v) = attr.strip_prefix("name=") {
                            part.name = v.trim_matches('"').to_string();
                        } else if let Some(v) = attr.strip_prefix("filename=") {
                            part.filename = Some(v.trim_matches('"').to_string());
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        if part.name.is_empty() {
            return Err("part without a name".into());
        }
        parts.push(part);
    }
    Err("no closing boundary".into())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split_bytes<'a>(mut hay: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = find(hay, delimiter) {
        out.push(&hay[..i]);
        hay = &hay[i + delimiter.len()..];
    }
    out.push(hay);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(channels: u16, rate: u32, samples: &[i16]) -> Vec<u8> {
        let data = le_bytes(samples);
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        b.extend_from_slice(&(2 * channels).to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&data);
        b
    }

    #[test]
    fn a_pcm_wav_is_read_and_garbage_is_refused() {
        let w = parse_wav(&wav(1, 16_000, &[1, -2, 3])).unwrap();
        assert_eq!((w.channels, w.rate, w.bits), (1, 16_000, 16));
        assert_eq!(w.samples, vec![1, -2, 3]);
        assert!(parse_wav(b"RIFF").is_err());
        assert!(parse_wav(b"RIFF\0\0\0\0WAVEfmt \xff\xff\xff\xff").is_err());
        let mut truncated = wav(1, 8000, &[5; 10]);
        truncated.truncate(50);
        assert_eq!(parse_wav(&truncated).unwrap().samples, vec![5, 5, 5]);
    }

    #[test]
    fn multipart_parts_are_found_and_broken_bodies_refused() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"u.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--XyZ--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), &parts[0].body[..]),
            ("model", &b"whisper-1"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("u.wav"));
        assert_eq!(parts[1].content_type.as_deref(), Some("audio/wav"));
        assert!(parse_multipart("application/json", body).is_err());
        assert!(parse_multipart("multipart/form-data; boundary=", body).is_err());
        assert!(parse_multipart("multipart/form-data; boundary=Other", body).is_err());
        assert!(parse_multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\nno end").is_err());
    }
}
