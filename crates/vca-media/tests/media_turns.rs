//! Turn framing through [`MediaCore::drain`] on a virtual clock: a reply's first frame
//! re-phases the send clock (RTP numbers continuous, marker set, frames never closer than
//! the configured gap, the next frames on the new phase), and utterances share a pool
//! (two calls, one buffer: the second caller's turn is counted, not allocated, and the
//! call carries on; every buffer comes back).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use vca_media::config::{MediaConfig, OutboundConfig};
use vca_media::core::{CoreEvent, MediaCore, Output};
use vca_media::outbound::RtpIdentity;
use vca_media::playout::PlayoutId;
use vca_media::utterance_pool::UtterancePool;
use vca_media::{FRAME_SAMPLES, OUT_PACKET_LEN};

const FIRST_SEQ: u16 = 65_530;
const FIRST_TS: u32 = u32::MAX - 500;

fn remote() -> SocketAddr {
    "127.0.0.1:4000".parse().unwrap()
}

fn identity() -> RtpIdentity {
    RtpIdentity {
        ssrc: 9,
        first_seq: FIRST_SEQ,
        first_timestamp: FIRST_TS,
    }
}

/// One packet as sent: where it sits on the timeline and its header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    at_ms: u64,
    seq: u16,
    ts: u32,
    marker: bool,
    silent: bool,
}

#[derive(Default)]
struct Seen {
    sent: Vec<Sent>,
    started: Vec<PlayoutId>,
    utterances: Vec<usize>,
    speech_started: usize,
}

fn drain(core: &mut MediaCore, now: Instant, seen: &mut Seen) {
    let mut out = [0u8; OUT_PACKET_LEN];
    core.drain(now, &mut out, |o| match o {
        Output::Transmit { packet, at_ms } => {
            let rtp = rtp_rs::RtpReader::new(packet).unwrap();
            seen.sent.push(Sent {
                at_ms,
                seq: u16::from(rtp.sequence_number()),
                ts: rtp.timestamp(),
                marker: rtp.mark(),
                silent: rtp.payload().iter().all(|&c| c == 0xFF),
            });
        }
        Output::Event {
            event: CoreEvent::PlayoutStarted { id },
            ..
        } => seen.started.push(id),
        Output::Event {
            event: CoreEvent::Utterance(_),
            pcm,
        } => seen.utterances.push(pcm.len()),
        Output::Event {
            event: CoreEvent::SpeechStarted { .. },
            ..
        } => seen.speech_started += 1,
        _ => {}
    });
}

/// Drives `core` from deadline to deadline until `until` (ms after `t0`), as a driver does.
fn run_until(core: &mut MediaCore, t0: Instant, until: u64, seen: &mut Seen) {
    loop {
        let next = core.poll_timeout();
        if next > t0 + Duration::from_millis(until) {
            return;
        }
        drain(core, next, seen);
    }
}

fn check_continuous(sent: &[Sent]) {
    for (i, s) in sent.iter().enumerate() {
        assert_eq!(s.seq, FIRST_SEQ.wrapping_add(i as u16), "sequence at {i}");
        assert_eq!(
            s.ts,
            FIRST_TS.wrapping_add(i as u32 * FRAME_SAMPLES as u32),
            "timestamp at {i}"
        );
    }
}

#[test]
fn a_reply_queued_between_ticks_goes_out_at_once_on_a_new_phase() {
    let t0 = Instant::now();
    let mut core = MediaCore::new(&MediaConfig::default(), remote(), t0, identity()).unwrap();
    let mut seen = Seen::default();
    // Silence on the call's phase: 0, 20, 40.
    run_until(&mut core, t0, 47, &mut seen);
    assert_eq!(
        seen.sent.iter().map(|s| s.at_ms).collect::<Vec<_>>(),
        [0, 20, 40]
    );
    // A 100 ms reply queued at 47 ms goes out at 47, not at 60.
    let at = t0 + Duration::from_millis(47) + Duration::from_micros(300);
    core.handle_play(PlayoutId(1), 8000, &[4000; 800]).unwrap();
    assert_eq!(core.poll_timeout(), t0 + Duration::from_millis(42));
    drain(&mut core, at, &mut seen);
    let first = *seen.sent.last().unwrap();
    assert_eq!((first.at_ms, first.marker, first.silent), (47, true, false));
    assert_eq!(seen.started, [PlayoutId(1)]);
    // The next frames are due every 20 ms from the new phase.
    assert_eq!(core.poll_timeout(), t0 + Duration::from_millis(67));
    run_until(&mut core, t0, 200, &mut seen);
    let times: Vec<u64> = seen.sent.iter().map(|s| s.at_ms).collect();
    assert_eq!(times, [0, 20, 40, 47, 67, 87, 107, 127, 147, 167, 187]);
    let spurt: Vec<(bool, bool)> = seen.sent[3..]
        .iter()
        .map(|s| (s.marker, s.silent))
        .collect();
    assert_eq!(
        spurt,
        [
            (true, false),
            (false, false),
            (false, false),
            (false, false),
            (false, false),
            (false, true),
            (false, true),
            (false, true)
        ]
    );
    // Sequence and timestamp run on as if nothing had moved: +1 and +160 per packet.
    check_continuous(&seen.sent);
}

