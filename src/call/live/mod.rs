//! The live part of a call: one task drives the call's [`Conversation`] with everything
//! around it — the session's inputs (ARI events, hang-up, wrap-up), the media task's events
//! and the caller's frames, speech recognition, the model's stream, speech synthesis, the
//! ordered writes, the conversation's deadline and the metrics tick — in one `select!`.
//! Nothing here waits on an engine or the database while the call needs serving: each is a
//! future polled among the others.
//!
//! - [`recognizer`]: the STT session and one utterance at a time.
//! - [`model`]: one model reply, request then stream.
//! - [`speech`]: sentences synthesised one at a time, in order.
//! - [`journal`]: transcript rows, usage, events and state, written in order.
//! - [`transfer`]: handing the caller to a person, step by step.

mod journal;
mod model;
mod recognizer;
mod speech;
pub(crate) mod transfer;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use uuid::Uuid;

use self::journal::Journal;
use self::model::{ModelOutput, ModelReply};
use self::recognizer::Recognizer;
use self::speech::Speech;
use self::transfer::{Outcome, Target, TransferRun};
use crate::ari::AriEvent;
use crate::call::board::LiveCell;
use crate::call::context::CallContext;
use crate::call::inputs::{CallInput, SessionIds};
use crate::clock::{Clock, SystemClock};
use crate::conversation::{
    Action, Activity, AgentProfile, Conversation, ConversationState, Heard, Observation,
    RecognitionFailed, UtteranceId,
};
use crate::engines::stt::{SttOptions, Transcript};
use crate::engines::tts::TtsRequest;
use crate::media_driver::{InboundAudio, MediaEvent, MediaHandle, MediaMetrics};
use crate::store::EndReason;
use crate::store::live_board::LiveState;
use crate::store::transcript::UsageDelta;
use crate::tools::{HttpTool, ToolCall, ToolCallContext, ToolOutcome};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::future::Future;
use std::pin::Pin;

/// How long a call that ended waits for the transcript of what the caller said last.
const LAST_TRANSCRIPT_WAIT: Duration = Duration::from_secs(2);
/// How long a call that ended may take to write what it still holds (its transcript rows
/// wait out a PostgreSQL restart this long).
const FINAL_WRITES_WAIT: Duration = Duration::from_secs(30);
/// How long a call that ended may take to hang up an agent leg of its transfer.
const AGENT_HANGUP_WAIT: Duration = Duration::from_secs(5);
/// Utterances whose audio is held while earlier ones are transcribed.
const MAX_HELD_UTTERANCES: usize = 8;

/// What a call may do besides talking: where it may transfer to, the tools it may run, and
/// who is calling whom (tool requests carry it).
#[derive(Default)]
pub(crate) struct CallActions {
    pub(crate) targets: Vec<Target>,
    pub(crate) tools: Vec<HttpTool>,
    pub(crate) caller: String,
    pub(crate) did: String,
}

/// Everything one live call's task owns.
pub(crate) struct LiveCall {
    ctx: CallContext,
    call_id: Uuid,
    ids: SessionIds,
    /// The media task; gone once the caller is bridged with an agent.
    media: Option<MediaHandle>,
    inbound: Option<InboundAudio>,
    conversation: Conversation,
    recognizer: Recognizer,
    model: Option<ModelReply>,
    speech: Speech,
    journal: Journal,
    /// Audio of utterances handed to the conversation, until it asks to recognise them.
    held: VecDeque<(UtteranceId, Vec<i16>)>,
    /// Media offsets (ms from the media's start) + this = ms from the answer.
    media_base_ms: u64,
    clock: SystemClock,
    /// Set once the call is to end.
    ending: Option<EndReason>,
    /// The bridge as the session knows it (a destroyed bridge ends the call).
    bridge_id: Option<String>,
    media_channel_id: String,
    /// The tenant's transfer targets.
    targets: Vec<Target>,
    /// The transfer under way (or the clean-up of the last one).
    transfer: Option<TransferRun>,
    transfer_attempts: u32,
    /// A bridged agent hung up: the caller is hung up as the call ends.
    hang_up_caller: bool,
    /// The tenant's HTTP tools this call's profile may use.
    tools: Vec<HttpTool>,
    /// Who and what the call is, for tool requests.
    tool_context: ToolCallContext,
    /// Tool calls running, each a future of its outcome.
    tool_runs: FuturesUnordered<ToolRun>,
    /// The call's entry on the live-calls board.
    cell: LiveCell,
}

