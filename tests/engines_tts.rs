//! The speech engines: OpenAI-compatible PCM and ElevenLabs against the fake server
//! (odd byte splits, µ-law decoding, retries, timeouts, cuts, cancellation), and the real
//! espeak-ng when installed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use vca_bridge::config::Secret;
use vca_bridge::engines::EngineError;
use vca_bridge::engines::resilience::{BreakerPolicy, Guard, ManualClock, RetryPolicy, Timeouts};
use vca_bridge::engines::tts::elevenlabs::{ElevenLabs, ElevenLabsConfig};
use vca_bridge::engines::tts::espeak::{Espeak, EspeakConfig};
use vca_bridge::engines::tts::openai::{OpenAiSpeech, OpenAiSpeechConfig};
use vca_bridge::engines::tts::{TextToSpeech, TtsRequest, TtsStream};
use vca_media::g711::Law;
use vca_sim::engines::http::{FakeHttp, Reply, Route};
use vca_sim::engines::tone;

use crate::support::speech::espeak_or_skip;

fn guard(provider: &'static str) -> Guard {
    Guard::new(
        provider,
        Timeouts {
            connect: Duration::from_secs(2),
            first_byte: Duration::from_millis(400),
            idle: Duration::from_millis(400),
            total: Duration::from_secs(5),
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

fn openai(fake: &FakeHttp) -> OpenAiSpeech {
    let config = OpenAiSpeechConfig {
        base_url: fake.base_url(),
        api_key: Some(Secret::new(fake.api_key())),
        model: "tts-1".into(),
        voice: "alloy".into(),
    };
    OpenAiSpeech::new(config, guard("openai_tts")).unwrap()
}

fn elevenlabs(fake: &FakeHttp, law: Law, key: &str) -> ElevenLabs {
    let config = ElevenLabsConfig {
        base_url: fake.base_url(),
        api_key: Secret::new(key),
        model: "eleven_flash_v2_5".into(),
        voice: "voice123".into(),
        law,
    };
    ElevenLabs::new(config, guard("elevenlabs")).unwrap()
}

/// All samples of a stream and its rate, or the first error (with samples so far).
async fn collect(mut stream: TtsStream) -> (u32, Vec<i16>, Option<EngineError>) {
    let mut rate = 0;
    let mut samples = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                assert!(rate == 0 || rate == chunk.rate_hz, "one rate per stream");
                assert!(!chunk.samples.is_empty());
                rate = chunk.rate_hz;
                samples.extend(chunk.samples);
            }
            Err(e) => return (rate, samples, Some(e)),
        }
    }
    (rate, samples, None)
}

const TEXT: &str = "Your table is booked.";

#[tokio::test]
async fn openai_pcm_streams_24k_samples_exactly() {
    let fake = FakeHttp::start().await.unwrap();
    let tts = openai(&fake);
    let (rate, samples, err) = collect(tts.synthesize(TtsRequest::new(TEXT)).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(rate, 24_000);
    assert_eq!(
        samples,
        tone(24_000, 24 * 20 * TEXT.len()),
        "odd byte splits joined"
    );
    let sent = &fake.received()[0];
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["response_format"], "pcm");
    assert_eq!(body["voice"], "alloy");
    assert_eq!(body["model"], "tts-1");
    assert_eq!(body["input"], TEXT);
    assert_eq!(
        sent.headers["authorization"],
        format!("Bearer {}", fake.api_key())
    );
}

#[tokio::test]
async fn per_call_voice_and_model_override() {
    let fake = FakeHttp::start().await.unwrap();
    let tts = openai(&fake);
    let req = TtsRequest {
        voice: Some("nova".into()),
        model: Some("gpt-4o-mini-tts".into()),
        ..TtsRequest::new("Hi")
    };
    collect(tts.synthesize(req).await.unwrap()).await;
    let body: Value = serde_json::from_slice(&fake.received()[0].body).unwrap();
    assert_eq!(body["voice"], "nova");
    assert_eq!(body["model"], "gpt-4o-mini-tts");
}

#[tokio::test]
async fn elevenlabs_ulaw_for_ulaw_calls_decodes_to_8k() {
    let fake = FakeHttp::start().await.unwrap();
    let tts = elevenlabs(&fake, Law::Ulaw, &fake.api_key());
    let (rate, samples, err) = collect(tts.synthesize(TtsRequest::new(TEXT)).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(rate, 8000);
    let expected: Vec<i16> = tone(8000, 8 * 20 * TEXT.len())
        .into_iter()
        .map(|s| Law::Ulaw.decode(Law::Ulaw.encode(s)))
        .collect();
    assert_eq!(samples, expected);
    let sent = &fake.received()[0];
    assert_eq!(sent.query.as_deref(), Some("output_format=ulaw_8000"));
    assert_eq!(sent.voice.as_deref(), Some("voice123"));
    assert_eq!(sent.headers["xi-api-key"], fake.api_key().as_str());
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["text"], TEXT);
    assert_eq!(body["model_id"], "eleven_flash_v2_5");
}

#[tokio::test]
async fn elevenlabs_pcm_16000_for_alaw_calls() {
    let fake = FakeHttp::start().await.unwrap();
    let tts = elevenlabs(&fake, Law::Alaw, &fake.api_key());
    let (rate, samples, _) = collect(tts.synthesize(TtsRequest::new(TEXT)).await.unwrap()).await;
    assert_eq!(rate, 16_000);
    assert_eq!(samples, tone(16_000, 16 * 20 * TEXT.len()));
    assert_eq!(
        fake.received()[0].query.as_deref(),
        Some("output_format=pcm_16000")
    );
}

