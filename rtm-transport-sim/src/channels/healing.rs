//! Healing: rejoins and probes, and the convergence checks of channels and attributes.

use std::collections::BTreeSet;

use rtm_proto::server::ServerConfig;
use rtm_proto::{ConnectionState as State, UserId};

use crate::config::Action;
use crate::model::LagRec;
use crate::sim::Sim;

use super::*;

impl Sim {
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
    pub(super) fn resolve_lag(&mut self, c: usize, lag: LagRec, window: &BTreeSet<u64>) {
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
    pub(super) fn relax_unpushed(&self) -> bool {
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
