//! The ARI event WebSocket supervisor: one task that connects under a timeout, reads events
//! until the connection ends, and reconnects with jittered exponential backoff, forever, until
//! shut down.
//!
//! - State goes out through a `watch` ([`ConnectionState`]) for `/readyz` and metrics, plus a
//!   reconnect counter.
//! - Items go out through a bounded mpsc ([`AriStreamItem`]): a `Connected` notification after
//!   every successful (re)connect, then that connection's events in arrival order.
//! - Backpressure: when the consumer is slow and the channel is full, the reader waits on the
//!   send (racing only shutdown). It then stops reading the socket, so TCP pushes back on
//!   Asterisk; no event is dropped and none is buffered without bound. The keepalive clock is
//!   restarted after such a wait, so a slow consumer is not mistaken for a dead Asterisk.
//! - Keepalive: a ping every `ping_interval`; if no frame at all (event, pong, ping) arrives for
//!   `dead_after`, the connection is declared dead and replaced.
//! - 404 on the upgrade and refused connections mean "Asterisk not ready yet"; 401 is reported
//!   as [`DisconnectReason::Unauthorized`] and logged as a configuration error, yet retried.
//! - Malformed JSON is logged (error position only, never the frame, which could carry numbers)
//!   and skipped.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::backoff::BackoffPolicy;
use super::connection_state::{AriStreamItem, ConnectionState, DisconnectReason, Permit};
use super::events::{AriEvent, parse_event};
use super::events_endpoint::EventsEndpoint;

/// Timing and sizing of the supervisor. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Time allowed for TCP connect + WebSocket handshake.
    pub connect_timeout: Duration,
    /// Interval between pings on an open connection.
    pub ping_interval: Duration,
    /// A connection with no incoming frame for this long is dead.
    pub dead_after: Duration,
    /// Time allowed for one write (ping, close).
    pub write_timeout: Duration,
    /// Reconnect delays.
    pub backoff: BackoffPolicy,
    /// A connection that lasted this long resets the backoff to its first step.
    pub stable_after: Duration,
    /// Capacity of the event channel to the call layer.
    pub event_capacity: usize,
    /// Largest WebSocket message accepted (ARI events are a few KiB).
    pub max_message_bytes: usize,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(3),
            dead_after: Duration::from_secs(9),
            write_timeout: Duration::from_secs(2),
            backoff: BackoffPolicy::default(),
            stable_after: Duration::from_secs(30),
            event_capacity: 1024,
            max_message_bytes: 1 << 20,
        }
    }
}

/// How [`SupervisorHandle::shutdown`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownOutcome {
    /// The task finished within the grace period.
    Clean,
    /// The task overran the grace period and was aborted.
    Aborted,
}

/// The owner's side of a running supervisor.
#[derive(Debug)]
pub struct SupervisorHandle {
    /// Latest connection state.
    state: watch::Receiver<ConnectionState>,
    /// Successful connections after the first.
    reconnects: Arc<AtomicU64>,
    /// Times another connection replaced ours.
    replaced: Arc<AtomicU64>,
    /// Stops the task.
    shutdown: CancellationToken,
    /// The task itself.
    task: JoinHandle<()>,
}

impl SupervisorHandle {
    /// A receiver of the connection state (for `/readyz` and metrics).
    #[must_use]
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Number of successful reconnects so far (the first connection is not counted).
    #[must_use]
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// A shared counter of `ApplicationReplaced` received, for a metrics exporter.
    #[must_use]
    pub fn replaced_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.replaced)
    }

    /// A shared counter of reconnects, for a metrics exporter.
    #[must_use]
    pub fn reconnect_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.reconnects)
    }

    /// Stops the task: signals it, waits up to `grace` (it sends a close frame under its write
    /// timeout), then aborts it.
    pub async fn shutdown(self, grace: Duration) -> ShutdownOutcome {
        self.shutdown.cancel();
        let mut task = self.task;
        if timeout(grace, &mut task).await.is_ok() {
            ShutdownOutcome::Clean
        } else {
            task.abort();
            ShutdownOutcome::Aborted
        }
    }
}

