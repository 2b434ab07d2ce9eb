//! An Asterisk restart with calls up (FINDINGS 18): every channel is hung up with the
//! shutdown flag (cause 4) in the recorded order, then everything is forgotten.

use serde_json::json;

use crate::model::{ChannelKind, SimState};
use crate::spec::EndedBy;

impl SimState {
    /// Hangs up every channel as `core restart now` does: `ChannelHangupRequest{cause:4,
    /// soft:true}` for each, members leave their bridges, External Media channels end
    /// (`StasisEnd`), inbound channels get `ChannelHangupRequest{cause:0}`, External Media
    /// channels get `STASISSTATUS=SUCCESS` and `ChannelDestroyed`, inbound `StasisEnd`.
    pub(crate) fn restart_hangups(&mut self) {
        let ordered: Vec<(String, bool)> = self
            .channels_in_order()
            .into_iter()
            .filter(|c| c.stasis_app.is_some())
            .map(|c| {
                (
                    c.id.clone(),
                    matches!(c.kind, ChannelKind::ExternalMedia { .. }),
                )
            })
            .collect();
        for (id, _) in &ordered {
            self.emit_channel(
                "ChannelHangupRequest",
                id,
                json!({ "cause": 4, "soft": true }),
            );
        }
        let bridge_members: Vec<String> = self
            .bridges_in_order()
            .into_iter()
            .flat_map(|b| b.channels.clone())
            .collect();
        for id in &bridge_members {
            self.leave_bridge(id);
        }
        for (id, is_em) in &ordered {
            if *is_em {
                self.emit_channel("StasisEnd", id, json!({}));
            }
        }
        for (id, is_em) in &ordered {
            if !*is_em {
                self.emit_channel("ChannelHangupRequest", id, json!({ "cause": 0 }));
            }
        }
        for (id, is_em) in &ordered {
            if *is_em {
                self.set_var_with_event(id, "STASISSTATUS", "SUCCESS");
                if let Some(c) = self.channels.get_mut(id) {
                    c.dialplan = crate::model::Dialplan::app_dial("default");
                }
                self.emit_channel_always(
                    "ChannelDestroyed",
                    id,
                    json!({ "cause": 16, "cause_txt": "Normal Clearing" }),
                );
            }
        }
        for (id, is_em) in &ordered {
            if !*is_em {
                self.emit_channel("StasisEnd", id, json!({}));
            }
        }
        let call_ids: Vec<String> = self.calls.keys().cloned().collect();
        for call_id in call_ids {
            self.end_call(&call_id, EndedBy::Restart, true);
        }
    }

    /// The new process: no channels, no bridges, ids start again. Call records stay so
    /// tests can read their outcomes; dropping the channels stops every RTP peer.
    pub(crate) fn forget_everything(&mut self) {
        let live: Vec<String> = self
            .agents
            .values()
            .filter(|a| a.ended_at.is_none())
            .map(|a| a.id.clone())
            .collect();
        for id in live {
            self.end_agent(&id, crate::model::agents::AgentEnd::Caller);
        }
        self.channels.clear();
        self.bridges.clear();
        self.subscriptions.clear();
        self.pending_stasis.clear();
        self.reset_counters();
    }
}
