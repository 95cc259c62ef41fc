//! Channels on the client (§4.7, §4.8, §5.2): join, leave, messages, members, counts, and
//! rejoining after a reconnect that lost the server session (§2.6).

use std::collections::VecDeque;

use crate::errors::*;
use crate::ids::ChannelId;
use crate::limits::{MAX_COUNT_CHANNELS, MAX_JOINED};
use crate::message::Message;
use crate::ratelimit::Rate;
use crate::time::Timestamp;
use crate::wire::RemovedReason;
use crate::wire::{ChannelCursor, ClientFrame};

use super::pending::{PendingKind, SHORT_TIMEOUT};
use super::{Client, RequestId};

/// A channel this client has joined or is joining.
#[derive(Debug, Clone)]
pub(super) struct JoinedChannel {
    pub joined: bool,
    /// The last channel message delivered, to drop replays and duplicates.
    pub cursor: Option<ChannelCursor>,
}

/// Recent joins, for the "same channel 2 per 5 s" limit (bounded by the 50 per 3 s limit).
#[derive(Debug, Clone, Default)]
pub(super) struct RecentJoins(VecDeque<(Timestamp, ChannelId)>);

impl RecentJoins {
    fn admit_same(&mut self, now: Timestamp, channel: &ChannelId) -> bool {
        let window = Rate::JOIN_SAME.window;
        while self.0.front().is_some_and(|(t, _)| now.since(*t) >= window) {
            self.0.pop_front();
        }
        let same = self.0.iter().filter(|(_, c)| c == channel).count();
        same < Rate::JOIN_SAME.max as usize
    }

    fn record(&mut self, now: Timestamp, channel: ChannelId) {
        self.0.push_back((now, channel));
        while self.0.len() > Rate::JOIN.max as usize {
            self.0.pop_front();
        }
    }
}

/// Channels the server took the session out of, until joined again; the most recent
/// [`MAX_REMOVED`] (a session is in at most 20 channels at once, so this covers every
/// removal of its current memberships).
#[derive(Debug, Clone, Default)]
pub(super) struct RemovedChannels(VecDeque<ChannelId>);

/// Removals remembered at most.
const MAX_REMOVED: usize = 2 * MAX_JOINED;

impl RemovedChannels {
    fn insert(&mut self, channel: ChannelId) {
        self.0.retain(|c| *c != channel);
        if self.0.len() >= MAX_REMOVED {
            self.0.pop_front();
        }
        self.0.push_back(channel);
    }

    fn forget(&mut self, channel: &ChannelId) {
        self.0.retain(|c| c != channel);
    }

    fn contains(&self, channel: &ChannelId) -> bool {
        self.0.contains(channel)
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}

impl Client {
    /// `createChannel(channelId)`: a local handle, validated (§1.4). Works before login.
    pub fn create_channel(&self, channel_id: &str) -> Result<ChannelId, CreateChannelError> {
        ChannelId::new(channel_id).map_err(|_| CreateChannelError::InvalidArgument)
    }

    /// `channel.join()` (§4.8). The result arrives as `Response::Join`; the joiner then
    /// gets `MemberCountUpdated`.
    pub fn join(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
    ) -> Result<RequestId, JoinChannelError> {
        self.enter(now, JoinChannelError::NotLoggedIn)?;
        if self.channels.contains_key(channel) {
            return Err(JoinChannelError::AlreadyJoined);
        }
        if self.channels.len() >= MAX_JOINED {
            return Err(JoinChannelError::ExceedLimit);
        }
        if !self.recent_joins.admit_same(self.now, channel) {
            return Err(JoinChannelError::JoinSameChannelTooOften);
        }
        if !self.limiters.join.try_acquire(self.now) {
            return Err(JoinChannelError::TooOften);
        }
        self.recent_joins.record(self.now, channel.clone());
        self.removed_channels.forget(channel);
        self.channels.insert(
            channel.clone(),
            JoinedChannel {
                joined: false,
                cursor: None,
            },
        );
        let c = channel.clone();
        Ok(
            self.start_request(PendingKind::Join(channel.clone()), SHORT_TIMEOUT, |id| {
                ClientFrame::Join {
                    id,
                    channel: c,
                    resume: None,
                }
            }),
        )
    }

    /// `channel.leave()` (§4.8). Events of the channel stop at once.
    pub fn leave(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
    ) -> Result<RequestId, LeaveChannelError> {
        self.enter(now, LeaveChannelError::NotLoggedIn)?;
        if self.removed_channels.contains(channel) {
            return Err(LeaveChannelError::Kicked);
        }
        if self.channels.remove(channel).is_none() {
            return Err(LeaveChannelError::NotInChannel);
        }
        let c = channel.clone();
        Ok(self.start_request(
            PendingKind::Leave(channel.clone()),
            self.config.request_timeout,
            |id| ClientFrame::Leave { id, channel: c },
        ))
    }

