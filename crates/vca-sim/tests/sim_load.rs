//! The load runner's own figures, away from any daemon: jitter and turn latency from a
//! synthetic recording, the sweep chart, and the binary's `--print-daemon-env`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use vca_sim::load::{LoadReport, SweepReport, UtteranceMark, analyze_call, draw_sweep_chart};
use vca_sim::{ReceivedPacket, RtpRecording};

/// A recording of packets every `gap_ms(i)`, loud where `loud(i)`.
fn synthetic(n: usize, at_ms: impl Fn(usize) -> f64, loud: impl Fn(usize) -> bool) -> RtpRecording {
    let mut rec = RtpRecording::default();
    for i in 0..n {
        rec.pcm
            .extend(std::iter::repeat_n(if loud(i) { 6000 } else { 0 }, 160));
        rec.packets.push(ReceivedPacket {
            arrival: Duration::from_secs_f64(at_ms(i) / 1000.0),
            read_lag: Duration::ZERO,
            source: SocketAddr::from((Ipv4Addr::LOCALHOST, 31000)),
            payload_type: 8,
            sequence: 40_000u16.wrapping_add(i as u16),
            timestamp: (i * 160) as u32,
            ssrc: 99,
            marker: false,
            payload_len: 160,
        });
    }
    rec
}

#[test]
fn jitter_and_turn_latency_from_a_synthetic_recording() {
    // Packets every 20 ms except one 3 ms late (then back on the grid): jitter 3 and 3.
    let rec = synthetic(
        300,
        |i| i as f64 * 20.0 + if i == 100 { 3.0 } else { 0.0 },
        |i| (150..200).contains(&i),
    );
    // Tick 0 at 40 ms on the recording clock; the caller's last speech tick 20 → 440 ms.
    // The agent starts at packet 150 = 3000 ms: 3000 - 440 - 1000 subtracted = 1560.
    let marks = [UtteranceMark {
        last_speech_tick: 20,
        window_end_tick: 250,
    }];
    let f = analyze_call(&rec, Some(40.0), &marks, 1000.0);
    assert_eq!(f.turn_latency_ms.len(), 1);
    assert!(
        (f.turn_latency_ms[0] - 1560.0).abs() < 1e-6,
        "{:?}",
        f.turn_latency_ms
    );
    let big: Vec<f64> = f.jitter_ms.iter().copied().filter(|j| *j > 1e-6).collect();
    assert_eq!(big.len(), 2);
    assert!(big.iter().all(|j| (j - 3.0).abs() < 1e-6), "{big:?}");
    assert_eq!(f.lost, 0);
    assert_eq!(f.agent_speech_packets, 50);
}

#[test]
fn sweep_chart_is_a_png() {
    let step = |calls: usize, cpu: f64, rss: f64, jitter: f64| {
        let mut r = LoadReport {
            calls,
            ..LoadReport::default()
        };
        r.jitter.p99_ms = Some(jitter);
        r.daemon = Some(vca_sim::load::DaemonFigures {
            cpu_percent_of_core: cpu,
            rss_at_n_mib: rss,
            ..Default::default()
        });
        r
    };
    let sweep = SweepReport {
        steps: vec![step(10, 5.0, 30.0, 0.4), step(50, 22.0, 45.0, 0.9)],
        stopped_early: None,
    };
    let path = std::env::temp_dir().join(format!("vca-load-chart-{}.png", std::process::id()));
    draw_sweep_chart(&sweep, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());
}

#[test]
fn print_daemon_env_names_the_rig() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vca-sim"))
        .args([
            "load",
            "--print-daemon-env",
            "--listen",
            "127.0.0.1:18088",
            "--engines-listen",
            "127.0.0.1:18099",
            "--api-key",
            "k-123",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "VCA_ARI_URL=http://127.0.0.1:18088",
        "VCA_STT_PROVIDER=openai",
        "VCA_STT_BASE_URL=http://127.0.0.1:18099/v1",
        "VCA_LLM_BASE_URL=http://127.0.0.1:18099/v1",
        "VCA_TTS_BASE_URL=http://127.0.0.1:18099/v1",
        "VCA_TTS_API_KEY=k-123",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing in:\n{text}"
        );
    }
}
