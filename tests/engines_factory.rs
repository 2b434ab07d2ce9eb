//! Settings → engines: `build_engines` from validated settings gives working providers
//! (checked against the fake servers), and no key shows in any Debug output.

use std::collections::HashMap;

use futures_util::StreamExt;
use vca_bridge::config::{Layers, Needs, Settings};
use vca_bridge::engines::build_engines;
use vca_bridge::engines::llm::{ChatMessage, ChatRequest, LlmEvent};
use vca_bridge::engines::stt::SttOptions;
use vca_bridge::engines::tts::TtsRequest;
use vca_media::g711::Law;
use vca_sim::engines::deepgram::{self as dg, FakeDeepgram};
use vca_sim::engines::http::{FakeHttp, Route};
use vca_sim::engines::tone;

fn settings(extra: &[(&str, String)]) -> Result<Settings, String> {
    let mut env: Vec<(String, String)> = [
        ("VCA_DATABASE_URL", "postgres://vca@127.0.0.1/vca"),
        ("VCA_ADMIN_TOKEN", "0123456789abcdef0123"),
        ("VCA_ARI_USERNAME", "vca"),
        ("VCA_ARI_PASSWORD", "pw"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let layers = Layers::new(None, env, HashMap::new()).map_err(|e| e.to_string())?;
    Settings::load(&layers, Needs::Everything)
        .map(|(s, _)| s)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn openai_compatible_engines_built_from_settings_work() {
    let fake = FakeHttp::start().await.unwrap();
    let key = fake.api_key();
    let s = settings(&[
        ("VCA_STT_BASE_URL", fake.base_url()),
        ("VCA_STT_API_KEY", key.clone()),
        ("VCA_LLM_BASE_URL", fake.base_url()),
        ("VCA_LLM_API_KEY", key.clone()),
        ("VCA_LLM_MODEL", "llama3".into()),
        ("VCA_TTS_PROVIDER", "openai".into()),
        ("VCA_TTS_BASE_URL", fake.base_url()),
        ("VCA_TTS_API_KEY", key.clone()),
    ])
    .unwrap();
    let engines = build_engines(&s.engines, Law::Alaw).unwrap();
    assert_eq!(
        (engines.stt.name(), engines.llm.name(), engines.tts.name()),
        ("openai_stt", "openai_llm", "openai_tts")
    );
    assert!(
        !format!("{engines:?} {s:?}").contains(&key),
        "a key leaked into Debug"
    );

    let mut session = engines.stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    assert_eq!(
        session
            .finish_utterance(tone(8000, 8000))
            .await
            .unwrap()
            .text,
        "I would like to book a table"
    );

    let request = ChatRequest {
        system: "Be brief.".into(),
        history: vec![ChatMessage::user("hi")],
        ..ChatRequest::default()
    };
    let mut reply = engines.llm.stream_chat(request).await.unwrap();
    assert!(matches!(reply.next().await, Some(Ok(LlmEvent::Delta(_)))));
    let sent: serde_json::Value = serde_json::from_slice(&fake.received()[1].body).unwrap();
    assert_eq!(sent["model"], "llama3");

    let mut audio = engines
        .tts
        .synthesize(TtsRequest::new("Hello"))
        .await
        .unwrap();
    assert_eq!(audio.next().await.unwrap().unwrap().rate_hz, 24_000);
    assert_eq!(fake.count(Route::Speech), 1);
}

#[tokio::test]
async fn deepgram_elevenlabs_and_echo_built_from_settings_work() {
    let fake = FakeHttp::start().await.unwrap();
    let deepgram = FakeDeepgram::start(dg::Behaviour::default()).await.unwrap();
    let s = settings(&[
        ("VCA_STT_PROVIDER", "deepgram".into()),
        ("VCA_STT_BASE_URL", deepgram.base_url()),
        ("VCA_STT_API_KEY", deepgram.api_key()),
        ("VCA_LLM_PROVIDER", "echo".into()),
        ("VCA_TTS_PROVIDER", "elevenlabs".into()),
        ("VCA_TTS_BASE_URL", fake.base_url()),
        ("VCA_TTS_API_KEY", fake.api_key()),
        ("VCA_TTS_VOICE", "voice-x".into()),
    ])
    .unwrap();
    let engines = build_engines(&s.engines, Law::Ulaw).unwrap();
    let _session = engines.stt.open(SttOptions::new(Law::Ulaw)).await.unwrap();
    assert_eq!(deepgram.records()[0].query["encoding"], "mulaw");
    assert_eq!(engines.llm.name(), "echo");
    let mut audio = engines
        .tts
        .synthesize(TtsRequest::new("Hello"))
        .await
        .unwrap();
    assert_eq!(audio.next().await.unwrap().unwrap().rate_hz, 8000);
    let sent = &fake.received()[0];
    assert_eq!(sent.voice.as_deref(), Some("voice-x"));
    assert_eq!(sent.query.as_deref(), Some("output_format=ulaw_8000"));
}

#[test]
fn a_missing_key_names_the_setting() {
    let err = settings(&[("VCA_STT_API_KEY", "k".into())]).unwrap_err();
    assert!(err.starts_with("VCA_LLM_API_KEY: missing"), "{err}");
    let err = settings(&[
        ("VCA_LLM_PROVIDER", "echo".into()),
        ("VCA_STT_PROVIDER", "deepgram".into()),
    ])
    .unwrap_err();
    assert!(err.starts_with("VCA_STT_API_KEY: missing"), "{err}");
}

#[test]
fn default_engines_are_espeak_and_need_only_the_openai_keys() {
    let s = settings(&[
        ("VCA_STT_API_KEY", "stt-key-secret".into()),
        ("VCA_LLM_API_KEY", "llm-key-secret".into()),
    ])
    .unwrap();
    let engines = build_engines(&s.engines, Law::Alaw).unwrap();
    assert_eq!(engines.tts.name(), "espeak");
    let shown = format!("{engines:?} {s:?}");
    assert!(!shown.contains("stt-key-secret") && !shown.contains("llm-key-secret"));
}
