//! Call invitations (§4.10, §5.3, §5.4, §10): the workload and the invariants.
//!
//! Callers invite random users (sometimes offline ones, sometimes never-online ghosts) and
//! cancel some after a random delay; callees accept or refuse after a random delay, or never
//! answer. Checked:
//!
//! * **Event sequences (§10).** Caller: at most one ReceivedByPeer, only before the end, and
//!   exactly one before Accepted/Refused; exactly one terminal event; nothing after it.
//!   Callee: RemoteInvitationReceived once per node, then exactly one terminal event. The
//!   client's readable `state` agrees with its events.
//! * **Causality.** Accepted/Refused carry the response the callee set with accept/refuse;
//!   Canceled only after `cancel`; ACCEPT_FAILURE only after `accept`; ReceivedByPeer only
//!   once the callee received it; PEER_NO_RESPONSE and INVITATION_EXPIRE not before 30 s /
//!   60 s after the server got the invitation (unless a crash lost it: the sync then ends it
//!   with INVITATION_EXPIRE); contents and channel ids arrive intact.
//! * **Agreement** ([`crate::model::ends_agree`], the table of `server/invitations.rs`):
//!   accepted ↔ accepted, refused ↔ refused, canceled ↔ canceled (or never delivered), and
//!   the matching failure reasons. Excused: a server crash after the invitation reached a
//!   server, when one side ended in failure (the new server has no record; a side that syncs
//!   learns INVITATION_EXPIRE, one that logs out ends it itself) — and, the design allowance
//!   `invitation_local_end_races_decision` (PROTOCOL.md), a side that ended it locally at
//!   its own session's end (its logout or kick; caller NOT_LOGGEDIN, callee PEER_OFFLINE)
//!   while the server's decision was still on its way.
//! * **Liveness.** A caller (and a callee that received it) connected without interruption
//!   since 65 s after the server got the invitation (the latest decision: 60 s expiry, plus
//!   the 5 s wait for a detached caller) is terminal 25 s later; after healing, everything
//!   is terminal; probe invitations in a healed network end accepted on both sides.

use rtm_proto::client::{Event, InvitationId};
use rtm_proto::invitation::{
    self, LocalInvitationFailureReason as LWhy, LocalInvitationState as LS,
    RemoteInvitationFailureReason as RWhy, RemoteInvitationState as RS,
};
use rtm_proto::wire::InvitationKey;
use rtm_proto::{ConnectionState as State, InvitationApiCallError as E, Timestamp};
use rtm_proto::{LocalInvitationEvent, RemoteInvitationEvent};

use crate::model::{ends_agree, CalleeEnd, CalleeView, CallerEnd, Ended, InvRec};
use crate::sim::{Ev, Sim};

/// Most invitations one run may send (bounds the model).
const MAX_INVITATIONS: usize = 20_000;
/// Open invitations one caller keeps at most (the server allows 64).
const MAX_OPEN: usize = 4;
/// The core's §10.1 deadlines (ack, expiry), in the model's milliseconds.
const ACK_MS: u64 = invitation::ACK_TIMEOUT.as_millis() as u64;
const EXPIRY_MS: u64 = invitation::EXPIRY.as_millis() as u64;
/// The server decides within this of receiving the invitation (the expiry + the wait for a
/// detached caller after an accept).
const DECIDED_WITHIN_MS: u64 = EXPIRY_MS + invitation::ACCEPT_CONFIRM_TIMEOUT.as_millis() as u64;
/// A connected side learns the decision within this.
const LEARN_WITHIN_MS: u64 = 25_000;

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn parse_content(content: &str) -> Option<usize> {
    let rest = content.strip_prefix('i')?;
    rest[..rest.find(';')?].parse().ok()
}

