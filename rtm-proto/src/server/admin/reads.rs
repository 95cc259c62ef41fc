//! The REST API's reads (online status, members, attributes, a user's uploaded log lines)
//! and its channel attribute writes, answered from the same tables the WebSocket requests
//! read and through the same write path (`attributes.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::attributes::{self, AttrOp};
use crate::ids::UserId;
use crate::limits::MAX_GET_MEMBERS;

use super::answer::{Answer, ApiError};
use super::routes::{AttrWrite, Query};
use super::send::{channel_id, user_id};
use super::Server;
use crate::errors::AttributeOperationError;
use crate::server::attributes::ChannelAttrsRefused;

/// Most users one online-status query may name (§4.4).
pub(crate) const MAX_ONLINE_USERS: usize = 256;

/// The writer of attribute writes made with a key whose id is not a valid user id.
pub(crate) const ADMIN_WRITER: &str = "admin";

/// An `online_status` body.
#[derive(Debug, Deserialize)]
struct OnlineRequest {
    user_ids: Vec<String>,
}

/// A channel attribute write's body (`PUT`, `PATCH`).
#[derive(Debug, Deserialize)]
struct AttributesWrite {
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    enable_notification_to_channel_members: bool,
    #[serde(default)]
    user_id: Option<String>,
}

impl Server {
    /// `POST users/online_status`: `true` for each user with a session (attached or
    /// reconnecting).
    pub(super) fn admin_online_status(&self, body: &[u8]) -> Result<Answer, ApiError> {
        let req: OnlineRequest = super::parse_body(body)?;
        if req.user_ids.is_empty() {
            return Err(ApiError::BadRequest("user_ids is empty".into()));
        }
        if req.user_ids.len() > MAX_ONLINE_USERS {
            return Err(ApiError::TooManyUsers(req.user_ids.len()));
        }
        let mut online = Map::new();
        for user in &req.user_ids {
            let uid = user_id(user)?;
            online.insert(user.clone(), self.sessions.contains_key(&uid).into());
        }
        Ok(Answer::ok(json!({ "online": online })))
    }

    /// `GET users/{user}/attributes`: empty for a user who is not logged in.
    pub(super) fn admin_user_attributes(
        &self,
        user: &str,
        query: &Query,
    ) -> Result<Answer, ApiError> {
        let uid = user_id(user)?;
        let keys = query.keys()?;
        let attributes = self
            .sessions
            .get(&uid)
            .map(|s| attributes::select(&s.attributes, keys.as_deref()))
            .unwrap_or_default();
        Ok(Answer::ok(json!({ "attributes": attributes })))
    }

    /// `GET users/{user}/logs`.
    pub(super) fn admin_user_logs(&self, user: &str) -> Result<Answer, ApiError> {
        let uid = user_id(user)?;
        let age_ms = self.config.admin.client_log_age.as_millis() as u64;
        let lines = self.client_logs.lines(&uid, self.unix_ms(), age_ms);
        Ok(Answer::ok(json!({ "lines": lines })))
    }

    /// `GET channels/{channel}/member_count`.
    pub(super) fn admin_member_count(&self, channel: &str) -> Result<Answer, ApiError> {
        let channel = channel_id(channel)?;
        let count = self.channels.get(&channel).map_or(0, |c| c.count());
        Ok(Answer::ok(json!({ "member_count": count })))
    }

    /// `GET channels/{channel}/members`: all members up to `limit`, else the first `limit`
    /// in id order (`sampled`: a deterministic sample, so a caller paging by hand sees a
    /// stable list).
    pub(super) fn admin_members(&self, channel: &str, query: &Query) -> Result<Answer, ApiError> {
        let channel = channel_id(channel)?;
        let max = MAX_GET_MEMBERS as u64;
        let limit = query.number("limit", 1, max, max)? as usize;
        let (count, members): (usize, Vec<&str>) = match self.channels.get(&channel) {
            Some(ch) => (
                ch.members.len(),
                ch.members.iter().take(limit).map(UserId::as_str).collect(),
            ),
            None => (0, Vec::new()),
        };
        Ok(Answer::ok(json!({
            "member_count": count,
            "members": members,
            "sampled": count > limit,
        })))
    }

    /// `GET channels/{channel}/attributes`, as an array.
    pub(super) fn admin_channel_attributes(
        &self,
        channel: &str,
        query: &Query,
    ) -> Result<Answer, ApiError> {
        let channel = channel_id(channel)?;
        let keys = query.keys()?;
        let attributes: Vec<Value> = self
            .channels
            .get(&channel)
            .map(|c| attributes::select(&c.attributes, keys.as_deref()))
            .unwrap_or_default()
            .into_iter()
            .map(|(key, a)| {
                json!({
                    "key": key,
                    "value": a.value,
                    "last_update_user_id": a.last_update_user_id.as_str(),
                    "last_update_ts": a.last_update_ts,
                })
            })
            .collect();
        Ok(Answer::ok(json!({ "attributes": attributes })))
    }

    /// `PUT`, `PATCH`, `DELETE channels/{channel}/attributes`. The writer is the body's
    /// `user_id`, else the key's id if it is a valid user id, else `admin`.
    pub(super) fn admin_write_channel_attributes(
        &mut self,
        key: usize,
        channel: &str,
        write: AttrWrite,
        query: &Query,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        let channel = channel_id(channel)?;
        let (op, attrs, keys, notify, writer) = match write {
            AttrWrite::Replace | AttrWrite::Update => {
                let req: AttributesWrite = super::parse_body(body)?;
                let op = if write == AttrWrite::Replace {
                    AttrOp::Set
                } else {
                    AttrOp::AddOrUpdate
                };
                let writer = req.user_id.as_deref().map(user_id).transpose()?;
                let notify = req.enable_notification_to_channel_members;
                (op, req.attributes, Vec::new(), notify, writer)
            }
            AttrWrite::Delete => {
                let notify = query.flag("enable_notification_to_channel_members", false)?;
                let keys = query.keys()?;
                let op = if keys.is_some() {
                    AttrOp::Delete
                } else {
                    AttrOp::Clear
                };
                (op, BTreeMap::new(), keys.unwrap_or_default(), notify, None)
            }
        };
        let writer = writer.unwrap_or_else(|| self.key_writer(key));
        match self.write_channel_attrs(&writer, &channel, op, attrs, &keys, notify) {
            Ok(update) => {
                if let Some(frame) = update {
                    self.fan_out(&channel, None, &frame);
                }
                Ok(Answer::ok(json!({})))
            }
            Err(ChannelAttrsRefused::TooManyChannels) => Err(ApiError::Full(
                "the server holds as many channels as it may; try later",
            )),
            Err(ChannelAttrsRefused::Invalid(AttributeOperationError::SizeOverflow)) => {
                Err(ApiError::SizeOverflow)
            }
            Err(ChannelAttrsRefused::Invalid(e)) => Err(ApiError::InvalidAttributes(format!(
                "{e} (keys 1 to 32 bytes, values up to 8 KB, at most 32 keys)"
            ))),
        }
    }

    /// Who writes with key `key`: its id if that is a valid user id, else
    /// [`ADMIN_WRITER`].
    fn key_writer(&self, key: usize) -> UserId {
        self.config
            .admin_keys
            .get(key)
            .and_then(|k| UserId::new(k.id.clone()).ok())
            .unwrap_or_else(|| UserId::new(ADMIN_WRITER).expect("a valid user id"))
    }
}
