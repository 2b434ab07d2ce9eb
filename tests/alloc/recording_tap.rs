//! Proves the recording tap costs the media path no allocation: a counting global
//! allocator watches this test's thread while a recorded call's frames (both sides, a
//! thousand 20 ms ticks) go to the recorder with `RecordingTap::frame`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vca_bridge::media::FRAME_SAMPLES;
use vca_bridge::media::g711::Law;
use vca_bridge::recording::Recorder;
use vca_bridge::recording::aligner::Side;

#[path = "../../crates/vca-media/tests/common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::counted;

#[tokio::test]
async fn handing_frames_to_the_recorder_does_not_allocate() {
    let dir = std::env::temp_dir().join(format!("vca-tap-{}", std::process::id()));
    let recorder = Recorder::start(1).unwrap();
    let call = uuid::Uuid::new_v4();
    let recording = recorder
        .open(call, 1, dir.join("t/2026/12/c.opus"), Law::Alaw)
        .await
        .unwrap();
    let tap = recording.tap();
    assert!(tap.begin(0));
    let codes = [0xD5u8; FRAME_SAMPLES];
    let mut sent = 0u64;
    let ((), allocations) = counted(|| {
        for i in 0..1000u64 {
            // What the media task does per tick: the frame it sent, the caller's frame.
            sent += u64::from(tap.frame(Side::Agent, i * 20, &codes));
            sent += u64::from(tap.frame(Side::Caller, i * 20, &codes));
        }
    });
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {sent} frames"
    );
    assert!(sent > 0);
    let outcome = recording.finish().await.unwrap();
    assert_eq!(outcome.error, None);
    assert!(outcome.duration_ms > 0);
    std::fs::remove_dir_all(dir).ok();
}
