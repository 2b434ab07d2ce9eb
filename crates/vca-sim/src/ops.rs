//! Caller-side operations shared by the library handle and the `/sim` control API:
//! placing calls (with their hangup timer), DTMF, restart, recordings.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::core::Shared;
use crate::error::SimError;
use crate::model::ChannelKind;
use crate::model::calls::PlacedCall;
use crate::rtp::peer::PeerCommand;
use crate::rtp::recording::RtpRecording;
use crate::spec::{AudioPart, CallSpec, CallStatus, HangupWhen, RestartSpec};

/// Pause between digits of a DTMF string (SendDTMF's default spacing seen in dtmf.jsonl).
const INTER_DIGIT: Duration = Duration::from_millis(250);

impl Shared {
    /// Places a call and starts its hangup timer.
    pub(crate) fn place_call(self: &Arc<Self>, spec: &CallSpec) -> PlacedCall {
        let parts: Arc<[AudioPart]> = spec.audio.clone().into();
        let placed = self.state().place_call(spec, parts);
        let shared = Arc::clone(self);
        let id = placed.id.clone();
        let mut status = placed.status.clone();
        let mut audio_done = placed.audio_done.clone();
        let mut milestones = placed.milestones.clone();
        let hangup = spec.hangup;
        tokio::spawn(async move {
            let ended = async {
                let _ = status.wait_for(|s| matches!(s, CallStatus::Ended(_))).await;
            };
            let timer = async {
                match hangup {
                    HangupWhen::Never => std::future::pending::<()>().await,
                    HangupWhen::After(d) => tokio::time::sleep(d).await,
                    HangupWhen::AfterAudio(d) => {
                        if audio_done.wait_for(|done| *done).await.is_err() {
                            std::future::pending::<()>().await;
                        }
                        tokio::time::sleep(d).await;
                    }
                    HangupWhen::On(trigger, d) => {
                        if milestones.wait_for(|m| m.reached(trigger)).await.is_err() {
                            std::future::pending::<()>().await;
                        }
                        tokio::time::sleep(d).await;
                    }
                }
            };
            tokio::select! {
                () = ended => {}
                () = timer => {
                    let _ = shared.state().caller_hangup(&id);
                }
            }
        });
        placed
    }

    /// The caller presses `digits`, each for `duration_ms`; returns after the last one.
    pub(crate) async fn send_dtmf(
        &self,
        call_id: &str,
        digits: &str,
        duration_ms: u32,
    ) -> Result<(), SimError> {
        if let Some(bad) = digits
            .chars()
            .find(|d| !matches!(d, '0'..='9' | 'A'..='D' | '*' | '#'))
        {
            return Err(SimError::InvalidDigit(bad));
        }
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 {
                tokio::time::sleep(INTER_DIGIT).await;
            }
            self.state().dtmf_begin(call_id, digit, duration_ms)?;
            tokio::time::sleep(Duration::from_millis(u64::from(duration_ms))).await;
            self.state().dtmf_end(call_id, digit, duration_ms)?;
        }
        Ok(())
    }

    /// What the call's External Media peer has received: a live snapshot while it runs,
    /// the final recording after.
    pub(crate) async fn recording(&self, call_id: &str) -> Option<RtpRecording> {
        let rx = {
            let st = self.state();
            let call = st.calls.get(call_id)?;
            if let Some(r) = &call.recording {
                return Some(r.clone());
            }
            let em = call.em_id.as_ref()?;
            let ChannelKind::ExternalMedia { peer, .. } = &st.channels.get(em)?.kind else {
                return None;
            };
            let (tx, rx) = oneshot::channel();
            peer.send(PeerCommand::Snapshot(tx)).ok()?;
            rx
        };
        rx.await.ok()
    }

    /// An Asterisk restart (FINDINGS 18): hangups with cause 4, the WebSocket dropped
    /// without a close frame, connections refused, a window of 404s, then a fresh PBX.
    pub(crate) async fn restart(&self, spec: RestartSpec) {
        self.state().restart_hangups();
        tokio::time::sleep(spec.drop_after).await;
        {
            let mut st = self.state();
            st.drop_ws();
            st.forget_everything();
        }
        self.accepting.send_replace(false);
        tokio::time::sleep(spec.refused_for).await;
        let ready_at = Instant::now() + spec.not_ready_for;
        self.set_readiness(|r| r.ari_not_ready_until = Some(ready_at));
        self.accepting.send_replace(true);
        tokio::time::sleep_until(ready_at).await;
    }

    /// WebSocket upgrades get 404 for `d`.
    pub(crate) fn refuse_websocket(&self, d: Duration) {
        let until = Instant::now() + d;
        self.set_readiness(|r| r.ws_refused_until = Some(until));
    }
}
