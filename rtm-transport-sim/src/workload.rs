//! What the applications do (the workload), what goes wrong (faults), and the two phases of a
//! run: faults (safety), then heal and converge (liveness), then probes.

use rtm_proto::client::SendMessageOptions;
use rtm_proto::server::{Server, ServerInput};
use rtm_proto::{
    ConnectionState as State, LoginError, LogoutError, Message, PeerMessageError, PeerOnlineState,
    PeerSubscriptionStatusError, QueryPeersOnlineStatusError, RenewTokenError, Timestamp,
};

use crate::config::{Action, FaultKind};
use crate::entropy::derive;
use crate::model::Outcome;
use crate::net::Item;
use crate::sim::{CrashKind, Ev, Pend, Phase, Sim, UNIX_ORIGIN_MS};
use crate::trace::{Rec, ServerInRec};

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

impl Sim {
    pub(crate) fn cmd(&mut self, node: usize, text: String) {
        self.trace.push(
            self.now,
            Rec::ClientCmd {
                node: node as u32,
                text,
            },
        );
        self.mark_client(node);
    }

    fn logged_in(&self, node: usize) -> bool {
        matches!(
            self.clients[node].state,
            State::Connected | State::Reconnecting
        )
    }

    pub(crate) fn track(&mut self, node: usize, rid: u32, pend: Pend) {
        if self.clients[node].outstanding.insert(rid, pend).is_some() {
            let n = self.node_name(node);
            self.violation(format!(
                "{n}: request id {rid} handed out while still outstanding"
            ));
        }
    }

    pub(crate) fn unexpected(&mut self, node: usize, what: &str, err: String) {
        let n = self.node_name(node);
        let st = self.clients[node].state;
        self.violation(format!("{n}: {what} failed with {err} while {st:?}"));
    }

    // ----- commands ------------------------------------------------------------------------

    pub(crate) fn do_login(&mut self, node: usize) {
        let user = self.clients[node].user;
        let name = self.users[user].id.to_string();
        let token = if self.work.chance(0.5) {
            Some(format!("tok-{}", self.work.below(1_000_000)))
        } else {
            None
        };
        let r = self.clients[node]
            .client
            .login(ts(self.now), &name, token.as_deref());
        self.cmd(node, format!("login({name:?}, {token:?}) = {r:?}"));
        let st = self.clients[node].state;
        match r {
            Ok(rid) => {
                self.stats.logins += 1;
                if st != State::Disconnected {
                    self.unexpected(node, "login", "Ok (expected ALREADY_LOGIN)".into());
                }
                self.track(node, rid.0, Pend::Login);
            }
            Err(LoginError::AlreadyLogin) if st != State::Disconnected => {}
            Err(LoginError::TooOften) => {}
            Err(e) => self.unexpected(node, "login", format!("{e:?}")),
        }
    }

    pub(crate) fn do_logout(&mut self, node: usize) {
        let r = self.clients[node].client.logout(ts(self.now));
        self.cmd(node, format!("logout() = {r:?}"));
        let st = self.clients[node].state;
        match r {
            Ok(()) if st != State::Disconnected => {}
            Err(LogoutError::NotLoggedIn) if st == State::Disconnected => {}
            other => self.unexpected(node, "logout", format!("{other:?}")),
        }
    }

    /// Sends a message from `node` to user `to`.
    pub(crate) fn do_send(&mut self, node: usize, to: usize, offline: bool, probe: bool) {
        let Some((idx, message)) = self.new_message(node, to, offline, probe) else {
            return;
        };
        let peer = self.users[to].id.to_string();
        let opts = SendMessageOptions {
            enable_offline_messaging: offline,
        };
        let r = self.clients[node]
            .client
            .send_message_to_peer(ts(self.now), &peer, message, opts);
        self.cmd(
            node,
            format!("send #{idx} to {peer:?} offline={offline} = {r:?}"),
        );
        match r {
            Ok(rid) => {
                self.message_accepted(idx);
                self.track(node, rid.0, Pend::Send { msg: idx });
            }
            Err(e) => {
                self.message_refused(idx);
                let ok = match e {
                    PeerMessageError::NotLoggedIn => !self.logged_in(node),
                    PeerMessageError::TooOften => self.logged_in(node) && !probe,
                    _ => false,
                };
                if !ok {
                    self.unexpected(node, "sendMessageToPeer", format!("{e:?}"));
                }
            }
        }
    }

