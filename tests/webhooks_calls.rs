//! Webhooks and usage end to end: the daemon against vca-sim, the real PostgreSQL and
//! Redis, and a webhook receiver on 127.0.0.1. Events of real calls wait in the outbox
//! while the receiver fails, survive a killed daemon, and are delivered, signed, by the
//! restarted one; the usage API then counts exactly the calls made.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use vca_sim::{CallSpec, HangupWhen};

use crate::support::daemon::{TOKEN, World};
use crate::support::receiver::Receiver;
use crate::support::sim::caller_speech;

const DID: &str = "+918012345678";
const INACTIVE_DID: &str = "+918012345679";
const SECRET: &str = "whsec-calls-secret";

async fn admin(w: &World, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let addr = w.daemon.as_ref().unwrap().admin;
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{addr}{path}"))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

async fn pending(w: &World) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'")
            .fetch_one(w.store.pool())
            .await
            .unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_through_a_killed_daemon_and_usage_counts_the_calls() {
    let rx = Receiver::start().await;
    rx.always(Some(503));
    let mut w = World::with(&[
        ("VCA_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("VCA_WEBHOOK_RETRY_BASE_MS", "50"),
        ("VCA_WEBHOOK_RETRY_MAX_SECONDS", "1"),
        ("VCA_WEBHOOK_POLL_MS", "50"),
        ("VCA_WEBHOOK_TIMEOUT_MS", "1000"),
    ])
    .await;
    let tid = w.tenant(DID, 5, 300).await;
    sqlx::query(
        "INSERT INTO phone_numbers (tenant_id, did_number, is_active) VALUES ($1, $2, false)",
    )
    .bind(tid)
    .bind(INACTIVE_DID)
    .execute(w.store.pool())
    .await
    .unwrap();
    let hook = admin(
        &w,
        reqwest::Method::POST,
        &format!("/api/tenants/{tid}/webhooks"),
        Some(json!({"url": rx.url(), "events": ["call.started", "call.ended", "call.rejected"], "secret": SECRET})),
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_string();

    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+919876543210")
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_millis(1500))),
    );
    let ch = call.id().to_string();
    tokio::time::timeout(Duration::from_secs(30), call.ended())
        .await
        .expect("call ends");
    let row = w.final_row(&ch).await;
    assert_eq!(row.status, "completed");
    let mut rejected = w
        .sim
        .place_call(CallSpec::new(INACTIVE_DID, "+919876543210"));
    tokio::time::timeout(Duration::from_secs(30), rejected.ended())
        .await
        .expect("rejected call ends");
    w.final_row(rejected.id()).await;
    // Three events, each tried and refused (and recorded) at least once: pending when the
    // daemon dies. (An attempt under way at the kill is never recorded; its lease runs out
    // and the next daemon sends the delivery again.)
    rx.wait_for(3).await;
    for _ in 0..400 {
        let (tried,): (i64,) =
            sqlx::query_as("SELECT count(DISTINCT delivery_id) FROM webhook_attempts")
                .fetch_one(w.store.pool())
                .await
                .unwrap();
        if tried == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pending(&w).await, 3);
    w.daemon.take().unwrap().kill();
    rx.always(None);
    let refused = rx.received().len();

    w.restart_daemon().await;
    for _ in 0..400 {
        if pending(&w).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        pending(&w).await,
        0,
        "the restarted daemon delivered the events"
    );
    assert!(rx.all_verified(SECRET));
    let delivered: HashMap<String, Value> = rx.received()[refused..]
        .iter()
        .map(|r| (r.event_type.clone(), r.json()))
        .collect();
    assert_eq!(delivered.len(), 3, "{:?}", delivered.keys());
    let ended = &delivered["call.ended"]["data"];
    assert_eq!(ended["call"]["id"], json!(row.id));
    assert_eq!(ended["call"]["status"], "completed");
    assert_eq!(
        delivered["call.started"]["data"]["call"]["id"],
        json!(row.id)
    );
    assert_eq!(
        delivered["call.rejected"]["data"]["call"]["end_reason"],
        "number_inactive"
    );
    let (stt_ms, prompt, completion, tts, duration): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT stt_audio_ms, llm_prompt_tokens, llm_completion_tokens, tts_characters, duration_ms \
         FROM calls WHERE id = $1",
    )
    .bind(row.id)
    .fetch_one(w.store.pool())
    .await
    .unwrap();
    let (turns,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM transcript_turns WHERE call_id = $1")
            .bind(row.id)
            .fetch_one(w.store.pool())
            .await
            .unwrap();
    assert!(turns >= 1);
    assert_eq!(ended["transcript"].as_array().unwrap().len() as i64, turns);
    assert_eq!(ended["usage"]["tts_characters"], tts);
    assert_eq!(ended["usage"]["llm_prompt_tokens"], prompt);
    let billed = (duration + 59_999) / 60_000;
    assert_eq!(ended["usage"]["billed_minutes"], billed);

    let deliveries = admin(
        &w,
        reqwest::Method::GET,
        &format!("/api/tenants/{tid}/webhooks/{hook_id}/deliveries"),
        None,
    )
    .await;
    for d in deliveries.as_array().unwrap() {
        assert_eq!(d["status"], "delivered");
        let log = d["attempt_log"].as_array().unwrap();
        assert!(log.len() >= 2, "{d}");
        assert_eq!(log[0]["status_code"], 503);
        assert_eq!(log.last().unwrap()["status_code"], 200);
    }

    let usage = admin(
        &w,
        reqwest::Method::GET,
        &format!("/api/tenants/{tid}/usage?granularity=month"),
        None,
    )
    .await;
    let total = &usage["total"];
    assert_eq!(total["calls"], 2);
    assert_eq!(total["answered"], 1);
    assert_eq!(total["rejected"], 1);
    assert_eq!(total["rejected_by_reason"], json!({"number_inactive": 1}));
    assert_eq!(total["transferred"], 0);
    assert_eq!(total["billed_minutes"], billed);
    assert_eq!(total["seconds"].as_f64(), Some(duration as f64 / 1000.0));
    assert_eq!(total["stt_seconds"].as_f64(), Some(stt_ms as f64 / 1000.0));
    assert_eq!(total["llm_prompt_tokens"], prompt);
    assert_eq!(total["llm_completion_tokens"], completion);
    assert_eq!(total["tts_characters"], tts);
    let all = admin(&w, reqwest::Method::GET, "/api/usage", None).await;
    assert_eq!(all["total"]["calls"], 2);
    assert_eq!(all["tenants"][0]["tenant_id"], json!(tid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_the_outbox_and_deliver_each_event_once() {
    let rx = Receiver::start().await;
    let settings = [
        ("VCA_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("VCA_WEBHOOK_RETRY_BASE_MS", "50"),
        ("VCA_WEBHOOK_POLL_MS", "20"),
    ];
    let w = World::with(&settings).await;
    // The second daemon is the ARI standby, but its delivery worker runs all the same.
    let other = w.another_daemon("webhooks-second", &[]).await;
    let tid = w.tenant(DID, 5, 300).await;
    admin(
        &w,
        reqwest::Method::POST,
        &format!("/api/tenants/{tid}/webhooks"),
        Some(json!({"url": rx.url(), "events": ["call.rejected"], "secret": SECRET})),
    )
    .await;
    const EVENTS: usize = 40;
    for i in 0..EVENTS {
        w.store
            .insert_rejection(&vca_bridge::store::call_log::Rejection {
                tenant_id: Some(tid),
                phone_number_id: None,
                channel_id: format!("busy-{i}"),
                caller: "+919876543210".into(),
                called: DID.into(),
                ari_node: "elsewhere#vca".into(),
                reason: "tenant_busy".into(),
            })
            .await
            .unwrap();
    }
    rx.wait_for(EVENTS).await;
    for _ in 0..200 {
        if pending(&w).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending(&w).await, 0);
    // Both workers polled on after the last delivery: still nothing sent twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = rx.received();
    let mut ids: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (EVENTS, EVENTS));
    assert!(rx.all_verified(SECRET));
    let (attempts,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_attempts")
        .fetch_one(w.store.pool())
        .await
        .unwrap();
    assert_eq!(attempts as usize, EVENTS);
    other.kill();
}
