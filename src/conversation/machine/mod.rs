//! [`Conversation`]: the sans-IO state machine of one call's dialogue. It owns the rules —
//! greeting, turn-taking, barge-in with the stored turn cut to what was heard, fallback
//! lines and their deadlines, max turns / max duration / goodbye / end marker, the bounded
//! history — and nothing else: no tasks, sockets, engines or clock. Every input is a
//! `handle_*` call carrying the `now` it happened at; what to do comes out of
//! [`Conversation::poll_action`], and when to call [`Conversation::handle_timeout`] out of
//! [`Conversation::poll_timeout`].
//!
//! Driving it (quinn-proto's order): feed one input, drain `poll_action` until `None`,
//! then wait for the next input or the deadline from `poll_timeout`.
//!
//! The rules of the agent's actions live beside this file: [`keypad`] (the caller's keys),
//! [`tools`] (tool rounds of the model), [`transfer`] (handing the caller to a person).

pub(crate) mod keypad;
pub(crate) mod tools;
mod transfer;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::engines::llm::{ChatRequest, TokenUsage, ToolCall};
use crate::media::playout::{FlushReport, PlayoutId};
use crate::store::EndReason;
use crate::store::transcript::UsageDelta;

use super::action::{Action, Observation, ReplyId, TurnRecord, UtteranceId};
use super::history::Speaker;
use super::profile::AgentProfile;
use super::reply::{Purpose, Reply};
use super::sentences::SentenceSplitter;
use super::state::ConversationState;
use crate::language::goodbye::{is_in_script_of, words};
use crate::language::{LanguageTag, Line, is_goodbye};
use keypad::Keypad;
use tools::ToolRound;

/// The longest the caller waits, from the end of their turn being detected (recognition
/// included), for the first sentence of the reply before a fallback line is spoken instead.
pub const REPLY_DEADLINE: Duration = Duration::from_millis(2800);
/// The least time the language model and speech synthesis get after the transcript, even
/// when recognition used up most of [`REPLY_DEADLINE`] (local Whisper on a small CPU): a
/// reply is not thrown away for being slow to hear.
pub const MIN_REPLY_BUDGET: Duration = Duration::from_millis(1500);
/// How long a goodbye may take to play before the call is hung up regardless.
pub const GOODBYE_LIMIT: Duration = Duration::from_secs(20);
/// How long the goodbye of a daemon shutting down may take.
pub const WRAP_UP_LIMIT: Duration = Duration::from_secs(10);

/// Speech recognition gave no transcript for an utterance (the driver logs why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecognitionFailed;

/// What speech recognition heard in an utterance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard<'a> {
    /// The words, in the script they were spoken in.
    pub text: &'a str,
    /// The language the recogniser says they are in (`hi`, `hi-IN`, `en-US`), if it says.
    pub language: Option<&'a str>,
}

impl<'a> From<&'a str> for Heard<'a> {
    fn from(text: &'a str) -> Self {
        Heard {
            text,
            language: None,
        }
    }
}

/// The fewest words of a Latin-script transcript that may switch the call's language (a
/// lone "okay" in a Hindi call says nothing about the caller's language).
const MIN_WORDS_TO_SWITCH: usize = 3;

/// An utterance handed to recognition, or waiting for its turn.
#[derive(Debug, Clone, Copy)]
struct Recognition {
    id: UtteranceId,
    start_ms: u64,
    end_ms: u64,
    /// When its end was detected: the caller waits from here.
    heard_at: Instant,
}

/// What the dialogue is doing, as others see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Turns are taken.
    Talking,
    /// The caller is being handed over.
    Transferring,
    /// The goodbye plays or the call is over.
    Ending,
}

#[derive(Debug)]
enum Phase {
    /// Turns are taken.
    Talking,
    /// The goodbye is playing; the call ends for `reason` when it has, or at `hang_up_by`.
    Ending {
        reason: EndReason,
        hang_up_by: Instant,
    },
    /// The caller is being handed to `target`: the announce plays (`handed_over` false),
    /// then the driver transfers. No turns are taken.
    Transferring { target: String, handed_over: bool },
    /// Over: hung up by us or by the caller, or transferred. Only a late transcript is
    /// still written.
    Closed,
}

