//! The demo's call path (`scripts/demo`) with the real Whisper tiny.en model: vca-sim's
//! caller says three espeak-ng sentences with pauses on an A-law call, the daemon hears them
//! with `whisper-local`, answers with the echo model and espeak-ng, and the caller's
//! sentences come back as transcript rows holding their key words. Not timed.
//!
//! Needs the feature `whisper-local` and `models/whisper-tiny.en` (scripts/test fetches it
//! with `scripts/fetch-whisper-model tiny`; `VCA_TEST_WHISPER_MODEL` points elsewhere). In CI
//! (`CI` set) a missing model or espeak-ng fails the test; elsewhere it is skipped with a
//! message.

use std::time::Duration;

use vca_sim::{CallSpec, HangupWhen};

use crate::support::daemon::World;
use crate::support::{speech, whisper};

const DID: &str = "+918035550100";

/// What the caller says, and words each sentence's transcript must hold.
const SENTENCES: [(&str, &[&str]); 3] = [
    (
        "I would like to book a table for four people tomorrow evening.",
        &["table", "four people", "tomorrow"],
    ),
    ("Do you have anything near the window?", &["window"]),
    (
        "Please send the invoice to my email address.",
        &["invoice", "email"],
    ),
];

/// espeak-ng's speech of `text` at the demo's 150 words per minute, at 8 kHz.
fn speech_8k(text: &str) -> Option<Vec<i16>> {
    speech::espeak_8k(text, "en-us", 150)
}

#[derive(Debug, sqlx::FromRow)]
struct TurnRow {
    speaker: String,
    text: String,
    start_ms: i64,
    end_ms: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_call_is_heard_by_local_whisper_and_answered() {
    let Some(model) = whisper::tiny_en() else {
        return;
    };
    let mut speech = Vec::new();
    for (text, _) in SENTENCES {
        let Some(pcm) = speech_8k(text) else { return };
        speech.push(pcm);
    }
    let model = model.to_string_lossy().into_owned();
    let w = World::with(&[
        ("VCA_STT_PROVIDER", "whisper-local"),
        ("VCA_STT_MODEL", &model),
        ("VCA_STT_TIMEOUT_MS", "30000"),
        ("VCA_MEDIA_FORMAT", "alaw"),
    ])
    .await;
    w.tenant(DID, 5, 300).await;

    // Pauses long enough for a loaded machine to transcribe and answer each sentence.
    let mut spec = CallSpec::new(DID, "+919876543210").pause(Duration::from_secs(3));
    for pcm in speech {
        spec = spec.speech(pcm).pause(Duration::from_secs(12));
    }
    let mut call = w
        .sim
        .place_call(spec.hangup(HangupWhen::AfterAudio(Duration::from_secs(1))));
    let channel = call.id().to_string();
    tokio::time::timeout(Duration::from_secs(180), call.ended())
        .await
        .expect("the call ends");
    let row = w.final_row(&channel).await;
    assert_eq!(row.status, "completed", "{row:?}");

    let rows: Vec<TurnRow> = sqlx::query_as(
        "SELECT speaker, text, start_ms, end_ms FROM transcript_turns WHERE call_id = $1 ORDER BY seq",
    )
    .bind(row.id)
    .fetch_all(w.store.pool())
    .await
    .unwrap();
    // The endpointer may cut a sentence into two turns on a starved machine: look for each
    // sentence's words in the caller turns that overlap where it was said.
    let heard: String = rows
        .iter()
        .filter(|t| t.speaker == "caller")
        .map(|t| t.text.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    for (text, words) in SENTENCES {
        for word in words {
            assert!(
                heard.contains(word),
                "{word:?} of {text:?} is not in the caller's transcript {heard:?}: {rows:?}"
            );
        }
    }
    // The agent answered: the last turn is the agent's (the reply to the last sentence).
    assert!(rows.iter().all(|t| t.end_ms >= t.start_ms), "{rows:?}");
    let last = rows.last().expect("turns were written");
    assert_eq!(last.speaker, "agent", "{rows:?}");
    assert!(
        rows.iter().filter(|t| t.speaker == "agent").count() > SENTENCES.len(),
        "the greeting and an answer per sentence: {rows:?}"
    );
    // The caller heard the agent.
    let rec = call.recording().await.unwrap();
    assert!(
        rec.pcm.iter().any(|&s| s.unsigned_abs() > 1000),
        "the caller heard only silence"
    );
}
