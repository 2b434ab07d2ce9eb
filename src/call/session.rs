//! One call, from its `StasisStart` (or its re-adoption after a restart) to its final
//! row: route it, take a lease, answer, bring media up, live (`call::live`) until someone
//! hangs up or the conversation ends it, then take everything down and finalise the row.
//! Each session is one task; the controller feeds it the ARI events of its channels.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::Instrument;
use uuid::Uuid;

use crate::ari::events::StasisStart;
use crate::ari::{AriEvent, HangupReason};
use crate::call::board::LiveCell;
use crate::call::context::CallContext;
use crate::call::inputs::{CallInput, SessionIds};
use crate::call::live::LiveCall as Live;
use crate::call::routing::{Decision, RejectReason, decide, dialled_numbers};
use crate::call::setup::{self, CallResources, SetupError};
use crate::conversation::{AgentProfile, ConversationState};
use crate::media::config::MediaConfig;
use crate::phone::mask;
use crate::recording::call::CallRecording;
use crate::store::ai_profiles::{AiProfile, DEFAULT_ENDPOINTING_SILENCE_MS};
use crate::store::call_log::{LiveCall, NewCall, Rejection};
use crate::store::live_board::{LiveEntry, LiveState};
use crate::store::retry::retry_transient;
use crate::store::{CallStatus, EndReason};

/// How long a live call's own row writes (answered, its events, the final state) are tried
/// again while the database is away (a PostgreSQL restart); the reconciler closes a row
/// that is still open after that.
const ROW_WRITE_LIMIT: Duration = Duration::from_secs(30);

fn media_config(ctx: &CallContext, profile: Option<&AiProfile>) -> MediaConfig {
    let mut cfg = MediaConfig {
        law: ctx.settings.law,
        ..MediaConfig::default()
    };
    if let Some(p) = profile {
        cfg.endpointer.end_silence = Duration::from_millis(
            u64::try_from(p.endpointing_silence_ms)
                .unwrap_or(DEFAULT_ENDPOINTING_SILENCE_MS as u64),
        );
    }
    cfg
}

/// Handles a new call end to end. `call_id` and `ids` were chosen by the controller.
pub async fn run_new_call(
    ctx: CallContext,
    start: StasisStart,
    call_id: Uuid,
    ids: SessionIds,
    mut inputs: mpsc::Receiver<CallInput>,
    cell: LiveCell,
) {
    let numbers = dialled_numbers(&start, ctx.settings.country_code);
    let caller_channel = start.channel.id.clone();
    let route = if numbers.called_valid {
        match ctx.store.route_did(&numbers.called).await {
            Ok(row) => decide(row),
            Err(e) => {
                tracing::error!(channel = %caller_channel, error = %e, "cannot route call: database unavailable");
                metrics::counter!("vca_calls_total", "outcome" => CallStatus::Failed.as_str())
                    .increment(1);
                setup::delete_channel(&ctx, &caller_channel, HangupReason::Congestion).await;
                return;
            }
        }
    } else {
        decide(None)
    };
    let route = match route {
        Decision::Accept(route) => route,
        Decision::Reject {
            reason,
            tenant_id,
            phone_number_id,
        } => {
            reject(
                &ctx,
                &caller_channel,
                &numbers.caller,
                &numbers.called,
                reason,
                tenant_id,
                phone_number_id,
            )
            .await;
            return;
        }
    };
    if !ctx
        .leases
        .acquire(route.tenant_id, call_id, route.max_concurrent_calls)
        .await
    {
        reject(
            &ctx,
            &caller_channel,
            &numbers.caller,
            &numbers.called,
            RejectReason::TenantBusy,
            Some(route.tenant_id),
            Some(route.phone_number_id),
        )
        .await;
        return;
    }
    let span = tracing::info_span!("call", call_id = %call_id, tenant_id = %route.tenant_id);
    async move {
        tracing::info!(caller = %mask(&numbers.caller), called = %mask(&numbers.called), channel = %caller_channel, "call accepted");
        let row = NewCall {
            id: call_id,
            tenant_id: route.tenant_id,
            phone_number_id: route.phone_number_id,
            ai_profile_id: route.profile.id,
            channel_id: caller_channel.clone(),
            caller: numbers.caller.clone(),
            called: numbers.called.clone(),
            ari_node: ctx.settings.ari_node.clone(),
        };
        if let Err(e) = ctx.store.insert_call(&row).await {
            tracing::error!(error = %e, "cannot record call; hanging up");
            ctx.leases.release(route.tenant_id, call_id).await;
            setup::delete_channel(&ctx, &caller_channel, HangupReason::Congestion).await;
            metrics::counter!("vca_calls_total", "outcome" => CallStatus::Failed.as_str()).increment(1);
            return;
        }
        metrics::gauge!("vca_live_calls").increment(1.0);
        let live = LiveSession {
            ctx: ctx.clone(),
            call_id,
            tenant_id: route.tenant_id,
            ids,
            profile: Some(route.profile),
            caller: numbers.caller.clone(),
            did: numbers.called.clone(),
            answered: None,
            readopted: false,
            res: CallResources::default(),
            cell,
            started_at: chrono::Utc::now(),
            recording: None,
        };
        live.bring_up_and_run(&mut inputs).await;
        metrics::gauge!("vca_live_calls").decrement(1.0);
    }
    .instrument(span)
    .await;
}

