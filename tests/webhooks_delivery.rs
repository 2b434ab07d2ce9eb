//! Webhook delivery from the outbox, worker by worker against the real PostgreSQL and a
//! receiver on 127.0.0.1: events written with the call-row changes, signed bodies, retries
//! visible as attempts, the retry window ending in `failed`, two workers sharing one outbox
//! without sending anything twice, the address policy at delivery, and a database that is
//! away. The backoff is a setting (milliseconds here), so nothing waits for real schedules.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use vca_bridge::store::call_log::{NewCall, Rejection};
use vca_bridge::store::transcript::{NewTurn, UsageDelta};
use vca_bridge::store::webhooks::NewWebhook;
use vca_bridge::store::{EndReason, Store};
use vca_bridge::webhooks::backoff::Backoff;
use vca_bridge::webhooks::{WebhookSettings, Worker};

use crate::support::db;
use crate::support::receiver::Receiver;

const SECRET: &str = "whsec-test-secret";

fn settings(allow_private: bool) -> WebhookSettings {
    WebhookSettings {
        allow_private,
        timeout: Duration::from_secs(5),
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
            window: Duration::from_secs(3600),
        },
        poll_interval: Duration::from_millis(20),
        batch: 8,
    }
}

/// A tenant with a number and a profile: (tenant, number, profile).
async fn tenant(store: &Store) -> (Uuid, Uuid, Uuid) {
    let pool = store.pool();
    let (tid,): (Uuid,) = sqlx::query_as("INSERT INTO tenants (name) VALUES ('Acme') RETURNING id")
        .fetch_one(pool)
        .await
        .unwrap();
    let did = format!("+9180{:08}", rand::random::<u32>() % 100_000_000);
    let (pn,): (Uuid,) = sqlx::query_as(
        "INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, $2) RETURNING id",
    )
    .bind(tid)
    .bind(did)
    .fetch_one(pool)
    .await
    .unwrap();
    let (profile,): (Uuid,) = sqlx::query_as(
        "INSERT INTO ai_profiles (tenant_id, name, system_prompt, is_default) \
         VALUES ($1, 'Desk', 'Be helpful.', true) RETURNING id",
    )
    .bind(tid)
    .fetch_one(pool)
    .await
    .unwrap();
    (tid, pn, profile)
}

async fn webhook(store: &Store, tid: Uuid, url: &str, events: &[&str]) -> Uuid {
    store
        .create_webhook(
            tid,
            &NewWebhook {
                url: url.to_string(),
                events: events.iter().map(|e| e.to_string()).collect(),
                secret: SECRET.into(),
                is_active: None,
            },
        )
        .await
        .unwrap()
        .id
}

fn new_call(tid: Uuid, pn: Uuid, profile: Uuid) -> NewCall {
    NewCall {
        id: Uuid::new_v4(),
        tenant_id: tid,
        phone_number_id: pn,
        ai_profile_id: profile,
        channel_id: format!("ch-{}", Uuid::new_v4().simple()),
        caller: "+919876543210".into(),
        called: "+918012345678".into(),
        ari_node: "test#vca".into(),
    }
}

fn rejection(tid: Uuid) -> Rejection {
    Rejection {
        tenant_id: Some(tid),
        phone_number_id: None,
        channel_id: format!("ch-{}", Uuid::new_v4().simple()),
        caller: "+919876543210".into(),
        called: "+918012345678".into(),
        ari_node: "test#vca".into(),
        reason: "tenant_busy".into(),
    }
}

/// Runs rounds of `worker` until `done` holds (10 s at most).
async fn rounds_until(worker: &Worker, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        worker.round().await.unwrap();
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("deliveries did not finish");
}

