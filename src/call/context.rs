//! What every call session shares: the ARI client, the stores, the lease keeper, the
//! port pool and the call settings. Built once by the daemon; cheap to clone.

use std::net::IpAddr;
use std::sync::Arc;

use crate::ari::AriClient;
use crate::call::leases::CallLeases;
use crate::engines::Engines;
use crate::media::g711::Law;
use crate::media_driver::MediaEngine;
use crate::store::Store;
use crate::store::conversation_state::StateStore;
use crate::tools::ToolExecutor;

/// Settings of the call path, taken from the daemon's settings.
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// Our Stasis application.
    pub app: String,
    /// Names the Asterisk + application a call lives in, stored on each call row so
    /// that reconciliation only ever touches its own calls.
    pub ari_node: String,
    /// The address Asterisk sends RTP to (External Media `external_host`).
    pub rtp_advertise: IpAddr,
    /// The External Media format.
    pub law: Law,
    /// Country code for national numbers.
    pub country_code: u16,
    /// Character budget of the conversation history sent to the language model.
    pub history_chars: usize,
    /// A reply of the model containing this ends the call (`VCA_END_CALL_MARKER`).
    pub end_marker: String,
    /// This daemon's name (`VCA_NODE_NAME`), on the live-calls board.
    pub node: String,
}

/// The shared parts of the call path.
#[derive(Clone)]
pub struct CallContext {
    pub ari: AriClient,
    pub store: Store,
    pub leases: Arc<CallLeases>,
    /// The media threads calls' RTP runs on.
    pub media: MediaEngine,
    pub settings: Arc<CallSettings>,
    /// Speech recognition, language model, speech synthesis.
    pub engines: Arc<Engines>,
    /// Conversation state in Redis.
    pub states: Arc<StateStore>,
    /// Runs the tenants' HTTP tools (one connection pool).
    pub tools: ToolExecutor,
    /// Every daemon's live calls, in Redis.
    pub board: crate::store::live_board::LiveBoard,
    /// Where recorded calls are written, and the recorder threads.
    pub recordings: crate::recording::call::Recordings,
}

/// Channel ids we choose for External Media channels start with this, so their own
/// `StasisStart` is recognised as ours and never treated as a call.
pub const MEDIA_CHANNEL_PREFIX: &str = "vca-em-";
/// Bridge ids we choose start with this, so leftovers can be found and removed.
pub const BRIDGE_PREFIX: &str = "vca-br-";
/// Agent legs we originate for a transfer are `vca-ag-<call id>-<attempt>` (their Local
/// peer `…-2`): their events find the call by the id alone, also after a restart, and their
/// `StasisStart` is never taken for a new call.
pub const AGENT_CHANNEL_PREFIX: &str = "vca-ag-";

/// The call an agent leg belongs to, from its id.
pub fn call_of_agent_channel(channel: &str) -> Option<uuid::Uuid> {
    let rest = channel.strip_prefix(AGENT_CHANNEL_PREFIX)?;
    uuid::Uuid::parse_str(rest.get(..36)?).ok()
}

/// Whether `channel` is the `;1` side of an agent leg, `vca-ag-<call id>-<attempt>` (the
/// side we originated and bridge), not its Local peer `…-<attempt>-2`.
pub fn is_agent_leg(channel: &str) -> bool {
    call_of_agent_channel(channel).is_some()
        && channel
            .get(AGENT_CHANNEL_PREFIX.len() + 36..)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a channel id is one we chose (External Media, an agent leg): never a new call.
pub fn is_our_channel(channel: &str) -> bool {
    channel.starts_with(MEDIA_CHANNEL_PREFIX) || channel.starts_with(AGENT_CHANNEL_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_leg_is_told_from_its_local_peer_for_every_attempt() {
        let call = uuid::Uuid::new_v4();
        let leg = |rest: &str| format!("{AGENT_CHANNEL_PREFIX}{call}{rest}");
        assert!(is_agent_leg(&leg("-1")));
        assert!(is_agent_leg(&leg("-2")), "the second attempt's leg");
        assert!(is_agent_leg(&leg("-12")));
        assert!(
            !is_agent_leg(&leg("-1-2")),
            "the first attempt's Local peer"
        );
        assert!(!is_agent_leg(&leg("-2-2")));
        assert!(!is_agent_leg(&leg("")));
        assert!(!is_agent_leg(&leg("-")));
        assert!(!is_agent_leg(&format!("{MEDIA_CHANNEL_PREFIX}{call}-1")));
        assert_eq!(call_of_agent_channel(&leg("-2-2")), Some(call));
    }
}