impl Sim {
    /// An `invite` frame reaches a server from `caller`'s session.
    pub(crate) fn invite_reaches_server(&mut self, caller: usize, number: u64) {
        if let Some(&i) = self.inv_index.get(&(caller, number)) {
            let at = (self.now, self.crashes);
            let sid = self
                .server
                .observe()
                .session_id(&self.users[caller].id)
                .map(str::to_owned);
            let rec = &mut self.invs[i];
            match rec.rx_last {
                Some((_, crash)) if crash == self.crashes && rec.rx_sid != sid => {
                    rec.resent_across_sessions = true
                }
                Some((_, crash)) if crash == self.crashes => {}
                _ => rec.rx_sid = sid,
            }
            rec.rx_first.get_or_insert(at);
            rec.rx_last = Some(at);
        }
    }

    fn open_invitations(&self, node: usize) -> usize {
        self.invs
            .iter()
            .filter(|r| r.caller_node == node && r.caller_end.is_none())
            .count()
    }

    /// `node` invites user `callee`.
    pub(crate) fn do_invite(&mut self, node: usize, callee: usize, probe: bool) {
        if self.invs.len() >= MAX_INVITATIONS || (!probe && self.open_invitations(node) >= MAX_OPEN)
        {
            return;
        }
        let idx = self.invs.len();
        let caller = self.clients[node].user;
        let callee_id = self.users[callee].id.to_string();
        let mut content = format!("i{idx};");
        content.push_str(&"c".repeat(self.work.below(20) as usize));
        let channel_id = if self.work.chance(0.5) {
            String::new()
        } else {
            format!("room{}", self.work.below(100))
        };
        let now = ts(self.now);
        let c = &mut self.clients[node].client;
        let id = match c.create_local_invitation(&callee_id) {
            Ok(id) => id,
            Err(e) => {
                let n = self.node_name(node);
                self.violation(format!("{n}: createLocalInvitation({callee_id:?}) = {e:?}"));
                return;
            }
        };
        let set = c
            .set_local_invitation_content(id, &content)
            .and_then(|()| c.set_local_invitation_channel_id(id, &channel_id));
        let r = set.and_then(|()| c.send_local_invitation(now, id));
        // Misuse now and then: an invitation is single use (ALREADY_SENT; ALREADY_END if it
        // failed at once for want of a login).
        let again = (!probe && self.work.chance(0.1)).then(|| {
            let c = &mut self.clients[node].client;
            (
                c.send_local_invitation(now, id),
                c.local_invitation(id).map(|i| i.state),
            )
        });
        self.cmd(
            node,
            format!(
                "invite #{idx} {callee_id:?} (number {}) = {r:?}{}",
                id.0,
                match &again {
                    Some((r2, _)) => format!("; send again = {r2:?}"),
                    None => String::new(),
                }
            ),
        );
        if let Err(e) = r {
            self.unexpected(node, "LocalInvitation.send", format!("{e:?}"));
            return;
        }
        if let Some((r2, st)) = again {
            let want = if st.is_some_and(LS::is_terminal) {
                E::AlreadyEnd
            } else {
                E::AlreadySent
            };
            if r2 != Err(want) {
                self.unexpected(node, "second LocalInvitation.send", format!("{r2:?}"));
            }
        }
        self.stats.invitations += 1;
        self.inv_index.insert((caller, id.0), idx);
        self.invs.push(InvRec {
            caller_node: node,
            caller,
            callee,
            number: id.0,
            content,
            channel_id,
            probe,
            sent_at: self.now,
            rx_first: None,
            rx_last: None,
            rx_sid: None,
            resent_across_sessions: false,
            canceled: false,
            received_by_peer: 0,
            caller_end: None,
            callees: Vec::new(),
            plan: None,
        });
        if !probe && self.work.chance(self.cfg.knobs.cancel_p) {
            let d = self.work.range(0, 25_000);
            self.schedule(self.now + d, Ev::InvCancel { inv: idx });
        }
    }

