//! Parameters of `POST /channels` when we originate a leg into our own application: the agent
//! leg of an endpoint transfer (FINDINGS.md 35).
//!
//! Everything goes in the query string, percent-encoded (a `+` in `callerId` is sent as `%2B`,
//! FINDINGS.md 2), in the order the recordings use: `endpoint`, `app`, `appArgs`, `timeout`,
//! `callerId`, then `channelId`/`otherChannelId` when we choose the ids. `POST /channels`
//! answers 200 with the `;1` channel in state `Down` whatever then happens to the leg: busy,
//! no answer and congestion show only in the `Dial` events that follow (FINDINGS.md 39).

/// What to originate. The new channel enters `app` (`StasisStart` with `app_args` as `args`)
/// once the far end answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginateRequest {
    /// Dial string, e.g. `PJSIP/1001`, `PJSIP/+918012345678@tata`, `Local/100@agents`.
    pub endpoint: String,
    /// Stasis application the answered channel enters (ours).
    pub app: String,
    /// Arguments of the `StasisStart`, sent comma-joined as `appArgs` (so none may contain a
    /// comma); empty sends no `appArgs`.
    pub app_args: Vec<String>,
    /// The id of the new channel (`;1` for a Local channel), chosen by us so a restarted daemon
    /// recognises the leg; `None` lets Asterisk number it.
    pub channel_id: Option<String>,
    /// The id of the `;2` half of a Local channel, when we choose it.
    pub other_channel_id: Option<String>,
    /// Caller id presented to the far end, e.g. `+15551234567` or `"Front desk" <+1555…>`.
    pub caller_id: Option<String>,
    /// Seconds to ring before giving up (Asterisk's default is 30 when `None`).
    pub timeout_seconds: Option<u32>,
}

impl OriginateRequest {
    /// The `appArgs` value: the arguments joined by commas, `None` when there are none.
    #[must_use]
    pub fn app_args_value(&self) -> Option<String> {
        (!self.app_args.is_empty()).then(|| self.app_args.join(","))
    }
}
