//! The simulated record store: the driver's half of the core's durable-state contract
//! (`rtm_proto::server::storage`), with latency, group commit, crashes and faults.
//!
//! * Ops ([`StorageOp`]) are queued in emission order. A batch (group commit) takes
//!   everything queued and commits it together at a scheduled event 1–20 ms later (latency
//!   drawn from the seed's own stream); what the server emits meanwhile queues behind it
//!   for the next batch. Writes and deletes are applied in order (a delete following its
//!   write in one batch wins), and the batch's writes are reported `Committed(ids)` — a
//!   traced server input.
//! * **Failing** store (fault `StoreFailure`, 1–15 s): every batch fails. Its writes are
//!   reported `Failed(ids)`; its deletes go back to the front of the queue and are retried
//!   with the next batch (a delete is never reported and must eventually happen).
//! * **Stalled** store (the same fault's other variant): the batch under way does not
//!   complete until the stall ends (an fsync that hangs), possibly past the core's 5 s write
//!   timeout; ops emitted meanwhile, such as the `Delete` that undoes a timed-out write,
//!   queue behind it and commit in the next batch.
//! * **Crash**: the batch under way and the queue are lost; committed records stay and
//!   are handed to the new server's `restore` (ascending id) before any other input.
//!
//! Beside the records, the store remembers for the checkers which message each record holds
//! (parsed from its body) and which writes were undone by a delete emitted before they had
//! committed (a late commit that a crash may leave behind).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rtm_proto::server::{Record, RecordId, StorageOp};
use rtm_proto::Message;

use crate::entropy::Source;

/// The simulated store.
#[derive(Debug)]
pub(crate) struct Store {
    /// Durable records.
    pub committed: BTreeMap<RecordId, Record>,
    /// Ops emitted and not yet taken by a batch, in emission order.
    queue: VecDeque<StorageOp>,
    /// The batch under way (taken from the queue; non-empty only while stalled).
    inflight: Vec<StorageOp>,
    /// A batch event is scheduled.
    pub scheduled: bool,
    /// Bumped by a crash: batch events of a dead store are stale.
    pub gen: u64,
    /// Every batch fails until then (sim ms).
    pub fail_until: u64,
    /// The batch under way completes no earlier than then (sim ms).
    pub stall_until: u64,
    /// Writes not yet committed (for "undone" below).
    uncommitted: BTreeSet<RecordId>,
    /// Writes whose delete was emitted before they committed (a write timeout, or the
    /// message acknowledged meanwhile): if they commit late and a crash loses the delete,
    /// they come back at restore.
    pub undone: BTreeSet<RecordId>,
    /// Record → the model's message index it holds.
    pub msg_of: BTreeMap<RecordId, usize>,
    src: Source,
}

/// What a batch did.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Writes to report committed.
    pub committed: Vec<RecordId>,
    /// Writes to report failed.
    pub failed: Vec<RecordId>,
    /// Deletes applied.
    pub deleted: usize,
    /// The batch could not complete (stalled): call again at this time.
    pub stalled_until: Option<u64>,
}

impl Store {
    pub fn new(src: Source) -> Store {
        Store {
            committed: BTreeMap::new(),
            queue: VecDeque::new(),
            inflight: Vec::new(),
            scheduled: false,
            gen: 0,
            fail_until: 0,
            stall_until: 0,
            uncommitted: BTreeSet::new(),
            undone: BTreeSet::new(),
            msg_of: BTreeMap::new(),
            src,
        }
    }

    /// Commit latency of one batch (ms).
    pub fn latency(&mut self) -> u64 {
        self.src.range(1, 20)
    }

    /// Delay before a failing store retries (ms).
    pub fn retry_delay(&mut self) -> u64 {
        self.src.range(50, 200)
    }

    /// Queues an op; returns true if a batch must be scheduled.
    pub fn push(&mut self, op: StorageOp) -> bool {
        match &op {
            StorageOp::Write(r) => {
                self.uncommitted.insert(r.id);
                if let Some(idx) = message_index(r) {
                    self.msg_of.insert(r.id, idx);
                }
            }
            StorageOp::Delete(id) => {
                if self.uncommitted.contains(id) {
                    self.undone.insert(*id);
                }
            }
        }
        self.queue.push_back(op);
        !self.scheduled
    }

    /// The write of `id` was emitted and has not committed or failed yet.
    pub fn is_uncommitted(&self, id: RecordId) -> bool {
        self.uncommitted.contains(&id)
    }

    /// Anything waiting for a batch.
    pub fn busy(&self) -> bool {
        !self.queue.is_empty() || !self.inflight.is_empty()
    }

    /// Runs the batch due at `now`.
    pub fn batch(&mut self, now: u64) -> Batch {
        let mut out = Batch::default();
        if self.inflight.is_empty() {
            self.inflight = self.queue.drain(..).collect();
        }
        if self.inflight.is_empty() {
            return out;
        }
        if now < self.stall_until {
            out.stalled_until = Some(self.stall_until);
            return out;
        }
        let ops = std::mem::take(&mut self.inflight);
        if now < self.fail_until {
            let mut kept = Vec::new();
            for op in ops {
                match op {
                    StorageOp::Write(r) => {
                        self.uncommitted.remove(&r.id);
                        out.failed.push(r.id);
                    }
                    d @ StorageOp::Delete(_) => kept.push(d),
                }
            }
            for d in kept.into_iter().rev() {
                self.queue.push_front(d);
            }
            return out;
        }
        for op in ops {
            match op {
                StorageOp::Write(r) => {
                    self.uncommitted.remove(&r.id);
                    out.committed.push(r.id);
                    self.committed.insert(r.id, r);
                }
                StorageOp::Delete(id) => {
                    out.deleted += 1;
                    self.committed.remove(&id);
                }
            }
        }
        out
    }

    /// The server crashed: the batch under way and the queue are lost. Returns the number
    /// of ops lost.
    pub fn crash(&mut self) -> usize {
        let lost = self.queue.len() + self.inflight.len();
        self.queue.clear();
        self.inflight.clear();
        self.uncommitted.clear();
        self.scheduled = false;
        self.gen += 1;
        lost
    }
}

/// The model's index of the message a peer-message record holds (its body carries it).
fn message_index(r: &Record) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    let m: Message = serde_json::from_value(v.get("message")?.clone()).ok()?;
    crate::sim::parse_body(&m)
}