    /// The caller cancels invitation `inv`, as planned.
    pub(crate) fn invitation_cancel(&mut self, inv: usize) {
        let (node, number) = (self.invs[inv].caller_node, self.invs[inv].number);
        let id = InvitationId(number);
        let c = &mut self.clients[node].client;
        let r = c.cancel_local_invitation(ts(self.now), id);
        let st = c.local_invitation(id).map(|i| i.state);
        self.cmd(node, format!("cancel invitation #{inv} = {r:?}"));
        match r {
            Ok(()) => self.invs[inv].canceled = true,
            Err(E::AlreadyEnd) if st.is_some_and(LS::is_terminal) => {}
            // Pruned after it ended (the client keeps the latest 128 ended ones).
            Err(E::InvalidArgument) if st.is_none() && self.invs[inv].caller_end.is_some() => {}
            Err(e) => self.unexpected(
                node,
                "LocalInvitation.cancel",
                format!("{e:?} in state {st:?}"),
            ),
        }
    }

    /// The callee answers invitation `inv`, as planned.
    pub(crate) fn invitation_answer(&mut self, inv: usize) {
        let Some(accept) = self.invs[inv].plan else {
            return;
        };
        let Some(view) = self.invs[inv].callees.last() else {
            return;
        };
        if view.answered.is_some() {
            return;
        }
        let node = view.node;
        let key = InvitationKey {
            caller: self.users[self.invs[inv].caller].id.clone(),
            invitation: self.invs[inv].number,
        };
        let response = format!("r{inv}.{accept}");
        let now = ts(self.now);
        let twice = accept && self.work.chance(0.1);
        let c = &mut self.clients[node].client;
        let Some(st) = c.remote_invitation(&key).map(|i| i.state) else {
            return; // pruned
        };
        let r = c
            .set_remote_invitation_response(&key, &response)
            .and_then(|()| {
                if accept {
                    c.accept_remote_invitation(now, &key)
                } else {
                    c.refuse_remote_invitation(now, &key)
                }
            });
        let r2 = twice.then(|| c.accept_remote_invitation(now, &key));
        self.cmd(
            node,
            format!(
                "{} invitation #{inv} = {r:?}{}",
                if accept { "accept" } else { "refuse" },
                r2.map(|r2| format!("; accept again = {r2:?}"))
                    .unwrap_or_default()
            ),
        );
        match r {
            Ok(()) => {
                let v = self.invs[inv].callees.last_mut().expect("checked");
                v.answered = Some((accept, response));
                if let Some(r2) = r2 {
                    if r2 != Err(E::AlreadyAccept) {
                        self.unexpected(node, "second RemoteInvitation.accept", format!("{r2:?}"));
                    }
                }
            }
            Err(E::AlreadyEnd) if st.is_terminal() => {}
            Err(e) => self.unexpected(
                node,
                "RemoteInvitation.accept/refuse",
                format!("{e:?} in state {st:?}"),
            ),
        }
    }

    // ----- events -------------------------------------------------------------------------

    /// An invitation event of `node`'s client.
    pub(crate) fn on_invitation_event(&mut self, node: usize, e: Event) {
        match e {
            // Caller side: ReceivedByPeer, or the end (CallerEnd).
            Event::LocalInvitation { invitation, event } => {
                let end = match event {
                    LocalInvitationEvent::ReceivedByPeer => None,
                    LocalInvitationEvent::Accepted { response } => {
                        Some(CallerEnd::Accepted(response))
                    }
                    LocalInvitationEvent::Refused { response } => {
                        Some(CallerEnd::Refused(response))
                    }
                    LocalInvitationEvent::Canceled => Some(CallerEnd::Canceled),
                    LocalInvitationEvent::Failure { reason } => Some(CallerEnd::Failure(reason)),
                    _ => return,
                };
                self.on_local(node, invitation, end)
            }
            // Callee side: Received, or the end (CalleeEnd, with a cancel's content).
            Event::RemoteInvitation { invitation, event } => {
                let (end, content) = match event {
                    RemoteInvitationEvent::Received {
                        caller_id,
                        content,
                        channel_id,
                    } => {
                        return self
                            .on_remote_received(node, invitation, caller_id, content, channel_id)
                    }
                    RemoteInvitationEvent::Accepted => (CalleeEnd::Accepted, None),
                    RemoteInvitationEvent::Refused => (CalleeEnd::Refused, None),
                    RemoteInvitationEvent::Canceled { content } => {
                        (CalleeEnd::Canceled, Some(content))
                    }
                    RemoteInvitationEvent::Failure { reason } => (CalleeEnd::Failure(reason), None),
                    _ => return,
                };
                self.on_remote_end(node, invitation, end, content)
            }
            _ => {}
        }
    }

