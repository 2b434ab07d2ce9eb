//! Caller-side operations shared by the library handle and the `/sim` control API:
//! placing calls (with their hangup timer), DTMF, restart, recordings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::core::Shared;
use crate::error::SimError;
use crate::model::ChannelKind;
use crate::model::agents::default_agent_speech;
use crate::model::calls::PlacedCall;
use crate::model::hearing::{AppPacket, Heard, Source, Voice, render, render_agent};
use crate::rtp::feed::{CallerFeed, FRAME_SAMPLES, Frame, ticks};
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

    /// What External Media channel `em_id` has received: a live snapshot while it runs,
    /// its final recording after (kept for the calls it served). A re-adopted call has
    /// more than one; [`Shared::recording`] follows only the first.
    pub(crate) async fn external_media_recording(&self, em_id: &str) -> Option<RtpRecording> {
        let rx = {
            let st = self.state();
            match st.channels.get(em_id).map(|c| &c.kind) {
                Some(ChannelKind::ExternalMedia { peer, .. }) => {
                    let (tx, rx) = oneshot::channel();
                    peer.send(PeerCommand::Snapshot(tx)).ok()?;
                    rx
                }
                _ => {
                    return st
                        .calls
                        .values()
                        .find_map(|c| c.em_recordings.get(em_id))
                        .map(|(_, rec)| rec.clone());
                }
            }
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

/// A recording to read for the caller's timeline: final, or asked of the live peer.
enum EmRec {
    Done(RtpRecording),
    Live(oneshot::Receiver<RtpRecording>),
}

impl Shared {
    /// What the caller of `call_id` heard so far (or in all, once the call is over).
    pub(crate) async fn caller_heard(&self, call_id: &str) -> Option<Heard> {
        let (start, end, log, ems, voices) = {
            let st = self.state();
            let call = st.calls.get(call_id)?;
            let end = call.ended_at.unwrap_or_else(std::time::Instant::now);
            let mut ems = Vec::new();
            for em in &call.em_ids {
                if let Some((created, rec)) = call.em_recordings.get(em) {
                    ems.push((em.clone(), *created, EmRec::Done(rec.clone())));
                } else if let Some(ChannelKind::ExternalMedia { peer, created, .. }) =
                    st.channels.get(em).map(|c| &c.kind)
                {
                    let (tx, rx) = oneshot::channel();
                    if peer.send(PeerCommand::Snapshot(tx)).is_ok() {
                        ems.push((em.clone(), *created, EmRec::Live(rx)));
                    }
                }
            }
            let mut voices = HashMap::new();
            for (_, h) in &call.hear_log.steps {
                for src in &h.sources {
                    if let Source::Agent(a) = src
                        && let Some(rec) = st.agents.get(a)
                        && let Some(t) = rec.answered_at
                    {
                        voices.insert(a.clone(), (t, rec.speech.clone()));
                    }
                }
            }
            (call.started, end, call.hear_log.clone(), ems, voices)
        };
        let mut recs = Vec::new();
        for (em, created, r) in ems {
            let rec = match r {
                EmRec::Done(r) => r,
                EmRec::Live(rx) => match rx.await {
                    Ok(r) => r,
                    Err(_) => continue,
                },
            };
            recs.push((em, created, rec));
        }
        let mut packets = Vec::new();
        for (em, created, rec) in &recs {
            let mut at = 0usize;
            for p in &rec.packets {
                let Some(samples) = rec.pcm.get(at..at + p.payload_len) else {
                    break;
                };
                at += p.payload_len;
                packets.push(AppPacket {
                    em_id: em,
                    arrival: *created + p.arrival,
                    samples,
                });
            }
        }
        packets.sort_by_key(|p| p.arrival);
        let prompt = default_agent_speech();
        let voice = |s: &Source| match s {
            Source::Agent(a) => voices.get(a).map(|(t, sp)| Voice {
                from: *t,
                samples: sp.clone(),
            }),
            Source::Prompt(t) => Some(Voice {
                from: *t,
                samples: prompt.clone(),
            }),
            Source::App(_) => None,
        };
        Some(render(start, end, &log, &packets, &voice))
    }

    /// What the agent of leg `agent_id` heard: the caller it was bridged with.
    pub(crate) fn agent_heard(&self, agent_id: &str) -> Option<Heard> {
        let st = self.state();
        let a = st.agents.get(agent_id)?;
        let end = a.ended_at.unwrap_or_else(std::time::Instant::now);
        let call_id = a
            .hear_log
            .steps
            .iter()
            .find_map(|(_, c)| c.clone())
            .or_else(|| a.call_id.clone());
        let Some(call) = call_id.as_deref().and_then(|c| st.calls.get(c)) else {
            return Some(render_agent(a.created, end, &a.hear_log, a.created, &[]));
        };
        let t0 = call.audio_started.unwrap_or(call.started) + self.config.media_start_delay;
        let ticks = ticks(end.saturating_duration_since(t0)) as usize;
        let mut feed = CallerFeed::new(call.parts.clone(), call.transmit_silence);
        let mut caller = Vec::with_capacity(ticks * FRAME_SAMPLES);
        let mut frame = [0i16; FRAME_SAMPLES];
        for _ in 0..ticks {
            match feed.poll_frame(&mut frame) {
                Frame::Speech(n) => {
                    caller.extend_from_slice(&frame[..n]);
                    caller.extend(std::iter::repeat_n(0, FRAME_SAMPLES - n));
                }
                Frame::Silence | Frame::Nothing => {
                    caller.extend(std::iter::repeat_n(0, FRAME_SAMPLES));
                }
            }
        }
        Some(render_agent(a.created, end, &a.hear_log, t0, &caller))
    }
}
