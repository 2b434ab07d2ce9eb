//! The transfer recordings replayed against the simulator in real time (FINDINGS 26-47):
//! every response (status, body keys, messages, variable values, dialplans, bridge
//! members) and every channel's events in order (types, causes, soft flags, varsets, Dial
//! statuses, dialplans, states, caller and connected lines) as Asterisk 22.10.1 gave them.
//!
//! The replays take as long as the recordings (up to 93 s) and mostly wait, so one test
//! runs them all at once and reports each recording that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use sim_support::multi::{replay_config, replay_multi};
use vca_sim::{AgentEnd, CallStatus, EndedBy};

fn ended_by(s: CallStatus) -> EndedBy {
    match s {
        CallStatus::Ended(o) => o.ended_by,
        s => panic!("call still {s:?}"),
    }
}

async fn redirect_matches_recording() {
    let mut r = replay_multi("redirect.jsonl", replay_config()).await;
    // Every response but the callers\' originates (the simulator places those).
    assert_eq!(r.responses_compared, 24);
    r.assert_same_events_per_channel();
    assert!(r.sim.channels().is_empty());
}

async fn dialplan_exists_and_variables_match_recording() {
    let mut r = replay_multi("dialplan-exists.jsonl", replay_config()).await;
    // Every response but the callers\' originates (the simulator places those).
    assert_eq!(r.responses_compared, 61);
    r.assert_same_events_per_channel();
    let call = &r.calls[0];
    assert_eq!(call.dialplan_target().as_deref(), Some("humans,100,1"));
    assert_eq!(ended_by(call.status()), EndedBy::AppContinued);
    let agents = r.sim.agents();
    assert_eq!(agents.len(), 1);
    assert!(agents[0].dialled_by_dialplan && agents[0].answered);
    assert_eq!(agents[0].ended, Some(AgentEnd::Agent));
    assert_eq!(call.agent_reached(), Some(agents[0].id.clone()));
}

async fn transfer_continue_matches_recording() {
    let mut r = replay_multi("transfer-continue.jsonl", replay_config()).await;
    // Every response but the callers\' originates (the simulator places those).
    assert_eq!(r.responses_compared, 83);
    r.assert_same_events_per_channel();
    let targets: Vec<Option<String>> = r.calls.iter().map(|c| c.dialplan_target()).collect();
    assert_eq!(
        targets,
        [
            Some("humans,100,1"),
            Some("humans,100,1"),
            Some("humans,queue,1"),
            Some("nosuchcontext,100,1"),
            Some("humans,999,1"),
            Some("humans,100,99"),
            Some("from-tata-trunk,+15559876543,3"),
        ]
        .map(|s| s.map(str::to_owned))
    );
    for c in &r.calls {
        assert_eq!(ended_by(c.status()), EndedBy::AppContinued);
    }
    // A and B talked to the agent until it hung up.
    assert!(r.calls[0].agent_reached().is_some());
    let heard = r.calls[1].heard().await.unwrap();
    assert!(
        heard.ms(vca_sim::HeardKind::Agent) >= 4000,
        "{:?}",
        heard.segments()
    );
    let queue = r.calls[2].heard().await.unwrap();
    assert!(
        queue.ms(vca_sim::HeardKind::Agent) >= 4000,
        "{:?}",
        queue.segments()
    );
}

async fn transfer_originate_bridge_matches_recording() {
    let mut r = replay_multi("transfer-originate-bridge.jsonl", replay_config()).await;
    // Every response but the callers\' originates (the simulator places those).
    assert_eq!(r.responses_compared, 54);
    r.assert_same_events_per_channel();
    let ends: Vec<Option<AgentEnd>> = r.sim.agents().iter().map(|a| a.ended).collect();
    assert_eq!(
        ends,
        [
            Some(AgentEnd::Agent),
            Some(AgentEnd::Busy),
            Some(AgentEnd::NoAnswer),
            Some(AgentEnd::Congestion),
            Some(AgentEnd::App),
        ]
    );
    // Call 1: MOH from the digit to the swap, then the agent's prompt.
    let heard = r.calls[0].heard().await.unwrap();
    assert!(
        heard.ms_between(vca_sim::HeardKind::Moh, 3800, 7600) >= 3600,
        "{:?}",
        heard.segments()
    );
    assert!(
        heard.ms_between(vca_sim::HeardKind::Agent, 7800, 11800) >= 3800,
        "{:?}",
        heard.segments()
    );
}

async fn hangup_during_transfer_matches_recording() {
    let mut r = replay_multi("hangup-during-transfer.jsonl", replay_config()).await;
    // Every response but the callers\' originates (the simulator places those).
    assert_eq!(r.responses_compared, 49);
    r.assert_same_events_per_channel();
    let ends: Vec<Option<AgentEnd>> = r.sim.agents().iter().map(|a| a.ended).collect();
    assert_eq!(
        ends,
        [
            Some(AgentEnd::App),
            Some(AgentEnd::NoAnswer),
            Some(AgentEnd::App),
            Some(AgentEnd::Agent),
        ]
    );
    assert_eq!(ended_by(r.calls[0].status()), EndedBy::Caller);
    assert_eq!(ended_by(r.calls[2].status()), EndedBy::Caller);
}

async fn moh_methods_match_recording() {
    let mut r = replay_multi("moh-methods.jsonl", replay_config()).await;
    // Every response but the callers\' originates (the simulator places those).
    assert_eq!(r.responses_compared, 40);
    r.assert_same_events_per_channel();
    let heard = r.calls[0].heard().await.unwrap();
    // (a) channel MOH, (b) out of the bridge, (c) bridge MOH, (d) hold: 3 s each.
    for (from, to) in [(1100, 3900), (5100, 7900), (8800, 11600), (12500, 15300)] {
        assert!(
            heard.ms_between(vca_sim::HeardKind::Moh, from, to) >= to - from - 100,
            "{from}-{to}: {:?}",
            heard.segments()
        );
    }
}

async fn dtmf_keys_match_recording() {
    let mut r = replay_multi("dtmf-keys.jsonl", replay_config()).await;
    // Every response but the callers\' originates (the simulator places those).
    assert_eq!(r.responses_compared, 33);
    r.assert_same_events_per_channel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_recordings_match() {
    let mut set = tokio::task::JoinSet::new();
    set.spawn(async {
        (
            "transfer-originate-bridge",
            tokio::spawn(transfer_originate_bridge_matches_recording()).await,
        )
    });
    set.spawn(async {
        (
            "transfer-continue",
            tokio::spawn(transfer_continue_matches_recording()).await,
        )
    });
    set.spawn(async {
        (
            "hangup-during-transfer",
            tokio::spawn(hangup_during_transfer_matches_recording()).await,
        )
    });
    set.spawn(async { ("dtmf-keys", tokio::spawn(dtmf_keys_match_recording()).await) });
    set.spawn(async {
        (
            "moh-methods",
            tokio::spawn(moh_methods_match_recording()).await,
        )
    });
    set.spawn(async {
        (
            "dialplan-exists",
            tokio::spawn(dialplan_exists_and_variables_match_recording()).await,
        )
    });
    set.spawn(async { ("redirect", tokio::spawn(redirect_matches_recording()).await) });
    let mut failed = Vec::new();
    while let Some(done) = set.join_next().await {
        let (name, result) = done.unwrap();
        if let Err(e) = result {
            let msg = match e.try_into_panic() {
                Ok(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            failed.push(format!("{name}.jsonl: {msg}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}
