//! Calls in the caller's language: the real daemon against vca-sim, the fake
//! OpenAI-compatible server for speech recognition and chat, espeak-ng speaking, the real
//! PostgreSQL and Redis. A Hindi call on the echo model; a caller who starts in English and
//! goes on in Hindi.

use std::time::Duration;

use uuid::Uuid;
use vca_sim::engines::http::{Reply, Route};
use vca_sim::{CallSpec, HangupWhen, SimCall};

use crate::support::daemon::World;
use crate::support::sim::caller_speech;
use crate::support::speech::espeak_or_skip;

const DID: &str = "+918012345678";

async fn ended(call: &mut SimCall) {
    tokio::time::timeout(Duration::from_secs(90), call.ended())
        .await
        .expect("call ends");
}

async fn turns(w: &World, call: Uuid) -> Vec<(String, String)> {
    sqlx::query_as("SELECT speaker, text FROM transcript_turns WHERE call_id = $1 ORDER BY seq")
        .bind(call)
        .fetch_all(w.store.pool())
        .await
        .unwrap()
}

async fn set_profile(w: &World, tenant: Uuid, set: &'static str) {
    let sql = format!("UPDATE ai_profiles SET {set} WHERE tenant_id = $1");
    // The SET clause is one of this file's literals.
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .execute(w.store.pool())
        .await
        .unwrap();
}

