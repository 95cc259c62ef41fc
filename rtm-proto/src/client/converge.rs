//! State the server must hold as the client's record says: the subscriptions, the local
//! user's attributes, each channel's membership.
//!
//! The record is what the application's confirmed calls established. The server holds the
//! same unless a request changing it got no answer (it may or may not have been applied), or
//! a reconnect lost the server session. A [`Converge`] tracks exactly that — the requests in
//! flight, and whether the server is in step — and asks for a *correction* (a request that
//! restates the whole record: a `replace` subscribe, an attribute `set`, a join with the
//! cursor or a leave) only once nothing is in flight, so a correction never overtakes a newer
//! change and undoes it. Corrections are built from the record when sent, never replayed from
//! old bytes: one left from an earlier link is dropped and made again.

use std::collections::BTreeSet;

/// One piece of convergent state (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Converge {
    /// Requests changing this state that are in flight, by id (ids grow in send order).
    in_flight: BTreeSet<u32>,
    sync: Sync,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Sync {
    /// The server holds what the record says (as far as answers tell).
    #[default]
    InStep,
    /// The server may hold something else since request `newest` (or an earlier one) went
    /// unanswered; an answer to a restating request sent after it settles the doubt.
    InDoubt { newest: u32 },
}

impl Converge {
    /// Request `id`, changing this state, was sent (or queued to be).
    pub(super) fn started(&mut self, id: u32) {
        self.in_flight.insert(id);
    }

    /// The server answered request `id`, with success or a refusal. A request that
    /// `restates` the whole state (a correction, a channel's join or leave) leaves the server
    /// holding what it said, after everything sent before it: a doubt raised by an earlier
    /// request no longer matters.
    pub(super) fn answered(&mut self, id: u32, restates: bool) {
        self.in_flight.remove(&id);
        if let Sync::InDoubt { newest } = self.sync {
            if restates && newest < id {
                self.sync = Sync::InStep;
            }
        }
    }

    /// Request `id` will get no answer (it timed out, or was dropped to be made again): the
    /// server may or may not have applied it.
    pub(super) fn lost(&mut self, id: u32) {
        self.in_flight.remove(&id);
        self.doubt(id);
    }

    /// The server may hold anything sent up to request `newest` (a new link to a resumed
    /// session, say).
    pub(super) fn doubt(&mut self, newest: u32) {
        let newest = match self.sync {
            Sync::InDoubt { newest: n } => n.max(newest),
            Sync::InStep => newest,
        };
        self.sync = Sync::InDoubt { newest };
    }

    /// The server is known to hold the record (a fresh server session holds no channel
    /// membership, which the record of a channel not joined says too).
    pub(super) fn settle(&mut self) {
        self.sync = Sync::InStep;
    }

    /// Whether to send a correction now: in doubt, and nothing in flight it could overtake.
    pub(super) fn wants_correction(&self) -> bool {
        matches!(self.sync, Sync::InDoubt { .. }) && self.in_flight.is_empty()
    }

    /// Nothing in flight and nothing in doubt: a per-channel entry can go.
    pub(super) fn is_quiet(&self) -> bool {
        self.sync == Sync::InStep && self.in_flight.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_request_asks_for_a_correction_once_nothing_is_in_flight() {
        let mut c = Converge::default();
        c.started(1);
        c.started(2);
        c.lost(1);
        assert!(!c.wants_correction(), "request 2 could be overtaken");
        c.answered(2, false);
        assert!(c.wants_correction());
        c.started(3); // the correction
        assert!(!c.wants_correction(), "one correction at a time");
        c.answered(3, true);
        assert!(c.is_quiet());
    }

    #[test]
    fn only_a_restating_answer_sent_after_the_doubt_settles_it() {
        let mut c = Converge::default();
        c.started(4);
        c.started(5);
        c.lost(5);
        c.answered(4, true); // sent before the lost one: proves nothing about it
        assert!(c.wants_correction());
        c.started(6);
        c.answered(6, false); // an incremental change says nothing about the rest
        assert!(c.wants_correction());
        c.started(7);
        c.answered(7, true);
        assert!(c.is_quiet());
    }

    #[test]
    fn a_correction_that_is_lost_is_made_again() {
        let mut c = Converge::default();
        c.doubt(9);
        assert!(c.wants_correction());
        c.started(10);
        c.lost(10);
        assert!(c.wants_correction());
        c.started(11);
        c.answered(11, true);
        assert!(c.is_quiet());
    }

    #[test]
    fn a_doubt_about_later_requests_survives_an_earlier_correction() {
        let mut c = Converge::default();
        c.doubt(3);
        c.started(4); // the correction
        c.started(5); // a change made while it is in flight
        c.lost(5);
        c.answered(4, true);
        assert!(c.wants_correction(), "request 5 may have been applied");
    }
}
