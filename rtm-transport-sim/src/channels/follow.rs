//! Following the server: the requests it handles, the answers and pushes of that step,
//! and the model's channel instances, memberships, messages and lags.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rtm_proto::attributes::{self, AttrOp, ChannelAttribute, MAX_CHANNEL_BYTES, MAX_USER_BYTES};
use rtm_proto::wire::{ClientFrame, ServerFrame};
use rtm_proto::wire::{Push, Reply};
use rtm_proto::{ChannelId, ChannelMessageError, Message, UserId};

use crate::model::{Accept, LagRec, Recipient};
use crate::sim::{parse_body, Sim, StepReq, UNIX_ORIGIN_MS};

use super::*;

impl Sim {
    /// A frame of a watched type reaches the server from `user`'s session: remember the
    /// request so the step's answer can be matched with it.
    pub(crate) fn watch_request(&mut self, conn: u64, node: usize, user: usize, b: &Bytes) {
        // A frame the server cannot decode closes the connection: nothing to follow.
        let Ok(frame) = ClientFrame::decode(b) else {
            return;
        };
        let id = match &frame {
            ClientFrame::Invite { invitation, .. } => {
                self.invite_reaches_server(user, *invitation);
                return;
            }
            ClientFrame::Join { id, .. }
            | ClientFrame::Leave { id, .. }
            | ClientFrame::ChannelMessage { id, .. }
            | ClientFrame::GetMembers { id, .. }
            | ClientFrame::GetMemberCount { id, .. }
            | ClientFrame::UserAttrs { id, .. }
            | ClientFrame::GetUserAttrs { id, .. }
            | ClientFrame::ChannelAttrs { id, .. }
            | ClientFrame::GetChannelAttrs { id, .. } => *id,
            _ => return,
        };
        self.step_req = Some(StepReq {
            conn,
            node,
            user,
            id,
            kind: frame,
            answer: None,
            updated: None,
            pushed_to: Vec::new(),
            replayed: Vec::new(),
            counts_to: Vec::new(),
        });
    }

    /// A frame the server sends during a watched request's step.
    pub(crate) fn capture_answer(&mut self, conn: u64, ty: &[u8], frame: &Bytes) {
        if ty == b"member_count" {
            let join = self
                .step_req
                .as_mut()
                .filter(|r| matches!(r.kind, ClientFrame::Join { .. }));
            match join {
                Some(r) => r.counts_to.push(conn),
                None => self.count_pushed(conn, frame),
            }
            return;
        }
        let Some(r) = &mut self.step_req else { return };
        if ty == b"channel_message" {
            r.pushed_to.push(conn);
            if conn == r.conn && matches!(r.kind, ClientFrame::Join { .. }) {
                if let Ok(ServerFrame::Push(Push::ChannelMessage { cseq, .. })) =
                    ServerFrame::decode(frame)
                {
                    r.replayed.push(cseq);
                }
            }
            return;
        }
        if ty == b"attributes_updated" {
            if r.updated.is_none() {
                r.updated = ServerFrame::decode(frame).ok();
            }
            return;
        }
        if conn != r.conn || r.answer.is_some() {
            return;
        }
        if !matches!(
            ty,
            b"ok"
                | b"error"
                | b"joined"
                | b"members"
                | b"member_counts"
                | b"user_attributes"
                | b"channel_attributes"
        ) {
            return;
        }
        if let Ok(f) = ServerFrame::decode(frame) {
            if answer_id(&f) == Some(r.id) {
                r.answer = Some(f);
            }
        }
    }

    /// A coalesced `member_count` went out on `conn`: its member's last count push is not the
    /// private one.
    pub(crate) fn count_pushed(&mut self, conn: u64, frame: &Bytes) {
        let Ok(ServerFrame::Push(Push::MemberCount { channel, .. })) = ServerFrame::decode(frame)
        else {
            return;
        };
        let node = self.conns.get(&conn).map(|k| k.node);
        if let (Some(&c), Some(node)) = (self.chan_index.get(&channel), node) {
            self.clients[node].ext.count_private.remove(&c);
        }
    }

    pub(super) fn chan_of(&mut self, id: &ChannelId) -> Option<usize> {
        let c = self.chan_index.get(id).copied();
        if c.is_none() {
            self.violation(format!(
                "a request names channel {id}, which no workload uses"
            ));
        }
        c
    }