    /// `channel.sendMessage(message)` (§4.8): succeeds when the server accepted it.
    pub fn send_channel_message(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        message: Message,
    ) -> Result<RequestId, ChannelMessageError> {
        self.enter(now, ChannelMessageError::NotLoggedIn)?;
        if !self.channels.get(channel).is_some_and(|c| c.joined) {
            return Err(ChannelMessageError::NotInChannel);
        }
        if !message.is_valid() {
            return Err(ChannelMessageError::InvalidMessage);
        }
        if !self.limiters.messages.try_acquire(self.now) {
            return Err(ChannelMessageError::TooOften);
        }
        let msg_id = self.rng.next_u64();
        let c = channel.clone();
        Ok(self.start_request(
            PendingKind::ChannelMessage,
            self.config.request_timeout,
            |id| ClientFrame::ChannelMessage {
                id,
                channel: c,
                msg_id,
                message,
            },
        ))
    }

    /// `channel.getMembers()` (§4.8): at most 512 (a random sample beyond).
    pub fn get_members(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
    ) -> Result<RequestId, GetMembersError> {
        self.enter(now, GetMembersError::NotLoggedIn)?;
        if !self.channels.get(channel).is_some_and(|c| c.joined) {
            return Err(GetMembersError::NotInChannel);
        }
        if !self.limiters.get_members.try_acquire(self.now) {
            return Err(GetMembersError::TooOften);
        }
        let c = channel.clone();
        Ok(
            self.start_request(PendingKind::GetMembers, SHORT_TIMEOUT, |id| {
                ClientFrame::GetMembers { id, channel: c }
            }),
        )
    }

    /// `getChannelMemberCount(channelIds)` (§4.7): ≤ 32 channels, no need to join; 0 for a
    /// channel that does not exist.
    pub fn get_channel_member_count(
        &mut self,
        now: Timestamp,
        channel_ids: &[&str],
    ) -> Result<RequestId, GetChannelMemberCountError> {
        self.enter(now, GetChannelMemberCountError::NotLoggedIn)?;
        if channel_ids.len() > MAX_COUNT_CHANNELS {
            return Err(GetChannelMemberCountError::ExceedLimit);
        }
        let channels: Option<Vec<ChannelId>> = channel_ids
            .iter()
            .map(|c| ChannelId::new(*c).ok())
            .collect();
        let channels = channels
            .filter(|c| !c.is_empty())
            .ok_or(GetChannelMemberCountError::InvalidArgument)?;
        if !self.limiters.member_count.try_acquire(self.now) {
            return Err(GetChannelMemberCountError::TooOften);
        }
        Ok(
            self.start_request(PendingKind::GetMemberCount, SHORT_TIMEOUT, |id| {
                ClientFrame::GetMemberCount { id, channels }
            }),
        )
    }

    /// Channels joined (or being joined), for the application and the simulator.
    pub fn joined_channels(&self) -> Vec<ChannelId> {
        self.channels.keys().cloned().collect()
    }

    /// Whether a pushed channel message is new, advancing the channel's cursor if so.
    pub(super) fn accept_channel_message(
        &mut self,
        channel: &ChannelId,
        epoch: u64,
        cseq: u64,
    ) -> bool {
        let Some(c) = self.channels.get_mut(channel) else {
            return false;
        };
        match c.cursor {
            Some(cur) if cur.epoch == epoch && cseq <= cur.cseq => false,
            _ => {
                c.cursor = Some(ChannelCursor { epoch, cseq });
                true
            }
        }
    }

    /// The server confirmed a (re)join of the channel instance `epoch`, whose latest message
    /// is `cseq`. A first join starts the cursor there; a rejoin of the same instance keeps
    /// it, so the replay that follows fills the gap.
    pub(super) fn on_joined(&mut self, channel: &ChannelId, epoch: u64, cseq: u64) {
        if let Some(c) = self.channels.get_mut(channel) {
            c.joined = true;
            if c.cursor.is_none_or(|cur| cur.epoch != epoch) {
                c.cursor = Some(ChannelCursor { epoch, cseq });
            }
        }
    }

    /// The server took this session out of `channel` (`removed`): the channel is left, as
    /// far as the application and the server are concerned (no rejoin after a reconnect, no
    /// membership correction), and a `leave` of it fails with KICKED. Whether the
    /// application hears it.
    pub(super) fn on_removed(&mut self, channel: &ChannelId, _reason: RemovedReason) -> bool {
        if self.channels.remove(channel).is_none() {
            return false;
        }
        self.channel_sync.remove(channel);
        self.removed_channels.insert(channel.clone());
        true
    }

    /// Whether events of `channel` are for the application.
    pub(super) fn in_channel(&self, channel: &ChannelId) -> bool {
        self.channels.contains_key(channel)
    }
}
