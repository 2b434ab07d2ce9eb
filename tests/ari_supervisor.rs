//! The event WebSocket supervisor against tiny local WebSocket servers on 127.0.0.1: ordered
//! delivery, skipping malformed frames, reconnects after a drop, a 404 upgrade, refused
//! connections and a dead (unresponsive) peer, the 401 report, shutdown, and the pure backoff.
//!
//! No assertion depends on how long anything took; the intervals are shortened only so the
//! tests finish quickly, and every wait has a generous guard so a bug fails instead of hanging.

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use vca_bridge::ari::{
    AriConfig, AriEvent, AriPassword, AriStreamItem, BackoffPolicy, ConnectionState,
    DisconnectReason, EventsEndpoint, ShutdownOutcome, SupervisorConfig, SupervisorHandle,
    spawn_supervisor,
};

/// Guard against hangs only; never a behavioural threshold.
const GUARD: Duration = Duration::from_secs(20);

const STASIS_START: &str = r#"{"type":"StasisStart","timestamp":"2026-11-21T14:09:38.819+0000","args":[],"channel":{"id":"1795270178.0","name":"Local/s@caller-sim-00000000;1","state":"Up","protocol_id":"","caller":{"name":"","number":"+15551234567"},"connected":{"name":"","number":"+15551234567"},"accountcode":"","dialplan":{"context":"from-tata-trunk","exten":"+15559876543","priority":2,"app_name":"Stasis","app_data":"vca-bridge"},"creationtime":"2026-11-21T14:09:38.816+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"vca-bridge"}"#;

fn dtmf(digit: &str) -> String {
    format!(
        r#"{{"type":"ChannelDtmfReceived","timestamp":"t","digit":"{digit}","duration_ms":100,"channel":{{"id":"1795270178.0"}},"application":"vca-bridge"}}"#
    )
}

fn fast_config() -> SupervisorConfig {
    SupervisorConfig {
        connect_timeout: Duration::from_secs(5),
        ping_interval: Duration::from_millis(50),
        dead_after: Duration::from_millis(250),
        write_timeout: Duration::from_secs(1),
        backoff: BackoffPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        stable_after: Duration::from_secs(60),
        event_capacity: 16,
        max_message_bytes: 1 << 20,
    }
}

fn endpoint(port: u16, password: &str) -> EventsEndpoint {
    EventsEndpoint::from_config(&AriConfig::new(
        format!("http://127.0.0.1:{port}/ari"),
        "vca",
        AriPassword::new(password),
        "vca-bridge",
    ))
    .unwrap()
}

fn start(port: u16, config: SupervisorConfig) -> (SupervisorHandle, mpsc::Receiver<AriStreamItem>) {
    spawn_supervisor(
        endpoint(port, "vca-secret"),
        config,
        CancellationToken::new(),
    )
}

async fn guarded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

/// Accepts one WebSocket and checks the request carried app and (encoded) api_key.
// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn accept_ws(listener: &TcpListener) -> WebSocketStream<TcpStream> {
    let (stream, _) = listener.accept().await.unwrap();
    tokio_tungstenite::accept_hdr_async(
        stream,
        |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
         response: tokio_tungstenite::tungstenite::handshake::server::Response| {
            assert_eq!(request.uri().path(), "/ari/events");
            assert_eq!(
                request.uri().query(),
                Some("app=vca-bridge&api_key=vca%3Avca-secret")
            );
            Ok(response)
        },
    )
    .await
    .unwrap()
}

/// Accepts one TCP connection, reads the upgrade request and answers with a plain HTTP status.
async fn answer_http(listener: &TcpListener, status_line: &str, body: &str) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "client closed before sending its request");
        request.extend_from_slice(&buf[..n]);
    }
    let response = format!(
        "HTTP/1.1 {status_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
}

async fn next_item(rx: &mut mpsc::Receiver<AriStreamItem>) -> AriStreamItem {
    guarded("an item", rx.recv()).await.expect("channel open")
}

async fn expect_connected(rx: &mut mpsc::Receiver<AriStreamItem>, reconnect: bool) {
    match next_item(rx).await {
        AriStreamItem::Connected { reconnect: got, .. } => assert_eq!(got, reconnect),
        other => panic!("expected Connected, got {other:?}"),
    }
}

async fn expect_event(rx: &mut mpsc::Receiver<AriStreamItem>) -> AriEvent {
    match next_item(rx).await {
        AriStreamItem::Event(message) => message.event,
        other => panic!("expected an event, got {other:?}"),
    }
}

