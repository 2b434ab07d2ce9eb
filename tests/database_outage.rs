//! PostgreSQL going away during a call: the daemon reaches the database through a relay
//! ([`TcpGate`]) that the test closes for a few seconds while the caller speaks — every
//! connection cut, new ones refused, as during a server restart. The call carries on, and
//! once the database is back every transcript row, event and the final row are there.

use std::net::SocketAddr;
use std::time::Duration;

use uuid::Uuid;
use vca_sim::{CallSpec, HangupWhen};

use crate::support::daemon::World;
use crate::support::sim::caller_speech;
use crate::support::speech::espeak_or_skip;
use crate::support::tcp_gate::TcpGate;

const DID: &str = "+918012300077";

async fn upstream(database_url: &str) -> SocketAddr {
    let u = url::Url::parse(database_url).unwrap();
    let host = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432));
    tokio::net::lookup_host(host).await.unwrap().next().unwrap()
}

async fn caller_turns(w: &World, call: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM transcript_turns WHERE call_id = $1 AND speaker = 'caller'",
    )
    .bind(call)
    .fetch_one(w.store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_during_a_call_loses_no_row() {
    if !espeak_or_skip() {
        return;
    }
    let mut w = World::new().await;
    w.tenant(DID, 5, 300).await;
    // The daemon again, this time reaching PostgreSQL through the gate.
    let gate = TcpGate::start(upstream(&w.database_url).await).await;
    let gated = gate.url(&w.database_url);
    w.daemon.take().unwrap().stop().await;
    let node = format!("gated-{}", Uuid::new_v4().simple());
    w.daemon = Some(
        w.another_daemon(&node, &[("VCA_DATABASE_URL", &gated)])
            .await,
    );
    w.wait_connected().await;

    let mut call = w.sim.place_call(
        CallSpec::new(DID, "+15551234567")
            .pause(Duration::from_millis(2500))
            .speech(caller_speech())
            .pause(Duration::from_secs(6))
            .speech(caller_speech())
            .pause(Duration::from_secs(6))
            .speech(caller_speech())
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(6))),
    );
    let ch = call.id().to_string();
    let row = w.wait_media(&ch).await;
    // The first caller turn is written; then the database goes away for 6 s, over the
    // second utterance and its answer.
    for _ in 0..300 {
        if caller_turns(&w, row.id).await >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        caller_turns(&w, row.id).await >= 1,
        "the first turn is written"
    );
    gate.close();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during = caller_turns(&w, row.id).await;
    gate.open();

    tokio::time::timeout(Duration::from_secs(90), call.ended())
        .await
        .expect("call ends");
    let done = w.final_row(&ch).await;
    assert_eq!(done.status, "completed", "{done:?}");
    let seqs: Vec<i32> =
        sqlx::query_scalar("SELECT seq FROM transcript_turns WHERE call_id = $1 ORDER BY seq")
            .bind(row.id)
            .fetch_all(w.store.pool())
            .await
            .unwrap();
    assert_eq!(
        seqs,
        (0..seqs.len() as i32).collect::<Vec<_>>(),
        "no transcript row lost"
    );
    let after = caller_turns(&w, row.id).await;
    assert!(after >= 3, "all three utterances are stored: {after}");
    assert!(
        after > during,
        "the turns of the outage were written after it ({during} then {after})"
    );
    let (turn_count,): (i32,) = sqlx::query_as("SELECT turn_count FROM calls WHERE id = $1")
        .bind(row.id)
        .fetch_one(w.store.pool())
        .await
        .unwrap();
    assert_eq!(i64::from(turn_count), after, "usage of the outage counted");
    let kinds = w.event_kinds(row.id).await;
    for kind in ["answered", "ended"] {
        assert_eq!(
            kinds.iter().filter(|k| *k == kind).count(),
            1,
            "{kind}: {kinds:?}"
        );
    }
}
