//! The offline message store (§4.3.4): per receiver at most 200 messages and
//! [`super::ServerConfig::offline_user_bytes`], kept 7 days, the newest evicting the oldest;
//! delivered once at the receiver's next login. In all at most
//! [`super::ServerConfig::offline_total`] messages and
//! [`super::ServerConfig::offline_total_bytes`]: past either, new offline sends are refused
//! (`unreachable`), while messages already promised (from an ended session) are still kept
//! under the per-receiver rule.
//!
//! Every message here has a durable record (see `storage.rs`): whatever this store drops
//! (evicted, expired) comes back to the caller, which deletes the record.

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use crate::ids::UserId;
use crate::message::Message;

use super::resends::SendKey;
use super::storage::RecordId;

/// A message as the server keeps it until the receiver acknowledges it.
#[derive(Debug, Clone)]
pub(super) struct StoredMessage {
    /// The send it came from; its receiver is `Target::Peer`.
    pub key: SendKey,
    pub message: Message,
    /// Unix ms at which the server received it.
    pub server_ts: u64,
    /// Whether it went through the offline store (`isOfflineMessage`).
    pub offline: bool,
    /// Its durable record, once a write was issued (`storage.rs`); `None` while only memory
    /// holds it.
    pub record: Option<RecordId>,
    /// Whether it was ever sent on a receiver's connection: the receiver may be showing it,
    /// so it is never dropped for want of storage.
    pub pushed: bool,
}

impl StoredMessage {
    /// What it counts against the offline store's byte bounds: the body, the ids and a
    /// fixed overhead for the record and its queue slot.
    pub fn weight(&self) -> usize {
        self.message.counted_len() + self.key.from.as_str().len() + self.key.to.id_len() + 128
    }
}

#[derive(Debug)]
pub(super) struct OfflineStore {
    limits: OfflineLimits,
    retention_ms: u64,
    by_user: BTreeMap<UserId, Queue>,
    total: usize,
    total_bytes: usize,
    /// Where the incremental expiry sweep goes on (the last receiver it looked at).
    sweep_cursor: Option<UserId>,
}

/// The store's bounds (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(super) struct OfflineLimits {
    pub per_user: usize,
    pub user_bytes: usize,
    pub total: usize,
    pub total_bytes: usize,
}

/// One receiver's messages, oldest first, and what they weigh.
#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<StoredMessage>,
    bytes: usize,
}

impl OfflineStore {
    pub fn new(limits: OfflineLimits, retention: Duration) -> Self {
        OfflineStore {
            limits: OfflineLimits {
                per_user: limits.per_user.max(1),
                ..limits
            },
            retention_ms: retention.as_millis() as u64,
            by_user: BTreeMap::new(),
            total: 0,
            total_bytes: 0,
            sweep_cursor: None,
        }
    }

    /// Bytes held, as counted against the byte bounds.
    pub fn bytes(&self) -> usize {
        self.total_bytes
    }

    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether a new offline message fits the store as a whole (else it is refused).
    pub fn admits(&self, m: &StoredMessage) -> bool {
        self.total < self.limits.total && self.total_bytes + m.weight() <= self.limits.total_bytes
    }

    /// Keeps `m` for `to` under the per-receiver rule (the store's totals are checked by
    /// [`OfflineStore::admits`] for new sends only: messages already promised are kept).
    /// Returns what the newest evicted.
    pub fn keep(&mut self, to: &UserId, mut m: StoredMessage) -> Vec<StoredMessage> {
        m.offline = true;
        let q = self.by_user.entry(to.clone()).or_default();
        let weight = m.weight();
        q.messages.push_back(m);
        q.bytes += weight;
        self.total += 1;
        self.total_bytes += weight;
        // The newest evicts the oldest; the newest itself always stays.
        let mut evicted = Vec::new();
        while q.messages.len() > self.limits.per_user
            || (q.bytes > self.limits.user_bytes && q.messages.len() > 1)
        {
            let Some(old) = q.messages.pop_front() else {
                break;
            };
            q.bytes -= old.weight();
            self.total -= 1;
            self.total_bytes -= old.weight();
            evicted.push(old);
        }
        evicted
    }

    /// Takes all of `to`'s messages: the unexpired ones oldest first, and the expired ones.
    pub fn take(&mut self, to: &UserId, now_ms: u64) -> (Vec<StoredMessage>, Vec<StoredMessage>) {
        let Some(q) = self.by_user.remove(to) else {
            return Default::default();
        };
        self.total -= q.messages.len();
        self.total_bytes -= q.bytes;
        q.messages
            .into_iter()
            .partition(|m| !self.expired(m.server_ts, now_ms))
    }

    /// The message of `to` whose record is `id`, if the store holds it.
    pub fn get_mut(&mut self, to: &UserId, id: RecordId) -> Option<&mut StoredMessage> {
        let q = self.by_user.get_mut(to)?;
        q.messages.iter_mut().find(|m| m.record == Some(id))
    }

    /// Removes the message of `to` whose record is `id`, if the store still holds it.
    pub fn remove_record(&mut self, to: &UserId, id: RecordId) -> Option<StoredMessage> {
        let q = self.by_user.get_mut(to)?;
        let at = q.messages.iter().position(|m| m.record == Some(id))?;
        let m = q.messages.remove(at)?;
        q.bytes -= m.weight();
        self.total -= 1;
        self.total_bytes -= m.weight();
        if q.messages.is_empty() {
            self.by_user.remove(to);
        }
        Some(m)
    }

    /// Whether a message sent at `server_ts` is past the retention at `now_ms`.
    pub fn expired(&self, server_ts: u64, now_ms: u64) -> bool {
        past_retention(self.retention_ms, server_ts, now_ms)
    }

    /// One step of the expiry sweep: looks at up to `receivers` receivers after the last
    /// one the previous step saw, and takes their expired messages (a receiver's messages
    /// are in arrival order, so the expired ones are at the front). Returns them, and
    /// whether this step reached the last receiver (a round is over).
    pub fn sweep_step(&mut self, now_ms: u64, receivers: usize) -> (Vec<StoredMessage>, bool) {
        use core::ops::Bound::{Excluded, Unbounded};
        let from = match self.sweep_cursor.take() {
            Some(uid) => Excluded(uid),
            None => Unbounded,
        };
        let retention = self.retention_ms;
        let mut expired = Vec::new();
        let mut emptied = Vec::new();
        let mut seen = 0;
        let mut last = None;
        for (uid, q) in self.by_user.range_mut((from, Unbounded)) {
            if seen == receivers {
                break;
            }
            seen += 1;
            while q
                .messages
                .front()
                .is_some_and(|m| past_retention(retention, m.server_ts, now_ms))
            {
                let Some(m) = q.messages.pop_front() else {
                    break;
                };
                q.bytes -= m.weight();
                self.total -= 1;
                self.total_bytes -= m.weight();
                expired.push(m);
            }
            if q.messages.is_empty() {
                emptied.push(uid.clone());
            }
            last = Some(uid.clone());
        }
        for uid in emptied {
            self.by_user.remove(&uid);
        }
        let round_over = match &last {
            Some(uid) if seen == receivers => self
                .by_user
                .range((Excluded(uid.clone()), Unbounded))
                .next()
                .is_none(),
            _ => true,
        };
        if !round_over {
            self.sweep_cursor = last;
        }
        (expired, round_over)
    }
}

/// Whether a message the server received at `server_ts` is `retention_ms` old or more at
/// `now_ms` (a free function: the sweep holds the store's map mutably while it asks).
fn past_retention(retention_ms: u64, server_ts: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(server_ts) >= retention_ms
}
