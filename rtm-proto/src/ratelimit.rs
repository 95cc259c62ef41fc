//! Call-rate limits (§9.2) as exact sliding windows.
//!
//! A limiter admits at most `max` calls in any window of `window`; it remembers the times of
//! the last `max` admitted calls, so its memory is bounded by `max`. Refused calls are not
//! counted (an application retrying in a loop does not extend its own penalty).

use core::time::Duration;
use std::collections::VecDeque;

use crate::time::Timestamp;

/// `max` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub max: u32,
    pub window: Duration,
}

impl Rate {
    /// `max` calls per `window`.
    pub const fn new(max: u32, window: Duration) -> Self {
        Rate { max, window }
    }

    /// §9.2 `login`: 2 per second.
    pub const LOGIN: Rate = Rate::new(2, Duration::from_secs(1));
    /// §9.2 `renewToken`: 2 per second.
    pub const RENEW_TOKEN: Rate = Rate::new(2, Duration::from_secs(1));
    /// §9.2 peer and channel messages, shared: 180 per 3 s.
    pub const MESSAGES: Rate = Rate::new(180, Duration::from_secs(3));
    /// §9.2 `queryPeersOnlineStatus`: 10 per 5 s.
    pub const QUERY_ONLINE: Rate = Rate::new(10, Duration::from_secs(5));
    /// §9.2 `subscribe`/`unsubscribePeersOnlineStatus`: 10 per 5 s each.
    pub const SUBSCRIBE: Rate = Rate::new(10, Duration::from_secs(5));
    /// §9.2 `join`, any channels: 50 per 3 s.
    pub const JOIN: Rate = Rate::new(50, Duration::from_secs(3));
    /// §9.2 `join`, the same channel: 2 per 5 s.
    pub const JOIN_SAME: Rate = Rate::new(2, Duration::from_secs(5));
    /// §9.2 `getMembers`: 5 per 2 s.
    pub const GET_MEMBERS: Rate = Rate::new(5, Duration::from_secs(2));
    /// §9.2 `getChannelMemberCount`: 1 per second.
    pub const MEMBER_COUNT: Rate = Rate::new(1, Duration::from_secs(1));
    /// §9.2 user-attribute writes: 10 per 5 s.
    pub const USER_ATTR_WRITE: Rate = Rate::new(10, Duration::from_secs(5));
    /// §9.2 user-attribute reads: 40 per 5 s.
    pub const USER_ATTR_READ: Rate = Rate::new(40, Duration::from_secs(5));
    /// §9.2 channel-attribute writes: 10 per 5 s.
    pub const CHANNEL_ATTR_WRITE: Rate = Rate::new(10, Duration::from_secs(5));
    /// §9.2 channel-attribute reads: 10 per 5 s.
    pub const CHANNEL_ATTR_READ: Rate = Rate::new(10, Duration::from_secs(5));
    /// §9.2 `queryPeersBySubscriptionOption`: 10 per 5 s.
    pub const QUERY_SUBSCRIBED: Rate = Rate::new(10, Duration::from_secs(5));
}

/// A sliding-window limiter.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    rate: Rate,
    admitted: VecDeque<Timestamp>,
}

impl RateLimiter {
    /// A limiter for `rate`.
    pub fn new(rate: Rate) -> Self {
        // Grows with use: most limiters of most sessions never hold more than a few entries.
        RateLimiter {
            rate,
            admitted: VecDeque::new(),
        }
    }

    /// Admits a call at `now` if the window has room, and counts it.
    pub fn try_acquire(&mut self, now: Timestamp) -> bool {
        while let Some(&oldest) = self.admitted.front() {
            if now.since(oldest) >= self.rate.window {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
        if self.admitted.len() >= self.rate.max as usize {
            return false;
        }
        self.admitted.push_back(now);
        debug_assert!(self.admitted.len() <= self.rate.max as usize);
        true
    }
}

/// A token bucket: up to `rate.max` calls at once, refilled at `rate.max` per `rate.window`.
///
/// Sixteen bytes whatever the rate, for tables with an entry per peer, where a
/// [`RateLimiter`] would keep up to `max` timestamps each. Less exact: it admits a full
/// bucket's burst after an idle window, then the refill rate.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    /// Tokens, in units of 1/`window_ms` of a call: a millisecond refills `max` units and a
    /// call costs `window_ms` units, so everything stays an integer.
    level: u64,
    last: Timestamp,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: Rate, now: Timestamp) -> Self {
        TokenBucket {
            level: Self::capacity(rate),
            last: now,
        }
    }

