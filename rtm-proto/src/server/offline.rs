//! The offline message store (§4.3.4): per receiver at most 200 messages and
//! [`super::ServerConfig::offline_user_bytes`], kept 7 days, the newest evicting the oldest;
//! delivered once at the receiver's next login. In all at most
//! [`super::ServerConfig::offline_total`] messages and
//! [`super::ServerConfig::offline_total_bytes`]: past either, new offline sends are refused
//! (`unreachable`), while messages already promised (from an ended session) are still kept
//! under the per-receiver rule.
//!
//! In memory for now; durability (the store surviving a restart) comes with the storage work.

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use crate::ids::UserId;
use crate::message::Message;

use super::resends::SendKey;

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
        }
    }

    /// Bytes held, as counted against the byte bounds.
    pub fn bytes(&self) -> usize {
        self.total_bytes
    }

    pub fn len(&self) -> usize {
        self.total
    }

    /// Stores a new offline message; false when the store as a whole is full.
    pub fn store(&mut self, to: &UserId, m: StoredMessage, now_ms: u64) -> bool {
        if self.total >= self.limits.total
            || self.total_bytes + m.weight() > self.limits.total_bytes
        {
            return false;
        }
        self.keep(to, m, now_ms);
        true
    }

    /// Stores a message the server already promised to keep (from an ended session): only
    /// the per-user rule applies.
    pub fn keep(&mut self, to: &UserId, mut m: StoredMessage, _now_ms: u64) {
        m.offline = true;
        let q = self.by_user.entry(to.clone()).or_default();
        let weight = m.weight();
        q.messages.push_back(m);
        q.bytes += weight;
        self.total += 1;
        self.total_bytes += weight;
        // The newest evicts the oldest; the newest itself always stays.
        while q.messages.len() > self.limits.per_user
            || (q.bytes > self.limits.user_bytes && q.messages.len() > 1)
        {
            let Some(old) = q.messages.pop_front() else {
                break;
            };
            q.bytes -= old.weight();
            self.total -= 1;
            self.total_bytes -= old.weight();
        }
    }

    /// Takes `to`'s unexpired messages, oldest first.
    pub fn take(&mut self, to: &UserId, now_ms: u64) -> Vec<StoredMessage> {
        let Some(q) = self.by_user.remove(to) else {
            return Vec::new();
        };
        self.total -= q.messages.len();
        self.total_bytes -= q.bytes;
        let retention = self.retention_ms;
        q.messages
            .into_iter()
            .filter(|m| now_ms.saturating_sub(m.server_ts) < retention)
            .collect()
    }

    /// Drops expired messages everywhere.
    pub fn sweep(&mut self, now_ms: u64) {
        let retention = self.retention_ms;
        let (mut total, mut total_bytes) = (0, 0);
        self.by_user.retain(|_, q| {
            q.messages
                .retain(|m| now_ms.saturating_sub(m.server_ts) < retention);
            q.bytes = q.messages.iter().map(StoredMessage::weight).sum();
            total += q.messages.len();
            total_bytes += q.bytes;
            !q.messages.is_empty()
        });
        self.total = total;
        self.total_bytes = total_bytes;
    }
}
