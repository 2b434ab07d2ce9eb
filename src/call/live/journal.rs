//! What a call writes as it goes — transcript rows, usage, call events, the Redis state —
//! in order, one write at a time, without ever making the call's task wait: writes queue
//! here and the task polls [`Journal::next`] among its other work.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::conversation::{ConversationState, TurnRecord};
use crate::store::Store;
use crate::store::conversation_state::StateStore;
use crate::store::transcript::{NewTurn, UsageDelta};

/// Writes waiting beyond this are dropped oldest first (and logged): a database that is
/// away this long must not grow a call's memory without bound.
const MAX_QUEUED: usize = 1024;

type WriteFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One write.
#[derive(Debug)]
enum Write {
    Turn(TurnRecord),
    Usage(UsageDelta),
    State(Box<ConversationState>),
    Event {
        kind: &'static str,
        details: serde_json::Value,
    },
    TransferTarget(String),
}

/// The ordered writes of one call.
pub(crate) struct Journal {
    store: Store,
    states: Arc<StateStore>,
    call_id: Uuid,
    tenant_id: Uuid,
    queue: VecDeque<Write>,
    in_flight: Option<WriteFuture>,
}

impl Journal {
    /// The journal of one call.
    pub(crate) fn new(
        store: Store,
        states: Arc<StateStore>,
        call_id: Uuid,
        tenant_id: Uuid,
    ) -> Self {
        Journal {
            store,
            states,
            call_id,
            tenant_id,
            queue: VecDeque::new(),
            in_flight: None,
        }
    }

    /// Queues a transcript row.
    pub(crate) fn turn(&mut self, turn: TurnRecord) {
        self.push(Write::Turn(turn));
    }

    /// Queues usage to add; consecutive deltas are merged.
    pub(crate) fn usage(&mut self, delta: UsageDelta) {
        if delta == UsageDelta::default() {
            return;
        }
        if let Some(Write::Usage(last)) = self.queue.back_mut() {
            last.turns += delta.turns;
            last.stt_audio_ms += delta.stt_audio_ms;
            last.llm_prompt_tokens += delta.llm_prompt_tokens;
            last.llm_completion_tokens += delta.llm_completion_tokens;
            last.tts_characters += delta.tts_characters;
            return;
        }
        self.push(Write::Usage(delta));
    }

    /// Queues a save of the conversation state; a newer state replaces an unsaved one.
    pub(crate) fn state(&mut self, state: ConversationState) {
        if let Some(Write::State(last)) = self.queue.back_mut() {
            **last = state;
            return;
        }
        self.push(Write::State(Box::new(state)));
    }

    /// Queues the transfer target's name onto the call row.
    pub(crate) fn transfer_target(&mut self, name: String) {
        self.push(Write::TransferTarget(name));
    }

    /// Queues a call event.
    pub(crate) fn event(&mut self, kind: &'static str, details: serde_json::Value) {
        self.push(Write::Event { kind, details });
    }

    fn push(&mut self, write: Write) {
        if self.queue.len() >= MAX_QUEUED
            && let Some(lost) = self.queue.pop_front()
        {
            tracing::warn!(write = ?lost, "call writes are not getting through; the oldest was dropped");
        }
        self.queue.push_back(write);
    }

    /// Whether nothing is left to write.
    pub(crate) fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_none()
    }

    /// Runs the next write to its end; pending while there is nothing to write.
    /// Cancel-safe: a write interrupted here resumes at the next call.
    pub(crate) async fn next(&mut self) {
        if self.in_flight.is_none() {
            match self.queue.pop_front() {
                Some(write) => self.in_flight = Some(self.start(write)),
                None => return std::future::pending().await,
            }
        }
        if let Some(write) = self.in_flight.as_mut() {
            write.await;
        }
        self.in_flight = None;
    }

    /// Writes everything queued, for at most `limit`.
    pub(crate) async fn flush(&mut self, limit: Duration) {
        let all = async {
            while !self.is_idle() {
                self.next().await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!(
                left = self.queue.len(),
                "call writes did not finish in time"
            );
        }
    }

    fn start(&self, write: Write) -> WriteFuture {
        let store = self.store.clone();
        let (call_id, tenant_id) = (self.call_id, self.tenant_id);
        match write {
            Write::Turn(t) => Box::pin(async move {
                let turn = NewTurn {
                    call_id,
                    tenant_id,
                    seq: t.seq,
                    speaker: t.speaker.as_str(),
                    text: &t.text,
                    start_ms: i64::try_from(t.start_ms).unwrap_or(i64::MAX),
                    end_ms: i64::try_from(t.end_ms).unwrap_or(i64::MAX),
                    interrupted: t.interrupted,
                };
                if let Err(e) = store.insert_turn(&turn).await {
                    tracing::warn!(error = %e, "cannot write transcript turn");
                }
            }),
            Write::Usage(delta) => Box::pin(async move {
                if let Err(e) = store.add_call_usage(call_id, tenant_id, &delta).await {
                    tracing::warn!(error = %e, "cannot record call usage");
                }
            }),
            Write::State(state) => {
                let states = self.states.clone();
                Box::pin(async move { states.save(call_id, &*state).await })
            }
            Write::TransferTarget(name) => Box::pin(async move {
                if let Err(e) = store
                    .set_call_transfer_target(call_id, tenant_id, &name)
                    .await
                {
                    tracing::warn!(error = %e, "cannot record the transfer target");
                }
            }),
            Write::Event { kind, details } => Box::pin(async move {
                if let Err(e) = store
                    .add_call_event(call_id, Some(tenant_id), kind, details)
                    .await
                {
                    tracing::warn!(kind, error = %e, "cannot record call event");
                }
            }),
        }
    }
}
