//! Proves the per-packet paths do not allocate: a counting global allocator watches this
//! test's thread while 20 ms inbound frames (parse + decode + VAD + endpointer, through
//! real speech whose utterances take and give back buffers of a shared pool) and outbound
//! frames (playout + encode + RTP build, talk spurts re-phasing the send clock) run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use vca_media::config::MediaConfig;
use vca_media::core::{CoreEvent, MediaCore, Output};
use vca_media::outbound::RtpIdentity;
use vca_media::playout::PlayoutId;
use vca_media::utterance_pool::UtterancePool;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::counted;

fn rtp(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn per_frame_paths_do_not_allocate() {
    // The allocator must be able to see an allocation at all.
    let (_, seen) = counted(|| std::hint::black_box(vec![1u8; 64]));
    assert_eq!(seen, 1);

    let speech = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/asterisk/rtp/caller-speech.ulaw"
    ))
    .unwrap();
    // 4 s of silence then 8 s of the recorded caller (speech starts about 1 s into it).
    let mut payloads: Vec<Vec<u8>> = vec![vec![0xFF; 160]; 200];
    payloads.extend(speech.chunks_exact(160).take(400).map(<[u8]>::to_vec));
    let packets: Vec<Vec<u8>> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| rtp(i as u16, i as u32 * 160, p))
        .collect();

    let remote: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let t0 = Instant::now();
    let config = MediaConfig::default();
    let identity = RtpIdentity {
        ssrc: 1,
        first_seq: 2,
        first_timestamp: 3,
    };
    let pool = UtterancePool::for_endpointer(4, &config.endpointer, 8000);
    let mut core = MediaCore::with_pool(&config, remote, t0, identity, pool.clone()).unwrap();
    let mut out = [0u8; 172];

    // Warm-up outside the count: the first frames size nothing, but be fair to lazy setup.
    for (i, p) in packets.iter().take(50).enumerate() {
        let now = t0 + Duration::from_millis(i as u64 * 20);
        core.handle_datagram(now, remote, p).unwrap();
        core.drain(now, &mut out, |_| {});
    }

    // Inbound: silence, then speech (speech starts, the utterance grows within its
    // preallocated buffer), with the silence frames going out as in a call.
    let ((events, utterance_samples), inbound_allocs) = counted(|| {
        let (mut events, mut utterance_samples) = (0, 0);
        for (i, p) in packets.iter().enumerate().skip(50) {
            let now = t0 + Duration::from_millis(i as u64 * 20);
            core.handle_datagram(now, remote, p).unwrap();
            core.drain(now, &mut out, |o| {
                if let Output::Event { event, pcm } = o {
                    assert!(matches!(
                        event,
                        CoreEvent::SpeechStarted { .. } | CoreEvent::Utterance(_)
                    ));
                    events += 1;
                    utterance_samples += pcm.len();
                }
            });
        }
        (events, utterance_samples)
    });
    assert!(events >= 2, "the speech must have been detected and ended");
    assert!(utterance_samples > 0, "the utterances carry their audio");
    assert_eq!(core.stats().utterance_pool_exhausted, 0);
    assert_eq!(pool.available(), 4, "every buffer is back in the pool");
    assert_eq!(inbound_allocs, 0, "inbound path allocated");

    // Outbound: agent audio queued (queueing may allocate; sending may not).
    let reply: Vec<i16> = (0..8000 * 5)
        .map(|i| ((i % 40) as i16 - 20) * 500)
        .collect();
    core.handle_play(PlayoutId(1), 8000, &reply).unwrap();
    let start = core.next_transmit();
    let (sent, outbound_allocs) = counted(|| {
        let mut sent = 0;
        for i in 0..300u64 {
            let now = start + Duration::from_millis(i * 20);
            core.drain(now, &mut out, |o| {
                if matches!(o, Output::Transmit { .. }) {
                    sent += 1;
                }
            });
        }
        sent
    });
    assert_eq!(sent, 300);
    assert_eq!(outbound_allocs, 0, "outbound path allocated");

    // A reply queued between ticks after a silence: its first frame re-phases the clock.
    let quiet = core.next_transmit() + Duration::from_millis(4000);
    core.drain(quiet, &mut out, |_| {});
    let queued_at = quiet + Duration::from_millis(7);
    core.handle_play(PlayoutId(2), 8000, &reply).unwrap();
    let (times, rephase_allocs) = counted(|| {
        let mut times = [0u64; 4];
        let mut n = 0;
        let mut now = queued_at;
        while n < times.len() {
            core.drain(now, &mut out, |o| {
                if let Output::Transmit { at_ms, .. } = o
                    && let Some(slot) = times.get_mut(n)
                {
                    *slot = at_ms;
                    n += 1;
                }
            });
            now = core.poll_timeout();
        }
        times
    });
    assert_eq!(times[0], core.ms_since_start(queued_at), "sent when queued");
    assert_eq!([times[1] - times[0], times[2] - times[1]], [20, 20]);
    assert_eq!(rephase_allocs, 0, "a re-phased talk spurt allocated");
}
