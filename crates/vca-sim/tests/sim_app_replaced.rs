//! Two events WebSockets for one application (FINDINGS 48, application-replaced.jsonl):
//! the older gets `ApplicationReplaced` and stays open and silent, every later event goes
//! to the newest, a new connection from the first client takes the application back the
//! same way, and closing a replaced connection changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use sim_support::multi::assert_like;
use sim_support::{http, test_config, transcript};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use vca_sim::{CallSpec, Simulator};

/// A WebSocket client that can be closed.
struct Conn {
    rx: mpsc::UnboundedReceiver<Value>,
    close: Option<tokio::sync::oneshot::Sender<()>>,
    closed: tokio::sync::oneshot::Receiver<bool>,
}

impl Conn {
    async fn open(url: &str) -> Conn {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let (mut sink, mut stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let (close_tx, mut close_rx) = tokio::sync::oneshot::channel::<()>();
        let (closed_tx, closed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let by_server = loop {
                tokio::select! {
                    _ = &mut close_rx => {
                        let _ = sink.send(Message::Close(None)).await;
                        break false;
                    }
                    m = stream.next() => match m {
                        Some(Ok(Message::Text(t))) => {
                            let _ = tx.send(serde_json::from_str(&t).unwrap());
                        }
                        Some(Ok(_)) => {}
                        _ => break true,
                    }
                }
            };
            let _ = closed_tx.send(by_server);
        });
        Conn {
            rx,
            close: Some(close_tx),
            closed,
        }
    }

    /// Events received within `d`.
    async fn events_within(&mut self, d: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            out.push(ev);
        }
        out
    }

    /// The connection is still open (the server has not closed it).
    fn open_still(&mut self) -> bool {
        matches!(
            self.closed.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty)
        )
    }

    async fn close(mut self) {
        if let Some(c) = self.close.take() {
            let _ = c.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.closed).await;
    }
}

fn recorded(conn: &str) -> Vec<Value> {
    transcript("application-replaced.jsonl")
        .into_iter()
        .filter(|l| l["dir"] == "event" && l["conn"] == conn)
        .map(|l| l["event"].clone())
        .collect()
}

#[tokio::test]
async fn application_replaced_matches_recording() {
    let sim = Simulator::start(test_config()).await.unwrap();
    let c = http();
    let ari = sim.ari_url();
    let send = |m: reqwest::Method, path: String| {
        c.request(m, format!("{ari}{path}"))
            .basic_auth("vca", Some("vca-secret"))
            .send()
    };
    let mut a = Conn::open(&sim.events_url()).await;
    sim.wait_websocket().await;
    let call = sim.place_call(CallSpec::new("+15559876543", "+15551234567").caller_exten("long"));
    let id = call.id().to_owned();
    let r = send(reqwest::Method::POST, format!("/channels/{id}/answer"))
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = send(
        reqwest::Method::POST,
        "/bridges?type=mixing&bridgeId=rep-br-1".into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = send(
        reqwest::Method::POST,
        format!("/bridges/rep-br-1/addChannel?channel={id}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let mut a_events = a.events_within(Duration::from_millis(200)).await;

    // B connects: A is told, stays open, and hears nothing more.
    let mut b = Conn::open(&sim.events_url()).await;
    a_events.extend(a.events_within(Duration::from_millis(300)).await);
    let r: Value = send(reqwest::Method::GET, "/applications/vca-bridge".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["channel_ids"], serde_json::json!([id]));
    assert_eq!(r["bridge_ids"], serde_json::json!(["rep-br-1"]));
    let r = send(reqwest::Method::DELETE, format!("/channels/{id}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let mut b_events = b.events_within(Duration::from_millis(300)).await;
    assert!(a.events_within(Duration::from_millis(100)).await.is_empty());
    assert!(a.open_still(), "the replaced connection must stay open");
    assert_eq!(sim.websockets_open(), 2);

    // A reconnects (a fresh WebSocket): B is replaced the same way.
    a.close().await;
    let mut a2 = Conn::open(&sim.events_url()).await;
    b_events.extend(b.events_within(Duration::from_millis(300)).await);
    // B closes: A2 keeps the application.
    b.close().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.websockets_open(), 1);
    let call2 = sim.place_call(CallSpec::new("+15559876543", "+15551234567"));
    let id2 = call2.id().to_owned();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = send(reqwest::Method::DELETE, format!("/channels/{id2}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = send(reqwest::Method::DELETE, "/bridges/rep-br-1".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let a2_events = a2.events_within(Duration::from_millis(300)).await;

    let rec_call2 = transcript("application-replaced.jsonl")
        .iter()
        .filter(|l| l["dir"] == "response" && l["path"] == "/channels")
        .filter_map(|l| l["body"]["id"].as_str().map(str::to_owned))
        .collect::<Vec<_>>();
    let ids: HashMap<String, String> = [
        (rec_call2[0].clone(), id.clone()),
        (rec_call2[1].clone(), id2.clone()),
        ("rep-br-1".to_owned(), "rep-br-1".to_owned()),
    ]
    .into();
    for (conn, live) in [("A", &a_events), ("B", &b_events), ("A2", &a2_events)] {
        let rec = recorded(conn);
        let lt: Vec<&str> = live.iter().map(|e| e["type"].as_str().unwrap()).collect();
        let rt: Vec<&str> = rec.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(lt, rt, "events on {conn}");
        for (n, (l, r)) in live.iter().zip(&rec).enumerate() {
            assert_like(l, r, &ids, &format!("{conn} #{n}"));
        }
    }
    a2.close().await;
}
