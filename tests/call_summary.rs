//! The post-call summary: a profile with `post_call_summary` gets, after the call, a
//! summary and an outcome written by the model (the fake chat server) onto the call row,
//! returned by the calls API; a model that answers nonsense leaves the row without one.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;
use vca_sim::engines::http::{Reply, Route};
use vca_sim::{CallSpec, HangupWhen};

use crate::support::daemon::{TOKEN, World};
use crate::support::sim::caller_speech;
use crate::support::speech::espeak_or_skip;

const DID: &str = "+918012345678";

async fn call_json(w: &World, tenant: Uuid, call: Uuid) -> Value {
    let admin = w.daemon.as_ref().unwrap().admin;
    reqwest::Client::new()
        .get(format!("http://{admin}/api/tenants/{tenant}/calls/{call}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn one_call(w: &World) -> Uuid {
    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+919876543210")
            .pause(Duration::from_secs(2))
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(4))),
    );
    let ch = call.id().to_string();
    tokio::time::timeout(Duration::from_secs(60), call.ended())
        .await
        .expect("call ends");
    w.final_row(&ch).await.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_summarises_the_call_after_it_ends() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::with(&[("VCA_LLM_PROVIDER", "openai")]).await;
    let tenant = w.tenant(DID, 5, 300).await;
    sqlx::query("UPDATE ai_profiles SET post_call_summary = true WHERE tenant_id = $1")
        .bind(tenant)
        .execute(w.store.pool())
        .await
        .unwrap();
    w.engines.script(
        Route::Chat,
        [
            Reply::Text("Sure, a table for two at eight.".into()),
            Reply::Text(
                "```json\n{\"summary\": \"The caller booked a table for two at eight.\", \
                 \"intent\": \"table booking\", \"resolved\": true, \"follow_up\": \"\"}\n```"
                    .into(),
            ),
        ],
    );
    // A webhook that wants the summaries.
    sqlx::query(
        "INSERT INTO webhooks (tenant_id, url, events, secret) \
         VALUES ($1, 'http://127.0.0.1:9/hook', '{call.summarized}', 'whsec-test')",
    )
    .bind(tenant)
    .execute(w.store.pool())
    .await
    .unwrap();
    let id = one_call(&w).await;
    let mut body = Value::Null;
    for _ in 0..200 {
        body = call_json(&w, tenant, id).await;
        if !body["summary"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        body["summary"], "The caller booked a table for two at eight.",
        "{body}"
    );
    assert_eq!(
        body["outcome"],
        serde_json::json!({"intent": "table booking", "resolved": true, "follow_up": ""})
    );
    // The call.summarized event went to the outbox with the summary on the call.
    let (payload,): (Value,) = sqlx::query_as(
        "SELECT payload FROM webhook_deliveries WHERE tenant_id = $1 AND event_type = 'call.summarized'",
    )
    .bind(tenant)
    .fetch_one(w.store.pool())
    .await
    .unwrap();
    assert_eq!(payload["type"], "call.summarized");
    assert_eq!(
        payload["data"]["call"]["summary"],
        "The caller booked a table for two at eight."
    );
    assert_eq!(payload["data"]["call"]["id"], id.to_string());
    // The summary request carried the transcript, the caller's words included.
    let chats: Vec<Value> = w
        .engines
        .received()
        .into_iter()
        .filter(|r| r.route == Route::Chat)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let last = chats.last().unwrap();
    assert!(
        last["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("summarise a phone call")
    );
    let transcript = last["messages"][1]["content"].as_str().unwrap();
    assert!(transcript.contains("Agent: Hello!"), "{transcript}");
    assert!(
        transcript.contains("Caller: I would like to book a table"),
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_summary_without_the_setting_or_from_a_model_that_answers_nonsense() {
    if !espeak_or_skip() {
        return;
    }
    // The echo model answers "You said: …", which is no summary.
    let w = World::new().await;
    let tenant = w.tenant(DID, 5, 300).await;
    sqlx::query("UPDATE ai_profiles SET post_call_summary = true WHERE tenant_id = $1")
        .bind(tenant)
        .execute(w.store.pool())
        .await
        .unwrap();
    let id = one_call(&w).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let body = call_json(&w, tenant, id).await;
    assert_eq!(body["status"], "completed", "{body}");
    assert!(body["summary"].is_null(), "{body}");
    // Without the setting (the default) the model is not asked at all.
    let w2 = World::with(&[("VCA_LLM_PROVIDER", "openai")]).await;
    w2.tenant(DID, 5, 300).await;
    one_call(&w2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w2.engines.count(Route::Chat),
        1,
        "one turn, no summary request"
    );
}
