//! The events the clients emit, checked against the reference model as they happen.

// One `impl Sim` split by concern: the parent module's types and imports are shared.
use super::*;

/// Peer messages a client remembers as delivered (`DELIVERED_MEMORY` in the client's
/// `stream.rs`): a redelivery to the same node after more is not deduplicated.
const CLIENT_DELIVERED_MEMORY: u64 = 4096;

impl Sim {
    pub(super) fn on_event(&mut self, node: usize, e: Event) {
        match e {
            Event::ConnectionStateChanged { state, reason } => {
                if matches!(state, State::Disconnected | State::Aborted) {
                    self.channels_forgotten(node);
                }
                let prev = self.clients[node].state;
                if !allowed_transition(prev, state, reason) {
                    let n = self.node_name(node);
                    self.violation(format!(
                        "{n}: connection state {prev:?} -> {state:?} ({reason:?}) is not allowed by §2.3"
                    ));
                }
                let n = &mut self.clients[node];
                n.state = state;
                n.ext.connected_since = if state == State::Connected {
                    n.ext.connected_since.or(Some(self.now))
                } else {
                    None
                };
                if state == State::Disconnected {
                    n.subs.clear();
                    n.uncertain.clear();
                    n.disconnected_at = self.now;
                }
                if state == State::Aborted {
                    // The application reacts soon (logs out).
                    n.work_gen += 1;
                    let gen = n.work_gen;
                    let d = self.work.range(50, 1_500);
                    self.schedule(self.now + d, Ev::Work { node, gen });
                }
            }
            Event::MessageFromPeer {
                peer_id,
                message,
                server_received_ts,
                is_offline_message: _,
            } => self.on_message(node, peer_id, message, server_received_ts),
            Event::PeersOnlineStatusChanged(map) => {
                self.stats.presence_reports += 1;
                for (peer, state) in map {
                    self.on_presence(node, &peer, state);
                }
            }
            Event::TokenExpired | Event::TokenPrivilegeWillExpire => {
                let n = self.node_name(node);
                self.violation(format!("{n}: token event {e:?} in app-id-only mode"));
            }
            Event::Response { request, response } => self.on_response(node, request.0, response),
            Event::Channel { channel, event } => match event {
                ChannelEvent::Message {
                    member_id,
                    message,
                    server_received_ts,
                } => self.on_channel_message(node, channel, member_id, message, server_received_ts),
                ChannelEvent::MemberJoined { member_id } => {
                    self.on_member_event(node, channel, member_id, true)
                }
                ChannelEvent::MemberLeft { member_id } => {
                    self.on_member_event(node, channel, member_id, false)
                }
                ChannelEvent::MemberCountUpdated { count } => {
                    self.on_member_count(node, channel, count)
                }
                ChannelEvent::AttributesUpdated { attributes } => {
                    self.on_attributes_updated(node, channel, attributes)
                }
                // `ChannelEvent` is non-exhaustive too.
                other => {
                    let n = self.node_name(node);
                    self.violation(format!(
                        "{n}: a channel event the model does not check: {other:?}"
                    ));
                }
            },
            e @ (Event::LocalInvitation { .. } | Event::RemoteInvitation { .. }) => {
                self.on_invitation_event(node, e)
            }
            // `Event` is non-exhaustive: an event the model has no rule for is a finding.
            other => {
                let n = self.node_name(node);
                self.violation(format!("{n}: an event the model does not check: {other:?}"));
            }
        }
    }