type ToolRun = Pin<Box<dyn Future<Output = (ToolCall, ToolOutcome)> + Send>>;

impl LiveCall {
    /// A live call whose media is up: `answered` is when the caller was answered, `state`
    /// the saved conversation of a re-adopted call.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        ctx: CallContext,
        call_id: Uuid,
        tenant_id: Uuid,
        ids: SessionIds,
        bridge_id: Option<String>,
        mut media: MediaHandle,
        profile: AgentProfile,
        actions: CallActions,
        state: Option<ConversationState>,
        answered: Instant,
        cell: LiveCell,
    ) -> Self {
        let clock = SystemClock;
        let now = clock.now();
        let media_base_ms = now.saturating_duration_since(answered).as_millis() as u64;
        let inbound = media.take_inbound_audio();
        let recognizer = Recognizer::new(
            ctx.engines.stt.clone(),
            SttOptions {
                law: ctx.settings.law,
                language: Some(profile.language.to_string()),
                model: None,
                detect_languages: profile.languages.iter().map(|l| l.to_string()).collect(),
            },
        );
        let speech = Speech::new(
            ctx.engines.tts.clone(),
            ctx.engines.lines.clone(),
            TtsRequest {
                voice: profile.voice.clone(),
                ..TtsRequest::default()
            },
        );
        let journal = Journal::new(ctx.store.clone(), ctx.states.clone(), call_id, tenant_id);
        let media_channel_id = ids.media_channel.clone();
        LiveCall {
            conversation: Conversation::new(profile, state, answered),
            ctx,
            call_id,
            ids,
            media: Some(media),
            inbound,
            recognizer,
            model: None,
            speech,
            journal,
            held: VecDeque::new(),
            media_base_ms,
            clock,
            ending: None,
            bridge_id,
            media_channel_id,
            targets: actions.targets,
            transfer: None,
            transfer_attempts: 0,
            hang_up_caller: false,
            tools: actions.tools,
            tool_context: ToolCallContext {
                call_id,
                tenant_id,
                caller: actions.caller,
                did: actions.did,
            },
            tool_runs: FuturesUnordered::new(),
            cell,
        }
    }

    /// Runs the call until it ends; gives the media handle back (unless the caller was
    /// bridged with an agent, which stopped it) with the reason.
    pub(crate) async fn run(
        mut self,
        inputs: &mut mpsc::Receiver<CallInput>,
    ) -> (Option<MediaHandle>, EndReason) {
        let counters = self
            .media
            .as_ref()
            .map(MediaHandle::counters)
            .unwrap_or_default();
        let mut media_metrics = MediaMetrics::new(counters);
        let mut publish = tokio::time::interval(Duration::from_secs(1));
        self.recognizer.open();
        self.speech.prepare_lines(
            self.conversation.fallback_sentences(),
            self.conversation.language(),
        );
        self.conversation.start(self.clock.now());
        let reason = loop {
            self.perform_actions().await;
            if let Some(reason) = self.ending.take() {
                break reason;
            }
            if self.inbound.is_some() && self.recognizer.ignores_frames() {
                // A per-utterance provider: the media thread need not hand us every frame.
                self.inbound = None;
            }
            let deadline = self.conversation.poll_timeout();
            let transfer_deadline = self.transfer.as_ref().and_then(TransferRun::deadline);
            tokio::select! {
                input = inputs.recv() => self.on_input(input),
                event = next_media_event(&mut self.media) => self.on_media_event(event),
                outcome = next_transfer_outcome(&mut self.transfer) => {
                    self.on_transfer(outcome).await;
                }
                () = sleep_until_opt(&self.clock, transfer_deadline) => {
                    let now = self.clock.now();
                    if let Some(outcome) = self.transfer.as_mut().map(|t| t.handle_timeout(now)) {
                        self.on_transfer(outcome).await;
                    }
                }
                frame = next_frame(&mut self.inbound) => match frame {
                    Some(f) => self.recognizer.push_frame(&f.codes),
                    None => self.inbound = None,
                },
                (utterance, result) = self.recognizer.next() => {
                    let now = self.clock.now();
                    match result {
                        Ok(t) => self.conversation.handle_transcript(now, utterance, Ok(heard(&t))),
                        Err(e) => {
                            tracing::warn!(error = %e, "speech recognition failed");
                            self.conversation.handle_transcript(now, utterance, Err(RecognitionFailed));
                        }
                    }
                }
                output = next_model_output(&mut self.model) => self.on_model_output(output),
                (clip, audio) = self.speech.next() => self.on_speech(clip, audio).await,
                Some((call, outcome)) = self.tool_runs.next(), if !self.tool_runs.is_empty() => {
                    self.on_tool_outcome(call, outcome);
                }
                () = self.journal.next() => {}
                () = sleep_until_opt(&self.clock, deadline) => {
                    self.conversation.handle_timeout(self.clock.now());
                }
                _ = publish.tick() => {
                    media_metrics.publish();
                    self.update_board();
                }
            }
        };
        if reason == EndReason::StoodDown {
            // The call is another daemon's now: nothing more is said, written or asked of
            // Asterisk, and its saved state stays for the new owner.
            media_metrics.publish();
            return (self.media.take(), reason);
        }
        self.finish(&mut media_metrics).await;
        (self.media.take(), reason)
    }

    /// After the end: the caller's last words if they are being transcribed, the usage of
    /// speech recognition, the writes, and the state in Redis (no longer needed).
    async fn finish(&mut self, media_metrics: &mut MediaMetrics) {
        let now = self.clock.now();
        self.conversation.handle_hangup(now);
        self.model = None;
        if self.recognizer.is_busy() && self.conversation.is_recognising() {
            let last = tokio::time::timeout(LAST_TRANSCRIPT_WAIT, self.recognizer.next()).await;
            if let Ok((utterance, Ok(t))) = last {
                self.conversation
                    .handle_transcript(self.clock.now(), utterance, Ok(heard(&t)));
            }
        }
        while let Some(action) = self.conversation.poll_action() {
            match action {
                Action::WriteTurn(turn) => self.journal.turn(turn),
                Action::AddUsage(delta) => self.journal.usage(delta),
                Action::Observe(o) => observe(o),
                _ => {}
            }
        }
        let stt_ms = (self.recognizer.billed_seconds() * 1000.0) as i64;
        self.journal.usage(UsageDelta {
            stt_audio_ms: stt_ms,
            ..UsageDelta::default()
        });
        self.recognizer.close().await;
        let agent = self
            .transfer
            .as_ref()
            .filter(|t| t.agent_leg_up())
            .map(|t| t.agent().to_string());
        if let Some(agent) = agent {
            // The call ends with an agent leg that may still be up: it must not ring on, or
            // stay connected to nobody (FINDINGS 46, 47). Bounded: the teardown goes on.
            let hang_up = crate::call::setup::delete_channel(
                &self.ctx,
                &agent,
                crate::ari::HangupReason::Normal,
            );
            if tokio::time::timeout(AGENT_HANGUP_WAIT, hang_up)
                .await
                .is_err()
            {
                tracing::warn!(agent = %agent, "hanging up the agent leg timed out");
            }
        }
        if self.hang_up_caller {
            crate::call::setup::delete_channel(
                &self.ctx,
                &self.ids.caller_channel,
                crate::ari::HangupReason::Normal,
            )
            .await;
        }
        self.journal.flush(FINAL_WRITES_WAIT).await;
        self.ctx.states.remove(self.call_id).await;
        media_metrics.publish();
    }

    /// Carries out what the conversation asked for, in order.
    async fn perform_actions(&mut self) {
        while let Some(action) = self.conversation.poll_action() {
            match action {
                Action::Recognise { utterance } => self.recognise(utterance),
                Action::StartReply { reply, request } => {
                    self.model = Some(ModelReply::start(
                        self.ctx.engines.llm.clone(),
                        reply,
                        request,
                    ));
                }
                Action::CancelReply { reply } => {
                    if self.model.as_ref().is_some_and(|m| m.id == reply) {
                        self.model = None;
                    }
                    self.speech.cancel(reply);
                }
                Action::Speak {
                    reply,
                    clip,
                    text,
                    language,
                    fixed,
                } => {
                    let chars = self.speech.push(reply, clip, text, &language, fixed);
                    self.journal.usage(UsageDelta {
                        tts_characters: chars as i64,
                        ..UsageDelta::default()
                    });
                }
                Action::Flush => {
                    if let Some(media) = &self.media
                        && media.flush().await.is_err()
                    {
                        tracing::debug!("flush after the media stopped");
                    }
                }
                Action::WriteTurn(turn) => self.journal.turn(turn),
                Action::AddUsage(delta) => self.journal.usage(delta),
                Action::SaveState => self.journal.state(self.conversation.state().clone()),
                Action::Observe(o) => observe(o),
                Action::Event { kind, details } => self.journal.event(kind, details),
                Action::CallTool(call) => self.run_tool(call),
                Action::Transfer { target } => self.start_transfer(&target),
                Action::HangUp(reason) => {
                    tracing::info!(reason = %reason, "the agent ends the call");
                    self.end(reason);
                }
            }
        }
    }

    /// The call's state and turns on the live-calls board.
    fn update_board(&self) {
        let state = if self.transfer.as_ref().is_some_and(TransferRun::is_bridged) {
            LiveState::Bridged
        } else {
            match self.conversation.activity() {
                Activity::Talking => LiveState::Talking,
                Activity::Transferring => LiveState::Transferring,
                Activity::Ending => LiveState::Ending,
            }
        };
        let turns = self.conversation.state().next_seq.max(0) as u32;
        self.cell.update(state, Some(turns));
    }

    fn end(&mut self, reason: EndReason) {
        if self.ending.is_none() {
            self.ending = Some(reason);
        }
    }

    fn recognise(&mut self, utterance: UtteranceId) {
        // Utterances are asked for in order: older ones still held are not wanted.
        while self.held.front().is_some_and(|(id, _)| *id < utterance) {
            self.held.pop_front();
        }
        match self.held.pop_front() {
            Some((id, pcm)) if id == utterance => self.recognizer.recognise(utterance, pcm),
            other => {
                if let Some(entry) = other {
                    self.held.push_front(entry);
                }
                let now = self.clock.now();
                self.conversation
                    .handle_transcript(now, utterance, Err(RecognitionFailed));
            }
        }
    }

    fn on_input(&mut self, input: Option<CallInput>) {
        let now = self.clock.now();
        match input {
            None => self.end(EndReason::DaemonStopped),
            Some(CallInput::Hangup { reason }) => self.end(reason),
            Some(CallInput::ChannelGone) => self.end(EndReason::ChannelGoneWhileDisconnected),
            Some(CallInput::StandDown) => self.end(EndReason::StoodDown),
            Some(CallInput::WrapUp) => {
                tracing::info!("daemon shutting down; saying goodbye");
                self.conversation.handle_wrap_up(now);
            }
            Some(CallInput::OperatorHangup) => {
                self.journal.event("operator_hangup", serde_json::json!({}));
                if self.transfer.as_ref().is_some_and(TransferRun::is_bridged) {
                    // Caller and agent talk: both are hung up, nothing more is said.
                    self.hang_up_caller = true;
                    self.end(EndReason::Transferred);
                } else if !self
                    .conversation
                    .handle_end_request(now, EndReason::OperatorHangup)
                {
                    self.end(EndReason::OperatorHangup);
                }
            }
            Some(CallInput::Ari(event)) => {
                if let Some(reason) = self.on_ari_event(*event) {
                    self.end(reason);
                }
            }
        }
    }

    fn on_ari_event(&mut self, event: AriEvent) -> Option<EndReason> {
        if let Some(outcome) = self.transfer.as_mut().map(|t| t.handle_event(&event))
            && outcome != Outcome::Pending
        {
            return self.transfer_outcome(outcome);
        }
        let caller = self.ids.caller_channel.as_str();
        let media = self.media_channel_id.as_str();
        let media_released = self
            .transfer
            .as_ref()
            .is_some_and(TransferRun::media_released);
        if media_released && event.channel_id().is_some_and(|id| id == media) {
            // The swap deleted our External Media channel on purpose.
            return None;
        }
        match &event {
            AriEvent::ChannelHangupRequest(e) if e.channel.id == caller => {
                if e.is_shutdown() {
                    self.journal
                        .event("asterisk_shutdown", serde_json::json!({"cause": e.cause}));
                    return Some(EndReason::AsteriskShutdown);
                }
                self.journal
                    .event("caller_hangup", serde_json::json!({"cause": e.cause}));
                Some(EndReason::CallerHangup)
            }
            AriEvent::StasisEnd(e) if e.channel.id == caller => Some(EndReason::CallerHangup),
            AriEvent::ChannelDestroyed(e) if e.channel.id == caller => {
                Some(EndReason::CallerHangup)
            }
            AriEvent::StasisEnd(e) if e.channel.id == media => Some(EndReason::MediaChannelLost),
            AriEvent::ChannelDestroyed(e) if e.channel.id == media => {
                Some(EndReason::MediaChannelLost)
            }
            AriEvent::BridgeDestroyed(b)
                if Some(b.bridge.id.as_str()) == self.bridge_id.as_deref() =>
            {
                self.bridge_id = None;
                Some(EndReason::BridgeLost)
            }
            AriEvent::ChannelDtmfReceived(d) if d.channel.id == caller => {
                self.journal.event(
                    "dtmf",
                    serde_json::json!({"digit": d.digit, "duration_ms": d.duration_ms}),
                );
                if let Some(digit) = d.digit.chars().next() {
                    self.conversation.handle_dtmf(self.clock.now(), digit);
                }
                None
            }
            _ => None,
        }
    }

    fn on_media_event(&mut self, event: Option<MediaEvent>) {
        let now = self.clock.now();
        let Some(event) = event else {
            self.end(EndReason::MediaStopped);
            return;
        };
        match event {
            MediaEvent::Utterance {
                pcm,
                start_ms,
                end_ms,
                ..
            } => {
                let start = self.media_base_ms + start_ms;
                let end = self.media_base_ms + end_ms;
                if let Some(id) = self.conversation.handle_utterance(now, start, end) {
                    if self.held.len() >= MAX_HELD_UTTERANCES {
                        self.held.pop_front();
                    }
                    self.held.push_back((id, pcm));
                }
            }
            MediaEvent::BargeIn { flushed, .. } => self.conversation.handle_barge_in(now, flushed),
            MediaEvent::PlayoutStarted { id } => self.conversation.handle_playout_started(now, id),
            MediaEvent::PlayoutDone { id } => self.conversation.handle_playout_done(now, id),
            MediaEvent::SpeechStarted { .. } | MediaEvent::Flushed(_) => {}
        }
    }

    fn on_model_output(&mut self, output: ModelOutput) {
        let now = self.clock.now();
        let Some(reply) = self.model.as_ref().map(|m| m.id) else {
            return;
        };
        match output {
            ModelOutput::Text(text) => self.conversation.handle_reply_text(now, reply, &text),
            ModelOutput::ToolCalls(calls) => {
                self.conversation.handle_reply_tool_calls(now, reply, calls);
            }
            ModelOutput::Done(usage) => {
                self.model = None;
                self.conversation.handle_reply_done(now, reply, Some(usage));
            }
            ModelOutput::Failed(e) => {
                tracing::warn!(error = %e, "language model failed");
                self.model = None;
                self.conversation.handle_reply_failed(now, reply);
            }
        }
    }

    async fn on_speech(
        &mut self,
        clip: crate::media::playout::PlayoutId,
        audio: Result<speech::Audio, crate::engines::EngineError>,
    ) {
        match audio {
            Ok((rate, pcm)) if !pcm.is_empty() && rate > 0 => {
                let duration = Duration::from_secs_f64(pcm.len() as f64 / f64::from(rate));
                let Some(media) = self.media.as_ref() else {
                    return;
                };
                match media.play(clip, rate, pcm).await {
                    Ok(()) => {
                        self.conversation
                            .handle_clip_queued(self.clock.now(), clip, duration)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot queue agent audio");
                        self.conversation.handle_clip_failed(self.clock.now(), clip);
                    }
                }
            }
            Ok(_) => self.conversation.handle_clip_failed(self.clock.now(), clip),
            Err(e) => {
                tracing::warn!(error = %e, "speech synthesis failed; sentence skipped");
                self.conversation.handle_clip_failed(self.clock.now(), clip);
            }
        }
    }
}

