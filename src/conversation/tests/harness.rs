//! The stand-in for the call's driver that the conversation tests run on: sentences are
//! "synthesised" after a fixed latency and then played one after another in real (virtual)
//! time. Time only moves by stepping to the earliest pending deadline — the conversation's
//! `poll_timeout`, the next synthesis, the end of the clip playing — as str0m's tests do,
//! never 1 ms at a time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::conversation::history::Speaker;
use crate::conversation::machine::GOODBYE_LIMIT;
use crate::conversation::*;
use crate::engines::llm::TokenUsage;
use crate::media::playout::PlayoutId;
use crate::store::EndReason;

pub(super) const MS: Duration = Duration::from_millis(1);
/// Speech synthesis takes this long per sentence.
pub(super) const TTS_LATENCY: Duration = Duration::from_millis(200);
/// Every sentence plays for this long.
pub(super) const CLIP: Duration = Duration::from_millis(1000);

pub(super) fn profile() -> AgentProfile {
    AgentProfile {
        system_prompt: "You are a test agent.".into(),
        greeting: "Hello! How can I help?".into(),
        language: crate::language::LanguageTag::english(),
        languages: Vec::new(),
        voice: None,
        llm_model: Some("test-model".into()),
        max_turns: 3,
        max_duration: Duration::from_secs(120),
        history_chars: 4000,
        lines: crate::language::LineBook::builtin(),
        end_marker: "[END_CALL]".into(),
        dtmf_map: Default::default(),
        targets: Vec::new(),
        tools: Default::default(),
        recording_notice: None,
    }
}

/// The conversation and a stand-in for everything around it.
pub(super) struct Call {
    pub(super) conv: Conversation,
    pub(super) t0: Instant,
    pub(super) now: Instant,
    /// Sentences being synthesised: (ready at, reply, clip).
    pub(super) synth: VecDeque<(Instant, ReplyId, PlayoutId)>,
    /// Clips queued for playout, in order.
    pub(super) queued: VecDeque<PlayoutId>,
    /// The clip playing and when it ends.
    pub(super) playing: Option<(PlayoutId, Instant, Instant)>,
    /// Every action so far.
    pub(super) log: Vec<Action>,
    /// Actions since the test last looked.
    pub(super) fresh: Vec<Action>,
    /// Synthesis of every sentence fails.
    pub(super) tts_down: bool,
    /// The media side never reports a clip done (a stuck playout).
    pub(super) playout_stuck: bool,
}

impl Call {
    pub(super) fn new(profile: AgentProfile, state: Option<ConversationState>) -> Self {
        let t0 = Instant::now();
        let mut call = Call {
            conv: Conversation::new(profile, state, t0),
            t0,
            now: t0,
            synth: VecDeque::new(),
            queued: VecDeque::new(),
            playing: None,
            log: Vec::new(),
            fresh: Vec::new(),
            tts_down: false,
            playout_stuck: false,
        };
        call.conv.start(t0);
        call.pump();
        call
    }

    pub(super) fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    pub(super) fn ms(&self) -> u64 {
        self.now.duration_since(self.t0).as_millis() as u64
    }

    /// Drains the conversation's actions and acts on them as the driver would.
    pub(super) fn pump(&mut self) {
        while let Some(action) = self.conv.poll_action() {
            match &action {
                Action::Speak { reply, clip, .. } => {
                    self.synth
                        .push_back((self.now + TTS_LATENCY, *reply, *clip));
                }
                Action::CancelReply { reply } => self.synth.retain(|(_, r, _)| r != reply),
                Action::Flush => {
                    self.queued.clear();
                    self.playing = None;
                }
                _ => {}
            }
            self.log.push(action.clone());
            self.fresh.push(action);
        }
    }

