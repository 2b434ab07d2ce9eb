//! The conversation of one call: greeting; then per turn the caller's endpointed
//! utterance → final transcript → streamed reply spoken sentence by sentence; barge-in
//! cuts the reply to what was heard; limits, the caller's goodbye or the model's
//! end-of-call marker end the call with a spoken goodbye. Transcript rows, usage and
//! the Redis state are written as turns happen. Engine failures are spoken as short
//! apologies; nothing an engine does can end the call or leave the caller in silence
//! for more than about three seconds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::heard::{QueuedSentence, heard_text};
use super::history::{Speaker, is_goodbye};
use super::reply::{ReplyEvent, ReplyJob, ReplySource};
use super::state::{ConversationState, StateStore};
use super::{AgentProfile, ConversationLines};
use crate::call::media_driver::{InboundAudio, MediaEvent, MediaHandle, MediaPlayer};
use crate::engines::Engines;
use crate::engines::llm::{ChatMessage, ChatRequest};
use crate::engines::stt::{SttOptions, SttSession};
use crate::engines::tts::TtsRequest;
use crate::media::g711::Law;
use crate::media::playout::{FlushReport, PlayoutId};
use crate::store::Store;
use crate::store::transcript::{NewTurn, UsageDelta};

/// The longest the caller waits, from the end of their turn being detected (recognition
/// included), for the first sentence of the reply before a fallback line is spoken instead.
const REPLY_DEADLINE: Duration = Duration::from_millis(2800);
/// The least time the language model and speech synthesis get after the transcript, even
/// when recognition used up most of [`REPLY_DEADLINE`] (local Whisper on a small CPU): a
/// reply is not thrown away for being slow to hear. Recognition has its own limit
/// (`VCA_STT_TIMEOUT_MS`).
const MIN_REPLY_BUDGET: Duration = Duration::from_millis(1500);

/// How a conversation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentOutcome {
    /// The agent ended the call after its goodbye (`max_turns`, `max_duration`,
    /// `caller_goodbye`, `agent_ended`); the session hangs up.
    Ended(&'static str),
    /// Stopped from outside (the caller hung up, shutdown).
    Cancelled,
    /// The media task stopped under us.
    MediaStopped,
}

/// What the conversation of a call needs from the daemon.
#[derive(Clone)]
pub struct AgentContext {
    pub engines: Arc<Engines>,
    pub store: Store,
    pub states: Arc<StateStore>,
    pub lines: Arc<ConversationLines>,
    pub call_id: Uuid,
    pub tenant_id: Uuid,
    pub law: Law,
}

/// Why a reply is being spoken, which decides what happens when it has played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Greeting,
    Answer,
    Fallback,
    Goodbye(&'static str),
}

struct ActiveReply {
    purpose: Purpose,
    task: JoinHandle<()>,
    events: mpsc::Receiver<ReplyEvent>,
    queued: Vec<QueuedSentence>,
    done: Vec<PlayoutId>,
    finished: bool,
    text: String,
    /// When the first sentence went to playout, ms from the answer.
    started_ms: Option<u64>,
    /// End of the caller's speech this reply answers (for turn latency), ms from the answer.
    caller_end_ms: Option<u64>,
    /// Deadline for the first audio of an answer.
    deadline: Option<Instant>,
    end_call: bool,
}

/// One call's conversation.
pub struct Agent {
    ctx: AgentContext,
    profile: AgentProfile,
    player: MediaPlayer,
    state: ConversationState,
    stt: Option<Box<dyn SttSession>>,
    reply: Option<ActiveReply>,
    next_clip: u64,
    /// When the call was answered (turn offsets count from here).
    answered: Instant,
    /// Media offsets (ms from the media task's start) + this = ms from the answer.
    media_base_ms: u64,
    usage_reported_stt_ms: i64,
    ending: Option<&'static str>,
}