    /// The client is ending it itself as its session is over: in `logout()` or on a kick
    /// (the client is DISCONNECTED or ABORTED once the call returns), or when a logout's
    /// drain ends (the client was DISCONNECTED before, by the events seen so far; this
    /// happens within a later `login()` too).
    fn ending_locally(&self, node: usize) -> bool {
        let over = |s: State| matches!(s, State::Disconnected | State::Aborted);
        over(self.clients[node].client.connection_state()) || over(self.clients[node].state)
    }

    /// Whether a callee that received invitation `i` had its session back on another link
    /// at least a second before the 30 s ack deadline (no crash between): an ack resent then
    /// would have arrived in time.
    fn ack_was_possible(&self, i: usize) -> bool {
        let rec = &self.invs[i];
        let Some((rx, crash)) = rec.rx_last else {
            return false;
        };
        if crash != self.crashes {
            return false;
        }
        let deadline = rx + ACK_MS;
        rec.callees.iter().any(|v| {
            v.received_at + 1_000 < deadline
                && v.crash == crash
                && self.users[rec.callee]
                    .session_conns
                    .iter()
                    .any(|&(k, t)| k != v.conn && t > v.received_at && t + 1_000 < deadline)
        })
    }

    /// Not before `ms` after the server first got it, unless a crash lost it since; if no
    /// server ever got it (its `invite` expired unsent and a sync ended it), not before `ms`
    /// after it was sent.
    fn not_before(&self, rec: &InvRec, ms: u64) -> bool {
        match rec.rx_first {
            Some((at, crash)) => self.now >= at + ms || self.crashes > crash,
            None => self.now >= rec.sent_at + ms,
        }
    }

