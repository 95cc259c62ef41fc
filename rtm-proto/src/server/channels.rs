//! Channels (§4.7, §4.8, §5.2): membership, messages, member events and counts, and the
//! replay of recent messages to members that rejoin after losing their session (§2.6).
//!
//! A channel message is encoded once; the same `Bytes` goes into every member's delivery
//! stream, so a send to 10 000 members costs one encoding and 10 000 reference-count bumps.
//!
//! A member whose delivery stream is full (away, or acknowledging slowly) does not lose
//! channel messages silently: it is marked as *lagging* in the channel, and once it has
//! acknowledged enough it is sent the channel's recent history from the first message it
//! missed (`Server::catch_up`). The history is the one the rejoin replay uses (§2.6: the
//! last 30 s, at most 32 messages), so a member further behind than that loses the older
//! ones, exactly as a member that lost its session would. A `member_count` push that finds
//! the stream full is dropped, but the catch-up then pushes the current count.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::attributes::ChannelAttribute;
use crate::errors::{
    ChannelMessageError, GetChannelMemberCountError, GetMembersError, JoinChannelError,
    LeaveChannelError,
};
use crate::ids::{ChannelId, UserId};
use crate::message::Message;
use crate::time::Timestamp;
use crate::wire::{ChannelCount, ChannelCursor, PeerMessageOutcome, Push, Reply};

use super::resends::{Lookup, SendKey, Target, MSG_ID_REUSED, RESENDS_FULL};
use super::{ConnId, Server, ServerTimer};

pub use crate::limits::{MAX_COUNT_CHANNELS, MAX_GET_MEMBERS, MAX_JOINED, MEMBER_EVENT_LIMIT};

/// How long a member sample of a big channel is reused (`get_members` on > 512 members).
pub const SAMPLE_TTL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct Channel {
    /// Names this instance of the channel; a forgotten and recreated channel gets another.
    pub epoch: u64,
    pub members: BTreeSet<UserId>,
    next_cseq: u64,
    pub history: super::history::History,
    pub attributes: BTreeMap<String, ChannelAttribute>,
    /// Bumped whenever the channel stops or starts being empty (lazy GC timers).
    pub gc_gen: u64,
    count_sent_at: Option<Timestamp>,
    count_sent: Option<u32>,
    /// Joiners told the count privately since the last coalesced push, and what they were
    /// told: the push skips those who already know it.
    pub told: BTreeMap<UserId, u32>,
    count_timer: bool,
    /// The last member sample of a channel over 512 members, and when it was drawn.
    sample: Option<(Timestamp, Vec<UserId>)>,
}

impl Channel {
    fn new(epoch: u64) -> Self {
        Channel {
            epoch,
            members: BTreeSet::new(),
            next_cseq: 1,
            history: Default::default(),
            attributes: BTreeMap::new(),
            gc_gen: 0,
            count_sent_at: None,
            count_sent: None,
            told: BTreeMap::new(),
            count_timer: false,
            sample: None,
        }
    }

    pub(super) fn count(&self) -> u32 {
        self.members.len() as u32
    }

    /// What the channel's attributes count against
    /// [`super::ServerConfig::channel_attributes_total`]: key and value bytes, plus the
    /// writer's id and a fixed overhead per key.
    pub(super) fn attribute_bytes(&self) -> usize {
        self.attributes
            .iter()
            .map(|(k, v)| k.len() + v.value.len() + v.last_update_user_id.as_str().len() + 96)
            .sum()
    }

    fn count_interval(&self) -> Duration {
        if self.members.len() > MEMBER_EVENT_LIMIT {
            Duration::from_secs(3)
        } else {
            Duration::from_secs(1)
        }
    }
}

/// The answer when the server holds as many channels as it may.
pub(super) const TOO_MANY_CHANNELS: &str = "the server holds as many channels as it may; try later";

impl Server {
    /// Whether a request that needs channel `id` must be refused because the server holds
    /// [`super::ServerConfig::max_channels`] channels already and `id` is not one of them.
    pub(super) fn channels_full(&self, id: &ChannelId) -> bool {
        self.channels.len() >= self.config.max_channels && !self.channels.contains_key(id)
    }

    /// Drops every channel's expired history (every [`super::history::SWEEP_EVERY`]).
    pub(super) fn sweep_history(&mut self) {
        let now = self.now;
        let freed: usize = self
            .channels
            .values_mut()
            .map(|ch| ch.history.expire(now))
            .sum();
        self.history_bytes -= freed;
    }

