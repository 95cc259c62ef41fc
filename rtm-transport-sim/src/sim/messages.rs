//! Peer messages the workload sends: registered with the model before they go out.

// One `impl Sim` split by concern: the parent module's types and imports are shared.
use super::*;

impl Sim {
    /// Registers a message about to be sent; returns its index and body.
    pub(crate) fn new_message(
        &mut self,
        node: usize,
        to: usize,
        offline: bool,
        probe: bool,
    ) -> Option<(usize, Message)> {
        if self.msgs.len() >= MAX_MESSAGES {
            return None;
        }
        let idx = self.msgs.len();
        let raw = self.work.chance(0.3);
        let large = self.work.chance(self.cfg.knobs.large_p);
        let pad = if large {
            self.work.range(100, 8_192) as usize
        } else {
            self.work.below(24) as usize
        };
        let mut message = make_body(idx, raw, pad);
        if large && !self.cfg.relax.no_escape_heavy_messages && self.work.chance(0.1) {
            // Valid by `Message::is_valid` (32 KB of text), but every \u{1} is six bytes
            // of JSON.
            let mut text = format!("m{idx};");
            let n = rtm_proto::message::MAX_MESSAGE_BYTES - text.len();
            text.push_str(&"\u{1}".repeat(n));
            message = Message::text(text);
        }
        let (raw, len) = body_shape(&message);
        let from_user = self.clients[node].user;
        let pair = self.pair_next.entry((node, to)).or_insert(0);
        let pair_index = *pair;
        *pair += 1;
        let overflow_mark = self.users[to].overflow_epoch;
        self.msgs.push(MsgRec {
            from_user,
            from_node: node,
            to,
            offline,
            raw,
            len,
            sent_at: self.now,
            sent_crash: self.crashes,
            pair_index,
            outcome: Outcome::Pending,
            outcome_at: 0,
            outcome_crash: self.crashes,
            overflow_mark,
            deliveries: Vec::new(),
            probe,
            in_backlog: false,
            committed: false,
            store_dropped: false,
            not_stored_at: None,
            not_stored_crash: 0,
            not_stored_seq: 0,
            pushed_seq: 0,
            resent_after_not_stored: false,
            late_commit_restored: false,
        });
        Some((idx, message))
    }

    /// The send was accepted locally: count it against the receiver's backlog.
    pub(crate) fn message_accepted(&mut self, idx: usize) {
        self.stats.messages += 1;
        self.msgs[idx].in_backlog = true;
        let to = self.msgs[idx].to;
        let cap = self.server_cfg.offline_per_user;
        let u = &mut self.users[to];
        u.backlog += 1;
        if u.backlog > cap {
            u.overflow_epoch += 1;
        }
    }

    /// The send was refused locally: forget it (the index stays, unused).
    pub(crate) fn message_refused(&mut self, idx: usize) {
        let m = &mut self.msgs[idx];
        m.outcome = Outcome::Failed(0);
        let key = (m.from_node, m.to);
        // Keep pair indices dense so order checks stay meaningful.
        if let Some(p) = self.pair_next.get_mut(&key) {
            *p -= 1;
        }
        m.pair_index = u64::MAX;
    }
}
