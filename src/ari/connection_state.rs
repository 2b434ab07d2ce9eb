//! What the event-WebSocket supervisor publishes: its connection state (through
//! `tokio::sync::watch`, for `/readyz` and metrics) and the items it delivers to the call layer
//! (through a bounded mpsc).
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use super::events::AriMessage;

/// Connection state of the ARI event WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening the WebSocket; `attempt` counts failures since the last stable connection.
    Connecting {
        /// Retry number (0 for the first try after start or a stable connection).
        attempt: u32,
    },
    /// Connected and reading events.
    Connected {
        /// When this connection was established.
        since: Instant,
    },
    /// Not connected; the next attempt starts after `retry_in`.
    Disconnected {
        /// Why the last attempt or connection ended.
        reason: DisconnectReason,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// Another daemon owns the application (it holds the Redis lease): this one waits as a
    /// standby and does not connect.
    Standby,
    /// Another WebSocket took the application over (`ApplicationReplaced`, FINDINGS 48):
    /// this daemon stood down and does not take it back by reconnecting.
    Replaced,
    /// The supervisor has stopped (shutdown or consumer gone).
    Stopped,
}

/// Whether the supervisor may hold the application: the active daemon's grant from the
/// ownership lease. `epoch` grows each time the grant is won anew, so a daemon that was
/// replaced connects again only after winning the lease again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    /// Connect (and stay connected).
    pub active: bool,
    /// Which grant this is.
    pub epoch: u64,
}

impl Permit {
    /// Always allowed: a daemon without an owner lease.
    pub const ALWAYS: Permit = Permit {
        active: true,
        epoch: 0,
    };
}

impl ConnectionState {
    /// True while events can arrive.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        matches!(self, Self::Connected { .. })
    }
}

/// Why the event WebSocket is not connected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// Asterisk is not there yet: connection refused, or HTTP 404/503 on the upgrade while
    /// ARI is still loading (FINDINGS.md 18). Expected during a restart.
    NotYetAvailable {
        /// `connection refused` or `HTTP 404`.
        detail: String,
    },
    /// HTTP 401 on the upgrade: the ARI user or password is wrong. A configuration error;
    /// still retried so a fixed ari.conf is picked up.
    Unauthorized,
    /// Another HTTP status on the upgrade (e.g. 400 when `app` is missing).
    Rejected {
        /// The HTTP status.
        status: u16,
    },
    /// The handshake did not complete within the connect timeout.
    ConnectTimeout,
    /// The server sent a close frame.
    ClosedByServer {
        /// Close code, if given (1000 normal, 1001 going away).
        code: Option<u16>,
    },
    /// The connection ended without a close frame (Asterisk restarted or crashed) or a read or
    /// write failed.
    Dropped {
        /// A short description, without secrets.
        detail: String,
    },
    /// No frame (event or pong) arrived for the dead-connection period.
    KeepaliveTimeout,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotYetAvailable { detail } => write!(f, "ARI not available yet ({detail})"),
            Self::Unauthorized => f.write_str("ARI rejected the credentials (HTTP 401)"),
            Self::Rejected { status } => write!(f, "ARI rejected the upgrade (HTTP {status})"),
            Self::ConnectTimeout => f.write_str("connect timed out"),
            Self::ClosedByServer { code: Some(code) } => {
                write!(f, "closed by Asterisk (code {code})")
            }
            Self::ClosedByServer { code: None } => f.write_str("closed by Asterisk"),
            Self::Dropped { detail } => write!(f, "connection dropped ({detail})"),
            Self::KeepaliveTimeout => f.write_str("no frame or pong within the keepalive period"),
        }
    }
}

/// What the supervisor delivers to the call layer, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AriStreamItem {
    /// The WebSocket is (re)connected. Events missed while disconnected are lost, so the call
    /// layer reconciles now (`GET /channels`, `GET /applications/{app}`). Always precedes the
    /// events of that connection.
    Connected {
        /// False for the first connection, true for every reconnect.
        reconnect: bool,
        /// When the connection was established.
        since: Instant,
    },
    /// One ARI event (boxed so the channel's slots stay small).
    Event(Box<AriMessage>),
    /// This daemon no longer serves the application: another connection replaced ours
    /// (`replaced`), or this daemon lost or gave up the ownership lease. Its calls belong to
    /// the new owner now: stop serving them silently.
    StoodDown {
        /// Asterisk sent `ApplicationReplaced`.
        replaced: bool,
    },
}