fn speech_turns(n: usize) -> CallSpec {
    let mut spec = CallSpec::new(DID, "+919876543210").pause(Duration::from_millis(2500));
    for _ in 0..n {
        spec = spec.speech(caller_speech()).pause(Duration::from_secs(5));
    }
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hindi_call_is_answered_heard_and_ended_in_hindi() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::new().await;
    let tenant = w.tenant(DID, 5, 300).await;
    // A Hindi profile that does not greet: the caller speaks first.
    set_profile(&w, tenant, "language = 'hi-IN', greeting = ''").await;
    let asked = "मुझे कल शाम के लिए चार लोगों की टेबल चाहिए";
    w.engines.script(
        Route::Transcriptions,
        [
            Reply::Text(asked.into()),
            Reply::Text("ठीक है, धन्यवाद".into()),
        ],
    );
    let mut call = w
        .sim
        .place_call(speech_turns(2).hangup(HangupWhen::AfterAudio(Duration::from_secs(20))));
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("caller_goodbye")),
        "the Hindi goodbye ends the call"
    );
    let rows = turns(&w, row.id).await;
    let texts: Vec<(&str, &str)> = rows.iter().map(|(s, t)| (s.as_str(), t.as_str())).collect();
    assert_eq!(
        texts,
        vec![
            ("caller", asked),
            ("agent", "आपने कहा: मुझे कल शाम के लिए चार लोगों की टेबल चाहिए"),
            ("caller", "ठीक है, धन्यवाद"),
            ("agent", "कॉल करने के लिए धन्यवाद। नमस्ते!"),
        ],
        "echo and goodbye in Hindi, the caller's words in Devanagari"
    );
    // Speech recognition was asked for Hindi in the form OpenAI's API takes.
    let stt: Vec<_> = w
        .engines
        .received()
        .into_iter()
        .filter(|r| r.route == Route::Transcriptions)
        .collect();
    assert_eq!(stt.len(), 2);
    assert!(
        stt.iter()
            .all(|r| r.form.get("language").map(String::as_str) == Some("hi")),
        "{:?}",
        stt.iter().map(|r| &r.form).collect::<Vec<_>>()
    );
    // The caller heard the agent speak.
    let rec = call.recording().await.unwrap();
    assert!(rec.pcm.iter().any(|&s| s.unsigned_abs() > 3000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_switches_to_hindi_is_answered_in_hindi_from_that_turn() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::with(&[("VCA_LLM_PROVIDER", "openai")]).await;
    let tenant = w.tenant(DID, 5, 300).await;
    set_profile(&w, tenant, "language = 'en-IN', languages = '{hi-IN}'").await;
    w.engines.script(
        Route::Transcriptions,
        [
            Reply::Text("I would like to book a table".into()),
            Reply::Text("क्या आप हिंदी में बात कर सकते हैं".into()),
        ],
    );
    w.engines.script(
        Route::Chat,
        [
            Reply::Text("Of course. For how many people?".into()),
            Reply::Text("जी हाँ, बिल्कुल। कितने लोगों के लिए?".into()),
        ],
    );
    let mut call = w
        .sim
        .place_call(speech_turns(2).hangup(HangupWhen::AfterAudio(Duration::from_secs(6))));
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    let rows = turns(&w, row.id).await;
    assert!(
        rows.iter()
            .any(|(s, t)| s == "caller" && t == "क्या आप हिंदी में बात कर सकते हैं"),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|(s, t)| s == "agent" && t == "जी हाँ, बिल्कुल। कितने लोगों के लिए?"),
        "{rows:?}"
    );
    // One language_changed event, English to Hindi.
    let changes: Vec<(serde_json::Value,)> = sqlx::query_as(
        "SELECT details FROM call_events WHERE call_id = $1 AND kind = 'language_changed'",
    )
    .bind(row.id)
    .fetch_all(w.store.pool())
    .await
    .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].0["from"], "en-IN");
    assert_eq!(changes[0].0["to"], "hi-IN");
    // The model was told to answer in Hindi from the switch on, not before.
    let systems: Vec<String> = w
        .engines
        .received()
        .into_iter()
        .filter(|r| r.route == Route::Chat)
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["messages"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(systems.len() >= 2, "{systems:?}");
    assert!(!systems[0].contains("Reply in Hindi"), "{}", systems[0]);
    assert!(systems[1].contains("Reply in Hindi"), "{}", systems[1]);
    // With other languages allowed, speech recognition detects the language: OpenAI gets
    // no `language` and is asked for the verbose answer that names it.
    let stt: Vec<_> = w
        .engines
        .received()
        .into_iter()
        .filter(|r| r.route == Route::Transcriptions)
        .collect();
    assert!(!stt.is_empty());
    for r in &stt {
        assert_eq!(r.form.get("language"), None, "{:?}", r.form);
        assert_eq!(
            r.form.get("response_format").map(String::as_str),
            Some("verbose_json")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hindi_call_on_sarvam_hears_devanagari_and_plays_its_alaw_untouched() {
    use vca_sim::engines::sarvam::{Behaviour, FakeSarvam};
    let asked = "मुझे कल शाम के लिए टेबल चाहिए";
    // A loud, recognisable 200 ms of A-law: what every synthesis answers with.
    let tts_audio: Vec<u8> = (0..1600u32).map(|i| (i % 64) as u8 ^ 0x55).collect();
    let fake = FakeSarvam::start(Behaviour {
        utterances: [
            (asked.to_string(), "hi-IN".to_string()),
            ("ठीक है, धन्यवाद".to_string(), "hi-IN".to_string()),
        ]
        .into(),
        tts_audio: tts_audio.clone(),
        ..Behaviour::default()
    })
    .await
    .unwrap();
    let key = fake.api_key();
    let base = fake.base_url();
    let w = World::with(&[
        ("VCA_STT_PROVIDER", "sarvam"),
        ("VCA_STT_BASE_URL", base.as_str()),
        ("VCA_STT_API_KEY", key.as_str()),
        ("VCA_TTS_PROVIDER", "sarvam"),
        ("VCA_TTS_BASE_URL", base.as_str()),
        ("VCA_TTS_API_KEY", key.as_str()),
        ("VCA_TTS_VOICE", "anushka"),
    ])
    .await;
    let tenant = w.tenant(DID, 5, 300).await;
    set_profile(&w, tenant, "language = 'hi-IN', greeting = ''").await;
    let mut call = w
        .sim
        .place_call(speech_turns(2).hangup(HangupWhen::AfterAudio(Duration::from_secs(20))));
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("caller_goodbye")),
        "the Hindi goodbye ends the call"
    );
    let rows = turns(&w, row.id).await;
    assert_eq!(
        rows.iter()
            .map(|(s, t)| (s.as_str(), t.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("caller", asked),
            ("agent", "आपने कहा: मुझे कल शाम के लिए टेबल चाहिए"),
            ("caller", "ठीक है, धन्यवाद"),
            ("agent", "कॉल करने के लिए धन्यवाद। नमस्ते!"),
        ]
    );
    // Sarvam heard the call in Hindi, as 8 kHz PCM, with our key.
    let stt = fake.stt_records();
    assert!(!stt.is_empty());
    assert_eq!(stt[0].key.as_deref(), Some(key.as_str()));
    assert_eq!(
        stt[0].query.get("language-code").map(String::as_str),
        Some("hi-IN")
    );
    assert_eq!(
        stt[0].query.get("sample_rate").map(String::as_str),
        Some("8000")
    );
    // Every sentence was synthesised in Hindi, in the call's A-law at 8 kHz.
    let tts = fake.tts_records();
    assert!(tts.len() >= 2, "{tts:?}");
    for r in &tts {
        let config = r.config.as_ref().expect("a config message");
        assert_eq!(config["target_language_code"], "hi-IN", "{config}");
        assert_eq!(config["output_audio_codec"], "alaw", "{config}");
        assert_eq!(config["speaker"], "anushka", "{config}");
    }
    // The caller heard Sarvam's bytes as they were sent: no resampling on the way.
    let rec = call.recording().await.unwrap();
    let sent: Vec<i16> = tts_audio
        .iter()
        .map(|&b| vca_media::g711::Law::Alaw.decode(b))
        .collect();
    assert!(
        rec.pcm.windows(sent.len()).any(|w| w == sent.as_slice()),
        "the synthesised A-law did not reach the caller unchanged"
    );
}