#[test]
fn a_reply_queued_just_after_a_frame_waits_for_the_minimum_gap() {
    let t0 = Instant::now();
    let mut core = MediaCore::new(&MediaConfig::default(), remote(), t0, identity()).unwrap();
    let mut seen = Seen::default();
    run_until(&mut core, t0, 40, &mut seen);
    let last = seen.sent.last().unwrap().at_ms;
    assert_eq!(last, 40);
    // Queued 1 ms after the frame at 40: the first frame may not follow it closer than
    // the 2 ms gap.
    core.handle_play(PlayoutId(1), 8000, &[4000; 320]).unwrap();
    drain(&mut core, t0 + Duration::from_millis(41), &mut seen);
    assert_eq!(seen.sent.len(), 3, "nothing may go out 1 ms after a frame");
    assert_eq!(core.poll_timeout(), t0 + Duration::from_millis(42));
    run_until(&mut core, t0, 100, &mut seen);
    let times: Vec<u64> = seen.sent.iter().map(|s| s.at_ms).collect();
    assert_eq!(times, [0, 20, 40, 42, 62, 82]);
    assert!(seen.sent[3].marker && !seen.sent[4].marker);
    let gaps = times.windows(2).map(|w| w[1] - w[0]);
    assert!(gaps.clone().all(|g| g >= 2), "{times:?}");
    check_continuous(&seen.sent);
}

#[test]
fn audio_already_playing_and_a_late_driver_keep_the_phase() {
    let t0 = Instant::now();
    let mut core = MediaCore::new(&MediaConfig::default(), remote(), t0, identity()).unwrap();
    let mut seen = Seen::default();
    run_until(&mut core, t0, 10, &mut seen);
    core.handle_play(PlayoutId(1), 8000, &[4000; 800]).unwrap();
    drain(&mut core, t0 + Duration::from_millis(15), &mut seen);
    // A second clip queued while the first plays does not move the phase.
    core.handle_play(PlayoutId(2), 8000, &[4000; 800]).unwrap();
    run_until(&mut core, t0, 75, &mut seen);
    let times: Vec<u64> = seen.sent.iter().map(|s| s.at_ms).collect();
    assert_eq!(times, [0, 15, 35, 55, 75]);
    // Quiet again, then a reply the driver only gets to after the next tick has passed:
    // that overdue tick carries it, on the old phase.
    run_until(&mut core, t0, 500, &mut seen);
    core.handle_play(PlayoutId(3), 8000, &[4000; 160]).unwrap();
    drain(&mut core, t0 + Duration::from_millis(517), &mut seen);
    let last = seen.sent.last().unwrap();
    assert_eq!((last.at_ms, last.marker, last.silent), (515, true, false));
    check_continuous(&seen.sent);
}

#[test]
fn without_rephasing_a_reply_waits_for_the_tick() {
    let t0 = Instant::now();
    let config = MediaConfig {
        outbound: OutboundConfig {
            rephase_talk_spurts: false,
            ..OutboundConfig::default()
        },
        ..MediaConfig::default()
    };
    let mut core = MediaCore::new(&config, remote(), t0, identity()).unwrap();
    let mut seen = Seen::default();
    run_until(&mut core, t0, 47, &mut seen);
    core.handle_play(PlayoutId(1), 8000, &[4000; 800]).unwrap();
    drain(&mut core, t0 + Duration::from_millis(47), &mut seen);
    assert_eq!(seen.sent.len(), 3);
    assert_eq!(core.poll_timeout(), t0 + Duration::from_millis(60));
    run_until(&mut core, t0, 60, &mut seen);
    assert_eq!(
        seen.sent.last().map(|s| (s.at_ms, s.marker)),
        Some((60, true))
    );
}