async fn statuses(store: &Store) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT status, attempts FROM webhook_deliveries ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_events_are_written_with_their_rows_and_delivered_signed() {
    let (store, _) = db::store().await;
    let rx = Receiver::start().await;
    let (tid, pn, profile) = tenant(&store).await;
    let (other, _, _) = tenant(&store).await;
    webhook(
        &store,
        tid,
        &rx.url(),
        &[
            "call.started",
            "call.ended",
            "call.rejected",
            "call.transferred",
        ],
    )
    .await;
    // Subscribed to nothing that happens here, and another tenant's: never written.
    webhook(&store, tid, &rx.url(), &["call.transferred"]).await;
    webhook(&store, other, &rx.url(), &["call.ended", "call.started"]).await;

    let call = new_call(tid, pn, profile);
    store.insert_call(&call).await.unwrap();
    store.mark_call_answered(call.id).await.unwrap();
    for (seq, speaker, text) in [(0, "agent", "Hello!"), (1, "caller", "A table for two.")] {
        store
            .insert_turn(&NewTurn {
                call_id: call.id,
                tenant_id: tid,
                seq,
                speaker,
                text,
                start_ms: i64::from(seq) * 1000,
                end_ms: i64::from(seq) * 1000 + 800,
                interrupted: false,
            })
            .await
            .unwrap();
    }
    store
        .add_call_usage(
            call.id,
            tid,
            &UsageDelta {
                turns: 2,
                stt_audio_ms: 1500,
                llm_prompt_tokens: 40,
                llm_completion_tokens: 12,
                tts_characters: 30,
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .finish_call(call.id, &EndReason::CallerHangup)
            .await
            .unwrap()
    );
    // A second finish changes nothing and writes no second event.
    assert!(
        !store
            .finish_call(call.id, &EndReason::CallerHangup)
            .await
            .unwrap()
    );
    let rejected = store.insert_rejection(&rejection(tid)).await.unwrap();
    assert_eq!(statuses(&store).await.len(), 3);

    let worker = Worker::new(store.clone(), settings(true)).unwrap();
    rounds_until(&worker, || rx.received().len() >= 3).await;
    let got = rx.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(rx.all_verified(SECRET));
    assert!(!rx.all_verified("another secret"));
    let by_type: HashMap<String, serde_json::Value> = got
        .iter()
        .map(|r| (r.event_type.clone(), r.json()))
        .collect();
    for r in &got {
        let body = r.json();
        assert_eq!(body["id"], json!(r.event_id));
        assert_eq!(body["type"], json!(r.event_type));
        assert_eq!(body["tenant_id"], json!(tid));
        assert!(body["created_at"].is_string());
    }
    let started = &by_type["call.started"]["data"];
    assert_eq!(started["call"]["id"], json!(call.id));
    assert_eq!(started["call"]["status"], "ringing");
    let ended = &by_type["call.ended"]["data"];
    assert_eq!(ended["call"]["status"], "completed");
    assert_eq!(ended["call"]["end_reason"], "caller_hangup");
    assert_eq!(ended["transcript"][1]["text"], "A table for two.");
    assert_eq!(ended["transcript"].as_array().unwrap().len(), 2);
    assert_eq!(ended["usage"]["llm_prompt_tokens"], 40);
    assert_eq!(ended["usage"]["tts_characters"], 30);
    assert_eq!(ended["usage"]["stt_seconds"].as_f64(), Some(1.5));
    assert_eq!(ended["usage"]["billed_minutes"], 1);
    let rej = &by_type["call.rejected"]["data"];
    assert_eq!(rej["call"]["id"], json!(rejected));
    assert_eq!(rej["call"]["end_reason"], "tenant_busy");
    assert!(
        statuses(&store)
            .await
            .iter()
            .all(|(s, n)| s == "delivered" && *n == 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_the_event_on_the_third_attempt() {
    let api = crate::support::admin::api_allowing_private_webhooks().await;
    let store = api.store.clone();
    let rx = Receiver::start().await;
    rx.answer(&[500, 503]);
    let (tid, _, _) = tenant(&store).await;
    let hook = webhook(&store, tid, &rx.url(), &["call.rejected"]).await;
    store.insert_rejection(&rejection(tid)).await.unwrap();
    let worker = Worker::new(store.clone(), settings(true)).unwrap();
    rounds_until(&worker, || rx.received().len() >= 3).await;
    let got = rx.received();
    // The same event each time, each signed anew.
    assert!(got.iter().all(|r| r.event_id == got[0].event_id));
    assert!(rx.all_verified(SECRET));

    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{tid}/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let d = &r.body[0];
    assert_eq!(d["status"], "delivered", "{}", r.raw);
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["event_type"], "call.rejected");
    assert_eq!(d["event_id"], json!(got[0].event_id));
    let log = d["attempt_log"].as_array().unwrap();
    let codes: Vec<_> = log.iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(codes, [json!(500), json!(503), json!(200)]);
    assert_eq!(log[0]["error"], "the receiver answered 500");
    assert_eq!(log[2]["error"], serde_json::Value::Null);
    assert!(!r.raw.contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_retry_window_a_delivery_is_failed() {
    let (store, _) = db::store().await;
    let rx = Receiver::start().await;
    rx.always(Some(500));
    let (tid, _, _) = tenant(&store).await;
    webhook(&store, tid, &rx.url(), &["call.rejected"]).await;
    store.insert_rejection(&rejection(tid)).await.unwrap();
    let mut s = settings(true);
    s.backoff.window = Duration::ZERO;
    let worker = Worker::new(store.clone(), s).unwrap();
    let round = worker.round().await.unwrap();
    assert_eq!((round.taken, round.failed), (1, 1));
    assert_eq!(statuses(&store).await, [("failed".to_string(), 1)]);
    // Nothing is taken again.
    assert_eq!(worker.round().await.unwrap().taken, 0);
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_one_outbox_and_send_each_event_once() {
    let (store, url) = db::store().await;
    let rx = Receiver::start().await;
    let (tid, _, _) = tenant(&store).await;
    webhook(&store, tid, &rx.url(), &["call.rejected"]).await;
    webhook(&store, tid, &rx.url(), &["call.rejected"]).await;
    const EVENTS: usize = 30;
    for _ in 0..EVENTS {
        store.insert_rejection(&rejection(tid)).await.unwrap();
    }
    // Two daemons: two pools on one database, two workers, small batches.
    let other = Store::connect(&vca_bridge::config::Secret::new(url))
        .await
        .unwrap();
    let mut s = settings(true);
    s.batch = 3;
    let stop = CancellationToken::new();
    let a = tokio::spawn(Worker::new(store.clone(), s).unwrap().run(stop.clone()));
    let b = tokio::spawn(Worker::new(other, s).unwrap().run(stop.clone()));
    let got = rx.wait_for(EVENTS * 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    a.await.unwrap();
    b.await.unwrap();
    let got_after = rx.received();
    assert_eq!(got_after.len(), EVENTS * 2, "something was sent twice");
    // Each event once per webhook: 30 event ids, each seen twice (two webhooks).
    let mut ids: Vec<String> = got.iter().map(|r| r.event_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS);
    assert!(
        statuses(&store)
            .await
            .iter()
            .all(|(s, n)| s == "delivered" && *n == 1)
    );
    let (attempts,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_attempts")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(attempts as usize, EVENTS * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_at_delivery_too() {
    let (store, _) = db::store().await;
    let rx = Receiver::start().await;
    let (tid, _, _) = tenant(&store).await;
    // Written while private addresses were allowed, delivered by a daemon that refuses them;
    // a name resolving to loopback is refused after resolution.
    webhook(&store, tid, &rx.url(), &["call.rejected"]).await;
    webhook(
        &store,
        tid,
        &format!("http://localhost:{}/hook", rx.addr.port()),
        &["call.rejected"],
    )
    .await;
    store.insert_rejection(&rejection(tid)).await.unwrap();
    let worker = Worker::new(store.clone(), settings(false)).unwrap();
    let round = worker.round().await.unwrap();
    assert_eq!((round.taken, round.retrying), (2, 2));
    assert!(rx.received().is_empty());
    let errors: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT error FROM webhook_attempts ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(errors.len(), 2);
    for (e,) in errors {
        let e = e.unwrap_or_default();
        assert!(e.starts_with("blocked:") && e.contains("private"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_away_is_an_error_not_a_panic() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    let worker = Worker::new(Store::from_pool(pool), settings(true)).unwrap();
    assert!(worker.round().await.is_err());
    let stop = CancellationToken::new();
    let task = tokio::spawn(worker.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished());
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_is_reported_once_and_its_end_as_call_ended() {
    let (store, _) = db::store().await;
    let rx = Receiver::start().await;
    let (tid, pn, profile) = tenant(&store).await;
    webhook(&store, tid, &rx.url(), &["call.transferred", "call.ended"]).await;
    let call = new_call(tid, pn, profile);
    store.insert_call(&call).await.unwrap();
    store.mark_call_answered(call.id).await.unwrap();
    // Announced, then answered by the agent: the same target twice is one transfer.
    store
        .set_call_transfer_target(call.id, tid, "sales")
        .await
        .unwrap();
    store
        .set_call_transfer_target(call.id, tid, "sales")
        .await
        .unwrap();
    // Another tenant's id changes nothing.
    store
        .set_call_transfer_target(call.id, Uuid::new_v4(), "x")
        .await
        .unwrap();
    store
        .finish_call(call.id, &EndReason::Transferred)
        .await
        .unwrap();
    let worker = Worker::new(store.clone(), settings(true)).unwrap();
    rounds_until(&worker, || rx.received().len() >= 2).await;
    let got = rx.received();
    assert_eq!(got.len(), 2);
    let transferred = got
        .iter()
        .find(|r| r.event_type == "call.transferred")
        .unwrap()
        .json();
    assert_eq!(transferred["data"]["call"]["transfer_target"], "sales");
    assert_eq!(transferred["data"]["call"]["status"], "in_progress");
    let ended = got
        .iter()
        .find(|r| r.event_type == "call.ended")
        .unwrap()
        .json();
    assert_eq!(ended["data"]["call"]["status"], "transferred");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_rolls_back_with_its_row() {
    let (store, _) = db::store().await;
    let (tid, pn, profile) = tenant(&store).await;
    let rx = Receiver::start().await;
    webhook(&store, tid, &rx.url(), &["call.started"]).await;
    let call = new_call(tid, pn, profile);
    store.insert_call(&call).await.unwrap();
    // The same id again: the insert fails, and no second event is written.
    assert!(store.insert_call(&call).await.is_err());
    assert_eq!(statuses(&store).await.len(), 1);
}
