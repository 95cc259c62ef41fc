//! The server's storage work carried out by the simulated store ([`crate::store`]): ops
//! queued as the server emits them, batches at scheduled events, their outcomes fed back to
//! the server, the store-failure fault, and what a crash and a restart do to the records.

// One `impl Sim` split by concern: the parent module's types and imports are shared.
use super::*;

/// Answer text of a sender whose message the server could not store (`durable.rs`,
/// `NOT_STORED`), recognized by its start.
pub(crate) const NOT_STORED_PREFIX: &str = "the server could not store the message";

impl Sim {
    /// A `ServerOutput::Storage` op: queued for the next batch.
    pub(super) fn store_op(&mut self, op: StorageOp) {
        if let StorageOp::Delete(id) = &op {
            // A delete of a write not yet committed: the write timed out (the message is
            // dropped like a failed one) or its message was acknowledged meanwhile.
            if self.store.is_uncommitted(*id) {
                if let Some(&idx) = self.store.msg_of.get(id) {
                    self.msgs[idx].store_dropped = true;
                }
            }
        }
        if self.store.push(op) {
            let d = self.store.latency();
            self.schedule_batch(self.now + d);
        }
    }

    fn schedule_batch(&mut self, at: u64) {
        self.store.scheduled = true;
        let gen = self.store.gen;
        self.schedule(at, Ev::StoreBatch { gen });
    }

    /// A batch is due.
    pub(super) fn store_batch(&mut self, gen: u64) {
        if gen != self.store.gen {
            return;
        }
        self.store.scheduled = false;
        let b = self.store.batch(self.now);
        if let Some(until) = b.stalled_until {
            self.schedule_batch(until);
            return;
        }
        self.stats.store_batches += 1;
        for id in &b.committed {
            if let Some(&idx) = self.store.msg_of.get(id) {
                self.msgs[idx].committed = true;
            }
        }
        if !b.committed.is_empty() {
            let rec = ServerInRec::Committed(b.committed.iter().map(|id| id.0).collect());
            self.server_input(
                ServerInput::Storage(StorageEvent::Committed(b.committed)),
                rec,
            );
        }
        if !b.failed.is_empty() {
            self.stats.store_failed_writes += b.failed.len() as u64;
            for id in &b.failed {
                if let Some(&idx) = self.store.msg_of.get(id) {
                    self.msgs[idx].store_dropped = true;
                }
            }
            let rec = ServerInRec::Failed(b.failed.iter().map(|id| id.0).collect());
            self.server_input(ServerInput::Storage(StorageEvent::Failed(b.failed)), rec);
        }
        if self.store.busy() {
            let d = if self.now < self.store.fail_until {
                self.store.retry_delay()
            } else {
                self.store.latency()
            };
            self.schedule_batch(self.now + d);
        }
    }

    /// Fault: the store fails every batch, or stalls the batch under way, for a while.
    pub(crate) fn store_fault(&mut self) {
        let d = self.faults.range(1_000, 15_000);
        let until = self.now + d;
        if self.faults.chance(0.5) {
            self.stats.store_failures += 1;
            self.note(format!("FAULT store fails every batch for {d} ms"));
            self.store.fail_until = self.store.fail_until.max(until);
        } else {
            self.stats.store_stalls += 1;
            self.note(format!(
                "FAULT store stalls for {d} ms (the batch under way completes then)"
            ));
            self.store.stall_until = self.store.stall_until.max(until);
        }
    }

    /// Healing: the store works again.
    pub(crate) fn store_heal(&mut self) {
        self.store.fail_until = 0;
        self.store.stall_until = 0;
    }

    /// The server crashed: the store loses what it had not committed.
    pub(crate) fn store_crash(&mut self) {
        let lost = self.store.crash();
        self.stats.store_ops_lost += lost as u64;
        let outstanding = self
            .msgs
            .iter()
            .filter(|m| m.outcome == Outcome::Cached && m.deliveries.is_empty())
            .count() as u64;
        if outstanding > 0 {
            self.stats.crashes_with_cached_outstanding += 1;
            self.stats.cached_outstanding_at_crash += outstanding;
        }
        self.note(format!(
            "store: crash lost {lost} uncommitted ops; {} records kept; {outstanding} cached messages undelivered",
            self.store.committed.len()
        ));
    }

