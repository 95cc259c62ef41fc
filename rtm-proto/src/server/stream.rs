//! The delivery stream of a session: every push in order, kept until acknowledged.
//!
//! A push takes the next position and stays in the stream until an `ack` covers it; what is
//! sent is bounded by the send window (opened by acks, see [`Stream::window_bytes`]), and
//! what is kept by the stream's bounds ([`StreamLimits`]). Peer messages carry what the
//! server must keep if the session ends before the ack; everything else is resent as
//! encoded after a resume. Each session owns one [`Stream`]; the server's entry points that
//! push to a user by id are in `delivery.rs`.

use core::time::Duration;
use std::collections::VecDeque;

use bytes::Bytes;

use crate::time::Timestamp;

use super::offline::StoredMessage;
use super::resends::SendKey;
use super::storage::RecordId;
use super::{ConnId, ServerOutput};

/// A push of a session's delivery stream not yet acknowledged.
#[derive(Debug, Clone)]
pub(super) struct Pushed {
    /// Position in the session's stream (1, 2, …).
    pub pos: u64,
    /// The encoded frame, resent as is after a resume; shared across a fan-out.
    pub frame: Bytes,
    /// For peer messages: what to keep if the session ends before the ack. Boxed: most
    /// pushes are not peer messages, and a thousand streams of 1 024 pushes each cost
    /// 48 MiB of entries this way instead of 180 MiB.
    pub peer: Option<Box<StoredMessage>>,
}

/// What became of a stream push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StreamPush {
    /// For a live connection: sent, or queued behind the send window.
    Attached,
    /// Kept for the session's resume.
    Buffered,
    /// Not kept (no session, or a detached session that is full).
    Dropped,
}

/// One session's delivery stream.
#[derive(Debug)]
pub(super) struct Stream {
    /// Position of the next push.
    next_pos: u64,
    /// Pushes not yet acknowledged, in position order.
    unacked: VecDeque<Pushed>,
    /// Encoded bytes of `unacked`.
    unacked_bytes: usize,
    /// The last position sent on the current connection, and the bytes in flight (sent,
    /// not acknowledged): the send window.
    sent_upto: u64,
    inflight_bytes: usize,
    /// How many bytes may be in flight now. It starts at `initial_window_bytes` on every
    /// connection and grows by what is acknowledged, up to `send_window_bytes` (like TCP's
    /// slow start): a connection that never reads costs its first window only, so a
    /// fan-out to a thousand such members copies megabytes, not a gigabyte.
    window_bytes: usize,
    /// Since when the stream has waited for acknowledgement progress: set when a push goes
    /// into an empty stream, when an ack takes something off it, and on a new connection.
    /// A connection that keeps sending frames while this is older than
    /// `liveness::ACK_DEADLINE` with pushes in flight does not read: it is closed as a slow
    /// consumer.
    ack_clock: Timestamp,
}

impl Stream {
    /// An empty stream whose first push is position 1.
    pub fn new(window_bytes: usize, now: Timestamp) -> Stream {
        Stream {
            next_pos: 1,
            unacked: VecDeque::new(),
            unacked_bytes: 0,
            sent_upto: 0,
            inflight_bytes: 0,
            window_bytes,
            ack_clock: now,
        }
    }

    /// Position of the latest push (0: none yet).
    pub fn tip(&self) -> u64 {
        self.next_pos - 1
    }

    /// Whether the push at `pos` is still unacknowledged.
    pub fn holds(&self, pos: u64) -> bool {
        pos < self.next_pos && self.unacked.front().is_some_and(|p| p.pos <= pos)
    }

    /// Pushes not yet acknowledged.
    pub fn len(&self) -> usize {
        self.unacked.len()
    }

    /// Encoded bytes not yet acknowledged.
    pub fn bytes(&self) -> usize {
        self.unacked_bytes
    }

    /// The stream on a new connection: nothing is in flight, the window starts over from
    /// `window_bytes`, and the unacknowledged pushes go out again. Returns the position
    /// the resent pushes start at (the next push's when there are none).
    pub fn restart(&mut self, window_bytes: usize, now: Timestamp) -> u64 {
        let resend_from = self.unacked.front().map_or(self.next_pos, |p| p.pos);
        self.sent_upto = resend_from - 1;
        self.inflight_bytes = 0;
        self.window_bytes = window_bytes;
        self.ack_clock = now;
        resend_from
    }

    /// Whether pushes have been in flight for `deadline` with no acknowledgement progress.
    pub fn ack_overdue(&self, now: Timestamp, deadline: Duration) -> bool {
        let in_flight = self
            .unacked
            .front()
            .is_some_and(|p| p.pos <= self.sent_upto);
        in_flight && now.since(self.ack_clock) >= deadline
    }

