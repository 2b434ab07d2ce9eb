//! What a call writes as it goes — transcript rows, usage, call events, the Redis state —
//! in order, one write at a time, without ever making the call's task wait: writes queue
//! here and the task polls [`Journal::next`] among its other work. A write the database
//! could not take because it is away (restarting, unreachable) stays at the head of the
//! queue and is tried again after a pause (100 ms doubling to 2 s), so a PostgreSQL restart
//! during a call loses nothing; a write it refused is dropped and logged.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::conversation::{ConversationState, TurnRecord};
use crate::store::conversation_state::StateStore;
use crate::store::retry::{is_transient, next_pause};
use crate::store::transcript::{NewTurn, UsageDelta};
use crate::store::{Store, StoreError};

/// Writes waiting beyond this are dropped oldest first (and logged): a database that is
/// away this long must not grow a call's memory without bound.
const MAX_QUEUED: usize = 1024;

/// A write under way: done, or handed back to be tried again.
type WriteFuture = Pin<Box<dyn Future<Output = Result<(), Write>> + Send>>;

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
    /// The pause after the last transient failure (none after a success).
    pause: Option<Duration>,
    /// When the write at the head of the queue may be tried again.
    retry_at: Option<Instant>,
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
            pause: None,
            retry_at: None,
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
            metrics::counter!("vca_call_writes_dropped_total").increment(1);
            tracing::warn!(write = ?lost, "call writes are not getting through; the oldest was dropped");
        }
        self.queue.push_back(write);
    }

    /// Whether nothing is left to write.
    pub(crate) fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_none()
    }

    /// Runs the next write to its end; pending while there is nothing to write, and until
    /// the pause is over after a transient failure. Cancel-safe: a write interrupted here
    /// resumes at the next call.
    pub(crate) async fn next(&mut self) {
        if self.in_flight.is_none() {
            if let Some(at) = self.retry_at {
                tokio::time::sleep_until(at).await;
                self.retry_at = None;
            }
            match self.queue.pop_front() {
                Some(write) => self.in_flight = Some(self.start(write)),
                None => return std::future::pending().await,
            }
        }
        if let Some(write) = self.in_flight.as_mut() {
            let result = write.await;
            self.in_flight = None;
            match result {
                Ok(()) => self.pause = None,
                Err(again) => {
                    let pause = next_pause(self.pause);
                    self.pause = Some(pause);
                    self.retry_at = Some(Instant::now() + pause);
                    self.queue.push_front(again);
                    metrics::counter!("vca_call_writes_retried_total").increment(1);
                }
            }
        }
    }

    /// Writes everything queued, for at most `limit`.
    pub(crate) async fn flush(&mut self, limit: Duration) {
        let all = async {
            while !self.is_idle() {
                self.next().await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            let left = self.queue.len() + usize::from(self.in_flight.is_some());
            metrics::counter!("vca_call_writes_dropped_total").increment(left as u64);
            tracing::warn!(left, "call writes did not finish in time; dropped");
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
                let result = store.insert_turn(&turn).await;
                settle(result, "transcript turn", || Write::Turn(t))
            }),
            Write::Usage(delta) => Box::pin(async move {
                let result = store.add_call_usage(call_id, tenant_id, &delta).await;
                settle(result, "call usage", || Write::Usage(delta))
            }),
            Write::State(state) => {
                let states = self.states.clone();
                Box::pin(async move {
                    states.save(call_id, &*state).await;
                    Ok(())
                })
            }
            Write::TransferTarget(name) => Box::pin(async move {
                let result = store
                    .set_call_transfer_target(call_id, tenant_id, &name)
                    .await;
                settle(result, "transfer target", || Write::TransferTarget(name))
            }),
            Write::Event { kind, details } => Box::pin(async move {
                let result = store
                    .add_call_event(call_id, Some(tenant_id), kind, details.clone())
                    .await;
                settle(result, kind, || Write::Event { kind, details })
            }),
        }
    }
}

/// A write's result as the queue sees it: done, or (the database being away) the write
/// handed back to be tried again; a refusal is dropped here, logged and counted.
fn settle(
    result: Result<(), StoreError>,
    what: &str,
    again: impl FnOnce() -> Write,
) -> Result<(), Write> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if is_transient(&e) => {
            tracing::debug!(what, error = %e, "call write failed; trying again");
            Err(again())
        }
        Err(e) => {
            metrics::counter!("vca_call_writes_dropped_total").increment(1);
            tracing::warn!(what, error = %e, "call write refused; dropped");
            Ok(())
        }
    }
}
