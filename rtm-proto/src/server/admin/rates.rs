//! The REST API's rates: a token bucket per admin key and kind of call (§13: 500 peer
//! messages, 1 000 channel messages, 10 event pulls per second; reads and writes 100 per
//! second each), whose burst is one second's worth. A call over its rate is answered 429
//! with the seconds until a token is back.

use core::time::Duration;

use crate::ratelimit::{Rate, TokenBucket};
use crate::time::Timestamp;

use super::super::AdminLimits;

/// A kind of call with a rate of its own.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum RateKind {
    PeerMessages,
    ChannelMessages,
    EventPulls,
    Reads,
    Writes,
}

impl RateKind {
    const ALL: [RateKind; 5] = [
        RateKind::PeerMessages,
        RateKind::ChannelMessages,
        RateKind::EventPulls,
        RateKind::Reads,
        RateKind::Writes,
    ];

    /// The kind's name in metrics (`"rest_peer_messages"`).
    pub fn label(self) -> &'static str {
        match self {
            RateKind::PeerMessages => "rest_peer_messages",
            RateKind::ChannelMessages => "rest_channel_messages",
            RateKind::EventPulls => "rest_event_pulls",
            RateKind::Reads => "rest_reads",
            RateKind::Writes => "rest_writes",
        }
    }

    fn rate(self, limits: &AdminLimits) -> Rate {
        let per_sec = match self {
            RateKind::PeerMessages => limits.peer_messages_per_sec,
            RateKind::ChannelMessages => limits.channel_messages_per_sec,
            RateKind::EventPulls => limits.event_pulls_per_sec,
            RateKind::Reads => limits.reads_per_sec,
            RateKind::Writes => limits.writes_per_sec,
        };
        Rate::new(per_sec, Duration::from_secs(1))
    }
}

/// Every key's buckets, by the key's index in the configuration (the keys are fixed for a
/// server's life, so the table is too: five buckets per key).
#[derive(Debug, Default)]
pub(crate) struct KeyRates {
    buckets: Vec<[TokenBucket; RateKind::ALL.len()]>,
}

impl KeyRates {
    /// Takes a token of `kind` for key `key` at `now`; `Err(seconds until one is back)`
    /// (at least 1) when there is none.
    pub fn take(
        &mut self,
        key: usize,
        kind: RateKind,
        limits: &AdminLimits,
        now: Timestamp,
    ) -> Result<(), u32> {
        while self.buckets.len() <= key {
            self.buckets
                .push(RateKind::ALL.map(|k| TokenBucket::new(k.rate(limits), now)));
        }
        let rate = kind.rate(limits);
        let bucket = &mut self.buckets[key][kind as usize];
        if bucket.try_acquire(rate, now) {
            return Ok(());
        }
        let wait = bucket.wait(rate, now);
        let secs = wait.as_millis().div_ceil(1000).max(1);
        Err(u32::try_from(secs).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_a_seconds_burst_then_waits() {
        let limits = AdminLimits {
            event_pulls_per_sec: 10,
            ..AdminLimits::default()
        };
        let mut r = KeyRates::default();
        let t0 = Timestamp::ZERO;
        for _ in 0..10 {
            assert_eq!(r.take(0, RateKind::EventPulls, &limits, t0), Ok(()));
        }
        assert_eq!(r.take(0, RateKind::EventPulls, &limits, t0), Err(1));
        // Other kinds and other keys have their own buckets.
        assert_eq!(r.take(0, RateKind::Reads, &limits, t0), Ok(()));
        assert_eq!(r.take(1, RateKind::EventPulls, &limits, t0), Ok(()));
        assert_eq!(
            r.take(
                0,
                RateKind::EventPulls,
                &limits,
                Timestamp::from_millis(100)
            ),
            Ok(())
        );
    }

    #[test]
    fn a_zero_rate_refuses_without_dividing_by_zero() {
        let limits = AdminLimits {
            writes_per_sec: 0,
            ..AdminLimits::default()
        };
        let mut r = KeyRates::default();
        assert!(r
            .take(0, RateKind::Writes, &limits, Timestamp::ZERO)
            .is_err());
    }
}
