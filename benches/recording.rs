//! Cost of recording a call, per 20 ms: on the media task, handing both sides' frames to the
//! recorder (`RecordingTap::frame`, two `try_send`s); on the recorder thread, one stereo
//! frame decoded from G.711, aligned and Opus-encoded into Ogg pages (written to a sink).
//! Run: `cargo bench --bench recording -- --warm-up-time 1 --measurement-time 3 --noplot`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vca_bridge::media::FRAME_SAMPLES;
use vca_bridge::media::g711::Law;
use vca_bridge::recording::aligner::{Side, StereoAligner};
use vca_bridge::recording::ogg_opus::OggOpusWriter;

/// A 20 ms frame of a voice-like tone, as A-law.
fn speech_frame(f: usize) -> [u8; FRAME_SAMPLES] {
    let mut codes = [0u8; FRAME_SAMPLES];
    for (i, c) in codes.iter_mut().enumerate() {
        let t = (f * FRAME_SAMPLES + i) as f32 / 8000.0;
        let x = (t * 220.0 * std::f32::consts::TAU).sin() * 0.6
            + (t * 710.0 * std::f32::consts::TAU).sin() * 0.3;
        *c = Law::Alaw.encode((x * 9_000.0) as i16);
    }
    codes
}

fn encode(c: &mut Criterion) {
    let frames: Vec<[u8; FRAME_SAMPLES]> = (0..50).map(speech_frame).collect();
    let mut writer = OggOpusWriter::new(std::io::sink(), 1, &[]).unwrap();
    let mut aligner = StereoAligner::new(0);
    let mut n = 0u64;
    c.bench_function(
        "recorder: one stereo 20 ms frame (decode + align + Opus + Ogg)",
        |b| {
            b.iter(|| {
                let codes = &frames[(n % 50) as usize];
                let mut pcm = [0i16; FRAME_SAMPLES];
                Law::Alaw.decode_into(codes, &mut pcm);
                aligner.push(Side::Caller, n * 20, &pcm, |l, r| {
                    writer.write_frame(l, r).unwrap()
                });
                aligner.push(Side::Agent, n * 20, &pcm, |l, r| {
                    writer.write_frame(l, r).unwrap()
                });
                n += 1;
                black_box(writer.bytes_written())
            })
        },
    );
}

fn tap(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let recorder = vca_bridge::recording::Recorder::start(1).unwrap();
    let dir = std::env::temp_dir().join(format!("vca-bench-{}", std::process::id()));
    let recording = runtime
        .block_on(recorder.open(uuid::Uuid::new_v4(), 1, dir.join("t/b.opus"), Law::Alaw))
        .unwrap();
    let tap = recording.tap();
    tap.begin(0);
    let codes = speech_frame(0);
    let mut n = 0u64;
    c.bench_function(
        "media task: hand one tick's two frames to the recorder",
        |b| {
            b.iter(|| {
                let a = tap.frame(Side::Agent, n * 20, &codes);
                let c = tap.frame(Side::Caller, n * 20, &codes);
                n += 1;
                black_box((a, c))
            })
        },
    );
    runtime.block_on(recording.finish()).ok();
    std::fs::remove_dir_all(dir).ok();
}

criterion_group!(benches, encode, tap);
criterion_main!(benches);
