//! Liveness (§2.4): any frame is a sign of life; after 6 s of silence the user is UNREACHABLE
//! to subscribers, after 30 s the session ends. Also the ack deadline of a connection that
//! sends frames but reads nothing.

use crate::ids::UserId;
use crate::wire::PeerOnlineState;

use super::{Server, ServerTimer};

/// How long a connection may leave pushes in flight without acknowledging any while it keeps
/// sending frames (the reference client acknowledges with every heartbeat, 2 s).
pub(super) const ACK_DEADLINE: core::time::Duration = core::time::Duration::from_secs(30);

impl Server {
    /// Whether `uid`'s attached connection has had pushes in flight for [`ACK_DEADLINE`]
    /// without acknowledging any: it pings, but does not read.
    pub(super) fn ack_overdue(&self, uid: &UserId, epoch: u64) -> bool {
        self.sessions.get(uid).is_some_and(|s| {
            let in_flight = s.unacked.front().is_some_and(|p| p.pos <= s.sent_upto);
            s.epoch == epoch
                && s.conn.is_some()
                && in_flight
                && self.now.since(s.ack_clock) >= ACK_DEADLINE
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
        let recovered = !s.reachable;
        if recovered {
            s.reachable = true;
            self.notify_presence(uid, PeerOnlineState::Online);
        }
        // Back from UNREACHABLE: the pending check is the 30 s one; replace it with a 6 s one.
        self.schedule_liveness_with(uid, recovered);
    }

    pub(super) fn schedule_liveness(&mut self, uid: &UserId) {
        self.schedule_liveness_with(uid, false);
    }

    /// Schedules the next liveness check unless one is pending; `replace` schedules anew
    /// regardless (the pending one goes stale).
    pub(super) fn schedule_liveness_with(&mut self, uid: &UserId, replace: bool) {
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        if s.liveness_scheduled && !replace {
            return;
        }
        s.liveness_scheduled = true;
        s.liveness_gen += 1;
        // "More than 6 s": one millisecond past the threshold.
        let limit = if s.reachable {
            self.config.unreachable_after
        } else {
            self.config.offline_after
        };
        let at = s
            .last_rx
            .saturating_add(limit)
            .saturating_add(core::time::Duration::from_millis(1));
        let (epoch, gen) = (s.epoch, s.liveness_gen);
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
        if s.epoch != epoch || s.liveness_gen != gen {
            return;
        }
        s.liveness_scheduled = false;
        let silent = now.since(s.last_rx);
        if silent > offline_after {
            self.end_session(uid);
            return;
        }
        if silent > unreachable_after && s.reachable {
            s.reachable = false;
            self.notify_presence(uid, PeerOnlineState::Unreachable);
        }
        self.schedule_liveness(uid);
    }

    /// Presence of `uid`: ONLINE, UNREACHABLE (silent > 6 s) or OFFLINE (no session).
    pub(super) fn presence_of(&self, uid: &UserId) -> PeerOnlineState {
        match self.sessions.get(uid) {
            Some(s) if s.reachable => PeerOnlineState::Online,
            Some(_) => PeerOnlineState::Unreachable,
            None => PeerOnlineState::Offline,
        }
    }
}