/// Starts the supervisor task. It stops when `shutdown` is cancelled (or
/// [`SupervisorHandle::shutdown`] is called) or when the returned receiver is dropped.
#[must_use]
pub fn spawn_supervisor(
    endpoint: EventsEndpoint,
    config: SupervisorConfig,
    shutdown: CancellationToken,
) -> (SupervisorHandle, mpsc::Receiver<AriStreamItem>) {
    let (_always, permit) = watch::channel(Permit::ALWAYS);
    spawn_supervisor_with_permit(endpoint, config, shutdown, permit)
}

/// [`spawn_supervisor`] that connects only while `permit` is active (the ownership lease
/// of an active/standby pair), and after `ApplicationReplaced` only under a new grant.
#[must_use]
pub fn spawn_supervisor_with_permit(
    endpoint: EventsEndpoint,
    config: SupervisorConfig,
    shutdown: CancellationToken,
    permit: watch::Receiver<Permit>,
) -> (SupervisorHandle, mpsc::Receiver<AriStreamItem>) {
    let (items_tx, items_rx) = mpsc::channel(config.event_capacity.max(1));
    let (state_tx, state_rx) = watch::channel(ConnectionState::Connecting { attempt: 0 });
    let reconnects = Arc::new(AtomicU64::new(0));
    let supervisor = Supervisor {
        endpoint,
        config,
        shutdown: shutdown.clone(),
        items: items_tx,
        state: state_tx,
        reconnects: Arc::clone(&reconnects),
        replaced: Arc::new(AtomicU64::new(0)),
        rng: StdRng::from_os_rng(),
        permit,
        replaced_under: None,
        permit_open: true,
    };
    let replaced = Arc::clone(&supervisor.replaced);
    let task = tokio::spawn(supervisor.run());
    let handle = SupervisorHandle {
        state: state_rx,
        reconnects,
        replaced,
        shutdown,
        task,
    };
    (handle, items_rx)
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How one connection ended.
enum SessionEnd {
    /// Shutdown requested or the consumer went away: stop supervising.
    Stop,
    /// The connection was lost: reconnect.
    Lost(DisconnectReason),
    /// Another connection took the application (`ApplicationReplaced`).
    Replaced,
    /// The permit was withdrawn (the lease was lost or given up).
    StandDown,
}

/// The task's state; owned by the task alone.
struct Supervisor {
    endpoint: EventsEndpoint,
    config: SupervisorConfig,
    shutdown: CancellationToken,
    items: mpsc::Sender<AriStreamItem>,
    state: watch::Sender<ConnectionState>,
    reconnects: Arc<AtomicU64>,
    replaced: Arc<AtomicU64>,
    rng: StdRng,
    permit: watch::Receiver<Permit>,
    /// The grant under which we were replaced: no reconnecting until a newer one.
    replaced_under: Option<u64>,
    /// The permit's sender is still there (a fixed permit's is dropped at once).
    permit_open: bool,
}

impl Supervisor {
    async fn run(mut self) {
        let mut attempt: u32 = 0;
        let mut connected_before = false;
        loop {
            if !self.wait_for_permit().await {
                break;
            }
            self.state
                .send_replace(ConnectionState::Connecting { attempt });
            let connected = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                result = timeout(self.config.connect_timeout, self.connect()) => result,
            };
            let reason = match connected {
                Ok(Ok(socket)) => {
                    let since = Instant::now();
                    if connected_before {
                        self.reconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::info!(
                        host = self.endpoint.authority(),
                        app = self.endpoint.app(),
                        reconnect = connected_before,
                        "ARI events connected"
                    );
                    self.state
                        .send_replace(ConnectionState::Connected { since });
                    let notice = AriStreamItem::Connected {
                        reconnect: connected_before,
                        since,
                    };
                    connected_before = true;
                    if !self.deliver(notice).await {
                        break;
                    }
                    match self.read_until_lost(socket).await {
                        SessionEnd::Stop => break,
                        SessionEnd::Replaced => {
                            self.replaced.fetch_add(1, Ordering::Relaxed);
                            self.replaced_under = Some(self.permit.borrow().epoch);
                            tracing::warn!(
                                app = self.endpoint.app(),
                                "another connection took over the ARI application (ApplicationReplaced): \
                                 standing down; its calls belong to the new owner"
                            );
                            if !self
                                .deliver(AriStreamItem::StoodDown { replaced: true })
                                .await
                            {
                                break;
                            }
                            attempt = 0;
                            continue;
                        }
                        SessionEnd::StandDown => {
                            tracing::info!(
                                app = self.endpoint.app(),
                                "standing down: another daemon owns the application"
                            );
                            if !self
                                .deliver(AriStreamItem::StoodDown { replaced: false })
                                .await
                            {
                                break;
                            }
                            attempt = 0;
                            continue;
                        }
                        SessionEnd::Lost(reason) => {
                            if since.elapsed() >= self.config.stable_after {
                                attempt = 0;
                            }
                            reason
                        }
                    }
                }
                Ok(Err(err)) => classify_connect_error(&err),
                Err(_elapsed) => DisconnectReason::ConnectTimeout,
            };
            let retry_in = self.config.backoff.delay(attempt, &mut self.rng);
            attempt = attempt.saturating_add(1);
            log_disconnect(&reason, retry_in, self.endpoint.authority());
            self.state
                .send_replace(ConnectionState::Disconnected { reason, retry_in });
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                () = sleep(retry_in) => {}
            }
        }
        self.state.send_replace(ConnectionState::Stopped);
        tracing::info!("ARI events supervisor stopped");
    }

    /// Opens the WebSocket (no timeout here; the caller applies it).
    /// Waits until this daemon may hold the application: the permit is active and, after
    /// being replaced, a newer grant. False on shutdown.
    async fn wait_for_permit(&mut self) -> bool {
        loop {
            let permit = *self.permit.borrow_and_update();
            let replaced = self.replaced_under.is_some_and(|e| e >= permit.epoch);
            if permit.active && !replaced {
                self.replaced_under = None;
                return true;
            }
            self.state.send_replace(if replaced {
                ConnectionState::Replaced
            } else {
                ConnectionState::Standby
            });
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return false,
                changed = self.permit.changed() => {
                    if changed.is_err() {
                        // The lease keeper is gone: nothing will grant us again.
                        self.permit_open = false;
                        self.shutdown.cancelled().await;
                        return false;
                    }
                }
            }
        }
    }

    async fn connect(&self) -> Result<Socket, tungstenite::Error> {
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(self.config.max_message_bytes))
            .max_frame_size(Some(self.config.max_message_bytes));
        let (socket, _response) = tokio_tungstenite::connect_async_with_config(
            self.endpoint.url_with_credentials(),
            Some(ws_config),
            false,
        )
        .await?;
        Ok(socket)
    }

    /// Sends one item to the consumer, waiting for room (backpressure) but not past shutdown.
    /// False when the supervisor should stop.
    async fn deliver(&self, item: AriStreamItem) -> bool {
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => false,
            sent = self.items.send(item) => sent.is_ok(),
        }
    }

    /// Reads frames until the connection is lost or the supervisor must stop.
    async fn read_until_lost(&mut self, mut socket: Socket) -> SessionEnd {
        let mut ping = tokio::time::interval_at(
            Instant::now() + self.config.ping_interval,
            self.config.ping_interval,
        );
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_frame = Instant::now();
        loop {
            let step = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => Step::Shutdown,
                changed = self.permit.changed(), if self.permit_open => match changed {
                    Ok(()) if !self.permit.borrow().active => Step::StandDown,
                    Ok(()) => continue,
                    Err(_) => {
                        // Nobody grants or withdraws any more: the permit stands as it is.
                        self.permit_open = false;
                        continue;
                    }
                },
                frame = socket.next() => Step::Frame(frame),
                () = sleep_until(last_frame + self.config.dead_after) => Step::Dead,
                _ = ping.tick() => Step::Ping,
            };
            match step {
                Step::Shutdown => {
                    let _ = timeout(self.config.write_timeout, socket.close(None)).await;
                    return SessionEnd::Stop;
                }
                Step::StandDown => {
                    let _ = timeout(self.config.write_timeout, socket.close(None)).await;
                    return SessionEnd::StandDown;
                }
                Step::Dead => return SessionEnd::Lost(DisconnectReason::KeepaliveTimeout),
                Step::Ping => {
                    let sent = timeout(
                        self.config.write_timeout,
                        socket.send(Message::Ping(bytes::Bytes::new())),
                    )
                    .await;
                    match sent {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => return SessionEnd::Lost(classify_read_error(&err)),
                        Err(_elapsed) => {
                            return SessionEnd::Lost(DisconnectReason::Dropped {
                                detail: "ping write timed out".to_owned(),
                            });
                        }
                    }
                }
                Step::Frame(None) => {
                    return SessionEnd::Lost(DisconnectReason::Dropped {
                        detail: "stream ended".to_owned(),
                    });
                }
                Step::Frame(Some(Err(err))) => {
                    return SessionEnd::Lost(classify_read_error(&err));
                }
                Step::Frame(Some(Ok(message))) => {
                    last_frame = Instant::now();
                    match message {
                        Message::Text(text) => {
                            let item = parse_frame(text.as_str());
                            if let Some(AriStreamItem::Event(m)) = &item
                                && matches!(m.event, AriEvent::ApplicationReplaced {})
                            {
                                // Asterisk keeps the replaced socket open and silent: close it.
                                let _ =
                                    timeout(self.config.write_timeout, socket.close(None)).await;
                                return SessionEnd::Replaced;
                            }
                            if let Some(item) = item {
                                if !self.deliver(item).await {
                                    return SessionEnd::Stop;
                                }
                                last_frame = Instant::now();
                            }
                        }
                        Message::Close(frame) => {
                            let code = frame.map(|f| u16::from(f.code));
                            return SessionEnd::Lost(DisconnectReason::ClosedByServer { code });
                        }
                        Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => {}
                        Message::Frame(_) => {}
                    }
                }
            }
        }
    }
}

