//! Music on hold and the other channel operations of a transfer: channel MOH (`POST|DELETE
//! /channels/{id}/moh`, 204, no events, an unknown class plays the default; FINDINGS 40),
//! hold (MOH on a Local channel, 41d), bridge MOH (the Announcer in BRIDGEPEER and
//! `softmix`, 41c), `redirect` (accepted and ignored on Local channels, FINDINGS 43) and
//! app-sent DTMF (FINDINGS 45). What the caller hears meanwhile is in `hearing.rs`.

use axum::http::StatusCode;

use crate::model::failure::{AriFailure, AriResult};
use crate::model::{ChannelKind, SimState};

impl SimState {
    fn stasis_channel(&self, id: &str) -> AriResult<&crate::model::Channel> {
        let c = self
            .channels
            .get(id)
            .ok_or_else(AriFailure::channel_not_found)?;
        if c.stasis_app.is_none() {
            return Err(AriFailure::new(
                StatusCode::CONFLICT,
                "Channel not in Stasis application",
            ));
        }
        Ok(c)
    }

    /// `POST /channels/{id}/moh[?mohClass=…]` and `POST /channels/{id}/hold`.
    pub(crate) fn start_moh(&mut self, id: &str, _class: Option<&str>) -> AriResult<()> {
        self.stasis_channel(id)?;
        let call = match &self.channels.get(id).map(|c| &c.kind) {
            Some(ChannelKind::Inbound { call_id }) => Some(call_id.clone()),
            _ => None,
        };
        if let Some(c) = self.channels.get_mut(id) {
            // Every class plays `default` (the only one configured).
            c.moh = Some("default".to_owned());
        }
        if let Some(call) = call {
            self.milestone(&call, |m| m.moh_started = true);
        }
        self.refresh_hearing();
        Ok(())
    }

    /// `DELETE /channels/{id}/moh` and `DELETE /channels/{id}/hold`: 204 even with nothing
    /// playing.
    pub(crate) fn stop_moh(&mut self, id: &str) -> AriResult<()> {
        self.stasis_channel(id)?;
        if let Some(c) = self.channels.get_mut(id) {
            c.moh = None;
        }
        self.refresh_hearing();
        Ok(())
    }

    /// `POST /bridges/{id}/moh`: an Announcer joins (no ChannelEnteredBridge), BRIDGEPEER of
    /// both members names it, the technology is `softmix` while it plays.
    pub(crate) fn start_bridge_moh(&mut self, bridge_id: &str) -> AriResult<()> {
        let Some(b) = self.bridges.get(bridge_id) else {
            return Err(AriFailure::bridge_not_found());
        };
        if b.moh_announcer.is_some() {
            return Ok(());
        }
        let seq = self.next_local_seq();
        let name = format!("Announcer/ARI_MOH-{seq:08x};2");
        if let Some(b) = self.bridges.get_mut(bridge_id) {
            b.moh_announcer = Some(name);
            b.technology = "softmix";
        }
        self.announce_peers(bridge_id);
        self.bridge_music(bridge_id, true);
        self.refresh_hearing();
        Ok(())
    }

    fn bridge_music(&self, bridge_id: &str, on: bool) {
        let Some(b) = self.bridges.get(bridge_id) else {
            return;
        };
        for m in &b.channels {
            if let Some(ChannelKind::ExternalMedia { peer, .. }) =
                self.channels.get(m).map(|c| &c.kind)
            {
                let _ = peer.send(crate::rtp::peer::PeerCommand::Music(on));
            }
        }
    }

    /// `DELETE /bridges/{id}/moh`.
    pub(crate) fn stop_bridge_moh(&mut self, bridge_id: &str) -> AriResult<()> {
        let Some(b) = self.bridges.get_mut(bridge_id) else {
            return Err(AriFailure::bridge_not_found());
        };
        if b.moh_announcer.take().is_some() {
            b.technology = "simple_bridge";
            self.announce_peers(bridge_id);
            self.bridge_music(bridge_id, false);
        }
        self.refresh_hearing();
        Ok(())
    }

    /// `POST /channels/{id}/redirect?endpoint=…` (FINDINGS 43).
    pub(crate) fn redirect(&self, id: &str, endpoint: Option<&str>) -> AriResult<()> {
        let endpoint = endpoint.filter(|e| !e.is_empty()).ok_or_else(|| {
            AriFailure::bad_request("Required parameter 'endpoint' not provided.")
        })?;
        let c = self.stasis_channel(id)?;
        let unprocessable = |m: String| AriFailure::new(StatusCode::UNPROCESSABLE_ENTITY, m);
        let Some((tech, resource)) = endpoint.split_once('/').filter(|(t, _)| !t.is_empty()) else {
            return Err(unprocessable(format!(
                "Endpoint parameter '{endpoint}' does not contain tech/resource"
            )));
        };
        if resource.is_empty() {
            return Err(unprocessable(format!(
                "No resource provided in endpoint parameter '{endpoint}'"
            )));
        }
        let chan_tech = c.name.split('/').next().unwrap_or("");
        if !tech.eq_ignore_ascii_case(chan_tech) {
            return Err(unprocessable(format!(
                "Endpoint technology '{tech}' does not match channel technology '{chan_tech}'"
            )));
        }
        // Local and UnicastRTP cannot transfer: Asterisk logs "Unsupported transfer
        // requested" and nothing happens.
        Ok(())
    }

    /// `POST /channels/{id}/dtmf`: 204 (illegal digits are skipped, nothing is sent
    /// back as an event), 400 without `dtmf`.
    pub(crate) fn app_dtmf(&self, id: &str, dtmf: Option<&str>) -> AriResult<()> {
        if dtmf.is_none_or(str::is_empty) {
            return Err(AriFailure::bad_request("DTMF is required"));
        }
        self.stasis_channel(id).map(|_| ())
    }
}