    fn on_local(&mut self, node: usize, id: InvitationId, end: Option<CallerEnd>) {
        let name = self.node_name(node);
        let user = self.clients[node].user;
        let Some(&i) = self.inv_index.get(&(user, id.0)) else {
            self.violation(format!(
                "{name}: event for invitation {} it never sent: {end:?}",
                id.0
            ));
            return;
        };
        let rec = &self.invs[i];
        if rec.caller_node != node {
            self.violation(format!(
                "{name}: caller event for invitation #{i} of another client"
            ));
            return;
        }
        if let Some(prev) = &rec.caller_end {
            self.violation(format!(
                "{name}: invitation #{i} ended {:?} at {} ms, then {}",
                prev.how,
                prev.at,
                match &end {
                    None => "LocalInvitationReceivedByPeer".to_string(),
                    Some(e) => format!("{e:?}"),
                }
            ));
            return;
        }
        let Some(how) = end else {
            let rec = &mut self.invs[i];
            rec.received_by_peer += 1;
            let (n, reached) = (rec.received_by_peer, !rec.callees.is_empty());
            if n > 1 {
                self.violation(format!(
                    "{name}: LocalInvitationReceivedByPeer twice for invitation #{i}"
                ));
            } else if !reached {
                self.violation(format!(
                    "{name}: LocalInvitationReceivedByPeer for invitation #{i}, which no callee received"
                ));
            }
            return;
        };
        let answered = |accept: bool, resp: &str| {
            rec.callees.iter().any(|v| {
                v.answered
                    .as_ref()
                    .is_some_and(|(a, r)| *a == accept && r == resp)
            })
        };
        let why = match &how {
            CallerEnd::Accepted(r) if rec.received_by_peer != 1 || !answered(true, r) => {
                Some("Accepted without exactly one ReceivedByPeer before, or not with the callee's accept and response")
            }
            CallerEnd::Refused(r) if rec.received_by_peer != 1 || !answered(false, r) => {
                Some("Refused without exactly one ReceivedByPeer before, or not with the callee's refusal and response")
            }
            CallerEnd::Canceled if !rec.canceled => Some("Canceled, but the caller never canceled it"),
            CallerEnd::Failure(LWhy::PeerNoResponse) if !self.not_before(rec, ACK_MS) => {
                Some("PEER_NO_RESPONSE sooner than 30 s after the server got it")
            }
            CallerEnd::Failure(LWhy::InvitationExpire) if !self.not_before(rec, EXPIRY_MS) => {
                Some("INVITATION_EXPIRE sooner than 60 s after the server got it")
            }
            CallerEnd::Failure(LWhy::PeerOffline) if rec.rx_first.is_none() => {
                Some("PEER_OFFLINE, but the invitation never reached a server")
            }
            _ => None,
        };
        if let Some(why) = why {
            self.violation(format!("{name}: invitation #{i}: {why} ({how:?})"));
            return;
        }
        if how == CallerEnd::Failure(LWhy::PeerNoResponse) && self.ack_was_possible(i) {
            let what = format!(
                "{name}: invitation #{i} failed PEER_NO_RESPONSE, but its callee received it and was back on a new link well before the 30 s: its invitation_ack was lost and never sent again"
            );
            if self.cfg.relax.invitation_ack_not_resent {
                self.stats.relaxed_ack_not_resent += 1;
                self.note(format!("(relaxed invitation_ack_not_resent) {what}"));
            } else {
                self.violation(what);
                return;
            }
        }
        let want = match &how {
            CallerEnd::Accepted(_) => LS::AcceptedByRemote,
            CallerEnd::Refused(_) => LS::RefusedByRemote,
            CallerEnd::Canceled => LS::Canceled,
            CallerEnd::Failure(_) => LS::Failure,
        };
        let st = self.clients[node]
            .client
            .local_invitation(id)
            .map(|l| l.state);
        if st.is_some_and(|s| s != want) {
            self.violation(format!(
                "{name}: invitation #{i} ended {how:?} but its state reads {st:?}"
            ));
            return;
        }
        match &how {
            CallerEnd::Accepted(_) => self.stats.invitations_accepted += 1,
            CallerEnd::Refused(_) => self.stats.invitations_refused += 1,
            CallerEnd::Canceled => self.stats.invitations_canceled += 1,
            CallerEnd::Failure(_) => self.stats.invitations_failed += 1,
        }
        let local = self.ending_locally(node);
        let via = self.clients[node].rx_crash;
        self.invs[i].caller_end = Some(Ended {
            how,
            at: self.now,
            crash: self.crashes,
            via,
            local,
        });
        for v in 0..self.invs[i].callees.len() {
            self.check_pair(i, Some(v));
        }
    }

    fn on_remote_received(
        &mut self,
        node: usize,
        key: InvitationKey,
        caller_id: rtm_proto::UserId,
        content: String,
        channel_id: String,
    ) {
        let name = self.node_name(node);
        let Some(i) = parse_content(&content).filter(|&i| i < self.invs.len()) else {
            self.violation(format!(
                "{name} received an invitation the workload never sent: {content:?}"
            ));
            return;
        };
        let rec = &self.invs[i];
        let me = self.clients[node].user;
        if rec.callee != me
            || caller_id != key.caller
            || key.caller != self.users[rec.caller].id
            || key.invitation != rec.number
            || content != rec.content
            || channel_id != rec.channel_id
        {
            self.violation(format!(
                "{name} received invitation #{i} garbled: {key:?} from {caller_id}, {content:?}, {channel_id:?}"
            ));
            return;
        }
        if rec.callees.iter().any(|v| v.node == node) {
            self.violation(format!("{name} received invitation #{i} twice"));
            return;
        }
        if let Some(v) = rec.callees.last() {
            if v.crash == self.crashes {
                let other = self.node_name(v.node);
                self.violation(format!(
                    "invitation #{i} delivered to {other} and again to {name} with no server crash between"
                ));
                return;
            }
        }
        let first = rec.callees.is_empty();
        let probe = rec.probe;
        let conn = self.clients[node].rx_conn;
        self.invs[i].callees.push(CalleeView {
            node,
            conn,
            received_at: self.now,
            crash: self.crashes,
            answered: None,
            end: None,
        });
        if first {
            self.invs[i].plan = if probe {
                Some(true)
            } else if self.work.chance(self.cfg.knobs.ignore_p) {
                None
            } else {
                Some(self.work.chance(0.5))
            };
        }
        if self.invs[i].plan.is_some() {
            let d = if probe {
                self.work.range(100, 1_000)
            } else {
                self.work.range(0, 40_000)
            };
            self.schedule(self.now + d, Ev::InvAnswer { inv: i });
        }
    }

