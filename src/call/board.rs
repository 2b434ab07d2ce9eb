//! This daemon's side of the live-calls board ([`crate::store::live_board`]): each session
//! keeps a [`LiveCell`] current (state and turns, a lock taken a few times a second at
//! most, never per frame), the controller publishes every cell together, and
//! [`take_requests`] hands the requests other daemons (or our own admin API) sent this
//! daemon to the controller.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::store::live_board::{CallRequest, LiveBoard, LiveEntry, LiveState};

/// One call's entry on the board, shared by its session (which writes) and the controller
/// (which publishes). Empty until the call is answered.
#[derive(Debug, Clone, Default)]
pub struct LiveCell(Arc<Mutex<Option<LiveEntry>>>);

impl LiveCell {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<LiveEntry>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the call on the board.
    pub fn set(&self, entry: LiveEntry) {
        *self.lock() = Some(entry);
    }

    /// The call's state and turns now.
    pub fn update(&self, state: LiveState, turns: Option<u32>) {
        if let Some(e) = self.lock().as_mut() {
            e.state = state;
            if let Some(t) = turns {
                e.turns = t;
            }
        }
    }

    /// What to publish, if the call is on the board.
    pub fn snapshot(&self) -> Option<LiveEntry> {
        self.lock().clone()
    }
}

/// How often the list of requests is looked at when it was empty.
const REQUEST_POLL: Duration = Duration::from_millis(250);

/// Takes the requests sent to `node` off the board and gives them to `to` until `stop`.
/// Redis away: waits and tries again, saying so once per outage.
pub async fn take_requests(
    board: LiveBoard,
    node: String,
    to: mpsc::Sender<CallRequest>,
    stop: CancellationToken,
) {
    let mut degraded = false;
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => return,
            next = board.next_request(&node) => next,
        };
        match next {
            Ok(Some(request)) => {
                degraded = false;
                if to.send(request).await.is_err() {
                    return;
                }
            }
            Ok(None) => {
                degraded = false;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(REQUEST_POLL) => {}
                }
            }
            Err(e) => {
                if !degraded {
                    tracing::warn!(error = %e, "redis unavailable: call requests from the admin API wait");
                    degraded = true;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(REQUEST_POLL * 4) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_cell_is_empty_until_set_and_then_follows_the_call() {
        let cell = LiveCell::default();
        cell.update(LiveState::Talking, Some(3));
        assert!(cell.snapshot().is_none());
        cell.set(LiveEntry {
            call_id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            did: "+918012345678".into(),
            caller: "+9198****3210".into(),
            state: LiveState::Connecting,
            started_at: chrono::Utc::now(),
            turns: 0,
            node: "a".into(),
        });
        cell.update(LiveState::Talking, Some(2));
        cell.update(LiveState::Transferring, None);
        let e = cell.clone().snapshot().unwrap();
        assert_eq!((e.state, e.turns), (LiveState::Transferring, 2));
    }
}
