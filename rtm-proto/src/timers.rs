//! An ordered timer queue, for timers without a fixed number (one per session, one per request).
//!
//! Timers are `(deadline, insertion number) → key` in a `BTreeMap`, so the next deadline is
//! the first entry and an idle poll never scans every session. Cancellation is lazy: owners
//! stamp keys with a generation and ignore stale ones when they fire, which keeps the hot
//! path (a frame arriving) free of timer bookkeeping.

use std::collections::BTreeMap;

use crate::time::Timestamp;

/// Timers keyed by `K`, fired earliest first.
#[derive(Debug, Clone)]
pub struct TimerQueue<K> {
    entries: BTreeMap<(Timestamp, u64), K>,
    next_seq: u64,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            entries: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<K> TimerQueue<K> {
    /// Schedules `key` to fire at `at`.
    pub fn schedule(&mut self, at: Timestamp, key: K) {
        self.entries.insert((at, self.next_seq), key);
        self.next_seq += 1;
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.entries.keys().next().map(|&(t, _)| t)
    }

    /// Removes and returns one timer due at `now`, earliest first.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<K> {
        let (&(at, _), _) = self.entries.iter().next()?;
        if at > now {
            return None;
        }
        self.entries.pop_first().map(|(_, k)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_deadline_then_insertion_order() {
        let mut t = TimerQueue::default();
        t.schedule(Timestamp::from_millis(20), "b");
        t.schedule(Timestamp::from_millis(10), "a");
        t.schedule(Timestamp::from_millis(20), "c");
        assert_eq!(t.next_deadline(), Some(Timestamp::from_millis(10)));
        assert_eq!(t.pop_due(Timestamp::from_millis(9)), None);
        let now = Timestamp::from_millis(20);
        assert_eq!(t.pop_due(now), Some("a"));
        assert_eq!(t.pop_due(now), Some("b"));
        assert_eq!(t.pop_due(now), Some("c"));
        assert_eq!(t.pop_due(now), None);
    }
}
