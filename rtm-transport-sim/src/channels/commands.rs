//! The workload's channel and attribute commands, and their misuse.

use std::collections::BTreeMap;

use rtm_proto::attributes::AttrOp;
use rtm_proto::client::{ChannelAttributeOptions, RequestId};
use rtm_proto::{
    AttributeOperationError, ChannelId, ChannelMessageError, ConnectionState as State,
    GetChannelMemberCountError, GetMembersError, JoinChannelError, LeaveChannelError, Message,
};

use crate::attr_writes::{write_channel_attributes, write_user_attributes};
use crate::config::Action;
use crate::model::CMsgRec;
use crate::sim::{body_shape, make_body, Pend, Sim};
use crate::workload::misuse_verdict;

use rtm_proto::attributes::MAX_VALUE_BYTES;
use rtm_proto::limits::MAX_COUNT_CHANNELS;

use super::*;

impl Sim {
    pub(super) fn logged_in_now(&self, node: usize) -> bool {
        matches!(
            self.clients[node].state,
            State::Connected | State::Reconnecting
        )
    }

    pub(super) fn random_chan(&mut self) -> usize {
        self.work.below(self.chans.len() as u64) as usize
    }

    pub(crate) fn do_join(&mut self, node: usize, c: usize) {
        let id = self.chans[c].id.clone();
        let r = self.clients[node].client.join(ts(self.now), &id);
        self.cmd(node, format!("join({id}) = {r:?}"));
        match r {
            Ok(rid) => self.track(node, rid.0, Pend::Join { chan: c }),
            Err(JoinChannelError::NotLoggedIn) if !self.logged_in_now(node) => {}
            Err(JoinChannelError::JoinSameChannelTooOften | JoinChannelError::TooOften) => {}
            Err(JoinChannelError::AlreadyJoined)
                if self.clients[node].client.joined_channels().contains(&id) => {}
            Err(e) => self.unexpected(node, "join", format!("{e:?}")),
        }
    }

    pub(crate) fn do_leave(&mut self, node: usize, c: usize) {
        let id = self.chans[c].id.clone();
        let r = self.clients[node].client.leave(ts(self.now), &id);
        self.cmd(node, format!("leave({id}) = {r:?}"));
        match r {
            Ok(rid) => {
                let e = &mut self.clients[node].ext;
                e.stints.remove(&c);
                e.joined_ok.remove(&c);
                e.rejoin_due.remove(&c);
                self.track(node, rid.0, Pend::Leave { chan: c });
            }
            Err(LeaveChannelError::NotLoggedIn) if !self.logged_in_now(node) => {}
            Err(e) => self.unexpected(node, "leave", format!("{e:?}")),
        }
    }

    pub(crate) fn do_channel_send(&mut self, node: usize, c: usize, probe: bool) {
        if self.cmsgs.len() >= MAX_CMSGS {
            return;
        }
        let m = self.cmsgs.len();
        let raw = self.work.chance(0.3);
        let pad = if self.work.chance(self.cfg.knobs.large_p) {
            self.work.range(100, 8_192) as usize
        } else {
            self.work.below(24) as usize
        };
        let message = make_body(m, raw, pad);
        let (raw, len) = body_shape(&message);
        self.cmsgs.push(CMsgRec {
            from_node: node,
            from_user: self.clients[node].user,
            chan: c,
            raw,
            len,
            sent_at: self.now,
            probe,
            accepts: Vec::new(),
            answered: None,
            deliveries: Vec::new(),
        });
        let id = self.chans[c].id.clone();
        let r = self.clients[node]
            .client
            .send_channel_message(ts(self.now), &id, message);
        self.cmd(node, format!("send_channel_message #{m} in {id} = {r:?}"));
        match r {
            Ok(rid) => {
                self.stats.channel_messages += 1;
                self.track(node, rid.0, Pend::ChannelSend { cmsg: m });
            }
            Err(e) => {
                self.cmsgs[m].answered = Some(Err(e.code()));
                let joined = self.clients[node].ext.joined_ok.contains(&c);
                let ok = match e {
                    ChannelMessageError::NotLoggedIn => !self.logged_in_now(node),
                    ChannelMessageError::NotInChannel => !joined,
                    ChannelMessageError::TooOften => !probe,
                    _ => false,
                };
                if !ok || probe {
                    self.unexpected(
                        node,
                        "sendChannelMessage",
                        format!("{e:?} (joined={joined})"),
                    );
                }
            }
        }
    }