impl LiveCall {
    /// Runs a tenant tool the model called, among the call's other work.
    fn run_tool(&mut self, call: ToolCall) {
        let Some(tool) = self.tools.iter().find(|t| t.name() == call.name).cloned() else {
            // Offered by the profile but not (or no longer) one of the tenant's tools.
            let outcome = ToolOutcome {
                ok: false,
                content: serde_json::json!({
                    "error": crate::tools::ToolFailure::UnknownTool.as_str(),
                    "message": "there is no such tool",
                })
                .to_string(),
                duration: Duration::ZERO,
                status: None,
                failure: Some(crate::tools::ToolFailure::UnknownTool),
            };
            self.on_tool_outcome(call, outcome);
            return;
        };
        let executor = self.ctx.tools.clone();
        let context = self.tool_context.clone();
        self.tool_runs.push(Box::pin(async move {
            let outcome = executor.execute(&tool, &context, &call).await;
            (call, outcome)
        }));
    }

    fn on_tool_outcome(&mut self, call: ToolCall, outcome: ToolOutcome) {
        let label = outcome.failure.map_or("ok", |f| f.as_str());
        metrics::counter!("vca_tool_calls_total", "outcome" => label).increment(1);
        metrics::histogram!("vca_tool_call_seconds").record(outcome.duration.as_secs_f64());
        tracing::info!(
            tool = %call.name,
            ok = outcome.ok,
            outcome = label,
            duration_ms = outcome.duration.as_millis() as u64,
            "tool called"
        );
        let arguments: serde_json::Value = serde_json::from_str(&call.arguments)
            .unwrap_or_else(|_| serde_json::Value::String(call.arguments.clone()));
        let mut details = serde_json::json!({
            "name": call.name, "tool_call_id": call.id, "ok": outcome.ok, "outcome": label,
            "status": outcome.status, "duration_ms": outcome.duration.as_millis() as u64,
            "arguments": arguments,
        });
        if !outcome.ok {
            // A failure's content is the `{error, message}` the model gets.
            let parsed: serde_json::Value =
                serde_json::from_str(&outcome.content).unwrap_or_default();
            details["error"] = parsed.get("error").cloned().unwrap_or_else(|| label.into());
            details["message"] = parsed.get("message").cloned().unwrap_or_default();
        }
        self.journal.event("tool_called", details);
        let now = self.clock.now();
        self.conversation
            .handle_tool_result(now, &call.id, &outcome.content);
    }

