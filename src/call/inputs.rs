//! What the controller and a call's session say to each other: the inputs it routes to the
//! session ([`CallInput`]) and the ids it routes by ([`SessionIds`]).

use uuid::Uuid;

use crate::ari::AriEvent;
use crate::call::context::{BRIDGE_PREFIX, MEDIA_CHANNEL_PREFIX};
use crate::store::EndReason;

/// What the controller tells a session.
#[derive(Debug)]
pub enum CallInput {
    /// An ARI event about one of the session's channels or its bridge.
    Ari(Box<AriEvent>),
    /// Hang the call up (daemon shutdown, operator request).
    Hangup {
        /// Stored as the end reason.
        reason: EndReason,
    },
    /// After a reconnect, the caller's channel was no longer in our application.
    ChannelGone,
    /// The daemon is shutting down: say goodbye, then hang up.
    WrapUp,
    /// An operator asked (admin API) for the call to end: say goodbye, then hang up; a
    /// call bridged with a human agent is hung up on both sides.
    OperatorHangup,
    /// Another daemon serves the application now: stop serving this call at once and
    /// silently — no request to Asterisk, no row, no lease renewal.
    StandDown,
}

/// The ids a session answers to, so the controller can route events to it.
#[derive(Debug, Clone)]
pub struct SessionIds {
    /// The caller's channel.
    pub caller_channel: String,
    /// Our External Media channel (chosen in advance).
    pub media_channel: String,
    /// Our bridge (chosen in advance; a re-adopted call may keep its old one).
    pub bridge: String,
}

impl SessionIds {
    /// The ids of a new call.
    pub fn for_new_call(call_id: Uuid, caller_channel: &str) -> Self {
        Self {
            caller_channel: caller_channel.to_string(),
            media_channel: format!("{MEDIA_CHANNEL_PREFIX}{call_id}"),
            bridge: format!("{BRIDGE_PREFIX}{call_id}"),
        }
    }
}