fn speech_packets() -> Vec<Vec<u8>> {
    let speech = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/asterisk/rtp/caller-speech.ulaw"
    ))
    .unwrap();
    // 1 s of silence, the recorded caller (speech from about 1 s in), 2 s of silence.
    let mut payloads: Vec<Vec<u8>> = vec![vec![0xFF; 160]; 50];
    payloads.extend(speech.chunks_exact(160).map(<[u8]>::to_vec));
    payloads.extend(vec![vec![0xFF; 160]; 100]);
    payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut packet = vec![0x80, 0];
            packet.extend_from_slice(&(i as u16).to_be_bytes());
            packet.extend_from_slice(&(i as u32 * 160).to_be_bytes());
            packet.extend_from_slice(&7u32.to_be_bytes());
            packet.extend_from_slice(p);
            packet
        })
        .collect()
}

/// Feeds packet `n` of `packets` to `core` at `n × 20 ms` after `t0` and drains.
fn feed(core: &mut MediaCore, t0: Instant, packets: &[Vec<u8>], n: usize, seen: &mut Seen) {
    let now = t0 + Duration::from_millis(n as u64 * 20);
    core.handle_datagram(now, remote(), &packets[n]).unwrap();
    drain(core, now, seen);
}

#[test]
fn two_calls_sharing_one_buffer_the_second_turn_is_counted_not_allocated() {
    let packets = speech_packets();
    let config = MediaConfig::default();
    let pool = UtterancePool::for_endpointer(1, &config.endpointer, 8000);
    let t0 = Instant::now();
    let mut a = MediaCore::with_pool(&config, remote(), t0, identity(), pool.clone()).unwrap();
    // B's caller says the same, 60 ms later: A holds the buffer whenever B needs one.
    let t0_b = t0 + Duration::from_millis(60);
    let mut b = MediaCore::with_pool(&config, remote(), t0_b, identity(), pool.clone()).unwrap();
    let (mut seen_a, mut seen_b) = (Seen::default(), Seen::default());
    for n in 0..packets.len() {
        feed(&mut a, t0, &packets, n, &mut seen_a);
        if n >= 3 {
            feed(&mut b, t0_b, &packets, n - 3, &mut seen_b);
        }
    }
    for n in packets.len() - 3..packets.len() {
        feed(&mut b, t0_b, &packets, n, &mut seen_b);
    }
    assert!(!seen_a.utterances.is_empty(), "the recording holds speech");
    assert_eq!(seen_a.utterances.len(), seen_b.utterances.len());
    assert!(
        seen_a.utterances.iter().all(|&len| len > 0),
        "{:?}",
        seen_a.utterances
    );
    // B saw every turn start and end, without audio, each counted.
    assert_eq!(seen_b.speech_started, seen_a.speech_started);
    assert!(
        seen_b.utterances.iter().all(|&len| len == 0),
        "{:?}",
        seen_b.utterances
    );
    assert_eq!(a.stats().utterance_pool_exhausted, 0);
    assert_eq!(
        b.stats().utterance_pool_exhausted,
        seen_b.utterances.len() as u64
    );
    // B's call carried on: it kept sending its frames.
    assert_eq!(b.stats().packets_out as usize, seen_b.sent.len());
    assert!(seen_b.sent.len() >= packets.len());
    // Both handed their utterances out: the buffer is back.
    assert_eq!(pool.available(), 1);

    // With A quiet, B's caller speaks again and gets the buffer.
    let restart = packets.len() + 3;
    let again: Vec<Vec<u8>> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut p = p.clone();
            let seq = (restart + i) as u16;
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&((restart + i) as u32 * 160).to_be_bytes());
            p
        })
        .collect();
    let mut seen_again = Seen::default();
    for (i, p) in again.iter().enumerate() {
        let now = t0_b + Duration::from_millis((restart + i) as u64 * 20);
        b.handle_datagram(now, remote(), p).unwrap();
        drain(&mut b, now, &mut seen_again);
    }
    assert!(!seen_again.utterances.is_empty());
    assert!(seen_again.utterances.iter().all(|&len| len > 0));
    assert_eq!(pool.available(), 1);
}

#[test]
fn a_call_ended_mid_utterance_gives_its_buffer_back() {
    let packets = speech_packets();
    let config = MediaConfig::default();
    let pool = UtterancePool::for_endpointer(1, &config.endpointer, 8000);
    let t0 = Instant::now();
    let mut core = MediaCore::with_pool(&config, remote(), t0, identity(), pool.clone()).unwrap();
    let mut seen = Seen::default();
    let mut n = 0;
    while seen.speech_started == 0 {
        feed(&mut core, t0, &packets, n, &mut seen);
        n += 1;
    }
    assert_eq!(pool.available(), 0);
    drop(core);
    assert_eq!(pool.available(), 1);
}
