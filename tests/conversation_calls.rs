//! Whole conversations: vca-sim's caller speaks, the daemon transcribes through a fake
//! OpenAI-compatible server, answers through the echo model or the fake chat server,
//! speaks with espeak-ng, and the simulated caller records what it heard.

use std::time::Duration;

use uuid::Uuid;
use vca_sim::engines::http::{Reply, Route};
use vca_sim::{CallSpec, HangupWhen, SimCall};

use crate::support::daemon::World;
use crate::support::db;
use crate::support::sim::caller_speech;
use crate::support::speech::espeak_or_skip;

const DID: &str = "+918012345678";

#[derive(Debug, sqlx::FromRow)]
struct TurnRow {
    seq: i32,
    speaker: String,
    text: String,
    start_ms: i64,
    end_ms: i64,
    interrupted: bool,
}

async fn turns(w: &World, call: Uuid) -> Vec<TurnRow> {
    sqlx::query_as(
        "SELECT seq, speaker, text, start_ms, end_ms, interrupted FROM transcript_turns WHERE call_id = $1 ORDER BY seq",
    )
    .bind(call)
    .fetch_all(w.store.pool())
    .await
    .unwrap()
}

async fn ended(call: &mut SimCall) {
    tokio::time::timeout(Duration::from_secs(90), call.ended())
        .await
        .expect("call ends");
}

