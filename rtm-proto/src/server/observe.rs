//! A read-only view of the server for observers: tests, the simulator's reference model and
//! an operator's tools. Nothing reachable from here changes the server, so an observer can
//! never make a run differ from one without it.

use std::collections::{BTreeMap, BTreeSet};

use crate::attributes::ChannelAttribute;
use crate::ids::{ChannelId, UserId};

use super::{Server, ServerStats};

/// A read-only view of a [`Server`] ([`Server::observe`]).
#[derive(Debug, Clone, Copy)]
pub struct Observer<'a> {
    pub(super) server: &'a Server,
}

impl<'a> Observer<'a> {
    /// The presence of `uid` as subscribers see it.
    pub fn peer_state(&self, uid: &UserId) -> crate::wire::PeerOnlineState {
        self.server.presence_of(uid)
    }

    /// The `cseq` of the first message of `channel` that `uid`'s session missed because its
    /// delivery stream was full, while a catch-up is still to come; `None` when it is not
    /// behind.
    pub fn channel_lag(&self, uid: &UserId, channel: &ChannelId) -> Option<u64> {
        self.server
            .sessions
            .get(uid)?
            .lagging
            .get(channel)
            .map(|&(_, cseq)| cseq)
    }

    /// The id of `uid`'s current session (what its client presents to resume it, and what
    /// a newer session of the same user replaces); `None` while it has none. An observer
    /// follows sessions by it instead of reading `login_ok` frames.
    pub fn session_id(&self, uid: &UserId) -> Option<&'a str> {
        self.server.sessions.get(uid).map(|s| s.sid.as_str())
    }

    /// The attributes `uid`'s session holds (§4.5); `None` without a session (they are
    /// dropped with it).
    pub fn user_attributes(&self, uid: &UserId) -> Option<&'a BTreeMap<String, String>> {
        self.server.sessions.get(uid).map(|s| &s.attributes)
    }

    /// The epoch of the instance of `channel` the server holds (a forgotten and recreated
    /// channel gets another); `None` while it holds none.
    pub fn channel_epoch(&self, channel: &ChannelId) -> Option<u64> {
        self.server.channels.get(channel).map(|ch| ch.epoch)
    }

    /// The members of `channel`; `None` while the server holds no instance of it.
    pub fn channel_members(&self, channel: &ChannelId) -> Option<&'a BTreeSet<UserId>> {
        self.server.channels.get(channel).map(|ch| &ch.members)
    }

    /// The attributes of `channel` (§4.6); `None` while the server holds no instance of it.
    pub fn channel_attributes(
        &self,
        channel: &ChannelId,
    ) -> Option<&'a BTreeMap<String, ChannelAttribute>> {
        self.server.channels.get(channel).map(|ch| &ch.attributes)
    }

    /// The `cseq` of the last message of `channel` before `uid`'s membership began: what
    /// its `joined` answer carries, and again for a resent join. `None` when `uid`'s
    /// session has not joined it.
    pub fn member_since(&self, uid: &UserId, channel: &ChannelId) -> Option<u64> {
        self.server
            .sessions
            .get(uid)?
            .channels
            .get(channel)
            .copied()
    }

    /// The `cseq`s a replay to `uid` of the messages of `channel` newer than `after` would
    /// push now (§2.6: the last 30 s, at most 32, never `uid`'s own), oldest first: what a
    /// rejoin with the cursor `after` of this instance replays, and what a catch-up from
    /// `after + 1` pushes. Empty while the server holds no instance of `channel`.
    pub fn replay_after(&self, channel: &ChannelId, after: u64, uid: &UserId) -> Vec<u64> {
        self.server
            .channels
            .get(channel)
            .map_or_else(Vec::new, |ch| {
                ch.history.recent_cseqs_after(self.server.now, after, uid)
            })
    }

    /// The server's counters.
    pub fn stats(&self) -> ServerStats {
        self.server.stats()
    }
}