    fn random_users(&mut self, max: u64) -> Vec<usize> {
        let n = self.work.range(1, max);
        let mut v = Vec::new();
        for _ in 0..n {
            let u = self.work.below(self.users.len() as u64) as usize;
            if !v.contains(&u) {
                v.push(u);
            }
        }
        v
    }

    pub(crate) fn do_query(&mut self, node: usize, peers: Vec<usize>, probe: bool) {
        let names = self.user_names(&peers);
        let r = self.call_with_ids(node, "query", &names, |c, now, ids| {
            c.query_peers_online_status(now, ids)
        });
        match r {
            Ok(rid) => {
                let issued = self.now;
                self.track(
                    node,
                    rid.0,
                    Pend::Query {
                        peers,
                        issued,
                        probe,
                    },
                );
            }
            Err(QueryPeersOnlineStatusError::NotLoggedIn) if !self.logged_in(node) => {}
            Err(QueryPeersOnlineStatusError::TooOften) if !probe => {}
            Err(e) => self.unexpected(node, "queryPeersOnlineStatus", format!("{e:?}")),
        }
    }

    pub(crate) fn do_subscribe(&mut self, node: usize, peers: Vec<usize>) -> bool {
        let names = self.user_names(&peers);
        let r = self.call_with_ids(node, "subscribe", &names, |c, now, ids| {
            c.subscribe_peers_online_status(now, ids)
        });
        match r {
            Ok(rid) => {
                let cursors = peers.iter().map(|&p| self.users[p].current().seq).collect();
                self.track(node, rid.0, Pend::Subscribe { peers, cursors });
                true
            }
            Err(PeerSubscriptionStatusError::NotLoggedIn) if !self.logged_in(node) => false,
            Err(PeerSubscriptionStatusError::TooOften) => false,
            Err(e) => {
                self.unexpected(node, "subscribePeersOnlineStatus", format!("{e:?}"));
                false
            }
        }
    }

    fn do_unsubscribe(&mut self, node: usize, peers: Vec<usize>) {
        let names = self.user_names(&peers);
        let r = self.call_with_ids(node, "unsubscribe", &names, |c, now, ids| {
            c.unsubscribe_peers_online_status(now, ids)
        });
        match r {
            Ok(rid) => self.track(node, rid.0, Pend::Unsubscribe { peers }),
            Err(PeerSubscriptionStatusError::NotLoggedIn) if !self.logged_in(node) => {}
            Err(PeerSubscriptionStatusError::TooOften) => {}
            Err(e) => self.unexpected(node, "unsubscribePeersOnlineStatus", format!("{e:?}")),
        }
    }

    pub(crate) fn user_names(&self, users: &[usize]) -> Vec<String> {
        users
            .iter()
            .map(|&u| self.users[u].id.to_string())
            .collect()
    }

    pub(crate) fn chan_names(&self, chans: &[usize]) -> Vec<String> {
        chans
            .iter()
            .map(|&c| self.chans[c].id.to_string())
            .collect()
    }

    /// Calls a client method that takes a list of ids (`what`, for the trace) with `ids`.
    pub(crate) fn call_with_ids<R: std::fmt::Debug>(
        &mut self,
        node: usize,
        what: &str,
        ids: &[String],
        call: impl FnOnce(&mut rtm_proto::Client, Timestamp, &[&str]) -> R,
    ) -> R {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let r = call(&mut self.clients[node].client, ts(self.now), &refs);
        self.cmd(node, format!("{what}({ids:?}) = {r:?}"));
        r
    }

