//! The retry schedule of a webhook delivery: exponential from a base delay, doubled per
//! failed attempt up to a cap, with "equal jitter" (half the delay fixed, the other half
//! random) so receivers coming back are not hit by every daemon at once. Attempts go on
//! while the next one would start within the retry window (24 hours by default) of the
//! event; then the delivery is marked failed (the store decides that on its own clock).
//!
//! Pure: the random part is passed in, so the schedule is tested without waiting.

use std::time::Duration;

/// The retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failed attempt (before jitter).
    pub base: Duration,
    /// The longest wait between two attempts (before jitter).
    pub max: Duration,
    /// How long after the event attempts may still start.
    pub window: Duration,
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1 for the first), with `unit` in
    /// `[0, 1)` choosing where in the jittered half it falls.
    #[must_use]
    pub fn delay(&self, attempt: i32, unit: f64) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let full = self
            .base
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(Duration::from_millis(1));
        let half = full / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// [`Backoff::delay`] with a random jitter.
    #[must_use]
    pub fn jittered(&self, attempt: i32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: Backoff = Backoff {
        base: Duration::from_secs(30),
        max: Duration::from_secs(3600),
        window: Duration::from_secs(86_400),
    };

    #[test]
    fn doubles_up_to_the_cap_with_half_of_it_jittered() {
        assert_eq!(SCHEDULE.delay(1, 0.0), Duration::from_secs(15));
        assert_eq!(SCHEDULE.delay(1, 1.0), Duration::from_secs(30));
        assert_eq!(SCHEDULE.delay(2, 1.0), Duration::from_secs(60));
        assert_eq!(SCHEDULE.delay(3, 0.5), Duration::from_secs(90));
        assert_eq!(SCHEDULE.delay(8, 1.0), Duration::from_secs(3600));
        assert_eq!(SCHEDULE.delay(200, 0.0), Duration::from_secs(1800));
        assert_eq!(SCHEDULE.delay(0, 1.0), Duration::from_secs(30));
        for attempt in 1..40 {
            let d = SCHEDULE.jittered(attempt);
            assert!(d >= SCHEDULE.delay(attempt, 0.0) && d <= SCHEDULE.delay(attempt, 1.0));
        }
    }

    #[test]
    fn a_day_of_retries_is_about_thirty_attempts() {
        let mut at = Duration::ZERO;
        let mut attempts = 1;
        while at + SCHEDULE.delay(attempts, 1.0) <= SCHEDULE.window {
            at += SCHEDULE.delay(attempts, 1.0);
            attempts += 1;
        }
        assert!((25..=35).contains(&attempts), "{attempts}");
    }
}
