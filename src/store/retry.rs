//! Retrying a write while the database is away: a transient failure
//! ([`StoreError::Database`]: refused connection, pool timeout, a restarting server) is
//! tried again with growing pauses until a time limit; any other error is final at once.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::StoreError;

/// The first pause after a transient failure.
pub const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between tries.
pub const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Whether `e` may go away by itself (the database is unreachable or restarting), as
/// opposed to a refusal of this write (a rule, a missing row).
pub fn is_transient(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(_))
}

/// The pause after `previous` (doubling from [`FIRST_PAUSE`] up to [`MAX_PAUSE`]).
pub fn next_pause(previous: Option<Duration>) -> Duration {
    previous.map_or(FIRST_PAUSE, |p| (p * 2).min(MAX_PAUSE))
}

/// Runs `op` until it succeeds, fails for good, or `limit` has passed since the first
/// try; returns the last result. Each retry is counted as `vca_store_retries_total{what}`.
pub async fn retry_transient<T, F, Fut>(
    what: &'static str,
    limit: Duration,
    mut op: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let give_up = Instant::now() + limit;
    let mut pause = None;
    loop {
        match op().await {
            Err(e) if is_transient(&e) && Instant::now() < give_up => {
                let p = next_pause(pause);
                pause = Some(p);
                metrics::counter!("vca_store_retries_total", "what" => what).increment(1);
                tokio::time::sleep_until((Instant::now() + p).min(give_up)).await;
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn down() -> StoreError {
        StoreError::Database(sqlx::Error::PoolTimedOut)
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_failure_is_retried_until_the_database_is_back() {
        let tries = AtomicU32::new(0);
        let started = Instant::now();
        let got = retry_transient("test", Duration::from_secs(30), || async {
            if tries.fetch_add(1, Ordering::Relaxed) < 4 {
                Err(down())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(got.ok(), Some(7));
        assert_eq!(tries.load(Ordering::Relaxed), 5);
        // 100 + 200 + 400 + 800 ms of pauses.
        assert_eq!(started.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_final_at_once() {
        let tries = AtomicU32::new(0);
        let got: Result<(), _> = retry_transient("test", Duration::from_secs(30), || async {
            tries.fetch_add(1, Ordering::Relaxed);
            Err(StoreError::NotFound)
        })
        .await;
        assert!(matches!(got, Err(StoreError::NotFound)));
        assert_eq!(tries.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn it_gives_up_at_the_limit() {
        let started = Instant::now();
        let got: Result<(), _> =
            retry_transient("test", Duration::from_secs(5), || async { Err(down()) }).await;
        assert!(matches!(got, Err(StoreError::Database(_))));
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[test]
    fn pauses_double_up_to_the_cap() {
        assert_eq!(next_pause(None), FIRST_PAUSE);
        assert_eq!(next_pause(Some(FIRST_PAUSE)), FIRST_PAUSE * 2);
        assert_eq!(next_pause(Some(MAX_PAUSE)), MAX_PAUSE);
    }
}
