//! Live calls across daemons: two daemons, each serving its own simulated Asterisk, on one
//! PostgreSQL and one Redis. Either daemon's admin API lists both daemons' calls and can
//! hang up a call the other one serves; tenants see only their own.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;
use vca_sim::{CallSpec, CallStatus, SimConfig, Simulator};

use crate::support::daemon::{DaemonProc, TOKEN, World, settings};
use crate::support::speech::espeak_or_skip;

const DID_A: &str = "+918012345678";
const DID_B: &str = "+918012345679";

async fn api(daemon: &DaemonProc, method: reqwest::Method, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method, format!("http://{}{path}", daemon.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The live entries of `calls` that `path` lists, once all of them are there.
async fn listed(daemon: &DaemonProc, path: &str, calls: &[Uuid]) -> Vec<Value> {
    let mut last = Value::Null;
    for _ in 0..200 {
        let (status, body) = api(daemon, reqwest::Method::GET, path).await;
        assert_eq!(status, 200, "{body}");
        let ours: Vec<Value> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["call_id"]
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .is_some_and(|id| calls.contains(&id))
            })
            .cloned()
            .collect();
        if ours.len() == calls.len() {
            return ours;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never listed all of {calls:?}: {last}");
}

async fn add_did(w: &World, tenant: Uuid, did: &str) {
    sqlx::query("INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, $2)")
        .bind(tenant)
        .bind(did)
        .execute(w.store.pool())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_daemon_lists_every_call_and_hangs_up_the_others_politely() {
    if !espeak_or_skip() {
        return;
    }
    let w = World::with(&[("VCA_NODE_NAME", "live-a")]).await;
    let tenant = w.tenant(DID_A, 5, 300).await;
    add_did(&w, tenant, DID_B).await;
    let other_tenant = w.tenant("+918012345670", 5, 300).await;
    // A second daemon with an Asterisk of its own, on the same database and Redis.
    let sim_b = Simulator::start(SimConfig::default()).await.unwrap();
    let daemon_b = DaemonProc::start(settings(
        &sim_b,
        &w.database_url,
        &w.engines.base_url(),
        &[("VCA_NODE_NAME", "live-b")],
    ))
    .await;
    tokio::time::timeout(Duration::from_secs(20), sim_b.wait_websocket())
        .await
        .expect("the second daemon connects");
    let daemon_a = w.daemon.as_ref().unwrap();

    // One after the other: both simulators number their channels alike.
    let call_a = w.sim.place_call(CallSpec::new(DID_A, "+919876543210"));
    let row_a = w.wait_media(call_a.id()).await;
    let mut call_b = sim_b.place_call(CallSpec::new(DID_B, "+919876500001"));
    let row_b = {
        let mut found = None;
        for _ in 0..200 {
            let r: Option<(Uuid,)> = sqlx::query_as(
                // Both simulators number their channels alike: the DID tells them apart.
                "SELECT id FROM calls WHERE channel_id = $1 AND called = $2 AND media_channel_id IS NOT NULL",
            )
            .bind(call_b.id())
            .bind(DID_B)
            .fetch_optional(w.store.pool())
            .await
            .unwrap();
            if let Some((id,)) = r {
                found = Some(id);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        found.expect("the second daemon answered its call")
    };
    let ours = [row_a.id, row_b];

    // Both daemons list both calls, operator-wide and for the tenant.
    for daemon in [daemon_a, &daemon_b] {
        let all = listed(daemon, "/api/calls/live", &ours).await;
        let mine = listed(daemon, &format!("/api/tenants/{tenant}/calls/live"), &ours).await;
        assert_eq!(all.len(), 2);
        assert_eq!(mine.len(), 2);
    }
    let entries = listed(daemon_a, "/api/calls/live", &ours).await;
    let b = entries
        .iter()
        .find(|e| e["call_id"] == row_b.to_string())
        .unwrap();
    assert_eq!(b["node"], "live-b");
    assert_eq!(b["did"], DID_B);
    assert_eq!(b["caller"], "+91******0001", "the caller is masked");
    assert_eq!(b["tenant_id"], tenant.to_string());
    assert!(
        ["connecting", "talking"].contains(&b["state"].as_str().unwrap()),
        "{b}"
    );
    let a = entries
        .iter()
        .find(|e| e["call_id"] == row_a.id.to_string())
        .unwrap();
    assert_eq!(a["node"], "live-a");

    // Another tenant sees neither call and cannot hang them up.
    let (status, body) = api(
        daemon_a,
        reqwest::Method::GET,
        &format!("/api/tenants/{other_tenant}/calls/live"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tenant_id"] == other_tenant.to_string()),
        "{body}"
    );
    let (status, _) = api(
        daemon_a,
        reqwest::Method::POST,
        &format!("/api/tenants/{other_tenant}/calls/{row_b}/hangup"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = api(
        daemon_a,
        reqwest::Method::POST,
        &format!("/api/tenants/{tenant}/calls/{}/hangup", Uuid::new_v4()),
    )
    .await;
    assert_eq!(status, 404, "a call that is not live");
    let (status, _) = api(
        daemon_a,
        reqwest::Method::POST,
        &format!("/api/tenants/{tenant}/calls/not-a-uuid/hangup"),
    )
    .await;
    assert_eq!(status, 404, "an id that names nothing");

    // Daemon A's API hangs up the call daemon B serves: B says goodbye, then hangs up.
    let (status, body) = api(
        daemon_a,
        reqwest::Method::POST,
        &format!("/api/tenants/{tenant}/calls/{row_b}/hangup"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["node"], "live-b");
    let outcome = tokio::time::timeout(Duration::from_secs(30), call_b.ended())
        .await
        .expect("the call is hung up");
    assert!(
        matches!(outcome.ended_by, vca_sim::EndedBy::App { .. }),
        "{outcome:?}"
    );
    let mut row = None;
    for _ in 0..100 {
        let r: (String, Option<String>) =
            sqlx::query_as("SELECT status, end_reason FROM calls WHERE id = $1")
                .bind(row_b)
                .fetch_one(w.store.pool())
                .await
                .unwrap();
        if r.0 != "in_progress" {
            row = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        row,
        Some(("completed".to_string(), Some("operator_hangup".to_string())))
    );
    let last: (String, String) = sqlx::query_as(
        "SELECT speaker, text FROM transcript_turns WHERE call_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(row_b)
    .fetch_one(w.store.pool())
    .await
    .unwrap();
    assert_eq!(
        last,
        (
            "agent".to_string(),
            "Thank you for calling. Goodbye!".to_string()
        ),
        "the goodbye was said"
    );
    // The call leaves the board; the other daemon's call is untouched.
    let mut gone = false;
    for _ in 0..100 {
        let (_, body) = api(daemon_a, reqwest::Method::GET, "/api/calls/live").await;
        let ids: Vec<&str> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["call_id"].as_str())
            .collect();
        if !ids.contains(&row_b.to_string().as_str()) {
            assert!(ids.contains(&row_a.id.to_string().as_str()));
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the hung-up call stayed on the board");
    assert_eq!(call_a.status(), CallStatus::Up);
    daemon_b.stop().await;
}
