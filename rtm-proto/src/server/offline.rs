//! The offline message store (§4.3.4): per receiver at most 200, kept 7 days, the newest
//! evicting the oldest; delivered once at the receiver's next login.
//!
//! In memory for now; durability (the store surviving a restart) comes with the storage work.

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use crate::ids::UserId;

use super::peers::StoredMessage;

#[derive(Debug)]
pub(super) struct OfflineStore {
    per_user: usize,
    total_cap: usize,
    retention_ms: u64,
    by_user: BTreeMap<UserId, VecDeque<StoredMessage>>,
    total: usize,
}

impl OfflineStore {
    pub fn new(per_user: usize, total_cap: usize, retention: Duration) -> Self {
        OfflineStore {
            per_user: per_user.max(1),
            total_cap,
            retention_ms: retention.as_millis() as u64,
            by_user: BTreeMap::new(),
            total: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.total
    }

    /// Stores a new offline message; false when the store as a whole is full.
    pub fn store(&mut self, to: &UserId, m: StoredMessage, now_ms: u64) -> bool {
        if self.total >= self.total_cap {
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
        q.push_back(m);
        self.total += 1;
        while q.len() > self.per_user {
            q.pop_front();
            self.total -= 1;
        }
    }

    /// Takes `to`'s unexpired messages, oldest first.
    pub fn take(&mut self, to: &UserId, now_ms: u64) -> Vec<StoredMessage> {
        let Some(q) = self.by_user.remove(to) else {
            return Vec::new();
        };
        self.total -= q.len();
        let retention = self.retention_ms;
        q.into_iter()
            .filter(|m| now_ms.saturating_sub(m.server_ts) < retention)
            .collect()
    }

    /// Drops expired messages everywhere.
    pub fn sweep(&mut self, now_ms: u64) {
        let retention = self.retention_ms;
        let mut total = 0;
        self.by_user.retain(|_, q| {
            q.retain(|m| now_ms.saturating_sub(m.server_ts) < retention);
            total += q.len();
            !q.is_empty()
        });
        self.total = total;
    }
}
