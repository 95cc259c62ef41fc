//! Frames a client sends: requests, each with a client-chosen `id` its reply echoes, and
//! the stream's `ack`, `ping` and `logout`.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::attributes::AttrOp;
use crate::ids::{ChannelId, UserId};
use crate::logs::LogLine;
use crate::message::Message;

use super::{decode, encode, ChannelCursor, DecodeError, InvitationKey};

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame on every connection: log in, or resume a session.
    Login(LoginFrame),
    /// End the session now (§2.10).
    Logout { id: u32 },
    /// Heartbeat; the server answers `pong`.
    Ping {},
    /// Replace the session's token (§3.5).
    RenewToken { id: u32, token: String },
    /// Send a peer message. `msg_id` is chosen by the sender and makes resends idempotent.
    PeerMessage {
        id: u32,
        to: UserId,
        msg_id: u64,
        message: Message,
        #[serde(default)]
        offline: bool,
    },
    /// Cumulative acknowledgement of the session's delivery stream up to position `seq`.
    Ack { seq: u64 },
    /// `queryPeersOnlineStatus` (≤ 256 ids).
    QueryOnline { id: u32, peers: Vec<UserId> },
    /// `subscribePeersOnlineStatus`; the answer carries the current state of `peers`. With
    /// `replace` the session's subscriptions become exactly `peers` (possibly none): how a
    /// client puts the server back in step with its own record.
    Subscribe {
        id: u32,
        peers: Vec<UserId>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        replace: bool,
    },
    /// `unsubscribePeersOnlineStatus`.
    Unsubscribe { id: u32, peers: Vec<UserId> },
    /// `channel.join()`. `resume` names the last channel message the client saw, when it
    /// rejoins after a reconnect that lost its session: newer ones from the last 30 s are
    /// replayed (§2.6).
    Join {
        id: u32,
        channel: ChannelId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ChannelCursor>,
    },
    /// `channel.leave()`.
    Leave { id: u32, channel: ChannelId },
    /// `channel.sendMessage()`. `msg_id` makes resends idempotent, as for peer messages.
    ChannelMessage {
        id: u32,
        channel: ChannelId,
        msg_id: u64,
        message: Message,
    },
    /// `channel.getMembers()`.
    GetMembers { id: u32, channel: ChannelId },
    /// `getChannelMemberCount(channelIds)` (≤ 32).
    GetMemberCount { id: u32, channels: Vec<ChannelId> },
    /// A write to the local user's attributes (§4.5).
    UserAttrs {
        id: u32,
        op: AttrOp,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        attributes: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keys: Vec<String>,
    },
    /// `getUserAttributes` / `getUserAttributesByKeys`.
    GetUserAttrs {
        id: u32,
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keys: Option<Vec<String>>,
    },
    /// A write to a channel's attributes (§4.6); `notify` is
    /// `enableNotificationToChannelMembers`.
    ChannelAttrs {
        id: u32,
        channel: ChannelId,
        op: AttrOp,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        attributes: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keys: Vec<String>,
        #[serde(default)]
        notify: bool,
    },
    /// `getChannelAttributes` / `getChannelAttributesByKeys`.
    GetChannelAttrs {
        id: u32,
        channel: ChannelId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keys: Option<Vec<String>>,
    },
    /// Send a call invitation (§4.10). `invitation` is chosen by the caller, unique among its
    /// invitations. Answer: `ok`; the outcome arrives as `local_invitation` pushes.
    Invite {
        id: u32,
        invitation: u64,
        callee: UserId,
        #[serde(default)]
        content: String,
        #[serde(default)]
        channel_id: String,
    },
    /// The callee's client acknowledges an `invitation` push (no answer).
    InvitationAck { caller: UserId, invitation: u64 },
    /// The callee accepts or refuses. Answer: `ok`; the verdict arrives as a
    /// `remote_invitation` push.
    InvitationAnswer {
        id: u32,
        caller: UserId,
        invitation: u64,
        accept: bool,
        #[serde(default)]
        response: String,
    },
    /// The caller cancels. Answer: `ok`; the verdict arrives as a `local_invitation` push.
    InvitationCancel { id: u32, invitation: u64 },
    /// After a reconnect that lost the session: the current state of open invitations.
    InvitationSync {
        id: u32,
        #[serde(default)]
        local: Vec<u64>,
        #[serde(default)]
        remote: Vec<InvitationKey>,
    },
    /// Log lines of the client, oldest first, at most
    /// [`MAX_LINES_PER_FRAME`](crate::logs::MAX_LINES_PER_FRAME) (no answer; sent only when
    /// the application turned log upload on).
    Logs { lines: Vec<LogLine> },
    /// A ticket for one request of the media endpoints (§4.9; PROTOCOL.md, "Media over
    /// HTTP"). Answer: `media_ticket`.
    MediaGrant { id: u32 },
}

/// The `login` frame: who logs in to which app, with what token, resuming which session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginFrame {
    /// The request id its `login_ok` or refusal echoes.
    pub id: u32,
    /// [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION) of the client.
    pub version: u16,
    pub app_id: String,
    pub uid: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The session id to resume, if the client has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
    /// Names the client instance (random, fixed for its life; 0 = not given) and counts
    /// its login attempts, so the server can tell a stale login of the client that owns
    /// the session (overtaken by a newer attempt) from another device.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub instance: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ClientFrame {
    /// Decodes one inbound frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        // The frames of the message path in the shape our encoders write are read
        // straight from their bytes (`hot_decode.rs`); anything else takes the general
        // path, which decodes or refuses it.
        if bytes.len() <= super::MAX_FRAME_BYTES {
            if let Some(frame) = super::hot_decode::decode(bytes) {
                return Ok(frame);
            }
        }
        decode(bytes)
    }

    /// Encodes this frame as the JSON text of one WebSocket message.
    pub fn encode(&self) -> Bytes {
        encode(self)
    }
}