/// One call's dialogue.
#[derive(Debug)]
pub struct Conversation {
    profile: AgentProfile,
    state: ConversationState,
    /// Time zero of every transcript offset.
    answered: Instant,
    /// When the profile's maximum duration is reached.
    max_at: Instant,
    phase: Phase,
    next_id: u64,
    /// The utterance being transcribed.
    recognising: Option<Recognition>,
    /// Utterances that ended while another was being transcribed, oldest first.
    waiting: VecDeque<Recognition>,
    reply: Option<Reply>,
    /// Keys being collected into a caller turn.
    keypad: Option<Keypad>,
    /// Tools the model called in this turn, until their results go back to it.
    tool_round: Option<ToolRound>,
    actions: VecDeque<Action>,
}

impl Conversation {
    /// The conversation of a call answered at `answered`, continuing `state` when the call
    /// is re-adopted after a restart.
    pub fn new(profile: AgentProfile, state: Option<ConversationState>, answered: Instant) -> Self {
        let mut state = state.unwrap_or_default();
        state.history.set_budget(profile.history_chars);
        Conversation {
            max_at: answered + profile.max_duration,
            profile,
            state,
            answered,
            phase: Phase::Talking,
            next_id: 1,
            recognising: None,
            waiting: VecDeque::new(),
            reply: None,
            keypad: None,
            tool_round: None,
            actions: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// What is saved for re-adoption (after [`Action::SaveState`]).
    pub fn state(&self) -> &ConversationState {
        &self.state
    }

    /// The profile the conversation runs with.
    pub fn profile(&self) -> &AgentProfile {
        &self.profile
    }

    /// The language the call is in now: the profile's, or the one the caller switched to.
    pub fn language(&self) -> &LanguageTag {
        self.state
            .language
            .as_ref()
            .unwrap_or(&self.profile.language)
    }

    /// Whether the conversation is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether a transcript is still awaited.
    pub fn is_recognising(&self) -> bool {
        self.recognising.is_some()
    }

    /// Milliseconds from the answer to `now`, the unit of transcript offsets.
    pub fn ms_since_answer(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.answered).as_millis() as u64
    }

    // ---- input ----

    /// The call is up and media flows: greets the caller unless that was done before.
    pub fn start(&mut self, now: Instant) {
        if self.state.greeted || !matches!(self.phase, Phase::Talking) {
            return;
        }
        self.state.greeted = true;
        let greeting = self.profile.greeting.trim();
        // A recorded call hears so first, in the same reply (it can be barged into like
        // any other line, and the transcript keeps it).
        let greeting = match self.profile.recording_notice.as_deref().map(str::trim) {
            Some(notice) if !notice.is_empty() && !greeting.is_empty() => {
                format!("{notice} {greeting}")
            }
            Some(notice) if !notice.is_empty() => notice.to_string(),
            _ => greeting.to_string(),
        };
        if !greeting.is_empty() {
            self.speak_fixed(now, &greeting, Purpose::Greeting);
        }
    }

    /// The media side ended a caller utterance (offsets in ms from the answer). Returns
    /// its id when it is to be transcribed (an [`Action::Recognise`] follows, now or once
    /// the utterance before it is done); `None` when it is not wanted (the call is ending).
    pub fn handle_utterance(
        &mut self,
        now: Instant,
        start_ms: u64,
        end_ms: u64,
    ) -> Option<UtteranceId> {
        if !matches!(self.phase, Phase::Talking) {
            return None;
        }
        if self.reply.is_some() {
            // The caller spoke on while we prepared or spoke a reply: theirs wins.
            self.stop_reply(now, None);
        }
        self.tool_round = None;
        let recognition = Recognition {
            id: UtteranceId(self.take_id()),
            start_ms,
            end_ms,
            heard_at: now,
        };
        if self.recognising.is_some() {
            self.waiting.push_back(recognition);
        } else {
            self.begin_recognition(recognition);
        }
        Some(recognition.id)
    }

    /// The transcript of `utterance`. A transcript that arrives after the call closed (the
    /// caller hung up) or while the goodbye plays is still written, but not answered.
    pub fn handle_transcript(
        &mut self,
        now: Instant,
        utterance: UtteranceId,
        result: Result<Heard<'_>, RecognitionFailed>,
    ) {
        let Some(done) = self.recognising.take_if(|r| r.id == utterance) else {
            return;
        };
        if matches!(self.phase, Phase::Closed) {
            self.waiting.clear();
        } else if let Some(next) = self.waiting.pop_front() {
            self.begin_recognition(next);
        }
        let talking = matches!(self.phase, Phase::Talking);
        let more_coming = self.recognising.is_some();
        let heard = match result {
            Ok(heard) => heard,
            Err(RecognitionFailed) => {
                if talking && !more_coming {
                    self.fallback(now, Fallback::Stt);
                }
                return;
            }
        };
        let text = heard.text.trim();
        if !is_speech(text) {
            return;
        }
        if talking {
            self.follow_language(text, heard.language);
        }
        self.take_caller_turn(now, text, done, talking && !more_coming);
    }

    /// A turn of the caller (words or keys): written, into the history, counted, and —
    /// when `answer` — answered (a goodbye is answered with ours).
    fn take_caller_turn(&mut self, now: Instant, text: &str, turn: Recognition, answer: bool) {
        self.write_turn(Speaker::Caller, text, turn.start_ms, turn.end_ms, false);
        self.state.history.push(Speaker::Caller, text);
        self.state.turn_count += 1;
        self.actions.push_back(Action::AddUsage(UsageDelta {
            turns: 1,
            ..UsageDelta::default()
        }));
        self.actions.push_back(Action::Observe(Observation::Turn));
        if !answer {
            // Written; the answer waits for the caller to finish (or never comes).
            return;
        }
        if is_goodbye(text) {
            self.say_goodbye(now, EndReason::CallerGoodbye, GOODBYE_LIMIT);
        } else {
            self.start_answer(now, turn.end_ms, turn.heard_at, 1);
        }
    }

    /// The caller speaks another language the profile allows: the agent answers in it from
    /// this turn on. A recogniser's word is taken when the words are in that language's
    /// script or are several; without one, the script alone decides.
    fn follow_language(&mut self, text: &str, reported: Option<&str>) {
        let current = self.language().language();
        let reported = reported.and_then(|l| LanguageTag::parse(l).ok());
        let to = match reported {
            Some(tag) if tag.language() == current => return,
            Some(tag) => {
                let sure = is_in_script_of(text, tag.language())
                    || words(text).len() >= MIN_WORDS_TO_SWITCH;
                if !sure {
                    return;
                }
                self.profile.allowed(tag.language())
            }
            None => std::iter::once(&self.profile.language)
                .chain(&self.profile.languages)
                .find(|t| t.language() != current && is_in_script_of(text, t.language())),
        };
        let Some(to) = to.cloned() else { return };
        let from = self.language().clone();
        self.actions.push_back(Action::Event {
            kind: "language_changed",
            details: serde_json::json!({"from": from.as_str(), "to": to.as_str()}),
        });
        self.state.language = (to != self.profile.language).then_some(to);
    }

    /// `line` in the call's language, in the profile's wording where it has one.
    pub(crate) fn line(&self, line: Line) -> String {
        self.profile
            .lines
            .get(line, self.language().language())
            .to_string()
    }

    /// The system prompt of the next request: the profile's, told which language to answer
    /// in when that is not plain English.
    fn system_prompt(&self) -> String {
        let language = self.language().language();
        let mut prompt = self.profile.system_prompt.clone();
        if language != crate::language::Language::English || !self.profile.languages.is_empty() {
            let name = language.name();
            prompt.push_str(&format!(
                "\n\nThe caller speaks {name}. Reply in {name}, written in its own script; \
                 English words the caller uses may stay in English."
            ));
            if !self.profile.languages.is_empty() {
                prompt.push_str(
                    " If the caller changes language, the next reply follows in their language.",
                );
            }
        }
        prompt
    }

    /// A piece of the model's text for `reply`.
    pub fn handle_reply_text(&mut self, _now: Instant, reply: ReplyId, delta: &str) {
        let marker = self.profile.end_marker.clone();
        let Some(r) = self.reply.as_mut().filter(|r| r.id == reply) else {
            return;
        };
        let sentences = r.push_text(delta, &marker);
        for text in sentences {
            self.add_sentence(text);
        }
    }

    /// The model finished `reply`, with its token usage when known.
    pub fn handle_reply_done(&mut self, now: Instant, reply: ReplyId, usage: Option<TokenUsage>) {
        let marker = self.profile.end_marker.clone();
        let Some(r) = self.reply.as_mut().filter(|r| r.id == reply) else {
            return;
        };
        let last = r.finish_text(&marker);
        let asks_to_end = r.asks_to_end(&marker);
        if let Some(text) = last {
            self.add_sentence(text);
        }
        if let Some(u) = usage {
            self.actions.push_back(Action::AddUsage(UsageDelta {
                llm_prompt_tokens: i64::from(u.prompt_tokens),
                llm_completion_tokens: i64::from(u.completion_tokens),
                ..UsageDelta::default()
            }));
        }
        if self
            .reply
            .as_ref()
            .is_some_and(|r| !r.tool_calls.is_empty())
        {
            self.begin_tool_round(now);
            return;
        }
        let nothing_said = self.reply.as_ref().is_some_and(|r| !r.has_sentences());
        if nothing_said && !asks_to_end {
            // An empty answer would leave the caller in silence.
            self.replace_reply_with_fallback(now, Fallback::Llm);
            return;
        }
        if asks_to_end && let Some(r) = self.reply.as_mut() {
            r.purpose = match r.purpose {
                Purpose::Answer { caller_end_ms } => Purpose::EndingAnswer { caller_end_ms },
                Purpose::Continuation => Purpose::EndingAnswer {
                    caller_end_ms: u64::MAX,
                },
                ref other => other.clone(),
            };
        }
        self.complete_reply_if_done(now);
    }

    /// The model asks for `calls` in `reply` (its `handle_reply_done` follows).
    pub fn handle_reply_tool_calls(&mut self, _now: Instant, reply: ReplyId, calls: Vec<ToolCall>) {
        if let Some(r) = self.reply.as_mut().filter(|r| r.id == reply) {
            r.tool_calls.extend(calls);
        }
    }

    /// The model failed on `reply`. Sentences it already gave are still spoken; if there
    /// were none, the fallback line is.
    pub fn handle_reply_failed(&mut self, now: Instant, reply: ReplyId) {
        let Some(r) = self.reply.as_mut().filter(|r| r.id == reply) else {
            return;
        };
        if r.has_sentences() {
            r.abandon_text();
            self.complete_reply_if_done(now);
        } else {
            self.replace_reply_with_fallback(now, Fallback::Llm);
        }
    }

    /// `clip` was synthesised and queued for playout; it lasts `duration`.
    pub fn handle_clip_queued(&mut self, now: Instant, clip: PlayoutId, duration: Duration) {
        let now_ms = self.ms_since_answer(now);
        let Some(r) = self.reply.as_mut().filter(|r| r.owns(clip)) else {
            return;
        };
        r.clip_queued(clip, duration);
        if r.started_ms.is_some() {
            return;
        }
        r.started_ms = Some(now_ms);
        r.deadline = None;
        if let Purpose::Answer { caller_end_ms } | Purpose::EndingAnswer { caller_end_ms } =
            r.purpose
            && caller_end_ms != u64::MAX
        {
            let latency = now_ms.saturating_sub(caller_end_ms);
            self.state.turn_latencies_ms.push(latency);
            self.actions
                .push_back(Action::Observe(Observation::TurnLatency(latency)));
        }
    }

    /// Speech synthesis of `clip` failed: the sentence is skipped.
    pub fn handle_clip_failed(&mut self, now: Instant, clip: PlayoutId) {
        let Some(r) = self.reply.as_mut().filter(|r| r.owns(clip)) else {
            return;
        };
        r.clip_skipped(clip);
        self.actions
            .push_back(Action::Observe(Observation::Fallback(
                Fallback::TtsSkip.label(),
            )));
        self.complete_reply_if_done(now);
    }

    /// The first frame of `clip` went out.
    pub fn handle_playout_started(&mut self, now: Instant, clip: PlayoutId) {
        if let Some(r) = self.reply.as_mut().filter(|r| r.owns(clip)) {
            r.clip_started(clip, now);
        }
    }

    /// `clip` has been sent completely.
    pub fn handle_playout_done(&mut self, now: Instant, clip: PlayoutId) {
        if let Some(r) = self.reply.as_mut().filter(|r| r.owns(clip)) {
            r.clip_played(clip);
            self.complete_reply_if_done(now);
        }
    }

    /// The caller talked over the agent. `flushed` is what the media side's automatic
    /// flush removed (`None`: it did not flush, so the conversation does).
    pub fn handle_barge_in(&mut self, now: Instant, flushed: Option<FlushReport>) {
        match &self.phase {
            Phase::Talking if self.reply.is_some() => {
                self.actions
                    .push_back(Action::Observe(Observation::BargeIn));
                self.stop_reply(now, flushed.as_ref());
            }
            Phase::Ending { reason, .. } if flushed.is_some() && self.reply.is_some() => {
                // The goodbye itself was cut off: nothing is left to say.
                let reason = reason.clone();
                self.stop_reply(now, flushed.as_ref());
                self.close(reason);
            }
            Phase::Transferring {
                handed_over: false, ..
            } if flushed.is_some() && self.reply.is_some() => {
                // The announce was cut off: transfer now.
                self.stop_reply(now, flushed.as_ref());
                self.hand_over();
            }
            _ => {}
        }
    }

    /// Time-driven rules: the reply deadline, the maximum duration, a goodbye that takes
    /// too long. Call it at (or after) [`Self::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.phase {
            Phase::Closed | Phase::Transferring { .. } => return,
            Phase::Ending { reason, hang_up_by } => {
                if now >= *hang_up_by {
                    let reason = reason.clone();
                    if self.reply.is_some() {
                        self.stop_reply(now, None);
                    }
                    self.close(reason);
                }
                return;
            }
            Phase::Talking => {}
        }
        if now >= self.max_at {
            self.say_goodbye(now, EndReason::MaxDuration, GOODBYE_LIMIT);
            return;
        }
        let too_slow = self
            .reply
            .as_ref()
            .and_then(|r| r.deadline)
            .is_some_and(|d| now >= d);
        if too_slow {
            self.replace_reply_with_fallback(now, Fallback::LlmSlow);
        }
        self.keypad_timeout(now);
        self.tools_timeout(now);
    }

    /// The daemon is shutting down: say goodbye and end the call.
    pub fn handle_wrap_up(&mut self, now: Instant) {
        self.handle_end_request(now, EndReason::DaemonShutdown);
    }

    /// The call is to end for `reason` from outside the dialogue (an operator's hang-up):
    /// while talking the agent says goodbye first and the call ends once it is heard.
    /// Returns false when no goodbye can be said (a transfer is under way, the goodbye is
    /// already playing, the call is over); the driver then ends the call itself.
    pub fn handle_end_request(&mut self, now: Instant, reason: EndReason) -> bool {
        match self.phase {
            Phase::Talking => {
                self.say_goodbye(now, reason, WRAP_UP_LIMIT);
                true
            }
            Phase::Ending { .. } => true,
            Phase::Transferring { .. } | Phase::Closed => false,
        }
    }

    /// The phase in a word, for the live-calls board.
    pub fn activity(&self) -> Activity {
        match self.phase {
            Phase::Talking => Activity::Talking,
            Phase::Ending { .. } | Phase::Closed => Activity::Ending,
            Phase::Transferring { .. } => Activity::Transferring,
        }
    }

    /// The call ended from outside (the caller hung up, the daemon stops): what was heard
    /// of the reply in flight is written and the conversation closes. A transcript still
    /// being made is written when it arrives.
    pub fn handle_hangup(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        if self.reply.is_some() {
            self.stop_reply(now, None);
        }
        self.waiting.clear();
        self.keypad = None;
        self.tool_round = None;
        self.phase = Phase::Closed;
    }

    // ---- output ----

    /// The next thing to do, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Self::handle_timeout`] is next due, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Closed | Phase::Transferring { .. } => None,
            Phase::Ending { hang_up_by, .. } => Some(*hang_up_by),
            Phase::Talking => [
                Some(self.max_at),
                self.reply.as_ref().and_then(|r| r.deadline),
                self.keypad.as_ref().map(Keypad::deadline),
                self.tool_round.as_ref().and_then(ToolRound::filler_at),
            ]
            .into_iter()
            .flatten()
            .min(),
        }
    }

    // ---- rules ----

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn begin_recognition(&mut self, recognition: Recognition) {
        self.actions.push_back(Action::Recognise {
            utterance: recognition.id,
        });
        self.recognising = Some(recognition);
    }

    /// Asks the model to answer; `round` counts the model rounds of this caller turn (tool
    /// results go back as the next round; the last allowed round is offered no tools).
    fn start_answer(&mut self, now: Instant, caller_end_ms: u64, heard_at: Instant, round: u8) {
        if self.reply.is_some() {
            self.stop_reply(now, None);
        }
        let id = ReplyId(self.take_id());
        let deadline = (heard_at + REPLY_DEADLINE).max(now + MIN_REPLY_BUDGET);
        let tools = if round <= tools::MAX_TOOL_ROUNDS {
            self.profile.tools.specs(&self.profile.targets)
        } else {
            Vec::new()
        };
        let request = ChatRequest {
            system: self.system_prompt(),
            language: Some(self.language().to_string()),
            history: self
                .state
                .history
                .turns()
                .iter()
                .map(|t| t.to_message())
                .collect(),
            model: self.profile.llm_model.clone(),
            max_tokens: None,
            temperature: None,
            tools,
        };
        let purpose = if round == 1 {
            Purpose::Answer { caller_end_ms }
        } else {
            Purpose::Continuation
        };
        let mut reply = Reply::from_model(id, purpose, deadline);
        reply.round = round;
        self.reply = Some(reply);
        self.actions
            .push_back(Action::StartReply { reply: id, request });
    }

    /// Hands a sentence of the current reply to speech synthesis.
    fn add_sentence(&mut self, text: String) {
        let clip = PlayoutId(self.take_id());
        if let Some(r) = self.reply.as_mut() {
            r.add_sentence(clip, text.clone());
            self.actions.push_back(Action::Speak {
                reply: r.id,
                clip,
                text,
                language: self
                    .state
                    .language
                    .clone()
                    .unwrap_or_else(|| self.profile.language.clone()),
                fixed: r.fixed,
            });
        }
    }

    /// Speaks a fixed line (greeting, fallback, goodbye) as the current reply.
    fn speak_fixed(&mut self, now: Instant, line: &str, purpose: Purpose) {
        if self.reply.is_some() {
            self.stop_reply(now, None);
        }
        let id = ReplyId(self.take_id());
        self.reply = Some(Reply::fixed(id, purpose));
        for text in sentences_of(line) {
            self.add_sentence(text);
        }
        self.complete_reply_if_done(now);
    }

    /// The sentences of the lines spoken when an engine fails (`stt_retry`,
    /// `llm_fallback`) in the call's language, as they would be spoken: what to synthesise
    /// ahead, so they are heard even while speech synthesis is what fails.
    pub fn fallback_sentences(&self) -> Vec<String> {
        [Line::SttRetry, Line::LlmFallback]
            .into_iter()
            .flat_map(|line| sentences_of(&self.line(line)))
            .collect()
    }

    fn fallback(&mut self, now: Instant, kind: Fallback) {
        self.actions
            .push_back(Action::Observe(Observation::Fallback(kind.label())));
        let line = match kind {
            Fallback::Stt => self.line(Line::SttRetry),
            Fallback::Llm | Fallback::LlmSlow | Fallback::TtsSkip => self.line(Line::LlmFallback),
        };
        self.speak_fixed(now, &line, Purpose::Fallback);
    }

    /// The model's answer is given up (failed, empty, too slow): the fallback line instead.
    fn replace_reply_with_fallback(&mut self, now: Instant, kind: Fallback) {
        if let Some(r) = self.reply.take() {
            self.actions.push_back(Action::CancelReply { reply: r.id });
            self.actions.push_back(Action::Flush);
        }
        self.fallback(now, kind);
    }

    fn say_goodbye(&mut self, now: Instant, reason: EndReason, limit: Duration) {
        if self.reply.is_some() {
            self.stop_reply(now, None);
        }
        self.keypad = None;
        self.tool_round = None;
        self.phase = Phase::Ending {
            reason: reason.clone(),
            hang_up_by: now + limit,
        };
        let line = match reason {
            EndReason::MaxDuration => self.line(Line::MaxDuration),
            _ => self.line(Line::Goodbye),
        };
        self.speak_fixed(now, &line, Purpose::Goodbye(reason));
    }

    /// When the current reply has been said in full: its turn is written and what it was
    /// for decides what comes next.
    fn complete_reply_if_done(&mut self, now: Instant) {
        if !self.reply.as_ref().is_some_and(Reply::is_complete) {
            return;
        }
        let Some(r) = self.reply.take() else { return };
        if r.all_skipped()
            && r.tool_calls.is_empty()
            && matches!(r.purpose, Purpose::Answer { .. } | Purpose::Continuation)
        {
            // Not one sentence of the answer could be synthesised: rather than silence,
            // the apology, kept synthesised ahead (its own failure is not retried).
            let line = self.line(Line::LlmFallback);
            self.speak_fixed(now, &line, Purpose::Fallback);
            return;
        }
        let now_ms = self.ms_since_answer(now);
        let spoken = r.heard(now, None);
        if !spoken.is_empty() {
            self.write_turn(
                Speaker::Agent,
                &spoken,
                r.started_ms.unwrap_or(now_ms),
                now_ms,
                false,
            );
            if r.tool_calls.is_empty() && r.purpose != Purpose::Filler {
                self.state.history.push(Speaker::Agent, &spoken);
            }
        }
        if !r.tool_calls.is_empty()
            && let Some(round) = self.tool_round.as_mut()
        {
            // The history gets this turn with its tool calls once their results are in.
            round.said(spoken);
        }
        self.actions.push_back(Action::SaveState);
        match r.purpose {
            Purpose::Goodbye(reason) => self.close(reason),
            Purpose::Announce => self.hand_over(),
            Purpose::EndingAnswer { .. } => {
                self.say_goodbye(now, EndReason::AgentEnded, GOODBYE_LIMIT)
            }
            Purpose::Answer { .. } | Purpose::Continuation
                if self.tool_round.is_none() && self.state.turn_count >= self.profile.max_turns =>
            {
                self.say_goodbye(now, EndReason::MaxTurns, GOODBYE_LIMIT)
            }
            _ => {}
        }
        self.advance_tools(now);
    }

    /// Cuts the current reply short (barge-in, the caller speaking on, a goodbye, the end
    /// of the call): its model stream and speech stop, its audio is flushed unless the
    /// media side already did (`flushed`), and what was heard is written as an
    /// interrupted turn.
    fn stop_reply(&mut self, now: Instant, flushed: Option<&FlushReport>) {
        let Some(r) = self.reply.take() else { return };
        if !r.tool_calls.is_empty() {
            // Cut while saying what came before its tool calls: the caller moved on.
            self.tool_round = None;
        }
        self.actions.push_back(Action::CancelReply { reply: r.id });
        if flushed.is_none() {
            self.actions.push_back(Action::Flush);
        }
        let heard = r.heard(now, flushed);
        if !heard.is_empty() {
            let now_ms = self.ms_since_answer(now);
            self.write_turn(
                Speaker::Agent,
                &heard,
                r.started_ms.unwrap_or(now_ms),
                now_ms,
                true,
            );
            if r.purpose != Purpose::Filler {
                self.state.history.push(Speaker::Agent, &heard);
            }
        }
        self.actions.push_back(Action::SaveState);
    }

    fn close(&mut self, reason: EndReason) {
        self.phase = Phase::Closed;
        self.waiting.clear();
        self.keypad = None;
        self.tool_round = None;
        self.actions.push_back(Action::HangUp(reason));
    }

    fn write_turn(
        &mut self,
        speaker: Speaker,
        text: &str,
        start_ms: u64,
        end_ms: u64,
        interrupted: bool,
    ) {
        let seq = self.state.next_seq;
        self.state.next_seq += 1;
        self.actions.push_back(Action::WriteTurn(TurnRecord {
            seq,
            speaker,
            text: text.to_string(),
            start_ms,
            end_ms: end_ms.max(start_ms),
            interrupted,
        }));
    }
}

/// Why a fallback line is spoken (its metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fallback {
    Stt,
    Llm,
    LlmSlow,
    TtsSkip,
}

impl Fallback {
    fn label(self) -> &'static str {
        match self {
            Fallback::Stt => "stt",
            Fallback::Llm => "llm",
            Fallback::LlmSlow => "llm_slow",
            Fallback::TtsSkip => "tts_skip",
        }
    }
}

/// A fixed line cut into the sentences it is spoken as.
fn sentences_of(line: &str) -> Vec<String> {
    let mut splitter = SentenceSplitter::new();
    splitter
        .push(line)
        .into_iter()
        .chain(splitter.finish())
        .collect()
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
