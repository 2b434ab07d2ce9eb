//! Typed ARI WebSocket events (ari-api-docs/events.json, Asterisk 22).
//!
//! [`parse_event`] turns one text frame into an [`AriMessage`]: the common envelope
//! (`application`, `timestamp`, `asterisk_id`) plus an [`AriEvent`]. Event types this module does
//! not model become [`AriEvent::Unknown`] carrying their name; unknown fields are ignored;
//! missing optional fields default. Only malformed JSON or a known type with a broken required
//! field is an error, which the supervisor logs and skips.
use serde::Deserialize;

use super::models::{Bridge, Channel, Playback};

/// One event as delivered by ARI.
#[derive(Debug, Clone, PartialEq)]
pub struct AriMessage {
    /// Application the event was sent to (`vca-bridge`).
    pub application: String,
    /// Time of the event as Asterisk formats it (`2026-11-21T14:08:45.871+0000`).
    pub timestamp: String,
    /// Asterisk system id (`02:fc:00:00:00:01`), when sent.
    pub asterisk_id: Option<String>,
    /// The event itself.
    pub event: AriEvent,
}

/// A channel entered our Stasis application.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StasisStart {
    /// Arguments of `Stasis(app,arg1,...)` in the dialplan.
    #[serde(default)]
    pub args: Vec<String>,
    /// The channel; the DID is in `channel.dialplan.exten`, the caller in `channel.caller.number`.
    pub channel: Channel,
    /// The channel this one replaces (masquerade), if any.
    #[serde(default)]
    pub replace_channel: Option<Channel>,
}

/// A channel left our Stasis application.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StasisEnd {
    /// The channel.
    pub channel: Channel,
}

/// The soft-hangup flag of a `ChannelHangupRequest` when Asterisk is shutting down or
/// restarting (`AST_SOFTHANGUP_SHUTDOWN`; FINDINGS 18).
pub const SOFT_HANGUP_SHUTDOWN: i32 = 4;

/// A hangup was requested on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelHangupRequest {
    /// Cause: the Q.850 code when the far end hung up (16), or a soft-hangup flag (32 for an
    /// ARI hangup, 4 for Asterisk shutdown) when `soft` is set.
    #[serde(default)]
    pub cause: Option<i32>,
    /// Technology-specific cause, when given.
    #[serde(default)]
    pub tech_cause: Option<i32>,
    /// True for a soft hangup; absent when the caller hung up.
    #[serde(default)]
    pub soft: Option<bool>,
    /// The channel.
    pub channel: Channel,
}

impl ChannelHangupRequest {
    /// Whether Asterisk hung the channel up because it is stopping or restarting (soft,
    /// cause [`SOFT_HANGUP_SHUTDOWN`]), not because anyone hung up.
    pub fn is_shutdown(&self) -> bool {
        self.soft == Some(true) && self.cause == Some(SOFT_HANGUP_SHUTDOWN)
    }
}

/// A channel was destroyed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelDestroyed {
    /// Q.850 cause code.
    #[serde(default)]
    pub cause: i32,
    /// Cause text, e.g. `Normal Clearing`.
    #[serde(default)]
    pub cause_txt: String,
    /// Technology-specific cause, when given.
    #[serde(default)]
    pub tech_cause: Option<i32>,
    /// The channel.
    pub channel: Channel,
}

/// An event whose only payload is a channel (`ChannelStateChange`, `ChannelConnectedLine`,
/// `ChannelCreated`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelOnly {
    /// The channel, with its new state.
    pub channel: Channel,
}

/// A DTMF digit ended on a channel (DTMF never arrives in the External Media RTP).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelDtmfReceived {
    /// `0`-`9`, `A`-`D`, `*` or `#`.
    pub digit: String,
    /// How long the digit was held.
    #[serde(default)]
    pub duration_ms: i64,
    /// The channel.
    pub channel: Channel,
}

/// A channel variable was set (a global one when `channel` is absent).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelVarset {
    /// Variable name, e.g. `BRIDGEPEER`.
    pub variable: String,
    /// New value.
    #[serde(default)]
    pub value: String,
    /// The channel, absent for global variables.
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// A channel entered or left a bridge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelBridgeChange {
    /// The bridge, with its channel list after the change.
    pub bridge: Bridge,
    /// The channel (optional in the spec for `ChannelEnteredBridge`).
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// A bridge was created or destroyed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BridgeOnly {
    /// The bridge.
    pub bridge: Bridge,
}

