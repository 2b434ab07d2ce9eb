//! The simulator replays the recorded single-call transcripts: same statuses, body key
//! sets, and event sequence (with causes, soft flags, varsets, dialplans) as Asterisk 22.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use sim_support::{assert_same_events, replay};
use vca_sim::{CallStatus, EndedBy};

#[tokio::test]
async fn inbound_call_caller_hangs_up_matches_recording() {
    let r = replay("inbound-call-caller-hangs-up.jsonl").await;
    assert!(
        r.requests_compared >= 15,
        "compared {}",
        r.requests_compared
    );
    assert_same_events(&r);
    match r.call.status() {
        CallStatus::Ended(o) => assert_eq!(o.ended_by, EndedBy::Caller),
        s => panic!("call still {s:?}"),
    }
    assert!(r.sim.channels().is_empty());
    assert!(r.sim.bridges().is_empty());
}

#[tokio::test]
async fn app_hangs_up_matches_recording() {
    let r = replay("app-hangs-up.jsonl").await;
    assert!(
        r.requests_compared >= 10,
        "compared {}",
        r.requests_compared
    );
    assert_same_events(&r);
    match r.call.status() {
        CallStatus::Ended(o) => assert_eq!(
            o.ended_by,
            EndedBy::App {
                reason: None,
                reason_code: Some(16)
            }
        ),
        s => panic!("call still {s:?}"),
    }
}
