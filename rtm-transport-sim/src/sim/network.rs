//! The simulated network under the nodes: connects, frames and closes in flight, faults
//! applied to them, and their delivery to the server and the clients.

// One `impl Sim` split by concern: the parent module's types and imports are shared.
use super::*;

impl Sim {
    pub(crate) fn latency(&mut self) -> u64 {
        let k = &self.cfg.knobs;
        let (base, jitter) = (k.latency_ms, k.jitter_ms);
        base + self.net.below(jitter + 1)
    }

    /// Makes sure a pump is scheduled for a direction that has items.
    pub(crate) fn ensure_pump(&mut self, conn: u64, up: bool) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let dir = if up { &mut c.up } else { &mut c.down };
        let Some(t) = dir.next_time(now) else { return };
        if dir.pump_at.is_some_and(|p| p <= t) {
            return;
        }
        dir.pump_at = Some(t);
        self.schedule(t, Ev::Pump { conn, up, at: t });
    }

    /// Queues an item on one direction; closes the connection if its queue overflows (the
    /// simulated driver's bounded buffer).
    pub(crate) fn send_on(&mut self, conn: u64, up: bool, item: Item) {
        let delay = self.latency();
        let now = self.now;
        let cap = self.cfg.knobs.link_queue_cap;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let dir = if up { &mut c.up } else { &mut c.down };
        if !dir.push(now, delay, item) {
            return;
        }
        if dir.queue.len() > cap {
            self.stats.driver_closes += 1;
            self.note(format!(
                "c{conn} {} queue over {cap}: driver closes the slow connection",
                if up { "up" } else { "down" }
            ));
            self.reset_conn(conn);
            return;
        }
        self.ensure_pump(conn, up);
    }

    /// Both ends of `conn` learn it closed (RST); everything in flight is lost.
    pub(crate) fn reset_conn(&mut self, conn: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for dir in [&mut c.up, &mut c.down] {
            dir.queue.clear();
            dir.blackholed = false;
            dir.stalled_until = 0;
            dir.throttle_until = 0;
        }
        let (client_open, server_open) = (c.client_open, c.server_open);
        if client_open {
            self.send_on(conn, false, Item::Fin);
        }
        if server_open {
            self.send_on(conn, true, Item::Fin);
        }
    }

    pub(super) fn pump(&mut self, conn: u64, up: bool, at: u64) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let dir = if up { &mut c.up } else { &mut c.down };
        if dir.pump_at != Some(at) {
            return; // superseded
        }
        dir.pump_at = None;
        let Some(t) = dir.next_time(now) else {
            self.maybe_remove(conn);
            return;
        };
        if t > now {
            dir.pump_at = Some(t);
            self.schedule(t, Ev::Pump { conn, up, at: t });
            return;
        }
        let (_, item) = dir.queue.pop_front().expect("next_time saw an item");
        if dir.throttle_until > now {
            dir.next_free = now + dir.throttle_ms;
        }
        if let Some(t2) = dir.next_time(now) {
            dir.pump_at = Some(t2);
            self.schedule(t2, Ev::Pump { conn, up, at: t2 });
        }
        if up {
            self.deliver_up(conn, item);
        } else {
            self.deliver_down(conn, item);
        }
        self.maybe_remove(conn);
    }

    pub(super) fn maybe_remove(&mut self, conn: u64) {
        if self.conns.get(&conn).is_some_and(Conn::is_dead) {
            let c = self.conns.remove(&conn).expect("checked");
            self.by_transport.remove(&(c.node, c.transport));
        }
    }

    fn deliver_up(&mut self, conn: u64, item: Item) {
        match item {
            Item::Syn => self.syn_arrives(conn),
            Item::Frame(b) => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if !c.server_open {
                    return; // the server closed or forgot it: dropped
                }
                let bound = c.bound;
                let node = c.node;
                self.stats.frames += 1;
                let ty = frame_type(&b);
                let mut logout = false;
                if ty == b"login" {
                    match ClientFrame::decode(&b) {
                        Ok(ClientFrame::Login(LoginFrame { uid, resume, .. })) => {
                            let Some(&u) = self.user_index.get(&uid) else {
                                self.violation(format!("login for unknown user {uid}"));
                                return;
                            };
                            let c = self.conns.get_mut(&conn).expect("present");
                            c.login = Some((u, resume));
                            self.affect(u);
                        }
                        _ => {
                            let n = self.node_name(node);
                            self.violation(format!("{n} sent a login frame that does not decode"));
                            return;
                        }
                    }
                } else if ty == b"logout" {
                    logout = true;
                } else if let Some(u) = bound.filter(|_| crate::channels::watched_request(ty)) {
                    self.watch_request(conn, node, u, &b);
                } else if ty.is_empty() {
                    let n = self.node_name(node);
                    self.violation(format!("{n} sent a frame without a leading type tag"));
                    return;
                }
                if let Some(u) = bound {
                    let now = self.now;
                    let user = &mut self.users[u];
                    if user.session.is_some()
                        && user.session_conns.len() < 64
                        && !user.session_conns.iter().any(|&(k, _)| k == conn)
                    {
                        user.session_conns.push((conn, now));
                    }
                    let was_unreachable = user.current().state == PeerOnlineState::Unreachable;
                    if let Some(s) = &mut user.session {
                        s.last_rx = now;
                        // The server hears from the session: it is ONLINE at this instant
                        // (even if this very frame then logs it out).
                        if was_unreachable {
                            s.recovered = true;
                            user.record(&mut self.truth_seq, now, PeerOnlineState::Online);
                        }
                    }
                    self.affect(u);
                }
                if ty == b"peer_message" && self.server_out_seq > 0 {
                    self.note_send_handled(&b);
                }
                self.step_conn = Some(conn);
                self.server_input(
                    ServerInput::Frame(ConnId(conn), b.clone()),
                    ServerInRec::Frame(conn, b),
                );
                if logout {
                    if let Some(u) = bound {
                        // §2.4: logout is immediate.
                        if let Some(old) = self.users[u].session.take() {
                            self.session_ended(u, &old);
                        }
                    }
                }
            }
            Item::Fin => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if c.server_open {
                    c.server_open = false;
                    self.server_open_count -= 1;
                    self.server_input(ServerInput::Closed(ConnId(conn)), ServerInRec::Closed(conn));
                }
            }
            Item::Open => unreachable!("Open travels server→client"),
        }
    }

    fn syn_arrives(&mut self, conn: u64) {
        let node = match self.conns.get(&conn) {
            Some(c) if c.client_open => c.node,
            Some(_) => return, // the client gave up already; the server never sees it
            None => return,
        };
        let refuse_window = self.clients[node].refuse_until > self.now;
        if !self.server_up {
            if self.crash_kind == CrashKind::Host {
                return; // nothing answers
            }
            self.refuse(conn);
            return;
        }
        if refuse_window || (self.refuse_p > 0.0 && self.net.chance(self.refuse_p)) {
            self.refuse(conn);
            return;
        }
        let c = self.conns.get_mut(&conn).expect("present");
        c.server_open = true;
        c.incarnation = self.incarnation;
        self.server_open_count += 1;
        // One source address per simulated client.
        let source = std::net::IpAddr::from([10, 0, (node >> 8) as u8, node as u8]);
        self.server_input(
            ServerInput::Opened(ConnId(conn), Some(source)),
            ServerInRec::Opened(conn),
        );
        self.send_on(conn, false, Item::Open);
    }

    pub(crate) fn refuse(&mut self, conn: u64) {
        self.stats.refused += 1;
        let d = self.latency();
        self.schedule(self.now + d, Ev::Refused { conn });
    }

    pub(super) fn refused(&mut self, conn: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.client_open {
            return;
        }
        c.client_open = false;
        let (node, t) = (c.node, c.transport);
        self.clients[node].open_transports -= 1;
        self.client_input(
            node,
            ClientInput::Closed(rtm_proto::TransportId(t)),
            ClientInRec::Closed(t),
        );
        self.maybe_remove(conn);
    }

    fn deliver_down(&mut self, conn: u64, item: Item) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.client_open {
            return;
        }
        let (node, t) = (c.node, c.transport);
        let tid = rtm_proto::TransportId(t);
        match item {
            Item::Open => self.client_input(node, ClientInput::Opened(tid), ClientInRec::Opened(t)),
            Item::Frame(b) => {
                self.stats.frames += 1;
                // Incarnation k was started after k-1 crashes.
                self.clients[node].rx_crash = self.conns[&conn].incarnation.saturating_sub(1);
                self.clients[node].rx_conn = conn;
                if frame_type(&b) == b"login_ok" {
                    if let Ok(ServerFrame::Reply(Reply::LoginOk { session, .. })) =
                        ServerFrame::decode(&b)
                    {
                        let inc = self.conns[&conn].incarnation;
                        self.clients[node].session = (inc, sid_hash(&session));
                    }
                }
                self.peek_not_stored(node, &b);
                self.client_input(
                    node,
                    ClientInput::Frame(tid, b.clone()),
                    ClientInRec::Frame(t, b),
                );
            }
            Item::Fin => {
                c.client_open = false;
                self.clients[node].open_transports -= 1;
                self.client_input(node, ClientInput::Closed(tid), ClientInRec::Closed(t));
            }
            Item::Syn => unreachable!("Syn travels client→server"),
        }
    }
}