    /// The conversation said the announce: hand the caller over to `name`.
    fn start_transfer(&mut self, name: &str) {
        let now = self.clock.now();
        let Some(target) = self.targets.iter().find(|t| t.name == name).cloned() else {
            tracing::warn!(target = name, "no such transfer target");
            self.journal.event(
                "transfer_failed",
                serde_json::json!({"target": name, "reason": "failed", "detail": "no such target"}),
            );
            self.conversation.handle_transfer_failed(now, "failed");
            return;
        };
        self.transfer_attempts += 1;
        tracing::info!(target = name, "transferring the caller");
        let agent = transfer::agent_channel_id(self.call_id, self.transfer_attempts);
        self.transfer = Some(TransferRun::start(
            self.ctx.ari.clone(),
            self.ctx.settings.app.clone(),
            target,
            self.ids.caller_channel.clone(),
            self.bridge_id.clone(),
            self.media_channel_id.clone(),
            agent,
            now,
        ));
    }

    async fn on_transfer(&mut self, outcome: Outcome) {
        if let Some(reason) = self.transfer_outcome(outcome) {
            self.end(reason);
        }
        if self
            .transfer
            .as_ref()
            .is_some_and(|t| t.is_bridged() && self.media.is_some())
            && let Some(media) = self.media.take()
        {
            // The External Media channel is gone: so is our side of the audio.
            self.inbound = None;
            if let Err(e) = media.stop().await {
                tracing::debug!(error = %e, "media task had already stopped");
            }
        }
    }