    /// Forgets channel `id` and what its attributes and history counted.
    pub(super) fn remove_channel(&mut self, id: &ChannelId) {
        if let Some(ch) = self.channels.remove(id) {
            self.channel_attr_bytes -= ch.attribute_bytes();
            self.history_bytes -= ch.history.bytes();
        }
    }

    /// The channel `id`, created if needed (callers check [`Server::channels_full`]).
    pub(super) fn channel_entry(&mut self, id: &ChannelId) -> &mut Channel {
        if !self.channels.contains_key(id) {
            let epoch = self.rng.next_u64() >> 12; // JSON-safe integer
            self.channels.insert(id.clone(), Channel::new(epoch));
        }
        self.channels.get_mut(id).expect("just inserted")
    }

    pub(super) fn on_join(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        channel: ChannelId,
        resume: Option<ChannelCursor>,
    ) {
        let Some(s) = self.sessions.get(uid) else {
            return;
        };
        let already = s.channels.get(&channel).copied();
        if already.is_none() && s.channels.len() >= MAX_JOINED {
            let e = JoinChannelError::ExceedLimit;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        if self.channels_full(&channel) {
            let e = JoinChannelError::Failure;
            return self.reply_error(conn, id, e.code(), TOO_MANY_CHANNELS);
        }
        let now = self.now;
        let ch = self.channel_entry(&channel);
        let epoch = ch.epoch;
        // A join of a joined channel is a resend whose answer was lost: answer again.
        let fresh = ch.members.insert(uid.clone());
        if fresh {
            ch.gc_gen += 1;
        }
        let replay: Vec<Bytes> = match resume {
            Some(cursor) if cursor.epoch == epoch => ch.history.recent_after(now, cursor.cseq, uid),
            _ => Vec::new(),
        };
        let member_events = ch.members.len() <= MEMBER_EVENT_LIMIT;
        let count = ch.count();
        // The last message before this membership began: a client without a cursor starts
        // there, and every later message reaches it by the stream (or a catch-up). For a
        // resend whose first answer was lost that is *not* the latest message: those sent
        // since may still wait in the stream (behind the send window, or a lag).
        let cseq = already.unwrap_or(ch.next_cseq - 1);
        if let Some(s) = self.sessions.get_mut(uid) {
            s.channels.entry(channel.clone()).or_insert(cseq);
            if resume.is_some_and(|c| c.epoch == epoch) {
                // A cursor of this instance says what the client has: the replay below
                // covers anything a catch-up still owed it.
                s.lagging.remove(&channel);
            }
        }
        self.reply(
            conn,
            Reply::Joined {
                id,
                channel: channel.clone(),
                epoch,
                cseq,
            },
        );
        // Kept however full the stream is: it is bounded (≤ 32), and dropping it would lose
        // the messages for good.
        for frame in replay {
            self.push_kept(uid, frame);
        }
        if fresh && member_events {
            let frame = Push::MemberJoined {
                channel: channel.clone(),
                member: uid.clone(),
            }
            .encode();
            self.fan_out(&channel, Some(uid), &frame);
        }
        // The joiner learns the count at once (§5.2): from the coalesced push if that goes
        // out now, else on its own.
        let pushed_to_all = fresh && self.count_changed(&channel);
        if !pushed_to_all {
            let count_frame = Push::MemberCount {
                channel: channel.clone(),
                count,
            }
            .encode();
            self.push_member_count(uid, &channel, count_frame);
            if let Some(ch) = self.channels.get_mut(&channel) {
                ch.told.insert(uid.clone(), count);
            }
        }
    }

    pub(super) fn on_leave(&mut self, conn: ConnId, uid: &UserId, id: u32, channel: ChannelId) {
        let member = self
            .sessions
            .get(uid)
            .is_some_and(|s| s.channels.contains_key(&channel));
        if !member {
            let e = LeaveChannelError::NotInChannel;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        if let Some(s) = self.sessions.get_mut(uid) {
            s.channels.remove(&channel);
            s.lagging.remove(&channel);
            s.stale_counts.remove(&channel);
        }
        self.remove_member(&channel, uid);
        self.reply(conn, Reply::Ok { id });
    }

    /// Removes `uid` from every channel in `channels` (session end, remote login).
    pub(super) fn leave_all_channels(&mut self, uid: &UserId, channels: &BTreeMap<ChannelId, u64>) {
        for c in channels.keys() {
            self.remove_member(c, uid);
        }
    }

    fn remove_member(&mut self, channel: &ChannelId, uid: &UserId) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let member_events = ch.members.len() <= MEMBER_EVENT_LIMIT;
        if !ch.members.remove(uid) {
            return;
        }
        if member_events {
            let frame = Push::MemberLeft {
                channel: channel.clone(),
                member: uid.clone(),
            }
            .encode();
            self.fan_out(channel, None, &frame);
        }
        self.count_changed(channel);
        self.channel_maybe_empty(channel);
    }

    /// A channel with no members is forgotten at once if it has no attributes, else after
    /// the configured grace period (§4.6, §14.7).
    pub(super) fn channel_maybe_empty(&mut self, channel: &ChannelId) {
        let grace = self.config.channel_attributes_grace;
        let now = self.now;
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        if !ch.members.is_empty() {
            return;
        }
        if ch.attributes.is_empty() {
            self.remove_channel(channel);
            return;
        }
        ch.gc_gen += 1;
        let (epoch, gen) = (ch.epoch, ch.gc_gen);
        self.timers.schedule(
            now.saturating_add(grace),
            ServerTimer::ChannelGc {
                channel: channel.clone(),
                epoch,
                gen,
            },
        );
    }

    pub(super) fn on_channel_gc(&mut self, channel: &ChannelId, epoch: u64, gen: u64) {
        if self
            .channels
            .get(channel)
            .is_some_and(|c| c.epoch == epoch && c.gc_gen == gen && c.members.is_empty())
        {
            self.remove_channel(channel);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_channel_message(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        epoch: u64,
        id: u32,
        channel: ChannelId,
        msg_id: u64,
        message: Message,
    ) {
        let key = SendKey {
            from: uid.clone(),
            to: Target::Channel(channel.clone()),
            msg_id,
        };
        let digest = message.digest();
        match self.resends.lookup(&key, digest) {
            Lookup::New => {}
            Lookup::Conflict => {
                let e = ChannelMessageError::Failure;
                return self.reply_error(conn, id, e.code(), MSG_ID_REUSED);
            }
            // Channel sends are settled when taken.
            Lookup::Done(_) | Lookup::Pending => return self.reply(conn, Reply::Ok { id }),
        }
        let member = self
            .sessions
            .get(uid)
            .is_some_and(|s| s.channels.contains_key(&channel));
        let refuse = if !message.is_valid() {
            Some(ChannelMessageError::InvalidMessage)
        } else if !member {
            Some(ChannelMessageError::NotInChannel)
        } else if !self
            .sessions
            .get_mut(uid)
            .is_some_and(|s| s.limits.messages.try_acquire(self.now))
        {
            Some(ChannelMessageError::TooOften)
        } else {
            None
        };
        match refuse {
            Some(e @ ChannelMessageError::TooOften) => {
                return self.refuse_message_rate(conn, uid, id, e.code(), e.to_string())
            }
            Some(e) => return self.reply_error(conn, id, e.code(), e.to_string()),
            None => {}
        }
        let _ = epoch;
        let taken = Some(PeerMessageOutcome::Received);
        if !self.resends.insert(self.now, key, digest, taken, None) {
            let e = ChannelMessageError::Failure;
            return self.reply_error(conn, id, e.code(), RESENDS_FULL);
        }
        let now = self.now;
        let server_ts = self.unix_ms();
        let history_room = self
            .config
            .channel_history_total
            .saturating_sub(self.history_bytes);
        let ch = self.channel_entry(&channel);
        let cseq = ch.next_cseq;
        ch.next_cseq += 1;
        let frame = Push::ChannelMessage {
            channel: channel.clone(),
            epoch: ch.epoch,
            cseq,
            from: uid.clone(),
            message,
            server_ts,
        }
        .encode();
        // Kept for replays and catch-ups unless all channels' histories are at their budget:
        // then it is delivered but not replayed (history expires within 30 s).
        let expired = ch.history.expire(now);
        let kept = history_room + expired >= frame.len();
        let trimmed = if kept {
            ch.history.keep(now, cseq, uid, &frame)
        } else {
            0
        };
        let added = if kept { frame.len() } else { 0 };
        self.history_bytes = self.history_bytes + added - expired - trimmed;
        self.fan_out_message(&channel, uid, cseq, &frame);
        self.reply(conn, Reply::Ok { id });
    }

    pub(super) fn on_get_members(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        channel: ChannelId,
    ) {
        let member = self
            .sessions
            .get(uid)
            .is_some_and(|s| s.channels.contains_key(&channel));
        let Some(ch) = self.channels.get(&channel).filter(|_| member) else {
            let e = GetMembersError::NotInChannel;
            return self.reply_error(conn, id, e.code(), e.to_string());
        };
        let members = if ch.members.len() <= MAX_GET_MEMBERS {
            ch.members.iter().cloned().collect()
        } else {
            self.member_sample(&channel)
        };
        self.reply(conn, Reply::Members { id, members });
    }

    /// A uniform random sample of [`MAX_GET_MEMBERS`] members of a bigger channel, sorted.
    /// Drawing one walks the member set once, so it is drawn at most once per
    /// [`SAMPLE_TTL`] and channel and shared by every `get_members` in that time: a tight
    /// loop of them costs O(512) each, not O(members).
    fn member_sample(&mut self, channel: &ChannelId) -> Vec<UserId> {
        let now = self.now;
        let Some(ch) = self.channels.get(channel) else {
            return Vec::new();
        };
        if let Some((at, sample)) = &ch.sample {
            if now.since(*at) < SAMPLE_TTL {
                return sample.clone();
            }
        }
        // Floyd's algorithm: MAX_GET_MEMBERS distinct indices, then one ordered walk.
        let n = ch.members.len() as u64;
        let mut picked = BTreeSet::new();
        for j in n - MAX_GET_MEMBERS as u64..n {
            let t = self.rng.below(j + 1);
            if !picked.insert(t) {
                picked.insert(j);
            }
        }
        let mut wanted = picked.into_iter().peekable();
        let sample: Vec<UserId> = ch
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let hit = wanted.peek() == Some(&(*i as u64));
                if hit {
                    wanted.next();
                }
                hit
            })
            .map(|(_, m)| m.clone())
            .collect();
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.sample = Some((now, sample.clone()));
        }
        sample
    }

