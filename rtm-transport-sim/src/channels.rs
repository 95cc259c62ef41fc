//! Channels (§4.7, §4.8, §2.6), channel attributes (§4.6) and user attributes (§4.5): the
//! workload's commands, the reference model of what the server holds, and the invariants.
//!
//! ## The model
//!
//! The model keeps what the checks need over time, updated from the requests the server
//! handles and the answer it gives in the same step ([`Sim::watch_request`],
//! [`Sim::capture_answer`], [`Sim::finish_step_req`]): membership (and its history, for
//! the events), the messages each channel *instance* accepted (in `cseq` order) and who is
//! owed them, the attribute store's versions and its grace period, each session's user
//! attributes. A session that ends (logout, 30 s of silence, a newer login, a ban, a crash)
//! leaves every channel. After every server step the number of channels is compared with
//! the server's count; at every full sweep each channel's members and epoch with the
//! server's ([`rtm_proto::server::Observer`]); and every answer (`joined` epoch and cseq,
//! `members`, `member_counts`, `user_attributes`, `channel_attributes`, attribute write
//! verdicts, `attributes_updated`) with the model.
//! What the server decided is observed, not re-derived: the `cseq` a member starts after
//! ([`rtm_proto::server::Observer::member_since`]), what a rejoin or a catch-up replays
//! (`replay_after`), and the stores after a write (`user_attributes`,
//! `channel_attributes`, which must be what the core's own rule, [`attributes::apply`],
//! makes of the model's store). The model checks the outcomes: who was owed which message
//! and got it, and that answers and events agree with what the server held.
//!
//! ## Stints: "stayed joined throughout"
//!
//! A *stint* is one uninterrupted membership of one node in one channel. It starts when the
//! server handles a join from the node's session while the node's client has the channel,
//! and ends when the client leaves (or its join fails or times out), logs out or is
//! aborted, when the server handles a leave from it, when its server session ends (30 s of
//! silence, a newer login, a ban), or at a server crash. A message the server accepts
//! during a stint is pushed to the node; it is *owed* to the node if that stint is still
//! running at convergence, and then must have been delivered (exactly once; never twice
//! from one server incarnation, never to its sender). After a session loss the rejoin's
//! replay (§2.6: the last 30 s, at most 32 per channel, newer than the client's cursor) is
//! owed to the new stint as well (and the server must replay nothing else). Excused: a
//! server crash (soft state lost, the stint ends), and messages lost to a full stream (see
//! "Lags").
//!
//! ## Lags: a member whose stream is full
//!
//! A channel message that finds a member's delivery stream full is held back, and so are
//! that channel's later ones, until a catch-up once the member acknowledges: the server
//! then pushes the history from the first held-back message, within §2.6's window (the
//! last 32, at most 30 s old); older ones are lost. The model reads the server's lag
//! ([`rtm_proto::server::Observer::channel_lag`]) after every step: a message accepted while the
//! server reports the member lagging is a *lagged* recipient (the lag must start at the
//! first message held back, and hold until it goes away); when the lag goes away while the
//! stint runs (a catch-up after an ack, or a rejoin with a cursor, whose replay covers it)
//! each lagged recipient is owed if it is in that window at that moment, else *excused*:
//! it must then never be delivered. Relaxation `channel_push_dropped_when_stream_full`
//! (fixed in the core; kept to reproduce old seeds), only where `max_unacked` is below the
//! default, excuses every message the server did not send on the member's connection at
//! once, and stale member counts.
//!
//! ## Other invariants
//!
//! * MemberJoined / MemberLeft / MemberCountUpdated match, in order, changes the server
//!   made ([`crate::model::ChanModel::match_member`], `match_count`); nobody hears of
//!   themselves.
//! * AttributesUpdated carries the complete set right after a notifying write (checked on
//!   the server's frame in that step against the model), and each client sees such sets in
//!   order; `getChannelAttributes` / `getUserAttributes` answers were the truth at some
//!   moment between the call and the answer.
//! * After healing: the server's members of each channel are exactly the connected clients
//!   that believe they are in it; every member's last MemberCountUpdated is the count;
//!   every logged-in user's attributes on the server are what its client last had
//!   confirmed; then probes (a channel message to all members, getMembers, member counts,
//!   attribute reads) must give exactly that.
//!
//! Core bugs found here are relaxed by name (see [`crate::config::Relaxations`]); all but
//! `channel_push_dropped_when_stream_full` are fixed and their relaxations default off:
//! `channel_leave_lost_after_timeout`, `rejoin_lost_after_timeout`,
//! `member_count_private_stale`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rtm_proto::attributes::{self, AttrOp, ChannelAttribute, MAX_CHANNEL_BYTES, MAX_USER_BYTES};
use rtm_proto::client::{ChannelAttributeOptions, RequestId, Response};
use rtm_proto::server::ServerConfig;
use rtm_proto::wire::{ClientFrame, ServerFrame};
use rtm_proto::wire::{Push, Reply};
use rtm_proto::{
    AttributeOperationError, ChannelId, ChannelMessageError, ConnectionState as State,
    GetChannelMemberCountError, GetMembersError, JoinChannelError, LeaveChannelError, Message,
    Timestamp, UserId,
};

