//! Sarvam against its fake: streaming STT (8 kHz PCM, the key header, Devanagari
//! transcripts with their language, VAD events, detection, error messages, close codes, a
//! stall), REST STT, TTS over the socket (A-law bytes untouched, language and speaker,
//! pings, barge-in, errors, stalls) and over HTTP, and chat with the key in Sarvam's
//! header.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use vca_bridge::config::Secret;
use vca_bridge::engines::EngineError;
use vca_bridge::engines::llm::openai::{OpenAiChat, OpenAiChatConfig};
use vca_bridge::engines::llm::{ChatCompletion, ChatMessage, ChatRequest, LlmEvent};
use vca_bridge::engines::resilience::{BreakerPolicy, Guard, ManualClock, RetryPolicy, Timeouts};
use vca_bridge::engines::settings::{SttMode, TtsMode};
use vca_bridge::engines::stt::sarvam::{SarvamStt, SarvamSttConfig};
use vca_bridge::engines::stt::{SpeechToText, SttEvent, SttOptions, SttSession};
use vca_bridge::engines::tts::sarvam::{SarvamTts, SarvamTtsConfig};
use vca_bridge::engines::tts::{TextToSpeech, TtsRequest, TtsStream};
use vca_media::g711::Law;
use vca_sim::engines::sarvam::{self as sv, FakeSarvam};
use vca_sim::engines::tone;

fn guard(provider: &'static str) -> Guard {
    Guard::new(
        provider,
        Timeouts {
            connect: Duration::from_secs(2),
            first_byte: Duration::from_millis(500),
            idle: Duration::from_millis(500),
            total: Duration::from_secs(5),
        },
        RetryPolicy {
            max_retries: 0,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            retry_after_cap: Duration::from_secs(1),
            budget: Duration::from_secs(10),
        },
        BreakerPolicy::default(),
        Arc::new(ManualClock::new()),
    )
}

fn stt(fake: &FakeSarvam, key: &str, mode: SttMode) -> SarvamStt {
    let config = SarvamSttConfig {
        base_url: fake.base_url(),
        api_key: Secret::new(key),
        model: "saarika:v2.5".into(),
        language: Some("hi-IN".into()),
        mode,
        high_vad_sensitivity: true,
        keepalive_every: Duration::from_secs(5),
    };
    SarvamStt::new(config, guard("sarvam_stt")).unwrap()
}

fn tts(fake: &FakeSarvam, law: Law, mode: TtsMode, ping_every: Duration) -> SarvamTts {
    let config = SarvamTtsConfig {
        base_url: fake.base_url(),
        api_key: Secret::new(fake.api_key()),
        model: "bulbul:v2".into(),
        voice: "anushka".into(),
        language: "hi-IN".into(),
        law,
        mode,
        ping_every,
    };
    SarvamTts::new(config, guard("sarvam_tts")).unwrap()
}

/// Pushes `seconds` of A-law frames (160 bytes each, all 0xD5: PCM 8).
fn push_audio(session: &mut dyn SttSession, seconds: usize) {
    let frame = [0xD5u8; 160];
    for _ in 0..seconds * 50 {
        session.push_frame(&frame);
    }
}