async fn reject(
    ctx: &CallContext,
    channel: &str,
    caller: &str,
    called: &str,
    reason: RejectReason,
    tenant_id: Option<Uuid>,
    phone_number_id: Option<Uuid>,
) {
    tracing::info!(
        channel,
        caller = %mask(caller),
        called = %mask(called),
        reason = reason.as_str(),
        tenant_id = ?tenant_id,
        "call rejected"
    );
    setup::delete_channel(ctx, channel, reason.hangup_reason()).await;
    let row = Rejection {
        tenant_id,
        phone_number_id,
        channel_id: channel.to_string(),
        caller: caller.to_string(),
        called: called.to_string(),
        ari_node: ctx.settings.ari_node.clone(),
        reason: reason.as_str().to_string(),
    };
    if let Err(e) = ctx.store.insert_rejection(&row).await {
        tracing::error!(error = %e, "cannot record the rejection");
    }
    metrics::counter!("vca_calls_total", "outcome" => CallStatus::Rejected.as_str()).increment(1);
    metrics::counter!("vca_calls_rejected_total", "reason" => reason.as_str()).increment(1);
}

/// Re-adopts a call left in Stasis by an earlier run of the daemon: a new External
/// Media channel (on a new port) in its bridge, and the call goes on.
pub async fn run_readopted(
    ctx: CallContext,
    live: LiveCall,
    ids: SessionIds,
    agent: Option<String>,
    mut inputs: mpsc::Receiver<CallInput>,
    cell: LiveCell,
) {
    let span = tracing::info_span!("call", call_id = %live.id, tenant_id = %live.tenant_id);
    async move {
        tracing::info!(channel = %live.channel_id, "re-adopting call after restart");
        let profile = match live.ai_profile_id {
            Some(pid) => ctx.store.get_ai_profile(live.tenant_id, pid).await.ok(),
            None => None,
        };
        ctx.leases.acquire(live.tenant_id, live.id, i32::MAX).await;
        metrics::gauge!("vca_live_calls").increment(1.0);
        metrics::counter!("vca_calls_readopted_total").increment(1);
        let mut session = LiveSession {
            ctx: ctx.clone(),
            call_id: live.id,
            tenant_id: live.tenant_id,
            ids,
            profile,
            caller: live.caller.clone(),
            did: live.called.clone(),
            answered: Some(instant_of(
                live.answered_at.unwrap_or_else(chrono::Utc::now),
            )),
            readopted: true,
            res: CallResources::default(),
            cell,
            started_at: live.started_at,
            recording: None,
        };
        session.on_board(LiveState::Connecting);
        // The old External Media channel points at a port nobody reads any more.
        if let Some(old) = live.media_channel_id.as_deref() {
            setup::delete_channel(&ctx, old, HangupReason::Normal).await;
        }
        let bridge_alive = match live.bridge_id.as_deref() {
            Some(b) => ctx.ari.bridge(b).await.is_ok(),
            None => false,
        };
        if bridge_alive {
            session.res.bridge_id = live.bridge_id.clone();
            session.ids.bridge = live.bridge_id.clone().unwrap_or_default();
        }
        if let Some(agent) = agent {
            let bridged = match live.bridge_id.as_deref() {
                Some(b) if bridge_alive => ctx.ari.bridge(b).await.is_ok_and(|br| {
                    br.channels.contains(&live.channel_id) && br.channels.contains(&agent)
                }),
                _ => false,
            };
            if bridged {
                tracing::info!(agent = %agent, "caller and agent are bridged: supervising the call");
                session
                    .event("readopted", serde_json::json!({"bridged_with": agent}))
                    .await;
                let reason = session.supervise_bridged(&mut inputs, &agent).await;
                session.end(reason).await;
                metrics::gauge!("vca_live_calls").decrement(1.0);
                return;
            }
            // The hand-over did not complete: the agent leg goes, the conversation goes on.
            tracing::info!(agent = %agent, "an unfinished transfer: dropping the agent leg");
            setup::delete_channel(&ctx, &agent, HangupReason::Normal).await;
        }
        if let Err(e) = ctx.ari.stop_moh(&live.channel_id).await {
            tracing::debug!(error = %e, "no music on hold to stop");
        }
        session.readopt(&mut inputs, !bridge_alive).await;
        metrics::gauge!("vca_live_calls").decrement(1.0);
    }
    .instrument(span)
    .await;
}

