//! Call recordings end to end: a profile with `record_calls` gets one stereo Ogg Opus file
//! per segment under `VCA_RECORDINGS_DIR`, the caller on the left and what the daemon sent
//! on the right, decoded here with libopus; the API streams it with Range requests and
//! deletes it; a re-adopted call continues in a second segment; the sweeper removes what is
//! past the tenant's retention; a directory that cannot be written never touches the call.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;
use vca_bridge::recording::decode::{Decoded, decode_ogg_opus};
use vca_sim::engines::http::Route;
use vca_sim::{CallSpec, HangupWhen, SimCall};

use crate::support::admin;
use crate::support::daemon::{DaemonProc, TOKEN, World};
use crate::support::sim::caller_speech;
use crate::support::speech::espeak_or_skip;

const DID: &str = "+918012345678";

#[derive(Debug, sqlx::FromRow)]
struct RecordingRow {
    recording_status: Option<String>,
    recording_path: Option<String>,
    recording_duration_ms: i64,
    recording_bytes: i64,
    duration_ms: Option<i64>,
}

async fn recording_row(w: &World, call: Uuid) -> RecordingRow {
    sqlx::query_as(
        "SELECT recording_status, recording_path, recording_duration_ms, recording_bytes, duration_ms \
         FROM calls WHERE id = $1",
    )
    .bind(call)
    .fetch_one(w.store.pool())
    .await
    .unwrap()
}