impl Agent {
    /// A conversation for a call answered `answered_ago` ago, continuing `state` when the
    /// call is re-adopted.
    pub fn new(
        ctx: AgentContext,
        profile: AgentProfile,
        media: &MediaHandle,
        state: Option<ConversationState>,
        answered_ago: Duration,
    ) -> Agent {
        let now = Instant::now();
        let answered = now.checked_sub(answered_ago).unwrap_or(now);
        let mut state = state.unwrap_or_default();
        state.history.set_budget(profile.history_chars);
        Agent {
            ctx,
            player: media.player(),
            state,
            stt: None,
            reply: None,
            next_clip: 1,
            answered,
            media_base_ms: answered_ago.as_millis() as u64,
            usage_reported_stt_ms: 0,
            ending: None,
            profile,
        }
    }

    fn now_ms(&self) -> u64 {
        self.answered.elapsed().as_millis() as u64
    }

    /// Runs until the conversation ends; gives the media handle back. `wrap_up` asks for
    /// a goodbye and an end (daemon shutdown); `cancel` stops at once.
    pub async fn run(
        mut self,
        mut media: MediaHandle,
        cancel: CancellationToken,
        wrap_up: CancellationToken,
    ) -> (MediaHandle, AgentOutcome) {
        let mut inbound: Option<InboundAudio> = media.take_inbound_audio();
        self.open_stt().await;
        if !self.state.greeted {
            self.state.greeted = true;
            let greeting = self.profile.greeting.trim().to_string();
            if !greeting.is_empty() {
                self.start_reply(ReplySource::Fixed(greeting), Purpose::Greeting, None);
            }
        }
        let max_at = self.answered + self.profile.max_duration;
        let outcome = loop {
            let reply_deadline = self.reply.as_ref().and_then(|r| r.deadline);
            let frames = async {
                match inbound.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let reply_event = async {
                match self.reply.as_mut() {
                    Some(r) if !r.finished || !r.events.is_closed() => r.events.recv().await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => {
                    self.stop_reply(None).await;
                    break AgentOutcome::Cancelled;
                }
                event = media.next_event() => match event {
                    None => break AgentOutcome::MediaStopped,
                    Some(ev) => {
                        if let Some(outcome) = self.on_media_event(ev, &cancel).await {
                            break outcome;
                        }
                    }
                },
                frame = frames => match frame {
                    Some(f) => if let Some(stt) = self.stt.as_mut() { stt.push_frame(&f.codes) },
                    None => inbound = None,
                },
                ev = reply_event => match ev {
                    Some(ev) => {
                        if let Some(outcome) = self.on_reply_event(ev).await {
                            break outcome;
                        }
                    }
                    None => if let Some(r) = self.reply.as_mut() { r.finished = true },
                },
                () = sleep_until_opt(reply_deadline) => self.reply_too_slow().await,
                () = wrap_up.cancelled(), if self.ending.is_none() => {
                    tracing::info!("daemon shutting down; saying goodbye");
                    self.say_goodbye("daemon_shutdown").await;
                    if self.reply.is_none() {
                        break AgentOutcome::Ended("daemon_shutdown");
                    }
                }
                () = tokio::time::sleep_until(max_at), if self.ending.is_none() => {
                    tracing::info!("maximum call duration reached; saying goodbye");
                    self.say_goodbye("max_duration").await;
                    if self.reply.is_none() {
                        break AgentOutcome::Ended("max_duration");
                    }
                }
            }
        };
        self.finish_usage().await;
        if let Some(mut stt) = self.stt.take() {
            stt.close().await;
        }
        if !matches!(outcome, AgentOutcome::Cancelled) || self.ending.is_some() {
            self.ctx.states.remove(self.ctx.call_id).await;
        }
        (media, outcome)
    }

    async fn open_stt(&mut self) {
        let options = SttOptions {
            law: self.ctx.law,
            language: Some(self.profile.language.clone()),
            model: None,
        };
        match self.ctx.engines.stt.open(options).await {
            Ok(session) => self.stt = Some(session),
            Err(e) => {
                tracing::warn!(error = %e, "speech recognition unavailable; will retry at the next turn")
            }
        }
    }

    async fn on_media_event(
        &mut self,
        ev: MediaEvent,
        cancel: &CancellationToken,
    ) -> Option<AgentOutcome> {
        match ev {
            MediaEvent::BargeIn { flushed, .. } => {
                if let Some(r) = &self.reply
                    && !matches!(r.purpose, Purpose::Goodbye(_))
                {
                    metrics::counter!("vca_barge_ins_total").increment(1);
                    tracing::info!("caller barged in; reply cut");
                    self.stop_reply(flushed).await;
                }
                None
            }
            MediaEvent::PlayoutDone { id } => {
                if let Some(r) = self.reply.as_mut() {
                    r.done.push(id);
                }
                self.maybe_complete_reply().await
            }
            MediaEvent::Utterance {
                pcm,
                sample_rate,
                start_ms,
                end_ms,
                ..
            } => {
                if self.ending.is_some() {
                    return None;
                }
                if self
                    .reply
                    .as_ref()
                    .is_some_and(|r| !matches!(r.purpose, Purpose::Goodbye(_)))
                {
                    // The caller spoke on while we prepared or spoke a reply: theirs wins.
                    let flushed = self.player.flush().await.ok();
                    self.stop_reply(flushed).await;
                }
                let start = self.media_base_ms + start_ms;
                let end = self.media_base_ms + end_ms;
                self.on_utterance(pcm, sample_rate, start, end, cancel)
                    .await
            }
            _ => None,
        }
    }

    async fn on_utterance(
        &mut self,
        pcm: Vec<i16>,
        sample_rate: u32,
        start_ms: u64,
        end_ms: u64,
        cancel: &CancellationToken,
    ) -> Option<AgentOutcome> {
        // The caller waits from now: the fallback deadline counts recognition time too.
        let turn_started = Instant::now();
        if self.stt.is_none() {
            self.open_stt().await;
        }
        let pcm_8k = if sample_rate == 8000 {
            pcm
        } else {
            decimate_to_8k(&pcm, sample_rate)
        };
        let asked = Instant::now();
        let result = match self.stt.as_mut() {
            Some(stt) => tokio::select! {
                r = stt.finish_utterance(&pcm_8k) => Some(r),
                () = cancel.cancelled() => return Some(AgentOutcome::Cancelled),
            },
            None => None,
        };
        metrics::histogram!("vca_stt_final_latency_seconds").record(asked.elapsed().as_secs_f64());
        let text = match result {
            Some(Ok(t)) => t.text.trim().to_string(),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "speech recognition failed");
                self.stt = None;
                self.speak_fallback(self.ctx.lines.stt_retry.clone(), "stt");
                return None;
            }
            None => {
                self.speak_fallback(self.ctx.lines.stt_retry.clone(), "stt");
                return None;
            }
        };
        if !is_speech(&text) {
            tracing::debug!("empty or noise-only transcript; not a turn");
            return None;
        }
        self.write_turn(Speaker::Caller, &text, start_ms, end_ms, false)
            .await;
        self.state.history.push(Speaker::Caller, &text);
        self.state.turn_count += 1;
        metrics::counter!("vca_turns_total").increment(1);
        self.add_usage(UsageDelta {
            turns: 1,
            ..UsageDelta::default()
        })
        .await;
        if is_goodbye(&text) {
            self.say_goodbye("caller_goodbye").await;
            return self
                .reply
                .is_none()
                .then_some(AgentOutcome::Ended("caller_goodbye"));
        }
        let request = ChatRequest {
            system: self.profile.system_prompt.clone(),
            history: self
                .state
                .history
                .turns()
                .iter()
                .map(|t| match t.speaker {
                    Speaker::Caller => ChatMessage::user(t.text.clone()),
                    Speaker::Agent => ChatMessage::assistant(t.text.clone()),
                })
                .collect(),
            model: self.profile.llm_model.clone(),
            max_tokens: None,
            temperature: None,
        };
        self.start_reply(ReplySource::Model(request), Purpose::Answer, Some(end_ms));
        if let Some(r) = self.reply.as_mut() {
            r.deadline =
                Some((turn_started + REPLY_DEADLINE).max(Instant::now() + MIN_REPLY_BUDGET));
        }
        None
    }