/// One turn of the read loop.
enum Step {
    Shutdown,
    StandDown,
    Frame(Option<Result<Message, tungstenite::Error>>),
    Dead,
    Ping,
}

/// Parses a text frame; logs and skips what is not a valid event.
fn parse_frame(text: &str) -> Option<AriStreamItem> {
    match parse_event(text) {
        Ok(message) => Some(AriStreamItem::Event(Box::new(message))),
        Err(err) => {
            tracing::warn!(error = %err, frame_bytes = text.len(), "skipping malformed ARI event");
            None
        }
    }
}

/// Sorts handshake failures: refused and 404/503 are "not yet", 401 is a credentials problem.
fn classify_connect_error(err: &tungstenite::Error) -> DisconnectReason {
    match err {
        tungstenite::Error::Http(response) => match response.status().as_u16() {
            401 => DisconnectReason::Unauthorized,
            status @ (404 | 503) => DisconnectReason::NotYetAvailable {
                detail: format!("HTTP {status}"),
            },
            status => DisconnectReason::Rejected { status },
        },
        tungstenite::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            DisconnectReason::NotYetAvailable {
                detail: "connection refused".to_owned(),
            }
        }
        other => DisconnectReason::Dropped {
            detail: describe(other),
        },
    }
}

/// Sorts failures on an open connection.
fn classify_read_error(err: &tungstenite::Error) -> DisconnectReason {
    DisconnectReason::Dropped {
        detail: describe(err),
    }
}

/// A short, secret-free description of a WebSocket error.
fn describe(err: &tungstenite::Error) -> String {
    match err {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            "connection closed".to_owned()
        }
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => "no close frame received".to_owned(),
        tungstenite::Error::Io(io) => format!("I/O error: {}", io.kind()),
        tungstenite::Error::Url(_) => "invalid WebSocket URL".to_owned(),
        other => other.to_string(),
    }
}

/// Logs a lost connection; credentials problems at error level, the rest at warn.
fn log_disconnect(reason: &DisconnectReason, retry_in: Duration, host: &str) {
    let retry_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX);
    if matches!(reason, DisconnectReason::Unauthorized) {
        tracing::error!(
            host,
            retry_ms,
            "ARI rejected the configured user/password (HTTP 401); check ari.conf and the ARI settings"
        );
    } else {
        tracing::warn!(host, retry_ms, %reason, "ARI events disconnected");
    }
}
