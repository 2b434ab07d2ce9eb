//! Call scenarios: the real daemon against vca-sim (which behaves like the recorded
//! Asterisk 22), the real PostgreSQL and Redis. Each test builds its own world.

use std::time::Duration;

use vca_sim::{CallSpec, CallStatus, EndedBy, HangupWhen, RestartSpec};

use crate::support::daemon::World;
use crate::support::sim::caller_speech;

const DID: &str = "+918012345678";

async fn ended(call: &mut vca_sim::SimCall) -> vca_sim::CallOutcome {
    tokio::time::timeout(Duration::from_secs(30), call.ended())
        .await
        .expect("call ends")
}

fn app_reason(by: &EndedBy) -> Option<String> {
    match by {
        EndedBy::App { reason, .. } => reason.clone(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_call_is_answered_bridged_and_completed() {
    let w = World::new().await;
    let tenant = w.tenant(DID, 5, 300).await;
    // National form on the wire: the daemon normalises it with country code 91.
    let mut call = w.sim.place_call(
        CallSpec::new("08012345678", "09876543210")
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_millis(1500))),
    );
    let ch = call.id().to_string();
    let row = w.wait_media(&ch).await;
    assert_eq!(row.tenant_id, Some(tenant));
    assert!(row.answered);
    let media_channel = row.media_channel_id.clone().unwrap();
    assert!(media_channel.starts_with("vca-em-"));

    let outcome = ended(&mut call).await;
    assert_eq!(outcome.ended_by, EndedBy::Caller);
    let row = w.final_row(&ch).await;
    assert_eq!(row.status, "completed");
    assert_eq!(row.end_reason.as_deref(), Some("caller_hangup"));
    assert!(row.duration_ms.unwrap() > 1000, "{row:?}");
    let kinds = w.event_kinds(row.id).await;
    assert_eq!(
        kinds,
        ["answered", "media_started", "caller_hangup", "ended"]
    );

    w.wait_nothing_left().await;
    // What the daemon asked of Asterisk, in order and with the expected parameters.
    let reqs = w.sim.requests();
    let find = |method: &str, path: &str| {
        reqs.iter()
            .position(|r| r.method == method && r.path == path)
    };
    let answer = find("POST", &format!("/channels/{ch}/answer")).expect("answer");
    let bridge = reqs
        .iter()
        .position(|r| r.method == "POST" && r.path == "/bridges")
        .expect("bridge");
    let em = find("POST", "/channels/externalMedia").expect("externalMedia");
    assert!(answer < bridge && bridge < em);
    let em_req = &reqs[em];
    assert_eq!(em_req.status, 200);
    assert_eq!(em_req.query.get("format").map(String::as_str), Some("alaw"));
    assert_eq!(
        em_req.query.get("app").map(String::as_str),
        Some("vca-bridge")
    );
    assert_eq!(em_req.query.get("channelId"), Some(&media_channel));
    let host = em_req.query.get("external_host").unwrap();
    let port: u16 = host.strip_prefix("127.0.0.1:").unwrap().parse().unwrap();
    assert!((30000..=39999).contains(&port));
    assert_eq!(
        reqs[bridge].query.get("type").map(String::as_str),
        Some("mixing")
    );
    let bridge_id = row.bridge_id.clone().unwrap();
    let add = find("POST", &format!("/bridges/{bridge_id}/addChannel")).expect("addChannel");
    assert_eq!(
        reqs[add].query.get("channel"),
        Some(&format!("{ch},{media_channel}"))
    );
    // Cleanup after the caller left: External Media channel, then the bridge.
    let del_em = find("DELETE", &format!("/channels/{media_channel}")).expect("delete em");
    let del_br = find("DELETE", &format!("/bridges/{bridge_id}")).expect("delete bridge");
    assert!(del_em < del_br);
    w.wait_nothing_left().await;

    // Audio flowed both ways: the simulated caller received the daemon's paced A-law.
    let rec = call.recording().await.expect("recording");
    let stats = rec.stats();
    assert!(stats.packets > 50, "{stats:?}");
    assert_eq!(stats.payload_types, [8]);
    assert_eq!(stats.ssrcs.len(), 1);
    assert_eq!(
        stats.sources,
        [format!("127.0.0.1:{port}").parse().unwrap()]
    );
    // The External Media channel's own StasisStart was not taken for a call.
    assert_eq!(w.count_calls().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rejection_hangs_up_with_its_reason() {
    let w = World::new().await;
    let pool = w.store.pool();
    let t_inactive = w.tenant("+918011110001", 5, 300).await;
    sqlx::query("UPDATE phone_numbers SET is_active = false WHERE tenant_id = $1")
        .bind(t_inactive)
        .execute(pool)
        .await
        .unwrap();
    let t_suspended = w.tenant("+918011110002", 5, 300).await;
    sqlx::query("UPDATE tenants SET status = 'suspended' WHERE id = $1")
        .bind(t_suspended)
        .execute(pool)
        .await
        .unwrap();
    let t_noprofile = w.tenant("+918011110003", 5, 300).await;
    sqlx::query("DELETE FROM ai_profiles WHERE tenant_id = $1")
        .bind(t_noprofile)
        .execute(pool)
        .await
        .unwrap();

    for (did, hangup, reason, tenant) in [
        ("+918099999999", "unallocated", "unknown_did", None),
        ("not-a-number", "unallocated", "unknown_did", None),
        (
            "+918011110001",
            "rejected",
            "number_inactive",
            Some(t_inactive),
        ),
        (
            "+918011110002",
            "rejected",
            "tenant_not_active",
            Some(t_suspended),
        ),
        (
            "+918011110003",
            "rejected",
            "no_ai_profile",
            Some(t_noprofile),
        ),
    ] {
        let mut call = w.sim.place_call(CallSpec::new(did, "+15551234567"));
        let outcome = ended(&mut call).await;
        assert_eq!(
            app_reason(&outcome.ended_by).as_deref(),
            Some(hangup),
            "{did}: {outcome:?}"
        );
        let row = w.final_row(call.id()).await;
        assert_eq!(row.status, "rejected", "{did}");
        assert_eq!(row.end_reason.as_deref(), Some(reason), "{did}");
        assert_eq!(row.tenant_id, tenant, "{did}");
        assert!(!row.answered);
        assert_eq!(w.event_kinds(row.id).await, ["rejected"]);
    }
    // Nothing was answered or bridged for a rejected call.
    assert!(
        !w.sim
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/answer") || (r.method == "POST" && r.path == "/bridges"))
    );
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_at_its_limit_gets_busy() {
    let w = World::new().await;
    w.tenant(DID, 1, 300).await;
    let first = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    w.wait_media(first.id()).await;
    let mut second = w.sim.place_call(CallSpec::new(DID, "+15551230000"));
    let outcome = ended(&mut second).await;
    assert_eq!(app_reason(&outcome.ended_by).as_deref(), Some("busy"));
    let row = w.final_row(second.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("rejected", Some("tenant_busy"))
    );
    // The first call is untouched; once it ends, the tenant can take a call again.
    assert_eq!(first.status(), CallStatus::Up);
    first.hangup().unwrap();
    w.final_row(first.id()).await;
    let third = w.sim.place_call(CallSpec::new(DID, "+15551230001"));
    w.wait_media(third.id()).await;
    third.hangup().unwrap();
    w.final_row(third.id()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_media_refused_fails_the_call_and_leaks_nothing() {
    // The simulator, like a PBX that cannot reach us, answers externalMedia with 500 for
    // a host that is not on its network; nothing is ever sent there.
    let w = World::with(&[("VCA_RTP_ADVERTISE", "192.0.2.10")]).await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let outcome = ended(&mut call).await;
    assert!(
        matches!(outcome.ended_by, EndedBy::App { .. }),
        "{outcome:?}"
    );
    let row = w.final_row(call.id()).await;
    assert_eq!(row.status, "failed");
    assert!(
        row.end_reason
            .as_deref()
            .unwrap()
            .starts_with("setup_failed: external_media"),
        "{row:?}"
    );
    w.wait_nothing_left().await;
    // The port went back: a second call fails the same way rather than "no port".
    let mut again = w.sim.place_call(CallSpec::new(DID, "+15551234568"));
    ended(&mut again).await;
    let row = w.final_row(again.id()).await;
    assert!(
        row.end_reason
            .as_deref()
            .unwrap()
            .starts_with("setup_failed: external_media")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_destroyed_midway_fails_the_call() {
    let w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let row = w.wait_media(call.id()).await;
    // Wait for the bridge to be recorded, then remove it behind the daemon's back.
    let mut bridge = row.bridge_id;
    for _ in 0..100 {
        if bridge.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        bridge = w.call_row(call.id()).await.bridge_id;
    }
    let bridge = bridge.unwrap();
    let r = reqwest::Client::new()
        .delete(format!("{}/bridges/{bridge}", w.sim.ari_url()))
        .basic_auth("vca", Some("vca-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let outcome = ended(&mut call).await;
    assert!(
        matches!(outcome.ended_by, EndedBy::App { .. }),
        "{outcome:?}"
    );
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("failed", Some("bridge_lost"))
    );
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_hangs_up_first_at_max_duration() {
    let w = World::new().await;
    w.tenant(DID, 5, 10).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let outcome = ended(&mut call).await;
    assert_eq!(app_reason(&outcome.ended_by).as_deref(), Some("normal"));
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("max_duration"))
    );
    assert!(row.duration_ms.unwrap() >= 10_000);
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_hangs_up_and_finalises() {
    let mut w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    w.wait_media(call.id()).await;
    w.daemon.take().unwrap().stop().await;
    let outcome = ended(&mut call).await;
    assert!(matches!(outcome.ended_by, EndedBy::App { .. }));
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("daemon_shutdown"))
    );
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_drop_and_restore_keeps_the_call() {
    let w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    w.wait_media(call.id()).await;
    assert!(w.sim.drop_websocket());
    w.wait_connected().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.call_row(call.id()).await.status, "in_progress");
    // Events flow again: the caller's hangup is seen and the call completes normally.
    call.hangup().unwrap();
    ended(&mut call).await;
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("caller_hangup"))
    );
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_leaving_during_an_outage_is_interrupted() {
    let w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    w.wait_media(call.id()).await;
    w.sim.refuse_websocket(Duration::from_secs(2));
    assert!(w.sim.drop_websocket());
    call.hangup().unwrap();
    ended(&mut call).await;
    w.wait_connected().await;
    let row = w.final_row(call.id()).await;
    assert_eq!(row.status, "interrupted");
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_restart_closes_every_row() {
    let w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let a = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let b = w.sim.place_call(CallSpec::new(DID, "+15551234568"));
    w.wait_media(a.id()).await;
    w.wait_media(b.id()).await;
    let (a_id, b_id) = (a.id().to_string(), b.id().to_string());
    w.sim.restart(RestartSpec::default()).await;
    w.wait_connected().await;
    // Asterisk hangs every channel up with the shutdown flag (FINDINGS 18): the calls
    // were cut, not ended by their callers. (A call whose hangup was missed is found gone
    // after the reconnect.)
    for ch in [&a_id, &b_id] {
        let row = w.final_row(ch).await;
        assert_eq!(row.status, "interrupted", "{row:?}");
        assert!(
            ["asterisk_shutdown", "channel_gone_while_disconnected"]
                .contains(&row.end_reason.as_deref().unwrap_or("")),
            "{row:?}"
        );
    }
    w.wait_nothing_left().await;
    // Calls work at once after the restart.
    let c = w.sim.place_call(CallSpec::new(DID, "+15551234569"));
    w.wait_media(c.id()).await;
    c.hangup().unwrap();
    w.final_row(c.id()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_killed_and_restarted_readopts_the_call() {
    let mut w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let mut call = w
        .sim
        .place_call(CallSpec::new(DID, "+15551234567").transmit_silence(true));
    let before = w.wait_media(call.id()).await;
    let mut old_media = before.media_channel_id.clone();
    for _ in 0..100 {
        if old_media.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        old_media = w.call_row(call.id()).await.media_channel_id;
    }
    let old_media = old_media.unwrap();
    w.daemon.take().unwrap().kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(call.status(), CallStatus::Up, "the caller is still there");
    w.restart_daemon().await;
    // Re-adopted: a new External Media channel in the same bridge, same call row.
    let mut row = w.call_row(call.id()).await;
    for _ in 0..200 {
        if row.media_channel_id.as_deref() != Some(old_media.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        row = w.call_row(call.id()).await;
    }
    assert_eq!(row.id, before.id);
    assert_eq!(row.status, "in_progress");
    assert_ne!(row.media_channel_id.as_deref(), Some(old_media.as_str()));
    assert_eq!(row.bridge_id, before.bridge_id);
    w.wait_event(row.id, "readopted").await;
    let channel_ids: Vec<String> = w
        .sim
        .channels()
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    assert!(
        !channel_ids.contains(&old_media),
        "the old External Media channel is gone"
    );
    // Audio flows from the new port to the new External Media channel. (The call's own
    // recording follows its first channel only; read the new channel's. A restarted
    // daemon alone often binds the old port again, so the port alone proves nothing.)
    let new_port = row.rtp_port.unwrap();
    let new_media = row.media_channel_id.clone().unwrap();
    let from_new_port = |rec: &Option<vca_sim::RtpRecording>| {
        rec.as_ref().is_some_and(|rec| {
            rec.packets.len() >= 5
                && rec
                    .stats()
                    .sources
                    .iter()
                    .all(|s| s.port() as i32 == new_port)
        })
    };
    let mut rec = w.sim.external_media_recording(&new_media).await;
    for _ in 0..300 {
        if from_new_port(&rec) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        rec = w.sim.external_media_recording(&new_media).await;
    }
    assert!(from_new_port(&rec), "{:?}", rec.as_ref().map(|r| r.stats()));
    call.hangup().unwrap();
    ended(&mut call).await;
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("caller_hangup"))
    );
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_event_stream_is_survived() {
    let w = World::new().await;
    w.tenant(DID, 5, 300).await;
    for frame in [
        "{not json",
        "",
        "[1,2,3]",
        r#"{"type":"StasisStart"}"#,
        r#"{"type":"StasisStart","channel":{"id":7},"args":"x"}"#,
        r#"{"type":"NoSuchEvent","application":"vca-bridge","whatever":{"deep":[1]}}"#,
        r#"{"type":"ChannelHangupRequest","channel":{"id":"ghost","name":"x"},"cause":"sixteen"}"#,
    ] {
        assert!(w.sim.send_raw_event(frame));
    }
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    w.wait_media(call.id()).await;
    call.hangup().unwrap();
    ended(&mut call).await;
    let row = w.final_row(call.id()).await;
    assert_eq!(row.status, "completed");
    let all: Vec<(String, String)> = sqlx::query_as("SELECT channel_id, status FROM calls")
        .fetch_all(w.store.pool())
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_sends_new_calls_back_and_lets_live_calls_finish() {
    let mut w = World::with(&[("VCA_DRAIN_TIMEOUT_SECONDS", "60")]).await;
    w.tenant(DID, 5, 300).await;
    let mut live = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    w.wait_media(live.id()).await;
    let daemon = w.daemon.take().unwrap();
    daemon.request_stop();
    // A new call is sent back to the dialplan (its "unavailable" label), not answered.
    let mut newcomer = None;
    for _ in 0..100 {
        let mut c = w.sim.place_call(CallSpec::new(DID, "+15551234568"));
        match tokio::time::timeout(Duration::from_secs(5), c.ended()).await {
            Ok(outcome) if outcome.ended_by == EndedBy::AppContinued => {
                newcomer = Some(c);
                break;
            }
            Ok(_) => {}
            // The stop request had not been seen yet: that call was taken and is
            // live. Its caller hangs up and we try again.
            Err(_) => {
                c.hangup().unwrap();
                ended(&mut c).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let newcomer = newcomer.expect("a new call was sent back to the dialplan");
    // The simulator logs a request once it has answered it: wait for the entry.
    let path = format!("/channels/{}/continue", newcomer.id());
    let mut cont = None;
    for _ in 0..100 {
        cont = w.sim.requests().into_iter().find(|r| r.path == path);
        if cont.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cont = cont.expect("the continue request was logged");
    assert_eq!(
        cont.query.get("label").map(String::as_str),
        Some("unavailable")
    );
    // The live call goes on until its caller hangs up; then the daemon stops.
    assert_eq!(live.status(), CallStatus::Up);
    assert_eq!(w.call_row(live.id()).await.status, "in_progress");
    live.hangup().unwrap();
    ended(&mut live).await;
    tokio::time::timeout(Duration::from_secs(30), daemon.wait_stopped())
        .await
        .unwrap();
    let row = w.final_row(live.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("caller_hangup"))
    );
    w.wait_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stop_request_hangs_up_at_once() {
    let mut w = World::with(&[("VCA_DRAIN_TIMEOUT_SECONDS", "600")]).await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    w.wait_media(call.id()).await;
    let daemon = w.daemon.take().unwrap();
    daemon.request_stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        call.status(),
        CallStatus::Up,
        "the first request only drains"
    );
    daemon.request_stop();
    tokio::time::timeout(Duration::from_secs(30), daemon.wait_stopped())
        .await
        .unwrap();
    let outcome = ended(&mut call).await;
    assert!(
        matches!(outcome.ended_by, EndedBy::App { .. }),
        "{outcome:?}"
    );
    let row = w.final_row(call.id()).await;
    assert_eq!(
        (row.status.as_str(), row.end_reason.as_deref()),
        ("completed", Some("daemon_shutdown"))
    );
    w.wait_nothing_left().await;
}