    fn start_reply(&mut self, source: ReplySource, purpose: Purpose, caller_end_ms: Option<u64>) {
        let (tx, rx) = mpsc::channel(64);
        let job = ReplyJob {
            source,
            llm: self.ctx.engines.llm.clone(),
            tts: self.ctx.engines.tts.clone(),
            tts_template: TtsRequest {
                voice: self.profile.voice.clone(),
                ..TtsRequest::default()
            },
            player: self.player.clone(),
            first_id: self.next_clip,
            end_marker: self.ctx.lines.end_marker.clone(),
            events: tx,
        };
        // Ids of different replies never collide: each reply may use up to 10,000 clips.
        self.next_clip += 10_000;
        let deadline = (purpose == Purpose::Answer).then(|| Instant::now() + REPLY_DEADLINE);
        self.reply = Some(ActiveReply {
            purpose,
            task: tokio::spawn(job.run().in_current_span()),
            events: rx,
            queued: Vec::new(),
            done: Vec::new(),
            finished: false,
            text: String::new(),
            started_ms: None,
            caller_end_ms,
            deadline,
            end_call: false,
        });
    }

    fn speak_fallback(&mut self, line: String, kind: &'static str) {
        metrics::counter!("vca_fallbacks_total", "kind" => kind).increment(1);
        self.start_reply(ReplySource::Fixed(line), Purpose::Fallback, None);
    }

