//! What the nodes ask for: the server's and the clients' outputs carried out (frames sent,
//! connections opened and closed, timers armed) and traced.

// One `impl Sim` split by concern: the parent module's types and imports are shared.
use super::*;

impl Sim {
    pub(super) fn server_output(&mut self, out: ServerOutput) {
        self.trace
            .push(self.now, Rec::ServerOut { out: out.clone() });
        match out {
            ServerOutput::Send { conn, frame } => {
                let ok = self.conns.get(&conn.0).is_some_and(|c| c.server_open);
                if !ok {
                    self.violation(format!(
                        "server sent a frame on c{} which it does not hold (closed, forgotten or never opened)",
                        conn.0
                    ));
                    return;
                }
                if frame.len() > MAX_FRAME_BYTES {
                    self.violation(format!(
                        "server sent a {}-byte frame; clients refuse frames over {MAX_FRAME_BYTES} bytes",
                        frame.len()
                    ));
                    return;
                }
                let ty = frame_type(&frame);
                if ty == b"message" || ty == b"error" {
                    self.server_out_seq += 1;
                    self.note_message_frame(conn.0, ty == b"message", &frame);
                }
                if ty == b"login_ok" {
                    self.on_login_ok(conn.0);
                } else if ty == b"kicked" {
                    if let Ok(ServerFrame::Notice(Notice::Kicked { reason })) =
                        ServerFrame::decode(&frame)
                    {
                        self.on_kicked(conn.0, reason);
                    }
                } else if ty.is_empty() {
                    self.violation("server sent a frame without a leading type tag".into());
                } else if self.step_req.is_some() {
                    self.capture_answer(conn.0, ty, &frame);
                } else if ty == b"member_count" {
                    self.count_pushed(conn.0, &frame);
                }
                self.send_on(conn.0, false, Item::Frame(frame));
            }
            ServerOutput::Close { conn, .. } => {
                let Some(c) = self.conns.get_mut(&conn.0) else {
                    self.violation(format!("server closed unknown connection c{}", conn.0));
                    return;
                };
                if !c.server_open {
                    self.violation(format!("server closed c{} twice or after Closed", conn.0));
                    return;
                }
                c.server_open = false;
                self.server_open_count -= 1;
                self.send_on(conn.0, false, Item::Fin);
            }
            ServerOutput::Storage(op) => self.store_op(op),
            // The simulated world makes no REST calls.
            ServerOutput::AdminReply(_) => {}
            // Nor media calls, and its store holds no media records: no media op is due.
            ServerOutput::Media(op) => self.violation(format!(
                "server asked for a media operation unprompted: {op:?}"
            )),
        }
    }

    /// The server accepted a login on `conn`. Which session it is (the one the model
    /// holds, resumed, or a new one replacing it) is observed from the server, not read
    /// from the frame.
    fn on_login_ok(&mut self, conn: u64) {
        let login = self
            .conns
            .get(&conn)
            .and_then(|c| c.login.as_ref().map(|l| l.0));
        let Some(u) = login else {
            self.violation(format!(
                "server sent login_ok on c{conn} which sent no login"
            ));
            return;
        };
        let node = self.conns[&conn].node;
        self.conns.get_mut(&conn).expect("present").bound = Some(u);
        self.affect(u);
        let now = self.now;
        let Some(sid) = self.server.observe().session_id(&self.users[u].id) else {
            let id = self.users[u].id.clone();
            self.violation(format!(
                "server accepted a login of {id} and holds no session"
            ));
            return;
        };
        let sid = sid.to_owned();
        let user = &mut self.users[u];
        let resumed = user.session.as_ref().is_some_and(|s| s.sid == sid);
        let ended = user.ended_sids.contains(&sid);
        if resumed || ended {
            match &mut user.session {
                Some(s) if s.sid == sid => {
                    s.last_rx = now;
                    if user
                        .truth
                        .back()
                        .is_some_and(|e| e.state == PeerOnlineState::Unreachable)
                    {
                        s.recovered = true;
                    }
                }
                _ => {
                    let id = user.id.clone();
                    self.violation(format!(
                        "server resumed a session of {id} that the model says does not exist"
                    ));
                }
            }
        } else {
            let old = user.session.replace(SessModel {
                sid,
                node,
                last_rx: now,
                recovered: false,
            });
            if let Some(old) = old {
                // Replaced by this newer login: kicked (§2.7).
                if user.kicked_sids.len() < 100_000 {
                    user.kicked_sids.insert(old.sid.clone());
                }
                self.session_ended(u, &old);
            }
            self.session_started(u);
        }
    }

