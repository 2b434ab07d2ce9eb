//! `vca-sim load`: the fake engines against the daemon's own OpenAI-compatible providers,
//! the latency/jitter math on synthetic recordings, the sweep chart, `--print-daemon-env`,
//! and one small end-to-end run (3 calls × 8 s) against a real in-process daemon with
//! PostgreSQL and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_daemon;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use support_daemon::{DaemonProc, common};
use vca_bridge::config::{Layers, Needs, Settings};
use vca_bridge::engines::EngineError;
use vca_bridge::engines::build_engines;
use vca_bridge::engines::llm::{ChatMessage, ChatRequest, LlmEvent, Role};
use vca_bridge::engines::stt::SttOptions;
use vca_bridge::engines::tts::TtsRequest;
use vca_bridge::media::g711::Law;
use vca_bridge::sim::engines::{
    EngineLatencies, FakeEngines, FakeEnginesConfig, REPLY_TEXT, TRANSCRIPT_TEXT,
    speech_samples_for,
};
use vca_bridge::sim::load::{
    LoadConfig, LoadReport, LoadRig, RigConfig, SweepReport, UtteranceMark, analyze_call,
    builtin_utterance, daemon_env, draw_sweep_chart, run_step,
};
use vca_bridge::sim::{ReceivedPacket, RtpRecording, SimConfig};

const KEY: &str = "load-test-key-42";

fn loopback0() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

async fn engines(latency_ms: u64) -> FakeEngines {
    let l = Duration::from_millis(latency_ms);
    FakeEngines::start(FakeEnginesConfig {
        listen: loopback0(),
        api_key: KEY.into(),
        latencies: EngineLatencies {
            stt: l,
            llm: l,
            tts: l,
        },
    })
    .await
    .unwrap()
}

/// Daemon settings whose engines point at `engines` with `key`.
fn engine_settings(engines: &FakeEngines, key: &str) -> Settings {
    let mut env: HashMap<String, String> = HashMap::from([
        (
            "VCA_DATABASE_URL".into(),
            "postgres://postgres@127.0.0.1/unused".into(),
        ),
        (
            "VCA_ADMIN_TOKEN".into(),
            "load-admin-token-0123456789".into(),
        ),
        ("VCA_ARI_PASSWORD".into(), "vca-secret".into()),
    ]);
    for (k, v) in daemon_env(
        "127.0.0.1:8088".parse().unwrap(),
        "vca",
        "vca-secret",
        engines.addr(),
        key,
    ) {
        env.insert(k, v);
    }
    let layers = Layers::new(None, env, HashMap::new()).unwrap();
    Settings::load(&layers, Needs::Everything).unwrap().0
}

#[tokio::test]
async fn fake_engines_serve_the_daemons_openai_providers() {
    let fake = engines(5).await;
    let e = build_engines(&engine_settings(&fake, KEY).engines, Law::Alaw).unwrap();

    // LLM: the reply streams word by word, then usage from the server.
    let mut stream = e
        .llm
        .stream_chat(ChatRequest {
            system: "You are helpful.".into(),
            history: vec![ChatMessage {
                role: Role::User,
                content: "Hello?".into(),
            }],
            ..ChatRequest::default()
        })
        .await
        .unwrap();
    let mut text = String::new();
    let mut deltas = 0;
    let mut usage = None;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            LlmEvent::Delta(d) => {
                deltas += 1;
                text.push_str(&d);
            }
            LlmEvent::Done { usage: u, .. } => usage = Some(u),
        }
    }
    assert_eq!(text, REPLY_TEXT);
    assert_eq!(deltas, REPLY_TEXT.split(' ').count());
    let usage = usage.expect("a Done event");
    assert!(!usage.estimated, "usage comes from the usage chunk");
    assert_eq!(usage.completion_tokens as usize, deltas);

    // TTS: 24 kHz PCM, as long as the text asks for, loud.
    let sentence = "Sure, I can help with that.";
    let mut audio = e.tts.synthesize(TtsRequest::new(sentence)).await.unwrap();
    let mut samples = Vec::new();
    while let Some(chunk) = audio.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.rate_hz, 24_000);
        samples.extend(chunk.samples);
    }
    assert_eq!(samples.len(), speech_samples_for(sentence));
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak > 4000, "peak {peak}");

    // STT: the utterance is uploaded as multipart WAV and transcribed.
    let mut session = e.stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    let t = session
        .finish_utterance(&builtin_utterance())
        .await
        .unwrap();
    assert_eq!(t.text, TRANSCRIPT_TEXT);
}