/// The monotonic instant of a wall-clock time in the past (a re-adopted call's answer).
fn instant_of(at: chrono::DateTime<chrono::Utc>) -> Instant {
    let ago = (chrono::Utc::now() - at).to_std().unwrap_or_default();
    let now = Instant::now();
    now.checked_sub(ago).unwrap_or(now)
}

/// A call that has been accepted: the part of the session that owns resources.
struct LiveSession {
    ctx: CallContext,
    call_id: Uuid,
    tenant_id: Uuid,
    ids: SessionIds,
    profile: Option<AiProfile>,
    /// The calling number (E.164 as received) and the DID, for tool requests.
    caller: String,
    did: String,
    /// When the caller was answered (a re-adopted call: by an earlier run of the daemon).
    answered: Option<Instant>,
    /// The call was re-adopted after a restart: its conversation continues.
    readopted: bool,
    res: CallResources,
    /// The call's entry on the live-calls board.
    cell: LiveCell,
    started_at: chrono::DateTime<chrono::Utc>,
    /// The segment being recorded, when the profile records calls.
    recording: Option<CallRecording>,
}

impl LiveSession {
    /// Puts the call on the live-calls board in `state`.
    fn on_board(&self, state: LiveState) {
        self.cell.set(LiveEntry {
            call_id: self.call_id,
            tenant_id: self.tenant_id,
            did: self.did.clone(),
            caller: mask(&self.caller),
            state,
            started_at: self.started_at,
            turns: 0,
            node: self.ctx.settings.node.clone(),
        });
    }

    async fn event(&self, kind: &str, details: serde_json::Value) {
        let store = &self.ctx.store;
        let write =
            || store.add_call_event(self.call_id, Some(self.tenant_id), kind, details.clone());
        if let Err(e) = retry_transient("call_event", ROW_WRITE_LIMIT, write).await {
            tracing::warn!(kind, error = %e, "cannot record call event");
        }
    }

    async fn bring_up_and_run(mut self, inputs: &mut mpsc::Receiver<CallInput>) {
        let ending = match self.bring_up().await {
            Ok(()) => self.live(inputs).await,
            Err(e) => match self.caller_left_meanwhile(inputs) {
                Some(ending) => ending,
                None => {
                    tracing::warn!(error = %e, step = e.step(), "call setup failed");
                    EndReason::SetupFailed(e.to_string())
                }
            },
        };
        self.end(ending).await;
    }

