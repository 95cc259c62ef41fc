//! Peer-to-peer messages (§4.3): delivery with receipts, buffering, idempotent resends.
//!
//! A message to an attached receiver is pushed on the session's delivery stream and stays in the
//! session's unacknowledged queue until the receiver's client acknowledges it; only then is the
//! sender told `received`. A detached receiver (reconnecting, < 30 s) gets it buffered and the
//! sender is told `cached`. An offline receiver gets it stored if the sender asked for offline
//! messaging (`cached`), else the sender is told `unreachable`.
//!
//! Resends are recognised by [`super::resends`]: the first outcome is answered again instead
//! of a second delivery.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::errors::PeerMessageError;
use crate::ids::{ChannelId, UserId};
use crate::message::Message;
use crate::wire::{PeerMessageOutcome, ServerFrame};

use super::resends::{Lookup, SendKey, Target, Waiter, MSG_ID_REUSED, RESENDS_FULL};
use super::{ConnId, Server};

/// A message as the server keeps it until the receiver acknowledges it.
#[derive(Debug, Clone)]
pub(super) struct StoredMessage {
    /// The send it came from; its receiver is `Target::Peer`.
    pub key: SendKey,
    pub message: Message,
    /// Unix ms at which the server received it.
    pub server_ts: u64,
    /// Whether it went through the offline store (`isOfflineMessage`).
    pub offline: bool,
}

