//! The speech recognition engines: Deepgram live against a fake WebSocket server (query,
//! auth, audio, Finalize, KeepAlive, CloseStream, failures) and OpenAI-compatible
//! transcriptions against the fake HTTP server (multipart WAV at 16 kHz, retries).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use vca_bridge::config::Secret;
use vca_bridge::engines::EngineError;
use vca_bridge::engines::resilience::{BreakerPolicy, Guard, ManualClock, RetryPolicy, Timeouts};
use vca_bridge::engines::stt::deepgram::{Deepgram, DeepgramConfig};
use vca_bridge::engines::stt::openai::{OpenAiTranscribe, OpenAiTranscribeConfig};
use vca_bridge::engines::stt::{SpeechToText, SttEvent, SttOptions, SttSession};
use vca_media::g711::Law;
use vca_sim::engines::deepgram::{self as dg, FakeDeepgram, Mode};
use vca_sim::engines::http::{FakeHttp, Reply, Route};
use vca_sim::engines::tone;

fn guard(provider: &'static str) -> Guard {
    Guard::new(
        provider,
        Timeouts {
            connect: Duration::from_secs(2),
            first_byte: Duration::from_millis(500),
            idle: Duration::from_secs(5),
            total: Duration::from_millis(500),
        },
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            retry_after_cap: Duration::from_secs(1),
            budget: Duration::from_secs(10),
        },
        BreakerPolicy::default(),
        Arc::new(ManualClock::new()),
    )
}

fn deepgram(fake: &FakeDeepgram, key: &str, keepalive_every: Duration) -> Deepgram {
    let config = DeepgramConfig {
        base_url: fake.base_url(),
        api_key: Secret::new(key),
        model: "nova-2".into(),
        language: Some("en".into()),
        endpointing_ms: 300,
        utterance_end_ms: 1000,
        keepalive_every,
    };
    Deepgram::new(config, guard("deepgram"))
}

/// Pushes `seconds` of A-law silence-ish frames (160 bytes each).
fn push_audio(session: &mut dyn SttSession, seconds: usize) {
    let frame = [0xD5u8; 160];
    for _ in 0..seconds * 50 {
        session.push_frame(&frame);
    }
}

fn drain_events(session: &mut dyn SttSession) -> Vec<SttEvent> {
    std::iter::from_fn(|| session.try_event()).collect()
}

#[tokio::test]
async fn deepgram_streams_audio_and_finalizes_the_utterance() {
    let fake = FakeDeepgram::start(dg::Behaviour::default()).await.unwrap();
    let stt = deepgram(&fake, &fake.api_key(), Duration::from_secs(3));
    let options = SttOptions {
        language: Some("en-IN".into()),
        ..SttOptions::new(Law::Alaw)
    };
    let mut session = stt.open(options).await.unwrap();
    push_audio(session.as_mut(), 1);
    assert!(
        fake.wait_for(|r| r.audio_bytes == 8000).await,
        "all audio arrived"
    );
    let t = session.finish_utterance(Vec::new()).await.unwrap();
    assert_eq!(t.text, "I would like to book a table");
    assert!(t.complete);
    let events = drain_events(session.as_mut());
    assert_eq!(events.first(), Some(&SttEvent::SpeechStarted));
    assert!(
        events.iter().any(|e| matches!(e, SttEvent::Interim(_))),
        "{events:?}"
    );
    assert_eq!(session.usage().audio_seconds, 1.0);

    push_audio(session.as_mut(), 1);
    assert_eq!(
        session.finish_utterance(Vec::new()).await.unwrap().text,
        "for two people"
    );
    session.close().await;

    let r = &fake.records()[0];
    assert_eq!(
        r.authorization.as_deref(),
        Some(format!("Token {}", fake.api_key()).as_str())
    );
    for (k, v) in [
        ("encoding", "alaw"),
        ("sample_rate", "8000"),
        ("channels", "1"),
        ("interim_results", "true"),
        ("endpointing", "300"),
        ("utterance_end_ms", "1000"),
        ("vad_events", "true"),
        ("language", "en-IN"),
        ("model", "nova-2"),
    ] {
        assert_eq!(r.query.get(k).map(String::as_str), Some(v), "query {k}");
    }
    assert_eq!(r.audio_messages, 20, "100 ms batches");
    assert_eq!(r.finalizes, 2);
    assert!(fake.wait_for(|r| r.close_stream && r.ended).await);
}

