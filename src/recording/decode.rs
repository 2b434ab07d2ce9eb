//! Reading recordings back: the whole file decoded to 48 kHz stereo (one Ogg Opus stream
//! or several chained, as a re-adopted call's segments are served), the length of a file
//! cut short by a crash (from the granule position of its last complete page), and the
//! repair that makes such a file a whole stream again: a torn last page cut off, the
//! end-of-stream flag set on the last whole one, so segments chain.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use audiopus::coder::Decoder;
use audiopus::{Channels, SampleRate};
use ogg::reading::PacketReader;

/// A decoded recording.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Channels the header announced (the last stream's).
    pub channels: u8,
    /// Logical streams read one after another (chained segments).
    pub streams: usize,
    /// The caller, at 48 kHz, each stream's pre-skip removed.
    pub left: Vec<i16>,
    /// The agent, at 48 kHz.
    pub right: Vec<i16>,
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not an Ogg stream, or a broken one.
    #[error("ogg: {0}")]
    Ogg(#[from] ogg::OggReadError),
    /// Not Opus, or a broken packet.
    #[error("opus: {0}")]
    Opus(#[from] audiopus::Error),
    /// A stream without its `OpusHead`.
    #[error("not an Ogg Opus stream: {0}")]
    NotOpus(&'static str),
}

/// Decodes every Opus stream in `bytes`, in order.
pub fn decode_ogg_opus(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut reader = PacketReader::new(Cursor::new(bytes));
    let mut out = Decoded::default();
    // (serial, decoder, pre-skip still to drop, the stream's pre-skip, where its samples start)
    let mut current: Option<(u32, Decoder, usize, u64, usize)> = None;
    let mut pcm = vec![0i16; 5_760 * 2];
    while let Some(packet) = reader.read_packet()? {
        let serial = packet.stream_serial();
        if packet.first_in_stream() {
            let data = &packet.data;
            if data.len() < 19 || !data.starts_with(b"OpusHead") {
                return Err(DecodeError::NotOpus("first packet is not OpusHead"));
            }
            out.channels = data[9];
            let pre_skip = usize::from(u16::from_le_bytes([data[10], data[11]]));
            let decoder = Decoder::new(SampleRate::Hz48000, Channels::Stereo)?;
            current = Some((serial, decoder, pre_skip, pre_skip as u64, out.left.len()));
            out.streams += 1;
            continue;
        }
        if packet.data.starts_with(b"OpusTags") {
            continue;
        }
        let Some((s, decoder, skip, pre_skip, start)) = current.as_mut() else {
            return Err(DecodeError::NotOpus("audio before OpusHead"));
        };
        if *s != serial {
            return Err(DecodeError::NotOpus("interleaved streams"));
        }
        let n = decoder.decode(Some(&packet.data[..]), &mut pcm[..], false)?;
        let dropped = (*skip).min(n);
        *skip -= dropped;
        for pair in pcm[..n * 2].chunks_exact(2).skip(dropped) {
            out.left.push(pair[0]);
            out.right.push(pair[1]);
        }
        if packet.last_in_stream() {
            // End trimming: the last granule position says how much is audio.
            let keep = packet.absgp_page().saturating_sub(*pre_skip) as usize;
            let until = (*start + keep).min(out.left.len());
            out.left.truncate(until);
            out.right.truncate(until);
        }
    }
    Ok(out)
}

/// The granule position of the last complete page of the stream read from `file`, and
/// the stream's pre-skip: what a crash left, in 48 kHz samples. Reads only the first
/// header page and the file's tail.
pub fn last_granule<R: Read + Seek>(file: &mut R) -> std::io::Result<Option<u64>> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut head = [0u8; 64];
    file.seek(SeekFrom::Start(0))?;
    let got = read_up_to(file, &mut head)?;
    let pre_skip = find_pre_skip(&head[..got]).unwrap_or(0);
    // A page is at most 65,307 bytes; ours are far smaller.
    let tail_len = len.min(70_000);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    let got = read_up_to(file, &mut tail)?;
    let tail = &tail[..got];
    let mut best: Option<u64> = None;
    let mut i = 0;
    while let Some(pos) = find(&tail[i..], b"OggS") {
        let at = i + pos;
        if let Some((granule, page_len)) = page_at(&tail[at..])
            && at + page_len <= tail.len()
        {
            if granule != u64::MAX && granule > 0 {
                best = Some(granule.saturating_sub(pre_skip));
            }
            i = at + page_len;
        } else {
            i = at + 1;
        }
    }
    Ok(best)
}

/// What [`end_cut_stream`] left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedStream {
    /// Audio kept, in 48 kHz samples; `None` when no audio page is whole.
    pub kept: Option<u64>,
    /// Bytes of whole pages: the file is to be cut to this length.
    pub len: u64,
}

