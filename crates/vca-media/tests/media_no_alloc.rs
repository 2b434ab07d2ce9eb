//! Proves the per-packet paths do not allocate: a counting global allocator watches this
//! test's thread while 20 ms inbound frames (parse + decode + VAD + 16 kHz resample +
//! endpointer, through real speech) and outbound frames (playout + encode + RTP build) run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use vca_media::config::MediaConfig;
use vca_media::core::{CoreEvent, MediaCore, Output};
use vca_media::outbound::RtpIdentity;
use vca_media::playout::PlayoutId;

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
    let mut core = MediaCore::new(&config, remote, t0, identity).unwrap();
    let mut out = [0u8; 172];

    // Warm-up outside the count: the first frames size nothing, but be fair to lazy setup.
    for (i, p) in packets.iter().take(50).enumerate() {
        let now = t0 + Duration::from_millis(i as u64 * 20);
        core.handle_datagram(now, remote, p).unwrap();
        core.drain(now, &mut out, |_| {});
    }

    // Inbound: silence, then speech (speech starts, the utterance grows within its
    // preallocated buffer), with the silence frames going out as in a call.
    let (events, inbound_allocs) = counted(|| {
        let mut events = 0;
        for (i, p) in packets.iter().enumerate().skip(50) {
            let now = t0 + Duration::from_millis(i as u64 * 20);
            core.handle_datagram(now, remote, p).unwrap();
            core.drain(now, &mut out, |o| {
                if let Output::Event { event, .. } = o {
                    assert!(matches!(
                        event,
                        CoreEvent::SpeechStarted { .. } | CoreEvent::Utterance(_)
                    ));
                    events += 1;
                }
            });
        }
        events
    });
    assert!(events >= 1, "the speech must have been detected");
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
}
