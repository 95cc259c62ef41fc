//! The channel events at the clients: messages, member events, counts and attribute
//! updates, checked against the model.

use std::collections::BTreeMap;

use rtm_proto::attributes::ChannelAttribute;
use rtm_proto::{ChannelId, ConnectionState as State, Message, UserId};

use crate::model::{attrs_hash, CDelivery};
use crate::sim::{body_shape, parse_body, Sim, UNIX_ORIGIN_MS};

impl Sim {
    pub(super) fn user_of(&mut self, node: usize, id: &UserId) -> Option<usize> {
        let u = self.user_index.get(id).copied();
        if u.is_none() {
            let n = self.node_name(node);
            self.violation(format!("{n} heard of unknown user {id}"));
        }
        u
    }

    pub(crate) fn on_channel_message(
        &mut self,
        node: usize,
        channel: ChannelId,
        member: UserId,
        message: Message,
        server_ts: u64,
    ) {
        self.stats.channel_deliveries += 1;
        let Some(c) = self.chan_of(&channel) else {
            return;
        };
        if self.clients[node].state != State::Connected {
            self.violation(format!(
                "{nm} delivered a channel message while {:?}",
                self.clients[node].state,
                nm = self.node_name(node)
            ));
        }
        let Some(m) = parse_body(&message).filter(|&m| m < self.cmsgs.len()) else {
            self.violation(format!(
                "{nm} delivered a channel message the workload never sent: {message:?}",
                nm = self.node_name(node)
            ));
            return;
        };
        let rec = &self.cmsgs[m];
        let me = self.clients[node].user;
        if rec.chan != c || self.users[rec.from_user].id != member {
            self.violation(format!(
                "{nm} delivered channel message #{m} in {channel} from {member}; it was sent in {} by {}",
                self.chans[rec.chan].id, self.users[rec.from_user].id, nm = self.node_name(node)
            ));
            return;
        }
        if rec.from_user == me {
            self.violation(format!(
                "{nm} received its own channel message #{m} in {channel} (the sender never receives its own message, §4.8)", nm = self.node_name(node)
            ));
            return;
        }
        if body_shape(&message) != (rec.raw, rec.len) {
            self.violation(format!(
                "{nm} delivered channel message #{m} with a corrupted body",
                nm = self.node_name(node)
            ));
            return;
        }
        if server_ts < UNIX_ORIGIN_MS + rec.sent_at || server_ts > UNIX_ORIGIN_MS + self.now {
            self.violation(format!(
                "{nm}: channel message #{m} has serverReceivedTs {server_ts} outside [send, now]",
                nm = self.node_name(node)
            ));
            return;
        }
        let crash = self.clients[node].rx_crash;
        let Some(a) = rec.accepts.iter().find(|a| a.crash == crash) else {
            self.violation(format!(
                "{nm} delivered channel message #{m}, which that server never accepted",
                nm = self.node_name(node)
            ));
            return;
        };
        if !a.recipients.iter().any(|r| r.node == node) {
            self.violation(format!(
                "{nm} delivered channel message #{m} in {channel}, but was not a member when it was accepted at {} ms and was not owed it by a replay",
                a.at, nm = self.node_name(node)
            ));
            return;
        }
        if a.recipients.iter().all(|r| r.node != node || r.excused) {
            self.violation(format!(
                "{nm} delivered channel message #{m} in {channel}, which the server held back from it (full stream) and which was outside the catch-up window",
                nm = self.node_name(node)
            ));
            return;
        }
        let (instance, cseq) = (a.instance, a.cseq);
        for d in &rec.deliveries {
            if d.node != node {
                continue;
            }
            if d.crash == crash {
                self.violation(format!(
                    "{nm} delivered channel message #{m} in {channel} twice (first at {} ms)",
                    d.at,
                    nm = self.node_name(node)
                ));
                return;
            }
            self.stats.channel_dup_after_crash += 1;
        }
        if let Some(&(lc, li, ls)) = self.clients[node].ext.last_cseq.get(&c) {
            if lc == crash && li == instance && ls >= cseq {
                self.violation(format!(
                    "{nm} delivered channel message #{m} (cseq {cseq}) of {channel} after cseq {ls}: out of order", nm = self.node_name(node)
                ));
                return;
            }
        }
        self.clients[node]
            .ext
            .last_cseq
            .insert(c, (crash, instance, cseq));
        self.cmsgs[m].deliveries.push(CDelivery {
            node,
            at: self.now,
            crash,
        });
    }

