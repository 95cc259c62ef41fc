//! User attributes (§4.5) and channel attributes (§4.6): the methods of [`RtmClient`].
//!
//! Every write resolves with `Ok(())` once the server applied it, or with the
//! `AttributeOperationError` of §8.12. Channel attributes work on any channel without joining
//! it; with [`ChannelAttributeOptions::enable_notification_to_channel_members`] every member
//! gets `ChannelEvent::AttributesUpdated` with the complete set after the change.

use std::collections::BTreeMap;

use rtm_proto::attributes::ChannelAttribute;
use rtm_proto::client::ChannelAttributeOptions;
use rtm_proto::errors::AttributeOperationError as E;
use rtm_proto::ChannelId;

use crate::answers::{AttributeWrite, GetChannelAttributes, GetUserAttributes};
use crate::{Answer, RtmClient};

impl RtmClient {
    /// `setLocalUserAttributes(attributes)`: replaces the whole set of the logged-in user.
    /// Attributes live as long as the session (they survive reconnects).
    pub fn set_local_user_attributes(&self, attributes: BTreeMap<String, String>) -> Answer<(), E> {
        self.request(AttributeWrite, (), move |c, now, ()| {
            c.set_local_user_attributes(now, attributes)
        })
    }

    /// `addOrUpdateLocalUserAttributes(attributes)`: upserts the given keys.
    pub fn add_or_update_local_user_attributes(
        &self,
        attributes: BTreeMap<String, String>,
    ) -> Answer<(), E> {
        self.request(AttributeWrite, (), move |c, now, ()| {
            c.add_or_update_local_user_attributes(now, attributes)
        })
    }

    /// `deleteLocalUserAttributesByKeys(keys)`.
    pub fn delete_local_user_attributes_by_keys(&self, keys: &[&str]) -> Answer<(), E> {
        self.request(AttributeWrite, keys, |c, now, keys| {
            c.delete_local_user_attributes_by_keys(now, keys)
        })
    }

    /// `clearLocalUserAttributes()`.
    pub fn clear_local_user_attributes(&self) -> Answer<(), E> {
        self.request(AttributeWrite, (), |c, now, ()| {
            c.clear_local_user_attributes(now)
        })
    }

    /// The logged-in user's attributes as last confirmed by the server (empty if the client
    /// is gone).
    pub fn local_user_attributes(&self) -> BTreeMap<String, String> {
        self.local(|c, _| c.local_user_attributes().clone())
            .unwrap_or_default()
    }

    /// `getUserAttributes(userId)`: every attribute of an online user; USER_NOT_FOUND if the
    /// user is offline.
    pub fn get_user_attributes(&self, user_id: &str) -> Answer<BTreeMap<String, String>, E> {
        self.request(GetUserAttributes, user_id, |c, now, user| {
            c.get_user_attributes(now, &user)
        })
    }

    /// `getUserAttributesByKeys(userId, keys)`: the attributes of an online user among
    /// `keys`.
    pub fn get_user_attributes_by_keys(
        &self,
        user_id: &str,
        keys: &[&str],
    ) -> Answer<BTreeMap<String, String>, E> {
        self.request(
            GetUserAttributes,
            (user_id, keys),
            |c, now, (user, keys)| c.get_user_attributes_by_keys(now, &user, keys),
        )
    }

    /// `setChannelAttributes(channelId, attributes, options)`: replaces the channel's set.
    pub fn set_channel_attributes(
        &self,
        channel: &ChannelId,
        attributes: BTreeMap<String, String>,
        options: ChannelAttributeOptions,
    ) -> Answer<(), E> {
        self.request(AttributeWrite, channel, move |c, now, channel| {
            c.set_channel_attributes(now, &channel, attributes, options)
        })
    }

    /// `addOrUpdateChannelAttributes(channelId, attributes, options)`: upserts the given keys.
    pub fn add_or_update_channel_attributes(
        &self,
        channel: &ChannelId,
        attributes: BTreeMap<String, String>,
        options: ChannelAttributeOptions,
    ) -> Answer<(), E> {
        self.request(AttributeWrite, channel, move |c, now, channel| {
            c.add_or_update_channel_attributes(now, &channel, attributes, options)
        })
    }

    /// `deleteChannelAttributesByKeys(channelId, keys, options)`.
    pub fn delete_channel_attributes_by_keys(
        &self,
        channel: &ChannelId,
        keys: &[&str],
        options: ChannelAttributeOptions,
    ) -> Answer<(), E> {
        self.request(
            AttributeWrite,
            (channel, keys),
            move |c, now, (channel, keys)| {
                c.delete_channel_attributes_by_keys(now, &channel, keys, options)
            },
        )
    }

    /// `clearChannelAttributes(channelId, options)`.
    pub fn clear_channel_attributes(
        &self,
        channel: &ChannelId,
        options: ChannelAttributeOptions,
    ) -> Answer<(), E> {
        self.request(AttributeWrite, channel, move |c, now, channel| {
            c.clear_channel_attributes(now, &channel, options)
        })
    }

    /// `getChannelAttributes(channelId)`: the channel's attributes, each with its value, the
    /// user who last wrote it and when. No need to join.
    pub fn get_channel_attributes(
        &self,
        channel: &ChannelId,
    ) -> Answer<BTreeMap<String, ChannelAttribute>, E> {
        self.request(GetChannelAttributes, channel, |c, now, channel| {
            c.get_channel_attributes(now, &channel)
        })
    }

    /// `getChannelAttributesByKeys(channelId, keys)`.
    pub fn get_channel_attributes_by_keys(
        &self,
        channel: &ChannelId,
        keys: &[&str],
    ) -> Answer<BTreeMap<String, ChannelAttribute>, E> {
        self.request(
            GetChannelAttributes,
            (channel, keys),
            |c, now, (channel, keys)| c.get_channel_attributes_by_keys(now, &channel, keys),
        )
    }
}