/// Milliseconds of audible audio (20 ms frames above about -40 dBFS) in a recording.
fn audible_ms(pcm: &[i16]) -> u64 {
    pcm.chunks(160)
        .filter(|f| {
            let energy: f64 =
                f.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / f.len().max(1) as f64;
            energy.sqrt() > 330.0
        })
        .count() as u64
        * 20
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_turn_conversation_is_heard_and_transcribed() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_millis(2500))
            .speech(caller_speech())
            .pause(Duration::from_secs(5))
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(5))),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(row.status, "completed");
    let rows = turns(&w, row.id).await;
    // Greeting, then the caller's two sentences each answered. (On a starved machine the
    // endpointer may cut a sentence into more than one turn; each is still answered.)
    assert_eq!(
        (rows[0].speaker.as_str(), rows[0].text.as_str()),
        ("agent", "Hello!"),
        "{rows:?}"
    );
    let callers = rows.iter().filter(|t| t.speaker == "caller").count();
    assert!(callers >= 2, "{rows:?}");
    assert!(
        rows.iter()
            .filter(|t| t.speaker == "caller")
            .all(|t| t.text == "I would like to book a table")
    );
    let answers = rows
        .iter()
        .filter(|t| t.speaker == "agent" && t.text == "You said: I would like to book a table")
        .count();
    assert!(answers >= 1, "{rows:?}");
    assert_eq!(
        rows.last().unwrap().speaker,
        "agent",
        "the last turn is answered: {rows:?}"
    );
    for (i, t) in rows.iter().enumerate() {
        assert_eq!(t.seq, i as i32);
        assert!(t.end_ms >= t.start_ms, "{t:?}");
        if i > 0 {
            assert!(
                t.start_ms >= rows[i - 1].start_ms,
                "turns in time order: {rows:?}"
            );
        }
    }
    // The caller's first turn sits where the simulated caller spoke (2.5 s of pause first).
    assert!(rows[1].start_ms >= 2000, "{rows:?}");
    // The simulated caller heard the agent: greeting plus two replies of real speech.
    let rec = call.recording().await.unwrap();
    let heard = audible_ms(&rec.pcm);
    assert!(heard > 3000, "heard only {heard} ms of agent speech");
    // Turn count and usage.
    let (turn_count, stt_ms, tts_chars, completion): (i32, i64, i64, i64) = sqlx::query_as(
        "SELECT turn_count, stt_audio_ms, tts_characters, llm_completion_tokens FROM calls WHERE id = $1",
    )
    .bind(row.id)
    .fetch_one(w.store.pool())
    .await
    .unwrap();
    assert_eq!(turn_count as usize, callers);
    assert!(tts_chars >= ("Hello!".len() + "You said: I would like to book a table".len()) as i64);
    assert!(completion > 0);
    assert!(stt_ms >= 0);
    // The fake STT got 16 kHz WAV uploads.
    let uploads: Vec<_> = w
        .engines
        .received()
        .into_iter()
        .filter(|r| r.route == Route::Transcriptions)
        .collect();
    assert_eq!(uploads.len(), callers);
    assert_eq!(uploads[0].wav.unwrap().0, 16000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barge_in_cuts_the_reply_to_what_was_heard() {
    if !espeak_or_skip() {
        return;
    }
    let long_reply = "Thank you for asking. We are open every day from nine in the morning. \
        On weekends we close at two in the afternoon. Parking is available behind the building. \
        Please bring your insurance card and a photo identity document. \
        If you need to cancel, call us a day before. Is there anything else I can help with?";
    let w = World::with(&[("VCA_LLM_PROVIDER", "openai")]).await;
    let tenant = w.tenant(DID, 5, 300).await;
    // No greeting: the first audio is the long reply.
    sqlx::query("UPDATE ai_profiles SET greeting = '' WHERE tenant_id = $1")
        .bind(tenant)
        .execute(w.store.pool())
        .await
        .unwrap();
    w.engines.set(|b| b.chat_reply = long_reply.to_string());
    let speech = caller_speech();
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(1))
            .speech(speech.clone())
            // The reply starts about a second after the caller stops; talk over it.
            .pause(Duration::from_millis(3500))
            .speech(speech)
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(2))),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    let rows = turns(&w, row.id).await;
    let cut: Vec<&TurnRow> = rows
        .iter()
        .filter(|t| t.speaker == "agent" && t.interrupted)
        .collect();
    assert!(!cut.is_empty(), "no interrupted agent turn: {rows:?}");
    let first = cut[0];
    assert!(first.text.len() < long_reply.len(), "{first:?}");
    assert!(
        long_reply.starts_with(
            first
                .text
                .trim_end_matches('.')
                .split_whitespace()
                .next()
                .unwrap()
        )
    );
    // What is stored is what was heard: a prefix of the reply, word for word.
    let reply_words: Vec<&str> = long_reply.split_whitespace().collect();
    let heard_words: Vec<&str> = first.text.split_whitespace().collect();
    assert_eq!(
        &reply_words[..heard_words.len()],
        &heard_words[..],
        "{first:?}"
    );
    let barge_ins = rows.iter().position(|t| std::ptr::eq(t, first)).unwrap();
    assert_eq!(
        rows[barge_ins + 1].speaker,
        "caller",
        "the caller's words follow the cut reply: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_recognition_down_speaks_the_apology() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::new().await;
    w.tenant(DID, 5, 300).await;
    w.engines.script(
        Route::Transcriptions,
        (0..20).map(|_| Reply::Status {
            status: 500,
            retry_after: None,
        }),
    );
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(2))
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(6))),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(
        row.status, "completed",
        "an engine failure never ends the call"
    );
    let rows = turns(&w, row.id).await;
    let agent: Vec<&str> = rows
        .iter()
        .filter(|t| t.speaker == "agent")
        .map(|t| t.text.as_str())
        .collect();
    assert!(
        agent
            .iter()
            .any(|t| t.starts_with("Sorry, I didn't catch that")),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|t| t.speaker != "caller"),
        "no caller turn without a transcript: {rows:?}"
    );
    let rec = call.recording().await.unwrap();
    assert!(audible_ms(&rec.pcm) > 1500, "the apology was heard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_model_down_speaks_the_fallback_line() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::with(&[("VCA_LLM_PROVIDER", "openai")]).await;
    w.tenant(DID, 5, 300).await;
    w.engines.script(
        Route::Chat,
        (0..20).map(|_| Reply::Status {
            status: 503,
            retry_after: None,
        }),
    );
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(2))
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(7))),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(row.status, "completed");
    let rows = turns(&w, row.id).await;
    assert!(rows.iter().any(|t| t.speaker == "caller"), "{rows:?}");
    assert!(
        rows.iter()
            .any(|t| t.speaker == "agent" && t.text.starts_with("I'm sorry, I'm having trouble")),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_turns_ends_with_a_goodbye_and_a_hangup() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::new().await;
    let tenant = w.tenant(DID, 5, 300).await;
    sqlx::query("UPDATE ai_profiles SET max_turns = 1 WHERE tenant_id = $1")
        .bind(tenant)
        .execute(w.store.pool())
        .await
        .unwrap();
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(2))
            .speech(caller_speech()),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("max_turns"))
    );
    let rows = turns(&w, row.id).await;
    let last = rows.last().unwrap();
    assert_eq!(
        (last.speaker.as_str(), last.text.as_str()),
        ("agent", "Thank you for calling. Goodbye!")
    );
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_can_end_the_call() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::with(&[("VCA_LLM_PROVIDER", "openai")]).await;
    w.tenant(DID, 5, 300).await;
    w.engines
        .set(|b| b.chat_reply = "Your table is booked. [END_CALL]".to_string());
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(2))
            .speech(caller_speech()),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(row.end_reason.as_deref(), Some("agent_ended"));
    let rows = turns(&w, row.id).await;
    assert!(
        rows.iter().any(|t| t.text == "Your table is booked."),
        "marker never spoken or stored: {rows:?}"
    );
    assert!(rows.iter().all(|t| !t.text.contains("END_CALL")));
    // The request carried the profile's prompt with the end-of-call instruction.
    let chat = w
        .engines
        .received()
        .into_iter()
        .find(|r| r.route == Route::Chat)
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&chat.body).unwrap();
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("[END_CALL]")
    );
    assert_eq!(body["stream"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readopted_call_continues_its_conversation() {
    if !espeak_or_skip() {
        return;
    }
    let mut w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(2))
            .speech(caller_speech())
            .pause(Duration::from_secs(9))
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(5))),
    );
    let ch = call.id().to_string();
    let row = w.wait_media(&ch).await;
    // Wait for the first answer to be written, then kill the daemon.
    let mut n = 0;
    for _ in 0..400 {
        n = turns(&w, row.id).await.len();
        if n >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(n >= 3, "first exchange never completed");
    // The conversation state is in Redis.
    let redis =
        vca_bridge::store::redis::RedisPool::new(&vca_bridge::config::Secret::new(db::redis_url()))
            .unwrap();
    let mut conn = redis.get().await.unwrap();
    let saved: Option<String> = deadpool_redis::redis::cmd("GET")
        .arg(format!("vca:call:{}:state", row.id))
        .query_async(&mut conn)
        .await
        .unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&saved.expect("state saved after the turn")).unwrap();
    assert_eq!(saved["turn_count"], 1);
    w.daemon.take().unwrap().kill();
    w.restart_daemon().await;
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(row.status, "completed");
    w.wait_event(row.id, "readopted").await;
    let rows = turns(&w, row.id).await;
    assert_eq!(
        rows.iter().filter(|t| t.text == "Hello!").count(),
        1,
        "no second greeting: {rows:?}"
    );
    for (i, t) in rows.iter().enumerate() {
        assert_eq!(
            t.seq, i as i32,
            "the sequence continues across the restart: {rows:?}"
        );
    }
    let callers = rows.iter().filter(|t| t.speaker == "caller").count();
    assert!(callers >= 2, "{rows:?}");
    // The caller's sentence after the restart was answered by the new daemon.
    let last = rows.last().unwrap();
    assert_eq!(
        (last.speaker.as_str(), last.text.as_str()),
        ("agent", "You said: I would like to book a table"),
        "{rows:?}"
    );
    let (turn_count,): (i32,) = sqlx::query_as("SELECT turn_count FROM calls WHERE id = $1")
        .bind(row.id)
        .fetch_one(w.store.pool())
        .await
        .unwrap();
    assert_eq!(turn_count as usize, callers);
}

