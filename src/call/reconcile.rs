//! Reconciling with Asterisk after every (re)connect of the event stream. Events sent
//! while we were away are lost for good (Asterisk does not replay them), so we compare
//! what Asterisk has in our application with what we and the database believe:
//! - a call we run whose caller left meanwhile is ended (`interrupted`);
//! - a call the database has as live, whose caller is still in Stasis but that no
//!   session runs (the daemon restarted), is re-adopted;
//! - a call the database has as live whose caller is gone is closed `interrupted`;
//! - a caller in our application we know nothing about (its StasisStart was missed) is
//!   handled as a new call;
//! - our External Media channels and bridges that belong to no live call are removed.

use std::collections::HashSet;

use crate::ari::HangupReason;
use crate::ari::events::StasisStart;
use crate::call::context::{
    AGENT_CHANNEL_PREFIX, BRIDGE_PREFIX, MEDIA_CHANNEL_PREFIX, call_of_agent_channel, is_agent_leg,
};
use crate::call::controller::CallController;
use crate::call::inputs::CallInput;
use crate::call::setup;
use crate::store::EndReason;

impl CallController {
    /// Brings our view in line with Asterisk's; errors are logged, never fatal.
    pub(crate) async fn reconcile(&mut self) {
        let app = match self.ctx.ari.application(&self.ctx.settings.app).await {
            Ok(app) => app,
            Err(e) => {
                tracing::warn!(error = %e, "reconcile: cannot list our application's channels");
                return;
            }
        };
        let in_app: HashSet<String> = app.channel_ids.into_iter().collect();

        // Calls this process runs whose caller left while we were disconnected.
        let gone: Vec<_> = self
            .sessions
            .values()
            .filter(|s| !in_app.contains(&s.ids.caller_channel))
            .map(|s| s.tx.clone())
            .collect();
        for tx in gone {
            let _ = tx.try_send(CallInput::ChannelGone);
        }

        // Calls the database has as live for this Asterisk application.
        let rows = match self.ctx.store.live_calls(&self.ctx.settings.ari_node).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "reconcile: cannot read live calls");
                Vec::new()
            }
        };
        let mut accounted: HashSet<String> = HashSet::new();
        for row in rows {
            accounted.insert(row.channel_id.clone());
            if self.sessions.contains_key(&row.id) {
                continue;
            }
            if in_app.contains(&row.channel_id) {
                // An agent leg of this call in our application: the call was transferred
                // and caller and agent talk (or the hand-over was under way).
                let agent = in_app
                    .iter()
                    .find(|ch| call_of_agent_channel(ch) == Some(row.id) && is_agent_leg(ch))
                    .cloned();
                if let Some(agent) = &agent {
                    accounted.insert(agent.clone());
                    accounted.insert(format!("{agent}-2"));
                }
                self.start_readopted(row, agent);
            } else {
                tracing::info!(call_id = %row.id, "reconcile: caller gone while the daemon was away");
                if let Some(em) = &row.media_channel_id {
                    setup::delete_channel(&self.ctx, em, HangupReason::Normal).await;
                }
                if let Some(bridge) = &row.bridge_id {
                    setup::destroy_bridge(&self.ctx, bridge).await;
                }
                let _ = self
                    .ctx
                    .store
                    .add_call_event(
                        row.id,
                        Some(row.tenant_id),
                        "ended",
                        serde_json::json!({"reason": "channel_gone"}),
                    )
                    .await;
                match self
                    .ctx
                    .store
                    .finish_call(row.id, &EndReason::ChannelGoneWhileDaemonAway)
                    .await
                {
                    Ok(true) => metrics::counter!(
                        "vca_calls_total",
                        "outcome" => EndReason::ChannelGoneWhileDaemonAway.status().as_str()
                    )
                    .increment(1),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(call_id = %row.id, error = %e, "reconcile: cannot close call")
                    }
                }
            }
        }

        // Channels in our application nobody accounts for.
        for channel in &in_app {
            if self.by_channel.contains_key(channel) || accounted.contains(channel) {
                continue;
            }
            if channel.starts_with(MEDIA_CHANNEL_PREFIX) {
                tracing::info!(
                    channel,
                    "reconcile: removing a stray External Media channel"
                );
                setup::delete_channel(&self.ctx, channel, HangupReason::Normal).await;
                continue;
            }
            if channel.starts_with(AGENT_CHANNEL_PREFIX) {
                if call_of_agent_channel(channel).is_some_and(|c| self.sessions.contains_key(&c)) {
                    continue;
                }
                tracing::info!(
                    channel,
                    "reconcile: hanging up an agent leg of no live call"
                );
                setup::delete_channel(&self.ctx, channel, HangupReason::Normal).await;
                continue;
            }
            match self.ctx.ari.channel(channel).await {
                Ok(ch) => {
                    tracing::info!(
                        channel,
                        "reconcile: a call arrived while we were away; taking it now"
                    );
                    let args = stasis_args(&ch.dialplan.app_data);
                    self.start_new_call(StasisStart {
                        args,
                        channel: ch,
                        replace_channel: None,
                    });
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => tracing::warn!(channel, error = %e, "reconcile: cannot read channel"),
            }
        }

        // Our bridges that no live call owns.
        match self.ctx.ari.bridges().await {
            Ok(bridges) => {
                for b in bridges {
                    if b.id.starts_with(BRIDGE_PREFIX) && !self.by_bridge.contains_key(&b.id) {
                        tracing::info!(bridge = %b.id, "reconcile: removing a stray bridge");
                        setup::destroy_bridge(&self.ctx, &b.id).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reconcile: cannot list bridges"),
        }
    }
}

/// The Stasis arguments from a channel's `app_data` (`vca-bridge,<DID>,<caller>`).
fn stasis_args(app_data: &str) -> Vec<String> {
    app_data
        .split(',')
        .skip(1)
        .map(|s| s.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn args_come_after_the_app_name() {
        assert_eq!(
            super::stasis_args("vca-bridge,+918012345678,+919876543210"),
            ["+918012345678", "+919876543210"]
        );
        assert!(super::stasis_args("vca-bridge").is_empty());
    }
}