    /// The peer messages still unacknowledged, for their durable records.
    pub fn peer_messages_mut(&mut self) -> impl Iterator<Item = &mut StoredMessage> {
        self.unacked
            .iter_mut()
            .filter_map(|p| p.peer.as_deref_mut())
    }

    /// Marks the peer message whose record is `id` as held in memory only (its write
    /// failed); false if the stream has no such message.
    pub fn forget_record(&mut self, id: RecordId) -> bool {
        match self.peer_messages_mut().find(|m| m.record == Some(id)) {
            Some(m) => {
                m.record = None;
                true
            }
            None => false,
        }
    }

    /// The peer messages still unacknowledged, oldest first, for the offline store or the
    /// session that replaces this one.
    pub fn into_peer_messages(self) -> impl Iterator<Item = StoredMessage> {
        self.unacked.into_iter().filter_map(|p| p.peer.map(|m| *m))
    }

    /// Appends `frame` (room checked by the caller) and sends what the window allows on
    /// `conn`.
    pub fn append(
        &mut self,
        conn: Option<ConnId>,
        out: &mut VecDeque<ServerOutput>,
        limits: StreamLimits,
        frame: Bytes,
        peer: Option<StoredMessage>,
    ) -> StreamPush {
        let pos = self.next_pos;
        self.next_pos += 1;
        if self.unacked.is_empty() {
            self.ack_clock = limits.now;
        }
        self.unacked_bytes += frame.len();
        self.unacked.push_back(Pushed {
            pos,
            frame,
            peer: peer.map(Box::new),
        });
        match conn {
            Some(conn) => {
                self.pump(conn, out, limits);
                StreamPush::Attached
            }
            None => StreamPush::Buffered,
        }
    }

    /// Sends queued pushes on `conn` while the window allows. Positions are contiguous
    /// from the front of `unacked`; those up to `sent_upto` are in flight.
    pub fn pump(&mut self, conn: ConnId, out: &mut VecDeque<ServerOutput>, limits: StreamLimits) {
        let Some(front) = self.unacked.front().map(|p| p.pos) else {
            return;
        };
        debug_assert!(
            self.sent_upto + 1 >= front,
            "acknowledged pushes were never sent"
        );
        loop {
            let in_flight = (self.sent_upto + 1).saturating_sub(front) as usize;
            let Some(p) = self.unacked.get_mut(in_flight) else {
                break;
            };
            let len = p.frame.len();
            // Always let one push through, however large, so a stream can never stall.
            if in_flight >= limits.window_pushes
                || (in_flight > 0 && self.inflight_bytes + len > self.window_bytes)
            {
                break;
            }
            self.inflight_bytes += len;
            self.sent_upto = p.pos;
            if let Some(m) = p.peer.as_deref_mut() {
                m.pushed = true;
            }
            out.push_back(ServerOutput::Send {
                conn,
                frame: p.frame.clone(),
            });
        }
    }

    /// Takes the pushes up to `seq` off the stream (nothing beyond what was sent: a forged
    /// ack is capped) and opens the window by their bytes, up to `max_window`. Returns the
    /// sends whose peer messages were thereby received, with their durable records.
    pub fn ack(
        &mut self,
        seq: u64,
        now: Timestamp,
        max_window: usize,
    ) -> Vec<(SendKey, Option<RecordId>)> {
        let seq = seq.min(self.sent_upto);
        if self.unacked.front().is_some_and(|p| p.pos <= seq) {
            self.ack_clock = now;
        }
        let mut received = Vec::new();
        let mut acked = 0;
        while self.unacked.front().is_some_and(|p| p.pos <= seq) {
            let Some(p) = self.unacked.pop_front() else {
                break;
            };
            acked += p.frame.len();
            if let Some(peer) = p.peer {
                received.push((peer.key, peer.record));
            }
        }
        self.unacked_bytes -= acked;
        self.inflight_bytes -= acked;
        self.window_bytes = (self.window_bytes + acked).min(max_window);
        self.shrink();
        received
    }

    /// Gives back the queue's memory once a burst is acknowledged: a join's `member_joined`
    /// pushes or a login's backlog grow it to hundreds of entries (48 bytes each), which an
    /// idle session would otherwise keep for its whole life. Shrinking to twice what is
    /// left when at most a quarter is used keeps appends amortised O(1).
    fn shrink(&mut self) {
        let capacity = self.unacked.capacity();
        if capacity > KEPT_CAPACITY && self.unacked.len() <= capacity / 4 {
            self.unacked
                .shrink_to(KEPT_CAPACITY.max(self.unacked.len() * 2));
        }
    }
}

