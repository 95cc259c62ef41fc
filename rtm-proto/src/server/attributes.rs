//! User attributes (§4.5) and channel attributes (§4.6) on the server.

use std::collections::BTreeMap;

use crate::attributes::{self, AttrOp, ChannelAttribute, MAX_CHANNEL_BYTES, MAX_USER_BYTES};
use crate::errors::AttributeOperationError;
use crate::ids::{ChannelId, UserId};
use crate::wire::{Push, Reply};

use super::{ConnId, Server};

/// Why a channel attribute write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChannelAttrsRefused {
    /// The server holds as many channels as it may and this one is not among them.
    TooManyChannels,
    /// The write breaks §4.6's limits or the server's budget.
    Invalid(AttributeOperationError),
}

impl Server {
    pub(super) fn on_user_attrs(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        op: AttrOp,
        attrs: BTreeMap<String, String>,
        keys: Vec<String>,
    ) {
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        let result = attributes::apply(
            &mut s.attributes,
            op,
            attrs,
            &keys,
            MAX_USER_BYTES,
            |v| v,
            |k, v| k.len() + v.len(),
        );
        self.reply_result(conn, id, result);
    }

    pub(super) fn on_get_user_attrs(
        &mut self,
        conn: ConnId,
        id: u32,
        user: UserId,
        keys: Option<Vec<String>>,
    ) {
        match self.sessions.get(&user) {
            Some(s) => {
                let attributes = attributes::select(&s.attributes, keys.as_deref());
                self.reply(
                    conn,
                    Reply::UserAttributes {
                        id,
                        user,
                        attributes,
                    },
                );
            }
            None => {
                let e = AttributeOperationError::UserNotFound;
                self.reply_error(conn, id, e.code(), e.to_string());
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_channel_attrs(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        channel: ChannelId,
        op: AttrOp,
        attrs: BTreeMap<String, String>,
        keys: Vec<String>,
        notify: bool,
    ) {
        match self.write_channel_attrs(uid, &channel, op, attrs, &keys, notify) {
            Ok(update) => {
                self.reply(conn, Reply::Ok { id });
                if let Some(frame) = update {
                    self.fan_out(&channel, None, &frame);
                }
            }
            Err(ChannelAttrsRefused::TooManyChannels) => {
                let e = AttributeOperationError::Failure;
                self.reply_error(conn, id, e.code(), super::channels::TOO_MANY_CHANNELS)
            }
            Err(ChannelAttrsRefused::Invalid(e)) => {
                self.reply_error(conn, id, e.code(), e.to_string())
            }
        }
    }

    /// A write of `channel`'s attributes by `writer` (a member's, or the REST API's) within
    /// the limits of §4.6 and the server-wide budget. With `notify`, returns the
    /// `attributes_updated` push for the caller to fan out to the members once it has
    /// answered.
    pub(super) fn write_channel_attrs(
        &mut self,
        writer: &UserId,
        channel: &ChannelId,
        op: AttrOp,
        attrs: BTreeMap<String, String>,
        keys: &[String],
        notify: bool,
    ) -> Result<Option<bytes::Bytes>, ChannelAttrsRefused> {
        if self.channels_full(channel) {
            return Err(ChannelAttrsRefused::TooManyChannels);
        }
        let ts = self.unix_ms();
        let budget = self.config.channel_attributes_total;
        let total = self.channel_attr_bytes;
        let ch = self.channel_entry(channel);
        let before_bytes = ch.attribute_bytes();
        // Kept to undo a write that would pass the server-wide budget (writes that only
        // remove cannot).
        let undo = matches!(op, AttrOp::Set | AttrOp::AddOrUpdate).then(|| ch.attributes.clone());
        let mut result = attributes::apply(
            &mut ch.attributes,
            op,
            attrs,
            keys,
            MAX_CHANNEL_BYTES,
            |value| ChannelAttribute {
                value,
                last_update_user_id: writer.clone(),
                last_update_ts: ts,
            },
            |k, v| k.len() + v.value.len(),
        );
        let mut after_bytes = ch.attribute_bytes();
        if total - before_bytes + after_bytes > budget {
            // Only a growing write can pass the budget, and it kept its undo.
            if let Some(undo) = undo {
                ch.attributes = undo;
            }
            after_bytes = before_bytes;
            result = Err(AttributeOperationError::SizeOverflow);
        }
        self.channel_attr_bytes = total - before_bytes + after_bytes;
        let ch = self.channels.get_mut(channel).expect("entry made above");
        let ok = result.is_ok();
        let update = (ok && notify).then(|| {
            Push::AttributesUpdated {
                channel: channel.clone(),
                attributes: ch.attributes.clone(),
            }
            .encode()
        });
        // A write to a channel nobody is in starts (or restarts) its grace period.
        self.channel_maybe_empty(channel);
        result
            .map(|()| update)
            .map_err(ChannelAttrsRefused::Invalid)
    }

    pub(super) fn on_get_channel_attrs(
        &mut self,
        conn: ConnId,
        id: u32,
        channel: ChannelId,
        keys: Option<Vec<String>>,
    ) {
        let attributes = self
            .channels
            .get(&channel)
            .map(|c| attributes::select(&c.attributes, keys.as_deref()))
            .unwrap_or_default();
        self.reply(
            conn,
            Reply::ChannelAttributes {
                id,
                channel,
                attributes,
            },
        );
    }

    fn reply_result(&mut self, conn: ConnId, id: u32, result: Result<(), AttributeOperationError>) {
        match result {
            Ok(()) => self.reply(conn, Reply::Ok { id }),
            Err(e) => self.reply_error(conn, id, e.code(), e.to_string()),
        }
    }
}
