//! An Ogg Opus stream (RFC 7845) written as it goes: stereo 8 kHz speech encoded 20 ms at a
//! time by libopus (through `audiopus`), packets laid into Ogg pages by the `ogg` crate, a
//! page ended (and handed to the sink, then flushed) every second, so a file never holds
//! more than a second of the call in memory and a daemon killed mid-call leaves a readable
//! file up to its last page.
//!
//! One packet is always held back so the last one written can carry the end-of-stream flag.
//! Granule positions count decoded samples (pre-skip included); the stream ends with one
//! packet of silence that flushes the encoder's lookahead, and its granule position trims
//! the decoded audio back to exactly the frames written (RFC 7845 §4.4-4.5).

use std::io::{self, Write};

use audiopus::coder::Encoder;
use audiopus::{Application, Bitrate, Channels, SampleRate};
use ogg::writing::{PacketWriteEndInfo, PacketWriter};

/// Samples per channel in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Input sample rate of the recordings.
pub const SAMPLE_RATE: u32 = 8_000;
/// Encoder bitrate for both channels together: narrow-band speech, about 7.2 MB per hour.
pub const BITRATE: i32 = 16000;
/// libopus's speed/quality knob (0-10).
pub const COMPLEXITY: u8 = 5;
/// Ogg granule positions count 48 kHz samples, whatever the input rate (RFC 7845 §4).
const GRANULE_PER_FRAME: u64 = 960;
/// Packets per Ogg page: a page (one second) is the most a crash can lose.
const PACKETS_PER_PAGE: u64 = 50;
/// The largest packet libopus writes for one frame.
const MAX_PACKET: usize = 1_500;

/// Why a recording stream failed.
#[derive(Debug, thiserror::Error)]
pub enum OggOpusError {
    /// libopus refused a setting or a frame.
    #[error("opus: {0}")]
    Opus(#[from] audiopus::Error),
    /// The sink (the file) failed: a full disk, say.
    #[error("write: {0}")]
    Io(#[from] io::Error),
}

/// An Ogg Opus stream being written into `W`.
pub struct OggOpusWriter<W: Write> {
    encoder: Encoder,
    pages: PacketWriter<'static, CountingSink<W>>,
    serial: u32,
    pre_skip: u64,
    /// Frames encoded so far (the held-back one included).
    frames: u64,
    /// The last encoded packet, not yet written, with its granule position.
    held: Option<(Vec<u8>, u64)>,
    packet: [u8; MAX_PACKET],
}

impl<W: Write> OggOpusWriter<W> {
    /// Starts a stream with logical serial `serial`, writing its two header pages at once.
    /// `comments` go into the OpusTags header as `KEY=value` pairs.
    pub fn new(sink: W, serial: u32, comments: &[(&str, &str)]) -> Result<Self, OggOpusError> {
        let mut encoder = Encoder::new(SampleRate::Hz8000, Channels::Stereo, Application::Voip)?;
        encoder.set_bitrate(Bitrate::BitsPerSecond(BITRATE))?;
        // The two sides are two people: never folded into one channel at a low bitrate.
        encoder.set_force_channels(Channels::Stereo)?;
        // Speech at 8 kHz: complexity 5 costs about half of the default 10 for the same ear
        // (benches/recording.rs).
        encoder.set_complexity(COMPLEXITY)?;
        // Lookahead is given in input samples; the header counts 48 kHz samples.
        let pre_skip = u64::from(encoder.lookahead()?) * 6;
        let mut pages = PacketWriter::new(CountingSink::new(sink));
        pages.write_packet(
            opus_head(pre_skip as u16),
            serial,
            PacketWriteEndInfo::EndPage,
            0,
        )?;
        pages.write_packet(opus_tags(comments), serial, PacketWriteEndInfo::EndPage, 0)?;
        pages.inner_mut().flush()?;
        Ok(Self {
            encoder,
            pages,
            serial,
            pre_skip,
            frames: 0,
            held: None,
            packet: [0; MAX_PACKET],
        })
    }

    /// Encodes one 20 ms frame: `left` and `right` are 160 samples each.
    pub fn write_frame(
        &mut self,
        left: &[i16; FRAME_SAMPLES],
        right: &[i16; FRAME_SAMPLES],
    ) -> Result<(), OggOpusError> {
        let mut interleaved = [0i16; FRAME_SAMPLES * 2];
        for (i, pair) in interleaved.chunks_exact_mut(2).enumerate() {
            pair[0] = left[i];
            pair[1] = right[i];
        }
        self.frames += 1;
        let granule = self.frames * GRANULE_PER_FRAME;
        self.encode_and_hold(&interleaved, granule)
    }

    fn encode_and_hold(
        &mut self,
        interleaved: &[i16; FRAME_SAMPLES * 2],
        granule: u64,
    ) -> Result<(), OggOpusError> {
        let len = self.encoder.encode(interleaved, &mut self.packet)?;
        let packet = self.packet.get(..len).unwrap_or(&[]).to_vec();
        if let Some((previous, previous_granule)) = self.held.replace((packet, granule)) {
            // The held packet is frame `frames - 1`: end the page after every 50th.
            let end = if (self.frames - 1).is_multiple_of(PACKETS_PER_PAGE) {
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            self.pages
                .write_packet(previous, self.serial, end, previous_granule)?;
            if end == PacketWriteEndInfo::EndPage {
                self.pages.inner_mut().flush()?;
            }
        }
        Ok(())
    }

    /// Ends the stream (the last packet carries end-of-stream) and returns the sink.
    pub fn finish(mut self) -> Result<W, OggOpusError> {
        if self.frames > 0 {
            // Flushes the lookahead; the end granule keeps exactly the frames written.
            let end = self.pre_skip + self.frames * GRANULE_PER_FRAME;
            self.encode_and_hold(&[0; FRAME_SAMPLES * 2], end)?;
        }
        if let Some((last, granule)) = self.held.take() {
            self.pages
                .write_packet(last, self.serial, PacketWriteEndInfo::EndStream, granule)?;
        }
        let mut sink = self.pages.into_inner();
        sink.flush()?;
        Ok(sink.inner)
    }

    /// Audio encoded so far, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.frames * 20
    }

    /// Bytes handed to the sink so far.
    pub fn bytes_written(&self) -> u64 {
        self.pages.inner().written
    }
}

#[cfg(test)]
impl OggOpusWriter<Vec<u8>> {
    /// What reached the sink so far (what a crash would leave).
    pub(crate) fn pages_so_far(&self) -> &[u8] {
        &self.pages.inner().inner
    }
}

/// The identification header (RFC 7845 §5.1): version 1, two channels, channel mapping 0.
fn opus_head(pre_skip: u16) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1);
    head.push(2);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    head
}

