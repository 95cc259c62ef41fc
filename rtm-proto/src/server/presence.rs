//! Online status (§4.4): queries, subscriptions and change notifications.
//!
//! Subscriptions belong to a session (they survive a resume, not a logout or a new login);
//! `watchers` is the reverse index that makes a status change cost one lookup plus one
//! frame per subscriber, encoded once and shared.

use std::collections::{BTreeMap, BTreeSet};

use crate::errors::{PeerSubscriptionStatusError, QueryPeersOnlineStatusError};
use crate::ids::UserId;
use crate::wire::{Notice, PeerOnline, PeerOnlineState, PeerStatus, Reply};

use super::{ConnId, Server};

pub use crate::limits::{MAX_QUERY_PEERS, MAX_SUBSCRIPTIONS};

#[derive(Debug, Default)]
pub(super) struct Presence {
    /// Subscribed-to user → subscribers.
    watchers: BTreeMap<UserId, BTreeSet<UserId>>,
    count: usize,
}

impl Presence {
    pub fn len(&self) -> usize {
        self.count
    }

    fn add(&mut self, subscriber: &UserId, target: &UserId) {
        if self
            .watchers
            .entry(target.clone())
            .or_default()
            .insert(subscriber.clone())
        {
            self.count += 1;
        }
    }

    fn remove(&mut self, subscriber: &UserId, target: &UserId) {
        if let Some(set) = self.watchers.get_mut(target) {
            if set.remove(subscriber) {
                self.count -= 1;
            }
            if set.is_empty() {
                self.watchers.remove(target);
            }
        }
    }

    pub fn drop_subscriptions(&mut self, subscriber: &UserId, targets: &BTreeSet<UserId>) {
        for t in targets {
            self.remove(subscriber, t);
        }
    }
}

impl Server {
    pub(super) fn on_query_online(&mut self, conn: ConnId, id: u32, peers: Vec<UserId>) {
        if peers.is_empty() || peers.len() > MAX_QUERY_PEERS {
            let e = QueryPeersOnlineStatusError::InvalidArgument;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        let peers = peers
            .into_iter()
            .map(|peer| {
                let online = self.sessions.contains_key(&peer);
                PeerOnline { peer, online }
            })
            .collect();
        self.reply(conn, Reply::OnlineStatus { id, peers });
    }

    pub(super) fn on_subscribe(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        peers: Vec<UserId>,
        replace: bool,
    ) {
        let Some(s) = self.sessions.get(uid) else {
            return;
        };
        if peers.is_empty() && !replace {
            let e = PeerSubscriptionStatusError::InvalidArgument;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        let asked: BTreeSet<&UserId> = peers.iter().collect();
        let kept = if replace { 0 } else { s.subscriptions.len() };
        let new = asked
            .iter()
            .filter(|p| replace || !s.subscriptions.contains(**p))
            .count();
        if kept + new > MAX_SUBSCRIPTIONS {
            let e = PeerSubscriptionStatusError::Overflow;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        if replace {
            let dropped: Vec<UserId> = s
                .subscriptions
                .iter()
                .filter(|p| !asked.contains(p))
                .cloned()
                .collect();
            for p in &dropped {
                self.presence.remove(uid, p);
            }
            if let Some(s) = self.sessions.get_mut(uid) {
                for p in &dropped {
                    s.subscriptions.remove(p);
                }
            }
        }
        let mut snapshot = Vec::with_capacity(peers.len());
        let mut seen = BTreeSet::new();
        for p in &peers {
            if seen.insert(p.clone()) {
                self.presence.add(uid, p);
                snapshot.push(PeerStatus {
                    peer: p.clone(),
                    state: self.presence_of(p),
                });
            }
        }
        if let Some(s) = self.sessions.get_mut(uid) {
            s.subscriptions.extend(seen);
        }
        self.reply(
            conn,
            Reply::Subscribed {
                id,
                peers: snapshot,
            },
        );
    }

    pub(super) fn on_unsubscribe(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        peers: Vec<UserId>,
    ) {
        if peers.is_empty() {
            let e = PeerSubscriptionStatusError::InvalidArgument;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        for p in &peers {
            self.presence.remove(uid, p);
            if let Some(s) = self.sessions.get_mut(uid) {
                s.subscriptions.remove(p);
            }
        }
        self.reply(conn, Reply::Ok { id });
    }

    /// Tells every attached subscriber of `uid` its new state. Detached subscribers catch up
    /// when their client resubscribes after reconnecting.
    pub(super) fn notify_presence(&mut self, uid: &UserId, state: PeerOnlineState) {
        let Some(watchers) = self.presence.watchers.get(uid) else {
            return;
        };
        let frame = Notice::Presence {
            peers: vec![PeerStatus {
                peer: uid.clone(),
                state,
            }],
        }
        .encode();
        let conns: Vec<ConnId> = watchers
            .iter()
            .filter_map(|w| self.sessions.get(w).and_then(|s| s.conn))
            .collect();
        for conn in conns {
            self.send_bytes(conn, frame.clone());
        }
    }
}
