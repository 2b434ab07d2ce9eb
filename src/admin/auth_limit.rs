//! Failed authentications counted per source address: after [`MAX_FAILURES`] wrong or
//! missing credentials (operator token or tenant key; `VCA_ADMIN_AUTH_MAX_FAILURES`) from
//! one address within [`WINDOW`], that address gets 429 with
//! `Retry-After` until the window ends, whatever it presents — so a token cannot be
//! guessed at network speed. A success does not reset the count (an attacker holding one
//! good token gains nothing). The table is bounded: expired entries go when it is full.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed from one address per window unless `VCA_ADMIN_AUTH_MAX_FAILURES` says otherwise.
pub const MAX_FAILURES: u32 = 10;
/// How long failures count.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at most; past this, expired ones are dropped, then the oldest.
const MAX_TRACKED: usize = 10_000;

/// Failures per source address.
#[derive(Debug)]
pub struct AuthFailures {
    by_source: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// Failures in a window that lock an address out.
    max_failures: u32,
}

impl Default for AuthFailures {
    fn default() -> Self {
        Self::new(MAX_FAILURES)
    }
}

impl AuthFailures {
    /// A table that locks an address out after `max_failures` in a window (at least 1).
    pub fn new(max_failures: u32) -> Self {
        Self {
            by_source: Mutex::default(),
            max_failures: max_failures.max(1),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (Instant, u32)>> {
        self.by_source.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(wait)` while `source` is locked out at `now`.
    pub fn locked_out(&self, source: IpAddr, now: Instant) -> Option<Duration> {
        let table = self.table();
        let (since, count) = table.get(&source)?;
        let ends = *since + WINDOW;
        (*count >= self.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts one failure from `source` at `now`; returns the failures in its window.
    pub fn record(&self, source: IpAddr, now: Instant) -> u32 {
        let mut table = self.table();
        if table.len() >= MAX_TRACKED && !table.contains_key(&source) {
            table.retain(|_, (since, _)| now.saturating_duration_since(*since) < WINDOW);
            if table.len() >= MAX_TRACKED
                && let Some(oldest) = table.iter().min_by_key(|(_, (s, _))| *s).map(|(k, _)| *k)
            {
                table.remove(&oldest);
            }
        }
        let entry = table.entry(source).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_out_after_its_failures_until_the_window_ends() {
        let f = AuthFailures::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 1..MAX_FAILURES {
            assert_eq!(f.record(a, t0), i);
            assert_eq!(f.locked_out(a, t0), None);
        }
        f.record(a, t0);
        assert_eq!(
            f.locked_out(a, t0 + Duration::from_secs(20)),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            f.locked_out(b, t0),
            None,
            "other addresses are not affected"
        );
        assert_eq!(f.locked_out(a, t0 + WINDOW), None);
        assert_eq!(f.record(a, t0 + WINDOW), 1, "a new window starts afresh");
    }

    #[test]
    fn the_limit_can_be_raised() {
        let f = AuthFailures::new(MAX_FAILURES * 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 1..MAX_FAILURES * 3 {
            f.record(a, t0);
        }
        assert_eq!(f.locked_out(a, t0), None);
        f.record(a, t0);
        assert!(f.locked_out(a, t0).is_some());
    }

    #[test]
    fn the_table_stays_bounded() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 50) {
            f.record(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(f.table().len() <= MAX_TRACKED);
    }
}
