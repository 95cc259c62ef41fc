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

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::attributes::ChannelAttribute;
use crate::errors::{ChannelMessageError, JoinChannelError, LeaveChannelError};
use crate::ids::{ChannelId, UserId};
use crate::message::Message;
use crate::wire::{ChannelCursor, PeerMessageOutcome, Push, Reply};

use super::admin::events::ChannelEventKind;
use super::members::MemberView;
use super::resends::{Lookup, SendKey, Target, MSG_ID_REUSED, RESENDS_FULL};
use super::{ConnId, Server, ServerTimer};

use crate::limits::{MAX_JOINED, MEMBER_EVENT_LIMIT};

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
    /// What members were told of the membership: counts and the shared sample.
    pub view: MemberView,
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
            view: MemberView::default(),
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
        if let Some(until) = self.bans.join_refused(uid, &channel, self.unix_ms()) {
            let e = JoinChannelError::Rejected;
            let text = format!("banned from this channel by the server until {until} (unix ms)");
            return self.reply_error(conn, id, e.code(), text);
        }
        let now = self.now;
        let media_ok = self.decodes_media(uid);
        let ch = self.channel_entry(&channel);
        let epoch = ch.epoch;
        // A join of a joined channel is a resend whose answer was lost: answer again.
        let fresh = ch.members.insert(uid.clone());
        if fresh {
            ch.gc_gen += 1;
        }
        let replay: Vec<Bytes> = match resume {
            Some(cursor) if cursor.epoch == epoch => {
                ch.history.recent_after(now, cursor.cseq, uid, media_ok)
            }
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
        if fresh {
            self.log_channel_event(&channel, uid, ChannelEventKind::Join);
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
                ch.view.told.insert(uid.clone(), count);
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

    pub(super) fn remove_member(&mut self, channel: &ChannelId, uid: &UserId) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let member_events = ch.members.len() <= MEMBER_EVENT_LIMIT;
        if !ch.members.remove(uid) {
            return;
        }
        self.log_channel_event(channel, uid, ChannelEventKind::Leave);
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
            Lookup::Done(_) | Lookup::Pending | Lookup::NotStored => {
                return self.reply(conn, Reply::Ok { id })
            }
        }
        let member = self
            .sessions
            .get(uid)
            .is_some_and(|s| s.channels.contains_key(&channel));
        let refuse = if !message.is_valid() {
            Some(ChannelMessageError::InvalidMessage)
        } else if !member {
            Some(ChannelMessageError::NotInChannel)
        } else if !self.take_message_rate(uid) {
            Some(ChannelMessageError::TooOften)
        } else {
            None
        };
        if let Some(e) = refuse {
            self.counters.message("channel", "refused");
            let too_often = e == ChannelMessageError::TooOften;
            return self.refuse_message(conn, uid, id, e.code(), e.to_string(), too_often);
        }
        let taken = Some(PeerMessageOutcome::Received);
        if !self.resends.insert(self.now, key, digest, taken, None) {
            let e = ChannelMessageError::Failure;
            return self.reply_error(conn, id, e.code(), RESENDS_FULL);
        }
        self.publish_channel_message(&channel, uid, message);
        self.reply(conn, Reply::Ok { id });
    }

    /// Gives `message` from `from` the channel's next `cseq`, keeps it in the channel's
    /// history and fans it out to every member but `from` (a member's message, or one sent
    /// as a user through the REST API). The channel exists (members send to their channel;
    /// the REST API sends nothing to one nobody is in).
    pub(super) fn publish_channel_message(
        &mut self,
        channel: &ChannelId,
        from: &UserId,
        message: Message,
    ) {
        self.counters.message("channel", "received");
        let now = self.now;
        let server_ts = self.unix_ms();
        let history_room = self
            .config
            .channel_history_total
            .saturating_sub(self.history_bytes);
        let media = message.media().is_some();
        let ch = self.channel_entry(channel);
        let cseq = ch.next_cseq;
        ch.next_cseq += 1;
        let frame = Push::ChannelMessage {
            channel: channel.clone(),
            epoch: ch.epoch,
            cseq,
            from: from.clone(),
            message,
            server_ts,
        }
        .encode();
        // Kept for replays and catch-ups unless all channels' histories are at their budget:
        // then it is delivered but not replayed (history expires within 30 s).
        let expired = ch.history.expire(now);
        let kept = history_room + expired >= frame.len();
        let trimmed = if kept {
            ch.history.keep(now, cseq, from, &frame, media)
        } else {
            0
        };
        let added = if kept { frame.len() } else { 0 };
        self.history_bytes = self.history_bytes + added - expired - trimmed;
        self.fan_out_message(channel, from, cseq, &frame, media);
    }
}