    fn do_renew(&mut self, node: usize) {
        let token = format!("tok-{}", self.work.below(1_000_000));
        let r = self.clients[node].client.renew_token(ts(self.now), &token);
        self.cmd(node, format!("renew_token({token:?}) = {r:?}"));
        match r {
            Ok(rid) => self.track(node, rid.0, Pend::Renew),
            Err(RenewTokenError::NotLoggedIn) if !self.logged_in(node) => {}
            Err(RenewTokenError::TooOften) => {}
            Err(e) => self.unexpected(node, "renewToken", format!("{e:?}")),
        }
    }

    /// Application misuse the client must refuse locally with the documented code.
    fn do_misuse(&mut self, node: usize) {
        let now = ts(self.now);
        let logged_in = self.logged_in(node);
        let own = self.users[self.clients[node].user].id.to_string();
        let which = self.work.below(14);
        if which >= 6 {
            let (what, ok) = if which >= 13 {
                self.invitation_misuse(node)
            } else {
                self.channel_misuse(node, which - 6)
            };
            self.cmd(node, format!("misuse: {what}"));
            if !ok {
                let n = self.node_name(node);
                self.violation(format!(
                    "{n}: misuse not refused with the documented code: {what}"
                ));
            }
            return;
        }
        let c = &mut self.clients[node].client;
        let (what, ok) = match which {
            0 => misuse_verdict(
                "send to self",
                c.send_message_to_peer(now, &own, Message::text("self"), Default::default()),
                logged_in,
                PeerMessageError::InvalidUserId,
                PeerMessageError::NotLoggedIn,
            ),
            1 => misuse_verdict(
                "send to \"null\"",
                c.send_message_to_peer(now, "null", Message::text("x"), Default::default()),
                logged_in,
                PeerMessageError::InvalidUserId,
                PeerMessageError::NotLoggedIn,
            ),
            2 => misuse_verdict(
                "send empty",
                c.send_message_to_peer(now, "u0x", Message::text(""), Default::default()),
                logged_in,
                PeerMessageError::InvalidMessage,
                PeerMessageError::NotLoggedIn,
            ),
            3 => misuse_verdict(
                "query []",
                c.query_peers_online_status(now, &[]),
                logged_in,
                QueryPeersOnlineStatusError::InvalidArgument,
                QueryPeersOnlineStatusError::NotLoggedIn,
            ),
            4 => misuse_verdict(
                "subscribe [\"a/b\"]",
                c.subscribe_peers_online_status(now, &["a/b"]),
                logged_in,
                PeerSubscriptionStatusError::InvalidArgument,
                PeerSubscriptionStatusError::NotLoggedIn,
            ),
            _ => misuse_verdict(
                "renew_token(\"\")",
                c.renew_token(now, ""),
                logged_in,
                RenewTokenError::InvalidArgument,
                RenewTokenError::NotLoggedIn,
            ),
        };
        self.cmd(node, format!("misuse: {what}"));
        if !ok {
            let n = self.node_name(node);
            self.violation(format!(
                "{n}: misuse not refused with the documented code: {what}"
            ));
        }
    }

    // ----- the workload --------------------------------------------------------------------

    pub(crate) fn work(&mut self, node: usize) {
        let mean = match self.phase {
            Phase::Faults => self.cfg.knobs.action_mean_ms,
            _ => 600,
        };
        let d = self.work.exp_ms(mean);
        let n = &mut self.clients[node];
        n.work_gen += 1;
        let gen = n.work_gen;
        self.schedule(self.now + d, Ev::Work { node, gen });
        match self.phase {
            Phase::Faults => self.random_action(node),
            Phase::Healing | Phase::Probing | Phase::ProbingFeatures => self.converge_action(node),
            Phase::Done => {}
        }
    }

