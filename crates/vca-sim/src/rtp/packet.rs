//! RTP (RFC 3550) fixed header: parsing a received datagram and writing one into a
//! caller-owned buffer. Nothing here allocates.

/// The header fields the simulator needs, and where the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpHeader {
    pub(crate) marker: bool,
    pub(crate) payload_type: u8,
    pub(crate) sequence: u16,
    pub(crate) timestamp: u32,
    pub(crate) ssrc: u32,
    /// Byte offset of the payload in the datagram.
    pub(crate) payload_start: usize,
    /// Byte offset one past the payload (padding removed).
    pub(crate) payload_end: usize,
}

/// Size of the fixed header we write (no CSRC, no extension).
pub(crate) const HEADER_LEN: usize = 12;

/// Parses a datagram; `None` if it is not RTP version 2 or is truncated.
pub(crate) fn parse(buf: &[u8]) -> Option<RtpHeader> {
    if buf.len() < HEADER_LEN || buf[0] >> 6 != 2 {
        return None;
    }
    let padding = buf[0] & 0x20 != 0;
    let extension = buf[0] & 0x10 != 0;
    let csrc_count = usize::from(buf[0] & 0x0f);
    let mut start = HEADER_LEN + 4 * csrc_count;
    if extension {
        let ext = buf.get(start..start + 4)?;
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        start += 4 + 4 * words;
    }
    let mut end = buf.len();
    if padding {
        let pad = usize::from(*buf.last()?);
        end = end.checked_sub(pad)?;
    }
    if start > end {
        return None;
    }
    Some(RtpHeader {
        marker: buf[1] & 0x80 != 0,
        payload_type: buf[1] & 0x7f,
        sequence: u16::from_be_bytes([buf[2], buf[3]]),
        timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        payload_start: start,
        payload_end: end,
    })
}

/// Writes a 12-byte header into `out[..12]`.
pub(crate) fn write_header(
    out: &mut [u8; HEADER_LEN],
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
) {
    out[0] = 0x80;
    out[1] = (u8::from(marker) << 7) | (payload_type & 0x7f);
    out[2..4].copy_from_slice(&sequence.to_be_bytes());
    out[4..8].copy_from_slice(&timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse() {
        let mut h = [0u8; HEADER_LEN];
        write_header(&mut h, true, 8, 0xfffe, 160, 0xdead_beef);
        let mut pkt = h.to_vec();
        pkt.extend_from_slice(&[1, 2, 3]);
        let p = parse(&pkt).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, 8);
        assert_eq!(p.sequence, 0xfffe);
        assert_eq!(p.timestamp, 160);
        assert_eq!(p.ssrc, 0xdead_beef);
        assert_eq!(&pkt[p.payload_start..p.payload_end], &[1, 2, 3]);
    }

    #[test]
    fn rejects_garbage_and_handles_csrc_extension_padding() {
        assert!(parse(&[0u8; 5]).is_none());
        assert!(parse(&[0x40; 20]).is_none());
        // V=2, P=1, X=1, CC=1
        let mut pkt = vec![0xb1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        pkt.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        pkt.extend_from_slice(&[0xbe, 0xde, 0, 1, 7, 7, 7, 7]); // extension, 1 word
        pkt.extend_from_slice(&[5, 6, 0, 2]); // payload 5,6 + 2 bytes padding
        let p = parse(&pkt).unwrap();
        assert_eq!(&pkt[p.payload_start..p.payload_end], &[5, 6]);
        let mut bad_pad = vec![0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        bad_pad.push(200);
        assert!(parse(&bad_pad).is_none());
    }
}
