//! `vca-sim load`: the fake engines against the daemon's own OpenAI-compatible providers,
//! the latency/jitter math on synthetic recordings, the sweep chart, `--print-daemon-env`,
//! and one small end-to-end run (3 calls × 8 s) against a real in-process daemon with
//! PostgreSQL and Redis.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use vca_bridge::config::{Layers, Needs, Settings};
use vca_bridge::engines::EngineError;
use vca_bridge::engines::build_engines;
use vca_bridge::engines::llm::{ChatMessage, ChatRequest, LlmEvent};
use vca_bridge::engines::stt::SttOptions;
use vca_bridge::engines::tts::TtsRequest;
use vca_media::g711::Law;
use vca_sim::SimConfig;
use vca_sim::engines::http::Behaviour;
use vca_sim::engines::{
    EngineLatencies, FakeHttp, REPLY_TEXT, TRANSCRIPT_TEXT, speech_samples_for,
};
use vca_sim::load::{LoadConfig, LoadRig, RigConfig, builtin_utterance, daemon_env, run_step};

use crate::support::daemon::{self, DaemonProc};
use crate::support::db;

const KEY: &str = "load-test-key-42";

fn loopback0() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

async fn engines(latency_ms: u64) -> FakeHttp {
    let l = Duration::from_millis(latency_ms);
    let latencies = EngineLatencies {
        stt: l,
        llm: l,
        tts: l,
    };
    FakeHttp::bind(loopback0(), Behaviour::for_load(KEY, latencies))
        .await
        .unwrap()
}

/// Daemon settings whose engines point at `engines` with `key`.
fn engine_settings(engines: &FakeHttp, key: &str) -> Settings {
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
            history: vec![ChatMessage::user("Hello?")],
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
            LlmEvent::ToolCalls(c) => panic!("no tools were offered: {c:?}"),
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
        .finish_utterance(builtin_utterance().to_vec())
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
            history: vec![ChatMessage::user("Hi")],
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
        engine_failure_percent: 0,
    })
    .await
    .unwrap();
    let (store, database_url) = db::store().await;
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
    let daemon = DaemonProc::start(daemon::settings(
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