    /// What a transfer's progress means for the call; `Some` ends it.
    fn transfer_outcome(&mut self, outcome: Outcome) -> Option<EndReason> {
        let now = self.clock.now();
        let target = self
            .transfer
            .as_ref()
            .map(|t| t.target().to_string())
            .unwrap_or_default();
        match outcome {
            Outcome::Pending => None,
            Outcome::Continued => {
                tracing::info!(target = %target, "the caller continued into the dialplan");
                metrics::counter!("vca_transfers_total", "outcome" => "continued").increment(1);
                self.journal
                    .event("transferred", serde_json::json!({"target": target}));
                self.journal.transfer_target(target);
                self.conversation.handle_transfer_done(now);
                Some(EndReason::Transferred)
            }
            Outcome::Answered => {
                tracing::info!(target = %target, "the agent answered");
                let agent = self
                    .transfer
                    .as_ref()
                    .map(|t| t.agent().to_string())
                    .unwrap_or_default();
                self.journal.event(
                    "transfer_answered",
                    serde_json::json!({"target": target, "agent_channel_id": agent}),
                );
                self.journal.transfer_target(target);
                self.conversation.handle_transfer_done(now);
                None
            }
            Outcome::Bridged => {
                tracing::info!("caller and agent are bridged");
                None
            }
            Outcome::Failed(failure) => {
                tracing::info!(target = %target, reason = failure.as_str(), "the transfer failed");
                self.journal.event(
                    "transfer_failed",
                    serde_json::json!({"target": target, "reason": failure.as_str()}),
                );
                metrics::counter!("vca_transfers_total", "outcome" => failure.as_str())
                    .increment(1);
                self.conversation
                    .handle_transfer_failed(now, failure.as_str());
                None
            }
            Outcome::Over { caller_left } => {
                metrics::counter!("vca_transfers_total", "outcome" => "bridged").increment(1);
                if caller_left {
                    self.journal
                        .event("caller_hangup", serde_json::json!({"while": "bridged"}));
                } else {
                    self.journal
                        .event("agent_hangup", serde_json::json!({"target": target}));
                    self.hang_up_caller = true;
                }
                Some(EndReason::Transferred)
            }
            Outcome::SwapFailed => {
                self.journal.event(
                    "transfer_failed",
                    serde_json::json!({"target": target, "reason": "failed", "detail": "bridging the agent failed"}),
                );
                metrics::counter!("vca_transfers_total", "outcome" => "failed").increment(1);
                // Both legs are hung up: the agent's as the call finishes, the caller's by
                // the session (its media is gone).
                Some(EndReason::MediaChannelLost)
            }
            Outcome::CallerLeft => {
                self.journal.event(
                    "transfer_failed",
                    serde_json::json!({"target": target, "reason": "caller_hangup"}),
                );
                Some(EndReason::CallerHangup)
            }
        }
    }
}