    fn on_kicked(&mut self, conn: u64, reason: KickReason) {
        self.stats.kicks += 1;
        let (kicked_node, victim_live, bound) = {
            let c = &self.conns[&conn];
            (c.node, c.client_open, c.bound)
        };
        if self.step_conn == Some(conn) {
            // The login itself is refused: it tried to resume a session this server ended
            // on its own (a tombstone), with the reason it was ended for.
            let login = self.conns[&conn].login.clone();
            let ok = login.is_some_and(|(u, sid)| {
                sid.is_some_and(|sid| match reason {
                    KickReason::RemoteLogin => self.users[u].kicked_sids.contains(&sid),
                    KickReason::BannedByServer => self.users[u].banned_sids.contains(&sid),
                    KickReason::TokenExpired => false,
                })
            });
            if !ok {
                self.violation(format!(
                    "server refused a login on c{conn} with kicked({reason:?}), but never ended that session for that reason"
                ));
            }
            return;
        }
        match reason {
            KickReason::RemoteLogin => {}
            KickReason::BannedByServer => {
                if self.banning.is_none() || self.banning != bound {
                    self.violation(format!("kicked(BannedByServer) on c{conn} without a ban"));
                }
                return;
            }
            KickReason::TokenExpired => {
                self.violation("kicked(TokenExpired) in app-id-only mode".into());
                return;
            }
        }
        let Some(kicker) = self.step_conn.and_then(|c| self.conns.get(&c)) else {
            self.violation("REMOTE_LOGIN kick outside a login".into());
            return;
        };
        let kicker_node = kicker.node;
        let kicker_live = kicker.client_open;
        // A resume of a session this server incarnation had itself kicked (a newer login
        // replaced it): it must be refused, not allowed to kick the newer session. (A resume
        // of a session that expired, or that a crashed incarnation held, is a fresh login
        // and legitimately wins, §2.7.)
        let resume = kicker.login.as_ref().is_some_and(|(u, r)| {
            r.as_ref()
                .is_some_and(|sid| self.users[*u].kicked_sids.contains(sid))
        });
        // A kick that lands on a connection its client already abandoned is harmless (the
        // newer login legitimately replaces a stale session).
        let problem = if !victim_live {
            None
        } else if kicker_node == kicked_node && !kicker_live {
            Some(format!(
                "self-kick: a stale login of {} on an abandoned connection kicked its own live session (REMOTE_LOGIN with no other device)",
                self.node_name(kicked_node)
            ))
        } else if resume {
            Some(format!(
                "automatic re-login of {} resumed a session the server had already kicked, and kicked the newer session of {}",
                self.node_name(kicker_node),
                self.node_name(kicked_node)
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            if self.cfg.relax.stale_login_self_kick && kicker_node == kicked_node {
                self.stats.self_kicks_relaxed += 1;
                self.note(format!("(relaxed stale_login_self_kick) {p}"));
            } else {
                self.violation(p);
            }
        }
    }

    pub(super) fn client_output(&mut self, node: usize, out: ClientOutput) {
        match out {
            ClientOutput::Connect(t) => {
                let n = &mut self.clients[node];
                if t.0 <= n.last_transport {
                    let name = self.node_name(node);
                    self.violation(format!("{name} reused transport id t{}", t.0));
                    return;
                }
                n.last_transport = t.0;
                n.open_transports += 1;
                self.stats.connects += 1;
                let id = self.next_conn;
                self.next_conn += 1;
                self.conns.insert(
                    id,
                    Conn {
                        id,
                        node,
                        transport: t.0,
                        incarnation: 0,
                        client_open: true,
                        server_open: false,
                        login: None,
                        bound: None,
                        up: Default::default(),
                        down: Default::default(),
                    },
                );
                self.by_transport.insert((node, t.0), id);
                self.apply_partition(node, id);
                self.send_on(id, true, Item::Syn);
            }
            ClientOutput::Send(t, b) => {
                let conn = self.by_transport.get(&(node, t.0)).copied();
                let open = conn
                    .and_then(|c| self.conns.get(&c))
                    .is_some_and(|c| c.client_open);
                if !open {
                    let name = self.node_name(node);
                    self.violation(format!(
                        "{name} sent on transport t{} which is not open",
                        t.0
                    ));
                    return;
                }
                if b.len() > MAX_FRAME_BYTES {
                    let name = self.node_name(node);
                    self.violation(format!(
                        "{name} sent a {}-byte frame; the server refuses frames over {MAX_FRAME_BYTES} bytes (TOO_BIG) although the message passed the client's own validation",
                        b.len()
                    ));
                    return;
                }
                if frame_type(&b) == b"join" {
                    self.rejoin_sent(node, &b);
                }
                self.send_on(conn.expect("open"), true, Item::Frame(b));
            }
            // The workload uploads and downloads nothing.
            ClientOutput::Transfer(order) => {
                let name = self.node_name(node);
                self.violation(format!("{name} ordered a transfer unprompted: {order:?}"));
            }
            ClientOutput::Close(t, _code) => {
                let conn = self.by_transport.get(&(node, t.0)).copied();
                let Some(conn) = conn.filter(|c| self.conns.get(c).is_some_and(|c| c.client_open))
                else {
                    if self.cfg.relax.close_after_closed_in_drain
                        && self.clients[node].state == State::Disconnected
                        && t.0 <= self.clients[node].last_transport
                    {
                        self.stats.close_after_closed_relaxed += 1;
                        return;
                    }
                    let name = self.node_name(node);
                    self.violation(format!(
                        "{name} closed transport t{} which is not open (already closed, or never opened)",
                        t.0
                    ));
                    return;
                };
                self.conns.get_mut(&conn).expect("present").client_open = false;
                self.clients[node].open_transports -= 1;
                self.send_on(conn, true, Item::Fin);
                self.maybe_remove(conn);
            }
            ClientOutput::Event(e) => self.on_event(node, e),
        }
    }
}