async fn wait_state(
    state: &mut watch::Receiver<ConnectionState>,
    what: &str,
    pred: impl FnMut(&ConnectionState) -> bool,
) -> ConnectionState {
    guarded(what, state.wait_for(pred)).await.unwrap().clone()
}

#[tokio::test]
async fn events_arrive_in_order_and_bad_frames_are_skipped() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handle, mut rx) = start(port, fast_config());
    let mut server = accept_ws(&listener).await;
    for frame in [
        STASIS_START.to_owned(),
        "{this is not json".to_owned(),
        dtmf("1"),
        r#"{"type":"DeviceStateChanged","application":"vca-bridge","timestamp":"t","device_state":{"name":"x","state":"INUSE"}}"#.to_owned(),
        r#"{"type":"StasisStart","application":"vca-bridge"}"#.to_owned(),
        dtmf("2"),
        r#"[1,2,3]"#.to_owned(),
        dtmf("#"),
    ] {
        server.send(Message::text(frame)).await.unwrap();
    }
    expect_connected(&mut rx, false).await;
    match expect_event(&mut rx).await {
        AriEvent::StasisStart(start) => assert_eq!(start.channel.dialplan.exten, "+15559876543"),
        other => panic!("{other:?}"),
    }
    let mut digits = Vec::new();
    let mut unknown = Vec::new();
    while digits.len() < 3 {
        match expect_event(&mut rx).await {
            AriEvent::ChannelDtmfReceived(d) => digits.push(d.digit),
            AriEvent::Unknown { type_name } => unknown.push(type_name),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(digits, ["1", "2", "#"]);
    // Unknown types are delivered as Unknown (the call layer ignores them); malformed frames
    // and a StasisStart without its channel are dropped.
    assert_eq!(unknown, ["DeviceStateChanged"]);
    assert!(handle.state().borrow().is_connected());
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn drop_without_close_frame_reconnects_with_a_new_notification() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handle, mut rx) = start(port, fast_config());

    let mut first = accept_ws(&listener).await;
    first.send(Message::text(dtmf("1"))).await.unwrap();
    expect_connected(&mut rx, false).await;
    assert!(matches!(
        expect_event(&mut rx).await,
        AriEvent::ChannelDtmfReceived(_)
    ));
    // Like Asterisk on SIGTERM: the TCP connection goes away without a close frame.
    drop(first);

    let mut second = accept_ws(&listener).await;
    second.send(Message::text(dtmf("2"))).await.unwrap();
    expect_connected(&mut rx, true).await;
    match expect_event(&mut rx).await {
        AriEvent::ChannelDtmfReceived(d) => assert_eq!(d.digit, "2"),
        other => panic!("{other:?}"),
    }
    assert_eq!(handle.reconnects(), 1);
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn http_404_on_upgrade_is_not_yet_then_connects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handle, mut rx) = start(port, fast_config());
    let mut state = handle.state();
    answer_http(&listener, "404 Not Found", r#"{"message":"Not found"}"#).await;
    let seen = wait_state(&mut state, "the 404 report", |s| {
        matches!(s, ConnectionState::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(
            &seen,
            ConnectionState::Disconnected { reason: DisconnectReason::NotYetAvailable { detail }, .. }
                if detail == "HTTP 404"
        ),
        "{seen:?}"
    );
    let _server = accept_ws(&listener).await;
    expect_connected(&mut rx, false).await;
    assert_eq!(handle.reconnects(), 0);
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn refused_connections_until_the_server_appears() {
    // A port with no listener: bind, note it, close.
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap().port()
    };
    let (handle, mut rx) = start(port, fast_config());
    let mut state = handle.state();
    // Several refusals in a row. Each `changed()` that lands on Disconnected is a new cycle
    // (the value went through Connecting since we last looked).
    let mut refusals = 0;
    while refusals < 3 {
        guarded("a state change", state.changed()).await.unwrap();
        let seen = state.borrow_and_update().clone();
        if let ConnectionState::Disconnected { reason, retry_in } = seen {
            assert_eq!(
                reason,
                DisconnectReason::NotYetAvailable {
                    detail: "connection refused".to_owned()
                }
            );
            assert!(retry_in <= Duration::from_millis(100), "{retry_in:?}");
            refusals += 1;
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let _server = accept_ws(&listener).await;
    expect_connected(&mut rx, false).await;
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn unanswered_pings_are_detected_and_replaced() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handle, mut rx) = start(port, fast_config());
    let mut state = handle.state();
    // The first server accepts, then never reads again: pings get no pong, nothing arrives.
    let _silent = accept_ws(&listener).await;
    expect_connected(&mut rx, false).await;
    let seen = wait_state(&mut state, "the dead-connection report", |s| {
        matches!(s, ConnectionState::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(
            seen,
            ConnectionState::Disconnected {
                reason: DisconnectReason::KeepaliveTimeout,
                ..
            }
        ),
        "{seen:?}"
    );
    let mut second = accept_ws(&listener).await;
    expect_connected(&mut rx, true).await;
    second.send(Message::text(dtmf("5"))).await.unwrap();
    assert!(matches!(
        expect_event(&mut rx).await,
        AriEvent::ChannelDtmfReceived(_)
    ));
    assert_eq!(handle.reconnects(), 1);
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn answered_pings_keep_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handle, mut rx) = start(port, fast_config());
    let mut server = accept_ws(&listener).await;
    expect_connected(&mut rx, false).await;
    // Read (and so auto-answer) pings until several went by: no reconnect may happen meanwhile.
    let mut pings = 0;
    while pings < 8 {
        match guarded("a ping", server.next()).await {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    server.send(Message::text(dtmf("7"))).await.unwrap();
    assert!(matches!(
        expect_event(&mut rx).await,
        AriEvent::ChannelDtmfReceived(_)
    ));
    assert_eq!(handle.reconnects(), 0);
    assert!(handle.state().borrow().is_connected());
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn http_401_is_reported_as_a_credentials_problem_and_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handle, mut rx) = start(port, fast_config());
    let mut state = handle.state();
    answer_http(
        &listener,
        "401 Unauthorized",
        r#"{"message":"Authentication required"}"#,
    )
    .await;
    let seen = wait_state(&mut state, "the 401 report", |s| {
        matches!(s, ConnectionState::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(
            seen,
            ConnectionState::Disconnected {
                reason: DisconnectReason::Unauthorized,
                ..
            }
        ),
        "{seen:?}"
    );
    // Still retried: once the credentials are accepted, it connects.
    let _server = accept_ws(&listener).await;
    expect_connected(&mut rx, false).await;
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn shutdown_closes_and_stops_the_task() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let token = CancellationToken::new();
    let (handle, mut rx) =
        spawn_supervisor(endpoint(port, "vca-secret"), fast_config(), token.clone());
    let mut state = handle.state();
    let mut server = accept_ws(&listener).await;
    expect_connected(&mut rx, false).await;
    // Cancelling the caller's token stops the task; the server sees a close frame.
    token.cancel();
    loop {
        match guarded("the close frame", server.next()).await {
            Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Ping(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    wait_state(&mut state, "Stopped", |s| {
        matches!(s, ConnectionState::Stopped)
    })
    .await;
    assert!(guarded("end of stream", rx.recv()).await.is_none());
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn shutdown_while_waiting_to_retry() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut config = fast_config();
    config.backoff = BackoffPolicy {
        initial: Duration::from_secs(3600),
        max: Duration::from_secs(3600),
    };
    let (handle, _rx) = start(port, config);
    let mut state = handle.state();
    wait_state(&mut state, "a refusal", |s| {
        matches!(s, ConnectionState::Disconnected { .. })
    })
    .await;
    assert_eq!(handle.shutdown(GUARD).await, ShutdownOutcome::Clean);
    assert_eq!(*state.borrow(), ConnectionState::Stopped);
}

#[test]
fn backoff_first_retry_is_quick_and_the_cap_holds() {
    let policy = BackoffPolicy::default();
    for seed in 0..50 {
        let mut rng = StdRng::seed_from_u64(seed);
        let delays: Vec<Duration> = (0..40)
            .map(|attempt| policy.delay(attempt, &mut rng))
            .collect();
        assert!(delays[0] <= Duration::from_millis(250), "{:?}", delays[0]);
        assert!(delays[0] > Duration::ZERO);
        for (attempt, delay) in delays.iter().enumerate() {
            let ceiling = policy.ceiling(u32::try_from(attempt).unwrap());
            assert!(
                *delay <= ceiling,
                "attempt {attempt}: {delay:?} > {ceiling:?}"
            );
            assert!(
                *delay >= ceiling / 2,
                "attempt {attempt}: {delay:?} < half of {ceiling:?}"
            );
            assert!(*delay <= Duration::from_secs(5));
        }
    }
    // The ceiling doubles from the first step up to the cap, and stays there.
    let ceilings: Vec<Duration> = (0..8).map(|a| policy.ceiling(a)).collect();
    assert_eq!(
        ceilings,
        [200, 400, 800, 1600, 3200, 5000, 5000, 5000].map(Duration::from_millis)
    );
    assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(5));
}

#[test]
fn backoff_is_reproducible_with_a_seed_and_jittered_across_seeds() {
    let policy = BackoffPolicy::default();
    let run = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..6)
            .map(|a| policy.delay(a, &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}
