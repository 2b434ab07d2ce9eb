//! Per-frame cost of the media core, driven through [`MediaCore::drain`] as the daemon drives
//! it: one 20 ms inbound frame (RTP parse + G.711 decode + VAD + endpointer + barge-in) and
//! one outbound frame (playout + G.711 encode + RTP header). Run:
//! `cargo bench --bench media -- --warm-up-time 1 --measurement-time 3`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vca_media::config::MediaConfig;
use vca_media::core::{MediaCore, Output};
use vca_media::outbound::RtpIdentity;
use vca_media::playout::PlayoutId;

fn rtp(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn core(t0: Instant, remote: SocketAddr) -> MediaCore {
    let config = MediaConfig::default();
    MediaCore::new(
        &config,
        remote,
        t0,
        RtpIdentity {
            ssrc: 1,
            first_seq: 0,
            first_timestamp: 0,
        },
    )
    .unwrap()
}

fn inbound(c: &mut Criterion) {
    let speech = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/asterisk/rtp/caller-speech.ulaw"
    ))
    .unwrap();
    let payloads: Vec<&[u8]> = speech.chunks_exact(160).collect();
    let remote: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let t0 = Instant::now();
    let mut core = core(t0, remote);
    let mut n: u64 = 0;
    let mut packet = rtp(0, 0, payloads[0]);
    let mut out = [0u8; 172];
    c.bench_function("inbound_frame (parse+decode+vad+endpoint)", |b| {
        b.iter(|| {
            let payload = payloads[(n as usize) % payloads.len()];
            packet[2..4].copy_from_slice(&(n as u16).to_be_bytes());
            packet[4..8].copy_from_slice(&((n as u32).wrapping_mul(160)).to_be_bytes());
            packet[12..].copy_from_slice(payload);
            let now = t0 + Duration::from_millis(n * 20);
            let _ = core.handle_datagram(now, remote, black_box(&packet));
            // The outbound frame due at `now` goes out too, as in a call; the outbound
            // bench measures it alone.
            core.drain(now, &mut out, |o| {
                if let Output::Inbound(frame) = o {
                    black_box(frame.at_ms);
                }
            });
            n += 1;
        });
    });
}

fn outbound(c: &mut Criterion) {
    let remote: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let t0 = Instant::now();
    let mut core = core(t0, remote);
    let clip: Vec<i16> = (0..160 * 1000)
        .map(|i| ((i % 57) as i16 - 28) * 400)
        .collect();
    let mut out = [0u8; 172];
    let mut frame: u64 = 0;
    c.bench_function("outbound_frame (playout+encode+rtp)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(1000);
                core.handle_play(PlayoutId(frame), 8000, &clip[..batch as usize * 160])
                    .unwrap();
                let started = Instant::now();
                for _ in 0..batch {
                    let now = t0 + Duration::from_millis(frame * 20);
                    core.drain(now, &mut out, |o| {
                        black_box(o);
                    });
                    frame += 1;
                }
                total += started.elapsed();
                left -= batch;
            }
            total
        });
    });
}

criterion_group!(benches, inbound, outbound);
criterion_main!(benches);