/// The row once the segment has been finished (the call's row is final a moment earlier).
async fn finished_recording(w: &World, call: Uuid) -> RecordingRow {
    for _ in 0..200 {
        let row = recording_row(w, call).await;
        if row.recording_status.as_deref() != Some("recording") {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the recording of {call} was never finished");
}

async fn record_calls(w: &World, tenant: Uuid, greeting: &str) {
    sqlx::query("UPDATE ai_profiles SET record_calls = true, greeting = $2 WHERE tenant_id = $1")
        .bind(tenant)
        .bind(greeting)
        .execute(w.store.pool())
        .await
        .unwrap();
}

async fn ended(call: &mut SimCall) {
    tokio::time::timeout(Duration::from_secs(90), call.ended())
        .await
        .expect("call ends");
}

/// RMS of each 20 ms (960 samples at 48 kHz) of a channel.
fn frame_rms(pcm: &[i16]) -> Vec<f64> {
    pcm.chunks(960)
        .map(|f| (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64).sqrt())
        .collect()
}

const LOUD: f64 = 300.0;
const QUIET: f64 = 60.0;

fn audible_ms(rms: &[f64]) -> usize {
    rms.iter().filter(|&&r| r > LOUD).count() * 20
}

async fn http(
    daemon: &DaemonProc,
    method: reqwest::Method,
    path: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{}{path}", daemon.admin))
        .bearer_auth(TOKEN);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    req.send().await.unwrap()
}

fn decode_file(path: &std::path::Path) -> (Vec<u8>, Decoded) {
    let bytes = std::fs::read(path).unwrap();
    let decoded = decode_ogg_opus(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (bytes, decoded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_call_has_the_caller_left_the_agent_right_and_shows_the_barge_in() {
    if !espeak_or_skip() {
        return;
    }
    let long_reply = "Thank you for asking. We are open every day from nine in the morning. \
        On weekends we close at two in the afternoon. Parking is available behind the building. \
        Please bring your insurance card and a photo identity document.";
    let w = World::with(&[("VCA_LLM_PROVIDER", "openai")]).await;
    let tenant = w.tenant(DID, 5, 300).await;
    record_calls(&w, tenant, "").await;
    w.engines.set(|b| b.chat_reply = long_reply.to_string());
    let speech = caller_speech();
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            // The notice plays first ("This call is being recorded."), then the caller.
            .pause(Duration::from_secs(4))
            .speech(speech.clone())
            // The long reply starts about a second after the caller stops; talk over it.
            .pause(Duration::from_millis(3500))
            .speech(speech.clone())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(1))),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(row.status, "completed");
    let rec = finished_recording(&w, row.id).await;
    assert_eq!(rec.recording_status.as_deref(), Some("complete"));
    let rel = rec.recording_path.clone().unwrap();
    let (year_month, file) = rel.split_at(rel.len() - 41);
    assert_eq!(file, format!("{}.opus", row.id));
    assert!(year_month.starts_with(&format!("{tenant}/20")), "{rel}");
    let path = w.recordings_dir().join(&rel);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let (bytes, d) = decode_file(&path);
    assert_eq!(rec.recording_bytes, bytes.len() as i64);
    assert_eq!((d.channels, d.streams), (2, 1));
    // The file is as long as the row says, and covers the call from the media's start.
    assert_eq!(d.left.len() as i64 / 48, rec.recording_duration_ms);
    let call_ms = rec.duration_ms.unwrap();
    assert!(
        rec.recording_duration_ms <= call_ms && rec.recording_duration_ms > call_ms - 2_000,
        "recorded {} ms of a {call_ms} ms call",
        rec.recording_duration_ms
    );
    let (left, right) = (frame_rms(&d.left), frame_rms(&d.right));
    // The caller spoke twice: about twice the sentence's audible length on the left.
    let spoken = audible_ms(&frame_rms(
        &speech.iter().flat_map(|&s| [s; 6]).collect::<Vec<_>>(),
    ));
    let heard_left = audible_ms(&left);
    assert!(
        heard_left > spoken * 3 / 2 && heard_left < spoken * 5 / 2 + 400,
        "caller audible {heard_left} ms on the left, {spoken} ms per sentence"
    );
    // The right channel is what the simulated caller heard.
    let sim_heard = call.recording().await.unwrap();
    let sim_ms = audible_ms(&frame_rms(
        &sim_heard
            .pcm
            .iter()
            .flat_map(|&s| [s; 6])
            .collect::<Vec<_>>(),
    ));
    let heard_right = audible_ms(&right);
    assert!(
        heard_right.abs_diff(sim_ms) < sim_ms / 5 + 200,
        "agent audible {heard_right} ms on the right, the caller heard {sim_ms} ms"
    );
    // The notice came first: the right channel speaks before the left does.
    let first_right = right.iter().position(|&r| r > LOUD).unwrap();
    let first_left = left.iter().position(|&r| r > LOUD).unwrap();
    assert!(first_right < first_left, "the notice precedes the caller");
    // Barge-in: the caller's second sentence starts while the agent talks, and the agent's
    // channel falls silent within a second of it while the caller goes on.
    let onset = (first_left + spoken / 20 + 50..left.len())
        .find(|&i| left[i] > LOUD && right[i.saturating_sub(5)..i].iter().any(|&r| r > LOUD))
        .expect("the caller talks over the agent");
    let run_end = (onset..left.len())
        .find(|&i| left[i..(i + 15).min(left.len())].iter().all(|&r| r < LOUD))
        .unwrap_or(left.len());
    assert!(
        run_end > onset + 50,
        "the second sentence lasts over a second"
    );
    let after_cut = &right[onset + 50..run_end];
    let still_talking = after_cut.iter().filter(|&&r| r > QUIET).count();
    assert!(
        still_talking * 10 <= after_cut.len(),
        "the agent's channel stops after the barge-in: {still_talking} of {} frames audible",
        after_cut.len()
    );
    let transcript: Vec<(String, bool)> =
        sqlx::query_as("SELECT text, interrupted FROM transcript_turns WHERE call_id = $1 AND speaker = 'agent' ORDER BY seq")
            .bind(row.id)
            .fetch_all(w.store.pool())
            .await
            .unwrap();
    assert_eq!(
        transcript[0].0, "This call is being recorded.",
        "{transcript:?}"
    );
    assert!(transcript.iter().any(|(_, cut)| *cut), "{transcript:?}");
    // Usage counts the recording's bytes.
    let r = http(
        w.daemon.as_ref().unwrap(),
        reqwest::Method::GET,
        &format!("/api/tenants/{tenant}/usage?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&granularity=month"),
        None,
    )
    .await;
    let usage: Value = r.json().await.unwrap();
    assert_eq!(
        usage["total"]["recording_bytes"],
        json!(bytes.len()),
        "{usage}"
    );
    // The call in the API carries the recording's figures.
    let r = http(
        w.daemon.as_ref().unwrap(),
        reqwest::Method::GET,
        &format!("/api/tenants/{tenant}/calls/{}", row.id),
        None,
    )
    .await;
    let detail: Value = r.json().await.unwrap();
    let call_json = if detail["call"].is_object() {
        &detail["call"]
    } else {
        &detail
    };
    assert_eq!(call_json["recording_status"], "complete", "{detail}");
    assert_eq!(call_json["recording_bytes"], json!(bytes.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_is_served_with_ranges_kept_to_its_tenant_and_deleted() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::new().await;
    let tenant = w.tenant(DID, 5, 300).await;
    record_calls(&w, tenant, "Hello!").await;
    let other = w.tenant("+918012345699", 5, 300).await;
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(3))
            .hangup(HangupWhen::AfterAudio(Duration::from_millis(500))),
    );
    let ch = call.id().to_string();
    let live = w.wait_media(&ch).await;
    let daemon = w.daemon.as_ref().unwrap();
    let path = format!("/api/tenants/{tenant}/calls/{}/recording", live.id);
    // While the call is live the recording cannot be deleted.
    let r = http(daemon, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(r.status().as_u16(), 409);
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    let rec = finished_recording(&w, row.id).await;
    assert_eq!(rec.recording_status.as_deref(), Some("complete"));
    let file = std::fs::read(w.recordings_dir().join(rec.recording_path.unwrap())).unwrap();
    let total = file.len();
    assert!(total > 1_000);

    let r = http(daemon, reqwest::Method::GET, &path, None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "audio/ogg");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &file[..]);

    let r = http(daemon, reqwest::Method::GET, &path, Some("bytes=0-99")).await;
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-99/{total}").as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &file[..100]);

    let r = http(daemon, reqwest::Method::GET, &path, Some("bytes=-100")).await;
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &file[total - 100..]);

    let r = http(daemon, reqwest::Method::GET, &path, Some("bytes=500-")).await;
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(
        r.headers()["content-length"],
        (total - 500).to_string().as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &file[500..]);

    let r = http(
        daemon,
        reqwest::Method::GET,
        &path,
        Some(&format!("bytes={total}-")),
    )
    .await;
    assert_eq!(r.status().as_u16(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{total}").as_str()
    );

    // Another tenant's id with this call: 404 on both verbs, nothing deleted.
    let foreign = format!("/api/tenants/{other}/calls/{}/recording", row.id);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = http(daemon, method, &foreign, None).await;
        assert_eq!(r.status().as_u16(), 404);
    }
    let r = http(
        daemon,
        reqwest::Method::GET,
        &format!("/api/tenants/{tenant}/calls/not-a-uuid/recording"),
        None,
    )
    .await;
    assert_eq!(r.status().as_u16(), 404, "an id that is no id is no call");

    let r = http(daemon, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(r.status().as_u16(), 204);
    assert!(
        !w.recordings_dir()
            .join(recording_row(&w, row.id).await.recording_path.unwrap())
            .exists()
    );
    let after = recording_row(&w, row.id).await;
    assert_eq!(after.recording_status.as_deref(), Some("deleted"));
    assert_eq!(
        after.recording_bytes, total as i64,
        "usage keeps what was recorded"
    );
    let r = http(daemon, reqwest::Method::GET, &path, None).await;
    assert_eq!(r.status().as_u16(), 404);
    let r = http(daemon, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readopted_call_continues_in_a_second_segment() {
    if !espeak_or_skip() {
        return;
    }
    let mut w = World::new().await;
    let tenant = w.tenant(DID, 5, 300).await;
    record_calls(&w, tenant, "Hello!").await;
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(2))
            .speech(caller_speech())
            .pause(Duration::from_secs(9))
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(4))),
    );
    let ch = call.id().to_string();
    w.wait_media(&ch).await;
    // Wait for the first answer (a few seconds recorded, several pages), then kill.
    for _ in 0..400 {
        let uploads = w
            .engines
            .received()
            .into_iter()
            .filter(|r| r.route == Route::Transcriptions)
            .count();
        if uploads >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.daemon.take().unwrap().kill();
    w.restart_daemon().await;
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(row.status, "completed");
    let rec = finished_recording(&w, row.id).await;
    let segments: Vec<(i32, String, String, i64, i64)> = sqlx::query_as(
        "SELECT segment, status, path, duration_ms, bytes FROM call_recordings WHERE call_id = $1 ORDER BY segment",
    )
    .bind(row.id)
    .fetch_all(w.store.pool())
    .await
    .unwrap();
    assert_eq!(segments.len(), 2, "{segments:?}");
    let (first, second) = (&segments[0], &segments[1]);
    assert_eq!(
        first.1, "partial",
        "the killed daemon's segment: {segments:?}"
    );
    assert!(
        first.3 >= 2_000,
        "its length read from its last page: {segments:?}"
    );
    assert_eq!(second.1, "complete");
    assert!(
        second.2.ends_with(&format!("{}-2.opus", row.id)),
        "{segments:?}"
    );
    assert_eq!(rec.recording_status.as_deref(), Some("partial"));
    assert_eq!(rec.recording_duration_ms, first.3 + second.3);
    assert_eq!(rec.recording_bytes, first.4 + second.4);
    // Each file decodes; the API serves both, one after the other, as a chained stream.
    for seg in &segments {
        let (bytes, d) = decode_file(&w.recordings_dir().join(&seg.2));
        assert_eq!(bytes.len() as i64, seg.4);
        assert!((d.left.len() as i64 / 48).abs_diff(seg.3) <= 20, "{seg:?}");
    }
    let r = http(
        w.daemon.as_ref().unwrap(),
        reqwest::Method::GET,
        &format!("/api/tenants/{tenant}/calls/{}/recording", row.id),
        None,
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let served = r.bytes().await.unwrap();
    assert_eq!(served.len() as i64, rec.recording_bytes);
    let d = decode_ogg_opus(&served).unwrap();
    assert_eq!(d.streams, 2);
    // The second segment has the caller's second sentence and its answer.
    let second_left = frame_rms(&d.left[(first.3 as usize) * 48..]);
    assert!(audible_ms(&second_left) > 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_recordings_directory_never_touches_the_call() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::new().await;
    let tenant = w.tenant(DID, 5, 300).await;
    record_calls(&w, tenant, "Hello!").await;
    // A file where the tenant's directory would go: every open fails (as root too).
    std::fs::create_dir_all(w.recordings_dir()).unwrap();
    std::fs::write(
        w.recordings_dir().join(tenant.to_string()),
        b"not a directory",
    )
    .unwrap();
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_secs(2))
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(3))),
    );
    let ch = call.id().to_string();
    ended(&mut call).await;
    let row = w.final_row(&ch).await;
    assert_eq!(row.status, "completed");
    let turns: Vec<(String, String)> = sqlx::query_as(
        "SELECT speaker, text FROM transcript_turns WHERE call_id = $1 ORDER BY seq",
    )
    .bind(row.id)
    .fetch_all(w.store.pool())
    .await
    .unwrap();
    assert!(
        turns
            .iter()
            .any(|(s, t)| s == "agent" && t == "You said: I would like to book a table"),
        "the conversation went on: {turns:?}"
    );
    let rec = finished_recording(&w, row.id).await;
    assert_eq!(rec.recording_status.as_deref(), Some("failed"));
    assert_eq!((rec.recording_bytes, rec.recording_duration_ms), (0, 0));
    let (error,): (Option<String>,) =
        sqlx::query_as("SELECT error FROM call_recordings WHERE call_id = $1")
            .bind(row.id)
            .fetch_one(w.store.pool())
            .await
            .unwrap();
    assert!(error.unwrap().starts_with("open:"));
    let r = http(
        w.daemon.as_ref().unwrap(),
        reqwest::Method::GET,
        &format!("/api/tenants/{tenant}/calls/{}/recording", row.id),
        None,
    )
    .await;
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn the_sweeper_deletes_what_is_past_the_tenant_s_retention() {
    let (store, _) = crate::support::db::store().await;
    let dir = std::env::temp_dir().join(format!("vca-sweep-{}", Uuid::new_v4()));
    let pool = store.pool();
    let tenant = |days: i32| {
        let pool = pool.clone();
        async move {
            let (id,): (Uuid,) = sqlx::query_as(
                "INSERT INTO tenants (name, recording_retention_days) VALUES ('T', $1) RETURNING id",
            )
            .bind(days)
            .fetch_one(&pool)
            .await
            .unwrap();
            id
        }
    };
    let (short, long) = (tenant(7).await, tenant(90).await);
    // (tenant, started days ago, status, ended) → a call with one recorded segment.
    let mut made = Vec::new();
    for (t, days, status, node) in [
        (short, 10, "complete", "me"),
        (short, 3, "complete", "me"),
        (long, 10, "partial", "me"),
        (short, 10, "complete", "other-node"),
        (short, 0, "recording", "me"),
    ] {
        let (call,): (Uuid,) = sqlx::query_as(
            "INSERT INTO calls (tenant_id, channel_id, status, started_at, ended_at, duration_ms) \
             VALUES ($1, 'ch', 'completed', now() - make_interval(days => $2), now() - make_interval(days => $2) + interval '1 second', 1000) RETURNING id",
        )
        .bind(t)
        .bind(days)
        .fetch_one(pool)
        .await
        .unwrap();
        let rel = format!("{t}/2026/01/{call}.opus");
        let file = dir.join(&rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        if node == "me" {
            std::fs::write(&file, b"OggS....").unwrap();
        }
        sqlx::query(
            "INSERT INTO call_recordings (tenant_id, call_id, segment, path, node, status, started_at, bytes, duration_ms) \
             VALUES ($1, $2, 1, $3, $4, $5, now() - make_interval(days => $6), 8, 1000)",
        )
        .bind(t)
        .bind(call)
        .bind(&rel)
        .bind(node)
        .bind(status)
        .bind(days)
        .execute(pool)
        .await
        .unwrap();
        made.push((call, file));
    }
    // The last one was left `recording` by a daemon that died; its call ended a while ago.
    sqlx::query("UPDATE calls SET ended_at = now() - interval '5 minutes' WHERE id = $1")
        .bind(made[4].0)
        .execute(pool)
        .await
        .unwrap();
    let swept = vca_bridge::recording::sweeper::sweep(&store, &dir, "me")
        .await
        .unwrap();
    assert_eq!((swept.expired, swept.closed), (1, 1), "{swept:?}");
    let status = |call: Uuid| {
        let pool = pool.clone();
        async move {
            let (s,): (String,) =
                sqlx::query_as("SELECT status FROM call_recordings WHERE call_id = $1")
                    .bind(call)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            s
        }
    };
    assert_eq!(status(made[0].0).await, "expired");
    assert!(!made[0].1.exists(), "the expired file is gone");
    let (call_status, deleted_at): (Option<String>, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT recording_status, recording_deleted_at FROM calls WHERE id = $1")
            .bind(made[0].0)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(call_status.as_deref(), Some("expired"));
    assert!(deleted_at.is_some());
    assert_eq!(
        status(made[1].0).await,
        "complete",
        "3 days old, 7 days kept"
    );
    assert!(made[1].1.exists());
    assert_eq!(
        status(made[2].0).await,
        "partial",
        "another tenant keeps 90 days"
    );
    assert_eq!(
        status(made[3].0).await,
        "complete",
        "another node's disk is its own"
    );
    // Left open by a dead daemon, now closed: its 8 bytes hold no whole page of audio.
    assert_eq!(status(made[4].0).await, "failed");
    let (bytes,): (i64,) = sqlx::query_as("SELECT bytes FROM call_recordings WHERE call_id = $1")
        .bind(made[4].0)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(bytes, 8);
    // A second sweep has nothing to do.
    let again = vca_bridge::recording::sweeper::sweep(&store, &dir, "me")
        .await
        .unwrap();
    assert_eq!((again.expired, again.closed), (0, 0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn recording_settings_are_checked() {
    let api = admin::api().await;
    let tid = api.tenant("Acme").await;
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{tid}/ai-profiles"),
            Some(json!({"name": "Rec", "system_prompt": "Be brief.", "record_calls": true})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.raw);
    assert_eq!(r.body["record_calls"], true);
    assert_eq!(r.body["recording_notice"], Value::Null);
    let pid = r.body["id"].as_str().unwrap().to_string();
    let profile = format!("/api/tenants/{tid}/ai-profiles/{pid}");
    let r = api
        .call(
            "PATCH",
            &profile,
            Some(json!({"recording_notice": "  Calls are recorded.  "})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.raw);
    assert_eq!(r.body["recording_notice"], "Calls are recorded.");
    for bad in [
        json!({"recording_notice": "   "}),
        json!({"recording_notice": "x".repeat(501)}),
        json!({"record_calls": "yes"}),
    ] {
        let r = api.call("PATCH", &profile, Some(bad.clone())).await;
        assert_eq!(r.status.as_u16(), 400, "{bad}: {}", r.raw);
    }
    let r = api
        .call("PATCH", &profile, Some(json!({"recording_notice": null})))
        .await;
    assert_eq!(r.body["recording_notice"], Value::Null);
    let tenant = format!("/api/tenants/{tid}");
    let r = api.call("GET", &tenant, None).await;
    assert_eq!(r.body["recording_retention_days"], 90);
    let r = api
        .call(
            "PATCH",
            &tenant,
            Some(json!({"recording_retention_days": 30})),
        )
        .await;
    assert_eq!(r.body["recording_retention_days"], 30);
    for bad in [0, 3651] {
        let r = api
            .call(
                "PATCH",
                &tenant,
                Some(json!({"recording_retention_days": bad})),
            )
            .await;
        assert_eq!(r.status.as_u16(), 400, "{bad}");
    }
}