    pub(crate) fn do_get_members(&mut self, node: usize, c: usize, probe: bool) {
        let id = self.chans[c].id.clone();
        let r = self.clients[node].client.get_members(ts(self.now), &id);
        self.cmd(node, format!("get_members({id}) = {r:?}"));
        let joined = self.clients[node].ext.joined_ok.contains(&c);
        match r {
            Ok(rid) => self.track(node, rid.0, Pend::GetMembers { chan: c, probe }),
            Err(GetMembersError::NotLoggedIn) if !self.logged_in_now(node) => {}
            Err(GetMembersError::NotInChannel) if !joined => {}
            Err(GetMembersError::TooOften) if !probe => {}
            Err(e) => self.unexpected(node, "getMembers", format!("{e:?}")),
        }
    }

    pub(crate) fn do_member_count(&mut self, node: usize, chans: Vec<usize>, probe: bool) {
        let names = self.chan_names(&chans);
        let r = self.call_with_ids(node, "get_channel_member_count", &names, |c, now, ids| {
            c.get_channel_member_count(now, ids)
        });
        match r {
            Ok(rid) => self.track(node, rid.0, Pend::MemberCount { chans, probe }),
            Err(GetChannelMemberCountError::NotLoggedIn) if !self.logged_in_now(node) => {}
            Err(GetChannelMemberCountError::TooOften) if !probe => {}
            Err(e) => self.unexpected(node, "getChannelMemberCount", format!("{e:?}")),
        }
    }

    pub(super) fn attr_key(&mut self) -> String {
        format!("k{}", self.work.below(KEYS))
    }

    pub(super) fn attr_value(&mut self, node: usize) -> String {
        let e = &mut self.clients[node].ext;
        e.writes += 1;
        let mut v = format!("n{node}.{}", e.writes);
        let pad = if self.work.chance(0.05) {
            self.work.range(500, 4_000)
        } else {
            self.work.below(16)
        };
        v.push_str(&"=".repeat(pad as usize));
        v
    }

    /// A random write: (op, attributes, keys).
    pub(super) fn attr_write(
        &mut self,
        node: usize,
    ) -> (AttrOp, BTreeMap<String, String>, Vec<String>) {
        let op = [
            AttrOp::Set,
            AttrOp::AddOrUpdate,
            AttrOp::AddOrUpdate,
            AttrOp::Delete,
            AttrOp::Clear,
        ][self.work.below(5) as usize];
        let mut attrs = BTreeMap::new();
        let mut keys = Vec::new();
        match op {
            AttrOp::Set | AttrOp::AddOrUpdate => {
                for _ in 0..self.work.range(1, 6) {
                    let k = self.attr_key();
                    let v = self.attr_value(node);
                    attrs.insert(k, v);
                }
            }
            AttrOp::Delete => {
                for _ in 0..self.work.range(1, 3) {
                    let k = self.attr_key();
                    keys.push(k);
                }
            }
            AttrOp::Clear => {}
        }
        (op, attrs, keys)
    }

    pub(crate) fn do_channel_attr_write(&mut self, node: usize) {
        let c = self.random_chan();
        let id = self.chans[c].id.clone();
        let (op, attrs, keys) = self.attr_write(node);
        let opts = ChannelAttributeOptions {
            enable_notification_to_channel_members: self.work.chance(0.6),
        };
        let now = ts(self.now);
        let cl = &mut self.clients[node].client;
        let r = write_channel_attributes(cl, now, &id, op, attrs.clone(), keys.clone(), opts);
        self.cmd(
            node,
            format!(
                "channel attrs {op:?} {id} {:?} {keys:?} notify={} = {r:?}",
                attrs.keys().collect::<Vec<_>>(),
                opts.enable_notification_to_channel_members
            ),
        );
        self.attr_write_issued(node, "channel attribute write", r, Pend::ChannelAttrWrite);
    }

    /// The keys of a read: all for a probe (it checks the whole store), else some at times.
    pub(super) fn read_keys(&mut self, probe: bool) -> Option<Vec<String>> {
        if !probe && self.work.chance(0.3) {
            let n = self.work.range(1, 3);
            Some((0..n).map(|_| self.attr_key()).collect())
        } else {
            None
        }
    }

    pub(crate) fn do_user_attr_write(&mut self, node: usize) {
        let (op, attrs, keys) = self.attr_write(node);
        let now = ts(self.now);
        let cl = &mut self.clients[node].client;
        let r = write_user_attributes(cl, now, op, attrs.clone(), keys.clone());
        self.cmd(
            node,
            format!(
                "user attrs {op:?} {:?} {keys:?} = {r:?}",
                attrs.keys().collect::<Vec<_>>()
            ),
        );
        self.attr_write_issued(node, "user attribute write", r, Pend::UserAttrWrite);
    }