    /// The new server gets the committed records, ascending id, before any other input.
    pub(crate) fn store_restore(&mut self) {
        let records: Vec<_> = self.store.committed.values().cloned().collect();
        let ids: Vec<u64> = records.iter().map(|r| r.id.0).collect();
        for r in &records {
            if !self.store.undone.contains(&r.id) {
                continue;
            }
            // A write the core undid (its delete was emitted before it committed) that
            // committed late, whose delete the crash lost: it comes back.
            if let Some(&idx) = self.store.msg_of.get(&r.id) {
                self.msgs[idx].late_commit_restored = true;
                self.stats.late_commits_restored += 1;
                self.note(format!(
                    "store: record {} (message #{idx}) was undone by the core after a late or racing commit, and the crash lost its delete: restored",
                    r.id.0
                ));
            }
        }
        self.stats.restored_records += records.len() as u64;
        self.trace.push(
            self.now,
            Rec::ServerIn {
                what: ServerInRec::Restore(ids),
            },
        );
        let report = self.server.restore(records);
        if report.unreadable > 0 {
            self.violation(format!(
                "restore found {} unreadable records (the server wrote them itself)",
                report.unreadable
            ));
        }
    }

    /// The server sends a peer-message push (`push`) or an error answer on `conn`: which
    /// message it is about, in order.
    pub(super) fn note_message_frame(&mut self, conn: u64, push: bool, frame: &[u8]) {
        let seq = self.server_out_seq;
        match ServerFrame::decode(frame) {
            Ok(ServerFrame::Push(rtm_proto::wire::Push::Message { message, .. })) if push => {
                if let Some(m) = parse_body(&message).and_then(|i| self.msgs.get_mut(i)) {
                    m.pushed_seq = seq;
                }
            }
            Ok(ServerFrame::Reply(Reply::Error { id, message, .. }))
                if !push && message.starts_with(NOT_STORED_PREFIX) =>
            {
                let Some(node) = self.conns.get(&conn).map(|c| c.node) else {
                    return;
                };
                if let Some(Pend::Send { msg }) = self.clients[node].outstanding.get(&id) {
                    let msg = *msg;
                    self.msgs[msg].not_stored_seq = seq;
                }
            }
            _ => {}
        }
    }

    /// The server handles a `peer_message` frame: a send of a message it already answered
    /// not stored (the client's resend that crossed the answer) is noted.
    pub(super) fn note_send_handled(&mut self, frame: &[u8]) {
        if let Ok(ClientFrame::PeerMessage { message, .. }) = ClientFrame::decode(frame) {
            if let Some(m) = parse_body(&message).and_then(|i| self.msgs.get_mut(i)) {
                if m.not_stored_seq > 0 {
                    m.resent_after_not_stored = true;
                }
            }
        }
    }

    /// A frame reaches client `node`: an error answer telling a sender its message was not
    /// stored is noted on the message (checked once the client answers the request).
    pub(super) fn peek_not_stored(&mut self, node: usize, frame: &[u8]) {
        if frame_type(frame) != b"error" {
            return;
        }
        let Ok(ServerFrame::Reply(Reply::Error { id, code, message })) = ServerFrame::decode(frame)
        else {
            return;
        };
        if !message.starts_with(NOT_STORED_PREFIX) {
            return;
        }
        let name = self.node_name(node);
        match self.clients[node].outstanding.get(&id) {
            Some(Pend::Send { msg }) => {
                let msg = *msg;
                if code != 1 {
                    self.violation(format!(
                        "{name}: not-stored answer for message #{msg} with code {code}, not FAILURE (1)"
                    ));
                }
                self.step_not_stored = Some((node, id, msg));
            }
            Some(p) => {
                let p = p.clone();
                self.violation(format!(
                    "{name}: a not-stored answer to request {id}, which is {p:?}"
                ));
            }
            None => {}
        }
    }
}
