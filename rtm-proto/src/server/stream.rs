//! The delivery stream of a session: every push in order, kept until acknowledged.
//!
//! A push takes the next position and stays in `Session::unacked` until an `ack` covers it;
//! what is sent is bounded by the send window (opened by acks, see `Session::window_bytes`),
//! and what is kept by the stream's bounds ([`StreamLimits`]). Peer messages carry what the
//! server must keep if the session ends before the ack; everything else is resent as
//! encoded after a resume.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::ids::UserId;
use crate::wire::PeerMessageOutcome;

use super::peers::StoredMessage;
use super::Server;

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

impl Server {
    /// Appends `frame` to `to`'s delivery stream; it goes out when the session is attached
    /// and its send window allows. `keep` pushes (peer messages, invitation decisions) are
    /// always taken; others (member events, attribute notifications) are dropped when the
    /// stream is full (`max_unacked` pushes or bytes unacknowledged). Channel messages and
    /// member counts do not come here: see [`Server::fan_out_message`] and
    /// [`Server::push_member_count`].
    pub(super) fn push_stream(
        &mut self,
        to: &UserId,
        frame: Bytes,
        peer: Option<StoredMessage>,
    ) -> StreamPush {
        let keep = peer.is_some();
        self.push_under_limits(to, frame, peer, keep)
    }

    /// [`Server::push_stream`] for a push that must not be dropped however full the stream
    /// is (an invitation decision: both sides must hear it to agree; a replay or catch-up of
    /// channel messages, bounded by the history).
    pub(super) fn push_kept(&mut self, to: &UserId, frame: Bytes) -> StreamPush {
        self.push_under_limits(to, frame, None, true)
    }

    fn push_under_limits(
        &mut self,
        to: &UserId,
        frame: Bytes,
        peer: Option<StoredMessage>,
        keep: bool,
    ) -> StreamPush {
        let limits = self.stream_limits();
        stream_push(
            &mut self.sessions,
            &mut self.out,
            limits,
            to,
            frame,
            peer,
            keep,
        )
    }

    /// [`Server::push_kept`] for an invitation push. Each other kept push is bounded per
    /// session (replays and catch-ups by the history and the 20 channels, offline messages
    /// by the store), but invitation pushes come from any number of callers: past the
    /// reserve they end the session (see [`StreamLimits::overflowing`]).
    pub(super) fn push_invitation(&mut self, to: &UserId, frame: Bytes) -> StreamPush {
        let pushed = self.push_kept(to, frame);
        let limits = self.stream_limits();
        if self.sessions.get(to).is_some_and(|s| limits.overflowing(s)) {
            self.overflowed.insert(to.clone());
        }
        pushed
    }

    /// Ends every session whose stream went past its bound and the reserve (see
    /// [`StreamLimits::overflowing`]). Run after each input, not amid the fan-outs that
    /// overflowed it: ending a session pushes to others (member events, invitation
    /// failures), which may overflow them in turn.
    pub(super) fn end_overflowed(&mut self) {
        while let Some(uid) = self.overflowed.pop_first() {
            let limits = self.stream_limits();
            let Some(s) = self.sessions.get(&uid).filter(|s| limits.overflowing(s)) else {
                continue;
            };
            if let Some(conn) = s.conn {
                self.close(
                    conn,
                    crate::wire::close::SLOW_CONSUMER,
                    "delivery stream overflowed: the session is ended; log in again",
                );
            }
            self.end_session(&uid);
        }
    }

    pub(super) fn on_ack(&mut self, uid: &UserId, epoch: u64, seq: u64) {
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        if s.epoch != epoch {
            return;
        }
        // Nothing beyond what was sent can be acknowledged (a forged ack is capped).
        let seq = seq.min(s.sent_upto);
        if s.unacked.front().is_some_and(|p| p.pos <= seq) {
            s.ack_clock = self.now;
        }
        let mut done = Vec::new();
        let mut acked = 0;
        while s.unacked.front().is_some_and(|p| p.pos <= seq) {
            let Some(p) = s.unacked.pop_front() else {
                break;
            };
            acked += p.frame.len();
            if let Some(peer) = p.peer {
                done.push(peer.key);
            }
        }
        s.unacked_bytes -= acked;
        s.inflight_bytes -= acked;
        s.window_bytes = (s.window_bytes + acked).min(self.config.send_window_bytes);
        self.pump_stream(uid);
        self.catch_up(uid);
        for key in done {
            self.resolve(&key, PeerMessageOutcome::Received);
        }
    }
}

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
    /// its ack clock (`Session::ack_clock`).
    pub now: crate::time::Timestamp,
}

impl StreamLimits {
    /// Whether `s` cannot take a peer message or channel message of `len` more bytes.
    pub fn full(&self, s: &super::sessions::Session, len: usize) -> bool {
        s.unacked.len() >= self.pushes || s.unacked_bytes + len > self.bytes
    }

    /// Whether `s` cannot take a push that may be dropped (a member event, member count or
    /// attribute notification) of `len` more bytes: those may fill three quarters of the
    /// stream, so join/leave churn in a member's channels always leaves the last quarter
    /// to its messages.
    pub fn crowded(&self, s: &super::sessions::Session, len: usize) -> bool {
        s.unacked.len().saturating_mul(4) >= self.pushes.saturating_mul(3)
            || (s.unacked_bytes + len).saturating_mul(4) > self.bytes.saturating_mul(3)
    }

