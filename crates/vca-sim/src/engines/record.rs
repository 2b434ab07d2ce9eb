//! What a fake saw: one entry per request or connection, in arrival order, updatable while
//! a connection runs; and the bounded wait tests use to see it happen.

use std::sync::Mutex;
use std::time::Duration;

use super::lock;

/// How long [`wait_until`] waits.
const WAIT_LIMIT: Duration = Duration::from_secs(5);
/// How often [`wait_until`] looks.
const WAIT_STEP: Duration = Duration::from_millis(10);

/// Entries in arrival order.
#[derive(Debug)]
pub(crate) struct Log<T> {
    entries: Mutex<Vec<T>>,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log {
            entries: Mutex::new(Vec::new()),
        }
    }
}

impl<T: Clone> Log<T> {
    /// Appends `entry` and returns its index.
    pub(crate) fn push(&self, entry: T) -> usize {
        let mut entries = lock(&self.entries);
        entries.push(entry);
        entries.len() - 1
    }

    /// Changes the entry at `index` (nothing if there is none).
    pub(crate) fn update(&self, index: usize, f: impl FnOnce(&mut T)) {
        if let Some(entry) = lock(&self.entries).get_mut(index) {
            f(entry);
        }
    }

    /// A copy of every entry.
    pub(crate) fn snapshot(&self) -> Vec<T> {
        lock(&self.entries).clone()
    }

    /// Whether the newest entry satisfies `f`.
    pub(crate) fn last_is(&self, f: impl Fn(&T) -> bool) -> bool {
        lock(&self.entries).last().is_some_and(f)
    }
}

/// Waits (up to 5 s, looking every 10 ms) until `done` holds; whether it did.
pub(crate) async fn wait_until(done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_index_and_take_updates() {
        let log = Log::default();
        assert_eq!(log.push(1), 0);
        assert_eq!(log.push(2), 1);
        log.update(0, |e| *e += 10);
        log.update(7, |e| *e += 10);
        assert_eq!(log.snapshot(), vec![11, 2]);
        assert!(log.last_is(|e| *e == 2));
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_gives_up_after_five_seconds() {
        let started = tokio::time::Instant::now();
        assert!(!wait_until(|| false).await);
        assert!(started.elapsed() >= WAIT_LIMIT);
        assert!(wait_until(|| true).await);
    }
}