    fn on_message(&mut self, node: usize, peer: UserId, message: Message, server_ts: u64) {
        self.stats.deliveries += 1;
        let name = self.node_name(node);
        if self.clients[node].state != State::Connected {
            self.violation(format!(
                "{name} delivered a message while {:?}",
                self.clients[node].state
            ));
        }
        let Some(idx) = parse_body(&message) else {
            self.violation(format!(
                "{name} delivered a message the workload never sent: {message:?}"
            ));
            return;
        };
        let Some(m) = self.msgs.get(idx) else {
            self.violation(format!("{name} delivered unknown message #{idx}"));
            return;
        };
        let user = self.clients[node].user;
        if m.to != user {
            self.violation(format!(
                "{name} delivered message #{idx} addressed to another user"
            ));
            return;
        }
        if self.users[m.from_user].id != peer {
            self.violation(format!(
                "{name} delivered message #{idx} from {peer}, but {} sent it",
                self.users[m.from_user].id
            ));
            return;
        }
        let (raw, len) = body_shape(&message);
        if raw != m.raw || len != m.len {
            self.violation(format!(
                "{name} delivered message #{idx} with a corrupted body"
            ));
            return;
        }
        let sent_wall = UNIX_ORIGIN_MS + m.sent_at;
        if server_ts < sent_wall || server_ts > UNIX_ORIGIN_MS + self.now {
            self.violation(format!(
                "{name}: message #{idx} has serverReceivedTs {server_ts} outside [send, now]"
            ));
        }
        let crash = self.clients[node].rx_crash;
        let here = Delivery {
            at: self.now,
            node,
            crash,
            session: self.clients[node].session,
            ordinal: self.clients[node].peer_deliveries,
        };
        self.clients[node].peer_deliveries += 1;
        let m = &self.msgs[idx];
        for d in &m.deliveries {
            if d.node == here.node {
                // The same device never shows a message twice, crash or not: the client
                // remembers the (sender, msg_id) of its last 4096 deliveries.
                if here.ordinal - d.ordinal >= CLIENT_DELIVERED_MEMORY {
                    self.stats.dup_memory_excused += 1;
                    continue;
                }
                let what = format!(
                    "message #{idx} ({} -> {}, {:?}) delivered twice to {name}: first at {} ms (session {:x}, after {} crashes), again (session {:x}, after {} crashes)",
                    self.users[m.from_user].id,
                    self.users[m.to].id,
                    m.outcome,
                    d.at,
                    d.session.1,
                    d.crash,
                    here.session.1,
                    here.crash
                );
                self.violation(what);
                return;
            }
            // Another device of the user: it cannot know what the first showed.
            if d.crash < here.crash {
                self.stats.dup_after_crash += 1;
                continue;
            }
            if d.node != here.node && self.cfg.relax.redelivery_in_new_session {
                self.stats.dup_relaxed += 1;
                continue;
            }
            let first = d.at;
            let dn = self.node_name(d.node);
            let what = format!(
                "message #{idx} ({} -> {}) delivered twice to the same user with no server crash between: first to {dn} at {first} ms (session {:x}), again to {name} (session {:x})",
                self.users[m.from_user].id, self.users[m.to].id, d.session.1, here.session.1
            );
            self.violation(what);
            return;
        }
        if m.outcome == Outcome::Unreachable
            && m.sent_crash == crash
            && m.outcome_crash == crash
            && !self.dropped_after_push(idx)
        {
            self.violation(format!(
                "message #{idx} delivered to {name} although its sender was told PEER_UNREACHABLE"
            ));
            return;
        }
        let m = &self.msgs[idx];
        // Told not stored, and pushed after the server said so (a push from before, still
        // on its way or from an older incarnation, may land).
        let pushed_after = m.pushed_seq > m.not_stored_seq;
        if let (Some(at), false) = (m.not_stored_at, pushed_after) {
            if crash < m.not_stored_crash {
                // Pushed by an older incarnation, which had taken the first send (its answer
                // lost with the crash); the new one took the resend as new.
                self.stats.not_stored_seen_across_crash += 1;
            } else {
                let what = format!(
                "message #{idx} delivered to {name} after its sender heard not-stored at {at} ms, from a push sent before that answer"
            );
                if !self.cfg.relax.not_stored_after_push {
                    self.violation(what);
                    return;
                }
                self.stats.not_stored_seen_late += 1;
                self.note(format!("(relaxed not_stored_after_push) {what}"));
            }
        }
        let m = &self.msgs[idx];
        if let (Some(at), true) = (m.not_stored_at, pushed_after) {
            if self.msgs[idx].resent_after_not_stored
                && self.cfg.relax.not_stored_resend_crosses_answer
            {
                self.stats.relaxed_not_stored_resend += 1;
                self.note(format!(
                    "(relaxed not_stored_resend_crosses_answer) message #{idx} delivered to {name} although its sender heard not-stored at {at} ms: its resend reached the server after that answer"
                ));
            } else if self.msgs[idx].late_commit_restored {
                self.stats.not_stored_delivered_excused += 1;
                self.note(format!(
                    "(excused: late commit restored) message #{idx} delivered to {name} although its sender heard not-stored at {at} ms"
                ));
            } else {
                self.violation(format!(
                    "message #{idx} delivered to {name} although its sender was told at {at} ms that the server could not store it (FAILURE), and pushed after that answer"
                ));
                return;
            }
        }
        let m = &self.msgs[idx];
        if m.outcome == Outcome::Cached && m.deliveries.is_empty() && crash > m.outcome_crash {
            self.stats.cached_delivered_after_crash += 1;
        }
        let first = m.deliveries.is_empty();
        // Order is promised within one server incarnation: a message sent before a crash
        // and resent after it (its first outcome lost with the crash) may land after later
        // ones that the old server had already delivered.
        // Likewise a message the server dropped as not stored (a failed or timed-out write):
        // its sender's client resends it when the answer was lost, and the resend is a new
        // send, behind later messages.
        let across_crash = m.sent_crash != crash || m.store_dropped;
        let (from_node, to, pair_index) = (m.from_node, m.to, m.pair_index);
        self.msgs[idx].deliveries.push(here);
        if first {
            let last = *self.pair_delivered.get(&(from_node, to)).unwrap_or(&0);
            if pair_index + 1 < last && !across_crash {
                let what = format!(
                    "message #{idx} from {} arrived after a later message to {} (pair order {pair_index} after {})",
                    self.node_name(from_node),
                    self.users[to].id,
                    last - 1
                );
                self.violation(what);
                return;
            }
            self.pair_delivered
                .insert((from_node, to), last.max(pair_index + 1));
        }
    }

