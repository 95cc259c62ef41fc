//! User (§4.5) and channel (§4.6) attributes on the client.
//!
//! The client keeps a copy of its own user attributes, updated when the server confirms a
//! write, and pushes it again after a reconnect that lost the server session, so the
//! attributes survive it (§2.4, §2.6).

use std::collections::BTreeMap;

use crate::attributes::{self, AttrOp, MAX_CHANNEL_BYTES, MAX_USER_BYTES};
use crate::errors::AttributeOperationError as E;
use crate::ids::{ChannelId, UserId};
use crate::time::Timestamp;
use crate::wire::ClientFrame;

use super::pending::PendingKind;
use super::pending::SHORT_TIMEOUT;
use super::{Client, RequestId};

/// `ChannelAttributeOptions` (§4.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelAttributeOptions {
    /// Send every member `AttributesUpdated` with the complete set after the change.
    pub enable_notification_to_channel_members: bool,
}

impl Client {
    /// `setLocalUserAttributes`: replace the whole set.
    pub fn set_local_user_attributes(
        &mut self,
        now: Timestamp,
        attrs: BTreeMap<String, String>,
    ) -> Result<RequestId, E> {
        self.user_attr_write(now, AttrOp::Set, attrs, Vec::new())
    }

    /// `addOrUpdateLocalUserAttributes`: upsert the given keys.
    pub fn add_or_update_local_user_attributes(
        &mut self,
        now: Timestamp,
        attrs: BTreeMap<String, String>,
    ) -> Result<RequestId, E> {
        self.user_attr_write(now, AttrOp::AddOrUpdate, attrs, Vec::new())
    }

    /// `deleteLocalUserAttributesByKeys`.
    pub fn delete_local_user_attributes_by_keys(
        &mut self,
        now: Timestamp,
        keys: Vec<String>,
    ) -> Result<RequestId, E> {
        self.user_attr_write(now, AttrOp::Delete, BTreeMap::new(), keys)
    }

    /// `clearLocalUserAttributes`.
    pub fn clear_local_user_attributes(&mut self, now: Timestamp) -> Result<RequestId, E> {
        self.user_attr_write(now, AttrOp::Clear, BTreeMap::new(), Vec::new())
    }

    /// `getUserAttributes(userId)`: every attribute of an online user.
    pub fn get_user_attributes(&mut self, now: Timestamp, user_id: &str) -> Result<RequestId, E> {
        self.user_attr_read(now, user_id, None)
    }

    /// `getUserAttributesByKeys(userId, keys)`.
    pub fn get_user_attributes_by_keys(
        &mut self,
        now: Timestamp,
        user_id: &str,
        keys: Vec<String>,
    ) -> Result<RequestId, E> {
        self.user_attr_read(now, user_id, Some(keys))
    }

    /// `setChannelAttributes(channelId, attrs, options)`.
    pub fn set_channel_attributes(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        attrs: BTreeMap<String, String>,
        options: ChannelAttributeOptions,
    ) -> Result<RequestId, E> {
        self.channel_attr_write(now, channel, AttrOp::Set, attrs, Vec::new(), options)
    }

    /// `addOrUpdateChannelAttributes(channelId, attrs, options)`.
    pub fn add_or_update_channel_attributes(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        attrs: BTreeMap<String, String>,
        options: ChannelAttributeOptions,
    ) -> Result<RequestId, E> {
        self.channel_attr_write(
            now,
            channel,
            AttrOp::AddOrUpdate,
            attrs,
            Vec::new(),
            options,
        )
    }

    /// `deleteChannelAttributesByKeys(channelId, keys, options)`.
    pub fn delete_channel_attributes_by_keys(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        keys: Vec<String>,
        options: ChannelAttributeOptions,
    ) -> Result<RequestId, E> {
        self.channel_attr_write(now, channel, AttrOp::Delete, BTreeMap::new(), keys, options)
    }

    /// `clearChannelAttributes(channelId, options)`.
    pub fn clear_channel_attributes(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        options: ChannelAttributeOptions,
    ) -> Result<RequestId, E> {
        self.channel_attr_write(
            now,
            channel,
            AttrOp::Clear,
            BTreeMap::new(),
            Vec::new(),
            options,
        )
    }

    /// `getChannelAttributes(channelId)`.
    pub fn get_channel_attributes(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
    ) -> Result<RequestId, E> {
        self.channel_attr_read(now, channel, None)
    }