    fn on_remote_end(
        &mut self,
        node: usize,
        key: InvitationKey,
        how: CalleeEnd,
        content: Option<String>,
    ) {
        let name = self.node_name(node);
        let found = self
            .user_index
            .get(&key.caller)
            .and_then(|&u| self.inv_index.get(&(u, key.invitation)))
            .copied();
        let Some(i) = found else {
            self.violation(format!(
                "{name}: callee event for unknown invitation {key:?}: {how:?}"
            ));
            return;
        };
        let rec = &self.invs[i];
        let Some(v) = rec.callees.iter().position(|v| v.node == node) else {
            self.violation(format!(
                "{name}: invitation #{i} ended {how:?} on a client that never received it"
            ));
            return;
        };
        let view = &rec.callees[v];
        if let Some(prev) = &view.end {
            self.violation(format!(
                "{name}: invitation #{i} ended {:?} at {} ms, then {how:?}",
                prev.how, prev.at
            ));
            return;
        }
        let why = match &how {
            CalleeEnd::Accepted if !matches!(view.answered, Some((true, _))) => {
                Some("Accepted, but the callee never accepted it")
            }
            CalleeEnd::Refused if !matches!(view.answered, Some((false, _))) => {
                Some("Refused, but the callee never refused it")
            }
            CalleeEnd::Canceled if !rec.canceled || content.as_deref() != Some(&rec.content) => {
                Some("Canceled, but the caller never canceled it (or the content changed)")
            }
            CalleeEnd::Failure(RWhy::AcceptFailure)
                if !matches!(view.answered, Some((true, _))) =>
            {
                Some("ACCEPT_FAILURE, but the callee never accepted it")
            }
            CalleeEnd::Failure(RWhy::InvitationExpire) if !self.not_before(rec, ACK_MS) => {
                Some("INVITATION_EXPIRE sooner than 30 s after the server got it")
            }
            _ => None,
        };
        if let Some(why) = why {
            self.violation(format!("{name}: invitation #{i}: {why}"));
            return;
        }
        let want = match &how {
            CalleeEnd::Accepted => RS::Accepted,
            CalleeEnd::Refused => RS::Refused,
            CalleeEnd::Canceled => RS::Canceled,
            CalleeEnd::Failure(_) => RS::Failure,
        };
        let st = self.clients[node]
            .client
            .remote_invitation(&key)
            .map(|r| r.state);
        if st.is_some_and(|s| s != want) {
            self.violation(format!(
                "{name}: invitation #{i} ended {how:?} but its state reads {st:?}"
            ));
            return;
        }
        let local = self.ending_locally(node);
        let via = self.clients[node].rx_crash;
        self.invs[i].callees[v].end = Some(Ended {
            how,
            at: self.now,
            crash: self.crashes,
            via,
            local,
        });
        self.check_pair(i, Some(v));
    }