use crate::attr_writes::{write_channel_attributes, write_user_attributes};
use crate::config::Action;
use crate::model::{attrs_hash, Accept, CDelivery, CMsgRec, LagRec, Recipient};
use crate::sim::{body_shape, make_body, parse_body, Pend, Sim, StepReq, UNIX_ORIGIN_MS};
use crate::workload::misuse_verdict;

/// Most channel messages one run may send (bounds the model).
const MAX_CMSGS: usize = 100_000;
/// Attribute keys the workload uses (more than 32, so that adds can overflow).
const KEYS: u64 = 40;

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// Whose attributes a read asks for: a channel's or a user's (indices).
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttrStore {
    Channel(usize),
    User(usize),
}

/// Whether a client frame of type `ty` is one the model follows.
pub(crate) fn watched_request(ty: &[u8]) -> bool {
    matches!(
        ty,
        b"join"
            | b"leave"
            | b"channel_message"
            | b"get_members"
            | b"get_member_count"
            | b"user_attrs"
            | b"get_user_attrs"
            | b"channel_attrs"
            | b"get_channel_attrs"
            | b"invite"
    )
}

/// The request a reply answers (`capture_answer` only passes the answer types of the
/// watched requests).
fn answer_id(f: &ServerFrame) -> Option<u32> {
    match f {
        ServerFrame::Reply(r) => Some(r.id()),
        _ => None,
    }
}

/// The server's verdict on a write: `Ok`, or an error code.
fn verdict(answer: &Option<ServerFrame>) -> Option<Result<(), u32>> {
    match answer {
        Some(ServerFrame::Reply(Reply::Ok { .. })) => Some(Ok(())),
        Some(ServerFrame::Reply(Reply::Error { code, .. })) => Some(Err(*code)),
        _ => None,
    }
}

impl Sim {
    // ----- following the server -----------------------------------------------------------

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