/// Counts what the conversation reports.
fn observe(observation: Observation) {
    match observation {
        Observation::Turn => metrics::counter!("vca_turns_total").increment(1),
        Observation::TurnLatency(ms) => {
            metrics::histogram!("vca_turn_latency_seconds").record(ms as f64 / 1000.0);
        }
        Observation::BargeIn => {
            tracing::info!("caller barged in; reply cut");
            metrics::counter!("vca_barge_ins_total").increment(1);
        }
        Observation::Key(action) => {
            metrics::counter!("vca_keypad_actions_total", "action" => action).increment(1);
        }
        Observation::Fallback(kind) => {
            tracing::info!(kind, "speaking a fallback line");
            metrics::counter!("vca_fallbacks_total", "kind" => kind).increment(1);
        }
    }
}

async fn next_frame(inbound: &mut Option<InboundAudio>) -> Option<crate::media_driver::G711Frame> {
    match inbound.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_media_event(media: &mut Option<MediaHandle>) -> Option<MediaEvent> {
    match media.as_mut() {
        Some(m) => m.next_event().await,
        None => std::future::pending().await,
    }
}

async fn next_transfer_outcome(transfer: &mut Option<TransferRun>) -> Outcome {
    match transfer.as_mut() {
        Some(t) => t.next().await,
        None => std::future::pending().await,
    }
}

async fn next_model_output(model: &mut Option<ModelReply>) -> ModelOutput {
    match model.as_mut() {
        Some(m) => m.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(clock: &SystemClock, deadline: Option<Instant>) {
    match deadline {
        Some(at) => clock.sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the conversation takes from a transcript.
fn heard(t: &Transcript) -> Heard<'_> {
    Heard {
        text: &t.text,
        language: t.language.as_deref(),
    }
}
