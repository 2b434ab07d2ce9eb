//! The call's language reaches every provider in the form its API wants, as the fakes
//! record it: Deepgram `language=hi` / `multi` (and the language of `multi` results),
//! OpenAI transcriptions `language=hi` or detection with `verbose_json`, ElevenLabs
//! `language_code`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use vca_bridge::config::Secret;
use vca_bridge::engines::resilience::{BreakerPolicy, Guard, ManualClock, RetryPolicy, Timeouts};
use vca_bridge::engines::stt::deepgram::{Deepgram, DeepgramConfig};
use vca_bridge::engines::stt::openai::{OpenAiTranscribe, OpenAiTranscribeConfig};
use vca_bridge::engines::stt::{SpeechToText, SttOptions};
use vca_bridge::engines::tts::elevenlabs::{ElevenLabs, ElevenLabsConfig};
use vca_bridge::engines::tts::{TextToSpeech, TtsRequest};
use vca_media::g711::Law;
use vca_sim::engines::deepgram::{self as dg, FakeDeepgram};
use vca_sim::engines::http::FakeHttp;
use vca_sim::engines::tone;

fn guard(provider: &'static str) -> Guard {
    Guard::new(
        provider,
        Timeouts {
            connect: Duration::from_secs(2),
            first_byte: Duration::from_millis(500),
            idle: Duration::from_secs(1),
            total: Duration::from_secs(2),
        },
        RetryPolicy::default(),
        BreakerPolicy::default(),
        Arc::new(ManualClock::new()),
    )
}

fn deepgram(fake: &FakeDeepgram) -> Deepgram {
    let config = DeepgramConfig {
        base_url: fake.base_url(),
        api_key: Secret::new(fake.api_key()),
        model: "nova-3".into(),
        language: Some("en".into()),
        endpointing_ms: 300,
        utterance_end_ms: 1000,
        keepalive_every: Duration::from_secs(3),
    };
    Deepgram::new(config, guard("deepgram"))
}

fn options(language: &str, others: &[&str]) -> SttOptions {
    SttOptions {
        language: Some(language.into()),
        detect_languages: others.iter().map(|s| s.to_string()).collect(),
        ..SttOptions::new(Law::Alaw)
    }
}

#[tokio::test]
async fn deepgram_gets_its_language_form_or_multi() {
    let fake = FakeDeepgram::start(dg::Behaviour::default()).await.unwrap();
    let stt = deepgram(&fake);
    for (language, others, wanted) in [
        ("hi-IN", &[][..], "hi"),
        ("en-IN", &[][..], "en-IN"),
        ("hi-IN", &["en-IN"][..], "multi"),
        // Tamil is outside what `multi` detects: the call's language stays.
        ("hi-IN", &["ta-IN"][..], "hi"),
    ] {
        let mut session = stt.open(options(language, others)).await.unwrap();
        assert!(fake.wait_for(|_| true).await);
        let query = fake.records().last().unwrap().query.clone();
        assert_eq!(query["language"], wanted, "{language} with {others:?}");
        session.close().await;
    }
}

#[tokio::test]
async fn deepgram_multi_reports_the_language_it_heard() {
    let behaviour = dg::Behaviour {
        utterances: std::collections::VecDeque::from(["मुझे दो टेबल चाहिए".to_string()]),
        ..dg::Behaviour::default()
    };
    let fake = FakeDeepgram::start(behaviour).await.unwrap();
    let stt = deepgram(&fake);
    let mut session = stt.open(options("hi-IN", &["en-IN"])).await.unwrap();
    let frame = [0xD5u8; 160];
    for _ in 0..50 {
        session.push_frame(&frame);
    }
    assert!(fake.wait_for(|r| r.audio_bytes == 8000).await);
    let t = session.finish_utterance(Vec::new()).await.unwrap();
    assert_eq!(t.text, "मुझे दो टेबल चाहिए");
    assert_eq!(t.language.as_deref(), Some("hi"));
}

fn whisper(fake: &FakeHttp) -> OpenAiTranscribe {
    let config = OpenAiTranscribeConfig {
        base_url: fake.base_url(),
        api_key: Some(Secret::new(fake.api_key())),
        model: "whisper-1".into(),
        language: Some("en".into()),
    };
    OpenAiTranscribe::new(config, guard("openai_stt")).unwrap()
}

#[tokio::test]
async fn openai_transcriptions_get_iso_639_1_or_detect() {
    let fake = FakeHttp::start().await.unwrap();
    let stt = whisper(&fake);
    let mut session = stt.open(options("hi-IN", &[])).await.unwrap();
    let t = session.finish_utterance(tone(8000, 4000)).await.unwrap();
    assert_eq!(t.language, None);
    // The fake names the language of its transcript's script.
    fake.set(|b| b.transcript = "मुझे एक टेबल चाहिए".into());
    let mut session = stt.open(options("hi-IN", &["en-IN"])).await.unwrap();
    let t = session.finish_utterance(tone(8000, 4000)).await.unwrap();
    assert_eq!(t.language.as_deref(), Some("hi"), "verbose_json's `hindi`");
    let received = fake.received();
    assert_eq!(received[0].form["language"], "hi");
    assert_eq!(received[0].form["response_format"], "json");
    assert!(!received[1].form.contains_key("language"), "detecting");
    assert_eq!(received[1].form["response_format"], "verbose_json");
}

#[tokio::test]
async fn elevenlabs_gets_language_code_for_models_that_take_it() {
    let fake = FakeHttp::start().await.unwrap();
    let config = ElevenLabsConfig {
        base_url: fake.base_url(),
        api_key: Secret::new(fake.api_key()),
        model: "eleven_flash_v2_5".into(),
        voice: "voice123".into(),
        law: Law::Ulaw,
    };
    let tts = ElevenLabs::new(config, guard("elevenlabs")).unwrap();
    for model in ["eleven_flash_v2_5", "eleven_multilingual_v2"] {
        let request = TtsRequest {
            language: Some("hi-IN".into()),
            model: Some(model.into()),
            ..TtsRequest::new("नमस्ते")
        };
        let mut stream = tts.synthesize(request).await.unwrap();
        while stream.next().await.is_some() {}
    }
    let bodies: Vec<Value> = fake
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies[0]["language_code"], "hi");
    assert!(bodies[1].get("language_code").is_none());
}
