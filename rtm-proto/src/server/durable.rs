//! The server's side of durable state (the contract is in `storage.rs`): which messages get
//! a record, the writes still waiting for their commit, and what a commit, a failure or a
//! restore does.

use std::collections::{BTreeMap, VecDeque};

use crate::ids::UserId;
use crate::time::Timestamp;
use crate::timers::TimerQueue;
use crate::wire::PeerMessageOutcome;

use super::offline::StoredMessage;
use super::resends::SendKey;
use super::storage::{
    peer_message_of, peer_message_record, Record, RecordId, RecordKind, RestoreReport,
    StorageEvent, StorageOp,
};
use super::timer::ServerTimer;
use super::{Server, ServerOutput};

/// The answer to a sender whose message could not be stored.
pub(super) const NOT_STORED: &str = "the server could not store the message for its offline \
     receiver (storage unavailable) and did not keep it; send it again later";

/// Writes issued and not yet committed, and the next record id.
#[derive(Debug)]
pub(super) struct Durable {
    next_id: u64,
    /// Each write waiting for its commit: whose message it is and which send it answers.
    pending: BTreeMap<RecordId, PendingWrite>,
}

/// What a write waiting for its commit holds.
#[derive(Debug)]
enum PendingWrite {
    /// A peer message for `to`, and the send its commit answers `cached`.
    Message { to: UserId, key: SendKey },
    /// A ban rule (`admin/bans.rs`), by the same id, not in force until the commit.
    Ban,
    /// A media record (`media/`): the media is not live, nor its upload answered, until
    /// the commit.
    Media,
}

impl Default for Durable {
    fn default() -> Self {
        Durable {
            next_id: 1,
            pending: BTreeMap::new(),
        }
    }
}

impl Durable {
    /// Writes waiting for their commit.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Makes sure `m` (a message for `to` that only the server now holds) has a durable
    /// record: issues its write if it has none. Returns its send if the record is committed
    /// already, so the caller answers `cached` now; otherwise the commit will.
    pub fn hold(
        &mut self,
        to: &UserId,
        m: &mut StoredMessage,
        deadline: Timestamp,
        out: &mut VecDeque<ServerOutput>,
        timers: &mut TimerQueue<ServerTimer>,
    ) -> Option<SendKey> {
        match m.record {
            Some(id) if self.pending.contains_key(&id) => None,
            Some(_) => Some(m.key.clone()),
            None => {
                let id = RecordId(self.next_id);
                self.next_id += 1;
                m.record = Some(id);
                out.push_back(ServerOutput::Storage(StorageOp::Write(
                    peer_message_record(id, to, m),
                )));
                self.pending.insert(
                    id,
                    PendingWrite::Message {
                        to: to.clone(),
                        key: m.key.clone(),
                    },
                );
                timers.schedule(deadline, ServerTimer::StorageDeadline(id));
                None
            }
        }
    }
}