    /// Takes the actions since the last look.
    pub(super) fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.fresh)
    }

    /// The next instant something happens on its own.
    pub(super) fn next_event(&self) -> Option<Instant> {
        [
            self.conv.poll_timeout(),
            self.synth.front().map(|s| s.0),
            self.playing
                .filter(|_| !self.playout_stuck)
                .map(|(_, _, end)| end),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs everything due up to `until`, stepping from one deadline to the next.
    pub(super) fn run_until(&mut self, until: Instant) {
        while let Some(next) = self.next_event().filter(|t| *t <= until) {
            self.now = self.now.max(next);
            self.step();
        }
        self.now = self.now.max(until);
    }

    pub(super) fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Whatever is due at `now`.
    pub(super) fn step(&mut self) {
        let now = self.now;
        if let Some((_, _, end)) = self.playing
            && end <= now
            && !self.playout_stuck
        {
            let (clip, _, _) = self.playing.take().unwrap_or((PlayoutId(0), now, now));
            self.conv.handle_playout_done(now, clip);
        }
        while self.synth.front().is_some_and(|s| s.0 <= now) {
            let Some((_, _, clip)) = self.synth.pop_front() else {
                break;
            };
            if self.tts_down {
                self.conv.handle_clip_failed(now, clip);
            } else {
                self.queued.push_back(clip);
                self.conv.handle_clip_queued(now, clip, CLIP);
            }
        }
        if self.playing.is_none()
            && let Some(clip) = self.queued.pop_front()
        {
            self.playing = Some((clip, now, now + CLIP));
            self.conv.handle_playout_started(now, clip);
        }
        if self.conv.poll_timeout().is_some_and(|t| t <= now) {
            self.conv.handle_timeout(now);
        }
        self.pump();
    }

    /// The caller spoke from `start_ms` to `end_ms`; the endpointer ends the turn 600 ms
    /// later. Returns the utterance the conversation wants transcribed, if any.
    pub(super) fn caller_speaks(&mut self, start_ms: u64, end_ms: u64) -> Option<UtteranceId> {
        let detected = self.at(end_ms + 600);
        self.run_until(detected);
        let id = self.conv.handle_utterance(self.now, start_ms, end_ms);
        self.pump();
        id
    }

    pub(super) fn transcript(&mut self, id: UtteranceId, text: &str) {
        self.conv.handle_transcript(self.now, id, Ok(text.into()));
        self.pump();
    }

    /// The transcript of `id`, in the language the recogniser reports.
    pub(super) fn transcript_in(&mut self, id: UtteranceId, text: &str, language: &str) {
        let heard = Heard {
            text,
            language: Some(language),
        };
        self.conv.handle_transcript(self.now, id, Ok(heard));
        self.pump();
    }

    /// The request of the last `StartReply`.
    pub(super) fn last_request(&self) -> Option<(ReplyId, crate::engines::llm::ChatRequest)> {
        self.log.iter().rev().find_map(|a| match a {
            Action::StartReply { reply, request } => Some((*reply, request.clone())),
            _ => None,
        })
    }

    /// The model answers `reply` with `chunks`, one per 50 ms, then finishes.
    pub(super) fn model_says(&mut self, reply: ReplyId, chunks: &[&str]) {
        for chunk in chunks {
            self.run_for(50 * MS);
            self.conv.handle_reply_text(self.now, reply, chunk);
            self.pump();
        }
        self.conv.handle_reply_done(
            self.now,
            reply,
            Some(TokenUsage {
                prompt_tokens: 10,
                completion_tokens: 5,
                estimated: false,
            }),
        );
        self.pump();
    }

    pub(super) fn turns(&self) -> Vec<TurnRecord> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::WriteTurn(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    pub(super) fn spoken(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::Speak { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    pub(super) fn hung_up(&self) -> Option<EndReason> {
        self.log.iter().find_map(|a| match a {
            Action::HangUp(r) => Some(r.clone()),
            _ => None,
        })
    }

    pub(super) fn observed(&self, o: Observation) -> usize {
        self.log
            .iter()
            .filter(|a| **a == Action::Observe(o))
            .count()
    }

    /// Lets every sentence on its way be synthesised and played to its end (and what
    /// follows from that, like a goodbye), stepping from one event to the next.
    pub(super) fn play_out(&mut self) {
        while !self.synth.is_empty() || !self.queued.is_empty() || self.playing.is_some() {
            let Some(next) = self.next_event() else { break };
            assert!(next < self.now + GOODBYE_LIMIT, "playout never ends");
            self.now = self.now.max(next);
            self.step();
        }
    }

    /// One full exchange: the caller says `said`, the model answers `answer`.
    pub(super) fn exchange(&mut self, start_ms: u64, said: &str, answer: &[&str]) {
        let id = self
            .caller_speaks(start_ms, start_ms + 1000)
            .expect("utterance wanted");
        self.run_for(300 * MS);
        self.transcript(id, said);
        let (reply, _) = self.last_request().expect("a reply was asked for");
        self.model_says(reply, answer);
        self.play_out();
    }
}

pub(super) fn speaker_texts(turns: &[TurnRecord]) -> Vec<(Speaker, &str, bool)> {
    turns
        .iter()
        .map(|t| (t.speaker, t.text.as_str(), t.interrupted))
        .collect()
}
