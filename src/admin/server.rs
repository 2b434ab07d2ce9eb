//! The admin API's socket: accepts TCP connections up to a cap and serves each with
//! hyper's HTTP/1 connection, bounded against hostile clients. What it owns:
//!
//! - the cap on open connections (`VCA_ADMIN_MAX_CONNECTIONS`): at the cap the listener
//!   stops accepting, so a new connection waits in the kernel's backlog, unserved, until
//!   one closes; established ones are not touched. Each time the cap is reached
//!   `vca_admin_connection_cap_reached_total` counts it; `vca_admin_connections` is the
//!   number open;
//! - the request head's limits: [`MAX_HEADER_BYTES`] of request line and headers and
//!   [`MAX_HEADERS`] headers, past which hyper answers 431 and closes;
//! - the head read timeout (`VCA_ADMIN_HEADER_TIMEOUT_MS`): a head not complete in time,
//!   sent byte by byte or not at all, closes the connection. hyper starts it whenever it
//!   waits for a head, so it is the idle timeout of a keep-alive connection too;
//! - graceful shutdown: when `stop` is cancelled it accepts no more, lets requests under
//!   way finish, closes idle connections and returns once they are all done (bounded).
//!
//! Each request carries the peer's `ConnectInfo<SocketAddr>`, as `axum::serve` gives it.
//! The URI length and the whole-request timeout (a slow body) are the router's
//! (`admin/limits.rs`), so their answers have the API's error shape.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Bytes of request line and headers a request may carry (431 past it).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Headers a request may carry (431 past it).
pub const MAX_HEADERS: usize = 64;

/// How long, after `stop`, open connections get to finish before the server returns
/// without them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long the accept loop rests after an error that is not one connection's (out of
/// file descriptors, say), so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The connection limits of the admin server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once; more wait in the backlog.
    pub max_connections: usize,
    /// Time a client has to send a complete request head, counted from when the server
    /// starts waiting for it (after connecting, after each response).
    pub header_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `stop` is cancelled and the open connections have
/// finished (or [`SHUTDOWN_GRACE`] has passed).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    loop {
        let Some(permit) = next_permit(&permits, &stop).await else {
            break;
        };
        let (stream, remote) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "admin API: accept failed");
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        connections.spawn(serve_connection(
            http.clone(),
            stream,
            remote,
            router.clone(),
            permit,
            stop.clone(),
        ));
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "admin API: connections still open after the shutdown grace; leaving them"
        );
    }
}

/// A connection slot: at once when one is free, else (counted) when one frees up.
/// `None` once `stop` is cancelled.
async fn next_permit(
    permits: &Arc<Semaphore>,
    stop: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = permits.clone().try_acquire_owned() {
        return Some(permit);
    }
    metrics::counter!("vca_admin_connection_cap_reached_total").increment(1);
    tracing::debug!("admin API: connection cap reached; new connections wait");
    tokio::select! {
        () = stop.cancelled() => None,
        permit = permits.clone().acquire_owned() => permit.ok(),
    }
}

/// One connection, holding its slot until it closes.
async fn serve_connection(
    http: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    permit: OwnedSemaphorePermit,
    stop: CancellationToken,
) {
    let _slot = permit;
    metrics::gauge!("vca_admin_connections").increment(1.0);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(remote));
        router.clone().oneshot(req)
    });
    let conn = http.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // A client that times out, sends too much or hangs up: its problem, not ours.
        tracing::debug!(%remote, error = %e, "admin API connection ended with an error");
    }
    metrics::gauge!("vca_admin_connections").decrement(1.0);
}

/// An accept error about one connection (the peer gave up before we took it), after
/// which accepting goes straight on.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