    /// After a failed setup step: did the caller hang up while we were setting up?
    /// (Their events wait in the queue; the failure was then only a consequence.)
    fn caller_left_meanwhile(&self, inputs: &mut mpsc::Receiver<CallInput>) -> Option<EndReason> {
        while let Ok(input) = inputs.try_recv() {
            if let CallInput::Ari(event) = input {
                let gone = match &*event {
                    AriEvent::ChannelHangupRequest(e) => e.channel.id == self.ids.caller_channel,
                    AriEvent::StasisEnd(e) => e.channel.id == self.ids.caller_channel,
                    AriEvent::ChannelDestroyed(e) => e.channel.id == self.ids.caller_channel,
                    _ => false,
                };
                if gone {
                    return Some(EndReason::CallerHangupDuringSetup);
                }
            }
        }
        None
    }

    async fn bring_up(&mut self) -> Result<(), SetupError> {
        let ctx = self.ctx.clone();
        ctx.ari
            .answer(&self.ids.caller_channel)
            .await
            .map_err(SetupError::Answer)?;
        self.answered = Some(Instant::now());
        self.on_board(LiveState::Connecting);
        // While the bridge and External Media are set up, the speech provider gets ready
        // for the greeting (Sarvam opens its socket).
        let tts = ctx.engines.tts.clone();
        let voice = self.profile.as_ref().and_then(|p| p.voice.clone());
        let language = self.profile.as_ref().map(|p| p.language.clone());
        tokio::spawn(async move { tts.prepare(voice, language).await });
        let answered = || ctx.store.mark_call_answered(self.call_id);
        if let Err(e) = retry_transient("call_row", ROW_WRITE_LIMIT, answered).await {
            tracing::warn!(error = %e, "cannot mark call answered");
        }
        self.event("answered", serde_json::json!({})).await;
        let bridge = self.ids.bridge.clone();
        setup::create_bridge(&ctx, &bridge, &mut self.res).await?;
        self.attach(true).await
    }

    /// Creates the External Media channel (adding the caller to the bridge too when
    /// `with_caller`) and records where media flows.
    async fn attach(&mut self, with_caller: bool) -> Result<(), SetupError> {
        let ctx = self.ctx.clone();
        let media_cfg = media_config(&ctx, self.profile.as_ref());
        let caller = with_caller.then_some(self.ids.caller_channel.as_str());
        let media_channel = self.ids.media_channel.clone();
        let (remote, port) =
            setup::attach_media(&ctx, &media_channel, caller, media_cfg, &mut self.res).await?;
        let bridge = self.res.bridge_id.clone().unwrap_or_default();
        if let Err(e) = ctx
            .store
            .set_call_media(self.call_id, &bridge, &media_channel, port)
            .await
        {
            tracing::warn!(error = %e, "cannot record call media");
        }
        self.event(
            "media_started",
            serde_json::json!({"bridge_id": bridge, "media_channel_id": media_channel, "rtp_port": port, "asterisk_rtp": remote.to_string()}),
        )
        .await;
        tracing::info!(rtp_port = port, asterisk_rtp = %remote, "media flowing");
        self.start_recording().await;
        Ok(())
    }

    /// Records the call from here on when its profile says so (a re-adopted call: in a
    /// new segment). Never fails the call.
    async fn start_recording(&mut self) {
        if !self.profile.as_ref().is_some_and(|p| p.record_calls) {
            return;
        }
        let Some(media) = self.res.media.as_ref() else {
            return;
        };
        let ctx = &self.ctx;
        let Some(recording) = ctx
            .recordings
            .start(
                &ctx.store,
                &ctx.settings.node,
                self.tenant_id,
                self.call_id,
                self.started_at,
                ctx.settings.law,
            )
            .await
        else {
            return;
        };
        if media.record(recording.tap()).await.is_err() {
            tracing::warn!("the media stopped before the recording started");
        }
        self.recording = Some(recording);
    }

    /// Ends the segment being recorded (the media has stopped) and writes its size.
    async fn finish_recording(&mut self) {
        if let Some(recording) = self.recording.take() {
            recording.finish(&self.ctx.store).await;
        }
    }