/// Waits (up to 5 s) for `wanted` among the session's events.
async fn wait_event(session: &mut dyn SttSession, wanted: SttEvent) -> bool {
    for _ in 0..500 {
        while let Some(e) = session.try_event() {
            if e == wanted {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

fn hindi(law: Law) -> SttOptions {
    SttOptions {
        language: Some("hi-IN".into()),
        ..SttOptions::new(law)
    }
}

#[tokio::test]
async fn streaming_sends_8k_pcm_and_flushes_to_a_devanagari_transcript() {
    let fake = FakeSarvam::start(sv::Behaviour::default()).await.unwrap();
    let stt = stt(&fake, &fake.api_key(), SttMode::Stream);
    let mut session = stt.open(hindi(Law::Alaw)).await.unwrap();
    push_audio(session.as_mut(), 1);
    assert!(wait_event(session.as_mut(), SttEvent::SpeechStarted).await);
    let t = session.finish_utterance(Vec::new()).await.unwrap();
    assert_eq!(t.text, "मुझे एक टेबल बुक करनी है");
    assert_eq!(t.language.as_deref(), Some("hi-IN"));
    assert!(t.complete);
    assert!(
        fake.wait_stt(|r| r.pcm.len() == 16_000).await,
        "1 s of 8 kHz PCM"
    );
    let r = &fake.stt_records()[0];
    assert_eq!(r.key.as_deref(), Some(fake.api_key().as_str()));
    assert_eq!(r.query["language-code"], "hi-IN");
    assert_eq!(r.query["model"], "saarika:v2.5");
    assert_eq!(r.query["sample_rate"], "8000");
    assert_eq!(r.query["input_audio_codec"], "pcm_s16le");
    assert_eq!(r.query["vad_signals"], "true");
    assert_eq!(r.query["flush_signal"], "true");
    assert!(r.odd_rates.is_empty(), "every message says 8000");
    assert!(
        r.pcm.chunks(2).all(|s| s == 8i16.to_le_bytes()),
        "A-law decoded, not resampled"
    );
    assert_eq!(r.audio_messages, 10, "100 ms per message");
    assert_eq!(r.flushes, 1);
    assert_eq!(session.usage().audio_seconds, 1.0);
    session.close().await;
    assert!(fake.wait_stt(|r| r.ended).await);
}

#[tokio::test]
async fn sarvam_vad_ends_utterances_and_detection_reports_the_language() {
    let behaviour = sv::Behaviour {
        auto_end_after: Some(8000),
        utterances: VecDeque::from([("for two people".to_string(), "en-IN".to_string())]),
        ..sv::Behaviour::default()
    };
    let fake = FakeSarvam::start(behaviour).await.unwrap();
    let stt = stt(&fake, &fake.api_key(), SttMode::Stream);
    let options = SttOptions {
        detect_languages: vec!["en-IN".into()],
        ..hindi(Law::Ulaw)
    };
    let mut session = stt.open(options).await.unwrap();
    push_audio(session.as_mut(), 1);
    assert!(wait_event(session.as_mut(), SttEvent::UtteranceEnd).await);
    let t = session.finish_utterance(Vec::new()).await.unwrap();
    assert_eq!(t.text, "for two people");
    assert_eq!(t.language.as_deref(), Some("en-IN"));
    assert_eq!(fake.stt_records()[0].query["language-code"], "unknown");
}

#[tokio::test]
async fn a_wrong_key_is_refused_at_the_upgrade() {
    let fake = FakeSarvam::start(sv::Behaviour::default()).await.unwrap();
    let err = stt(&fake, "wrong", SttMode::Stream)
        .open(hindi(Law::Alaw))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Auth { status: 403, .. }),
        "{err:?}"
    );
}

async fn failing_session(mode: sv::SttMode) -> EngineError {
    let behaviour = sv::Behaviour {
        stt_mode: mode,
        ..sv::Behaviour::default()
    };
    let fake = FakeSarvam::start(behaviour).await.unwrap();
    let stt = stt(&fake, &fake.api_key(), SttMode::Stream);
    let mut session = stt.open(hindi(Law::Alaw)).await.unwrap();
    push_audio(session.as_mut(), 1);
    assert!(wait_event(session.as_mut(), SttEvent::SpeechStarted).await);
    session.finish_utterance(Vec::new()).await.unwrap_err()
}

#[tokio::test]
async fn an_error_message_becomes_a_typed_error() {
    let err = failing_session(sv::SttMode::ErrorAfterAudio("quota_exceeded".into())).await;
    assert!(
        matches!(err, EngineError::Http { status: 429, .. }),
        "{err:?}"
    );
    let err = failing_session(sv::SttMode::ErrorAfterAudio("audio_decode_failed".into())).await;
    assert!(
        matches!(&err, EngineError::Protocol { detail, .. } if detail.contains("audio_decode_failed")),
        "{err:?}"
    );
}

#[tokio::test]
async fn close_codes_become_typed_errors() {
    let err = failing_session(sv::SttMode::CloseAfterAudio(1011)).await;
    assert!(
        matches!(&err, EngineError::Unavailable { reason, .. } if reason.contains("1011")),
        "{err:?}"
    );
    let err = failing_session(sv::SttMode::CloseAfterAudio(4000)).await;
    assert!(matches!(err, EngineError::InvalidRequest { .. }), "{err:?}");
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let err = failing_session(sv::SttMode::Stall).await;
    assert!(
        matches!(
            err,
            EngineError::Timeout {
                stage: "final transcript",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn rest_mode_uploads_each_utterance() {
    let fake = FakeSarvam::start(sv::Behaviour::default()).await.unwrap();
    let stt = stt(&fake, &fake.api_key(), SttMode::Rest);
    let options = SttOptions {
        detect_languages: vec!["en-IN".into()],
        model: Some("saaras:v3".into()),
        ..hindi(Law::Alaw)
    };
    let mut session = stt.open(options).await.unwrap();
    push_audio(session.as_mut(), 1);
    let t = session.finish_utterance(tone(8000, 8000)).await.unwrap();
    assert_eq!(t.text, "मुझे एक टेबल बुक करनी है");
    assert_eq!(t.language.as_deref(), Some("hi-IN"));
    let r = &fake.http_records()[0];
    assert_eq!(r.path, "/speech-to-text");
    assert_eq!(r.form["model"], "saaras:v3");
    assert_eq!(r.form["language_code"], "unknown");
    assert_eq!(r.wav_rate, Some(16_000));
    assert_eq!(r.headers["api-subscription-key"], fake.api_key().as_str());
    assert_eq!(session.usage().audio_seconds, 1.0);
    assert!(fake.stt_records().is_empty(), "no socket in REST mode");
}

/// Every chunk's samples and the first error.
async fn collect(mut stream: TtsStream) -> (Vec<i16>, Option<EngineError>) {
    let mut samples = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                assert_eq!(chunk.rate_hz, 8000);
                samples.extend(chunk.samples);
            }
            Err(e) => return (samples, Some(e)),
        }
    }
    (samples, None)
}

fn encode(law: Law, samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| law.encode(s)).collect()
}

fn hindi_request(text: &str) -> TtsRequest {
    TtsRequest {
        language: Some("hi-IN".into()),
        voice: Some("meera".into()),
        ..TtsRequest::new(text)
    }
}

#[tokio::test]
async fn socket_tts_passes_alaw_8k_through_untouched() {
    let fake = FakeSarvam::start(sv::Behaviour::default()).await.unwrap();
    let tts = tts(&fake, Law::Alaw, TtsMode::Stream, Duration::from_secs(20));
    let stream = tts.synthesize(hindi_request("नमस्ते")).await.unwrap();
    let (samples, err) = collect(stream).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        encode(Law::Alaw, &samples),
        sv::Behaviour::default().tts_audio,
        "every byte back as sent"
    );
    assert!(fake.wait_tts(|r| r.close_code == Some(1000)).await);
    let r = &fake.tts_records()[0];
    assert_eq!(r.key.as_deref(), Some(fake.api_key().as_str()));
    assert_eq!(r.query["model"], "bulbul:v2");
    assert_eq!(r.query["send_completion_event"], "true");
    let config = r.config.as_ref().unwrap();
    assert_eq!(config["target_language_code"], "hi-IN");
    assert_eq!(config["speaker"], "meera");
    assert_eq!(config["output_audio_codec"], "alaw");
    assert_eq!(config["speech_sample_rate"], "8000");
    assert_eq!(r.texts, vec!["नमस्ते".to_string()]);
    assert_eq!(r.flushes, 1);
}

#[tokio::test]
async fn socket_tts_asks_the_calls_codec_and_sarvams_language_form() {
    let behaviour = sv::Behaviour {
        tts_audio: vec![0xFF, 0x80, 0x01, 0x7E, 0xAA, 0x55],
        tts_chunks: 2,
        ..sv::Behaviour::default()
    };
    let fake = FakeSarvam::start(behaviour).await.unwrap();
    let tts = tts(&fake, Law::Ulaw, TtsMode::Stream, Duration::from_secs(20));
    let request = TtsRequest {
        language: Some("or-IN".into()),
        ..TtsRequest::new("ନମସ୍କାର")
    };
    let (samples, err) = collect(tts.synthesize(request).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        encode(Law::Ulaw, &samples),
        [0xFF, 0x80, 0x01, 0x7E, 0xAA, 0x55]
    );
    let config = fake.tts_records()[0].config.clone().unwrap();
    assert_eq!(config["target_language_code"], "od-IN");
    assert_eq!(config["output_audio_codec"], "mulaw");
    assert_eq!(config["speaker"], "anushka", "the configured speaker");
}

#[tokio::test]
async fn pings_keep_the_socket_open() {
    let behaviour = sv::Behaviour {
        tts_mode: sv::TtsMode::HoldUntilPing,
        ..sv::Behaviour::default()
    };
    let fake = FakeSarvam::start(behaviour).await.unwrap();
    let tts = tts(&fake, Law::Alaw, TtsMode::Stream, Duration::from_millis(20));
    let (samples, err) = collect(tts.synthesize(hindi_request("ठीक है")).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(samples.len(), 1600, "the rest came after a ping");
    assert!(fake.tts_records()[0].pings >= 1);
}

#[tokio::test]
async fn barge_in_closes_the_socket_cleanly() {
    let behaviour = sv::Behaviour {
        tts_mode: sv::TtsMode::StallAfterFirst,
        ..sv::Behaviour::default()
    };
    let fake = FakeSarvam::start(behaviour).await.unwrap();
    let tts = tts(&fake, Law::Alaw, TtsMode::Stream, Duration::from_secs(20));
    let mut stream = tts.synthesize(hindi_request("एक लंबा वाक्य")).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.samples.len(), 400);
    drop(stream);
    assert!(
        fake.wait_tts(|r| r.close_code == Some(1000) && r.ended)
            .await,
        "a normal close frame, then the end"
    );
}

#[tokio::test]
async fn a_stalled_synthesis_times_out() {
    let behaviour = sv::Behaviour {
        tts_mode: sv::TtsMode::StallAfterFirst,
        ..sv::Behaviour::default()
    };
    let fake = FakeSarvam::start(behaviour).await.unwrap();
    let tts = tts(&fake, Law::Alaw, TtsMode::Stream, Duration::from_secs(20));
    let (samples, err) = collect(tts.synthesize(hindi_request("रुको")).await.unwrap()).await;
    assert_eq!(samples.len(), 400);
    assert!(
        matches!(
            err,
            Some(EngineError::Timeout {
                stage: "next audio",
                ..
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_tts_error_message_is_a_typed_error() {
    let behaviour = sv::Behaviour {
        tts_mode: sv::TtsMode::Error("invalid_api_key".into()),
        ..sv::Behaviour::default()
    };
    let fake = FakeSarvam::start(behaviour).await.unwrap();
    let tts = tts(&fake, Law::Alaw, TtsMode::Stream, Duration::from_secs(20));
    let err = tts.synthesize(hindi_request("x")).await.err().unwrap();
    assert!(matches!(err, EngineError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn http_tts_streams_the_calls_codec() {
    let fake = FakeSarvam::start(sv::Behaviour::default()).await.unwrap();
    let tts = tts(&fake, Law::Alaw, TtsMode::Http, Duration::from_secs(20));
    let (samples, err) = collect(tts.synthesize(hindi_request("नमस्ते")).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        encode(Law::Alaw, &samples),
        sv::Behaviour::default().tts_audio
    );
    let r = &fake.http_records()[0];
    assert_eq!(r.path, "/text-to-speech/stream");
    assert_eq!(r.headers["api-subscription-key"], fake.api_key().as_str());
    let body = r.json.as_ref().unwrap();
    assert_eq!(body["target_language_code"], "hi-IN");
    assert_eq!(body["speaker"], "meera");
    assert_eq!(body["output_audio_codec"], "alaw");
    assert_eq!(body["speech_sample_rate"], 8000);
    assert_eq!(body["model"], "bulbul:v2");
    assert!(fake.tts_records().is_empty(), "no socket in HTTP mode");
}

#[tokio::test]
async fn chat_sends_the_key_in_the_configured_header() {
    let fake = FakeSarvam::start(sv::Behaviour::default()).await.unwrap();
    let config = OpenAiChatConfig {
        base_url: format!("{}/v1", fake.base_url()),
        api_key: Some(Secret::new(fake.api_key())),
        api_key_header: Some("api-subscription-key".into()),
        model: "sarvam-m".into(),
        max_tokens: 50,
        temperature: 0.2,
        max_history: 10,
    };
    let llm = OpenAiChat::new(config, guard("openai_llm")).unwrap();
    let request = ChatRequest {
        system: "Answer in Hindi.".into(),
        history: vec![ChatMessage::user("क्या आज टेबल मिलेगी?")],
        ..ChatRequest::default()
    };
    let mut stream = llm.stream_chat(request).await.unwrap();
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        if let LlmEvent::Delta(d) = item.unwrap() {
            text.push_str(&d);
        }
    }
    assert_eq!(text, "जी, बिल्कुल।");
    let r = &fake.http_records()[0];
    assert_eq!(r.headers["api-subscription-key"], fake.api_key().as_str());
    assert!(!r.headers.contains_key("authorization"), "no bearer token");
}

#[tokio::test]
async fn a_socket_prepared_at_the_answer_carries_the_first_sentence() {
    let fake = FakeSarvam::start(sv::Behaviour::default()).await.unwrap();
    let tts = tts(&fake, Law::Alaw, TtsMode::Stream, Duration::from_secs(20));
    tts.prepare(Some("meera".into()), Some("hi-IN".into()))
        .await;
    // Open with its config before any text.
    assert!(
        fake.wait_tts(|r| r.config.is_some() && r.texts.is_empty())
            .await
    );
    let stream = tts.synthesize(hindi_request("नमस्ते")).await.unwrap();
    let (samples, err) = collect(stream).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        encode(Law::Alaw, &samples),
        sv::Behaviour::default().tts_audio
    );
    let records = fake.tts_records();
    assert_eq!(
        records.len(),
        1,
        "the first sentence used the prepared socket"
    );
    assert_eq!(records[0].texts, vec!["नमस्ते".to_string()]);
    assert_eq!(records[0].config.as_ref().unwrap()["speaker"], "meera");
    // A sentence in another voice does not take a socket configured for this one, and
    // the next sentence opens its own.
    tts.prepare(Some("abhilash".into()), Some("hi-IN".into()))
        .await;
    let stream = tts.synthesize(hindi_request("धन्यवाद")).await.unwrap();
    let (_, err) = collect(stream).await;
    assert!(err.is_none(), "{err:?}");
    let records = fake.tts_records();
    assert_eq!(records.len(), 3, "{records:?}");
    let spoken: Vec<&sv::TtsRecord> = records.iter().filter(|r| !r.texts.is_empty()).collect();
    assert_eq!(spoken.len(), 2);
    assert_eq!(spoken[1].config.as_ref().unwrap()["speaker"], "meera");
}