    pub(super) fn on_get_member_count(&mut self, conn: ConnId, id: u32, channels: Vec<ChannelId>) {
        if channels.is_empty() {
            let e = GetChannelMemberCountError::InvalidArgument;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        if channels.len() > MAX_COUNT_CHANNELS {
            let e = GetChannelMemberCountError::ExceedLimit;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        let counts = channels
            .into_iter()
            .map(|channel| {
                let count = self.channels.get(&channel).map_or(0, Channel::count);
                ChannelCount { channel, count }
            })
            .collect();
        self.reply(conn, Reply::MemberCounts { id, counts });
    }

    /// Membership changed: push the count now, or when the throttle allows (§5.2).
    /// Returns whether it was pushed now.
    fn count_changed(&mut self, channel: &ChannelId) -> bool {
        let now = self.now;
        let Some(ch) = self.channels.get_mut(channel) else {
            return false;
        };
        let due = ch
            .count_sent_at
            .map_or(now, |t| t.saturating_add(ch.count_interval()));
        if now >= due {
            return self.push_count(channel);
        }
        if !ch.count_timer {
            ch.count_timer = true;
            let epoch = ch.epoch;
            self.timers.schedule(
                due,
                ServerTimer::MemberCount {
                    channel: channel.clone(),
                    epoch,
                },
            );
        }
        false
    }

    pub(super) fn on_member_count_timer(&mut self, channel: &ChannelId, epoch: u64) {
        if let Some(ch) = self.channels.get_mut(channel) {
            if ch.epoch == epoch {
                ch.count_timer = false;
                self.push_count(channel);
            }
        }
    }

    /// Pushes the count to every member unless it is the one last pushed; returns whether
    /// it pushed.
    fn push_count(&mut self, channel: &ChannelId) -> bool {
        let now = self.now;
        let Some(ch) = self.channels.get_mut(channel) else {
            return false;
        };
        let count = ch.count();
        if ch.count_sent == Some(count) {
            // Unchanged for everyone told by the last coalesced push; joiners told another
            // count privately since must hear this one.
            let stale: Vec<UserId> = ch
                .told
                .iter()
                .filter(|(_, c)| **c != count)
                .map(|(m, _)| m.clone())
                .collect();
            ch.told.clear();
            if !stale.is_empty() {
                let frame = Push::MemberCount {
                    channel: channel.clone(),
                    count,
                }
                .encode();
                for m in &stale {
                    self.push_member_count(m, channel, frame.clone());
                }
            }
            return false;
        }
        ch.count_sent = Some(count);
        ch.count_sent_at = Some(now);
        let frame = Push::MemberCount {
            channel: channel.clone(),
            count,
        }
        .encode();
        self.fan_out_counts(channel, count, &frame);
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.told.clear();
        }
        true
    }
}