    /// Caller and callee (view `v`; `None`: no callee received it) agree, or are excused.
    fn check_pair(&mut self, i: usize, v: Option<usize>) {
        let rec = &self.invs[i];
        let Some(c) = &rec.caller_end else { return };
        let r = match v {
            Some(v) => match &rec.callees[v].end {
                Some(r) => Some(r),
                None => return,
            },
            None => None,
        };
        if ends_agree(&c.how, r.map(|r| &r.how)) {
            return;
        }
        // No server ever got it (its `invite` expired unsent; the caller's sync then ended
        // it): only the caller knows of it, and any failure is the whole story.
        if rec.rx_first.is_none() && r.is_none() && matches!(c.how, CallerEnd::Failure(_)) {
            return;
        }
        let failure = matches!(c.how, CallerEnd::Failure(_))
            || r.is_some_and(|r| matches!(r.how, CalleeEnd::Failure(_)));
        let last_crash = c.crash.max(r.map_or(0, |r| r.crash));
        let crashed = rec.rx_first.is_some_and(|(_, k)| last_crash > k);
        // The design allowance: only a side that ended it at its own session's end, with
        // the reason the client gives then (caller NOT_LOGGEDIN, callee PEER_OFFLINE).
        let local = (c.local && matches!(c.how, CallerEnd::Failure(LWhy::NotLoggedin)))
            || r.is_some_and(|r| r.local && matches!(r.how, CalleeEnd::Failure(RWhy::PeerOffline)));
        let callee = match v {
            Some(v) => self.node_name(rec.callees[v].node),
            None => "no callee".to_string(),
        };
        let what = format!(
            "invitation #{i} ({} -> {}): caller {} ended {:?} at {} ms{}, {callee} {}",
            self.users[rec.caller].id,
            self.users[rec.callee].id,
            self.node_name(rec.caller_node),
            c.how,
            c.at,
            if c.local { " (locally)" } else { "" },
            match r {
                Some(r) => format!(
                    "ended {:?} at {} ms{}",
                    r.how,
                    r.at,
                    if r.local { " (locally)" } else { "" }
                ),
                None => "never received it".to_string(),
            }
        );
        // A crash lost the server's record (soft state): a side that syncs learns
        // INVITATION_EXPIRE, one whose `invite` was still unanswered resends it and the new
        // server rings afresh; either way the two sides may have heard from different
        // incarnations, and no durable record could make them agree.
        let different = r.is_some_and(|r| r.via != c.via);
        if crashed && (failure || different) {
            self.stats.invitation_crash_excused += 1;
        } else if local && self.cfg.relax.invitation_local_end_races_decision {
            self.stats.relaxed_invitation_local_end += 1;
            self.note(format!(
                "(relaxed invitation_local_end_races_decision) {what}"
            ));
        } else {
            self.violation(format!("caller and callee disagree: {what}"));
        }
    }

    /// Periodic: a connected side learns the decision in bounded time.
    pub(crate) fn invitations_sweep(&mut self) {
        let now = self.now;
        let connected_since = |s: &Sim, node: usize| {
            (s.clients[node].state == State::Connected)
                .then_some(s.clients[node].ext.connected_since)
                .flatten()
        };
        for i in 0..self.invs.len() {
            let rec = &self.invs[i];
            let Some((rx, _)) = rec.rx_last else { continue };
            let decided = rx + DECIDED_WITHIN_MS;
            if now < decided + LEARN_WITHIN_MS {
                continue;
            }
            let late = |since: Option<u64>| {
                since.is_some_and(|t| now >= t.max(decided) + LEARN_WITHIN_MS && t <= decided)
            };
            let exempt =
                rec.resent_across_sessions && self.cfg.relax.invite_resend_after_session_loss;
            if rec.caller_end.is_none() && !exempt && late(connected_since(self, rec.caller_node)) {
                let n = self.node_name(rec.caller_node);
                self.violation(format!(
                    "invitation #{i}: the server got it at {rx} ms; its caller {n} has been connected since before {decided} ms and it is still not over"
                ));
                return;
            }
            for v in &rec.callees {
                if v.end.is_none() && late(connected_since(self, v.node)) {
                    let n = self.node_name(v.node);
                    self.violation(format!(
                        "invitation #{i}: the server got it at {rx} ms; callee {n} received it and has been connected since before {decided} ms, and it is still not over there"
                    ));
                    return;
                }
            }
        }
    }

