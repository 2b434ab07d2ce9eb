//! One Asterisk, one active daemon: two daemons on one vca-sim with the real PostgreSQL and
//! Redis. A second daemon stands by while the first owns the application; a daemon that is
//! replaced (`ApplicationReplaced`, FINDINGS 48) stands down without a ghost call; a standby
//! takes over after a `kill -9` and on a SIGTERM hand-over, re-adopting the live calls; with
//! Redis down the newest connection wins and the other stands by; two daemons starting at
//! once end with exactly one active.

use std::time::{Duration, Instant};

use vca_sim::{CallSpec, CallStatus};

use crate::support::daemon::{DaemonProc, World};

const DID: &str = "+918012345678";

async fn eventually(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within {limit:?}: {what}");
}

/// How many members the tenant's lease set holds that have not expired.
async fn live_leases(tenant: uuid::Uuid, redis_db: u8) -> i64 {
    let client = redis::Client::open(format!(
        "{}/{redis_db}",
        crate::support::db::redis_url().trim_end_matches('/')
    ))
    .unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    redis::cmd("ZCOUNT")
        .arg(format!("vca:tenant:{tenant}:calls"))
        .arg(now)
        .arg("+inf")
        .query_async(&mut conn)
        .await
        .unwrap()
}

async fn event_count(w: &World, call: uuid::Uuid, kind: &str) -> usize {
    w.event_kinds(call)
        .await
        .iter()
        .filter(|k| k.as_str() == kind)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_stands_by_while_the_first_serves() {
    let w = World::new().await;
    let tenant = w.tenant(DID, 5, 300).await;
    let second = w.another_daemon("second", &[]).await;
    eventually(
        "the second daemon reports standby",
        Duration::from_secs(5),
        async || second.readiness().await == (503, Some("standby".into())),
    )
    .await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let row = w.wait_media(call.id()).await;
    assert_eq!(w.sim.websockets_open(), 1, "only the owner is connected");
    assert_eq!(live_leases(tenant, 0).await, 1);
    call.hangup().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), call.ended()).await;
    let row_after = w.final_row(call.id()).await;
    assert_eq!(row_after.end_reason.as_deref(), Some("caller_hangup"));
    assert_eq!(event_count(&w, row.id, "readopted").await, 0);
    eventually(
        "the call's lease is gone",
        Duration::from_secs(5),
        async || live_leases(tenant, 0).await == 0,
    )
    .await;
    assert_eq!(second.readiness().await.0, 503);
}

