//! Scripting a transfer call for daemon tests: agent behaviour per endpoint (FINDINGS 39:
//! busy, no answer, congestion; an unknown technology fails at once), caller hang-ups on
//! events (46: while the agent rings; 47: while bridged with the agent), the agent hanging
//! up first (37), a tenant's own dialplan target after `continue`, and the `/sim` control
//! API for all of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sim_support::{EventStream, bridged_call, http, test_config};
use vca_sim::{
    AgentBehaviour, AgentEnd, CallSpec, CallStatus, EndedBy, HangupWhen, HeardKind, SimConfig,
    Simulator, Trigger,
};

async fn req(m: reqwest::Method, url: String) -> (u16, Value) {
    let r = http()
        .request(m, url)
        .basic_auth("vca", Some("vca-secret"))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let t = r.text().await.unwrap();
    (s, serde_json::from_str(&t).unwrap_or(Value::Null))
}

fn types_of(evs: &[Value], channel: &str) -> Vec<String> {
    evs.iter()
        .filter(|e| e["channel"]["id"] == channel || e["peer"]["id"] == channel)
        .map(|e| {
            let mut t = e["type"].as_str().unwrap().to_owned();
            if let Some(s) = e["dialstatus"].as_str() {
                t = format!("{t}({s})");
            }
            if let Some(c) = e["cause"].as_i64() {
                t = format!("{t}({c})");
            }
            t
        })
        .collect()
}

async fn collect(ev: &mut EventStream, d: Duration) -> Vec<Value> {
    tokio::time::sleep(d).await;
    ev.drain()
}