#[tokio::test]
async fn elevenlabs_wrong_key_is_auth_and_not_retried() {
    let fake = FakeHttp::start().await.unwrap();
    let tts = elevenlabs(&fake, Law::Ulaw, "not-the-key");
    let err = tts.synthesize(TtsRequest::new(TEXT)).await.err().unwrap();
    assert!(
        matches!(err, EngineError::Auth { status: 401, .. }),
        "{err}"
    );
    assert_eq!(fake.count(Route::ElevenLabs), 1);
    assert!(!format!("{err} {tts:?}").contains("not-the-key"));
}

#[tokio::test]
async fn retries_5xx_before_the_first_byte_but_not_400() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(
        Route::Speech,
        [Reply::Status {
            status: 502,
            retry_after: None,
        }],
    );
    let tts = openai(&fake);
    let (_, samples, err) = collect(tts.synthesize(TtsRequest::new(TEXT)).await.unwrap()).await;
    assert!(err.is_none() && !samples.is_empty());
    assert_eq!(fake.count(Route::Speech), 2);
    fake.script(
        Route::Speech,
        [Reply::Status {
            status: 400,
            retry_after: None,
        }],
    );
    let err = tts.synthesize(TtsRequest::new(TEXT)).await.err().unwrap();
    assert_eq!(err.kind(), "http_4xx");
    assert_eq!(fake.count(Route::Speech), 3);
}

#[tokio::test]
async fn slow_first_byte_times_out() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(Route::Speech, [Reply::SlowStart(Duration::from_secs(30))]);
    let err = openai(&fake)
        .synthesize(TtsRequest::new(TEXT))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, EngineError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn hang_mid_stream_times_out_and_cut_is_a_protocol_error() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(Route::Speech, [Reply::HangAfter(3), Reply::CutAfter(3)]);
    let tts = openai(&fake);
    let (_, samples, err) = collect(tts.synthesize(TtsRequest::new(TEXT)).await.unwrap()).await;
    assert!(!samples.is_empty());
    assert!(matches!(err, Some(EngineError::Timeout { .. })), "{err:?}");
    let (_, samples, err) = collect(tts.synthesize(TtsRequest::new(TEXT)).await.unwrap()).await;
    assert!(!samples.is_empty());
    assert!(matches!(err, Some(EngineError::Protocol { .. })), "{err:?}");
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_request() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(
        Route::ElevenLabs,
        [Reply::Trickle(Duration::from_millis(30))],
    );
    let tts = elevenlabs(&fake, Law::Ulaw, &fake.api_key());
    let mut stream = tts.synthesize(TtsRequest::new(TEXT)).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    assert!(
        fake.wait_dropped_early(1).await,
        "the server saw the connection close"
    );
}

#[tokio::test]
async fn empty_text_is_refused_without_a_request() {
    let fake = FakeHttp::start().await.unwrap();
    let err = openai(&fake)
        .synthesize(TtsRequest::new("  "))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), "invalid_request");
    assert_eq!(fake.count(Route::Speech), 0);
}

fn espeak_guard() -> Guard {
    let mut g = guard("espeak");
    g.timeouts.first_byte = Duration::from_secs(10);
    g.timeouts.idle = Duration::from_secs(10);
    g
}

#[tokio::test]
async fn espeak_speaks_non_silent_pcm_of_plausible_length() {
    if !espeak_or_skip() {
        return;
    }
    let tts = Espeak::new(EspeakConfig::default(), espeak_guard());
    let text = "Hello, this is a test of the speech engine.";
    let (rate, samples, err) = collect(tts.synthesize(TtsRequest::new(text)).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(rate, 22_050);
    let seconds = samples.len() as f64 / 22_050.0;
    assert!((1.0..10.0).contains(&seconds), "{seconds} s for 8 words");
    let rms =
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    assert!(rms > 300.0, "speech, not silence (rms {rms})");
    let faster = TtsRequest {
        rate_wpm: Some(350),
        ..TtsRequest::new(text)
    };
    let (_, fast, _) = collect(tts.synthesize(faster).await.unwrap()).await;
    assert!(
        fast.len() < samples.len(),
        "the rate setting reaches espeak-ng"
    );
}

#[tokio::test]
async fn espeak_child_is_killed_when_the_stream_is_dropped() {
    if !espeak_or_skip() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("vca-espeak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("pid");
    let wrapper = dir.join("espeak-wrapper.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho $$ > {}\nexec espeak-ng \"$@\"\n",
            pid_file.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .unwrap();
    let config = EspeakConfig {
        program: wrapper.to_string_lossy().into_owned(),
        ..EspeakConfig::default()
    };
    let tts = Espeak::new(config, espeak_guard());
    let long = "This sentence is long enough to keep the synthesizer busy for a while. ".repeat(40);
    let mut stream = tts.synthesize(TtsRequest::new(long)).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    drop(stream);
    let mut gone = false;
    for _ in 0..500 {
        let status = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        // Gone, or a zombie waiting to be reaped by tokio's orphan queue.
        if status.is_empty() || status.contains(") Z") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        gone,
        "espeak-ng (pid {pid}) still runs after the stream was dropped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_missing_espeak_program_is_a_process_error() {
    let config = EspeakConfig {
        program: "/nonexistent/espeak-ng".into(),
        ..EspeakConfig::default()
    };
    let err = Espeak::new(config, espeak_guard())
        .synthesize(TtsRequest::new("hi"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), "process");
}
