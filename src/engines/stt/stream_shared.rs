//! What a streaming recogniser's session, socket writer and socket reader share (Deepgram,
//! Sarvam): the state the reader keeps, behind a lock taken once per server message (never
//! per frame), a notification when it changes, and a token the writer watches to close the
//! socket once the connection failed; and what the session queues for the writer.

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::engines::error::EngineError;

/// A reader's state that can record why the connection became unusable.
pub(super) trait Failable {
    /// Where the first failure is kept.
    fn failure(&mut self) -> &mut Option<EngineError>;
}

/// Shared by a session and its socket tasks.
#[derive(Debug)]
pub(super) struct Shared<H> {
    pub(super) heard: Mutex<H>,
    pub(super) changed: Notify,
    /// Cancelled when the connection fails: the writer closes the socket.
    pub(super) broken: CancellationToken,
}

impl<H: Failable> Shared<H> {
    /// State shared from `heard` on.
    pub(super) fn new(heard: H) -> Self {
        Shared {
            heard: Mutex::new(heard),
            changed: Notify::new(),
            broken: CancellationToken::new(),
        }
    }

    /// The state, locked (a poisoned lock still holds usable state).
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, H> {
        self.heard.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state and wakes whoever waits on it.
    pub(super) fn update(&self, f: impl FnOnce(&mut H)) {
        f(&mut self.lock());
        self.changed.notify_waiters();
    }

    /// Records the first failure and tells the writer to close the socket.
    pub(super) fn fail(&self, err: EngineError) {
        self.update(|h| {
            let slot = h.failure();
            if slot.is_none() {
                *slot = Some(err);
            }
        });
        self.broken.cancel();
    }
}

/// What the session queues for the writer.
pub(super) enum Outgoing {
    /// The call's G.711 bytes (sent as they are, or converted by the provider's writer).
    Audio(Bytes),
    /// A control message, sent as text.
    Control(&'static str),
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outgoing::Audio(b) => write!(f, "Audio({} bytes)", b.len()),
            Outgoing::Control(c) => write!(f, "Control({c})"),
        }
    }
}