    fn chan_of(&mut self, id: &ChannelId) -> Option<usize> {
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
    fn create_instance(&mut self, c: usize) {
        let ch = &mut self.chans[c];
        debug_assert!(!ch.exists);
        ch.exists = true;
        ch.instance += 1;
        ch.epoch = None;
        ch.accepted.clear();
        ch.gc_deadline = None;
    }

    /// The server forgets channel `c` (empty, no attributes; or the grace period ran out).
    fn forget_channel(&mut self, c: usize) {
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
    fn maybe_empty(&mut self, c: usize) {
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

    fn remove_member(&mut self, c: usize, u: usize) {
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
    fn model_join(
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

    fn model_channel_message(
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
    fn model_channel_attrs(
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

    // ----- events at the clients ----------------------------------------------------------

    fn user_of(&mut self, node: usize, id: &UserId) -> Option<usize> {
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

    // ----- responses ----------------------------------------------------------------------

    /// Users whose connected client believes it is in channel `c`.
    fn believers(&self, c: usize) -> BTreeSet<usize> {
        let id = &self.chans[c].id;
        let relax = self.cfg.relax.rejoin_lost_after_timeout;
        self.clients
            .iter()
            .filter(|n| n.target_in && n.state == State::Connected)
            .filter(|n| n.client.joined_channels().contains(id))
            .filter(|n| !(relax && n.ext.rejoin_due.get(&c).is_some_and(|&t| t < self.now)))
            .map(|n| n.user)
            .collect()
    }

    /// What the server's member list of `c` should be once converged: the believers, plus
    /// members whose leave may have been lost (relaxation `channel_leave_lost_after_timeout`).
    fn expected_members(&self, c: usize) -> BTreeSet<usize> {
        let mut want = self.believers(c);
        for &u in &self.chans[c].members {
            let ghost = self.users[u]
                .session
                .as_ref()
                .is_some_and(|s| self.clients[s.node].ext.ghost_chans.contains(&c));
            if ghost {
                want.insert(u);
            }
        }
        want
    }

    /// Handles the response to a channel or attribute request.
    pub(crate) fn on_feature_response(&mut self, node: usize, pend: Pend, response: Response) {
        let name = self.node_name(node);
        match (pend, response) {
            (Pend::Join { chan }, Response::Join(r)) => {
                let id = self.chans[chan].id.clone();
                match r {
                    Ok(()) => {
                        self.stats.joins += 1;
                        if self.clients[node].client.joined_channels().contains(&id) {
                            self.clients[node].ext.joined_ok.insert(chan);
                            self.clients[node].ext.ghost_chans.remove(&chan);
                        }
                    }
                    Err(e) => {
                        let ext = &mut self.clients[node].ext;
                        ext.joined_ok.remove(&chan);
                        ext.stints.remove(&chan);
                        ext.rejoin_due.remove(&chan);
                        // Undone by an internal leave that may be dropped in turn.
                        if e == JoinChannelError::Timeout
                            && self.cfg.relax.channel_leave_lost_after_timeout
                        {
                            ext.ghost_chans.insert(chan);
                        }
                        if !matches!(e, JoinChannelError::Timeout | JoinChannelError::NotLoggedIn) {
                            self.violation(format!("{name}: join of {id} failed with {e:?}"));
                        }
                    }
                }
            }
            (Pend::Leave { chan }, Response::Leave(r)) => {
                self.stats.leaves += 1;
                if r == Err(LeaveChannelError::Failure)
                    && self.cfg.relax.channel_leave_lost_after_timeout
                {
                    self.clients[node].ext.ghost_chans.insert(chan);
                }
                if let Err(e) = r {
                    if !matches!(
                        e,
                        LeaveChannelError::Failure
                            | LeaveChannelError::NotLoggedIn
                            | LeaveChannelError::NotInChannel
                    ) {
                        let id = &self.chans[chan].id;
                        self.violation(format!("{name}: leave of {id} failed with {e:?}"));
                    }
                }
            }
            (Pend::ChannelSend { cmsg }, Response::SendChannelMessage(r)) => {
                let rec = &mut self.cmsgs[cmsg];
                rec.answered = Some(r.map_err(|e| e.code()));
                let (probe, accepted) = (rec.probe, !rec.accepts.is_empty());
                match r {
                    Ok(()) if !accepted => self.violation(format!(
                        "{name} was told channel message #{cmsg} was accepted, but no server accepted it"
                    )),
                    Err(e) if probe => self.violation(format!(
                        "{name}: probe channel message #{cmsg} failed in a healed network: {e:?}"
                    )),
                    _ => {}
                }
            }
            (Pend::GetMembers { chan, probe }, Response::GetMembers(r)) => match r {
                Ok(list) if probe => {
                    let mut got: Vec<UserId> = list;
                    got.sort();
                    let mut want: Vec<UserId> = self
                        .expected_members(chan)
                        .into_iter()
                        .map(|u| self.users[u].id.clone())
                        .collect();
                    want.sort();
                    if got != want {
                        self.violation(format!(
                            "{name}: getMembers of {} in a healed network says {got:?}; the connected members are {want:?}",
                            self.chans[chan].id
                        ));
                    }
                }
                Err(e) if probe => self.violation(format!(
                    "{name}: probe getMembers failed in a healed network: {e:?}"
                )),
                Err(e) => {
                    if matches!(e, GetMembersError::Failure | GetMembersError::Rejected) {
                        self.violation(format!("{name}: getMembers failed with {e:?}"));
                    }
                }
                Ok(_) => {}
            },
            (Pend::MemberCount { chans, probe }, Response::GetChannelMemberCount(r)) => match r {
                Ok(v) => {
                    let asked: Vec<&ChannelId> = chans.iter().map(|&c| &self.chans[c].id).collect();
                    let got: Vec<&ChannelId> = v.iter().map(|(c, _)| c).collect();
                    if asked != got {
                        self.violation(format!(
                            "{name}: member counts answered for {got:?}, asked for {asked:?} (must be in request order)"
                        ));
                        return;
                    }
                    if probe {
                        for (&c, (id, count)) in chans.iter().zip(&v) {
                            let want = self.expected_members(c).len() as u32;
                            if *count != want {
                                self.violation(format!(
                                    "{name}: in a healed network {id} counts {count} members; {want} connected clients are in it"
                                ));
                            }
                        }
                    }
                }
                Err(e) if probe => self.violation(format!(
                    "{name}: probe getChannelMemberCount failed in a healed network: {e:?}"
                )),
                Err(e) => {
                    if !matches!(
                        e,
                        GetChannelMemberCountError::Timeout
                            | GetChannelMemberCountError::NotLoggedIn
                    ) {
                        self.violation(format!("{name}: getChannelMemberCount failed with {e:?}"));
                    }
                }
            },
            (Pend::ChannelAttrWrite | Pend::UserAttrWrite, Response::AttributeWrite(r)) => {
                if let Err(e) = r {
                    if !matches!(
                        e,
                        AttributeOperationError::Timeout
                            | AttributeOperationError::NotLoggedIn
                            | AttributeOperationError::SizeOverflow
                    ) {
                        self.violation(format!("{name}: attribute write failed with {e:?}"));
                    }
                }
            }
            (
                Pend::ChannelAttrGet {
                    chan,
                    keys,
                    issued,
                    probe,
                },
                Response::GetChannelAttributes(r),
            ) => match r {
                Ok(map) => {
                    let ch = &self.chans[chan];
                    // The server's answer was checked against the store when it was given;
                    // in a healed network it must also be the latest one then (the grace
                    // period may still end in between: compare with what held since).
                    if probe {
                        let want = attributes::select(&ch.attrs, keys.as_deref());
                        if ch.held_between(issued, self.now, keys.as_deref(), &map) == Some(false) {
                            self.violation(format!(
                                "{name}: getChannelAttributes of {} in a healed network says {map:?}; the server holds {want:?}",
                                ch.id
                            ));
                        }
                    } else if ch.held_between(issued, self.now, keys.as_deref(), &map)
                        == Some(false)
                    {
                        self.violation(format!(
                            "{name}: getChannelAttributes of {} says {map:?}, which the server never held between {issued} and {} ms",
                            ch.id, self.now
                        ));
                    }
                }
                Err(e) if probe => self.violation(format!(
                    "{name}: probe getChannelAttributes failed in a healed network: {e:?}"
                )),
                Err(e) => {
                    if !matches!(
                        e,
                        AttributeOperationError::Timeout | AttributeOperationError::NotLoggedIn
                    ) {
                        self.violation(format!("{name}: getChannelAttributes failed with {e:?}"));
                    }
                }
            },
            (
                Pend::UserAttrGet {
                    user,
                    keys,
                    issued,
                    probe,
                },
                Response::GetUserAttributes(r),
            ) => {
                let id = self.users[user].id.clone();
                if probe {
                    let owner = self.users[user]
                        .nodes
                        .iter()
                        .copied()
                        .find(|&n| self.clients[n].target_in);
                    let want = owner.map(|n| {
                        attributes::select(
                            self.clients[n].client.local_user_attributes(),
                            keys.as_deref(),
                        )
                    });
                    match (r, want) {
                        (Ok(map), Some(want)) if map == want => {}
                        (r, want) => self.violation(format!(
                            "{name}: getUserAttributes({id}) in a healed network says {r:?}; its client last had {want:?} confirmed"
                        )),
                    }
                    return;
                }
                let answer = match &r {
                    Ok(map) => Some(Some(map)),
                    Err(AttributeOperationError::UserNotFound) => Some(None),
                    Err(
                        AttributeOperationError::Timeout | AttributeOperationError::NotLoggedIn,
                    ) => None,
                    Err(e) => {
                        self.violation(format!(
                            "{name}: getUserAttributes({id}) failed with {e:?}"
                        ));
                        None
                    }
                };
                if let Some(a) = answer {
                    if self.users[user].attrs_between(issued, self.now, keys.as_deref(), a)
                        == Some(false)
                    {
                        self.violation(format!(
                            "{name}: getUserAttributes({id}) says {r:?}, which was never the truth between {issued} and {} ms",
                            self.now
                        ));
                    }
                }
            }
            (pend, response) => {
                self.violation(format!("{name}: request was {pend:?} but got {response:?}"))
            }
        }
    }

    /// The client's channels are gone (logout, aborted).
    pub(crate) fn channels_forgotten(&mut self, node: usize) {
        let e = &mut self.clients[node].ext;
        e.stints.clear();
        e.joined_ok.clear();
        e.rejoin_due.clear();
        e.last_count.clear();
        e.count_private.clear();
    }

    /// The client sends a `join`: if it is an automatic rejoin (it carries `resume`), note
    /// when it times out (5 s after it was first sent, when it was made).
    pub(crate) fn rejoin_sent(&mut self, node: usize, b: &Bytes) {
        if let Ok(ClientFrame::Join {
            channel,
            resume: Some(_),
            ..
        }) = ClientFrame::decode(b)
        {
            if let Some(&c) = self.chan_index.get(&channel) {
                let due = self.now + 5_000;
                self.clients[node].ext.rejoin_due.entry(c).or_insert(due);
            }
        }
    }

    // ----- commands -------------------------------------------------------------------------

    fn logged_in_now(&self, node: usize) -> bool {
        matches!(
            self.clients[node].state,
            State::Connected | State::Reconnecting
        )
    }

    fn random_chan(&mut self) -> usize {
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

    fn attr_key(&mut self) -> String {
        format!("k{}", self.work.below(KEYS))
    }

    fn attr_value(&mut self, node: usize) -> String {
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
    fn attr_write(&mut self, node: usize) -> (AttrOp, BTreeMap<String, String>, Vec<String>) {
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
    fn read_keys(&mut self, probe: bool) -> Option<Vec<String>> {
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
    fn attr_write_issued(
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
    fn attr_read_issued(
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
                let many: Vec<String> = (0..33).map(|i| format!("c{i}")).collect();
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
                let attrs = BTreeMap::from([("big".to_string(), "x".repeat(8 * 1024 + 1))]);
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

    // ----- healing ------------------------------------------------------------------------

    /// Heal phase: a connected client that should stay joins a channel once, so that the
    /// probes have members.
    pub(crate) fn heal_channels(&mut self, node: usize) {
        // Not once probing: the probes take the membership as settled.
        if self.clients[node].ext.heal_joined || self.phase != crate::sim::Phase::Healing {
            return;
        }
        self.clients[node].ext.heal_joined = true;
        if self.cfg.knobs.action_weights[Action::Join as usize] == 0 {
            return;
        }
        if self.clients[node].client.joined_channels().is_empty() && self.work.chance(0.7) {
            let c = self.random_chan();
            self.do_join(node, c);
        }
    }

    /// At every full sweep (a divergence persists, so once a simulated second is enough and
    /// keeps the per-step cost down): the members and the instance (epoch) of every channel
    /// the server holds are the model's.
    pub(crate) fn check_channel_members(&mut self) {
        for c in 0..self.chans.len() {
            let ch = &self.chans[c];
            let observe = self.server.observe();
            let held = observe.channel_members(&ch.id);
            let same = match held {
                None => ch.members.is_empty(),
                Some(m) => {
                    m.len() == ch.members.len()
                        && ch.members.iter().all(|&u| m.contains(&self.users[u].id))
                }
            };
            let epoch = observe.channel_epoch(&ch.id);
            if !same {
                let m: Vec<&UserId> = ch.members.iter().map(|&u| &self.users[u].id).collect();
                self.violation(format!(
                    "server's members of {} are {held:?}; the model has {m:?}",
                    ch.id
                ));
                return;
            }
            if ch.exists && ch.epoch.is_some() && epoch != ch.epoch {
                self.violation(format!(
                    "server's instance of {} has epoch {epoch:?}; the model's has {:?}",
                    ch.id, ch.epoch
                ));
                return;
            }
        }
    }

    /// Reasons the channels and attributes have not converged yet.
    pub(crate) fn channels_unconverged(&self, why: &mut Vec<String>, limit: usize) {
        for c in 0..self.chans.len() {
            let believers = self.expected_members(c);
            let members = &self.chans[c].members;
            if &believers != members {
                let b: Vec<&UserId> = believers.iter().map(|&u| &self.users[u].id).collect();
                let m: Vec<&UserId> = members.iter().map(|&u| &self.users[u].id).collect();
                why.push(format!(
                    "channel {}: server members {m:?}, connected clients in it {b:?}",
                    self.chans[c].id
                ));
                if why.len() >= limit {
                    return;
                }
            }
        }
        for (i, n) in self.clients.iter().enumerate() {
            if !n.target_in || n.state != State::Connected {
                continue;
            }
            let mine = n.client.local_user_attributes();
            if &self.users[n.user].attrs != mine {
                why.push(format!(
                    "{}: server holds user attributes {:?}, the client confirmed {:?}",
                    self.node_name(i),
                    self.users[n.user].attrs,
                    mine
                ));
                if why.len() >= limit {
                    return;
                }
            }
        }
        // Counts are pushed when they change (at most once a second): once quiet, every
        // member knows the count (a full stream drops a push, but the member's catch-up then
        // pushes the current count).
        let relax = self.relax_unpushed();
        let private = self.cfg.relax.member_count_private_stale;
        for (i, n) in self.clients.iter().enumerate() {
            if !n.target_in || n.state != State::Connected || relax {
                continue;
            }
            for &c in n.ext.stints.keys() {
                if private && n.ext.count_private.contains(&c) {
                    continue;
                }
                let want = self.chans[c].members.len() as u32;
                let saw = n.ext.last_count.get(&c).copied();
                if saw != Some(want) {
                    why.push(format!(
                        "{} last saw {} members in {}, it has {want}",
                        self.node_name(i),
                        saw.map_or("no count".to_string(), |s| s.to_string()),
                        self.chans[c].id
                    ));
                    if why.len() >= limit {
                        return;
                    }
                }
            }
        }
        for (i, m) in self.cmsgs.iter().enumerate() {
            for a in &m.accepts {
                for r in &a.recipients {
                    if r.stint == 0
                        || self.clients[r.node].ext.stints.get(&m.chan) != Some(&r.stint)
                        || (relax && !r.pushed)
                        || r.excused
                        || m.deliveries.iter().any(|d| d.node == r.node)
                    {
                        continue;
                    }
                    why.push(format!(
                        "channel message #{i} ({} in {}, accepted at {} ms{}) never reached {}, a member since before then",
                        self.users[m.from_user].id,
                        self.chans[m.chan].id,
                        a.at,
                        if r.pushed {
                            ", pushed at once"
                        } else if r.lagged {
                            ", held back: the member's stream was full"
                        } else {
                            ", not pushed at once"
                        },
                        self.node_name(r.node)
                    ));
                    if why.len() >= limit {
                        return;
                    }
                }
            }
        }
    }

    /// After every server step: each lag the model follows must still be the server's, or
    /// have gone away. Gone while the stint runs: a catch-up (after an ack), which owes the
    /// held-back messages in the replay window at this moment (§2.6: the last 32, at most
    /// 30 s old) from the first one, but the member's own. Gone otherwise (a leave, the
    /// session's end): the stint is over and nothing of it is owed.
    pub(crate) fn follow_lags(&mut self) {
        if self.lags.is_empty() {
            return;
        }
        let keys: Vec<(usize, usize)> = self.lags.keys().copied().collect();
        for (u, c) in keys {
            let lag = self.lags[&(u, c)];
            match self
                .server
                .observe()
                .channel_lag(&self.users[u].id, &self.chans[c].id)
            {
                Some(first) if first == lag.first => continue,
                Some(first) => {
                    self.violation(format!(
                        "server says {} lags in {} from cseq {first}; it lagged from {}",
                        self.users[u].id, self.chans[c].id, lag.first
                    ));
                    return;
                }
                None => {}
            }
            self.lags.remove(&(u, c));
            // The server's membership ran on throughout the lag; the client's stints may not
            // have (a membership the client did not know of, then its join: seed 101267),
            // so the catch-up settles the held-back messages of whatever stint got them.
            let running = self.chans[c].members.contains(&u)
                && self.chans[c].instance == lag.instance
                && self.crashes == lag.crash;
            if !running {
                continue;
            }
            // What the catch-up pushed: the server's history from the first held-back one.
            let window: BTreeSet<u64> = self
                .server
                .observe()
                .replay_after(&self.chans[c].id, lag.first - 1, &self.users[u].id)
                .into_iter()
                .collect();
            self.stats.channel_catch_ups += 1;
            self.resolve_lag(c, lag, &window);
        }
    }

    /// A lag in `c` went away: its held-back messages in `window` (cseqs) are owed,
    /// the others excused.
    fn resolve_lag(&mut self, c: usize, lag: LagRec, window: &BTreeSet<u64>) {
        if self.chans[c].instance != lag.instance || self.crashes != lag.crash {
            return;
        }
        let n = self.chans[c].accepted.len() as u64;
        for cseq in lag.first..=n {
            let (m, _) = self.chans[c].accepted[cseq as usize - 1];
            let Some(a) = self.cmsgs[m]
                .accepts
                .iter_mut()
                .find(|a| a.crash == lag.crash && a.instance == lag.instance)
            else {
                continue;
            };
            for r in &mut a.recipients {
                if r.node == lag.node && r.lagged {
                    r.excused = !window.contains(&cseq);
                    if r.excused {
                        self.stats.channel_lag_lost += 1;
                    }
                }
            }
        }
    }

    /// Whether a channel message the server did not push at once may be missing
    /// (relaxation `channel_push_dropped_when_stream_full`). Only where a stream can fill
    /// up in a run: with the default `max_unacked` (1024) a detached session would need
    /// 1024 pushes within its 30 s, so there the relaxation does not apply.
    fn relax_unpushed(&self) -> bool {
        self.cfg.relax.channel_push_dropped_when_stream_full
            && self.server_cfg.max_unacked < ServerConfig::default().max_unacked
    }

    /// Counts the relaxed missing deliveries once the run is done.
    pub(crate) fn count_relaxed_drops(&mut self) {
        if !self.relax_unpushed() {
            return;
        }
        let mut n = 0;
        for m in &self.cmsgs {
            for a in &m.accepts {
                for r in &a.recipients {
                    if r.stint != 0
                        && !r.pushed
                        && self.clients[r.node].ext.stints.get(&m.chan) == Some(&r.stint)
                        && !m.deliveries.iter().any(|d| d.node == r.node)
                    {
                        n += 1;
                    }
                }
            }
        }
        self.stats.relaxed_unpushed_drops += n;
    }

    /// Probes of a healed network: a channel message, members, counts, attribute reads.
    pub(crate) fn channel_probes(&mut self, node: usize) {
        let w = self.cfg.knobs.action_weights;
        // Channels the client is in, and the server knows it (see `expected_members`).
        let me = self.clients[node].user;
        let joined: Vec<usize> = self.clients[node]
            .ext
            .joined_ok
            .iter()
            .copied()
            .filter(|&c| self.chans[c].members.contains(&me))
            .collect();
        if !joined.is_empty() {
            let c = joined[self.work.below(joined.len() as u64) as usize];
            self.do_channel_send(node, c, true);
            self.do_get_members(node, c, true);
        }
        if w[Action::Join as usize] > 0 || w[Action::MemberCount as usize] > 0 {
            let all: Vec<usize> = (0..self.chans.len()).collect();
            self.do_member_count(node, all, true);
        }
        if w[Action::ChannelAttrWrite as usize] > 0 {
            let c = self.random_chan();
            self.do_attr_get(node, AttrStore::Channel(c), true);
        }
        if w[Action::UserAttrWrite as usize] > 0 {
            let online: Vec<usize> = (0..self.clients.len())
                .filter(|&n| self.clients[n].target_in)
                .map(|n| self.clients[n].user)
                .collect();
            let u = online[self.work.below(online.len() as u64) as usize];
            self.do_attr_get(node, AttrStore::User(u), true);
        }
    }
}