/// A copy of the daemon started by accident against another Redis (no shared owner lease)
/// connects, Asterisk gives it the application, and the first stands down: no ghost call,
/// no second voice; the newcomer re-adopts the call and completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_daemon_stands_down_and_the_newcomer_carries_the_call() {
    let w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let row = w.wait_media(call.id()).await;
    let other_redis = format!(
        "{}/7",
        crate::support::db::redis_url().trim_end_matches('/')
    );
    let newcomer = w
        .another_daemon("accident", &[("VCA_REDIS_URL", other_redis.as_str())])
        .await;
    w.wait_event(row.id, "readopted").await;
    let first = w.daemon.as_ref().unwrap();
    eventually(
        "the first daemon reports replaced",
        Duration::from_secs(5),
        async || first.readiness().await == (503, Some("replaced".into())),
    )
    .await;
    assert_eq!(newcomer.readiness().await.0, 200);
    // The first does not take the application back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.sim.websockets_open(), 1);
    assert_eq!(first.readiness().await, (503, Some("replaced".into())));
    // The call is up and served once: the newcomer hangs up nothing, writes the end.
    assert_eq!(call.status(), CallStatus::Up);
    call.hangup().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), call.ended()).await;
    let done = w.final_row(call.id()).await;
    assert_eq!(done.end_reason.as_deref(), Some("caller_hangup"));
    assert_eq!(
        event_count(&w, row.id, "ended").await,
        1,
        "one owner wrote the end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_after_the_active_daemon_is_killed() {
    let mut w = World::new().await;
    w.tenant(DID, 5, 300).await;
    let standby = w.another_daemon("standby", &[]).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let row = w.wait_media(call.id()).await;
    w.daemon.take().unwrap().kill();
    let killed = Instant::now();
    w.wait_event(row.id, "readopted").await;
    let took = killed.elapsed();
    eprintln!("takeover after kill -9: {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(standby.readiness().await.0, 200);
    let after = w.call_row(call.id()).await;
    assert_eq!(after.status, "in_progress");
    assert_ne!(after.media_channel_id, row.media_channel_id);
    call.hangup().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), call.ended()).await;
    assert_eq!(
        w.final_row(call.id()).await.end_reason.as_deref(),
        Some("caller_hangup")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_the_live_calls_over_to_the_standby() {
    let mut w = World::with(&[("VCA_SHUTDOWN", "auto")]).await;
    w.tenant(DID, 5, 300).await;
    let standby = w.another_daemon("standby", &[]).await;
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let row = w.wait_media(call.id()).await;
    // The active daemon has seen the standby at a lease renewal (every 1.5 s).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let active = w.daemon.take().unwrap();
    let asked = Instant::now();
    active.stop().await;
    w.wait_event(row.id, "readopted").await;
    let took = asked.elapsed();
    eprintln!("hand-over on SIGTERM: {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(call.status(), CallStatus::Up, "nobody was hung up");
    assert_eq!(event_count(&w, row.id, "ended").await, 0);
    assert_eq!(standby.readiness().await.0, 200);
    call.hangup().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), call.ended()).await;
    assert_eq!(
        w.final_row(call.id()).await.end_reason.as_deref(),
        Some("caller_hangup")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_newest_connection_wins_and_the_other_stands_by() {
    let dead = "redis://127.0.0.1:1";
    let w = World::with(&[("VCA_REDIS_URL", dead)]).await;
    w.tenant(DID, 5, 300).await;
    let second = w.another_daemon("second", &[("VCA_REDIS_URL", dead)]).await;
    let first = w.daemon.as_ref().unwrap();
    eventually(
        "the first daemon stood down",
        Duration::from_secs(10),
        async || first.readiness().await.1.as_deref() == Some("replaced"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.sim.websockets_open(), 1, "nobody takes it back");
    let mut call = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    w.wait_media(call.id()).await;
    let answers = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.path == format!("/channels/{}/answer", call.id()))
        .count();
    assert_eq!(answers, 1, "one daemon took the call");
    call.hangup().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), call.ended()).await;
    w.final_row(call.id()).await;
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_starting_at_once_end_with_one_active() {
    let mut w = World::new().await;
    // The world's own daemon goes, and its lease with it (no renewal for the TTL).
    w.daemon.take().unwrap().kill();
    tokio::time::sleep(vca_bridge::call::ownership::OWNER_TTL + Duration::from_secs(1)).await;
    let (a, b) = tokio::join!(
        w.another_daemon("racer-a", &[]),
        w.another_daemon("racer-b", &[])
    );
    let racers: [&DaemonProc; 2] = [&a, &b];
    eventually(
        "one racer is connected",
        Duration::from_secs(10),
        async || w.sim.websockets_open() == 1,
    )
    .await;
    // And it stays that way: the other never connects.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut active = 0;
    let mut standby = 0;
    for d in racers {
        match d.readiness().await {
            (200, _) => active += 1,
            (503, Some(s)) if s == "standby" => standby += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((active, standby), (1, 1));
    assert_eq!(w.sim.websockets_open(), 1);
}

/// A call's lease moves with the call: after a takeover the tenant's limit still counts the
/// re-adopted call (a second call is busy), and once it ends a new call is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_limit_holds_across_a_takeover() {
    let mut w = World::new().await;
    let tenant = w.tenant(DID, 1, 300).await;
    let _standby = w.another_daemon("standby", &[]).await;
    let mut first = w.sim.place_call(CallSpec::new(DID, "+15551234567"));
    let row = w.wait_media(first.id()).await;
    w.daemon.take().unwrap().kill();
    w.wait_event(row.id, "readopted").await;
    assert_eq!(live_leases(tenant, 0).await, 1);
    let mut second = w.sim.place_call(CallSpec::new(DID, "+15551234568"));
    let _ = tokio::time::timeout(Duration::from_secs(20), second.ended()).await;
    let refused = w.final_row(second.id()).await;
    assert_eq!(
        (refused.status.as_str(), refused.end_reason.as_deref()),
        ("rejected", Some("tenant_busy"))
    );
    first.hangup().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), first.ended()).await;
    w.final_row(first.id()).await;
    eventually(
        "the lease is released",
        Duration::from_secs(5),
        async || live_leases(tenant, 0).await == 0,
    )
    .await;
    let mut third = w.sim.place_call(CallSpec::new(DID, "+15551234569"));
    w.wait_media(third.id()).await;
    third.hangup().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), third.ended()).await;
}