    /// Reasons invitations have not converged yet: every sent invitation over on its
    /// caller, every received one over on its callee.
    pub(crate) fn invitations_unconverged(&self, why: &mut Vec<String>, limit: usize) {
        let relax = self.cfg.relax.invite_resend_after_session_loss;
        for (i, rec) in self.invs.iter().enumerate() {
            if rec.caller_end.is_none() && !(relax && rec.resent_across_sessions) {
                why.push(format!(
                    "invitation #{i} sent by {} at {} ms is not over on the caller",
                    self.node_name(rec.caller_node),
                    rec.sent_at
                ));
            } else if let Some(v) = rec.callees.iter().find(|v| v.end.is_none()) {
                why.push(format!(
                    "invitation #{i} received by {} at {} ms is not over on the callee",
                    self.node_name(v.node),
                    v.received_at
                ));
            }
            if why.len() >= limit {
                return;
            }
        }
    }

    /// At the end: invitations no callee received agree too; probes ended accepted.
    pub(crate) fn invitations_final(&mut self) {
        for i in 0..self.invs.len() {
            if self.invs[i].callees.is_empty() {
                self.check_pair(i, None);
            }
            let rec = &self.invs[i];
            if rec.probe {
                let ok =
                    matches!(
                        rec.caller_end.as_ref().map(|e| &e.how),
                        Some(CallerEnd::Accepted(_))
                    ) && rec.callees.iter().all(|v| {
                        matches!(v.end.as_ref().map(|e| &e.how), Some(CalleeEnd::Accepted))
                    }) && !rec.callees.is_empty();
                if !ok {
                    let caller = self.node_name(rec.caller_node);
                    let c = rec.caller_end.as_ref().map(|e| e.how.clone());
                    let r: Vec<_> = rec
                        .callees
                        .iter()
                        .map(|v| v.end.as_ref().map(|e| e.how.clone()))
                        .collect();
                    self.violation(format!(
                        "probe invitation #{i} from {caller} in a healed network ended {c:?} / {r:?}, expected accepted on both sides"
                    ));
                    return;
                }
            }
            if self.failure.is_some() {
                return;
            }
        }
    }

    /// Probes: each connected user invites the next one, who accepts.
    pub(crate) fn invitation_probes(&mut self, rotation: &[(usize, usize)]) {
        if self.cfg.knobs.action_weights[crate::config::Action::Invite as usize] == 0 {
            return;
        }
        for &(node, to) in rotation {
            self.do_invite(node, to, true);
        }
    }

    /// Misuse of the invitation API the client must refuse (§4.10 InvitationApiCallError).
    /// The invitations made here are never sent, so they never produce events.
    pub(crate) fn invitation_misuse(&mut self, node: usize) -> (String, bool) {
        let now = ts(self.now);
        let which = self.work.below(3);
        let c = &mut self.clients[node].client;
        match which {
            0 => {
                let r = c.create_local_invitation("null");
                (
                    format!("createLocalInvitation(\"null\") = {r:?}"),
                    r == Err(E::InvalidArgument),
                )
            }
            1 => {
                let Ok(id) = c.create_local_invitation("someone") else {
                    return ("createLocalInvitation(\"someone\") failed".into(), false);
                };
                let r = c.cancel_local_invitation(now, id);
                (
                    format!("cancel of an unsent invitation = {r:?}"),
                    r == Err(E::NotStarted),
                )
            }
            _ => {
                let Ok(id) = c.create_local_invitation("someone") else {
                    return ("createLocalInvitation(\"someone\") failed".into(), false);
                };
                let big = "x".repeat(rtm_proto::invitation::MAX_CONTENT_BYTES + 1);
                let set = c.set_local_invitation_content(id, &big);
                let r = c.send_local_invitation(now, id);
                (
                    format!("send with 8 KB + 1 of content = {set:?} / {r:?}"),
                    set.is_ok() && r == Err(E::InvalidArgument),
                )
            }
        }
    }
}