/// While speech recognition is slow (a local Whisper on a small CPU, a provider that hangs),
/// the call's task keeps serving its other inputs: the maximum duration is reached and the
/// goodbye spoken on time, not when the transcript would have come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duration_limit_is_served_while_recognition_is_still_running() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::with(&[("VCA_STT_TIMEOUT_MS", "30000")]).await;
    // The profile's shortest allowed limit: 10 s.
    w.tenant(DID, 5, 10).await;
    // The transcription answers only after 25 s.
    w.engines.script(
        Route::Transcriptions,
        [Reply::SlowStart(Duration::from_secs(25))],
    );
    let started = std::time::Instant::now();
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(2))
            .speech(caller_speech())
            .hangup(HangupWhen::After(Duration::from_secs(60))),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let took = started.elapsed();
    let row = w.final_row(&ch).await;
    assert_eq!(row.end_reason.as_deref(), Some("max_duration"));
    assert!(
        took < Duration::from_secs(24),
        "the call ended {took:?} after it began: it waited for recognition (25 s)"
    );
    assert_eq!(w.engines.count(Route::Transcriptions), 1);
    let rows = turns(&w, row.id).await;
    assert!(
        rows.iter()
            .any(|t| t.speaker == "agent" && t.text.contains("Goodbye")),
        "the goodbye was spoken: {rows:?}"
    );
}
