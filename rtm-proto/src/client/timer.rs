//! The client's timers: one slot per [`Timer`], as quinn-proto's `TimerTable`, so
//! [`Client::poll_timeout`](super::Client::poll_timeout) is one pass over a fixed array and a
//! tick fires exactly the timers that expired. Requests have a deadline each; they live in
//! their own queue and occupy one slot here, armed at the earliest of them.

use crate::time::Timestamp;

/// What the client waits for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// An explicit `login` gives up with LOGIN_TIMEOUT (§2.5: 12 s).
    Login,
    /// A link lost while CONNECTED turns the state into RECONNECTING (§2.5: 4 s).
    Interruption,
    /// Open the next transport (jittered backoff).
    Reconnect,
    /// The transport did not open, or the server stopped answering: replace the link.
    LinkDead,
    /// Send the next heartbeat.
    Ping,
    /// A logout's drain is over: close the transport.
    Drain,
    /// The earliest request deadline.
    Request,
    /// The earliest moment a file or image transfer has gone 120 s without progress.
    Media,
}

impl Timer {
    /// Every timer, in the order a tick fires them: the flow's own deadlines before the
    /// link's, the link's before the requests that ride on it.
    pub(super) const ALL: [Timer; 8] = [
        Timer::Login,
        Timer::Interruption,
        Timer::Drain,
        Timer::Reconnect,
        Timer::LinkDead,
        Timer::Ping,
        Timer::Request,
        Timer::Media,
    ];
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(super) struct TimerTable {
    deadlines: [Option<Timestamp>; Timer::ALL.len()],
}

impl TimerTable {
    pub(super) fn set(&mut self, timer: Timer, at: Timestamp) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(super) fn set_or_stop(&mut self, timer: Timer, at: Option<Timestamp>) {
        self.deadlines[timer as usize] = at;
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(super) fn get(&self, timer: Timer) -> Option<Timestamp> {
        self.deadlines[timer as usize]
    }

    pub(super) fn is_set(&self, timer: Timer) -> bool {
        self.deadlines[timer as usize].is_some()
    }

    /// The earliest deadline of all.
    pub(super) fn next_timeout(&self) -> Option<Timestamp> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Stops `timer` and says so if it was due at `now`.
    pub(super) fn take_expired(&mut self, timer: Timer, now: Timestamp) -> bool {
        let slot = &mut self.deadlines[timer as usize];
        if slot.is_some_and(|at| at <= now) {
            *slot = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_timeout_is_the_earliest_armed_slot_and_expiry_stops_it() {
        let mut t = TimerTable::default();
        assert_eq!(t.next_timeout(), None);
        t.set(Timer::Ping, Timestamp::from_millis(30));
        t.set(Timer::Login, Timestamp::from_millis(20));
        t.set(Timer::Login, Timestamp::from_millis(40)); // re-arming replaces
        assert_eq!(t.next_timeout(), Some(Timestamp::from_millis(30)));
        assert!(!t.take_expired(Timer::Ping, Timestamp::from_millis(29)));
        assert!(t.take_expired(Timer::Ping, Timestamp::from_millis(30)));
        assert!(!t.is_set(Timer::Ping));
        assert_eq!(t.next_timeout(), Some(Timestamp::from_millis(40)));
        t.stop(Timer::Login);
        assert_eq!(t.next_timeout(), None);
    }

    #[test]
    fn every_timer_has_its_own_slot() {
        for (i, timer) in Timer::ALL.iter().enumerate() {
            assert!(Timer::ALL[..i].iter().all(|t| t != timer));
            assert!((*timer as usize) < Timer::ALL.len());
        }
    }
}
