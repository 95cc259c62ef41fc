//! Fan-outs to a channel's members, and the catch-up of members whose stream was full.
//!
//! One encoded frame per fan-out, shared by every member's stream (a `Bytes` reference
//! each). Member events, counts and attribute notifications may be dropped for a crowded
//! stream; channel messages never are: a member they do not fit is marked lagging, and once
//! its acknowledgements make room it is caught up from the channel's history.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::ids::{ChannelId, UserId};
use crate::wire::Push;

use super::delivery::stream_push;
use super::stream::{StreamLimits, StreamPush};
use super::Server;

impl Server {
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
            |ch, m| ch.view.told.get(m) != Some(&count),
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
            &mut super::sessions::Sessions,
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
        media: bool,
    ) {
        let Some(epoch) = self.channels.get(channel).map(|ch| ch.epoch) else {
            return;
        };
        let mut delivered = 0u64;
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
                // A FILE or IMAGE message skips members whose client cannot decode it.
                if media && s.version < crate::wire::MEDIA_VERSION {
                    return;
                }
                if limits.full(&s.stream, frame.len()) {
                    s.lagging.insert(channel.clone(), (epoch, cseq));
                    return;
                }
                // One session lookup per recipient: this loop is the fan-out's cost.
                s.stream.append(s.conn, out, limits, frame.clone(), None);
                delivered += 1;
            },
        );
        self.counters.fanout_deliveries += delivered;
    }

    /// After an acknowledgement: once `uid`'s stream is at most half full, sends each
    /// channel it lags in the history entries from the first message it missed (§2.6's
    /// window: the last 30 s, at most 32 — older ones are lost, as for a rejoin), kept
    /// whatever the stream holds, then forgets the lag; then the current member count of
    /// each channel whose count push it missed. One channel at a time while the stream
    /// stays at most half full, so a catch-up overshoots the stream's bound by at most one
    /// channel's history; the next acknowledgement continues.
    pub(super) fn catch_up(&mut self, uid: &UserId) {
        let limits = self.stream_limits();
        loop {
            let Some(s) = self.sessions.get_mut(uid) else {
                return;
            };
            if !limits.at_most_half(&s.stream) {
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
        let media_ok = self.decodes_media(uid);
        let frames = match self.channels.get(channel) {
            Some(ch) if joined && ch.epoch == epoch => {
                ch.history
                    .recent_after(self.now, first.saturating_sub(1), uid, media_ok)
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
        ch.view.told.insert(uid.clone(), count);
        let frame = Push::MemberCount { channel, count }.encode();
        self.push_kept(uid, frame);
    }
}

/// A `member_count` push of `channel` to `to`. One that finds the stream full is dropped,
/// and the channel marked so that the catch-up pushes the then current count; one that
/// goes in makes an earlier miss moot.
fn count_push(
    sessions: &mut super::sessions::Sessions,
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