    async fn readopt(mut self, inputs: &mut mpsc::Receiver<CallInput>, new_bridge: bool) {
        let result = async {
            if new_bridge {
                let bridge = self.ids.bridge.clone();
                setup::create_bridge(&self.ctx, &bridge, &mut self.res).await?;
            }
            self.attach(new_bridge).await
        }
        .await;
        let ending = match result {
            Ok(()) => {
                self.event("readopted", serde_json::json!({"new_bridge": new_bridge}))
                    .await;
                self.live(inputs).await
            }
            Err(e) => {
                tracing::warn!(error = %e, step = e.step(), "re-adoption failed");
                EndReason::ReadoptFailed(e.to_string())
            }
        };
        self.end(ending).await;
    }

    /// The conversation's profile: the tenant's, or a neutral one when it was deleted
    /// while the call was up (a re-adopted call).
    fn agent_profile(&self) -> AgentProfile {
        let budget = self.ctx.settings.history_chars;
        match &self.profile {
            Some(p) => AgentProfile::from_profile(p, &self.ctx.settings.end_marker, budget),
            None => AgentProfile::neutral(&self.ctx.settings.end_marker, budget),
        }
    }

    /// The saved conversation of a re-adopted call: from Redis, else rebuilt from the
    /// transcript in PostgreSQL.
    async fn resumed_state(&self) -> ConversationState {
        if let Some(state) = self
            .ctx
            .states
            .load::<ConversationState>(self.call_id)
            .await
        {
            return state;
        }
        let rows = self
            .ctx
            .store
            .transcript_texts(self.call_id, self.tenant_id)
            .await
            .unwrap_or_default();
        ConversationState::from_transcript(&rows, self.ctx.settings.history_chars)
    }

    /// Runs the conversation until the call ends, and says how.
    async fn live(&mut self, inputs: &mut mpsc::Receiver<CallInput>) -> EndReason {
        let Some(media) = self.res.media.take() else {
            return EndReason::MediaStopped;
        };
        let state = if self.readopted {
            Some(self.resumed_state().await)
        } else {
            None
        };
        let mut profile = self.agent_profile();
        let actions = crate::call::actions::load(
            &self.ctx,
            self.tenant_id,
            self.profile.as_ref(),
            &mut profile,
            &self.caller,
            &self.did,
        )
        .await;
        let live = Live::new(
            self.ctx.clone(),
            self.call_id,
            self.tenant_id,
            self.ids.clone(),
            self.res.bridge_id.clone(),
            media,
            profile,
            actions,
            state,
            self.answered.unwrap_or_else(Instant::now),
            self.cell.clone(),
        );
        let (media, reason) = live.run(inputs).await;
        self.res.media = media;
        reason
    }

    /// A transferred call whose caller and agent talk in our bridge: waits until either hangs
    /// up, then hangs up the other (Asterisk leaves both in a Stasis bridge: FINDINGS 37, 47).
    async fn supervise_bridged(
        &mut self,
        inputs: &mut mpsc::Receiver<CallInput>,
        agent: &str,
    ) -> EndReason {
        let caller = self.ids.caller_channel.clone();
        self.cell.update(LiveState::Bridged, None);
        let gone = |event: &AriEvent, id: &str| match event {
            AriEvent::ChannelHangupRequest(e) => e.channel.id == id && e.soft != Some(true),
            AriEvent::StasisEnd(e) => e.channel.id == id,
            AriEvent::ChannelDestroyed(e) => e.channel.id == id,
            _ => false,
        };
        let (reason, hang_up) = loop {
            match inputs.recv().await {
                None => {
                    break (
                        EndReason::DaemonStopped,
                        vec![agent.to_string(), caller.clone()],
                    );
                }
                Some(CallInput::WrapUp) => {}
                Some(CallInput::OperatorHangup) => {
                    self.event("operator_hangup", serde_json::json!({"while": "bridged"}))
                        .await;
                    break (
                        EndReason::Transferred,
                        vec![agent.to_string(), caller.clone()],
                    );
                }
                Some(CallInput::StandDown) => break (EndReason::StoodDown, Vec::new()),
                Some(CallInput::Hangup { reason }) => {
                    break (reason, vec![agent.to_string(), caller.clone()]);
                }
                Some(CallInput::ChannelGone) => {
                    break (
                        EndReason::ChannelGoneWhileDisconnected,
                        vec![agent.to_string()],
                    );
                }
                Some(CallInput::Ari(event)) => {
                    if let AriEvent::ChannelHangupRequest(e) = &*event
                        && (e.channel.id == caller || e.channel.id == agent)
                        && e.is_shutdown()
                    {
                        // Asterisk is stopping and hangs every channel up (FINDINGS 18).
                        self.event(
                            "asterisk_shutdown",
                            serde_json::json!({"while": "bridged", "cause": e.cause}),
                        )
                        .await;
                        break (
                            EndReason::AsteriskShutdown,
                            vec![agent.to_string(), caller.clone()],
                        );
                    }
                    if gone(&event, &caller) {
                        self.event("caller_hangup", serde_json::json!({"while": "bridged"}))
                            .await;
                        break (EndReason::Transferred, vec![agent.to_string()]);
                    }
                    if gone(&event, agent) {
                        self.event("agent_hangup", serde_json::json!({})).await;
                        break (EndReason::Transferred, vec![caller.clone()]);
                    }
                }
            }
        };
        for channel in hang_up {
            setup::delete_channel(&self.ctx, &channel, HangupReason::Normal).await;
        }
        reason
    }

