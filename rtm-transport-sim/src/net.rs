//! The simulated network: one [`Conn`] per transport a client opens, each with two ordered
//! directions ([`Dir`]).
//!
//! WebSocket over TCP is ordered per connection, so every fault is per connection and
//! respects that order: a direction delivers its items strictly in the order they were sent
//! (latency and jitter only ever delay the whole tail), a stall holds the whole direction, a
//! throttled direction (slow consumer) delivers one item per `throttle_ms`, and a half-open
//! direction drops everything from the moment it breaks — a TCP stream never loses a frame in
//! the middle and then delivers later ones.

use std::collections::VecDeque;

use bytes::Bytes;

/// What travels on a direction.
#[derive(Debug, Clone)]
pub enum Item {
    /// client→server: the connection request (the server accepts or refuses it on arrival).
    Syn,
    /// server→client: the connection is open.
    Open,
    /// One WebSocket text message.
    Frame(Bytes),
    /// Orderly close after everything before it (FIN / close frame).
    Fin,
}

/// One direction of a connection.
#[derive(Debug, Default)]
pub struct Dir {
    /// Items in flight, in send order, each with the earliest time it may arrive.
    pub queue: VecDeque<(u64, Item)>,
    /// When a pump event for this direction is scheduled, if one is.
    pub pump_at: Option<u64>,
    /// Nothing is delivered before this time.
    pub stalled_until: u64,
    /// Everything sent or queued is dropped.
    pub blackholed: bool,
    /// The ready time of the last item queued (ready times never decrease).
    pub last_ready: u64,
    /// Slow consumer: at most one item per this many ms, until `throttle_until`.
    pub throttle_ms: u64,
    pub throttle_until: u64,
    /// The next item may not be delivered before this (throttling).
    pub next_free: u64,
}

impl Dir {
    /// Queues `item`, arriving no earlier than `now + delay` and never before an earlier
    /// item. Returns false if the direction is blackholed (the item is dropped).
    pub fn push(&mut self, now: u64, delay: u64, item: Item) -> bool {
        if self.blackholed {
            return false;
        }
        let ready = (now + delay).max(self.last_ready);
        self.last_ready = ready;
        self.queue.push_back((ready, item));
        true
    }

    /// When the front item can next be delivered, if there is one.
    pub fn next_time(&self, now: u64) -> Option<u64> {
        let (ready, _) = self.queue.front()?;
        let mut t = (*ready).max(self.stalled_until).max(now);
        if self.throttle_until > now {
            t = t.max(self.next_free);
        }
        Some(t)
    }

    /// Drops everything from now on.
    pub fn blackhole(&mut self) {
        self.blackholed = true;
        self.queue.clear();
    }
}

/// One transport attempt of one client.
#[derive(Debug)]
pub struct Conn {
    pub id: u64,
    /// Client node index.
    pub node: usize,
    /// The client's `TransportId`.
    pub transport: u64,
    /// Server incarnation that accepted it (0 until accepted).
    pub incarnation: u32,
    /// The client has not closed it and has not been told it closed.
    pub client_open: bool,
    /// The server knows it (accepted and not closed or forgotten).
    pub server_open: bool,
    /// The login frame the server received on it: (user index, session id to resume).
    pub login: Option<(usize, Option<String>)>,
    /// The user whose session this connection carries (after `login_ok`).
    pub bound: Option<usize>,
    pub up: Dir,
    pub down: Dir,
}

impl Conn {
    /// Both ends are done and nothing is in flight: the entry can go.
    pub fn is_dead(&self) -> bool {
        !self.client_open
            && !self.server_open
            && self.up.queue.is_empty()
            && self.down.queue.is_empty()
            && self.up.pump_at.is_none()
            && self.down.pump_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_times_never_decrease() {
        let mut d = Dir::default();
        assert!(d.push(0, 50, Item::Frame(Bytes::from_static(b"a"))));
        assert!(d.push(10, 1, Item::Frame(Bytes::from_static(b"b"))));
        let times: Vec<u64> = d.queue.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![50, 50]);
        d.stalled_until = 80;
        assert_eq!(d.next_time(0), Some(80));
        d.blackhole();
        assert!(!d.push(0, 1, Item::Fin));
        assert_eq!(d.next_time(0), None);
    }
}