    fn window_ms(rate: Rate) -> u64 {
        (rate.window.as_millis() as u64).max(1)
    }

    fn capacity(rate: Rate) -> u64 {
        u64::from(rate.max).saturating_mul(Self::window_ms(rate))
    }

    fn refill(&mut self, rate: Rate, now: Timestamp) {
        let ms = now.since(self.last).as_millis() as u64;
        self.level = self
            .level
            .saturating_add(ms.saturating_mul(u64::from(rate.max)))
            .min(Self::capacity(rate));
        self.last = self.last.max(now);
    }

    /// Admits a call of `rate` at `now` if a whole token is left, and takes it.
    pub fn try_acquire(&mut self, rate: Rate, now: Timestamp) -> bool {
        self.refill(rate, now);
        let cost = Self::window_ms(rate);
        if self.level < cost {
            return false;
        }
        self.level -= cost;
        true
    }

    /// How long from `now` until a whole token is left (zero if one is now).
    pub fn wait(&self, rate: Rate, now: Timestamp) -> Duration {
        let mut b = *self;
        b.refill(rate, now);
        let missing = Self::window_ms(rate).saturating_sub(b.level);
        let per_ms = u64::from(rate.max).max(1);
        Duration::from_millis(missing.div_ceil(per_ms))
    }

    /// Whether the bucket is full again at `now`: it then remembers nothing a new bucket
    /// would not, and may be forgotten.
    pub fn is_full(&self, rate: Rate, now: Timestamp) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.level == Self::capacity(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_bucket_admits_its_burst_then_its_refill_rate() {
        let rate = Rate::new(4, Duration::from_secs(2));
        let t = |ms| Timestamp::from_millis(ms);
        let mut b = TokenBucket::new(rate, t(0));
        assert!((0..4).all(|_| b.try_acquire(rate, t(0))));
        assert!(!b.try_acquire(rate, t(0)));
        assert!(!b.try_acquire(rate, t(499)), "one token per 500 ms");
        assert_eq!(b.wait(rate, t(499)), Duration::from_millis(1));
        assert!(b.try_acquire(rate, t(500)));
        assert_eq!(b.wait(rate, t(500)), Duration::from_millis(500));
        assert!(!b.is_full(rate, t(1999)));
        assert!(b.is_full(rate, t(2500)));
    }

    #[test]
    fn admits_max_per_window() {
        let mut l = RateLimiter::new(Rate::LOGIN);
        let t = Timestamp::from_millis(1000);
        assert!(l.try_acquire(t));
        assert!(l.try_acquire(t));
        assert!(!l.try_acquire(t));
        assert!(!l.try_acquire(Timestamp::from_millis(1999)));
        assert!(l.try_acquire(Timestamp::from_millis(2000)));
    }

    proptest! {
        /// In any window no more than `max` calls are admitted, and a call is refused only
        /// when the window is full.
        #[test]
        fn never_more_than_max_in_any_window(
            max in 1u32..8, window_ms in 1u64..2000, gaps in prop::collection::vec(0u64..700, 1..200)
        ) {
            let rate = Rate::new(max, Duration::from_millis(window_ms));
            let mut l = RateLimiter::new(rate);
            let mut now = 0u64;
            let mut admitted: Vec<u64> = Vec::new();
            for g in gaps {
                now += g;
                let in_window = admitted.iter().filter(|&&t| now - t < window_ms).count();
                let ok = l.try_acquire(Timestamp::from_millis(now));
                prop_assert_eq!(ok, in_window < max as usize);
                if ok { admitted.push(now); }
            }
        }
    }
}