    fn on_presence(&mut self, node: usize, peer: &UserId, state: PeerOnlineState) {
        let name = self.node_name(node);
        let Some(&p) = self.user_index.get(peer) else {
            self.violation(format!("{name} got presence for unknown user {peer}"));
            return;
        };
        let Some(view) = self.clients[node].subs.get(&p).copied() else {
            self.violation(format!(
                "{name} got PeersOnlineStatusChanged for {peer}, to which it is not subscribed"
            ));
            return;
        };
        match self.users[p].match_report(view.cursor, state) {
            Some(seq) => {
                let v = self.clients[node].subs.get_mut(&p).expect("present");
                v.cursor = seq;
                v.last = Some(state);
            }
            None => {
                let hist = crate::model::newest_first(&self.users[p].truth, 6, |e| {
                    format!("#{}@{}:{:?}", e.seq, e.at, e.state)
                });
                self.violation(format!(
                    "{name} was told {peer} is {state:?}, which is not a state {peer} had since its last report (cursor #{}; recent truth, newest first: {})",
                    view.cursor,
                    hist
                ));
            }
        }
    }

    fn on_response(&mut self, node: usize, rid: u32, response: Response) {
        let name = self.node_name(node);
        let Some(pend) = self.clients[node].outstanding.remove(&rid) else {
            self.violation(format!(
                "{name}: Response for request {rid} which is not outstanding (unknown or answered twice): {response:?}"
            ));
            return;
        };
        match (pend, response) {
            (Pend::Login, Response::Login(_)) | (Pend::Renew, Response::RenewToken(_)) => {}
            (Pend::Send { msg }, Response::SendMessageToPeer(r)) => {
                self.on_send_result(node, msg, r)
            }
            (
                Pend::Query {
                    peers,
                    issued,
                    probe,
                },
                Response::QueryPeersOnlineStatus(r),
            ) => {
                self.stats.queries += 1;
                match r {
                    Ok(list) => {
                        let asked: Vec<&UserId> =
                            peers.iter().map(|&p| &self.users[p].id).collect();
                        let got: Vec<&UserId> = list.iter().map(|(p, _)| p).collect();
                        if asked != got {
                            self.violation(format!(
                                "{name}: query answered {got:?} for {asked:?} (must be in request order)"
                            ));
                            return;
                        }
                        for (&p, (_, online)) in peers.iter().zip(&list) {
                            if probe {
                                let expect = self.expected_online(p);
                                if *online != expect {
                                    self.violation(format!(
                                        "{name}: probe query says {} online={online} in a healed network; expected {expect}",
                                        self.users[p].id
                                    ));
                                    return;
                                }
                            }
                            if self.users[p].online_at_some_point(issued, self.now, *online)
                                == Some(false)
                            {
                                self.violation(format!(
                                    "{name}: query says {} online={online}, which it never was between {issued} and {} ms",
                                    self.users[p].id, self.now
                                ));
                                return;
                            }
                        }
                    }
                    Err(e) if probe => self.violation(format!(
                        "{name}: probe query failed in a healed network: {e:?}"
                    )),
                    Err(_) => {}
                }
            }
            (Pend::Subscribe { peers, cursors }, Response::SubscribePeersOnlineStatus(r)) => {
                let n = &mut self.clients[node];
                match r {
                    Ok(()) => {
                        for (p, c) in peers.into_iter().zip(cursors) {
                            n.uncertain.remove(&p);
                            n.subs.entry(p).or_insert(SubView {
                                cursor: c,
                                last: None,
                            });
                        }
                    }
                    Err(_) => n.uncertain.extend(peers),
                }
            }
            (Pend::Unsubscribe { peers }, Response::UnsubscribePeersOnlineStatus(r)) => {
                let n = &mut self.clients[node];
                match r {
                    Ok(()) => {
                        for p in peers {
                            n.uncertain.remove(&p);
                            n.subs.remove(&p);
                        }
                    }
                    Err(_) => n.uncertain.extend(peers),
                }
            }
            (
                pend @ (Pend::Join { .. }
                | Pend::Leave { .. }
                | Pend::ChannelSend { .. }
                | Pend::GetMembers { .. }
                | Pend::MemberCount { .. }
                | Pend::ChannelAttrWrite
                | Pend::ChannelAttrGet { .. }
                | Pend::UserAttrWrite
                | Pend::UserAttrGet { .. }),
                response,
            ) => self.on_feature_response(node, pend, response),
            (pend, response) => self.violation(format!(
                "{name}: request {rid} was {pend:?} but got {response:?}"
            )),
        }
    }