impl Durable {
    /// A fresh record id.
    pub fn new_id(&mut self) -> RecordId {
        let id = RecordId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Issues the write of a ban rule's or a media's record (its id from
    /// [`Durable::new_id`]); the rule or the media waits for the commit.
    pub fn write_rule_or_media(
        &mut self,
        record: Record,
        deadline: Timestamp,
        out: &mut VecDeque<ServerOutput>,
        timers: &mut TimerQueue<ServerTimer>,
    ) {
        let id = record.id;
        let pending = match record.kind {
            RecordKind::Ban => PendingWrite::Ban,
            RecordKind::Media => PendingWrite::Media,
            RecordKind::PeerMessage => unreachable!("peer messages are written by `hold`"),
        };
        out.push_back(ServerOutput::Storage(StorageOp::Write(record)));
        self.pending.insert(id, pending);
        timers.schedule(deadline, ServerTimer::StorageDeadline(id));
    }
}

impl Server {
    /// Fills the server with the records a driver kept, before any input. Expired records
    /// and those the per-receiver bounds evict are deleted (as outputs); records this version
    /// cannot read are left alone and counted.
    ///
    /// Messages come back in the order the server received them (`server_ts`, then id), not
    /// by id alone: a message whose write failed is written again later under a newer id
    /// than messages that came after it. Within one run `server_ts` follows the monotonic
    /// clock, so the order is exact.
    pub fn restore(&mut self, records: impl IntoIterator<Item = Record>) -> RestoreReport {
        let mut report = RestoreReport::default();
        let now_ms = self.unix_ms();
        let mut messages = Vec::new();
        for record in records {
            self.durable.next_id = self.durable.next_id.max(record.id.0.saturating_add(1));
            match record.kind {
                RecordKind::PeerMessage => match peer_message_of(&record) {
                    Some(message) => messages.push(message),
                    None => report.unreadable += 1,
                },
                RecordKind::Ban => match super::admin::bans::ban_of(&record) {
                    Some(rule) => {
                        if self.restore_ban(rule) {
                            report.bans += 1;
                        } else {
                            report.dropped += 1;
                        }
                    }
                    None => report.unreadable += 1,
                },
                RecordKind::Media => match super::media::media_of(&record) {
                    Some((media_id, media)) => {
                        if self.restore_media(media_id, media) {
                            report.media += 1;
                        } else {
                            report.dropped += 1;
                        }
                    }
                    None => report.unreadable += 1,
                },
            }
        }
        messages.sort_by_key(|(_, m)| (m.server_ts, m.record));
        for (to, m) in messages {
            if self.offline.expired(m.server_ts, now_ms) {
                report.dropped += 1;
                self.delete_record(m.record);
                continue;
            }
            // A resend of a message the last run stored (its `cached` answer may have been
            // lost in the crash) is answered `cached` again, not stored twice.
            let digest = m.message.digest();
            let outcome = Some(PeerMessageOutcome::Cached);
            if self.resends.lookup(&m.key, digest) == super::resends::Lookup::New {
                self.resends
                    .insert(self.now, m.key.clone(), digest, outcome, None);
            }
            for evicted in self.offline.keep(&to, m) {
                report.dropped += 1;
                self.delete_record(evicted.record);
            }
        }
        report.messages = self.offline.len();
        report
    }

    /// A storage completion.
    pub(super) fn on_storage(&mut self, event: StorageEvent) {
        match event {
            StorageEvent::Committed(ids) => {
                for id in ids {
                    match self.durable.pending.remove(&id) {
                        Some(PendingWrite::Message { key, .. }) => {
                            self.resolve_if_pending(&key, PeerMessageOutcome::Cached)
                        }
                        Some(PendingWrite::Ban) => self.ban_committed(id.0),
                        Some(PendingWrite::Media) => self.media_committed(id),
                        None => {}
                    }
                }
            }
            StorageEvent::Failed(ids) => {
                for id in ids {
                    if let Some(w) = self.durable.pending.remove(&id) {
                        self.write_failed(id, w);
                    }
                }
            }
        }
    }

    /// A write not committed by its deadline counts as failed; its delete follows it, so
    /// a commit that comes after all does not leave a record nobody holds.
    pub(super) fn on_storage_deadline(&mut self, id: RecordId) {
        if let Some(w) = self.durable.pending.remove(&id) {
            self.delete_record(Some(id));
            self.write_failed(id, w);
        }
    }

    /// See "When a write fails" in `storage.rs`.
    fn write_failed(&mut self, id: RecordId, w: PendingWrite) {
        let (to, key) = match w {
            PendingWrite::Message { to, key } => (to, key),
            PendingWrite::Ban => return self.ban_not_stored(id.0),
            PendingWrite::Media => return self.media_not_stored(id),
        };
        let in_stream = self
            .sessions
            .get_mut(&to)
            .is_some_and(|s| s.stream.forget_record(id));
        if in_stream {
            return; // kept in memory for the session; the sender waits for `received`
        }
        // In the offline store after it was pushed (its session ended unacknowledged): the
        // receiver may be showing it, so it stays, in memory only, for the next login.
        if let Some(m) = self.offline.get_mut(&to, id).filter(|m| m.pushed) {
            m.record = None;
            return;
        }
        // Never shown: dropped from the offline store, and its sender told so.
        let dropped = self.offline.remove_record(&to, id).is_some();
        let waiters = self.resends.not_stored(&key);
        if !dropped {
            // Gone already (the store's newest evicted it, maybe after it was shown): nothing
            // to refuse. The sender is not answered `cached`; its request times out.
            return;
        }
        self.answer_waiters(&key.from, waiters, super::peers::SendAnswer::NotStored);
    }

    /// Makes sure `m`, which only the server now holds for `to`, is durable (see
    /// [`Durable::hold`]); answers its sender `cached` if it already is.
    pub(super) fn hold_durably(&mut self, to: &UserId, m: &mut StoredMessage) {
        let deadline = self.now.saturating_add(self.config.storage_write_timeout);
        if let Some(key) = self
            .durable
            .hold(to, m, deadline, &mut self.out, &mut self.timers)
        {
            self.resolve_if_pending(&key, PeerMessageOutcome::Cached);
        }
    }

    /// Deletes a message's record, if it has one (it was delivered, evicted or expired,
    /// or its write is given up).
    pub(super) fn delete_record(&mut self, record: Option<RecordId>) {
        if let Some(id) = record {
            self.out
                .push_back(ServerOutput::Storage(StorageOp::Delete(id)));
        }
    }

    /// Keeps `m` in the offline store for `to` (durably), deleting what it evicts.
    pub(super) fn keep_offline(&mut self, to: &UserId, mut m: StoredMessage) {
        m.offline = true;
        self.hold_durably(to, &mut m);
        for evicted in self.offline.keep(to, m) {
            self.delete_record(evicted.record);
        }
    }

    /// Every unacknowledged peer message of `uid`'s stream made durable: its connection is
    /// gone, so only the server holds them.
    pub(super) fn hold_stream_durably(&mut self, uid: &UserId) {
        let deadline = self.now.saturating_add(self.config.storage_write_timeout);
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        let mut cached = Vec::new();
        for m in s.stream.peer_messages_mut() {
            cached.extend(
                self.durable
                    .hold(uid, m, deadline, &mut self.out, &mut self.timers),
            );
        }
        for key in cached {
            self.resolve_if_pending(&key, PeerMessageOutcome::Cached);
        }
    }

    /// One step of the offline store's expiry sweep; true when the round is over.
    pub(super) fn sweep_offline_step(&mut self) -> bool {
        /// Receivers looked at per step, so a sweep never stalls the server.
        const RECEIVERS_PER_STEP: usize = 1024;
        let (expired, round_over) = self.offline.sweep_step(self.unix_ms(), RECEIVERS_PER_STEP);
        for m in &expired {
            self.delete_record(m.record);
        }
        round_over
    }
}