    pub(crate) fn on_member_event(
        &mut self,
        node: usize,
        channel: ChannelId,
        member: UserId,
        joined: bool,
    ) {
        let Some(c) = self.chan_of(&channel) else {
            return;
        };
        let Some(m) = self.user_of(node, &member) else {
            return;
        };
        if m == self.clients[node].user {
            self.violation(format!(
                "{nm} was told that it {} {channel} itself",
                if joined { "joined" } else { "left" },
                nm = self.node_name(node)
            ));
            return;
        }
        let cursor = self.clients[node]
            .ext
            .member_cursor
            .get(&(c, m))
            .copied()
            .unwrap_or(0);
        match self.chans[c].match_member(cursor, m, joined) {
            Some(seq) => {
                self.clients[node].ext.member_cursor.insert((c, m), seq);
            }
            None => {
                let hist: Vec<String> = self.chans[c]
                    .history
                    .iter()
                    .rev()
                    .filter(|e| e.user == m)
                    .take(6)
                    .map(|e| {
                        format!(
                            "#{}@{}:{}",
                            e.seq,
                            e.at,
                            if e.joined { "joined" } else { "left" }
                        )
                    })
                    .collect();
                self.violation(format!(
                    "{nm} was told {member} {} {channel}, which it did not do since the last report (cursor #{cursor}; recent, newest first: {})",
                    if joined { "joined" } else { "left" },
                    hist.join(" "), nm = self.node_name(node)
                ));
            }
        }
    }

    pub(crate) fn on_member_count(&mut self, node: usize, channel: ChannelId, count: u32) {
        let Some(c) = self.chan_of(&channel) else {
            return;
        };
        let cursor = self.clients[node]
            .ext
            .count_cursor
            .get(&c)
            .copied()
            .unwrap_or(0);
        match self.chans[c].match_count(cursor, count) {
            Some(seq) => {
                self.clients[node].ext.count_cursor.insert(c, seq);
                self.clients[node].ext.last_count.insert(c, count);
            }
            None => {
                let hist = crate::model::newest_first(&self.chans[c].history, 8, |e| {
                    format!("#{}@{}:{}", e.seq, e.at, e.count)
                });
                self.violation(format!(
                    "{nm} was told {channel} has {count} members, which it did not have since the last report (cursor #{cursor}; recent counts, newest first: {})",
                    hist, nm = self.node_name(node)
                ));
            }
        }
    }

    pub(crate) fn on_attributes_updated(
        &mut self,
        node: usize,
        channel: ChannelId,
        attributes: BTreeMap<String, ChannelAttribute>,
    ) {
        self.stats.attr_updates += 1;
        let Some(c) = self.chan_of(&channel) else {
            return;
        };
        let cursor = self.clients[node]
            .ext
            .attr_cursor
            .get(&c)
            .copied()
            .unwrap_or(0);
        match self.chans[c].match_update(cursor, attrs_hash(&attributes)) {
            Some(seq) => {
                self.clients[node].ext.attr_cursor.insert(c, seq);
            }
            None => self.violation(format!(
                "{nm}: AttributesUpdated for {channel} carries {attributes:?}, which is not the complete set after any later notifying write (cursor #{cursor}; latest {:?})",
                self.chans[c].attrs, nm = self.node_name(node)
            )),
        }
    }
}