    /// `getChannelAttributesByKeys(channelId, keys)`.
    pub fn get_channel_attributes_by_keys(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        keys: Vec<String>,
    ) -> Result<RequestId, E> {
        self.channel_attr_read(now, channel, Some(keys))
    }

    /// The local user's attributes as last confirmed by the server.
    pub fn local_user_attributes(&self) -> &BTreeMap<String, String> {
        &self.user_attributes
    }

    fn user_attr_write(
        &mut self,
        now: Timestamp,
        op: AttrOp,
        attrs: BTreeMap<String, String>,
        keys: Vec<String>,
    ) -> Result<RequestId, E> {
        self.enter(now, E::NotLoggedIn)?;
        // Check against the local copy too: the result must fit the 16 KB / 32-key limits.
        let mut probe = self.user_attributes.clone();
        attributes::apply(
            &mut probe,
            op,
            attrs.clone(),
            &keys,
            MAX_USER_BYTES,
            |v| v,
            |k, v| k.len() + v.len(),
        )?;
        if !self.limiters.user_attr_write.try_acquire(self.now) {
            return Err(E::TooOften);
        }
        let kind = PendingKind::UserAttrWrite(op, attrs.clone(), keys.clone());
        Ok(
            self.start_request(kind, SHORT_TIMEOUT, |id| ClientFrame::UserAttrs {
                id,
                op,
                attributes: attrs,
                keys,
            }),
        )
    }

    fn user_attr_read(
        &mut self,
        now: Timestamp,
        user_id: &str,
        keys: Option<Vec<String>>,
    ) -> Result<RequestId, E> {
        self.enter(now, E::NotLoggedIn)?;
        let user = UserId::new(user_id).map_err(|_| E::InvalidArgument)?;
        if let Some(keys) = &keys {
            if keys.is_empty() {
                return Err(E::InvalidArgument);
            }
            keys.iter().try_for_each(|k| attributes::validate_key(k))?;
        }
        if !self.limiters.user_attr_read.try_acquire(self.now) {
            return Err(E::TooOften);
        }
        Ok(
            self.start_request(PendingKind::GetUserAttrs, SHORT_TIMEOUT, |id| {
                ClientFrame::GetUserAttrs { id, user, keys }
            }),
        )
    }

    fn channel_attr_write(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        op: AttrOp,
        attrs: BTreeMap<String, String>,
        keys: Vec<String>,
        options: ChannelAttributeOptions,
    ) -> Result<RequestId, E> {
        self.enter(now, E::NotLoggedIn)?;
        attributes::validate_write(op, &attrs, &keys, MAX_CHANNEL_BYTES)?;
        if !self.limiters.channel_attr_write.try_acquire(self.now) {
            return Err(E::TooOften);
        }
        let channel = channel.clone();
        let notify = options.enable_notification_to_channel_members;
        Ok(
            self.start_request(PendingKind::AttrWrite, SHORT_TIMEOUT, |id| {
                ClientFrame::ChannelAttrs {
                    id,
                    channel,
                    op,
                    attributes: attrs,
                    keys,
                    notify,
                }
            }),
        )
    }

    fn channel_attr_read(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        keys: Option<Vec<String>>,
    ) -> Result<RequestId, E> {
        self.enter(now, E::NotLoggedIn)?;
        if let Some(keys) = &keys {
            if keys.is_empty() {
                return Err(E::InvalidArgument);
            }
            keys.iter().try_for_each(|k| attributes::validate_key(k))?;
        }
        if !self.limiters.channel_attr_read.try_acquire(self.now) {
            return Err(E::TooOften);
        }
        let channel = channel.clone();
        Ok(
            self.start_request(PendingKind::GetChannelAttrs, SHORT_TIMEOUT, |id| {
                ClientFrame::GetChannelAttrs { id, channel, keys }
            }),
        )
    }

    /// A confirmed write: mirror it in the local copy.
    pub(super) fn user_attrs_confirmed(
        &mut self,
        op: AttrOp,
        attrs: BTreeMap<String, String>,
        keys: &[String],
    ) {
        let mut next = self.user_attributes.clone();
        if attributes::apply(
            &mut next,
            op,
            attrs,
            keys,
            MAX_USER_BYTES,
            |v| v,
            |k, v| k.len() + v.len(),
        )
        .is_ok()
        {
            self.user_attributes = next;
        }
    }
}