/// Dialling state changed (External Media creation emits two: `""` then `ANSWER`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Dial {
    /// The dialling channel, if any.
    #[serde(default)]
    pub caller: Option<Channel>,
    /// The dialled channel.
    pub peer: Channel,
    /// Forwarding target, if any.
    #[serde(default)]
    pub forward: Option<String>,
    /// The channel the call was forwarded to, if any.
    #[serde(default)]
    pub forwarded: Option<Channel>,
    /// Dial string, e.g. `127.0.0.1:47104/c(ulaw)`.
    #[serde(default)]
    pub dialstring: Option<String>,
    /// `""`, `ANSWER`, `BUSY`, …
    #[serde(default)]
    pub dialstatus: String,
}

/// A playback started or finished.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlaybackChange {
    /// The playback; `state` is `failed` for missing media.
    pub playback: Playback,
}

/// The events vca-bridge understands, tagged by the ARI `type` field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
// Events are decoded once and moved (boxed) through the channel; boxing every variant would
// only cost allocations.
#[allow(clippy::large_enum_variant)]
pub enum AriEvent {
    /// A channel entered Stasis.
    StasisStart(StasisStart),
    /// A channel left Stasis.
    StasisEnd(StasisEnd),
    /// Hangup requested.
    ChannelHangupRequest(ChannelHangupRequest),
    /// Channel destroyed.
    ChannelDestroyed(ChannelDestroyed),
    /// Channel state changed.
    ChannelStateChange(ChannelOnly),
    /// DTMF digit ended.
    ChannelDtmfReceived(ChannelDtmfReceived),
    /// Variable set.
    ChannelVarset(ChannelVarset),
    /// Channel entered a bridge.
    ChannelEnteredBridge(ChannelBridgeChange),
    /// Channel left a bridge.
    ChannelLeftBridge(ChannelBridgeChange),
    /// Bridge created.
    BridgeCreated(BridgeOnly),
    /// Bridge destroyed.
    BridgeDestroyed(BridgeOnly),
    /// Dial progress.
    Dial(Dial),
    /// Connected line changed.
    ChannelConnectedLine(ChannelOnly),
    /// Channel created (seen with `subscribeAll`).
    ChannelCreated(ChannelOnly),
    /// Playback started.
    PlaybackStarted(PlaybackChange),
    /// Playback finished.
    PlaybackFinished(PlaybackChange),
    /// Another WebSocket subscribed to our application and takes its events from now on
    /// (FINDINGS 48); this connection stays open and silent.
    ApplicationReplaced {},
    /// Any other event type; only its name is kept.
    #[serde(skip)]
    Unknown {
        /// The ARI `type`, e.g. `DeviceStateChanged`.
        type_name: String,
    },
}

/// The `type` names that have their own [`AriEvent`] variant.
pub const KNOWN_EVENT_TYPES: &[&str] = &[
    "StasisStart",
    "StasisEnd",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "ChannelStateChange",
    "ChannelDtmfReceived",
    "ChannelVarset",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "BridgeCreated",
    "BridgeDestroyed",
    "Dial",
    "ChannelConnectedLine",
    "ChannelCreated",
    "PlaybackStarted",
    "PlaybackFinished",
    "ApplicationReplaced",
];

impl AriEvent {
    /// The ARI `type` name of this event.
    #[must_use]
    pub fn type_name(&self) -> &str {
        match self {
            Self::StasisStart(_) => "StasisStart",
            Self::StasisEnd(_) => "StasisEnd",
            Self::ChannelHangupRequest(_) => "ChannelHangupRequest",
            Self::ChannelDestroyed(_) => "ChannelDestroyed",
            Self::ChannelStateChange(_) => "ChannelStateChange",
            Self::ChannelDtmfReceived(_) => "ChannelDtmfReceived",
            Self::ChannelVarset(_) => "ChannelVarset",
            Self::ChannelEnteredBridge(_) => "ChannelEnteredBridge",
            Self::ChannelLeftBridge(_) => "ChannelLeftBridge",
            Self::BridgeCreated(_) => "BridgeCreated",
            Self::BridgeDestroyed(_) => "BridgeDestroyed",
            Self::Dial(_) => "Dial",
            Self::ChannelConnectedLine(_) => "ChannelConnectedLine",
            Self::ChannelCreated(_) => "ChannelCreated",
            Self::PlaybackStarted(_) => "PlaybackStarted",
            Self::PlaybackFinished(_) => "PlaybackFinished",
            Self::ApplicationReplaced {} => "ApplicationReplaced",
            Self::Unknown { type_name } => type_name,
        }
    }

