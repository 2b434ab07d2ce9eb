//! What an RTP peer received: the decoded audio in arrival order, one entry per accepted
//! packet, counts of what strict RTP and the payload-type filter dropped, and statistics.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::wav::write_wav_8k_mono;

/// One accepted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReceivedPacket {
    /// Arrival time since the External Media channel was created.
    pub arrival: Duration,
    /// How long the datagram waited in the socket before the peer read it (kernel receive
    /// time to read; zero where the kernel time is not taken).
    pub read_lag: Duration,
    /// Source address.
    pub source: SocketAddr,
    /// Payload type (0 or 8: others are dropped).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
    /// Marker bit.
    pub marker: bool,
    /// Payload bytes (= samples for G.711).
    pub payload_len: usize,
}

/// Everything one peer received and sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RtpRecording {
    /// Decoded 8 kHz 16-bit audio, packets appended in arrival order (no jitter buffer,
    /// as on Asterisk's UnicastRTP path).
    #[serde(skip)]
    pub pcm: Vec<i16>,
    /// Accepted packets.
    pub packets: Vec<ReceivedPacket>,
    /// Dropped by strict RTP (another source during probation or after the lock).
    pub dropped_source: u64,
    /// Dropped because the payload type has no static mapping we decode (not 0 or 8).
    pub dropped_payload_type: u64,
    /// Datagrams that were not RTP.
    pub dropped_malformed: u64,
    /// The source strict RTP locked on, if it has.
    pub locked_source: Option<SocketAddr>,
    /// Packets this peer sent.
    pub sent_packets: u64,
    /// Flood datagrams sent beside them (`vca-sim load --flood-every`); 0 for a caller
    /// that did not flood.
    pub flood_sent: u64,
}

/// Summary figures of an [`RtpRecording`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtpStats {
    /// Accepted packets.
    pub packets: usize,
    /// Distinct sources of accepted packets.
    pub sources: Vec<SocketAddr>,
    /// Distinct payload types of accepted packets.
    pub payload_types: Vec<u8>,
    /// Distinct SSRCs of accepted packets.
    pub ssrcs: Vec<u32>,
    /// Milliseconds of audio received.
    pub audio_ms: u64,
    /// RFC 3550 interarrival jitter at the end, in milliseconds.
    pub jitter_ms: f64,
    /// Mean and largest gap between arrivals, in milliseconds.
    pub mean_inter_arrival_ms: f64,
    /// Largest gap between arrivals, in milliseconds.
    pub max_inter_arrival_ms: f64,
}

impl RtpRecording {
    /// Summary statistics of the accepted packets.
    pub fn stats(&self) -> RtpStats {
        let sources: BTreeSet<_> = self.packets.iter().map(|p| p.source).collect();
        let pts: BTreeSet<_> = self.packets.iter().map(|p| p.payload_type).collect();
        let ssrcs: BTreeSet<_> = self.packets.iter().map(|p| p.ssrc).collect();
        let mut jitter = 0.0f64;
        let mut gaps_sum = 0.0f64;
        let mut gaps_max = 0.0f64;
        for w in self.packets.windows(2) {
            let gap_ms = (w[1].arrival.as_secs_f64() - w[0].arrival.as_secs_f64()) * 1000.0;
            gaps_sum += gap_ms;
            gaps_max = gaps_max.max(gap_ms);
            if w[0].ssrc == w[1].ssrc {
                let ts_ms = f64::from(w[1].timestamp.wrapping_sub(w[0].timestamp) as i32) / 8.0;
                let d = (gap_ms - ts_ms).abs();
                jitter += (d - jitter) / 16.0;
            }
        }
        let gaps = self.packets.len().saturating_sub(1);
        RtpStats {
            packets: self.packets.len(),
            sources: sources.into_iter().collect(),
            payload_types: pts.into_iter().collect(),
            ssrcs: ssrcs.into_iter().collect(),
            audio_ms: (self.pcm.len() as u64) / 8,
            jitter_ms: jitter,
            mean_inter_arrival_ms: if gaps == 0 {
                0.0
            } else {
                gaps_sum / gaps as f64
            },
            max_inter_arrival_ms: gaps_max,
        }
    }

    /// Writes the decoded audio as an 8 kHz mono 16-bit WAV.
    pub fn write_wav(&self, path: &Path) -> Result<(), SimError> {
        write_wav_8k_mono(path, &self.pcm)
    }
}