    /// Takes everything down and writes the final row.
    async fn end(mut self, reason: EndReason) {
        let ctx = self.ctx.clone();
        if reason == EndReason::StoodDown {
            // Only what is this process's own goes: the media task and its port. The call,
            // its channels and its lease are the new owner's.
            if let Some(media) = self.res.media.take()
                && let Err(e) = media.stop().await
            {
                tracing::debug!(error = %e, "media task had already stopped");
            }
            self.finish_recording().await;
            ctx.leases.forget(self.tenant_id, self.call_id);
            metrics::counter!("vca_calls_stood_down_total").increment(1);
            tracing::info!("stood down: the call goes on under another daemon");
            return;
        }
        setup::release(&ctx, &mut self.res).await;
        self.finish_recording().await;
        if reason.caller_still_there() {
            setup::delete_channel(&ctx, &self.ids.caller_channel, HangupReason::Normal).await;
        }
        ctx.leases.release(self.tenant_id, self.call_id).await;
        let status = reason.status();
        self.event(
            "ended",
            serde_json::json!({"status": status.as_str(), "reason": reason.as_db()}),
        )
        .await;
        let finish = || ctx.store.finish_call(self.call_id, &reason);
        if let Err(e) = retry_transient("call_row", ROW_WRITE_LIMIT, finish).await {
            tracing::error!(error = %e, "cannot finalise the call row");
        }
        metrics::counter!("vca_calls_total", "outcome" => status.as_str()).increment(1);
        tracing::info!(status = status.as_str(), reason = %reason, "call ended");
        if self.answered.is_some() && self.profile.as_ref().is_some_and(|p| p.post_call_summary) {
            self.summarise_later();
        }
    }

    /// Writes the post-call summary off the call path.
    fn summarise_later(&self) {
        let store = self.ctx.store.clone();
        let llm = self.ctx.engines.llm.clone();
        let (tenant_id, call_id) = (self.tenant_id, self.call_id);
        let model = self.profile.as_ref().and_then(|p| p.llm_model.clone());
        tokio::spawn(
            async move {
                match crate::call::summary::summarise(
                    &store,
                    llm.as_ref(),
                    tenant_id,
                    call_id,
                    model,
                )
                .await
                {
                    Ok(_) => {
                        metrics::counter!("vca_call_summaries_total", "outcome" => "ok")
                            .increment(1);
                        tracing::info!("post-call summary written");
                    }
                    Err(e) => {
                        metrics::counter!("vca_call_summaries_total", "outcome" => "failed")
                            .increment(1);
                        tracing::warn!(error = %e, "no post-call summary");
                    }
                }
            }
            .instrument(tracing::Span::current()),
        );
    }
}
