//! Channels (§4.7, §4.8): [`RtmChannel`] and the channel methods of [`RtmClient`].
//!
//! A channel's events (`ChannelMessage`, `MemberJoined`, `MemberLeft`,
//! `MemberCountUpdated`, `AttributesUpdated`) arrive on [`RtmClient::events`], each naming
//! its channel. After a reconnect the core rejoins the channels by itself (§2.6).

use rtm_proto::errors::{
    ChannelMessageError, CreateChannelError, GetChannelMemberCountError, GetMembersError,
    JoinChannelError, LeaveChannelError,
};
use rtm_proto::{ChannelId, Message, UserId};

use crate::answers::{strs, GetChannelMemberCount, GetMembers, Join, Leave, SendChannelMessage};
use crate::{Answer, RtmClient};

/// A channel of one client (the SDK's `RtmChannel`): a thin handle holding the client and
/// the channel id. Clones are the same channel; the handle keeps its client alive.
#[derive(Debug, Clone)]
pub struct RtmChannel {
    client: RtmClient,
    id: ChannelId,
}

impl RtmChannel {
    /// A new listener of this channel's events, from now on: its messages, member events,
    /// member counts and attribute updates (the SDK's `channel.on(...)`). See
    /// [`crate::events`] for the queue bound.
    pub fn events(&self) -> crate::Events {
        self.client
            .listen(crate::events::Filter::Channel(self.id.clone()))
    }

    /// `channel.channelId`.
    pub fn channel_id(&self) -> &ChannelId {
        &self.id
    }

    /// The client this channel belongs to.
    pub fn client(&self) -> &RtmClient {
        &self.client
    }

    /// `channel.join()` (§4.8). The joiner then gets `MemberCountUpdated`; the other members
    /// `MemberJoined`.
    pub fn join(&self) -> Answer<(), JoinChannelError> {
        self.client.join(&self.id)
    }

    /// `channel.leave()` (§4.8). The channel's events stop at once.
    pub fn leave(&self) -> Answer<(), LeaveChannelError> {
        self.client.leave(&self.id)
    }

    /// `channel.sendMessage(message)` (§4.8): resolves when the server accepted it. The other
    /// members get `ChannelMessage`; the sender does not.
    pub fn send_message(&self, message: Message) -> Answer<(), ChannelMessageError> {
        self.client.send_channel_message(&self.id, message)
    }

    /// `channel.getMembers()` (§4.8): at most 512 (a random sample beyond).
    pub fn get_members(&self) -> Answer<Vec<UserId>, GetMembersError> {
        self.client.get_members(&self.id)
    }
}

impl RtmClient {
    /// `createChannel(channelId)` (§4.8): a local handle for a validated channel id. Works
    /// before login; joins nothing.
    pub fn create_channel(&self, channel_id: &str) -> Result<RtmChannel, CreateChannelError> {
        let id = channel_id.to_string();
        let id = self
            .local(move |c, _| c.create_channel(&id))
            .unwrap_or(Err(CreateChannelError::InvalidArgument))?;
        Ok(RtmChannel {
            client: self.clone(),
            id,
        })
    }

    /// `channel.join()` for `channel` (see [`RtmChannel::join`]).
    pub fn join(&self, channel: &ChannelId) -> Answer<(), JoinChannelError> {
        self.request(Join, channel, |c, now, channel| c.join(now, &channel))
    }

    /// `channel.leave()` for `channel` (see [`RtmChannel::leave`]).
    pub fn leave(&self, channel: &ChannelId) -> Answer<(), LeaveChannelError> {
        self.request(Leave, channel, |c, now, channel| c.leave(now, &channel))
    }

    /// `channel.sendMessage(message)` for `channel` (see [`RtmChannel::send_message`]).
    pub fn send_channel_message(
        &self,
        channel: &ChannelId,
        message: Message,
    ) -> Answer<(), ChannelMessageError> {
        self.request(SendChannelMessage, channel, move |c, now, channel| {
            c.send_channel_message(now, &channel, message)
        })
    }

    /// `channel.getMembers()` for `channel` (see [`RtmChannel::get_members`]).
    pub fn get_members(&self, channel: &ChannelId) -> Answer<Vec<UserId>, GetMembersError> {
        self.request(GetMembers, channel, |c, now, channel| {
            c.get_members(now, &channel)
        })
    }

    /// `getChannelMemberCount(channelIds)` (§4.7): `(channel, count)` in the order asked, for
    /// at most 32 channels, without joining them; 0 for a channel that does not exist.
    pub fn get_channel_member_count(
        &self,
        channel_ids: &[&str],
    ) -> Answer<Vec<(ChannelId, u32)>, GetChannelMemberCountError> {
        self.request(GetChannelMemberCount, channel_ids, |c, now, ids| {
            c.get_channel_member_count(now, &strs(&ids))
        })
    }

    /// The channels this client has joined or is joining (empty if the client is gone).
    pub fn joined_channels(&self) -> Vec<ChannelId> {
        self.local(|c, _| c.joined_channels()).unwrap_or_default()
    }
}
