//! A read-only view of the server for observers: tests, the simulator's reference model and
//! an operator's tools. Nothing reachable from here changes the server, so an observer can
//! never make a run differ from one without it.

use crate::ids::{ChannelId, UserId};

use super::{Server, ServerStats};

/// A read-only view of a [`Server`] ([`Server::observe`]).
#[derive(Debug, Clone, Copy)]
pub struct Observer<'a> {
    pub(super) server: &'a Server,
}

impl Observer<'_> {
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

    /// The server's counters.
    pub fn stats(&self) -> ServerStats {
        self.server.stats()
    }
}
