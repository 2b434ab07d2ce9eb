//! Restart (asterisk-restart.jsonl, FINDINGS 18) and app disconnect (app-disconnect.jsonl,
//! FINDINGS 19-20) behave as recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use sim_support::{
    EventStream, assert_event_matches, bridged_call, http, recorded_events, tcp_open, test_config,
    transcript,
};
use vca_sim::{CallSpec, CallStatus, EndedBy, RestartSpec, Simulator};

async fn get(url: String) -> (u16, Value) {
    let r = http()
        .get(url)
        .basic_auth("vca", Some("vca-secret"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum Upgrade {
    Refused,
    NotFound,
    Open,
}

#[tokio::test]
async fn restart_hangs_up_everything_drops_the_socket_and_forgets() {
    let lines = transcript("asterisk-restart.jsonl");
    // The recorded hangup sequence: events between the restart note and the socket drop.
    let start = lines
        .iter()
        .position(|l| {
            l["note"]
                .as_str()
                .is_some_and(|n| n.starts_with("restarting"))
        })
        .unwrap();
    let end = lines
        .iter()
        .position(|l| l["dir"] == "ws" && l["state"] == "error")
        .unwrap();
    let expected = recorded_events(&lines[start..end], None);
    assert_eq!(expected.len(), 11);

    let sim = Arc::new(Simulator::start(test_config()).await.unwrap());
    let mut ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let leg = bridged_call(&sim, CallSpec::new("+15559876543", "+15551234567"), "ulaw").await;
    let before = ev.until("ChannelConnectedLine").await.len();
    let _ = ev.until("ChannelConnectedLine").await;
    assert!(before > 0);

    let spec = RestartSpec {
        drop_after: Duration::from_millis(50),
        refused_for: Duration::from_millis(400),
        not_ready_for: Duration::from_millis(400),
    };
    let restarting = tokio::spawn({
        let sim = sim.clone();
        async move { sim.restart(spec).await }
    });
    let mut live = Vec::new();
    while let Some(e) = ev.next().await {
        live.push(e);
    }
    assert!(
        !ev.closed_cleanly.load(Ordering::SeqCst),
        "dropped without a close frame"
    );
    let ids: HashMap<String, String> = [
        ("1795270396.33".to_owned(), leg.call.id().to_owned()),
        ("1795270396.35".to_owned(), leg.em_id.clone()),
    ]
    .into();
    let types = |v: &[Value]| {
        v.iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(types(&live), types(&expected));
    for (i, (l, e)) in live.iter().zip(&expected).enumerate() {
        assert_event_matches(l, e, &ids, i);
    }

    // Reconnect attempts see: connection refused, then 404 on upgrade, then success.
    let mut seen = Vec::new();
    for _ in 0..2000 {
        let state = if !tcp_open(sim.addr()).await {
            Upgrade::Refused
        } else {
            match tokio_tungstenite::connect_async(sim.events_url()).await {
                Ok(_) => Upgrade::Open,
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 404 => {
                    Upgrade::NotFound
                }
                Err(e) => panic!("{e}"),
            }
        };
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        if state == Upgrade::Open {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        seen,
        vec![Upgrade::Refused, Upgrade::NotFound, Upgrade::Open]
    );
    restarting.await.unwrap();

    let _ev2 = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let ari = sim.ari_url();
    assert_eq!(
        get(format!("{ari}/channels")).await,
        (200, Value::Array(vec![]))
    );
    assert_eq!(
        get(format!("{ari}/bridges")).await,
        (200, Value::Array(vec![]))
    );
    let (s, app) = get(format!("{ari}/applications/vca-bridge")).await;
    assert_eq!(s, 200);
    assert_eq!(app["channel_ids"], Value::Array(vec![]));
    assert_eq!(
        get(format!("{ari}/channels/{}", leg.call.id())).await.0,
        404
    );
    assert_eq!(get(format!("{ari}/channels/{}", leg.em_id)).await.0, 404);
    match leg.call.status() {
        CallStatus::Ended(o) => assert_eq!(o.ended_by, EndedBy::Restart),
        s => panic!("{s:?}"),
    }
    // Ids start again from 0 and new calls work at once.
    let next = sim.place_call(CallSpec::new("+15559876543", "+15551234567"));
    assert!(next.id().ends_with(".0"), "{}", next.id());
    assert_eq!(next.status(), CallStatus::Up);
}

#[tokio::test]
async fn app_disconnect_keeps_channels_discards_events_and_resumes_without_replay() {
    let sim = Simulator::start(test_config()).await.unwrap();
    let mut ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let leg = bridged_call(&sim, CallSpec::new("+15559876543", "+15551234567"), "ulaw").await;
    let _ = ev.until("ChannelConnectedLine").await;
    let _ = ev.until("ChannelConnectedLine").await;

    assert!(sim.drop_websocket());
    assert!(ev.next().await.is_none());
    assert!(!ev.closed_cleanly.load(Ordering::SeqCst));
    // Channels, bridge and RTP continue; events meanwhile are discarded.
    leg.call.send_dtmf("7", 100).await.unwrap();
    let mut buf = [0u8; 256];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), leg.rtp.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 172);
    let ari = sim.ari_url();
    let (s, app) = get(format!("{ari}/applications/vca-bridge")).await;
    assert_eq!(s, 200);
    assert_eq!(app["channel_ids"].as_array().unwrap().len(), 2);
    assert_eq!(app["bridge_ids"][0], leg.bridge_id.as_str());
    let (_, chans) = get(format!("{ari}/channels")).await;
    assert_eq!(
        chans.as_array().unwrap().len(),
        3,
        "inbound, caller leg and External Media"
    );

    let mut ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    // No replay: the first event after reconnecting is the next thing that happens.
    leg.call.hangup().unwrap();
    let first = ev.next().await.unwrap();
    assert_eq!(first["type"], "ChannelHangupRequest");
    assert_eq!(first["cause"], 16);
    let rest = ev.until("StasisEnd").await;
    assert_eq!(rest.len(), 3);
}

#[tokio::test]
async fn call_without_the_app_fails_at_once_and_refused_websocket_gets_404() {
    let sim = Simulator::start(test_config()).await.unwrap();
    let mut never = sim.place_call(CallSpec::new("+15559876543", "+15551234567"));
    let o = never.ended().await;
    assert_eq!(o.ended_by, EndedBy::NoApp);
    assert!(!o.entered_stasis);
    assert!(sim.channels().is_empty());

    // A clean disconnect with no channels destroys the app.
    {
        let (mut ws, _) = tokio_tungstenite::connect_async(sim.events_url())
            .await
            .unwrap();
        sim.wait_websocket().await;
        ws.close(None).await.unwrap();
    }
    while sim.websocket_connected() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        get(format!("{}/applications/vca-bridge", sim.ari_url()))
            .await
            .0,
        404
    );
    let mut after = sim.place_call(CallSpec::new("+15559876543", "+15551234567"));
    assert_eq!(after.ended().await.ended_by, EndedBy::NoApp);

    sim.refuse_websocket(Duration::from_secs(30));
    match tokio_tungstenite::connect_async(sim.events_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 404),
        other => panic!("{other:?}"),
    }
    sim.refuse_websocket(Duration::ZERO);
    assert!(
        tokio_tungstenite::connect_async(sim.events_url())
            .await
            .is_ok()
    );
}
