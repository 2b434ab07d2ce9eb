//! RTP out: one SSRC per call, sequence number and timestamp continuous for the whole call,
//! the marker bit on the first packet of each talk spurt, always PT 0 or 8. Packets are
//! written into a caller-owned buffer; nothing allocates.
use super::g711::Law;
use super::{FRAME_SAMPLES, OUT_PACKET_LEN, RTP_HEADER_LEN};

/// The random identity of a call's outbound stream (RFC 3550 §5.1: SSRC, initial sequence
/// number and initial timestamp are random).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpIdentity {
    /// Synchronisation source of every packet we send.
    pub ssrc: u32,
    /// Sequence number of the first packet.
    pub first_seq: u16,
    /// Timestamp of the first packet.
    pub first_timestamp: u32,
}

impl RtpIdentity {
    /// A fresh random identity.
    pub fn random() -> Self {
        RtpIdentity {
            ssrc: rand::random(),
            first_seq: rand::random(),
            first_timestamp: rand::random(),
        }
    }
}

/// Writes the call's outbound packets.
#[derive(Debug, Clone)]
pub struct RtpSender {
    payload_type: u8,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
}

impl RtpSender {
    /// A sender for `law` with the given identity.
    pub fn new(law: Law, identity: RtpIdentity) -> Self {
        RtpSender {
            payload_type: law.payload_type(),
            ssrc: identity.ssrc,
            seq: identity.first_seq,
            timestamp: identity.first_timestamp,
        }
    }

    /// The SSRC of every packet.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Sequence number the next packet will carry.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// Timestamp the next packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Advances the timestamp over `frames` frames that were never sent (the pacer fell
    /// behind), so the timestamp keeps following the clock. The sequence stays continuous.
    pub fn skip_frames(&mut self, frames: u32) {
        self.timestamp = self
            .timestamp
            .wrapping_add(frames.wrapping_mul(FRAME_SAMPLES as u32));
    }

    /// Writes one packet carrying `payload` (one 20 ms frame of code words) into `out` and
    /// advances the sequence number and timestamp. Returns the packet length.
    pub fn write_packet(
        &mut self,
        marker: bool,
        payload: &[u8; FRAME_SAMPLES],
        out: &mut [u8; OUT_PACKET_LEN],
    ) -> usize {
        let (header, body) = out.split_at_mut(RTP_HEADER_LEN);
        header[0] = 0x80; // V=2, no padding, no extension, no CSRC
        header[1] = (u8::from(marker) << 7) | (self.payload_type & 0x7F);
        header[2..4].copy_from_slice(&self.seq.to_be_bytes());
        header[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        header[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        body.copy_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        OUT_PACKET_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_parse_back_with_continuous_numbers() {
        let identity = RtpIdentity {
            ssrc: 0xDEAD_BEEF,
            first_seq: 65535,
            first_timestamp: u32::MAX - 100,
        };
        let mut sender = RtpSender::new(Law::Alaw, identity);
        let mut buf = [0u8; OUT_PACKET_LEN];
        let payload = [0xD5u8; FRAME_SAMPLES];
        for i in 0..3u32 {
            let n = sender.write_packet(i == 0, &payload, &mut buf);
            let rtp = rtp_rs::RtpReader::new(&buf[..n]).unwrap();
            assert_eq!(rtp.payload_type(), 8);
            assert_eq!(rtp.ssrc(), 0xDEAD_BEEF);
            assert_eq!(rtp.mark(), i == 0);
            assert_eq!(
                u16::from(rtp.sequence_number()),
                65535u16.wrapping_add(i as u16)
            );
            assert_eq!(rtp.timestamp(), (u32::MAX - 100).wrapping_add(160 * i));
            assert_eq!(rtp.payload(), &payload[..]);
        }
    }
}