impl StoredMessage {
    /// What it counts against the offline store's byte bounds: the body, the ids and a
    /// fixed overhead for the record and its queue slot.
    pub fn weight(&self) -> usize {
        self.message.counted_len() + self.key.from.as_str().len() + self.key.to.id_len() + 128
    }
}

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
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_peer_message(
        &mut self,
        conn: ConnId,
        from: &UserId,
        epoch: u64,
        id: u32,
        to: UserId,
        msg_id: u64,
        message: Message,
        offline: bool,
    ) {
        let key = SendKey {
            from: from.clone(),
            to: Target::Peer(to.clone()),
            msg_id,
        };
        let digest = message.digest();
        let waiter = Waiter { epoch, request: id };
        // A resend: answer with the first outcome, or wait for it.
        match self.resends.lookup(&key, digest) {
            Lookup::Done(outcome) => {
                return self.send(conn, &ServerFrame::PeerMessageResult { id, outcome })
            }
            Lookup::Pending if self.resends.wait(&key, waiter) => return,
            Lookup::Pending => {
                let e = PeerMessageError::Failure;
                return self.reply_error(
                    conn,
                    id,
                    e.code(),
                    "this send is already waiting for its outcome (too many repeats)",
                );
            }
            Lookup::Conflict => {
                let e = PeerMessageError::Failure;
                return self.reply_error(conn, id, e.code(), MSG_ID_REUSED);
            }
            Lookup::New => {}
        }
        let refuse = if !message.is_valid() {
            Some(PeerMessageError::InvalidMessage)
        } else if &to == from {
            Some(PeerMessageError::InvalidUserId)
        } else if !self
            .sessions
            .get_mut(from)
            .is_some_and(|s| s.limits.messages.try_acquire(self.now))
        {
            Some(PeerMessageError::TooOften)
        } else {
            None
        };
        match refuse {
            Some(e @ PeerMessageError::TooOften) => {
                return self.refuse_message_rate(conn, from, id, e.code(), e.to_string())
            }
            Some(e) => return self.reply_error(conn, id, e.code(), e.to_string()),
            None => {}
        }
        if !self
            .resends
            .insert(self.now, key.clone(), digest, None, Some(waiter))
        {
            let e = PeerMessageError::Failure;
            return self.reply_error(conn, id, e.code(), RESENDS_FULL);
        }
        // What the encoded push will weigh, near enough for the byte bound (raw data
        // travels as base64).
        let message_len = 256
            + match &message {
                Message::Text { text } => text.len(),
                Message::Raw { data, description } => {
                    data.len().div_ceil(3) * 4 + description.len()
                }
            };
        let stored = StoredMessage {
            key: key.clone(),
            message,
            server_ts: self.unix_ms(),
            offline: false,
        };
        match self.sessions.get(&to) {
            Some(s) if self.stream_limits().full(s, message_len) => {
                // The receiver's stream is full (it is away, or not acknowledging): refuse
                // rather than grow it, or store it out of order behind the buffered ones.
                self.resolve_if_pending(&key, PeerMessageOutcome::Unreachable);
            }
            Some(_) => {
                let attached = self.push_stored(&to, stored);
                if !attached {
                    self.resolve_if_pending(&key, PeerMessageOutcome::Cached);
                }
            }
            None => self.store_offline_or_refuse(&to, stored, offline),
        }
    }

    fn store_offline_or_refuse(&mut self, to: &UserId, mut stored: StoredMessage, offline: bool) {
        let key = stored.key.clone();
        stored.offline = true;
        let outcome = if offline && self.offline.store(to, stored, self.unix_ms()) {
            PeerMessageOutcome::Cached
        } else {
            PeerMessageOutcome::Unreachable
        };
        self.resolve_if_pending(&key, outcome);
    }

    /// Appends a peer message to `to`'s delivery stream (the offline store if `to` has no
    /// session). Returns whether it went out on a live connection.
    pub(super) fn push_stored(&mut self, to: &UserId, stored: StoredMessage) -> bool {
        if !self.sessions.contains_key(to) {
            let now_ms = self.unix_ms();
            self.offline.keep(to, stored, now_ms);
            return false;
        }
        let frame = ServerFrame::Message {
            from: stored.key.from.clone(),
            msg_id: stored.key.msg_id,
            message: stored.message.clone(),
            server_ts: stored.server_ts,
            offline: stored.offline,
        }
        .encode();
        self.push_stream(to, frame, Some(stored)) == StreamPush::Attached
    }

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
        let limits = self.stream_limits();
        let keep = peer.is_some();
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

    /// [`Server::push_stream`] for a push that must not be dropped however full the stream
    /// is (an invitation decision: both sides must hear it to agree; a replay or catch-up of
    /// channel messages, bounded by the history).
    pub(super) fn push_kept(&mut self, to: &UserId, frame: Bytes) -> StreamPush {
        let limits = self.stream_limits();
        stream_push(
            &mut self.sessions,
            &mut self.out,
            limits,
            to,
            frame,
            None,
            true,
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

    /// Pushes one frame (a member event, an attribute notification) to every member of
    /// `channel` but `except`, without copying the member list or the frame: one `Bytes`
    /// reference per member. Dropped for members whose stream is full.
    pub(super) fn fan_out(&mut self, channel: &ChannelId, except: Option<&UserId>, frame: &Bytes) {
        self.fan_out_where(
            channel,
            |_, m| Some(m) != except,
            |sessions, out, limits, m| {
                stream_push(sessions, out, limits, m, frame.clone(), None, false);
            },
        );
    }

    /// A member-count push to every member but those a private push already told `count`.
    pub(super) fn fan_out_counts(&mut self, channel: &ChannelId, count: u32, frame: &Bytes) {
        self.fan_out_where(
            channel,
            |ch, m| ch.told.get(m) != Some(&count),
            |sessions, out, limits, m| {
                count_push(sessions, out, limits, channel, m, frame.clone());
            },
        );
    }

    /// The fan-out loop: `push` to every member of `channel` for which `to` holds, iterating
    /// the member list in place (no copy of it, one `Bytes` reference per member).
    fn fan_out_where(
        &mut self,
        channel: &ChannelId,
        to: impl Fn(&super::channels::Channel, &UserId) -> bool,
        mut push: impl FnMut(
            &mut BTreeMap<UserId, super::sessions::Session>,
            &mut VecDeque<super::ServerOutput>,
            StreamLimits,
            &UserId,
        ),
    ) {
        let limits = self.stream_limits();
        let Some(ch) = self.channels.get(channel) else {
            return;
        };
        for m in ch.members.iter().filter(|m| to(ch, m)) {
            push(&mut self.sessions, &mut self.out, limits, m);
        }
    }

    /// Pushes a `member_count` of `channel` to `to`; see [`count_push`].
    pub(super) fn push_member_count(&mut self, to: &UserId, channel: &ChannelId, frame: Bytes) {
        let limits = self.stream_limits();
        count_push(
            &mut self.sessions,
            &mut self.out,
            limits,
            channel,
            to,
            frame,
        );
    }

    /// Pushes channel message `cseq` of `channel` to every member but its sender. A member
    /// whose stream is full, or that is already behind in this channel, is not pushed it:
    /// the channel is marked lagging from the first message it missed, and
    /// [`Server::catch_up`] sends the recent history from there once the member has
    /// acknowledged enough. Holding back the later messages too keeps the channel's order.
    pub(super) fn fan_out_message(
        &mut self,
        channel: &ChannelId,
        from: &UserId,
        cseq: u64,
        frame: &Bytes,
    ) {
        let Some(epoch) = self.channels.get(channel).map(|ch| ch.epoch) else {
            return;
        };
        self.fan_out_where(
            channel,
            |_, m| m != from,
            |sessions, out, limits, m| {
                let Some(s) = sessions.get_mut(m) else {
                    return;
                };
                if s.lagging.contains_key(channel) {
                    return;
                }
                if limits.full(s, frame.len()) {
                    s.lagging.insert(channel.clone(), (epoch, cseq));
                    return;
                }
                // One session lookup per recipient: this loop is the fan-out's cost.
                append(s, out, limits, frame.clone(), None);
            },
        );
    }

    /// After an acknowledgement: once `uid`'s stream is at most half full, sends each
    /// channel it lags in the history entries from the first message it missed (§2.6's
    /// window: the last 30 s, at most 32 — older ones are lost, as for a rejoin), kept
    /// whatever the stream holds, then forgets the lag; then the current member count of
    /// each channel whose count push it missed. One channel at a time while the stream
    /// stays at most half full, so a catch-up overshoots the stream's bound by at most one
    /// channel's history; the next acknowledgement continues.
    fn catch_up(&mut self, uid: &UserId) {
        let limits = self.stream_limits();
        loop {
            let Some(s) = self.sessions.get_mut(uid) else {
                return;
            };
            if !limits.at_most_half(s) {
                return;
            }
            // Messages first, then the counts the member missed: the current ones.
            if let Some((channel, (epoch, first))) = s.lagging.pop_first() {
                self.catch_up_messages(uid, &channel, epoch, first);
            } else if let Some(channel) = s.stale_counts.pop_first() {
                self.catch_up_count(uid, channel);
            } else {
                return;
            }
        }
    }

    /// The catch-up of one channel: its history from `first` on, if `uid` is still a
    /// member of the same instance.
    fn catch_up_messages(&mut self, uid: &UserId, channel: &ChannelId, epoch: u64, first: u64) {
        let joined = self
            .sessions
            .get(uid)
            .is_some_and(|s| s.channels.contains_key(channel));
        let frames = match self.channels.get(channel) {
            Some(ch) if joined && ch.epoch == epoch => {
                ch.recent_after(self.now, first.saturating_sub(1), uid)
            }
            _ => return,
        };
        for frame in frames {
            self.push_kept(uid, frame);
        }
    }

    /// The current member count of `channel` to `uid`, a member that missed a count push.
    fn catch_up_count(&mut self, uid: &UserId, channel: ChannelId) {
        let joined = self
            .sessions
            .get(uid)
            .is_some_and(|s| s.channels.contains_key(&channel));
        let Some(ch) = self.channels.get_mut(&channel).filter(|_| joined) else {
            return;
        };
        // Told privately, like a joiner: if the count goes back to the one last pushed to
        // all, the next push must still reach this member.
        let count = ch.count();
        ch.told.insert(uid.clone(), count);
        let frame = ServerFrame::MemberCount { channel, count }.encode();
        self.push_kept(uid, frame);
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

    /// Records `outcome` for `key` unless one is already known.
    pub(super) fn resolve_if_pending(&mut self, key: &SendKey, outcome: PeerMessageOutcome) {
        let waiters = self.resends.settle(key, outcome, true);
        self.answer_waiters(&key.from, waiters, outcome);
    }

    /// Records `outcome` for `key` and tells the waiting requests.
    fn resolve(&mut self, key: &SendKey, outcome: PeerMessageOutcome) {
        let waiters = self.resends.settle(key, outcome, false);
        self.answer_waiters(&key.from, waiters, outcome);
    }

    /// Answers each waiting request that came on the sender's current session; the
    /// connection it is on now carries the answer (requests of an ended session have no one
    /// to hear them).
    fn answer_waiters(&mut self, from: &UserId, waiters: Vec<Waiter>, outcome: PeerMessageOutcome) {
        for waiter in waiters {
            let conn = self
                .sessions
                .get(from)
                .filter(|s| s.epoch == waiter.epoch)
                .and_then(|s| s.conn);
            if let Some(conn) = conn {
                self.send(
                    conn,
                    &ServerFrame::PeerMessageResult {
                        id: waiter.request,
                        outcome,
                    },
                );
            }
        }
    }
}

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

    /// Whether `s` is past the stream's bound and a reserve of a quarter more, which only
    /// pushes kept however full the stream is can do. Checked when an invitation push goes
    /// in (the one kind whose sum over many senders has no bound: a thousand callers
    /// ringing one callee that never reads). A session this far behind is ended: its peer
    /// messages move to the offline store, its invitations fail on both sides alike, and its
    /// client logs in afresh and asks what became of them (`invitation_sync`).
    pub fn overflowing(&self, s: &super::sessions::Session) -> bool {
        s.unacked.len() > self.pushes + self.pushes / 4
            || s.unacked_bytes > self.bytes + self.bytes / 4
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

/// A `member_count` push of `channel` to `to`. One that finds the stream full is dropped,
/// and the channel marked so that the catch-up pushes the then current count; one that
/// goes in makes an earlier miss moot.
fn count_push(
    sessions: &mut BTreeMap<UserId, super::sessions::Session>,
    out: &mut VecDeque<super::ServerOutput>,
    limits: StreamLimits,
    channel: &ChannelId,
    to: &UserId,
    frame: Bytes,
) {
    let pushed = stream_push(sessions, out, limits, to, frame, None, false);
    if let Some(s) = sessions.get_mut(to) {
        if pushed == StreamPush::Dropped {
            s.stale_counts.insert(channel.clone());
        } else {
            s.stale_counts.remove(channel);
        }
    }
}

/// The body of [`Server::push_stream`], on the fields it needs, so fan-outs can iterate a
/// channel's members while pushing.
fn stream_push(
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
fn append(
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
