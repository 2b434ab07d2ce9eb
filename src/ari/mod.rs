//! The ARI client of vca-bridge: REST calls, typed events and the event WebSocket supervisor.
//!
//! - [`config`]: base URL, credentials (redacted), app name, timeouts.
//! - [`client`]: [`AriClient`], the REST calls the call layer needs, with typed [`AriError`]s:
//!   answer, hang up, channel variables and `DIALPLAN_EXISTS`, `continue`, originate into the
//!   app, music on hold, play, External Media, bridges and their members, applications.
//! - [`models`]: serde models of ARI resources (Channel, Bridge, Application, …).
//! - [`external_media`]: External Media request/response and the RTP address parsing.
//! - [`originate`]: [`OriginateRequest`], a leg originated into our application (agent legs).
//! - [`hangup`]: the closed set of ARI hangup reasons.
//! - [`events`]: typed ARI events and [`parse_event`].
//! - [`query`]: strict percent-encoding of paths and queries.
//! - [`events_endpoint`]: the event WebSocket URL (credentials redacted in `Debug`).
//! - [`supervisor`]: the one task that keeps the event WebSocket up; [`connection_state`] is
//!   what it publishes; [`backoff`] its reconnect delays.
pub mod backoff;
pub mod client;
pub mod config;
pub mod connection_state;
pub mod error;
pub mod events;
pub mod events_endpoint;
pub mod external_media;
pub mod hangup;
pub mod models;
pub mod originate;
pub mod query;
pub mod supervisor;

pub use backoff::BackoffPolicy;
pub use client::{AriClient, DialplanTarget};
pub use config::{AriConfig, AriPassword};
pub use connection_state::{AriStreamItem, ConnectionState, DisconnectReason, Permit};
pub use error::AriError;
pub use events::{AriEvent, AriMessage, EventParseError, parse_event};
pub use events_endpoint::EventsEndpoint;
pub use external_media::{ExternalMedia, ExternalMediaRequest};
pub use hangup::HangupReason;
pub use models::{
    Application, Bridge, CallerId, Channel, ChannelState, DialplanCep, Playback, Variable,
};
pub use originate::OriginateRequest;
pub use supervisor::{
    ShutdownOutcome, SupervisorConfig, SupervisorHandle, spawn_supervisor,
    spawn_supervisor_with_permit,
};