#[tokio::test]
async fn deepgram_ulaw_calls_send_mulaw() {
    let fake = FakeDeepgram::start(dg::Behaviour::default()).await.unwrap();
    let stt = deepgram(&fake, &fake.api_key(), Duration::from_secs(3));
    let _session = stt.open(SttOptions::new(Law::Ulaw)).await.unwrap();
    assert_eq!(fake.records()[0].query["encoding"], "mulaw");
    assert_eq!(
        fake.records()[0].query["language"],
        "en",
        "the configured language"
    );
}

#[tokio::test]
async fn deepgram_own_speech_final_is_used_once() {
    let behaviour = dg::Behaviour {
        auto_final_after: Some(8000),
        ..dg::Behaviour::default()
    };
    let fake = FakeDeepgram::start(behaviour).await.unwrap();
    let stt = deepgram(&fake, &fake.api_key(), Duration::from_secs(3));
    let mut session = stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    push_audio(session.as_mut(), 1);
    let mut saw_end = false;
    for _ in 0..500 {
        if drain_events(session.as_mut()).contains(&SttEvent::UtteranceEnd) {
            saw_end = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(saw_end, "UtteranceEnd event forwarded");
    let t = session.finish_utterance(Vec::new()).await.unwrap();
    assert_eq!(
        t.text, "I would like to book a table",
        "no duplicate from the Finalize answer"
    );
    assert!(t.complete);
    assert_eq!(fake.records()[0].finalizes, 1, "remaining audio is flushed");
}

#[tokio::test]
async fn deepgram_keepalive_while_no_audio_flows() {
    let fake = FakeDeepgram::start(dg::Behaviour::default()).await.unwrap();
    let stt = deepgram(&fake, &fake.api_key(), Duration::from_millis(50));
    let mut session = stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    assert!(
        fake.wait_for(|r| r.keepalives >= 2).await,
        "automatic KeepAlive"
    );
    let before = fake.records()[0].keepalives;
    session.keepalive();
    assert!(fake.wait_for(|r| r.keepalives > before).await);
    assert_eq!(fake.records()[0].audio_bytes, 0);
}

#[tokio::test]
async fn deepgram_wrong_key_is_auth_and_not_retried() {
    let fake = FakeDeepgram::start(dg::Behaviour::default()).await.unwrap();
    let stt = deepgram(&fake, "wrong-dg-key", Duration::from_secs(3));
    let err = stt.open(SttOptions::new(Law::Alaw)).await.err().unwrap();
    assert!(
        matches!(err, EngineError::Auth { status: 401, .. }),
        "{err}"
    );
    assert_eq!(fake.upgrades_tried(), 1);
    assert!(!format!("{err} {stt:?}").contains("wrong-dg-key"));
}

#[tokio::test]
async fn deepgram_upgrade_500_is_retried() {
    let behaviour = dg::Behaviour {
        reject_next: VecDeque::from([500, 503]),
        ..dg::Behaviour::default()
    };
    let fake = FakeDeepgram::start(behaviour).await.unwrap();
    let stt = deepgram(&fake, &fake.api_key(), Duration::from_secs(3));
    assert!(stt.open(SttOptions::new(Law::Alaw)).await.is_ok());
    assert_eq!(fake.upgrades_tried(), 3);
}

#[tokio::test]
async fn deepgram_unanswered_finalize_returns_the_interim_in_time() {
    let behaviour = dg::Behaviour {
        mode: Mode::IgnoreFinalize,
        ..dg::Behaviour::default()
    };
    let fake = FakeDeepgram::start(behaviour).await.unwrap();
    let stt = deepgram(&fake, &fake.api_key(), Duration::from_secs(3));
    let mut session = stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    push_audio(session.as_mut(), 1);
    let mut interim = false;
    for _ in 0..500 {
        if drain_events(session.as_mut())
            .iter()
            .any(|e| matches!(e, SttEvent::Interim(_)))
        {
            interim = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(interim);
    let t = session.finish_utterance(Vec::new()).await.unwrap();
    assert!(!t.complete, "not confirmed by the provider");
    assert_eq!(t.text, "I would like to");
}

#[tokio::test]
async fn deepgram_bad_json_and_dropped_socket_are_errors_not_hangs() {
    for (mode, kind) in [
        (Mode::BadJson, "protocol"),
        (Mode::DropAfterAudio, "unavailable"),
    ] {
        let behaviour = dg::Behaviour {
            mode,
            ..dg::Behaviour::default()
        };
        let fake = FakeDeepgram::start(behaviour).await.unwrap();
        let stt = deepgram(&fake, &fake.api_key(), Duration::from_secs(3));
        let mut session = stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
        push_audio(session.as_mut(), 1);
        assert!(fake.wait_for(|r| r.ended).await);
        // Give the reader a moment to see the end: poll until the session reports it.
        let mut result = session.finish_utterance(Vec::new()).await;
        for _ in 0..100 {
            if result.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            push_audio(session.as_mut(), 1);
            result = session.finish_utterance(Vec::new()).await;
        }
        assert_eq!(result.unwrap_err().kind(), kind, "{mode:?}");
    }
}

#[tokio::test]
async fn dropping_a_deepgram_session_closes_the_socket() {
    let fake = FakeDeepgram::start(dg::Behaviour::default()).await.unwrap();
    let stt = deepgram(&fake, &fake.api_key(), Duration::from_secs(3));
    let session = stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    assert!(fake.wait_for(|r| !r.ended).await);
    drop(session);
    assert!(
        fake.wait_for(|r| r.ended).await,
        "the server saw the connection end"
    );
    assert!(!fake.records()[0].close_stream);
}

fn whisper(fake: &FakeHttp, key: &str) -> OpenAiTranscribe {
    let config = OpenAiTranscribeConfig {
        base_url: fake.base_url(),
        api_key: Some(Secret::new(key)),
        model: "whisper-1".into(),
        language: Some("en-IN".into()),
    };
    OpenAiTranscribe::new(config, guard("openai_stt")).unwrap()
}

#[tokio::test]
async fn openai_uploads_a_16k_wav_per_utterance() {
    let fake = FakeHttp::start().await.unwrap();
    let stt = whisper(&fake, &fake.api_key());
    let mut session = stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    push_audio(session.as_mut(), 1);
    assert_eq!(
        fake.count(Route::Transcriptions),
        0,
        "frames are not uploaded"
    );
    let t = session.finish_utterance(tone(8000, 12_000)).await.unwrap();
    assert_eq!(t.text, "I would like to book a table");
    assert!(t.complete);
    let r = &fake.received()[0];
    assert_eq!(r.wav, Some((16_000, 24_000)), "1.5 s at 16 kHz");
    assert_eq!(r.form["model"], "whisper-1");
    assert_eq!(r.form["language"], "en");
    assert_eq!(r.form["response_format"], "json");
    assert_eq!(session.usage().audio_seconds, 1.5);
    assert!(session.try_event().is_none());
}

#[tokio::test]
async fn openai_per_call_model_and_language() {
    let fake = FakeHttp::start().await.unwrap();
    let stt = whisper(&fake, &fake.api_key());
    let options = SttOptions {
        law: Law::Ulaw,
        language: Some("hi".into()),
        model: Some("whisper-large-v3".into()),
        detect_languages: Vec::new(),
    };
    let mut session = stt.open(options).await.unwrap();
    session.finish_utterance(tone(8000, 4000)).await.unwrap();
    let r = &fake.received()[0];
    assert_eq!(r.form["model"], "whisper-large-v3");
    assert_eq!(r.form["language"], "hi");
}

#[tokio::test]
async fn openai_retries_500_not_401_and_reports_bad_json_and_hangs() {
    let fake = FakeHttp::start().await.unwrap();
    let stt = whisper(&fake, &fake.api_key());
    let mut session = stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    let audio = tone(8000, 8000);
    fake.script(
        Route::Transcriptions,
        [Reply::Status {
            status: 500,
            retry_after: None,
        }],
    );
    assert!(session.finish_utterance(audio.clone()).await.is_ok());
    assert_eq!(fake.count(Route::Transcriptions), 2);

    fake.script(Route::Transcriptions, [Reply::BadJson]);
    let err = session.finish_utterance(audio.clone()).await.unwrap_err();
    assert_eq!(err.kind(), "protocol");

    fake.script(Route::Transcriptions, [Reply::HangAfter(0)]);
    let err = session.finish_utterance(audio.clone()).await.unwrap_err();
    assert_eq!(err.kind(), "timeout");

    let before = fake.count(Route::Transcriptions);
    let bad = whisper(&fake, "nope");
    let mut s = bad.open(SttOptions::new(Law::Alaw)).await.unwrap();
    assert_eq!(
        s.finish_utterance(audio.clone()).await.unwrap_err().kind(),
        "auth"
    );
    assert_eq!(fake.count(Route::Transcriptions), before + 1);
}

#[tokio::test]
async fn openai_empty_utterance_sends_nothing() {
    let fake = FakeHttp::start().await.unwrap();
    let stt = whisper(&fake, &fake.api_key());
    let mut session = stt.open(SttOptions::new(Law::Alaw)).await.unwrap();
    assert_eq!(session.finish_utterance(Vec::new()).await.unwrap().text, "");
    assert_eq!(fake.count(Route::Transcriptions), 0);
}
