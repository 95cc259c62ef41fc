//! Pushing to a user: the server's entry points over the sessions' delivery streams
//! ([`super::stream::Stream`]), by user id — the stream's bounds and their overflow policy,
//! acknowledgements, and the pushes that must never be dropped.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::ids::UserId;
use crate::wire::PeerMessageOutcome;

use super::offline::StoredMessage;
use super::stream::{StreamLimits, StreamPush};
use super::{Server, ServerOutput};

impl Server {
    /// Appends `frame` to `to`'s delivery stream; it goes out when the session is attached
    /// and its send window allows. `keep` pushes (peer messages, invitation decisions) are
    /// always taken; others (member events, attribute notifications) are dropped when the
    /// stream is crowded (see [`StreamLimits::crowded`]). Channel messages and member counts
    /// do not come here: see [`Server::fan_out_message`] and [`Server::push_member_count`].
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
        if self
            .sessions
            .get(to)
            .is_some_and(|s| limits.overflowing(&s.stream))
        {
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
            let Some(s) = self
                .sessions
                .get(&uid)
                .filter(|s| limits.overflowing(&s.stream))
            else {
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
        let received = s.stream.ack(seq, self.now, self.config.send_window_bytes);
        self.pump_stream(uid);
        self.catch_up(uid);
        for (key, record) in received {
            self.delete_record(record);
            self.resolve(&key, PeerMessageOutcome::Received);
        }
    }

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
        self.sessions.get(uid).map(|s| (s.epoch, s.stream.tip()))
    }

    /// Whether the push at `(epoch, pos)` is still unacknowledged in `uid`'s stream.
    pub(super) fn stream_holds(&self, uid: &UserId, (epoch, pos): (u64, u64)) -> bool {
        self.sessions
            .get(uid)
            .is_some_and(|s| s.epoch == epoch && s.stream.holds(pos))
    }

    /// Sends what `uid`'s window allows (after an ack, or a resume).
    pub(super) fn pump_stream(&mut self, uid: &UserId) {
        let limits = self.stream_limits();
        if let Some(s) = self.sessions.get_mut(uid) {
            if let Some(conn) = s.conn {
                s.stream.pump(conn, &mut self.out, limits);
            }
        }
    }
}

/// The body of [`Server::push_stream`], on the fields it needs, so fan-outs can iterate a
/// channel's members while pushing.
pub(super) fn stream_push(
    sessions: &mut super::sessions::Sessions,
    out: &mut VecDeque<ServerOutput>,
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
    if !keep && limits.crowded(&s.stream, frame.len()) {
        return StreamPush::Dropped;
    }
    s.stream.append(s.conn, out, limits, frame, peer)
}