    /// A read of a channel's or a user's attributes (all keys, or some; a probe reads all).
    pub(crate) fn do_attr_get(&mut self, node: usize, store: AttrStore, probe: bool) {
        let keys = self.read_keys(probe);
        let now = ts(self.now);
        let cl = &mut self.clients[node].client;
        let (r, call, what) = match store {
            AttrStore::Channel(c) => {
                let id = &self.chans[c].id;
                let r = match keys.clone() {
                    None => cl.get_channel_attributes(now, id),
                    Some(k) => cl.get_channel_attributes_by_keys(now, id, k),
                };
                let call = format!("get_channel_attributes({id}, {keys:?})");
                (r, call, "getChannelAttributes")
            }
            AttrStore::User(u) => {
                let id = self.users[u].id.as_str();
                let r = match keys.clone() {
                    None => cl.get_user_attributes(now, id),
                    Some(k) => cl.get_user_attributes_by_keys(now, id, k),
                };
                let call = format!("get_user_attributes({id:?}, {keys:?})");
                (r, call, "getUserAttributes")
            }
        };
        self.attr_read_issued(node, call, what, probe, r, |issued| match store {
            AttrStore::Channel(chan) => Pend::ChannelAttrGet {
                chan,
                keys,
                issued,
                probe,
            },
            AttrStore::User(user) => Pend::UserAttrGet {
                user,
                keys,
                issued,
                probe,
            },
        });
    }

    /// An attribute write the client took is followed to its answer; it may refuse one
    /// while logged out, too often, or too large (the workload's sizes are random).
    pub(super) fn attr_write_issued(
        &mut self,
        node: usize,
        what: &str,
        r: Result<RequestId, AttributeOperationError>,
        pend: Pend,
    ) {
        match r {
            Ok(rid) => self.track(node, rid.0, pend),
            Err(AttributeOperationError::NotLoggedIn) if !self.logged_in_now(node) => {}
            Err(AttributeOperationError::TooOften | AttributeOperationError::SizeOverflow) => {}
            Err(e) => self.unexpected(node, what, format!("{e:?}")),
        }
    }

    /// An attribute read (`call`, for the trace) the client took is followed to its answer
    /// (`pend`, given the time it was issued); it may refuse one while logged out, or too
    /// often unless it is a probe.
    pub(super) fn attr_read_issued(
        &mut self,
        node: usize,
        call: String,
        what: &str,
        probe: bool,
        r: Result<RequestId, AttributeOperationError>,
        pend: impl FnOnce(u64) -> Pend,
    ) {
        self.cmd(node, format!("{call} = {r:?}"));
        match r {
            Ok(rid) => {
                let issued = self.now;
                self.track(node, rid.0, pend(issued))
            }
            Err(AttributeOperationError::NotLoggedIn) if !self.logged_in_now(node) => {}
            Err(AttributeOperationError::TooOften) if !probe => {}
            Err(e) => self.unexpected(node, what, format!("{e:?}")),
        }
    }

    /// One channel or attribute action of a logged-in client.
    pub(crate) fn channel_action(&mut self, node: usize, action: Action) {
        let joined: Vec<usize> = {
            let ids = self.clients[node].client.joined_channels();
            ids.iter()
                .filter_map(|id| self.chan_index.get(id).copied())
                .collect()
        };
        let confirmed: Vec<usize> = self.clients[node].ext.joined_ok.iter().copied().collect();
        match action {
            Action::Join => {
                let free: Vec<usize> = (0..self.chans.len())
                    .filter(|c| !joined.contains(c))
                    .collect();
                if !free.is_empty() {
                    let c = free[self.work.below(free.len() as u64) as usize];
                    self.do_join(node, c);
                }
            }
            Action::Leave if !joined.is_empty() => {
                let c = joined[self.work.below(joined.len() as u64) as usize];
                self.do_leave(node, c);
            }
            Action::ChannelSend => {
                // Mostly in a confirmed channel; sometimes in one still joining.
                let pool = if !confirmed.is_empty() && self.work.chance(0.9) {
                    confirmed
                } else {
                    joined
                };
                if !pool.is_empty() {
                    let c = pool[self.work.below(pool.len() as u64) as usize];
                    self.do_channel_send(node, c, false);
                }
            }
            Action::GetMembers if !joined.is_empty() => {
                let c = joined[self.work.below(joined.len() as u64) as usize];
                self.do_get_members(node, c, false);
            }
            Action::MemberCount => {
                let n = self.work.range(1, self.chans.len() as u64);
                let mut chans: Vec<usize> = Vec::new();
                for _ in 0..n {
                    chans.push(self.random_chan());
                }
                self.do_member_count(node, chans, false);
            }
            Action::ChannelAttrWrite => self.do_channel_attr_write(node),
            Action::ChannelAttrGet => {
                let c = self.random_chan();
                self.do_attr_get(node, AttrStore::Channel(c), false);
            }
            Action::UserAttrWrite => self.do_user_attr_write(node),
            Action::UserAttrGet => {
                let u = self.work.below(self.users.len() as u64) as usize;
                self.do_attr_get(node, AttrStore::User(u), false);
            }
            _ => {}
        }
    }