/// Ends the stream in `file` where a crash cut it: sets the end-of-stream flag (with its
/// CRC) on the last whole page and says where the whole pages end, so a torn last page
/// can be cut off. A stream that already ended is left alone.
pub fn end_cut_stream<F: Read + Write + Seek>(file: &mut F) -> std::io::Result<EndedStream> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut head = [0u8; 64];
    file.seek(SeekFrom::Start(0))?;
    let got = read_up_to(file, &mut head)?;
    let pre_skip = find_pre_skip(&head[..got]).unwrap_or(0);
    let tail_len = len.min(140_000);
    let tail_start = len - tail_len;
    file.seek(SeekFrom::Start(tail_start))?;
    let mut tail = vec![0u8; tail_len as usize];
    let got = read_up_to(file, &mut tail)?;
    let tail = &tail[..got];
    // The last whole page: (offset in tail, length, granule).
    let mut last: Option<(usize, usize, u64)> = None;
    let mut i = 0;
    while let Some(pos) = find(&tail[i..], b"OggS") {
        let at = i + pos;
        match page_at(&tail[at..]) {
            Some((granule, page_len))
                if at + page_len <= tail.len() && page_crc_ok(&tail[at..at + page_len]) =>
            {
                last = Some((at, page_len, granule));
                i = at + page_len;
            }
            _ => i = at + 1,
        }
    }
    let Some((at, page_len, granule)) = last else {
        return Ok(EndedStream { kept: None, len });
    };
    let mut page = tail[at..at + page_len].to_vec();
    let whole_end = tail_start + (at + page_len) as u64;
    if page[5] & 0x04 == 0 || whole_end < len {
        page[5] |= 0x04;
        page[22..26].fill(0);
        let crc = ogg_crc(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        file.seek(SeekFrom::Start(tail_start + at as u64))?;
        file.write_all(&page)?;
        file.flush()?;
    }
    let kept = granule.saturating_sub(pre_skip);
    Ok(EndedStream {
        kept: (granule != u64::MAX && granule > 0).then_some(kept),
        len: whole_end,
    })
}

/// Whether a page's CRC matches (a torn or overwritten page does not).
fn page_crc_ok(page: &[u8]) -> bool {
    if page.len() < 27 {
        return false;
    }
    let mut copy = page.to_vec();
    let stored = u32::from_le_bytes([copy[22], copy[23], copy[24], copy[25]]);
    copy[22..26].fill(0);
    ogg_crc(&copy) == stored
}

/// The Ogg page checksum: CRC-32, polynomial 0x04c11db7, no reflection, initial 0.
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The granule position and whole length of the page starting at `page[0]`, if its header
/// and lacing table are there.
fn page_at(page: &[u8]) -> Option<(u64, usize)> {
    let header = page.get(..27)?;
    if header.get(4) != Some(&0) {
        return None;
    }
    let granule = u64::from_le_bytes(header.get(6..14)?.try_into().ok()?);
    let segments = usize::from(header[26]);
    let lacing = page.get(27..27 + segments)?;
    let body: usize = lacing.iter().map(|&b| usize::from(b)).sum();
    Some((granule, 27 + segments + body))
}

fn find_pre_skip(head: &[u8]) -> Option<u64> {
    let at = find(head, b"OpusHead")?;
    let bytes = head.get(at + 10..at + 12)?;
    Some(u64::from(u16::from_le_bytes([bytes[0], bytes[1]])))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::recording::ogg_opus::{FRAME_SAMPLES, OggOpusWriter};

    fn written(frames: usize, serial: u32, finish: bool) -> Vec<u8> {
        let mut w = OggOpusWriter::new(Vec::new(), serial, &[]).unwrap();
        let f = [1000i16; FRAME_SAMPLES];
        for _ in 0..frames {
            w.write_frame(&f, &f).unwrap();
        }
        if finish {
            w.finish().unwrap()
        } else {
            // A crash: what reached the sink, without the pages still in memory.
            let bytes = w.pages_so_far();
            bytes.to_vec()
        }
    }

    #[test]
    fn chained_segments_decode_one_after_another() {
        let mut both = written(100, 1, true);
        both.extend(written(50, 2, true));
        let d = decode_ogg_opus(&both).unwrap();
        assert_eq!(d.streams, 2);
        assert_eq!(d.left.len(), 150 * 960);
    }

    #[test]
    fn a_cut_file_tells_its_length_up_to_its_last_page() {
        let cut = written(175, 3, false);
        let granule = last_granule(&mut Cursor::new(&cut)).unwrap().unwrap();
        // Pages end every 50 frames: three whole pages reached the file (less the pre-skip).
        assert!((149 * 960..150 * 960).contains(&granule), "{granule}");
        let whole = written(175, 3, true);
        assert_eq!(
            last_granule(&mut Cursor::new(&whole)).unwrap(),
            Some(175 * 960)
        );
        assert_eq!(last_granule(&mut Cursor::new(b"not ogg")).unwrap(), None);
    }

    #[test]
    fn a_cut_stream_is_ended_and_then_chains() {
        // What a crash leaves, with half a page torn off the end.
        let mut cut = written(175, 4, false);
        let whole_pages = cut.len();
        cut.extend_from_slice(&written(60, 4, true)[200..400]);
        let mut file = Cursor::new(cut);
        let ended = end_cut_stream(&mut file).unwrap();
        let kept = ended.kept.unwrap();
        assert!((149 * 960..150 * 960).contains(&kept), "{kept}");
        assert_eq!(ended.len, whole_pages as u64, "the torn page is cut off");
        let mut repaired = file.into_inner();
        repaired.truncate(whole_pages);
        let d = decode_ogg_opus(&repaired).unwrap();
        assert_eq!(d.left.len() as u64, kept);
        // Chained with the next segment, both decode.
        repaired.extend(written(50, 5, true));
        let d = decode_ogg_opus(&repaired).unwrap();
        assert_eq!(d.streams, 2);
        // Ending a stream that ended does nothing.
        let whole = written(10, 6, true);
        let mut again = Cursor::new(whole.clone());
        end_cut_stream(&mut again).unwrap();
        assert_eq!(again.into_inner(), whole);
    }

    #[test]
    fn garbage_is_no_recording() {
        for junk in [
            &b"OggS garbage that is not a page"[..],
            &[0u8; 100][..],
            b"",
        ] {
            let streams = decode_ogg_opus(junk).map(|d| d.streams).unwrap_or(0);
            assert_eq!(streams, 0);
        }
    }
}