    fn on_send_result(
        &mut self,
        node: usize,
        msg: usize,
        r: Result<PeerMessageOutcome, rtm_proto::PeerMessageError>,
    ) {
        let name = self.node_name(node);
        let now = self.now;
        // Answers from the server were produced by the incarnation that sent the frame;
        // local answers (timeouts, logout) by no server at all: use the current count.
        let crashes = match r {
            Ok(_) => self.clients[node].rx_crash,
            Err(_) => self.crashes,
        };
        let m = &mut self.msgs[msg];
        m.outcome_at = now;
        m.outcome_crash = crashes;
        let delivered = !m.deliveries.is_empty();
        let (to, probe) = (m.to, m.probe);
        let leaves_backlog = matches!(
            r,
            Ok(PeerMessageOutcome::Received | PeerMessageOutcome::Unreachable)
        ) && std::mem::replace(&mut m.in_backlog, false);
        if leaves_backlog {
            self.users[to].backlog = self.users[to].backlog.saturating_sub(1);
        }
        let m = &mut self.msgs[msg];
        match r {
            Ok(PeerMessageOutcome::Received) => {
                m.outcome = Outcome::Received;
                self.stats.received += 1;
                if !delivered {
                    self.violation(format!(
                        "{name} was told message #{msg} was received, but {} never delivered it",
                        self.users[to].id
                    ));
                }
            }
            Ok(PeerMessageOutcome::Cached) => {
                m.outcome = Outcome::Cached;
                self.stats.cached += 1;
                if !m.committed {
                    self.violation(format!(
                        "{name} was told message #{msg} was cached, but no write of its record committed"
                    ));
                }
            }
            Ok(PeerMessageOutcome::Unreachable) => {
                m.outcome = Outcome::Unreachable;
                self.stats.unreachable += 1;
                if delivered && m.sent_crash == crashes && !self.dropped_after_push(msg) {
                    self.violation(format!(
                        "{name} was told message #{msg} is PEER_UNREACHABLE, but it was delivered"
                    ));
                }
            }
            Err(e) => {
                m.outcome = Outcome::Failed(e.code());
                self.stats.failed += 1;
                if self
                    .step_not_stored
                    .is_some_and(|(n, _, i)| n == node && i == msg)
                {
                    self.step_not_stored = None;
                    let answer_crash = self.clients[node].rx_crash;
                    let m = &mut self.msgs[msg];
                    m.not_stored_at = Some(now);
                    m.not_stored_crash = answer_crash;
                    self.stats.not_stored += 1;
                    let shown_here = m.deliveries.iter().any(|d| d.crash >= answer_crash);
                    if delivered && !shown_here {
                        // Shown from an older incarnation's push; the answer is the new
                        // server's, which took the resend as a new send.
                        self.stats.not_stored_seen_across_crash += 1;
                    } else if delivered {
                        let what = format!(
                            "{name} was told message #{msg} was not stored (FAILURE), but {} had shown it already",
                            self.users[to].id
                        );
                        if !self.cfg.relax.not_stored_after_push {
                            self.violation(what);
                            return;
                        }
                        self.stats.not_stored_seen_before += 1;
                        self.note(format!("(relaxed not_stored_after_push) {what}"));
                    }
                }
            }
        }
        if probe && self.msgs[msg].outcome != Outcome::Received {
            let o = self.msgs[msg].outcome;
            self.violation(format!(
                "{name}: probe message #{msg} in a healed network got {o:?}, expected Received"
            ));
        }
    }

    /// Relaxation `not_stored_after_push`: the server dropped message `idx` as not stored
    /// (answering its sender, who may not have heard it) after pushing it to its receiver,
    /// so the sender's resend was a new send, whose outcome (PEER_UNREACHABLE for a receiver
    /// now offline) may contradict the delivery. Counted when it excuses.
    fn dropped_after_push(&mut self, idx: usize) -> bool {
        let m = &self.msgs[idx];
        let excused = self.cfg.relax.not_stored_after_push
            && m.not_stored_seq > 0
            && m.pushed_seq > 0
            && m.pushed_seq < m.not_stored_seq;
        if excused {
            self.stats.not_stored_seen_before += 1;
            self.note(format!(
                "(relaxed not_stored_after_push) message #{idx}: PEER_UNREACHABLE and delivered, after the server pushed it and then dropped it as not stored"
            ));
        }
        excused
    }

    /// Whether `user` should be online once healed.
    pub(crate) fn expected_online(&self, user: usize) -> bool {
        self.users[user]
            .nodes
            .iter()
            .any(|&n| self.clients[n].target_in)
    }
}