#[tokio::test]
async fn endpoint_behaviours_and_unknown_technology() {
    let sim = Simulator::start(test_config()).await.unwrap();
    let mut ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    sim.set_agent("PJSIP/1001", AgentBehaviour::Busy);
    sim.set_agent("PJSIP/1002", AgentBehaviour::Congestion);
    let ari = sim.ari_url();
    let (s, body) = req(
        reqwest::Method::POST,
        format!("{ari}/channels?endpoint=PJSIP%2F1001&app=vca-bridge&channelId=busy-1"),
    )
    .await;
    assert_eq!(
        (
            s,
            body["name"].as_str().map(|n| n.starts_with("PJSIP/1001-"))
        ),
        (200, Some(true))
    );
    let (s, _) = req(
        reqwest::Method::POST,
        format!("{ari}/channels?endpoint=PJSIP%2F1002&app=vca-bridge&channelId=cong-1"),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = req(
        reqwest::Method::POST,
        format!("{ari}/channels?endpoint=PJSIP%2F9999&app=vca-bridge"),
    )
    .await;
    assert_eq!((s, body), (500, json!({ "error": "Allocation failed" })));
    let call = sim.place_call(CallSpec::new("+15559876543", "+15551234567"));
    let (s, body) = req(
        reqwest::Method::POST,
        format!(
            "{ari}/channels?endpoint=Local%2F100%40agent-sim&app=vca-bridge&channelId={}",
            call.id()
        ),
    )
    .await;
    assert_eq!(
        (s, body["message"].as_str()),
        (409, Some("Channel with given unique ID already exists"))
    );
    let evs = collect(&mut ev, Duration::from_millis(200)).await;
    // A mapped endpoint has no visible ;2 leg: only the ;1 events of the recorded sequence.
    assert_eq!(
        types_of(&evs, "busy-1"),
        ["Dial()", "Dial(BUSY)", "ChannelDestroyed(0)"]
    );
    assert_eq!(
        types_of(&evs, "cong-1"),
        ["Dial()", "Dial(CONGESTION)", "ChannelDestroyed(0)"]
    );
    let ends: Vec<_> = sim.agents().iter().map(|a| a.ended).collect();
    assert_eq!(ends, [Some(AgentEnd::Busy), Some(AgentEnd::Congestion)]);
    assert_eq!(
        sim.channels().len(),
        2,
        "only the caller's two legs are left"
    );
}

#[tokio::test]
async fn caller_hangs_up_while_the_agent_rings_and_the_leg_rings_out() {
    let sim = Simulator::start(test_config()).await.unwrap();
    let mut ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let spec = CallSpec::new("+15559876543", "+15551234567").hangup(HangupWhen::On(
        Trigger::AgentRinging,
        Duration::from_millis(300),
    ));
    let mut leg = bridged_call(&sim, spec, "ulaw").await;
    let ari = sim.ari_url();
    let (s, _) = req(
        reqwest::Method::POST,
        format!(
            "{ari}/channels?endpoint=Local%2Fnoanswer%40agent-sim&app=vca-bridge&appArgs=transfer%2C{}&timeout=2&channelId=ring-1",
            leg.call.id()
        ),
    )
    .await;
    assert_eq!(s, 200);
    let out = tokio::time::timeout(Duration::from_secs(2), leg.call.ended())
        .await
        .unwrap();
    assert_eq!(out.ended_by, EndedBy::Caller);
    // The leg keeps ringing after the caller left (FINDINGS 46)…
    assert_eq!(sim.agent("ring-1").unwrap().state, "ringing");
    let (_, c) = req(reqwest::Method::GET, format!("{ari}/channels/ring-1")).await;
    assert_eq!(c["state"], "Ringing");
    // …until the originate timeout.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(sim.agent("ring-1").unwrap().ended, Some(AgentEnd::NoAnswer));
    let evs = ev.drain();
    assert_eq!(
        types_of(&evs, "ring-1"),
        [
            "Dial()",
            "ChannelStateChange",
            "Dial(RINGING)",
            "ChannelDestroyed(19)"
        ]
    );
}

#[tokio::test]
async fn caller_hangs_up_while_bridged_then_the_agent_hangs_up_first_in_another_call() {
    let sim = Simulator::start(test_config()).await.unwrap();
    let mut ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let talker = AgentBehaviour::Answer {
        ring: Duration::from_millis(200),
        speech: Some(Arc::from(vec![4000i16; 8000])),
        after_speech: None,
    };
    sim.set_agent("PJSIP/2001", talker);
    let ari = sim.ari_url();
    let spec = CallSpec::new("+15559876543", "+15551234567").hangup(HangupWhen::On(
        Trigger::BridgedWithAgent,
        Duration::from_millis(300),
    ));
    let mut leg = bridged_call(&sim, spec, "ulaw").await;
    let originate = |id: &str, call: &str| {
        format!(
            "{ari}/channels?endpoint=PJSIP%2F2001&app=vca-bridge&appArgs=transfer%2C{call}&channelId={id}"
        )
    };
    assert_eq!(
        req(reqwest::Method::POST, originate("a-1", leg.call.id()))
            .await
            .0,
        200
    );
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|e: &Value| e["type"] == "StasisStart" && e["channel"]["id"] == "a-1")
    {
        seen.push(ev.next().await.unwrap());
    }
    assert!(leg.call.milestones().agent_answered);
    let add = format!("{ari}/bridges/{}/addChannel?channel=a-1", leg.bridge_id);
    assert_eq!(req(reqwest::Method::POST, add).await.0, 204);
    let out = tokio::time::timeout(Duration::from_secs(2), leg.call.ended())
        .await
        .unwrap();
    assert_eq!(out.ended_by, EndedBy::Caller);
    // The agent stays up in the bridge until the app hangs it up (FINDINGS 47).
    let (_, b) = req(
        reqwest::Method::GET,
        format!("{ari}/bridges/{}", leg.bridge_id),
    )
    .await;
    let mut members = vec![leg.em_id.clone(), "a-1".to_owned()];
    members.sort();
    assert_eq!(b["channels"], json!(members));
    assert_eq!(sim.agent("a-1").unwrap().state, "up");
    ev.drain();
    assert_eq!(
        req(reqwest::Method::DELETE, format!("{ari}/channels/a-1"))
            .await
            .0,
        204
    );
    let evs = collect(&mut ev, Duration::from_millis(100)).await;
    assert_eq!(
        types_of(&evs, "a-1"),
        [
            "ChannelHangupRequest(32)",
            "ChannelVarset",
            "ChannelLeftBridge",
            "StasisEnd",
            "ChannelVarset",
            "ChannelDestroyed(16)"
        ]
    );
    assert_eq!(sim.agent("a-1").unwrap().ended, Some(AgentEnd::App));

    // Another call: the agent hangs up first; the caller stays alone in the bridge.
    let leg2 = bridged_call(&sim, CallSpec::new("+15559876543", "+15551234567"), "ulaw").await;
    assert_eq!(
        req(reqwest::Method::POST, originate("a-2", leg2.call.id()))
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rm = format!(
        "{ari}/bridges/{}/removeChannel?channel={}",
        leg2.bridge_id, leg2.em_id
    );
    assert_eq!(req(reqwest::Method::POST, rm).await.0, 204);
    let add = format!("{ari}/bridges/{}/addChannel?channel=a-2", leg2.bridge_id);
    assert_eq!(req(reqwest::Method::POST, add).await.0, 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    sim.hangup_agent("a-2").unwrap();
    let (_, b) = req(
        reqwest::Method::GET,
        format!("{ari}/bridges/{}", leg2.bridge_id),
    )
    .await;
    assert_eq!(b["channels"], json!([leg2.call.id()]));
    assert!(matches!(leg2.call.status(), CallStatus::Up));
    assert_eq!(sim.agent("a-2").unwrap().ended, Some(AgentEnd::Agent));
    let heard = leg2.call.heard().await.unwrap();
    assert!(heard.ms(HeardKind::Agent) >= 400, "{:?}", heard.segments());
}

#[tokio::test]
async fn continue_to_a_tenant_target_keeps_the_caller_with_the_human() {
    let mut config = SimConfig { ..test_config() };
    config
        .dialplan
        .add_dial_target("tenant-7", "sales", "PJSIP/2000", 20);
    config.agents.insert(
        "PJSIP/2000".to_owned(),
        AgentBehaviour::Answer {
            ring: Duration::from_millis(300),
            speech: None,
            after_speech: None,
        },
    );
    let sim = Simulator::start(config).await.unwrap();
    let _ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let spec = CallSpec::new("+15559876543", "+15551234567")
        .speech(vec![6000i16; 8000 * 6])
        .hangup(HangupWhen::On(
            Trigger::BridgedWithAgent,
            Duration::from_millis(1500),
        ));
    let mut leg = bridged_call(&sim, spec, "ulaw").await;
    let ari = sim.ari_url();
    let id = leg.call.id().to_owned();
    let var = |v: &str| format!("{ari}/channels/{id}/variable?variable={v}");
    let (_, v) = req(
        reqwest::Method::GET,
        var("DIALPLAN_EXISTS(tenant-7%2Csales%2C1)"),
    )
    .await;
    assert_eq!(v["value"], "1");
    let (_, v) = req(
        reqwest::Method::GET,
        var("DIALPLAN_EXISTS(tenant-7%2Cnone%2C1)"),
    )
    .await;
    assert_eq!(v["value"], "0");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let url = format!("{ari}/channels/{id}/continue?context=tenant-7&extension=sales&priority=1");
    assert_eq!(req(reqwest::Method::POST, url).await.0, 204);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, c) = req(reqwest::Method::GET, format!("{ari}/channels/{id}")).await;
    assert_eq!(c["dialplan"]["app_name"], "Dial");
    assert_eq!(c["dialplan"]["app_data"], "PJSIP/2000,20");
    let (_, v) = req(reqwest::Method::GET, var("DIALSTATUS")).await;
    assert_eq!(v["value"], "ANSWER");
    let out = tokio::time::timeout(Duration::from_secs(4), leg.call.ended())
        .await
        .unwrap();
    assert_eq!(out.ended_by, EndedBy::Caller);
    assert_eq!(
        leg.call.dialplan_target().as_deref(),
        Some("tenant-7,sales,1")
    );
    let agent = leg.call.agent_reached().unwrap();
    let view = sim.agent(&agent).unwrap();
    assert!(view.dialled_by_dialplan && view.answered);
    assert_eq!(view.ended, Some(AgentEnd::Caller));
    let heard = leg.call.heard().await.unwrap();
    assert!(heard.ms(HeardKind::Agent) >= 1400, "{:?}", heard.segments());
    assert!(sim.agent_heard(&agent).unwrap().ms(HeardKind::Caller) >= 1400);
}

#[tokio::test]
async fn control_api_scripts_agents_keys_and_hangup_triggers() {
    let sim = Simulator::start(test_config()).await.unwrap();
    let mut ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let ctl = sim.control_url();
    let c = http();
    let r = c
        .post(format!("{ctl}/agents"))
        .json(&json!({ "endpoint": "PJSIP/3000", "behaviour": "answer:100:never" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .post(format!("{ctl}/agents"))
        .json(&json!({ "endpoint": "PJSIP/3001", "behaviour": "sometimes" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let placed: Value = c
        .post(format!("{ctl}/calls"))
        .json(&json!({
            "did": "+15559876543", "caller": "+15551234567",
            "keys": [{ "at_ms": 100, "digits": "1w2" }],
            "hangup_on": "continued", "hangup_on_delay_ms": 300,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_str().unwrap().to_owned();
    let mut digits = Vec::new();
    while digits.len() < 2 {
        let e = ev.next().await.unwrap();
        if e["type"] == "ChannelDtmfReceived" {
            digits.push(e["digit"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(digits, ["1", "2"]);
    let ari = sim.ari_url();
    let url = format!("{ari}/channels/{id}/continue?context=humans&extension=queue&priority=1");
    assert_eq!(req(reqwest::Method::POST, url).await.0, 204);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let view: Value = c
        .get(format!("{ctl}/calls/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"]["status"], "ended");
    assert_eq!(view["status"]["ended_by"]["by"], "caller");
    assert_eq!(view["dialplan_target"], "humans,queue,1");
    assert_eq!(view["milestones"]["continued"], true);
    let heard: Value = c
        .get(format!("{ctl}/calls/{id}/heard"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(heard["agent_ms"].as_u64().unwrap() >= 200, "{heard}");
    let agents: Value = c
        .get(format!("{ctl}/agents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(agents, json!([]));
}