    fn random_action(&mut self, node: usize) {
        let twin = self.clients[node].twin;
        match self.clients[node].state {
            State::Disconnected => {
                if self.work.chance(if twin { 0.05 } else { 0.7 }) {
                    self.do_login(node);
                }
            }
            State::Connecting => {
                if self.work.chance(0.03) {
                    self.do_logout(node);
                }
            }
            State::Aborted => {
                if self.work.chance(0.8) {
                    self.do_logout(node);
                }
            }
            State::Connected | State::Reconnecting => {
                if twin && self.work.chance(0.15) {
                    self.do_logout(node);
                    return;
                }
                let weights = self.cfg.knobs.action_weights;
                match Action::ALL[self.work.weighted(&weights)] {
                    Action::Send => {
                        let me = self.clients[node].user;
                        let mut to = self.work.below(self.users.len() as u64) as usize;
                        if to == me {
                            to = (to + 1) % self.users.len();
                        }
                        let offline = self.work.chance(self.cfg.knobs.offline_p);
                        self.do_send(node, to, offline, false);
                    }
                    Action::Subscribe => {
                        let peers = self.random_users(4);
                        self.do_subscribe(node, peers);
                    }
                    Action::Unsubscribe => {
                        let subs: Vec<usize> = self.clients[node].subs.keys().copied().collect();
                        let peers = if !subs.is_empty() && self.work.chance(0.7) {
                            vec![subs[self.work.below(subs.len() as u64) as usize]]
                        } else {
                            self.random_users(3)
                        };
                        self.do_unsubscribe(node, peers);
                    }
                    Action::Query => {
                        let peers = self.random_users(6);
                        self.do_query(node, peers, false);
                    }
                    Action::Renew => self.do_renew(node),
                    Action::Logout => self.do_logout(node),
                    Action::Misuse => self.do_misuse(node),
                    Action::Invite => {
                        let me = self.clients[node].user;
                        let mut to = self.work.below(self.users.len() as u64) as usize;
                        if to == me {
                            to = (to + 1) % self.users.len();
                        }
                        self.do_invite(node, to, false);
                    }
                    a => self.channel_action(node, a),
                }
            }
        }
    }

    fn converge_action(&mut self, node: usize) {
        let st = self.clients[node].state;
        if !self.clients[node].target_in {
            if st != State::Disconnected {
                self.do_logout(node);
            }
            return;
        }
        match st {
            State::Disconnected => self.do_login(node),
            State::Aborted => self.do_logout(node),
            State::Connected => {
                if self.clients[node].subs.is_empty() && !self.clients[node].heal_subscribed {
                    let peers = self.random_users(4);
                    if self.do_subscribe(node, peers) {
                        self.clients[node].heal_subscribed = true;
                    }
                }
                self.heal_channels(node);
            }
            State::Connecting | State::Reconnecting => {}
        }
    }

    // ----- faults --------------------------------------------------------------------------

    /// One direction of a connection, at random: `up` (client→server) and its name.
    fn pick_direction(&mut self) -> (bool, &'static str) {
        if self.faults.chance(0.5) {
            (true, "client->server")
        } else {
            (false, "server->client")
        }
    }

    /// Direction `up` (client→server) or down of picked connection `c`.
    fn direction(&mut self, c: u64, up: bool) -> &mut crate::net::Dir {
        let conn = self.conns.get_mut(&c).expect("picked");
        if up {
            &mut conn.up
        } else {
            &mut conn.down
        }
    }

    fn pick_conn(&mut self) -> Option<u64> {
        if self.conns.is_empty() {
            return None;
        }
        let i = self.faults.below(self.conns.len() as u64) as usize;
        self.conns.keys().nth(i).copied()
    }