    /// The step of a watched request is over: apply it to the model and check the answer.
    pub(crate) fn finish_step_req(&mut self) {
        let Some(r) = self.step_req.take() else {
            return;
        };
        let who = self.users[r.user].id.clone();
        let Some(answer) = r.answer.clone() else {
            // A connection closed in this step (a slow consumer's 4007, checked before the
            // frame is handled) answers nothing: the client resends on its next link. A
            // write the server applied regardless would show at the next held-state check.
            if self.conns.get(&r.conn).is_some_and(|c| !c.server_open) {
                return;
            }
            self.violation(format!(
                "server handled request {} of {who} ({:?}) without answering it",
                r.id, r.kind
            ));
            return;
        };
        match r.kind.clone() {
            ClientFrame::Join {
                channel, resume, ..
            } => {
                let Some(c) = self.chan_of(&channel) else {
                    return;
                };
                // The joiner alone got a count: the private one (else a coalesced push).
                let private = r.counts_to == [r.conn];
                for &k in &r.counts_to {
                    if let Some(n) = self.conns.get(&k).map(|k| k.node) {
                        if private {
                            self.clients[n].ext.count_private.insert(c);
                        } else {
                            self.clients[n].ext.count_private.remove(&c);
                        }
                    }
                }
                match answer {
                    ServerFrame::Reply(Reply::Joined { epoch, cseq, .. }) => {
                        self.model_join(r.node, r.user, c, epoch, cseq, resume, &r.replayed)
                    }
                    other => self.violation(format!(
                        "server refused {who}'s join of {channel}: {other:?} (fewer than 20 channels)"
                    )),
                }
            }
            ClientFrame::Leave { channel, .. } => {
                let Some(c) = self.chan_of(&channel) else {
                    return;
                };
                let member = self.chans[c].members.contains(&r.user);
                match verdict(&Some(answer.clone())) {
                    Some(Ok(())) if member => {
                        self.remove_member(c, r.user);
                        self.clients[r.node].ext.stints.remove(&c);
                        self.clients[r.node].ext.ghost_chans.remove(&c);
                    }
                    Some(Err(3)) if !member => {}
                    _ => self.violation(format!(
                        "server answered {who}'s leave of {channel} with {answer:?}; the model says member={member}"
                    )),
                }
            }
            ClientFrame::ChannelMessage {
                channel, message, ..
            } => {
                let Some(c) = self.chan_of(&channel) else {
                    return;
                };
                self.model_channel_message(&r, c, &message, answer);
            }
            ClientFrame::GetMembers { channel, .. } => {
                let Some(c) = self.chan_of(&channel) else {
                    return;
                };
                let member = self.chans[c].members.contains(&r.user);
                match answer {
                    ServerFrame::Reply(Reply::Members { members, .. }) if member => {
                        let mut want: Vec<&UserId> = self.chans[c]
                            .members
                            .iter()
                            .map(|&u| &self.users[u].id)
                            .collect();
                        want.sort();
                        let mut got: Vec<&UserId> = members.iter().collect();
                        got.sort();
                        if got != want {
                            self.violation(format!(
                                "server says the members of {channel} are {got:?}; the model has {want:?}"
                            ));
                        }
                    }
                    ServerFrame::Reply(Reply::Error { code: 5, .. }) if !member => {}
                    other => self.violation(format!(
                        "server answered {who}'s getMembers of {channel} with {other:?}; the model says member={member}"
                    )),
                }
            }
            ClientFrame::GetMemberCount { channels, .. } => match answer {
                ServerFrame::Reply(Reply::MemberCounts { counts, .. }) => {
                    let asked: Vec<&ChannelId> = channels.iter().collect();
                    let got: Vec<&ChannelId> = counts.iter().map(|c| &c.channel).collect();
                    if asked != got {
                        self.violation(format!(
                            "member counts answered for {got:?}, asked for {asked:?}"
                        ));
                        return;
                    }
                    for cc in counts {
                        let Some(c) = self.chan_of(&cc.channel) else {
                            return;
                        };
                        let want = self.chans[c].members.len() as u32;
                        if cc.count != want {
                            self.violation(format!(
                                "server counts {} members in {}; the model has {want}",
                                cc.count, cc.channel
                            ));
                        }
                    }
                }
                other => self.violation(format!(
                    "server answered getChannelMemberCount({channels:?}) with {other:?}"
                )),
            },
            ClientFrame::UserAttrs {
                op,
                attributes,
                keys,
                ..
            } => {
                let mut next = self.users[r.user].attrs.clone();
                let model = attributes::apply(
                    &mut next,
                    op,
                    attributes,
                    &keys,
                    MAX_USER_BYTES,
                    |v| v,
                    |k, v| k.len() + v.len(),
                )
                .map(|()| next);
                let got = verdict(&Some(answer.clone()));
                match (model, got) {
                    (Ok(next), Some(Ok(()))) => {
                        let held = self.server.observe().user_attributes(&who).cloned();
                        if held.as_ref() != Some(&next) {
                            self.violation(format!(
                                "after {who}'s user attribute {op:?} the server holds {held:?}; the write makes {next:?}"
                            ));
                        }
                        self.users[r.user].attrs = next;
                        self.users[r.user].record_attrs(self.now, true);
                        self.stats.user_attr_writes += 1;
                    }
                    (Err(e), Some(Err(code))) if e.code() == code => {}
                    (m, _) => self.violation(format!(
                        "server answered {who}'s user attribute {op:?} with {answer:?}; the model says {m:?}"
                    )),
                }
            }
            ClientFrame::GetUserAttrs { user, keys, .. } => {
                let Some(&t) = self.user_index.get(&user) else {
                    return;
                };
                let online = self.users[t].session.is_some();
                match answer {
                    ServerFrame::Reply(Reply::UserAttributes { attributes, .. }) if online => {
                        let want = attributes::select(&self.users[t].attrs, keys.as_deref());
                        if attributes != want {
                            self.violation(format!(
                                "server says {user}'s attributes are {attributes:?}; the model has {want:?}"
                            ));
                        }
                    }
                    ServerFrame::Reply(Reply::Error { code: 6, .. }) if !online => {}
                    other => self.violation(format!(
                        "server answered getUserAttributes({user}) with {other:?}; the model says online={online}"
                    )),
                }
            }
            ClientFrame::ChannelAttrs {
                channel,
                op,
                attributes,
                keys,
                notify,
                ..
            } => {
                let Some(c) = self.chan_of(&channel) else {
                    return;
                };
                self.model_channel_attrs(&r, c, op, &attributes, &keys, notify, answer);
            }
            ClientFrame::GetChannelAttrs { channel, keys, .. } => {
                let Some(c) = self.chan_of(&channel) else {
                    return;
                };
                match answer {
                    ServerFrame::Reply(Reply::ChannelAttributes { attributes, .. }) => {
                        let want = attributes::select(&self.chans[c].attrs, keys.as_deref());
                        if attributes != want {
                            self.violation(format!(
                                "server says {channel}'s attributes are {attributes:?}; the model has {want:?}"
                            ));
                        }
                    }
                    other => self.violation(format!(
                        "server answered getChannelAttributes({channel}) with {other:?}"
                    )),
                }
            }
            _ => {}
        }
    }

