//! REST calls waiting for an outcome: a `wait_for_ack` send waiting for the receiver's
//! acknowledgement, any send waiting for its message to be durable, a ban rule waiting for
//! its write to commit. Bounded ([`super::super::AdminLimits::pending_calls`]; a call that
//! would wait beyond it is answered 503 `busy` at once), and each entry has a deadline
//! (`ServerTimer::AdminDeadline`, answered 408), so every call is answered exactly once:
//! by its outcome or by its deadline, whichever comes first takes the entry.

use std::collections::BTreeMap;

use super::AdminCallId;

/// What a waiting call waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// A peer message sent as a user under `msg_id`: its outcome (see `send.rs`).
    PeerMessage { wait_for_ack: bool, msg_id: u64 },
    /// A ban rule: its record's commit (see `bans.rs`).
    BanWrite { ban: u64 },
}

/// One waiting call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingCall {
    /// The `request_id` its answer names.
    pub request: u64,
    pub waiting: Waiting,
}

/// The waiting calls.
#[derive(Debug, Default)]
pub(crate) struct PendingCalls {
    calls: BTreeMap<AdminCallId, PendingCall>,
}

impl PendingCalls {
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn contains(&self, id: AdminCallId) -> bool {
        self.calls.contains_key(&id)
    }

    /// Whether one more call may wait, under `max`.
    pub fn has_room(&self, max: usize) -> bool {
        self.calls.len() < max
    }

    /// Makes call `id` wait (the caller checked [`PendingCalls::has_room`] and schedules
    /// the deadline).
    pub fn insert(&mut self, id: AdminCallId, call: PendingCall) {
        let was = self.calls.insert(id, call);
        debug_assert!(was.is_none(), "call {id:?} made to wait twice");
    }

    /// Takes call `id` to answer it: `None` if it was answered already.
    pub fn take(&mut self, id: AdminCallId) -> Option<PendingCall> {
        self.calls.remove(&id)
    }

    /// What call `id` waits for, if it still waits.
    pub fn get(&self, id: AdminCallId) -> Option<&PendingCall> {
        self.calls.get(&id)
    }
}