    pub(crate) fn fault(&mut self) {
        if self.phase != Phase::Faults {
            return;
        }
        let d = self.faults.exp_ms(self.cfg.knobs.fault_mean_ms);
        self.schedule(self.now + d, Ev::Fault);
        let weights = self.cfg.knobs.fault_weights;
        let max = self.cfg.knobs.fault_max_ms;
        match FaultKind::ALL[self.faults.weighted(&weights)] {
            FaultKind::Reset => {
                if let Some(c) = self.pick_conn() {
                    self.stats.resets += 1;
                    self.note(format!("FAULT reset c{c}"));
                    self.reset_conn(c);
                }
            }
            FaultKind::HalfOpen => {
                if let Some(c) = self.pick_conn() {
                    let (up, dir) = self.pick_direction();
                    self.stats.half_open += 1;
                    self.note(format!("FAULT half-open c{c}: {dir} now drops everything"));
                    self.direction(c, up).blackhole();
                }
            }
            FaultKind::Stall => {
                if let Some(c) = self.pick_conn() {
                    let (up, dir) = self.pick_direction();
                    let d = self.faults.range(100, max);
                    self.stats.stalls += 1;
                    self.note(format!("FAULT stall c{c} {dir} for {d} ms"));
                    let until = self.now + d;
                    let dir = self.direction(c, up);
                    dir.stalled_until = dir.stalled_until.max(until);
                }
            }
            FaultKind::Partition => {
                let node = self.faults.below(self.clients.len() as u64) as usize;
                let (up, down) = match self.faults.below(3) {
                    0 => (true, true),
                    1 => (true, false),
                    _ => (false, true),
                };
                let d = self.faults.range(500, max);
                self.stats.partitions += 1;
                let name = self.node_name(node);
                self.note(format!(
                    "FAULT partition {name} for {d} ms (client->server blocked: {up}, server->client blocked: {down})"
                ));
                self.clients[node].partition = Some((self.now + d, up, down));
                let conns: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.node == node)
                    .map(|(&id, _)| id)
                    .collect();
                for c in conns {
                    self.apply_partition(node, c);
                }
            }
            FaultKind::Slow => {
                if let Some(c) = self.pick_conn() {
                    let per = self.faults.range(20, 500);
                    let d = self.faults.range(500, max);
                    self.stats.slow += 1;
                    self.note(format!(
                        "FAULT slow consumer c{c}: one frame per {per} ms for {d} ms"
                    ));
                    let now = self.now;
                    let conn = self.conns.get_mut(&c).expect("picked");
                    conn.down.throttle_ms = per;
                    conn.down.throttle_until = now + d;
                }
            }
            FaultKind::RefuseWindow => {
                let node = self.faults.below(self.clients.len() as u64) as usize;
                let d = self.faults.range(500, max);
                let name = self.node_name(node);
                self.note(format!("FAULT connects of {name} refused for {d} ms"));
                self.clients[node].refuse_until = self.now + d;
            }
            FaultKind::Crash => {
                if self.server_up {
                    self.crash();
                }
            }
            FaultKind::StoreFailure => self.store_fault(),
            FaultKind::Ban => {
                let u = self.faults.below(self.users.len() as u64) as usize;
                if self.server_up && !self.users[u].ghost {
                    self.ban(u);
                }
            }
        }
    }

    /// The operator bans `u`'s session (`Server::ban`): it ends now, BANNED_BY_SERVER.
    fn ban(&mut self, u: usize) {
        let id = self.users[u].id.clone();
        self.note(format!("FAULT operator bans {id}"));
        self.trace.push(
            self.now,
            Rec::ServerCmd {
                text: format!("ban({id})"),
            },
        );
        self.banning = Some(u);
        if let Some(s) = self.users[u].session.take() {
            self.users[u].banned_sids.insert(s.sid.clone());
            self.session_ended(u, &s);
        }
        self.server.ban(ts(self.now), &id);
        self.server_dirty_after_ban();
    }

    /// Applies `node`'s active partition to connection `conn`: per blocked direction either
    /// a permanent drop (the TCP connection dies) or a stall until the partition ends.
    pub(crate) fn apply_partition(&mut self, node: usize, conn: u64) {
        let Some((until, up, down)) = self.clients[node].partition else {
            return;
        };
        if until <= self.now {
            self.clients[node].partition = None;
            return;
        }
        let drop = self.faults.chance(0.5);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for (blocked, dir) in [(up, &mut c.up), (down, &mut c.down)] {
            if blocked {
                if drop {
                    dir.blackhole();
                } else {
                    dir.stalled_until = dir.stalled_until.max(until);
                }
            }
        }
    }

    fn crash(&mut self) {
        self.stats.crashes += 1;
        self.crashes += 1;
        self.server_up = false;
        // Soft state: the server's lags go with it (and every stint ends).
        self.lags.clear();
        self.incarnation += 1;
        self.crash_kind = if self.faults.chance(0.5) {
            CrashKind::Process
        } else {
            CrashKind::Host
        };
        let downtime = self.faults.range(10, self.cfg.knobs.downtime_max_ms);
        self.note(format!(
            "FAULT server {:?} crash; restart in {downtime} ms (soft state and uncommitted store ops are lost)",
            self.crash_kind
        ));
        self.trace.push(
            self.now,
            Rec::ServerIn {
                what: ServerInRec::Restart,
            },
        );
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            let kind = self.crash_kind;
            let c = self.conns.get_mut(&id).expect("listed");
            if c.server_open {
                c.server_open = false;
                self.server_open_count -= 1;
            }
            // Frames on their way to the dead process are dropped on arrival (the server no
            // longer holds the connection); a connect still in flight meets whatever is
            // there when it arrives.
            match kind {
                CrashKind::Process => {
                    if c.client_open && c.incarnation != 0 {
                        self.send_on(id, false, Item::Fin);
                    }
                }
                CrashKind::Host => {
                    if c.incarnation != 0 {
                        c.up.blackhole();
                        c.down.blackhole();
                    }
                }
            }
        }
        for u in 0..self.users.len() {
            self.users[u].session = None;
            self.users[u].kicked_sids.clear();
            self.users[u].banned_sids.clear();
            self.users[u].ended_sids.clear();
            self.update_truth(u);
        }
        self.channels_crash();
        self.store_crash();
        let inc = self.incarnation;
        self.schedule(self.now + downtime, Ev::Restart { incarnation: inc });
    }

    pub(crate) fn restart(&mut self) {
        self.server = Server::new(
            self.server_cfg.clone(),
            derive(self.cfg.seed, 1000 + u64::from(self.incarnation)),
            ts(self.now),
            UNIX_ORIGIN_MS + self.now,
        );
        self.server_up = true;
        self.note(format!(
            "server restarted (incarnation {})",
            self.incarnation
        ));
        // The records the store kept, before any other input.
        self.store_restore();
        // A brand-new core: drive it once so its timers get scheduled.
        self.trace.push(
            self.now,
            Rec::ServerIn {
                what: ServerInRec::Tick,
            },
        );
        self.server.handle_input(ts(self.now), ServerInput::Tick);
        self.server_dirty_after_restart();
    }

    // ----- healing -------------------------------------------------------------------------

    pub(crate) fn heal(&mut self) {
        self.phase = Phase::Healing;
        self.heal_at = self.now;
        self.refuse_p = 0.0;
        self.note("HEAL: every fault cleared; converging".into());
        self.store_heal();
        for n in &mut self.clients {
            n.partition = None;
            n.refuse_until = 0;
        }
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            let c = self.conns.get_mut(&id).expect("listed");
            for dir in [&mut c.up, &mut c.down] {
                dir.stalled_until = 0;
                dir.throttle_until = 0;
            }
            for up in [true, false] {
                self.ensure_pump(id, up);
            }
        }
        if !self.server_up {
            self.restart();
        }
        // Who ends logged in: most primaries (at least two); no twins.
        let mut ins = 0;
        for node in 0..self.clients.len() {
            let target = !self.clients[node].twin && self.work.chance(0.85);
            self.clients[node].target_in = target;
            ins += usize::from(target);
        }
        let mut node = 0;
        while ins < 2 {
            if !self.clients[node].target_in && !self.clients[node].twin {
                self.clients[node].target_in = true;
                ins += 1;
            }
            node += 1;
        }
        for node in 0..self.clients.len() {
            let n = &mut self.clients[node];
            n.work_gen += 1;
            let gen = n.work_gen;
            let d = self.work.range(1, 500);
            self.schedule(self.now + d, Ev::Work { node, gen });
        }
    }

    /// Reasons the system has not converged yet (empty: converged).
    fn unconverged(&mut self, limit: usize) -> Vec<String> {
        let mut why = Vec::new();
        for node in 0..self.clients.len() {
            let n = &self.clients[node];
            let want = if n.target_in {
                State::Connected
            } else {
                State::Disconnected
            };
            if n.state != want {
                why.push(format!(
                    "{} is {:?}, should be {want:?}",
                    self.node_name(node),
                    n.state
                ));
            }
            if let Some((rid, p)) = n.outstanding.iter().next() {
                why.push(format!(
                    "{} still waits for request {rid} ({p:?}) and {} more",
                    self.node_name(node),
                    n.outstanding.len() - 1
                ));
            }
            if why.len() >= limit {
                return why;
            }
        }
        for (&id, c) in &self.conns {
            let broken = c.up.blackholed || c.down.blackholed;
            if broken && (c.client_open || c.server_open) {
                why.push(format!(
                    "c{id} of {} is half-open and still held (client {}, server {})",
                    self.node_name(c.node),
                    c.client_open,
                    c.server_open
                ));
                if why.len() >= limit {
                    return why;
                }
            }
        }
        for u in 0..self.users.len() {
            let expect = if self.expected_online(u) {
                PeerOnlineState::Online
            } else {
                PeerOnlineState::Offline
            };
            let st = self.server.observe().peer_state(&self.users[u].id);
            if st != expect {
                why.push(format!(
                    "server says {} is {st:?}, should be {expect:?}",
                    self.users[u].id
                ));
            }
            if why.len() >= limit {
                return why;
            }
        }
        // Durable: a message answered `cached` is owed across crashes (the store kept it),
        // unless the per-receiver bound may have evicted it, or its receiver stays away.
        for (i, m) in self.msgs.iter().enumerate() {
            if m.outcome == Outcome::Cached
                && m.deliveries.is_empty()
                && !self.users[m.to].ghost
                && self.expected_online(m.to)
                && self.users[m.to].overflow_epoch == m.overflow_mark
            {
                why.push(format!(
                    "message #{i} ({} -> {}) was Cached at {} ms but is not delivered",
                    self.users[m.from_user].id, self.users[m.to].id, m.outcome_at
                ));
                if why.len() >= limit {
                    return why;
                }
            }
        }
        for node in 0..self.clients.len() {
            if self.clients[node].state != State::Connected {
                continue;
            }
            let relax = self.cfg.relax.subscription_divergence_after_timeout;
            for (&p, v) in &self.clients[node].subs {
                if relax && self.clients[node].uncertain.contains(&p) {
                    continue;
                }
                let truth = self.server.observe().peer_state(&self.users[p].id);
                if v.last != Some(truth) {
                    why.push(format!(
                        "{} last saw {} as {:?}, truth is {truth:?}",
                        self.node_name(node),
                        self.users[p].id,
                        v.last
                    ));
                    if why.len() >= limit {
                        return why;
                    }
                }
            }
        }
        self.channels_unconverged(&mut why, limit);
        if why.len() < limit {
            self.invitations_unconverged(&mut why, limit);
        }
        why
    }

    fn start_probes(&mut self) {
        self.phase = Phase::Probing;
        self.note("CONVERGED: probing with fresh traffic".into());
        // Each online user sends one probe and receives exactly one, so no receiver can
        // legitimately be closed as a slow consumer (max_unacked >= 4).
        for (node, to) in self.probe_rotation() {
            self.do_send(node, to, false, true);
            let peers = self.random_users(5);
            self.do_query(node, peers, true);
        }
    }

    /// Second round of probes, once the first is done: channels, attributes, invitations.
    /// (Apart from the peer probes: a channel probe pushes to every member at once, which
    /// fills a small stream until the members acknowledge, and a full stream refuses peer
    /// messages as unreachable.)
    fn start_feature_probes(&mut self) {
        self.phase = Phase::ProbingFeatures;
        self.note("PROBED: probing channels, attributes and invitations".into());
        let rotation = self.probe_rotation();
        for node in 0..self.clients.len() {
            if self.clients[node].target_in {
                self.channel_probes(node);
            }
        }
        self.invitation_probes(&rotation);
    }

    /// Each probing client (a primary meant to be online) with the user it probes: the
    /// online users in a rotation by a random step, so each sends one probe and receives
    /// exactly one.
    fn probe_rotation(&mut self) -> Vec<(usize, usize)> {
        let ins: Vec<usize> = (0..self.users.len())
            .filter(|&u| self.expected_online(u))
            .collect();
        let k = 1 + self.work.below(ins.len() as u64 - 1) as usize;
        (0..self.clients.len())
            .filter(|&node| self.clients[node].target_in)
            .map(|node| {
                let me = self.clients[node].user;
                let pos = ins
                    .iter()
                    .position(|&u| u == me)
                    .expect("target_in users are online");
                (node, ins[(pos + k) % ins.len()])
            })
            .collect()
    }

    /// Periodic full checks, convergence and the liveness deadline.
    pub(crate) fn sweep(&mut self) {
        self.schedule(self.now + 1_000, Ev::Sweep);
        if self.server_up {
            for u in 0..self.users.len() {
                let st = self.server.observe().peer_state(&self.users[u].id);
                if st != self.users[u].current().state {
                    let id = self.users[u].id.clone();
                    self.violation(format!(
                        "simulator lost track of presence: server says {id} is {st:?} but the model recorded {:?}",
                        self.users[u].current().state
                    ));
                    return;
                }
                if self.users[u].ghost && st != PeerOnlineState::Offline {
                    let id = self.users[u].id.clone();
                    self.violation(format!("{id} never logged in but is {st:?}"));
                }
                self.check_session(u);
            }
        }
        self.invitations_sweep();
        match self.phase {
            Phase::Faults | Phase::Done => {}
            Phase::Healing | Phase::Probing | Phase::ProbingFeatures => {
                if self.now < self.heal_at + 2_000 || !self.server_up {
                    return;
                }
                let why = self.unconverged(8);
                if why.is_empty() {
                    match self.phase {
                        // Probes start once it has been quiet for 3 s: every client has
                        // pinged since, acknowledging what it got, so no stream is full.
                        Phase::Healing => match self.quiet_since {
                            Some(t) if self.now >= t + 3_000 => self.start_probes(),
                            Some(_) => {}
                            None => self.quiet_since = Some(self.now),
                        },
                        Phase::Probing => self.start_feature_probes(),
                        _ => {
                            self.phase = Phase::Done;
                            self.invitations_final();
                            self.count_relaxed_drops();
                        }
                    }
                } else if self.phase == Phase::Healing && self.quiet_since.take().is_some() {
                    // Not quiet after all; wait again.
                } else if self.now > self.heal_at + self.cfg.heal_deadline_ms {
                    self.violation(format!(
                        "liveness: not converged {} ms after healing: {}",
                        self.cfg.heal_deadline_ms,
                        why.join("; ")
                    ));
                }
            }
        }
    }
}

/// What a misuse did (`call` and its result, for the trace) and whether that was the
/// documented refusal: `invalid` while logged in, else `not_logged_in` (the client checks
/// the login before the arguments).
pub(crate) fn misuse_verdict<T: std::fmt::Debug, E: PartialEq + std::fmt::Debug>(
    call: &str,
    r: Result<T, E>,
    logged_in: bool,
    invalid: E,
    not_logged_in: E,
) -> (String, bool) {
    let want = if logged_in { invalid } else { not_logged_in };
    let ok = matches!(&r, Err(e) if *e == want);
    (format!("{call} = {r:?}"), ok)
}
