//! How a call stands and why it ended, as types: [`CallStatus`] and [`EndReason`], each
//! mapped to the text the `calls` table stores (`status`, `end_reason`). The status of a
//! finished call follows from its reason, so the two can never disagree.

use std::borrow::Cow;
use std::fmt;

/// The `calls.status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// Accepted, not answered yet.
    Ringing,
    /// Answered; the conversation runs (or caller and agent talk after a transfer).
    InProgress,
    /// Ended the way calls end: someone hung up, a limit, a goodbye.
    Completed,
    /// Ended by a failure of ours or of Asterisk's.
    Failed,
    /// Refused before it was answered.
    Rejected,
    /// Cut off while the daemon was away or stopping, or not re-adopted.
    Interrupted,
    /// Handed to a person: into the dialplan, or bridged with an agent until they hung up.
    Transferred,
}

impl CallStatus {
    /// Every status, in the order the schema lists them.
    pub const ALL: [CallStatus; 7] = [
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Completed,
        CallStatus::Failed,
        CallStatus::Rejected,
        CallStatus::Interrupted,
        CallStatus::Transferred,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in_progress",
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
            CallStatus::Rejected => "rejected",
            CallStatus::Interrupted => "interrupted",
            CallStatus::Transferred => "transferred",
        }
    }

    /// The status stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<CallStatus> {
        CallStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an accepted call ended (`calls.end_reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The caller hung up.
    CallerHangup,
    /// The caller hung up while the call was being set up.
    CallerHangupDuringSetup,
    /// The caller said goodbye; the agent said goodbye and hung up.
    CallerGoodbye,
    /// The model marked the conversation complete.
    AgentEnded,
    /// The caller pressed the key that ends the call; the agent said goodbye.
    KeypadHangup,
    /// The caller was handed to a transfer target (the call left us, or the bridged call
    /// with the agent ended).
    Transferred,
    /// The profile's `max_turns` was reached.
    MaxTurns,
    /// The profile's `max_duration_seconds` was reached.
    MaxDuration,
    /// The daemon stopped gracefully and said goodbye.
    DaemonShutdown,
    /// An operator hung the call up through the admin API; the agent said goodbye.
    OperatorHangup,
    /// The daemon stopped before the call could end properly.
    DaemonStopped,
    /// Asterisk hung the caller up because it was shutting down or restarting (the soft
    /// hangup with cause 4, FINDINGS 18): the call was cut, not ended by the caller.
    AsteriskShutdown,
    /// After a reconnect, the caller was no longer in our application.
    ChannelGoneWhileDisconnected,
    /// The caller left while no daemon ran the call.
    ChannelGoneWhileDaemonAway,
    /// The call's media stopped under us.
    MediaStopped,
    /// Our External Media channel disappeared.
    MediaChannelLost,
    /// Our bridge was destroyed.
    BridgeLost,
    /// The conversation stopped without a reason of its own.
    ConversationStopped,
    /// The conversation task failed.
    ConversationFailed,
    /// A step of the set-up failed (`step: detail`).
    SetupFailed(String),
    /// Re-adopting the call after a restart failed (`step: detail`).
    ReadoptFailed(String),
    /// This daemon stopped serving the call because another one took the application over
    /// (or it handed over): the call goes on there. Never stored.
    StoodDown,
}

impl EndReason {
    /// The stored text, e.g. `caller_hangup` or `setup_failed: external_media: …`.
    pub fn as_db(&self) -> Cow<'static, str> {
        let fixed = match self {
            EndReason::CallerHangup => "caller_hangup",
            EndReason::CallerHangupDuringSetup => "caller_hangup_during_setup",
            EndReason::CallerGoodbye => "caller_goodbye",
            EndReason::AgentEnded => "agent_ended",
            EndReason::KeypadHangup => "keypad_hangup",
            EndReason::Transferred => "transferred",
            EndReason::MaxTurns => "max_turns",
            EndReason::MaxDuration => "max_duration",
            EndReason::DaemonShutdown => "daemon_shutdown",
            EndReason::OperatorHangup => "operator_hangup",
            EndReason::DaemonStopped => "daemon_stopped",
            EndReason::AsteriskShutdown => "asterisk_shutdown",
            EndReason::ChannelGoneWhileDisconnected => "channel_gone_while_disconnected",
            EndReason::ChannelGoneWhileDaemonAway => "channel_gone_while_daemon_away",
            EndReason::MediaStopped => "media_stopped",
            EndReason::MediaChannelLost => "media_channel_lost",
            EndReason::BridgeLost => "bridge_lost",
            EndReason::ConversationStopped => "conversation_stopped",
            EndReason::ConversationFailed => "conversation_failed",
            EndReason::StoodDown => "stood_down",
            EndReason::SetupFailed(detail) => return Cow::Owned(format!("setup_failed: {detail}")),
            EndReason::ReadoptFailed(detail) => {
                return Cow::Owned(format!("readopt_failed: {detail}"));
            }
        };
        Cow::Borrowed(fixed)
    }

    /// The final status a call ending this way gets.
    pub fn status(&self) -> CallStatus {
        match self {
            EndReason::CallerHangup
            | EndReason::CallerHangupDuringSetup
            | EndReason::CallerGoodbye
            | EndReason::AgentEnded
            | EndReason::KeypadHangup
            | EndReason::MaxTurns
            | EndReason::MaxDuration
            | EndReason::DaemonShutdown
            | EndReason::OperatorHangup
            | EndReason::ConversationStopped => CallStatus::Completed,
            // Never written; the call is still in progress under another daemon.
            EndReason::StoodDown => CallStatus::InProgress,
            EndReason::Transferred => CallStatus::Transferred,
            EndReason::DaemonStopped
            | EndReason::AsteriskShutdown
            | EndReason::ChannelGoneWhileDisconnected
            | EndReason::ChannelGoneWhileDaemonAway
            | EndReason::ReadoptFailed(_) => CallStatus::Interrupted,
            EndReason::MediaStopped
            | EndReason::MediaChannelLost
            | EndReason::BridgeLost
            | EndReason::ConversationFailed
            | EndReason::SetupFailed(_) => CallStatus::Failed,
        }
    }

    /// Whether the caller is still on the line when the call ends this way, so we must
    /// hang them up.
    pub fn caller_still_there(&self) -> bool {
        !matches!(
            self,
            EndReason::CallerHangup
                | EndReason::CallerHangupDuringSetup
                | EndReason::AsteriskShutdown
                | EndReason::ChannelGoneWhileDisconnected
                | EndReason::ChannelGoneWhileDaemonAway
                | EndReason::Transferred
                | EndReason::StoodDown
        )
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_db())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_text() {
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(CallStatus::parse("done"), None);
    }

    #[test]
    fn reasons_say_their_status_and_whether_to_hang_up() {
        assert_eq!(EndReason::CallerHangup.status(), CallStatus::Completed);
        assert!(!EndReason::CallerHangup.caller_still_there());
        assert_eq!(EndReason::DaemonStopped.status(), CallStatus::Interrupted);
        assert!(EndReason::DaemonStopped.caller_still_there());
        assert_eq!(
            EndReason::AsteriskShutdown.status(),
            CallStatus::Interrupted
        );
        assert!(!EndReason::AsteriskShutdown.caller_still_there());
        let failed = EndReason::SetupFailed("external_media: refused".into());
        assert_eq!(failed.status(), CallStatus::Failed);
        assert_eq!(failed.as_db(), "setup_failed: external_media: refused");
        assert_eq!(EndReason::MaxTurns.to_string(), "max_turns");
    }
}
