//! Inbound RTP on a virtual clock: reorder, loss, duplicates, SSRC change, the pauses
//! Asterisk makes around DTMF (replayed from its recorded headers), source and payload-type
//! checks, and arbitrary bytes (proptest).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use vca_media::config::JitterConfig;
use vca_media::g711::Law;
use vca_media::inbound::{InboundFrame, InboundStream};
use vca_media::stats::{DropReason, MediaStats};

const ASTERISK: &str = "127.0.0.1:15732";

fn asterisk() -> SocketAddr {
    ASTERISK.parse().unwrap()
}

fn rtp(seq: u16, ts: u32, ssrc: u32, pt: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

struct Harness {
    t0: Instant,
    stream: InboundStream,
    stats: MediaStats,
    frames: Vec<InboundFrame>,
}

impl Harness {
    fn new() -> Self {
        let t0 = Instant::now();
        Harness {
            t0,
            stream: InboundStream::new(Law::Ulaw, asterisk(), t0, &JitterConfig::default()),
            stats: MediaStats::default(),
            frames: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn send(&mut self, ms: u64, datagram: &[u8]) -> Result<(), DropReason> {
        self.send_from(ms, asterisk(), datagram)
    }

    fn send_from(&mut self, ms: u64, src: SocketAddr, datagram: &[u8]) -> Result<(), DropReason> {
        let now = self.at(ms);
        let r = self
            .stream
            .handle_datagram(now, src, datagram, &mut self.stats);
        self.drain(ms);
        r
    }

    fn drain(&mut self, ms: u64) {
        let now = self.at(ms);
        while let Some(f) = self.stream.poll_frame(now, &mut self.stats) {
            self.frames.push(f);
        }
    }

    /// Packet `i` of a 20 ms stream whose payload bytes are all `i` (never 0xFF/0x7F).
    fn frame_packet(seq: u16, i: u8, ssrc: u32) -> Vec<u8> {
        rtp(seq, 160 + u32::from(seq) * 160, ssrc, 0, false, &[i; 160])
    }
}

fn first_code(f: &InboundFrame) -> u8 {
    f.codes[0]
}

#[test]
fn in_order_packets_become_frames_on_the_arrival_timeline() {
    let mut h = Harness::new();
    for i in 0..5u16 {
        h.send(
            100 + u64::from(i) * 20,
            &Harness::frame_packet(i, i as u8 + 1, 7),
        )
        .unwrap();
    }
    let at: Vec<u64> = h.frames.iter().map(|f| f.at_ms).collect();
    assert_eq!(at, vec![100, 120, 140, 160, 180]);
    assert_eq!(
        h.frames.iter().map(first_code).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(h.frames.iter().all(|f| f.filled_samples == 0));
    assert_eq!(h.frames[0].pcm[0], Law::Ulaw.decode(1));
    assert_eq!(h.stats.dropped_total(), 0);
}

#[test]
fn reordered_packets_are_played_in_order() {
    let mut h = Harness::new();
    for (k, seq) in [0u16, 2, 1, 4, 3, 5].into_iter().enumerate() {
        h.send(k as u64 * 20, &Harness::frame_packet(seq, seq as u8 + 1, 7))
            .unwrap();
    }
    assert_eq!(
        h.frames.iter().map(first_code).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(h.stats.packets_lost, 0);
    assert_eq!(h.stats.samples_concealed, 0);
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let mut h = Harness::new();
    h.send(0, &Harness::frame_packet(0, 1, 7)).unwrap();
    h.send(20, &Harness::frame_packet(1, 2, 7)).unwrap();
    assert_eq!(
        h.send(21, &Harness::frame_packet(1, 2, 7)),
        Err(DropReason::Duplicate)
    );
    h.send(40, &Harness::frame_packet(3, 4, 7)).unwrap();
    // 3 is held waiting for 2; a second copy of it is a duplicate too.
    assert_eq!(
        h.send(41, &Harness::frame_packet(3, 4, 7)),
        Err(DropReason::Duplicate)
    );
    h.send(45, &Harness::frame_packet(2, 3, 7)).unwrap();
    assert_eq!(
        h.frames.iter().map(first_code).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(h.stats.dropped(DropReason::Duplicate), 2);
}

#[test]
fn a_lost_packet_is_concealed_after_the_hold_time() {
    let mut h = Harness::new();
    h.send(0, &Harness::frame_packet(0, 0x10, 7)).unwrap();
    h.send(20, &Harness::frame_packet(1, 0x11, 7)).unwrap();
    h.send(60, &Harness::frame_packet(3, 0x13, 7)).unwrap();
    assert_eq!(h.frames.len(), 2, "3 waits for 2");
    h.drain(119);
    assert_eq!(h.frames.len(), 2, "still inside the 60 ms hold");
    h.drain(120);
    assert_eq!(h.frames.len(), 4);
    assert_eq!(h.frames[2].filled_samples, 160);
    assert_eq!(h.frames[2].at_ms, 40);
    // concealment starts from the last audio, faded
    assert_ne!(h.frames[2].pcm[0], 0);
    assert_eq!(first_code(&h.frames[3]), 0x13);
    assert_eq!(h.frames[3].at_ms, 60);
    assert_eq!(h.stats.packets_lost, 1);
    assert_eq!(h.stats.samples_concealed, 160);
    // the missing packet finally arriving is late
    assert_eq!(
        h.send(130, &Harness::frame_packet(2, 0x12, 7)),
        Err(DropReason::Late)
    );
}

#[test]
fn a_burst_beyond_the_window_releases_without_waiting() {
    let mut h = Harness::new();
    h.send(0, &Harness::frame_packet(0, 1, 7)).unwrap();
    for seq in 2..=9u16 {
        h.send(
            u64::from(seq) * 20,
            &Harness::frame_packet(seq, seq as u8 + 1, 7),
        )
        .unwrap();
    }
    // seq 9 is 8 ahead of the missing 1: the window gives up on 1 at once.
    assert_eq!(h.frames.len(), 10);
    assert_eq!(h.stats.packets_lost, 1);
}

#[test]
fn ssrc_change_resyncs_instead_of_going_silent() {
    let mut h = Harness::new();
    for i in 0..3u16 {
        h.send(
            u64::from(i) * 20,
            &Harness::frame_packet(100 + i, 1, 0xAAAA),
        )
        .unwrap();
    }
    // New source: unrelated sequence and timestamp.
    for i in 0..3u16 {
        h.send(
            60 + u64::from(i) * 20,
            &rtp(
                9000 + i,
                777_000 + u32::from(i) * 160,
                0xBBBB,
                0,
                i == 0,
                &[2; 160],
            ),
        )
        .unwrap();
    }
    assert_eq!(h.frames.len(), 6);
    assert_eq!(
        h.frames.iter().map(|f| f.at_ms).collect::<Vec<_>>(),
        vec![0, 20, 40, 60, 80, 100]
    );
    assert_eq!(
        h.frames.iter().map(first_code).collect::<Vec<_>>(),
        vec![1, 1, 1, 2, 2, 2]
    );
    assert_eq!(h.stats.ssrc_changes, 1);
    assert_eq!(h.stream.ssrc(), Some(0xBBBB));
    assert_eq!(h.stats.dropped_total(), 0);
}

#[test]
fn a_stray_sequence_jump_is_dropped_and_a_confirmed_one_restarts_the_stream() {
    let mut h = Harness::new();
    for i in 0..3u16 {
        h.send(
            u64::from(i) * 20,
            &Harness::frame_packet(100 + i, 1, 0xAAAA),
        )
        .unwrap();
    }
    // Stray packets far from the stream (a flood from the right source): each dropped, the
    // stream goes on as if they had not come.
    for (k, seq) in [40_000u16, 7_000, 61_234, 150, 700].into_iter().enumerate() {
        assert_eq!(
            h.send(50 + k as u64, &Harness::frame_packet(seq, 9, 0xAAAA)),
            Err(DropReason::SequenceJump)
        );
    }
    for i in 3..6u16 {
        h.send(
            u64::from(i) * 20,
            &Harness::frame_packet(100 + i, 1, 0xAAAA),
        )
        .unwrap();
    }
    assert_eq!(h.stats.dropped[DropReason::SequenceJump.index()], 5);
    assert_eq!(h.stats.resyncs, 0);
    assert_eq!(
        h.stats.dropped[DropReason::Late.index()],
        0,
        "nothing made late"
    );
    assert!(
        h.frames.iter().all(|f| first_code(f) == 1),
        "no stray audio"
    );

    // A real restart: the jump is confirmed by the packet after it, and both play.
    assert_eq!(
        h.send(120, &Harness::frame_packet(30_000, 2, 0xAAAA)),
        Err(DropReason::SequenceJump)
    );
    h.send(140, &Harness::frame_packet(30_001, 2, 0xAAAA))
        .unwrap();
    h.send(160, &Harness::frame_packet(30_002, 2, 0xAAAA))
        .unwrap();
    assert_eq!(h.stats.resyncs, 1);
    assert_eq!(
        h.frames.iter().map(first_code).collect::<Vec<_>>(),
        vec![1, 1, 1, 1, 1, 1, 2, 2]
    );
}

#[test]
fn wrong_source_payload_type_and_garbage_are_dropped_by_reason() {
    let mut h = Harness::new();
    let other: SocketAddr = "127.0.0.1:15733".parse().unwrap();
    assert_eq!(
        h.send_from(0, other, &Harness::frame_packet(0, 1, 7)),
        Err(DropReason::WrongSource)
    );
    assert_eq!(
        h.send(0, &rtp(0, 160, 7, 8, false, &[1; 160])),
        Err(DropReason::WrongPayloadType)
    );
    assert_eq!(
        h.send(0, &rtp(0, 160, 7, 101, false, &[1; 4])),
        Err(DropReason::WrongPayloadType)
    );
    assert_eq!(h.send(0, &[0x80, 0, 1]), Err(DropReason::Malformed));
    assert_eq!(
        h.send(0, &rtp(0, 160, 7, 0, false, &[])),
        Err(DropReason::EmptyPayload)
    );
    assert_eq!(
        h.send(0, &rtp(0, 160, 7, 0, false, &[1; 2000])),
        Err(DropReason::Oversized)
    );
    assert!(h.frames.is_empty());
    assert_eq!(h.stats.packets_in, 6);
    assert_eq!(h.stats.dropped_total(), 6);
}

#[test]
fn padding_extension_and_csrc_are_stripped() {
    let mut h = Harness::new();
    // V=2, P=1, X=1, CC=2
    let mut p = vec![0x80 | 0x20 | 0x10 | 0x02, 0];
    p.extend_from_slice(&0u16.to_be_bytes());
    p.extend_from_slice(&160u32.to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]); // two CSRCs
    p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 9, 9, 9, 9]); // one-word extension
    p.extend_from_slice(&[0x42; 160]);
    p.extend_from_slice(&[0, 0, 3]); // three bytes of padding
    h.send(0, &p).unwrap();
    assert_eq!(h.frames.len(), 1);
    assert_eq!(h.frames[0].codes, [0x42; 160]);
}

/// Rows of one of the recorded RTP header CSVs: (arrival ms, marker, seq, ts, payload len).
fn recorded(name: &str) -> Vec<(u64, bool, u16, u32, usize)> {
    let path = format!(
        "{}/../../../shared/asterisk/rtp/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("recorded RTP CSV");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let arrival: f64 = f[1].parse().unwrap();
            (
                (arrival * 1000.0).round() as u64,
                f[10] == "1",
                f[12].parse().unwrap(),
                f[13].parse().unwrap(),
                f[15].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn dtmf_pauses_from_asterisk_are_filled_with_silence_on_a_continuous_timeline() {
    let rows = recorded("rtp-from-asterisk-during-dtmf.csv");
    let mut h = Harness::new();
    for &(ms, marker, seq, ts, len) in &rows {
        h.send(ms, &rtp(seq, ts, 276_589_352, 0, marker, &vec![0x23; len]))
            .unwrap();
    }
    h.drain(rows.last().unwrap().0 + 1000);
    let (first_ts, last_ts, last_len) = (rows[0].3, rows.last().unwrap().3, rows.last().unwrap().4);
    let total_samples = (last_ts - first_ts) as usize + last_len;
    assert_eq!(h.frames.len(), total_samples / 160);
    for pair in h.frames.windows(2) {
        assert_eq!(pair[1].at_ms, pair[0].at_ms + 20, "timeline must not jump");
    }
    assert_eq!(h.stats.packets_lost, 0);
    assert_eq!(h.stats.dropped_total(), 0);
    let gaps: u64 = rows
        .windows(2)
        .map(|w| u64::from(w[1].3 - w[0].3) - w[0].4 as u64)
        .sum();
    assert!(gaps > 0);
    assert_eq!(h.stats.samples_pause_filled, gaps);
    assert_eq!(h.stats.samples_concealed, 0);
}

#[test]
fn a_long_pause_re_anchors_to_the_arrival_time() {
    let mut h = Harness::new();
    h.send(0, &rtp(1, 160, 7, 0, false, &[1; 160])).unwrap();
    // Asterisk stopped sending (no transmit_silence) and resumes 5 s later.
    h.send(5000, &rtp(2, 160 + 40_000, 7, 0, true, &[2; 160]))
        .unwrap();
    assert_eq!(
        h.frames.iter().map(|f| f.at_ms).collect::<Vec<_>>(),
        vec![0, 5000]
    );
    assert_eq!(h.stats.resyncs, 1);
}

#[test]
fn a_pause_of_nearly_a_second_is_filled_without_overflowing_the_small_ready_ring() {
    let mut h = Harness::new();
    h.send(0, &rtp(1, 160, 7, 0, false, &[1; 160])).unwrap();
    // The next packet says 900 ms of the sender's time passed (within max_fill): 45
    // frames of silence at once, more than the ring has slots, then the packet.
    h.send(920, &rtp(2, 160 + 160 + 7200, 7, 0, true, &[2; 160]))
        .unwrap();
    let at: Vec<u64> = h.frames.iter().map(|f| f.at_ms).collect();
    assert_eq!(at, (0..=46).map(|n| n * 20).collect::<Vec<u64>>());
    assert!(
        h.frames[1..46]
            .iter()
            .all(|f| f.filled_samples == 160 && f.codes == [0xFF; 160] && f.pcm == [0; 160])
    );
    assert_eq!(first_code(&h.frames[46]), 2);
    assert_eq!(h.stats.inbound_frames_overflowed, 0);
    assert_eq!(h.stats.samples_pause_filled, 7200);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1200), 1..40)) {
        let mut h = Harness::new();
        for (i, d) in datagrams.iter().enumerate() {
            let _ = h.send(i as u64 * 20, d);
        }
        h.drain(10_000);
        prop_assert_eq!(h.stats.packets_in, datagrams.len() as u64);
    }

    #[test]
    fn arbitrary_rtp_headers_never_panic(packets in proptest::collection::vec((any::<u16>(), any::<u32>(), 0u32..3, any::<bool>(), 1usize..400), 1..60)) {
        let mut h = Harness::new();
        for (i, (seq, ts, ssrc, marker, len)) in packets.iter().enumerate() {
            let _ = h.send(i as u64 * 7, &rtp(*seq, *ts, *ssrc, 0, *marker, &vec![0x55; *len]));
        }
        h.drain(100_000);
        for pair in h.frames.windows(2) {
            prop_assert!(pair[1].at_ms >= pair[0].at_ms + 20);
        }
    }
}
