//! Typed ARI resources (Channel, CallerID, DialplanCEP, Bridge, Application, Variable, Playback)
//! as described in `ari-api-docs/*.json` of Asterisk 22.
//!
//! Every struct ignores unknown fields and defaults missing ones, so a newer or older Asterisk
//! that adds or drops a field does not break decoding. Only the identifier of each resource is
//! mandatory. Timestamps are kept as the strings Asterisk sends (`2026-11-21T14:08:45.871+0000`).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Caller or connected-line identification of a channel (`CallerID`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallerId {
    /// Display name; often empty on trunk calls.
    pub name: String,
    /// Number as signalled, e.g. `+15551234567`.
    pub number: String,
}

/// Dialplan location of a channel (`DialplanCEP`): where a call came in is `exten`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DialplanCep {
    /// Dialplan context, e.g. `from-tata-trunk`.
    pub context: String,
    /// Extension; for an inbound call in Stasis this is the dialled number (DID).
    pub exten: String,
    /// Priority within the extension.
    pub priority: i64,
    /// Current dialplan application (`Stasis` while in our app).
    pub app_name: String,
    /// Arguments of the current dialplan application.
    pub app_data: String,
}

/// State of a channel as named by Asterisk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChannelState {
    /// Not answered, not ringing.
    #[default]
    Down,
    /// Reserved.
    Rsrved,
    /// Off hook.
    OffHook,
    /// Digits being dialled.
    Dialing,
    /// Ringing at the far end (outbound).
    Ring,
    /// Ringing locally (inbound).
    Ringing,
    /// Answered.
    Up,
    /// Busy.
    Busy,
    /// Dialling while off hook.
    #[serde(rename = "Dialing Offhook")]
    DialingOffhook,
    /// Before ringing.
    #[serde(rename = "Pre-ring")]
    PreRing,
    /// Asterisk itself reports the state as unknown.
    Unknown,
    /// A state name this build does not know.
    #[serde(other)]
    Other,
}

/// An ARI channel (`Channel`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Unique id (AMI `Uniqueid`), e.g. `1795270125.0` or the id we chose.
    pub id: String,
    /// Channel name, e.g. `UnicastRTP/127.0.0.1:47104-0x7f67cc0104f0`.
    #[serde(default)]
    pub name: String,
    /// Current state.
    #[serde(default)]
    pub state: ChannelState,
    /// Driver protocol id (SIP Call-ID for pjsip), empty if not applicable.
    #[serde(default)]
    pub protocol_id: String,
    /// Calling party.
    #[serde(default)]
    pub caller: CallerId,
    /// Connected party.
    #[serde(default)]
    pub connected: CallerId,
    /// Account code.
    #[serde(default)]
    pub accountcode: String,
    /// Where in the dialplan the channel is.
    #[serde(default)]
    pub dialplan: DialplanCep,
    /// Creation time as sent by Asterisk.
    #[serde(default)]
    pub creationtime: String,
    /// Default language.
    #[serde(default)]
    pub language: String,
    /// Channel variables returned by some calls (externalMedia: `UNICASTRTP_LOCAL_*`).
    #[serde(default)]
    pub channelvars: BTreeMap<String, String>,
    /// Redirecting number, when present.
    #[serde(default)]
    pub caller_rdnis: Option<String>,
    /// Tenant id set on the channel by Asterisk, when present.
    #[serde(default)]
    pub tenantid: Option<String>,
}

/// An ARI bridge (`Bridge`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    /// Unique id (a UUID unless we chose one).
    pub id: String,
    /// Bridging technology, e.g. `simple_bridge`.
    #[serde(default)]
    pub technology: String,
    /// `mixing` or `holding`.
    #[serde(default)]
    pub bridge_type: String,
    /// `stasis` for bridges made through ARI.
    #[serde(default)]
    pub bridge_class: String,
    /// Creator, `Stasis` for ours.
    #[serde(default)]
    pub creator: String,
    /// Name we gave it.
    #[serde(default)]
    pub name: String,
    /// Ids of the channels in the bridge.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Video mode, e.g. `talker`.
    #[serde(default)]
    pub video_mode: Option<String>,
    /// Video source channel id.
    #[serde(default)]
    pub video_source_id: Option<String>,
    /// Creation time as sent by Asterisk.
    #[serde(default)]
    pub creationtime: String,
}

/// A Stasis application (`Application`): what Asterisk holds for us, used to reconcile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Application name, e.g. `vca-bridge`.
    pub name: String,
    /// Channels subscribed to by the application.
    #[serde(default)]
    pub channel_ids: Vec<String>,
    /// Bridges subscribed to by the application.
    #[serde(default)]
    pub bridge_ids: Vec<String>,
    /// Endpoints subscribed to.
    #[serde(default)]
    pub endpoint_ids: Vec<String>,
    /// Device names subscribed to.
    #[serde(default)]
    pub device_names: Vec<String>,
}

/// The value of a channel variable (`Variable`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// The value, always a string in ARI.
    #[serde(default)]
    pub value: String,
}

/// A playback of media on a channel or bridge (`Playback`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playback {
    /// Playback id.
    pub id: String,
    /// Media being played, e.g. `sound:beep`.
    #[serde(default)]
    pub media_uri: String,
    /// Next media in the queue, if any.
    #[serde(default)]
    pub next_media_uri: Option<String>,
    /// Target, e.g. `channel:<id>`.
    #[serde(default)]
    pub target_uri: String,
    /// Language of the media.
    #[serde(default)]
    pub language: Option<String>,
    /// `queued`, `playing`, `done`, `failed`, …
    #[serde(default)]
    pub state: String,
}