    async fn say_goodbye(&mut self, reason: &'static str) {
        if self.reply.is_some() {
            let flushed = self.player.flush().await.ok();
            self.stop_reply(flushed).await;
        }
        self.ending = Some(reason);
        let line = self.ctx.lines.goodbye.clone();
        self.start_reply(ReplySource::Fixed(line), Purpose::Goodbye(reason), None);
    }

    async fn reply_too_slow(&mut self) {
        tracing::warn!("no reply audio in time; speaking the fallback line");
        if let Some(r) = self.reply.take() {
            r.task.abort();
        }
        let _ = self.player.flush().await;
        self.speak_fallback(self.ctx.lines.llm_fallback.clone(), "llm_slow");
    }

    async fn on_reply_event(&mut self, ev: ReplyEvent) -> Option<AgentOutcome> {
        let now_ms = self.now_ms();
        let r = self.reply.as_mut()?;
        match ev {
            ReplyEvent::Queued { id, text } => {
                if r.started_ms.is_none() {
                    r.started_ms = Some(now_ms);
                    r.deadline = None;
                    if let Some(end) = r.caller_end_ms {
                        let latency = now_ms.saturating_sub(end);
                        metrics::histogram!("vca_turn_latency_seconds")
                            .record(latency as f64 / 1000.0);
                        self.state.turn_latencies_ms.push(latency);
                    }
                }
                r.queued.push(QueuedSentence { id, text });
                None
            }
            ReplyEvent::Skipped { .. } => None,
            ReplyEvent::ModelFailed { error, spoke_any } => {
                tracing::warn!(error = %error, "language model failed");
                if !spoke_any {
                    r.task.abort();
                    self.reply = None;
                    self.speak_fallback(self.ctx.lines.llm_fallback.clone(), "llm");
                }
                None
            }
            ReplyEvent::Finished {
                text,
                usage,
                tts_chars,
                end_call,
            } => {
                r.finished = true;
                r.text = text;
                r.end_call = end_call;
                r.deadline = None;
                let delta = UsageDelta {
                    llm_prompt_tokens: usage.map_or(0, |u| i64::from(u.prompt_tokens)),
                    llm_completion_tokens: usage.map_or(0, |u| i64::from(u.completion_tokens)),
                    tts_characters: tts_chars as i64,
                    ..UsageDelta::default()
                };
                self.add_usage(delta).await;
                self.maybe_complete_reply().await
            }
        }
    }