    /// The id of the channel the event is about, when it is about one channel.
    #[must_use]
    pub fn channel_id(&self) -> Option<&str> {
        match self {
            Self::StasisStart(e) => Some(&e.channel.id),
            Self::StasisEnd(e) => Some(&e.channel.id),
            Self::ChannelHangupRequest(e) => Some(&e.channel.id),
            Self::ChannelDestroyed(e) => Some(&e.channel.id),
            Self::ChannelStateChange(e)
            | Self::ChannelConnectedLine(e)
            | Self::ChannelCreated(e) => Some(&e.channel.id),
            Self::ChannelDtmfReceived(e) => Some(&e.channel.id),
            Self::ChannelVarset(e) => e.channel.as_ref().map(|c| c.id.as_str()),
            Self::ChannelEnteredBridge(e) | Self::ChannelLeftBridge(e) => {
                e.channel.as_ref().map(|c| c.id.as_str())
            }
            Self::Dial(e) => Some(&e.peer.id),
            Self::BridgeCreated(_)
            | Self::BridgeDestroyed(_)
            | Self::PlaybackStarted(_)
            | Self::PlaybackFinished(_)
            | Self::ApplicationReplaced {}
            | Self::Unknown { .. } => None,
        }
    }
}

/// Why a text frame could not be turned into an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventParseError {
    /// Not JSON, not an object, or no string `type`.
    #[error("ARI event is not a JSON object with a type: {0}")]
    NotAnEvent(#[source] serde_json::Error),
    /// A known event type whose fields do not match the spec.
    #[error("ARI {type_name} event does not match the spec: {source}")]
    BadFields {
        /// The event type.
        type_name: String,
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
}

/// Fields shared by every ARI message.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    application: String,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    asterisk_id: Option<String>,
}

/// Parses one WebSocket text frame from `/ari/events`.
///
/// # Errors
/// [`EventParseError`] for malformed JSON or a known event with invalid fields.
pub fn parse_event(text: &str) -> Result<AriMessage, EventParseError> {
    let envelope: Envelope = serde_json::from_str(text).map_err(EventParseError::NotAnEvent)?;
    let event = if KNOWN_EVENT_TYPES.contains(&envelope.type_name.as_str()) {
        serde_json::from_str::<AriEvent>(text).map_err(|source| EventParseError::BadFields {
            type_name: envelope.type_name.clone(),
            source,
        })?
    } else {
        AriEvent::Unknown {
            type_name: envelope.type_name,
        }
    };
    Ok(AriMessage {
        application: envelope.application,
        timestamp: envelope.timestamp,
        asterisk_id: envelope.asterisk_id,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_type_keeps_name() {
        let msg = parse_event(
            r#"{"type":"DeviceStateChanged","application":"a","timestamp":"t","device_state":{}}"#,
        )
        .unwrap();
        assert_eq!(
            msg.event,
            AriEvent::Unknown {
                type_name: "DeviceStateChanged".to_owned()
            }
        );
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(matches!(
            parse_event("{not json"),
            Err(EventParseError::NotAnEvent(_))
        ));
        assert!(matches!(
            parse_event(r#"{"application":"a"}"#),
            Err(EventParseError::NotAnEvent(_))
        ));
    }

    #[test]
    fn known_type_with_bad_fields_is_an_error() {
        assert!(matches!(
            parse_event(r#"{"type":"StasisStart","application":"a","timestamp":"t"}"#),
            Err(EventParseError::BadFields { .. })
        ));
    }

    #[test]
    fn every_known_name_matches_its_variant() {
        for name in KNOWN_EVENT_TYPES {
            let channel = r#"{"id":"c1"}"#;
            let bridge = r#"{"id":"b1"}"#;
            let playback = r#"{"id":"p1"}"#;
            let text = format!(
                r#"{{"type":"{name}","application":"a","timestamp":"t","channel":{channel},"peer":{channel},"bridge":{bridge},"playback":{playback},"digit":"1","variable":"V"}}"#
            );
            let msg = parse_event(&text).unwrap();
            assert_eq!(msg.event.type_name(), *name);
        }
    }
}
