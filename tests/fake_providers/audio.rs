//! Audio helpers for fake providers: a test tone, G.711 µ-law encoding, WAV reading, and
//! a multipart/form-data parser for transcription uploads.

use vca_media::g711::Law;

/// `n` samples of a 440 Hz tone at `rate`, amplitude 8000.
pub fn tone(rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
        })
        .collect()
}

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

/// Reads a canonical PCM WAV; `Err` says what is wrong.
pub fn parse_wav(bytes: &[u8]) -> Result<Wav, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let mut pos = 12;
    let mut fmt = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            if body.len() < 16 || u16::from_le_bytes([body[0], body[1]]) != 1 {
                return Err("fmt chunk is not PCM".into());
            }
            fmt = Some((
                u16::from_le_bytes([body[2], body[3]]),
                u32::from_le_bytes(body[4..8].try_into().unwrap()),
                u16::from_le_bytes([body[14], body[15]]),
            ));
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
        pos += 8 + len + (len & 1);
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
        let mut data = &section[split + 4..];
        data = data.strip_suffix(b"\r\n").ok_or("part not ended by CRLF")?;
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
