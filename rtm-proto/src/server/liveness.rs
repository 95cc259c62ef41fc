//! Liveness (§2.4): any frame is a sign of life; after 6 s of silence the user is UNREACHABLE
//! to subscribers, after 30 s the session ends. Also the ack deadline of a connection that
//! sends frames but reads nothing.

use crate::ids::UserId;
use crate::wire::PeerOnlineState;

use super::{Server, ServerTimer};

/// How long a connection may leave pushes in flight without acknowledging any while it keeps
/// sending frames (the reference client acknowledges with every heartbeat, 2 s).
pub(super) const ACK_DEADLINE: core::time::Duration = core::time::Duration::from_secs(30);

/// A session's liveness: ONLINE or UNREACHABLE to its subscribers, with the generation of
/// the one scheduled check that counts (each session always has one pending, for the moment
/// its silence would pass the threshold of its state; rescheduling makes the older stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Liveness {
    /// Heard from within `unreachable_after`; the check is for then.
    Reachable { check: u64 },
    /// Silent past `unreachable_after`; the check ends the session at `offline_after`.
    Unreachable { check: u64 },
}

impl Liveness {
    /// A new session's, before its first check is scheduled.
    pub const NEW: Liveness = Liveness::Reachable { check: 0 };

    pub fn is_reachable(self) -> bool {
        matches!(self, Liveness::Reachable { .. })
    }

    /// The generation of the check that counts.
    pub fn check(self) -> u64 {
        match self {
            Liveness::Reachable { check } | Liveness::Unreachable { check } => check,
        }
    }

    pub fn reachable(self) -> Self {
        Liveness::Reachable {
            check: self.check(),
        }
    }

    pub fn unreachable(self) -> Self {
        Liveness::Unreachable {
            check: self.check(),
        }
    }

    /// The same state, counting a newly scheduled check.
    fn next_check(self) -> Self {
        let check = self.check() + 1;
        match self {
            Liveness::Reachable { .. } => Liveness::Reachable { check },
            Liveness::Unreachable { .. } => Liveness::Unreachable { check },
        }
    }
}

impl Server {
    /// Whether `uid`'s attached connection has had pushes in flight for [`ACK_DEADLINE`]
    /// without acknowledging any: it pings, but does not read.
    pub(super) fn ack_overdue(&self, uid: &UserId, epoch: u64) -> bool {
        self.sessions.get(uid).is_some_and(|s| {
            s.epoch == epoch && s.conn.is_some() && s.stream.ack_overdue(self.now, ACK_DEADLINE)
        })
    }

    /// A frame arrived from `uid`'s session: it is alive.
    pub(super) fn touch(&mut self, uid: &UserId, epoch: u64) {
        let now = self.now;
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        if s.epoch != epoch {
            return;
        }
        s.last_rx = now;
        if !s.liveness.is_reachable() {
            s.liveness = s.liveness.reachable();
            self.notify_presence(uid, PeerOnlineState::Online);
            // The pending check is the 30 s one; replace it with a 6 s one.
            self.schedule_liveness_check(uid);
        }
        // Otherwise the pending check looks at `last_rx` when it fires.
    }

    /// Schedules `uid`'s next liveness check, for the moment its silence would pass the
    /// threshold of its state; an earlier pending check goes stale.
    pub(super) fn schedule_liveness_check(&mut self, uid: &UserId) {
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        s.liveness = s.liveness.next_check();
        // "More than 6 s": one millisecond past the threshold.
        let limit = if s.liveness.is_reachable() {
            self.config.unreachable_after
        } else {
            self.config.offline_after
        };
        let at = s
            .last_rx
            .saturating_add(limit)
            .saturating_add(core::time::Duration::from_millis(1));
        let (epoch, gen) = (s.epoch, s.liveness.check());
        self.timers.schedule(
            at,
            ServerTimer::Liveness {
                uid: uid.clone(),
                epoch,
                gen,
            },
        );
    }

    pub(super) fn on_liveness(&mut self, uid: &UserId, epoch: u64, gen: u64) {
        let now = self.now;
        let (unreachable_after, offline_after) =
            (self.config.unreachable_after, self.config.offline_after);
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        if s.epoch != epoch || s.liveness.check() != gen {
            return; // stale: a newer check was scheduled
        }
        let silent = now.since(s.last_rx);
        if silent > offline_after {
            self.end_session(uid);
            return;
        }
        if silent > unreachable_after && s.liveness.is_reachable() {
            s.liveness = s.liveness.unreachable();
            self.notify_presence(uid, PeerOnlineState::Unreachable);
        }
        self.schedule_liveness_check(uid);
    }

    /// Presence of `uid`: ONLINE, UNREACHABLE (silent > 6 s) or OFFLINE (no session).
    pub(super) fn presence_of(&self, uid: &UserId) -> PeerOnlineState {
        match self.sessions.get(uid) {
            Some(s) if s.liveness.is_reachable() => PeerOnlineState::Online,
            Some(_) => PeerOnlineState::Unreachable,
            None => PeerOnlineState::Offline,
        }
    }
}