    /// Misuse of the channel and attribute API the client must refuse locally.
    pub(crate) fn channel_misuse(&mut self, node: usize, which: u64) -> (String, bool) {
        let now = ts(self.now);
        let logged_in = self.logged_in_now(node);
        let unjoined = (0..self.chans.len()).find(|&c| {
            !self.clients[node].ext.joined_ok.contains(&c) && {
                let id = &self.chans[c].id;
                !self.clients[node].client.joined_channels().contains(id)
            }
        });
        let c = &mut self.clients[node].client;
        match which {
            0 => {
                let r = c.create_channel("a/b");
                (
                    format!("create_channel(\"a/b\") = {r:?}"),
                    r == Err(rtm_proto::CreateChannelError::InvalidArgument),
                )
            }
            1 => misuse_verdict(
                "get_channel_member_count([])",
                c.get_channel_member_count(now, &[]),
                logged_in,
                GetChannelMemberCountError::InvalidArgument,
                GetChannelMemberCountError::NotLoggedIn,
            ),
            2 => {
                let many: Vec<String> = (0..=MAX_COUNT_CHANNELS).map(|i| format!("c{i}")).collect();
                let refs: Vec<&str> = many.iter().map(String::as_str).collect();
                misuse_verdict(
                    "get_channel_member_count(33 ids)",
                    c.get_channel_member_count(now, &refs),
                    logged_in,
                    GetChannelMemberCountError::ExceedLimit,
                    GetChannelMemberCountError::NotLoggedIn,
                )
            }
            3 => {
                let id = ChannelId::new("misuse").expect("valid");
                let attrs = BTreeMap::from([("k".to_string(), String::new())]);
                misuse_verdict(
                    "set_channel_attributes(empty value)",
                    c.set_channel_attributes(now, &id, attrs, Default::default()),
                    logged_in,
                    AttributeOperationError::InvalidArgument,
                    AttributeOperationError::NotLoggedIn,
                )
            }
            4 => {
                let attrs = BTreeMap::from([("big".to_string(), "x".repeat(MAX_VALUE_BYTES + 1))]);
                misuse_verdict(
                    "add_or_update_local_user_attributes(9 KB)",
                    c.add_or_update_local_user_attributes(now, attrs),
                    logged_in,
                    AttributeOperationError::SizeOverflow,
                    AttributeOperationError::NotLoggedIn,
                )
            }
            5 => {
                let attrs = BTreeMap::from([("bad key".to_string(), "v".to_string())]);
                misuse_verdict(
                    "set_local_user_attributes(\"bad key\")",
                    c.set_local_user_attributes(now, attrs),
                    logged_in,
                    AttributeOperationError::InvalidArgument,
                    AttributeOperationError::NotLoggedIn,
                )
            }
            _ => {
                let Some(u) = unjoined else {
                    return ("(all channels joined)".into(), true);
                };
                let id = self.chans[u].id.clone();
                let c = &mut self.clients[node].client;
                let (sent, sent_ok) = misuse_verdict(
                    &format!("send_channel_message on unjoined {id}"),
                    c.send_channel_message(now, &id, Message::text("x")),
                    logged_in,
                    ChannelMessageError::NotInChannel,
                    ChannelMessageError::NotLoggedIn,
                );
                let (left, left_ok) = misuse_verdict(
                    "leave",
                    c.leave(now, &id),
                    logged_in,
                    LeaveChannelError::NotInChannel,
                    LeaveChannelError::NotLoggedIn,
                );
                (format!("{sent} / {left}"), sent_ok && left_ok)
            }
        }
    }
}