    /// The server created an instance of channel `c` (a join, or an attribute write).
    pub(super) fn create_instance(&mut self, c: usize) {
        let ch = &mut self.chans[c];
        debug_assert!(!ch.exists);
        ch.exists = true;
        ch.instance += 1;
        ch.epoch = None;
        ch.accepted.clear();
        ch.gc_deadline = None;
    }

    /// The server forgets channel `c` (empty, no attributes; or the grace period ran out).
    pub(super) fn forget_channel(&mut self, c: usize) {
        let now = self.now;
        let ch = &mut self.chans[c];
        ch.exists = false;
        ch.epoch = None;
        ch.accepted.clear();
        ch.gc_deadline = None;
        if !ch.attrs.is_empty() {
            ch.attrs.clear();
            ch.record_attrs(&mut self.hist_seq, now, false);
        }
    }

    /// `channel_maybe_empty`: an empty channel without attributes goes at once; with
    /// attributes its grace period (re)starts.
    pub(super) fn maybe_empty(&mut self, c: usize) {
        let ch = &self.chans[c];
        if !ch.exists || !ch.members.is_empty() {
            return;
        }
        if ch.attrs.is_empty() {
            self.forget_channel(c);
        } else {
            self.chans[c].gc_deadline = Some(self.now + self.cfg.knobs.grace_ms);
        }
    }

    /// A server tick: channels whose grace period ran out are forgotten.
    pub(crate) fn channel_gc(&mut self) {
        for c in 0..self.chans.len() {
            let ch = &self.chans[c];
            if ch.exists && ch.members.is_empty() && ch.gc_deadline.is_some_and(|d| d <= self.now) {
                self.stats.channel_gc += 1;
                self.forget_channel(c);
            }
        }
    }

