//! The invariants checked after every server step, and the once-a-second comparison of
//! what the server holds with the model.

// One `impl Sim` split by concern: the parent module's types and imports are shared.
use super::*;

impl Sim {
    pub(super) fn after_client_step(&mut self, node: usize) {
        let n = &self.clients[node];
        let actual = n.client.connection_state();
        if actual != n.state {
            let name = self.node_name(node);
            self.violation(format!(
                "{name}: connection_state() is {actual:?} but its events say {:?}",
                n.state
            ));
            return;
        }
        if n.open_transports > 1 {
            let name = self.node_name(node);
            let k = n.open_transports;
            self.violation(format!("{name} holds {k} open transports (leak)"));
            return;
        }
        // After `logout` the client drains its link (the server's answers to what it sent
        // before still arrive) for at most the core's LOGOUT_DRAIN; otherwise a DISCONNECTED or
        // ABORTED client holds no transport.
        let draining = n.state == State::Disconnected
            && self.now <= n.disconnected_at + rtm_proto::client::LOGOUT_DRAIN.as_millis() as u64;
        if matches!(n.state, State::Disconnected | State::Aborted)
            && n.open_transports != 0
            && !draining
        {
            let name = self.node_name(node);
            let s = n.state;
            self.violation(format!("{name} is {s:?} but still holds a transport"));
        }
    }

    pub(super) fn after_server_step(&mut self) {
        if !self.server_up {
            return;
        }
        let stats = self.server.stats();
        if stats.connections != self.server_open_count {
            self.violation(format!(
                "server holds {} connections, the network says {} are open to it (leak or lost close)",
                stats.connections, self.server_open_count
            ));
            return;
        }
        let users = self.users.len();
        if stats.sessions > users {
            self.violation(format!(
                "server holds {} sessions for {users} users",
                stats.sessions
            ));
        }
        if stats.subscriptions > users * users {
            self.violation(format!(
                "server holds {} subscriptions",
                stats.subscriptions
            ));
        }
        if stats.offline_messages > self.server_cfg.offline_per_user * users {
            self.violation(format!(
                "offline store holds {} messages, over {} per user",
                stats.offline_messages, self.server_cfg.offline_per_user
            ));
        }
        let full_sweep = self.affected.is_none();
        let held_check = full_sweep && self.now >= self.next_held_check;
        if held_check {
            self.next_held_check = self.now + 1_000;
        }
        match self.affected.take() {
            None => {
                for u in 0..self.users.len() {
                    self.update_truth(u);
                    self.check_session(u);
                    if held_check {
                        self.check_held_session(u);
                    }
                }
            }
            Some(mut v) => {
                v.sort_unstable();
                v.dedup();
                for &u in &v {
                    self.update_truth(u);
                    self.check_session(u);
                }
                v.clear();
                self.affected = Some(v);
            }
        }
        if self.affected.is_none() {
            self.affected = Some(Vec::new());
        }
        if self.step_tick {
            self.channel_gc();
        }
        if held_check {
            self.check_channel_members();
        }
        let model = self.chans.iter().filter(|c| c.exists).count();
        if stats.channels != model {
            let mine: Vec<String> = self
                .chans
                .iter()
                .filter(|c| c.exists)
                .map(|c| c.id.to_string())
                .collect();
            self.violation(format!(
                "server holds {} channels, the model expects {model} ({mine:?})",
                stats.channels
            ));
        }
        self.follow_lags();
    }

    pub(crate) fn update_truth(&mut self, u: usize) {
        let st = if self.server_up {
            self.server.observe().peer_state(&self.users[u].id)
        } else {
            PeerOnlineState::Offline
        };
        let now = self.now;
        let user = &mut self.users[u];
        if user.record(&mut self.truth_seq, now, st) && st == PeerOnlineState::Unreachable {
            if let Some(s) = &mut user.session {
                s.recovered = false;
            }
        }
    }

    /// The liveness reference (§2.4) for one user: the server's presence must match the
    /// session the model expects and the time since the server last heard from it.
    pub(crate) fn check_session(&mut self, u: usize) {
        if !self.server_up {
            return;
        }
        let st = self.server.observe().peer_state(&self.users[u].id);
        let now = self.now;
        let id = self.users[u].id.clone();
        let (unreach, offline) = (
            self.server_cfg.unreachable_after.as_millis() as u64,
            self.server_cfg.offline_after.as_millis() as u64,
        );
        match &self.users[u].session {
            None => {
                if st != PeerOnlineState::Offline {
                    self.violation(format!(
                        "server says {id} is {st:?}, but it has no session (logged out, never logged in, or expired)"
                    ));
                }
            }
            Some(s) => {
                let silent = now.saturating_sub(s.last_rx);
                if st == PeerOnlineState::Offline {
                    if silent > offline {
                        // Expired, as it should.
                        if let Some(old) = self.users[u].session.take() {
                            self.session_ended(u, &old);
                        }
                    } else {
                        self.violation(format!(
                            "server ended the session of {id} after only {silent} ms of silence"
                        ));
                    }
                } else if silent > offline + 2 {
                    self.violation(format!(
                        "session of {id} outlived {silent} ms of silence (limit {offline} ms, §2.4)"
                    ));
                } else if silent > unreach + 2 && st == PeerOnlineState::Online {
                    if s.recovered && self.cfg.relax.unreachable_after_recovery {
                        return;
                    }
                    self.violation(format!(
                        "{id} is ONLINE after {silent} ms of silence (UNREACHABLE after {unreach} ms, §2.4)"
                    ));
                } else if silent <= unreach && st == PeerOnlineState::Unreachable {
                    self.violation(format!(
                        "{id} is UNREACHABLE although the server heard from it {silent} ms ago"
                    ));
                }
            }
        }
    }

    /// At every full sweep (a divergence persists; once a simulated second keeps the
    /// per-step cost down): the session the server holds for `u` is the one the model
    /// follows (same id), and holds the attributes the model's writes left (§4.5). A write's
    /// own step is checked where it is handled.
    fn check_held_session(&mut self, u: usize) {
        let Some(s) = self.users[u].session.as_ref().filter(|_| self.server_up) else {
            return;
        };
        let id = &self.users[u].id;
        let observe = self.server.observe();
        let (sid, attrs) = (observe.session_id(id), observe.user_attributes(id));
        if sid != Some(s.sid.as_str()) {
            self.violation(format!(
                "server holds session {sid:?} for {id}; the model follows {}",
                s.sid
            ));
        } else if attrs != Some(&self.users[u].attrs) {
            self.violation(format!(
                "server holds user attributes {attrs:?} for {id}; the model has {:?}",
                self.users[u].attrs
            ));
        }
    }
}