/// The comment header (RFC 7845 §5.2).
fn opus_tags(comments: &[(&str, &str)]) -> Vec<u8> {
    let vendor = concat!("vca-bridge ", env!("CARGO_PKG_VERSION"));
    let mut tags = Vec::with_capacity(64);
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor.as_bytes());
    tags.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for (key, value) in comments {
        let comment = format!("{key}={value}");
        tags.extend_from_slice(&(comment.len() as u32).to_le_bytes());
        tags.extend_from_slice(comment.as_bytes());
    }
    tags
}

/// Counts what reaches the real sink (bytes the file holds once flushed).
struct CountingSink<W> {
    inner: W,
    written: u64,
}

impl<W> CountingSink<W> {
    fn new(inner: W) -> Self {
        Self { inner, written: 0 }
    }
}

impl<W: Write> Write for CountingSink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::recording::decode::decode_ogg_opus;

    fn tone(freq: f32, amplitude: f32, frame: usize) -> [i16; FRAME_SAMPLES] {
        let mut out = [0i16; FRAME_SAMPLES];
        for (i, s) in out.iter_mut().enumerate() {
            let t = (frame * FRAME_SAMPLES + i) as f32 / SAMPLE_RATE as f32;
            *s = (amplitude * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16;
        }
        out
    }

    #[test]
    fn a_stream_decodes_to_its_length_with_each_side_on_its_channel() {
        let mut w = OggOpusWriter::new(Vec::new(), 7, &[("CALL", "x")]).unwrap();
        let silence = [0i16; FRAME_SAMPLES];
        for f in 0..150 {
            // One second of tone on the left, then one on the right, then one of nothing.
            let (l, r) = match f / 50 {
                0 => (tone(440.0, 8000.0, f), silence),
                1 => (silence, tone(300.0, 8000.0, f)),
                _ => (silence, silence),
            };
            w.write_frame(&l, &r).unwrap();
        }
        assert_eq!(w.duration_ms(), 3000);
        let bytes = w.finish().unwrap();
        let decoded = decode_ogg_opus(&bytes).unwrap();
        assert_eq!(decoded.channels, 2);
        assert_eq!(decoded.streams, 1);
        // Decoded at 48 kHz, pre-skip removed: exactly the frames written.
        assert_eq!(decoded.left.len(), 3 * 48_000);
        let energy =
            |s: &[i16]| s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64;
        let sec = |s: &[i16], n: usize| energy(&s[n * 48_000 + 4_800..(n + 1) * 48_000 - 4_800]);
        assert!(sec(&decoded.left, 0) > 100.0 * sec(&decoded.right, 0).max(1.0));
        assert!(sec(&decoded.right, 1) > 100.0 * sec(&decoded.left, 1).max(1.0));
        assert!(sec(&decoded.left, 2) < 1000.0 && sec(&decoded.right, 2) < 1000.0);
        assert!(
            bytes.len() < 3 * BITRATE as usize / 8 * 2,
            "{} bytes for 3 s",
            bytes.len()
        );
    }

    #[test]
    fn pages_reach_the_sink_every_second_not_at_the_end() {
        let mut w = OggOpusWriter::new(Vec::new(), 1, &[]).unwrap();
        let headers = w.bytes_written();
        let frame = tone(500.0, 5000.0, 0);
        for _ in 0..49 {
            w.write_frame(&frame, &frame).unwrap();
        }
        assert_eq!(
            w.bytes_written(),
            headers,
            "less than a second stays in memory"
        );
        for _ in 0..3 {
            w.write_frame(&frame, &frame).unwrap();
        }
        assert!(
            w.bytes_written() > headers,
            "the first second's page was written"
        );
    }

    /// A sink that fails like a full disk after `room` bytes.
    struct FullDisk {
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() > self.room {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            self.room -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_is_an_error_not_a_panic() {
        let mut w = OggOpusWriter::new(FullDisk { room: 400 }, 1, &[]).unwrap();
        let frame = tone(500.0, 5000.0, 0);
        let failed = (0..500).find_map(|_| w.write_frame(&frame, &frame).err());
        assert!(matches!(failed, Some(OggOpusError::Io(_))), "{failed:?}");
    }
}
