//! Bridges: create, add and remove channels, destroy; the BRIDGEPEER / ConnectedLine
//! sequence of a two-party bridge (FINDINGS 5); and connecting a caller's audio to the
//! External Media channel it is bridged with.

use serde_json::{Value, json};

use crate::model::failure::{AriFailure, AriResult};
use crate::model::json as ari;
use crate::model::{Bridge, ChannelKind, SimState};
use crate::rtp::peer::PeerCommand;
use crate::timefmt::ari_timestamp;

const BRIDGE_TYPES: &[&str] = &[
    "mixing",
    "holding",
    "dtmf_events",
    "proxy_media",
    "video_sfu",
    "video_single",
    "sdp_label",
];

impl SimState {
    /// `POST /bridges`.
    pub(crate) fn create_bridge(
        &mut self,
        kind: Option<&str>,
        name: Option<&str>,
        bridge_id: Option<&str>,
    ) -> AriResult<Value> {
        let kind = kind.filter(|k| !k.is_empty()).unwrap_or("mixing");
        if !kind.split(',').all(|k| BRIDGE_TYPES.contains(&k.trim())) {
            return Err(AriFailure::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "Unable to create bridge. Possible duplicate bridge id '{}'",
                    bridge_id.unwrap_or("(null)")
                ),
            ));
        }
        let id = match bridge_id.filter(|b| !b.is_empty()) {
            Some(b) if self.bridges.contains_key(b) => {
                return Err(AriFailure::new(
                    axum::http::StatusCode::CONFLICT,
                    format!("Bridge with id '{b}' already exists"),
                ));
            }
            Some(b) => b.to_owned(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let holding = kind.split(',').any(|k| k.trim() == "holding");
        let order = self.next_order();
        let bridge = Bridge {
            id: id.clone(),
            name: name.unwrap_or("").to_owned(),
            technology: if holding {
                "holding_bridge"
            } else {
                "simple_bridge"
            },
            bridge_type: if holding { "holding" } else { "mixing" },
            channels: Vec::new(),
            creationtime: ari_timestamp(),
            order,
            moh_announcer: None,
        };
        let body = ari::bridge(&bridge);
        self.bridges.insert(id, bridge);
        Ok(body)
    }

    /// `POST /bridges/{id}/addChannel?channel=a,b`.
    pub(crate) fn add_to_bridge(
        &mut self,
        bridge_id: &str,
        channel: Option<&str>,
    ) -> AriResult<()> {
        let ids = split_ids(channel)
            .ok_or_else(|| AriFailure::bad_request("Missing parameter channel"))?;
        if !self.bridges.contains_key(bridge_id) {
            return Err(AriFailure::bridge_not_found());
        }
        for id in &ids {
            let c = self
                .channels
                .get(id)
                .ok_or_else(|| AriFailure::bad_request("Channel not found"))?;
            if c.stasis_app.is_none() {
                return Err(AriFailure::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Channel not in Stasis application",
                ));
            }
        }
        let mut added = false;
        for id in &ids {
            let current = self.channels.get(id).and_then(|c| c.bridge.clone());
            if current.as_deref() == Some(bridge_id) {
                continue;
            }
            if current.is_some() {
                self.leave_bridge(id);
            }
            let Some(b) = self.bridges.get_mut(bridge_id) else {
                break;
            };
            b.channels.push(id.clone());
            let bridge_json = ari::bridge(b);
            if let Some(c) = self.channels.get_mut(id) {
                c.bridge = Some(bridge_id.to_owned());
            }
            self.emit_channel("ChannelEnteredBridge", id, json!({ "bridge": bridge_json }));
            added = true;
        }
        if added {
            self.announce_peers(bridge_id);
            self.connect_media(bridge_id);
            self.note_agent_bridged(bridge_id);
            self.refresh_hearing();
        }
        Ok(())
    }

    /// BRIDGEPEER for both members of a two-party bridge (in bridge order), then
    /// ConnectedLine for each whose connected line changed (second channel first), as
    /// recorded. While bridge MOH plays, BRIDGEPEER names the Announcer too (FINDINGS 41c).
    pub(crate) fn announce_peers(&mut self, bridge_id: &str) {
        let Some(b) = self.bridges.get(bridge_id) else {
            return;
        };
        if b.channels.len() > 2 {
            // Not recorded: each member's BRIDGEPEER lists the others, in join order.
            let members = b.channels.clone();
            let names: Vec<String> = members
                .iter()
                .map(|m| {
                    self.channels
                        .get(m)
                        .map(|c| c.name.clone())
                        .unwrap_or_default()
                })
                .collect();
            let announcer = b.moh_announcer.clone();
            for (i, m) in members.iter().enumerate() {
                let others: Vec<&str> = announcer
                    .iter()
                    .map(String::as_str)
                    .chain(
                        names
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != i)
                            .map(|(_, n)| n.as_str()),
                    )
                    .collect();
                self.set_var_with_event(m, "BRIDGEPEER", &others.join(","));
            }
            return;
        }
        let [a, z] = b.channels.as_slice() else {
            return;
        };
        let (a, z, announcer) = (a.clone(), z.clone(), b.moh_announcer.clone());
        let (Some(ca), Some(cz)) = (self.channels.get(&a), self.channels.get(&z)) else {
            return;
        };
        let (a_name, z_name) = (ca.name.clone(), cz.name.clone());
        let (a_num, z_num) = (ca.caller.number.clone(), cz.caller.number.clone());
        match &announcer {
            Some(ann) => {
                self.set_var_with_event(&z, "BRIDGEPEER", &format!("{ann},{a_name}"));
                self.set_var_with_event(&a, "BRIDGEPEER", &format!("{ann},{z_name}"));
                return;
            }
            None => {
                self.set_var_with_event(&a, "BRIDGEPEER", &z_name);
                self.set_var_with_event(&z, "BRIDGEPEER", &a_name);
            }
        }
        let mut changed = Vec::new();
        for (id, num) in [(&z, a_num), (&a, z_num)] {
            if let Some(c) = self.channels.get_mut(id)
                && c.connected.number != num
            {
                c.connected.number = num;
                changed.push(id.clone());
            }
        }
        for id in changed {
            self.emit_channel("ChannelConnectedLine", &id, json!({}));
        }
    }

    /// If the bridge holds a call's inbound channel and an External Media channel that
    /// carries no caller yet, start the caller's audio on that channel's peer.
    fn connect_media(&mut self, bridge_id: &str) {
        let Some(b) = self.bridges.get(bridge_id) else {
            return;
        };
        let members = b.channels.clone();
        let call_id = members
            .iter()
            .find_map(|m| match self.channels.get(m).map(|c| &c.kind) {
                Some(ChannelKind::Inbound { call_id }) => Some(call_id.clone()),
                _ => None,
            });
        let Some(call_id) = call_id else { return };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        // The caller's audio runs on its own clock: a second External Media channel picks
        // it up where it is now, as a real caller leg would be.
        let now = std::time::Instant::now();
        let resume_after = match call.audio_started {
            Some(t) => Some(now.duration_since(t)),
            None => {
                call.audio_started = Some(now);
                None
            }
        };
        let parts = call.parts.clone();
        let transmit_silence = call.transmit_silence;
        let audio_done = call.audio_done.clone();
        let mut chosen = None;
        for m in &members {
            if let Some(c) = self.channels.get_mut(m)
                && let ChannelKind::ExternalMedia {
                    peer,
                    call_id: owner,
                    media_connected,
                    ..
                } = &mut c.kind
                && !*media_connected
                && owner.as_deref().is_none_or(|o| o == call_id)
            {
                *media_connected = true;
                *owner = Some(call_id.clone());
                let _ = peer.send(PeerCommand::Connect {
                    parts: parts.clone(),
                    resume_after,
                    transmit_silence,
                    audio_done: audio_done.clone(),
                });
                chosen = Some(m.clone());
                break;
            }
        }
        if let (Some(em), Some(call)) = (chosen, self.calls.get_mut(&call_id))
            && call.em_id.is_none()
        {
            call.em_id = Some(em);
        }
    }

    /// Takes a channel out of its bridge: `ChannelVarset BRIDGEPEER=""`, `ChannelLeftBridge`;
    /// stops the caller's audio on External Media channels that lose their caller.
    pub(crate) fn leave_bridge(&mut self, channel_id: &str) {
        let Some(bridge_id) = self.channels.get(channel_id).and_then(|c| c.bridge.clone()) else {
            return;
        };
        let Some(b) = self.bridges.get_mut(&bridge_id) else {
            return;
        };
        b.channels.retain(|c| c != channel_id);
        let bridge_json = ari::bridge(b);
        let remaining = b.channels.clone();
        let had_peer = self.channels.get_mut(channel_id).is_some_and(|c| {
            c.bridge = None;
            c.vars.get("BRIDGEPEER").is_some_and(|v| !v.is_empty())
        });
        if had_peer {
            self.set_var_with_event(channel_id, "BRIDGEPEER", "");
        }
        self.emit_channel(
            "ChannelLeftBridge",
            channel_id,
            json!({ "bridge": bridge_json }),
        );
        for id in std::iter::once(channel_id.to_owned()).chain(remaining) {
            if let Some(c) = self.channels.get_mut(&id)
                && let ChannelKind::ExternalMedia {
                    peer,
                    media_connected,
                    ..
                } = &mut c.kind
                && *media_connected
            {
                *media_connected = false;
                let _ = peer.send(PeerCommand::Disconnect);
            }
        }
        self.refresh_hearing();
    }

    /// A caller and an agent in one bridge: the call's `bridged_with_agent` milestone.
    fn note_agent_bridged(&mut self, bridge_id: &str) {
        let Some(b) = self.bridges.get(bridge_id) else {
            return;
        };
        let mut call = None;
        let mut agent = None;
        for m in &b.channels {
            match self.channels.get(m).map(|c| &c.kind) {
                Some(ChannelKind::Inbound { call_id }) => call = Some(call_id.clone()),
                Some(ChannelKind::AgentLeg { agent_id }) => agent = Some(agent_id.clone()),
                _ => {}
            }
        }
        if let (Some(call), Some(agent)) = (call, agent) {
            if let Some(c) = self.calls.get_mut(&call) {
                c.agent_reached = Some(agent.clone());
            }
            if let Some(a) = self.agents.get_mut(&agent) {
                a.call_id.get_or_insert(call.clone());
            }
            self.milestone(&call, |m| m.bridged_with_agent = true);
        }
    }

    /// `POST /bridges/{id}/removeChannel?channel=…`.
    pub(crate) fn remove_from_bridge(
        &mut self,
        bridge_id: &str,
        channel: Option<&str>,
    ) -> AriResult<()> {
        let ids = split_ids(channel)
            .ok_or_else(|| AriFailure::bad_request("Missing parameter channel"))?;
        let Some(b) = self.bridges.get(bridge_id) else {
            return Err(AriFailure::bridge_not_found());
        };
        for id in &ids {
            if !self.channels.contains_key(id) {
                return Err(AriFailure::bad_request("Channel not found"));
            }
            if !b.channels.contains(id) {
                return Err(AriFailure::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Channel not in this bridge",
                ));
            }
        }
        for id in &ids {
            self.leave_bridge(id);
        }
        Ok(())
    }

    /// `DELETE /bridges/{id}`: members leave, then `BridgeDestroyed`.
    pub(crate) fn destroy_bridge(&mut self, bridge_id: &str) -> AriResult<()> {
        let Some(b) = self.bridges.get(bridge_id) else {
            return Err(AriFailure::bridge_not_found());
        };
        for id in b.channels.clone() {
            self.leave_bridge(&id);
        }
        if let Some(b) = self.bridges.remove(bridge_id) {
            self.emit("BridgeDestroyed", json!({ "bridge": ari::bridge(&b) }));
        }
        Ok(())
    }
}

/// `a,b` → `[a, b]`; `None` when missing or empty.
fn split_ids(channel: Option<&str>) -> Option<Vec<String>> {
    let ids: Vec<String> = channel?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!ids.is_empty()).then_some(ids)
}