    /// Whether `s` is past the stream's bound and a reserve of a quarter more (at least
    /// [`KEPT_RESERVE_PUSHES`] and [`KEPT_RESERVE_BYTES`], for small streams), which only
    /// pushes kept however full the stream is can do. Checked when an invitation push goes
    /// in (the one kind whose sum over many senders has no bound: a thousand callers
    /// ringing one callee that never reads). A session this far behind is ended: its peer
    /// messages move to the offline store, its invitations fail on both sides alike, and its
    /// client logs in afresh and asks what became of them (`invitation_sync`).
    pub fn overflowing(&self, s: &super::sessions::Session) -> bool {
        s.unacked.len() > self.pushes + (self.pushes / 4).max(KEPT_RESERVE_PUSHES)
            || s.unacked_bytes > self.bytes + (self.bytes / 4).max(KEPT_RESERVE_BYTES)
    }

    /// Whether `s` holds at most half of what it may (pushes and bytes): room for a
    /// catch-up without refilling the stream at once.
    pub fn at_most_half(&self, s: &super::sessions::Session) -> bool {
        s.unacked.len().saturating_mul(2) <= self.pushes
            && s.unacked_bytes.saturating_mul(2) <= self.bytes
    }
}

impl Server {
    pub(super) fn stream_limits(&self) -> StreamLimits {
        StreamLimits {
            pushes: self.config.max_unacked,
            bytes: self.config.max_unacked_bytes,
            window_pushes: self.config.send_window,
            now: self.now,
        }
    }

    /// Where `uid`'s latest push went, `(session epoch, stream position)`, for
    /// [`Server::stream_holds`].
    pub(super) fn stream_tip(&self, uid: &UserId) -> Option<(u64, u64)> {
        self.sessions.get(uid).map(|s| (s.epoch, s.next_pos - 1))
    }

    /// Whether the push at `(epoch, pos)` is still unacknowledged in `uid`'s stream.
    pub(super) fn stream_holds(&self, uid: &UserId, (epoch, pos): (u64, u64)) -> bool {
        self.sessions.get(uid).is_some_and(|s| {
            s.epoch == epoch && pos < s.next_pos && s.unacked.front().is_some_and(|p| p.pos <= pos)
        })
    }

    /// Sends what `uid`'s window allows (after an ack, or a resume).
    pub(super) fn pump_stream(&mut self, uid: &UserId) {
        let limits = self.stream_limits();
        if let Some(s) = self.sessions.get_mut(uid) {
            pump(s, &mut self.out, limits);
        }
    }
}

/// Sends queued pushes of `s` while its window allows. Positions are contiguous from the
/// front of `unacked`; those up to `sent_upto` are in flight.
fn pump(
    s: &mut super::sessions::Session,
    out: &mut VecDeque<super::ServerOutput>,
    limits: StreamLimits,
) {
    let Some(conn) = s.conn else { return };
    let Some(front) = s.unacked.front().map(|p| p.pos) else {
        return;
    };
    debug_assert!(
        s.sent_upto + 1 >= front,
        "acknowledged pushes were never sent"
    );
    loop {
        let in_flight = (s.sent_upto + 1).saturating_sub(front) as usize;
        let Some(p) = s.unacked.get(in_flight) else {
            break;
        };
        let len = p.frame.len();
        // Always let one push through, however large, so a stream can never stall.
        if in_flight >= limits.window_pushes
            || (in_flight > 0 && s.inflight_bytes + len > s.window_bytes)
        {
            break;
        }
        s.inflight_bytes += len;
        s.sent_upto = p.pos;
        out.push_back(super::ServerOutput::Send {
            conn,
            frame: p.frame.clone(),
        });
    }
}

/// The body of [`Server::push_stream`], on the fields it needs, so fan-outs can iterate a
/// channel's members while pushing.
pub(super) fn stream_push(
    sessions: &mut BTreeMap<UserId, super::sessions::Session>,
    out: &mut VecDeque<super::ServerOutput>,
    limits: StreamLimits,
    to: &UserId,
    frame: Bytes,
    peer: Option<StoredMessage>,
    keep: bool,
) -> StreamPush {
    let Some(s) = sessions.get_mut(to) else {
        return StreamPush::Dropped;
    };
    // Pushes that may be dropped stop at three quarters (see `StreamLimits::crowded`).
    if !keep && limits.crowded(s, frame.len()) {
        return StreamPush::Dropped;
    }
    append(s, out, limits, frame, peer)
}

/// Appends `frame` to `s`'s stream, room checked by the caller, and sends what the window
/// allows.
pub(super) fn append(
    s: &mut super::sessions::Session,
    out: &mut VecDeque<super::ServerOutput>,
    limits: StreamLimits,
    frame: Bytes,
    peer: Option<StoredMessage>,
) -> StreamPush {
    let pos = s.next_pos;
    s.next_pos += 1;
    if s.unacked.is_empty() {
        s.ack_clock = limits.now;
    }
    s.unacked_bytes += frame.len();
    s.unacked.push_back(Pushed {
        pos,
        frame,
        peer: peer.map(Box::new),
    });
    if s.conn.is_some() {
        pump(s, out, limits);
        StreamPush::Attached
    } else {
        StreamPush::Buffered
    }
}

#[cfg(test)]
mod tests {
    /// The figure the doc comment of `Pushed::peer` gives.
    #[test]
    fn a_push_entry_is_48_bytes() {
        assert_eq!(core::mem::size_of::<super::Pushed>(), 48);
    }
}
