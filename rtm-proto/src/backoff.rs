//! Jittered exponential backoff for automatic reconnection (§2.3: retry forever).
//!
//! Attempt `n` (from 0) waits a uniformly random time in `[d/2, d]` where
//! `d = min(initial * 2^n, max)` — "equal jitter": never a thundering herd of clients
//! reconnecting in lockstep after a server restart, never a wait longer than `max`.

use core::time::Duration;

use crate::rng::Rng;

/// Backoff policy and attempt counter.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A policy starting at `initial` and capped at `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        debug_assert!(initial <= max && !initial.is_zero());
        Backoff {
            initial,
            max,
            attempt: 0,
        }
    }

    /// Forgets past failures (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The delay before the next attempt; counts the attempt.
    pub fn next_delay(&mut self, rng: &mut Rng) -> Duration {
        let shift = self.attempt.min(20);
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self
            .initial
            .saturating_mul(1u32 << shift)
            .min(self.max)
            .as_millis() as u64;
        Duration::from_millis(rng.range_inclusive(ceiling / 2, ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, proptest};

    proptest! {
        #[test]
        fn delays_stay_within_bounds(seed: u64, initial_ms in 1u64..5_000, extra in 0u64..60_000, n in 1usize..64) {
            let initial = Duration::from_millis(initial_ms);
            let max = Duration::from_millis(initial_ms + extra);
            let mut b = Backoff::new(initial, max);
            let mut rng = Rng::new(seed);
            for i in 0..n {
                let d = b.next_delay(&mut rng);
                let ceiling = initial.saturating_mul(1 << i.min(20)).min(max);
                prop_assert!(d <= ceiling);
                prop_assert!(d.as_millis() as u64 >= ceiling.as_millis() as u64 / 2);
            }
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut rng = Rng::new(1);
        for _ in 0..10 {
            b.next_delay(&mut rng);
        }
        b.reset();
        assert!(b.next_delay(&mut rng) <= Duration::from_millis(100));
    }
}