    pub(super) fn remove_member(&mut self, c: usize, u: usize) {
        let now = self.now;
        let ch = &mut self.chans[c];
        if !ch.members.remove(&u) {
            return;
        }
        ch.record(&mut self.hist_seq, now, u, false);
        self.maybe_empty(c);
    }

    /// `u`'s server session `old` ended: it left every channel and lost its attributes.
    pub(crate) fn session_ended(&mut self, u: usize, old: &crate::model::SessModel) {
        if self.users[u].ended_sids.len() < 100_000 {
            self.users[u].ended_sids.insert(old.sid.clone());
        }
        for c in 0..self.chans.len() {
            self.remove_member(c, u);
        }
        self.clients[old.node].ext.stints.clear();
        self.clients[old.node].ext.ghost_chans.clear();
        self.users[u].session_conns.clear();
        self.users[u].attrs.clear();
        self.users[u].record_attrs(self.now, false);
    }

    /// `u` has a new server session (no channels, no attributes).
    pub(crate) fn session_started(&mut self, u: usize) {
        self.users[u].session_conns.clear();
        self.users[u].attrs.clear();
        self.users[u].record_attrs(self.now, true);
    }

    /// The server crashed: every channel, attribute and session is gone (no events).
    pub(crate) fn channels_crash(&mut self) {
        for c in 0..self.chans.len() {
            self.chans[c].members.clear();
            if self.chans[c].exists {
                self.forget_channel(c);
            }
        }
        for n in &mut self.clients {
            n.ext.stints.clear();
            n.ext.ghost_chans.clear();
        }
        for u in 0..self.users.len() {
            self.users[u].attrs.clear();
            self.users[u].record_attrs(self.now, false);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn model_join(
        &mut self,
        node: usize,
        user: usize,
        c: usize,
        epoch: u64,
        cseq: u64,
        resume: Option<rtm_proto::wire::ChannelCursor>,
        replayed: &[u64],
    ) {
        let now = self.now;
        if !self.chans[c].exists {
            self.create_instance(c);
        }
        let ch = &mut self.chans[c];
        match ch.epoch {
            None => ch.epoch = Some(epoch),
            Some(e) if e != epoch => {
                let id = ch.id.clone();
                self.violation(format!(
                    "server answered a join of {id} with epoch {epoch}; the model's instance has epoch {e} (forgotten without reason?)"
                ));
                return;
            }
            Some(_) => {}
        }
        // The last message before the membership began, as the server keeps it (the latest
        // for a new member, the one of its first join for a resend): the answer must say it,
        // and it cannot be a message the model never saw accepted.
        let id = self.chans[c].id.clone();
        let uid = self.users[user].id.clone();
        let since = self.server.observe().member_since(&uid, &id);
        let latest = self.chans[c].accepted.len() as u64;
        if since != Some(cseq) || cseq > latest {
            self.violation(format!(
                "server answered a join of {id} with cseq {cseq}; it holds the member since {since:?} (latest accepted {latest})"
            ));
            return;
        }
        let ch = &mut self.chans[c];
        if ch.members.insert(user) {
            ch.gc_deadline = None;
            ch.record(&mut self.hist_seq, now, user, true);
        }
        // §2.6: a rejoin of the same instance replays what the server's history holds after
        // the cursor (pushed now, or later if the stream's send window is full). It must
        // push nothing else, and the model owes all of it to the new stint.
        let held: Vec<u64> = match resume {
            Some(cursor) if self.chans[c].epoch == Some(cursor.epoch) => {
                self.server.observe().replay_after(&id, cursor.cseq, &uid)
            }
            _ => Vec::new(),
        };
        let accepted = &self.chans[c].accepted;
        let window: Vec<(usize, u64)> = held
            .iter()
            .filter_map(|&q| accepted.get(q as usize - 1).map(|&(m, _)| (m, q)))
            .collect();
        let stray = replayed
            .iter()
            .find(|&&q| !window.iter().any(|&(_, s)| s == q));
        if window.len() != held.len() || stray.is_some() {
            self.violation(format!(
                "server replayed cseqs {replayed:?} of {id} to {}; its history after the cursor holds {held:?}, of which the model accepted {:?} (resume {resume:?})",
                self.node_name(node),
                window.iter().map(|w| w.1).collect::<Vec<_>>()
            ));
            return;
        }
        // A stint starts if the client still has the channel (it may have left already).
        self.clients[node].ext.rejoin_due.remove(&c);
        let has = self.clients[node].client.joined_channels().contains(&id);
        if !has {
            return;
        }
        let stint = match self.clients[node].ext.stints.get(&c) {
            Some(&s) => s,
            None => {
                let s = self.next_stint;
                self.next_stint += 1;
                self.clients[node].ext.stints.insert(c, s);
                s
            }
        };
        // A rejoin with a cursor replaces a lag of this stint: held-back messages in its
        // replay are owed, the others lost.
        if self
            .server
            .observe()
            .channel_lag(&self.users[user].id, &id)
            .is_none()
        {
            if let Some(lag) = self.lags.remove(&(user, c)) {
                let seqs: BTreeSet<u64> = window.iter().map(|w| w.1).collect();
                self.resolve_lag(c, lag, &seqs);
            }
        }
        // The replay is owed to the node from now on (its own messages are not for it).
        let crash = self.crashes;
        let instance = self.chans[c].instance;
        for (m, seq) in window {
            if self.cmsgs[m].from_user == user {
                continue;
            }
            if let Some(a) = self.cmsgs[m]
                .accepts
                .iter_mut()
                .find(|a| a.crash == crash && a.instance == instance)
            {
                if !a
                    .recipients
                    .iter()
                    .any(|r| r.node == node && r.stint == stint)
                {
                    a.recipients.push(Recipient {
                        node,
                        stint,
                        pushed: replayed.contains(&seq),
                        lagged: false,
                        excused: false,
                    });
                    self.stats.channel_replayed += 1;
                }
            }
        }
    }

    pub(super) fn model_channel_message(
        &mut self,
        r: &StepReq,
        c: usize,
        message: &Message,
        answer: ServerFrame,
    ) {
        let who = self.users[r.user].id.clone();
        let Some(m) = parse_body(message).filter(|&m| m < self.cmsgs.len()) else {
            self.violation(format!(
                "{who} sent a channel message the workload never made"
            ));
            return;
        };
        if self.cmsgs[m].chan != c || self.cmsgs[m].from_user != r.user {
            self.violation(format!("channel message #{m} reached the server in the wrong channel or from the wrong user"));
            return;
        }
        let member = self.chans[c].members.contains(&r.user);
        match answer {
            ServerFrame::Reply(Reply::Ok { .. }) => {
                // A resend: the server remembers it (its dedup memory comes first, whether
                // the sender is still a member or not).
                let crash = self.crashes;
                if self.cmsgs[m].accepts.iter().any(|a| a.crash == crash) {
                    if !r.pushed_to.is_empty() {
                        self.violation(format!(
                            "server pushed channel message #{m} again when its sender resent it"
                        ));
                    }
                    return;
                }
                if !member {
                    self.violation(format!(
                        "server accepted channel message #{m} from {who}, who is not a member of {}",
                        self.chans[c].id
                    ));
                    return;
                }
                self.stats.channel_accepted += 1;
                // Members whose connection got the push in this very step.
                let pushed: BTreeSet<usize> = r
                    .pushed_to
                    .iter()
                    .filter_map(|k| self.conns.get(k).and_then(|k| k.bound))
                    .collect();
                let mut recipients = Vec::new();
                for &u in &self.chans[c].members {
                    if u == r.user {
                        continue;
                    }
                    let Some(s) = &self.users[u].session else {
                        self.violation(format!("member {} of {} has no session", self.users[u].id, self.chans[c].id));
                        return;
                    };
                    let node = s.node;
                    recipients.push(Recipient {
                        node,
                        stint: self.clients[node].ext.stints.get(&c).copied().unwrap_or(0),
                        pushed: pushed.contains(&u),
                        lagged: false,
                        excused: false,
                    });
                }
                if let Some(k) = r.pushed_to.iter().find(|k| {
                    self.conns.get(k).and_then(|k| k.bound).map_or(true, |u| {
                        u == r.user || !self.chans[c].members.contains(&u)
                    })
                }) {
                    self.violation(format!(
                        "channel message #{m} in {} was pushed on c{k}, whose user is not another member",
                        self.chans[c].id
                    ));
                    return;
                }
                let ch = &mut self.chans[c];
                ch.accepted.push((m, self.now));
                let cseq = ch.accepted.len() as u64;
                let instance = ch.instance;
                // Members the server held it back from: their stream is full, or they lag
                // in this channel already.
                for rcp in &mut recipients {
                    let u = self.clients[rcp.node].user;
                    let lag = self.server.observe().channel_lag(&self.users[u].id, &self.chans[c].id);
                    let known = self.lags.get(&(u, c)).map(|l| l.first);
                    match (lag, known) {
                        (None, None) => continue,
                        (Some(first), None) if first == cseq => {
                            self.lags.insert(
                                (u, c),
                                LagRec {
                                    node: rcp.node,
                                    instance,
                                    crash,
                                    first,
                                },
                            );
                        }
                        (Some(first), Some(k)) if first == k => {}
                        (lag, known) => {
                            self.violation(format!(
                                "after channel message #{m} (cseq {cseq}) in {}, the server says {} lags from {lag:?}; the model expected {known:?}",
                                self.chans[c].id, self.users[u].id
                            ));
                            return;
                        }
                    }
                    if rcp.pushed {
                        self.violation(format!(
                            "server sent channel message #{m} to {} at once, yet says it lags in {}",
                            self.users[u].id, self.chans[c].id
                        ));
                        return;
                    }
                    rcp.lagged = true;
                }
                self.cmsgs[m].accepts.push(Accept {
                    at: self.now,
                    crash,
                    instance,
                    cseq,
                    recipients,
                });
            }
            ServerFrame::Reply(Reply::Error { code, .. }) => match ChannelMessageError::from_code(code) {
                Some(ChannelMessageError::TooOften) => {}
                Some(ChannelMessageError::NotInChannel) if !member => {}
                _ => self.violation(format!(
                    "server refused channel message #{m} of {who} with code {code}; the model says member={member}"
                )),
            },
            other => self.violation(format!("server answered channel message #{m} with {other:?}")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn model_channel_attrs(
        &mut self,
        r: &StepReq,
        c: usize,
        op: AttrOp,
        attributes: &BTreeMap<String, String>,
        keys: &[String],
        notify: bool,
        answer: ServerFrame,
    ) {
        let who = self.users[r.user].id.clone();
        let writer = who.clone();
        let at = UNIX_ORIGIN_MS + self.now;
        let mut next = self.chans[c].attrs.clone();
        let model = attributes::apply(
            &mut next,
            op,
            attributes.clone(),
            keys,
            MAX_CHANNEL_BYTES,
            |value| ChannelAttribute {
                value,
                last_update_user_id: writer.clone(),
                last_update_ts: at,
            },
            |k, v| k.len() + v.value.len(),
        )
        .map(|()| next);
        let got = verdict(&Some(answer.clone()));
        let ok = match (model, got) {
            (Ok(next), Some(Ok(()))) => {
                let id = &self.chans[c].id;
                // A channel the server no longer holds has no attributes.
                let held = self.server.observe().channel_attributes(id).cloned();
                if held.clone().unwrap_or_default() != next {
                    self.violation(format!(
                        "after {who}'s channel attribute {op:?} on {id} the server holds {held:?}; the write makes {next:?}"
                    ));
                }
                if !self.chans[c].exists {
                    self.create_instance(c);
                }
                self.stats.attr_writes += 1;
                let now = self.now;
                let ch = &mut self.chans[c];
                ch.attrs = next;
                ch.record_attrs(&mut self.hist_seq, now, notify);
                true
            }
            (Err(e), Some(Err(code))) if e.code() == code => false,
            (m, _) => {
                self.violation(format!(
                    "server answered {who}'s channel attribute {op:?} on {} with {answer:?}; the model says {m:?}",
                    self.chans[c].id
                ));
                return;
            }
        };
        // Any write to a channel nobody is in (re)starts its grace period.
        self.maybe_empty(c);
        // `attributes_updated`: only after a successful write with notification, carrying
        // the complete new set (to the members whose stream takes it).
        match (&r.updated, ok && notify) {
            (
                Some(ServerFrame::Push(Push::AttributesUpdated {
                    channel,
                    attributes,
                })),
                true,
            ) => {
                let want = &self.chans[c].attrs;
                if channel != &self.chans[c].id || attributes != want {
                    self.violation(format!(
                        "AttributesUpdated pushed for {channel} carries {attributes:?}; the server holds {want:?}"
                    ));
                }
            }
            (Some(f), false) => self.violation(format!(
                "server pushed {f:?} after a write that {}",
                if ok {
                    "did not ask for notification"
                } else {
                    "failed"
                }
            )),
            _ => {}
        }
    }
}