    /// When the reply is fully queued and every clip has played: write the agent's turn
    /// and decide what comes next.
    async fn maybe_complete_reply(&mut self) -> Option<AgentOutcome> {
        let r = self.reply.as_ref()?;
        let played: HashSet<_> = r.done.iter().collect();
        if !r.finished || !r.queued.iter().all(|q| played.contains(&q.id)) {
            return None;
        }
        let r = self.reply.take()?;
        let spoken = heard_text(&r.queued, &r.done, None);
        if !spoken.is_empty() {
            let start = r.started_ms.unwrap_or_else(|| self.now_ms());
            let end = self.now_ms();
            self.write_turn(Speaker::Agent, &spoken, start, end, false)
                .await;
            self.state.history.push(Speaker::Agent, &spoken);
        }
        self.ctx.states.save(self.ctx.call_id, &self.state).await;
        match r.purpose {
            Purpose::Goodbye(reason) => return Some(AgentOutcome::Ended(reason)),
            Purpose::Answer if r.end_call => self.say_goodbye("agent_ended").await,
            Purpose::Answer if self.state.turn_count >= self.profile.max_turns => {
                self.say_goodbye("max_turns").await
            }
            _ => {}
        }
        None
    }

    /// Stops the reply in flight (barge-in, a new caller turn, the end of the call) and
    /// writes what was heard of it as an interrupted agent turn.
    async fn stop_reply(&mut self, flushed: Option<FlushReport>) {
        let Some(r) = self.reply.take() else { return };
        r.task.abort();
        let flushed = match flushed {
            Some(f) => Some(f),
            None => self.player.flush().await.ok(),
        };
        let heard = heard_text(&r.queued, &r.done, flushed.as_ref());
        if !heard.is_empty() {
            let start = r.started_ms.unwrap_or_else(|| self.now_ms());
            let end = self.now_ms();
            self.write_turn(Speaker::Agent, &heard, start, end, true)
                .await;
            self.state.history.push(Speaker::Agent, &heard);
        }
        self.ctx.states.save(self.ctx.call_id, &self.state).await;
    }

    async fn write_turn(
        &mut self,
        speaker: Speaker,
        text: &str,
        start_ms: u64,
        end_ms: u64,
        interrupted: bool,
    ) {
        let seq = self.state.next_seq;
        self.state.next_seq += 1;
        let turn = NewTurn {
            call_id: self.ctx.call_id,
            tenant_id: self.ctx.tenant_id,
            seq,
            speaker: speaker.as_str(),
            text,
            start_ms: start_ms as i64,
            end_ms: end_ms as i64,
            interrupted,
        };
        if let Err(e) = self.ctx.store.insert_turn(&turn).await {
            tracing::warn!(error = %e, "cannot write transcript turn");
        }
    }

    async fn add_usage(&mut self, delta: UsageDelta) {
        if delta == UsageDelta::default() {
            return;
        }
        if let Err(e) = self
            .ctx
            .store
            .add_call_usage(self.ctx.call_id, self.ctx.tenant_id, &delta)
            .await
        {
            tracing::warn!(error = %e, "cannot record call usage");
        }
    }

    async fn finish_usage(&mut self) {
        if let Some(stt) = &self.stt {
            let total = (stt.usage().audio_seconds * 1000.0) as i64;
            let delta = total - self.usage_reported_stt_ms;
            self.usage_reported_stt_ms = total;
            self.add_usage(UsageDelta {
                stt_audio_ms: delta.max(0),
                ..UsageDelta::default()
            })
            .await;
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Whether a transcript holds words, not just noise markers or punctuation.
pub fn is_speech(text: &str) -> bool {
    let stripped: String = text
        .split(['[', '('])
        .map(|part| part.split([']', ')']).next_back().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    stripped.chars().filter(|c| c.is_alphanumeric()).count() >= 2
}

/// Keeps every n-th sample of 16 kHz (or other multiple-of-8 kHz) audio; the media core
/// hands 8 kHz unless configured otherwise, so this is a rare path.
fn decimate_to_8k(pcm: &[i16], rate: u32) -> Vec<i16> {
    let step = (rate / 8000).max(1) as usize;
    pcm.iter().step_by(step).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::is_speech;

    #[test]
    fn noise_markers_are_not_speech() {
        assert!(!is_speech(""));
        assert!(!is_speech(" . "));
        assert!(!is_speech("[BLANK_AUDIO]"));
        assert!(!is_speech("(noise) [music]"));
        assert!(is_speech("hello"));
        assert!(is_speech("[noise] yes please"));
    }
}
