//! A channel's recent messages: what a rejoin replays (§2.6: the last 30 s, at most 32) and
//! what a member whose stream was full is caught up from.
//!
//! Bounded three ways: by count and age per channel, and in bytes over all channels
//! (`ServerConfig::channel_history_total`; the server keeps the sum). Without the last one a
//! channel that went quiet kept up to 1 MiB (32 messages of 32 KB) for as long as it had
//! members, and 100 000 such channels would hold 100 GB. Expired entries are dropped when the
//! channel gets its next message and by a sweep every [`SWEEP_EVERY`].

use core::time::Duration;
use std::collections::VecDeque;

use bytes::Bytes;

use crate::ids::UserId;
use crate::time::Timestamp;

use crate::limits::{REPLAY_MAX, REPLAY_WINDOW};

/// How often every channel's history is swept of expired entries.
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Entry {
    cseq: u64,
    at: Timestamp,
    /// The sender, who is never sent its own message (§4.8), in a replay neither.
    from: UserId,
    frame: Bytes,
    /// A FILE or IMAGE message: not replayed to a client that cannot decode it.
    media: bool,
}

/// One channel's recent messages, oldest first.
#[derive(Debug, Default)]
pub(super) struct History {
    entries: VecDeque<Entry>,
    /// Encoded bytes of `entries`.
    bytes: usize,
}

impl History {
    /// Keeps the message `cseq` of `from`, encoded as `frame`, at `now`, dropping the oldest
    /// beyond [`REPLAY_MAX`]; returns the bytes dropped. The caller expired the history first
    /// ([`History::expire`]) and checked the server-wide budget for `frame.len()` more.
    pub fn keep(
        &mut self,
        now: Timestamp,
        cseq: u64,
        from: &UserId,
        frame: &Bytes,
        media: bool,
    ) -> usize {
        self.bytes += frame.len();
        self.entries.push_back(Entry {
            cseq,
            at: now,
            from: from.clone(),
            frame: frame.clone(),
            media,
        });
        let mut dropped = 0;
        while self.entries.len() > REPLAY_MAX {
            dropped += self.pop();
        }
        dropped
    }

    /// Drops the entries older than the replay window; returns their bytes.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let mut dropped = 0;
        while self
            .entries
            .front()
            .is_some_and(|e| now.since(e.at) > REPLAY_WINDOW)
        {
            dropped += self.pop();
        }
        dropped
    }

    fn pop(&mut self) -> usize {
        let len = self.entries.pop_front().map_or(0, |e| e.frame.len());
        self.bytes -= len;
        len
    }

    /// What the history counts against the server-wide budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The encoded messages of the replay window with `cseq > after`, oldest first, but
    /// those `to` sent itself, and FILE and IMAGE messages unless `media_ok`.
    pub fn recent_after(
        &self,
        now: Timestamp,
        after: u64,
        to: &UserId,
        media_ok: bool,
    ) -> Vec<Bytes> {
        self.window(now, after, to)
            .filter(|e| media_ok || !e.media)
            .map(|e| e.frame.clone())
            .collect()
    }

    /// The `cseq`s of what [`History::recent_after`] returns, for observers
    /// ([`super::Observer::replay_after`]).
    pub fn recent_cseqs_after(&self, now: Timestamp, after: u64, to: &UserId) -> Vec<u64> {
        self.window(now, after, to).map(|e| e.cseq).collect()
    }

    /// The one rule for both: in the window, newer than `after`, not `to`'s own.
    fn window<'a>(
        &'a self,
        now: Timestamp,
        after: u64,
        to: &'a UserId,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.cseq > after && now.since(e.at) <= REPLAY_WINDOW && &e.from != to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn the_window_holds_32_messages_of_the_last_30_s_and_counts_their_bytes() {
        let alice = UserId::new("alice").unwrap();
        let bob = UserId::new("bob").unwrap();
        let mut h = History::default();
        let frame = Bytes::from_static(b"0123456789");
        let mut dropped = 0;
        for cseq in 1..=40 {
            dropped += h.keep(at(cseq * 100), cseq, &alice, &frame, false);
        }
        assert_eq!(dropped, 80, "the 8 oldest fell out by count");
        assert_eq!(h.bytes(), 320);
        assert_eq!(h.recent_after(at(4_000), 38, &bob, true).len(), 2);
        assert_eq!(h.recent_cseqs_after(at(4_000), 38, &bob), [39, 40]);
        assert!(
            h.recent_after(at(4_000), 0, &alice, true).is_empty(),
            "never one's own"
        );
        // 30 s after the newest, everything has expired.
        assert_eq!(h.expire(at(34_001)), 320);
        assert_eq!(h.bytes(), 0);
    }
}