#[tokio::test]
async fn fake_engines_refuse_a_wrong_key() {
    let fake = engines(0).await;
    let e = build_engines(
        &engine_settings(&fake, "wrong-key-wrong-key").engines,
        Law::Alaw,
    )
    .unwrap();
    let err = e
        .llm
        .stream_chat(ChatRequest {
            system: String::new(),
            history: vec![ChatMessage {
                role: Role::User,
                content: "Hi".into(),
            }],
            ..ChatRequest::default()
        })
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, EngineError::Auth { status: 401, .. }),
        "{err:?}"
    );
    let err = e
        .tts
        .synthesize(TtsRequest::new("Hi."))
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, EngineError::Auth { status: 401, .. }),
        "{err:?}"
    );
}

/// A recording of packets every `gap_ms(i)`, loud where `loud(i)`.
fn synthetic(n: usize, at_ms: impl Fn(usize) -> f64, loud: impl Fn(usize) -> bool) -> RtpRecording {
    let mut rec = RtpRecording::default();
    for i in 0..n {
        rec.pcm
            .extend(std::iter::repeat_n(if loud(i) { 6000 } else { 0 }, 160));
        rec.packets.push(ReceivedPacket {
            arrival: Duration::from_secs_f64(at_ms(i) / 1000.0),
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
        r.daemon = Some(vca_bridge::sim::load::DaemonFigures {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_calls_against_a_real_daemon() {
    let latencies = EngineLatencies {
        stt: Duration::from_millis(50),
        llm: Duration::from_millis(50),
        tts: Duration::from_millis(50),
    };
    let rig = LoadRig::start(RigConfig {
        sim: SimConfig::default(),
        engines_listen: loopback0(),
        api_key: KEY.into(),
        latencies,
    })
    .await
    .unwrap();
    let (store, database_url) = common::store().await;
    let did = "+918044556677";
    let (tid,): (uuid::Uuid,) = sqlx::query_as(
        "INSERT INTO tenants (name, max_concurrent_calls) VALUES ('Load', 10) RETURNING id",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, $2)")
        .bind(tid)
        .bind(did)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO ai_profiles (tenant_id, name, system_prompt, greeting, is_default) \
         VALUES ($1, 'Desk', 'You are helpful.', 'Hello!', true)",
    )
    .bind(tid)
    .execute(store.pool())
    .await
    .unwrap();
    let env = rig.daemon_env();
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let daemon = DaemonProc::start(support_daemon::settings(
        &rig.sim,
        &database_url,
        &rig.engines.base_url(),
        &extra,
    ))
    .await;
    rig.wait_daemon(Duration::from_secs(30)).await.unwrap();

    let mut cfg = LoadConfig::new(3, did, builtin_utterance());
    cfg.ramp = Duration::from_secs(1);
    cfg.duration = Duration::from_secs(8);
    cfg.latencies = latencies;
    cfg.greeting_wait = Duration::from_millis(1000);
    cfg.daemon_pid = Some(std::process::id());
    let report = run_step(&rig.sim, &cfg).await.unwrap();
    println!("{}", report.table());

    assert_eq!(report.calls_completed, 3, "{report:#?}");
    assert_eq!(report.calls_failed, 0, "{report:#?}");
    assert!(report.rtp.sent > 0 && report.rtp.received > 0);
    assert!(report.turn_latency.turns_expected >= 3);
    assert!(report.turn_latency.samples >= 1, "{report:#?}");
    assert!(report.turn_latency.p50_ms.unwrap().is_finite());
    for v in [
        report.jitter.p50_ms,
        report.jitter.p99_ms,
        report.jitter.max_ms,
    ] {
        assert!(v.unwrap().is_finite());
    }
    let d = report.daemon.as_ref().expect("daemon figures");
    assert!(d.cpu_percent_of_core.is_finite() && d.rss_peak_mib > 0.0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["calls_completed"], 3);
    daemon.stop().await;
}