/// Entries a stream's queue keeps room for however empty: a session that gets one push at
/// a time does not reallocate for each.
const KEPT_CAPACITY: usize = 8;

/// The least reserve for kept pushes beyond a stream's bound (see
/// [`StreamLimits::overflowing`]): the legitimate kept pushes of a small stream (a catch-up
/// of 32 messages, a few invitation decisions) must never end a session.
pub(super) const KEPT_RESERVE_PUSHES: usize = 256;
/// See [`KEPT_RESERVE_PUSHES`].
pub(super) const KEPT_RESERVE_BYTES: usize = 2 * 1024 * 1024;

/// How much a session's delivery stream may hold unacknowledged, and how much of it may be
/// in flight on the connection at once.
#[derive(Debug, Clone, Copy)]
pub(super) struct StreamLimits {
    pub pushes: usize,
    pub bytes: usize,
    pub window_pushes: usize,
    /// The time of the pushes made under these limits: a push into an empty stream starts
    /// its ack clock (`Stream::ack_clock`).
    pub now: Timestamp,
}

impl StreamLimits {
    /// Whether `s` cannot take a peer message or channel message of `len` more bytes.
    pub fn full(&self, s: &Stream, len: usize) -> bool {
        s.len() >= self.pushes || s.bytes() + len > self.bytes
    }

    /// Whether `s` cannot take a push that may be dropped (a member event, member count or
    /// attribute notification) of `len` more bytes: those may fill three quarters of the
    /// stream, so join/leave churn in a member's channels always leaves the last quarter
    /// to its messages.
    pub fn crowded(&self, s: &Stream, len: usize) -> bool {
        s.len().saturating_mul(4) >= self.pushes.saturating_mul(3)
            || (s.bytes() + len).saturating_mul(4) > self.bytes.saturating_mul(3)
    }

    /// Whether `s` is past the stream's bound and a reserve of a quarter more (at least
    /// [`KEPT_RESERVE_PUSHES`] and [`KEPT_RESERVE_BYTES`], for small streams), which only
    /// pushes kept however full the stream is can do. Checked when an invitation push goes
    /// in (the one kind whose sum over many senders has no bound: a thousand callers
    /// ringing one callee that never reads). A session this far behind is ended: its peer
    /// messages move to the offline store, its invitations fail on both sides alike, and its
    /// client logs in afresh and asks what became of them (`invitation_sync`).
    pub fn overflowing(&self, s: &Stream) -> bool {
        s.len() > self.pushes + (self.pushes / 4).max(KEPT_RESERVE_PUSHES)
            || s.bytes() > self.bytes + (self.bytes / 4).max(KEPT_RESERVE_BYTES)
    }

    /// Whether `s` holds at most half of what it may (pushes and bytes): room for a
    /// catch-up without refilling the stream at once.
    pub fn at_most_half(&self, s: &Stream) -> bool {
        s.len().saturating_mul(2) <= self.pushes && s.bytes().saturating_mul(2) <= self.bytes
    }
}

#[cfg(test)]
mod tests {
    /// The figure the doc comment of `Pushed::peer` gives.
    #[test]
    fn a_push_entry_is_48_bytes() {
        assert_eq!(core::mem::size_of::<super::Pushed>(), 48);
    }

    /// A burst of 500 pushes, acknowledged: the queue's memory goes back to a few entries'.
    #[test]
    fn the_queue_shrinks_back_once_a_burst_is_acknowledged() {
        use super::{Stream, StreamLimits, KEPT_CAPACITY};
        use crate::server::{ConnId, ServerOutput};
        use crate::time::Timestamp;
        let now = Timestamp::ZERO;
        let limits = StreamLimits {
            pushes: 1024,
            bytes: 1 << 20,
            window_pushes: 1024,
            now,
        };
        let mut s = Stream::new(1 << 20, now);
        let mut out = std::collections::VecDeque::<ServerOutput>::new();
        for _ in 0..500 {
            let frame = bytes::Bytes::from_static(b"{\"type\":\"member_joined\"}");
            s.append(Some(ConnId(1)), &mut out, limits, frame, None);
        }
        assert!(s.unacked.capacity() >= 500);
        s.ack(400, now, 1 << 20);
        assert_eq!(s.len(), 100);
        assert!(s.unacked.capacity() < 500, "a quarter left: shrunk");
        s.ack(500, now, 1 << 20);
        assert_eq!(s.len(), 0);
        assert!(
            s.unacked.capacity() <= KEPT_CAPACITY * 2,
            "{}",
            s.unacked.capacity()
        );
    }
}
