//! The wire protocol: JSON frames over WebSocket text messages.
//!
//! Every frame is one JSON object with a `"type"` tag. Requests carry a client-chosen `id`
//! that the matching response echoes; pushes carry none. PROTOCOL.md documents every frame,
//! close code and error code with examples; keep it in step with this file.
//!
//! Decoding is bounded: a frame longer than [`MAX_FRAME_BYTES`] is refused *before* it is
//! parsed, and ids, messages and lists are validated while parsing (see [`crate::ids`]).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::attributes::{AttrOp, ChannelAttribute};
use crate::ids::{ChannelId, UserId};
use crate::invitation::{
    LocalInvitationFailureReason, LocalInvitationState, RemoteInvitationFailureReason,
    RemoteInvitationState,
};
use crate::message::Message;

/// The protocol version this build speaks. A login with another version is refused with
/// close code [`close::UNSUPPORTED_VERSION`].
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest frame accepted in either direction (256 KiB). Limits count characters, but JSON
/// escapes a control character as six (`\u0001`): the worst valid frames are a 32 KB text
/// message of control characters (~197 KB as a push) and a full 32 KB channel-attribute set
/// of them in `attributes_updated` (~210 KB). A test in this file checks both fit.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// Close codes (RFC 6455 §7.4: 1000–2999 standard, 4000–4999 ours). PROTOCOL.md lists them.
pub mod close {
    /// Orderly close: logout, or the client closing a connection it no longer needs.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame was larger than [`super::MAX_FRAME_BYTES`].
    pub const TOO_BIG: u16 = 1009;
    /// A frame could not be decoded (not JSON, unknown type, bad field).
    pub const PROTOCOL_ERROR: u16 = 4000;
    /// The login asked for a protocol version this server does not speak.
    pub const UNSUPPORTED_VERSION: u16 = 4001;
    /// A request other than `login` arrived before login, or `login` arrived twice.
    pub const OUT_OF_SEQUENCE: u16 = 4002;
    /// The login was refused; the `error` frame before the close says why.
    pub const LOGIN_FAILED: u16 = 4003;
    /// The same user id logged in elsewhere (§2.7).
    pub const REMOTE_LOGIN: u16 = 4004;
    /// The session was banned by the server (§2.8).
    pub const BANNED: u16 = 4005;
    /// The session's AccessToken2 expired (§3.5).
    pub const TOKEN_EXPIRED: u16 = 4006;
    /// The peer did not keep up with its outbound queue.
    pub const SLOW_CONSUMER: u16 = 4007;
    /// The same session resumed on a newer connection; this one is obsolete.
    pub const SUPERSEDED: u16 = 4008;
    /// The client saw no frame from the server for too long (client-side close).
    pub const HEARTBEAT_TIMEOUT: u16 = 4009;
    /// The session kept sending requests after more than 100 refusals for exceeding its
    /// budgets within 10 s.
    pub const TOO_MANY_REQUESTS: u16 = 4010;
    /// Longest close reason a WebSocket close frame can carry (RFC 6455 §5.5: 125 bytes of
    /// payload, 2 of them the code).
    pub const MAX_REASON_BYTES: usize = 123;
}

/// A user's presence as subscribers see it (§7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PeerOnlineState {
    /// Logged in.
    Online = 0,
    /// Logged in, but nothing heard for more than 6 s.
    Unreachable = 1,
    /// Not logged in, logged out, or nothing heard for more than 30 s.
    Offline = 2,
}

/// The outcome of a peer message the server handled (§4.3.2; native codes 0, 4, 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerMessageOutcome {
    /// The receiver's client acknowledged it (`PEER_MESSAGE_ERR_OK = 0`).
    Received,
    /// The receiver is away; the server keeps it and delivers it later (`CACHED_BY_SERVER = 4`).
    Cached,
    /// The receiver is offline and the message was not stored (`PEER_UNREACHABLE = 3`).
    Unreachable,
}

impl PeerMessageOutcome {
    /// The native code of this outcome.
    pub const fn code(self) -> u32 {
        match self {
            PeerMessageOutcome::Received => 0,
            PeerMessageOutcome::Cached => 4,
            PeerMessageOutcome::Unreachable => 3,
        }
    }

    /// Web's `PeerMessageSendResult.hasPeerReceived`.
    pub const fn has_peer_received(self) -> bool {
        matches!(self, PeerMessageOutcome::Received)
    }
}

/// Why the server ended a session on its own (§2.2 reasons 7, 8, 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KickReason {
    RemoteLogin,
    BannedByServer,
    TokenExpired,
}

/// One peer's presence in a snapshot or change list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerStatus {
    pub peer: UserId,
    pub state: PeerOnlineState,
}

/// One peer's online flag in a query result (queries never say UNREACHABLE, §4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerOnline {
    pub peer: UserId,
    pub online: bool,
}

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame on every connection: log in, or resume `resume` (a session id).
    Login {
        id: u32,
        version: u16,
        app_id: String,
        uid: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        /// Names the client instance (random, fixed for its life; 0 = not given) and counts
        /// its login attempts, so the server can tell a stale login of the client that owns
        /// the session (overtaken by a newer attempt) from another device.
        #[serde(default, skip_serializing_if = "is_zero")]
        instance: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        attempt: u64,
    },
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
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where a client is in a channel's message sequence: the channel instance (`epoch`, which
/// changes when the server forgets the channel) and the last `cseq` it delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelCursor {
    pub epoch: u64,
    pub cseq: u64,
}

/// Names an invitation on the callee's side: its caller and the caller's number for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationKey {
    pub caller: UserId,
    pub invitation: u64,
}

/// The caller's view of an invitation, as the server decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalInvitationUpdate {
    pub invitation: u64,
    pub state: LocalInvitationState,
    #[serde(default)]
    pub response: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<LocalInvitationFailureReason>,
}

/// The callee's view of an invitation, as the server decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteInvitationUpdate {
    pub caller: UserId,
    pub invitation: u64,
    pub state: RemoteInvitationState,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RemoteInvitationFailureReason>,
}

/// One channel's member count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelCount {
    pub channel: ChannelId,
    pub count: u32,
}

/// Frames the server sends, in three families: a [`Reply`] answers one request and names it
/// by `id`; a [`Push`] is an entry of the session's delivery stream, counted by position and
/// acknowledged with `ack`; a [`Notice`] is neither (heartbeat answers, presence, token and
/// session notices). On the wire all three are one flat JSON object told apart by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerFrame {
    // Pushes first: they are most of what a client reads, and decoding tries the families
    // in this order.
    Push(Push),
    Reply(Reply),
    Notice(Notice),
}

/// The answer to one request; `id` is the request's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// Login accepted. `resumed` says whether the previous session (and its subscriptions,
    /// buffered messages and memberships) was kept.
    LoginOk {
        id: u32,
        version: u16,
        session: String,
        resumed: bool,
        /// Server wall clock, Unix ms.
        server_ts: u64,
        /// How often the client should send `ping`, in ms.
        heartbeat_ms: u32,
        /// Stream position of the first push that follows (resent pushes first when
        /// `resumed`): the client sets its position counter to `resend_from - 1`.
        resend_from: u64,
    },
    /// A request failed; `code` is from the request's §8 family.
    Error { id: u32, code: u32, message: String },
    /// A request without a payload result succeeded.
    Ok { id: u32 },
    /// The outcome of a `peer_message` request.
    PeerMessageResult {
        id: u32,
        outcome: PeerMessageOutcome,
    },
    /// Answer to `query_online`, in request order.
    OnlineStatus { id: u32, peers: Vec<PeerOnline> },
    /// Answer to `subscribe`: the current state of the requested peers.
    Subscribed { id: u32, peers: Vec<PeerStatus> },
    /// `join` succeeded; `epoch` names this instance of the channel and `cseq` is its
    /// latest message (the joiner's cursor starts there).
    Joined {
        id: u32,
        channel: ChannelId,
        epoch: u64,
        cseq: u64,
    },
    /// Answer to `get_members`: at most 512, a random sample beyond.
    Members { id: u32, members: Vec<UserId> },
    /// Answer to `get_member_count`, in request order.
    MemberCounts { id: u32, counts: Vec<ChannelCount> },
    /// Answer to `get_user_attrs`.
    UserAttributes {
        id: u32,
        user: UserId,
        attributes: BTreeMap<String, String>,
    },
    /// Answer to `get_channel_attrs`.
    ChannelAttributes {
        id: u32,
        channel: ChannelId,
        attributes: BTreeMap<String, ChannelAttribute>,
    },
    /// Answer to `invitation_sync`. Invitations the server does not know are left out.
    InvitationStates {
        id: u32,
        local: Vec<LocalInvitationUpdate>,
        remote: Vec<RemoteInvitationUpdate>,
    },
}

impl Reply {
    /// The id of the request this answers.
    pub fn id(&self) -> u32 {
        match self {
            Reply::LoginOk { id, .. }
            | Reply::Error { id, .. }
            | Reply::Ok { id }
            | Reply::PeerMessageResult { id, .. }
            | Reply::OnlineStatus { id, .. }
            | Reply::Subscribed { id, .. }
            | Reply::Joined { id, .. }
            | Reply::Members { id, .. }
            | Reply::MemberCounts { id, .. }
            | Reply::UserAttributes { id, .. }
            | Reply::ChannelAttributes { id, .. }
            | Reply::InvitationStates { id, .. } => *id,
        }
    }
}

/// An entry of the session's delivery stream (PROTOCOL.md, "The delivery stream"): pushes
/// are numbered by their position and the client acknowledges them with `ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Push {
    /// A pushed peer message. `msg_id` is the sender's id for it: `(from, msg_id)` names the
    /// message for good, so a client can drop one delivered again in a later session.
    Message {
        from: UserId,
        msg_id: u64,
        message: Message,
        /// Unix ms at which the server received it.
        server_ts: u64,
        #[serde(default)]
        offline: bool,
    },
    /// A channel message from another member. `cseq` numbers the messages of one channel
    /// instance.
    ChannelMessage {
        channel: ChannelId,
        epoch: u64,
        cseq: u64,
        from: UserId,
        message: Message,
        server_ts: u64,
    },
    /// Another user joined (not sent above 512 members).
    MemberJoined { channel: ChannelId, member: UserId },
    /// A member left, logged out, or was silent for 30 s (not above 512).
    MemberLeft { channel: ChannelId, member: UserId },
    /// The channel's member count: on join, then at most 1/s (1 per 3 s above 512 members).
    MemberCount { channel: ChannelId, count: u32 },
    /// The complete attribute set after a write with `notify`.
    AttributesUpdated {
        channel: ChannelId,
        attributes: BTreeMap<String, ChannelAttribute>,
    },
    /// An invitation for the callee. Acknowledge with `invitation_ack`.
    Invitation {
        caller: UserId,
        invitation: u64,
        content: String,
        channel_id: String,
    },
    /// The caller's invitation changed state.
    LocalInvitation(LocalInvitationUpdate),
    /// The callee's invitation changed state.
    RemoteInvitation(RemoteInvitationUpdate),
}

/// A frame outside both the replies and the delivery stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Notice {
    /// Heartbeat answer.
    Pong {},
    /// Pushed presence changes of subscribed peers.
    Presence { peers: Vec<PeerStatus> },
    /// The session's AccessToken2 expires in 30 s.
    TokenWillExpire {},
    /// The server is ending the session; a close follows.
    Kicked { reason: KickReason },
}

impl From<Reply> for ServerFrame {
    fn from(r: Reply) -> Self {
        ServerFrame::Reply(r)
    }
}

impl From<Push> for ServerFrame {
    fn from(p: Push) -> Self {
        ServerFrame::Push(p)
    }
}

impl From<Notice> for ServerFrame {
    fn from(n: Notice) -> Self {
        ServerFrame::Notice(n)
    }
}

/// Why an inbound frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooBig(usize),
    #[error("frame is not a valid protocol frame: {0}")]
    Invalid(String),
}

impl DecodeError {
    /// The close code that answers this error.
    pub fn close_code(&self) -> u16 {
        match self {
            DecodeError::TooBig(_) => close::TOO_BIG,
            DecodeError::Invalid(_) => close::PROTOCOL_ERROR,
        }
    }
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooBig(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let mut s = e.to_string();
        s.truncate(200);
        DecodeError::Invalid(s)
    })
}

fn encode<T: Serialize>(frame: &T) -> Bytes {
    // Serialising these types cannot fail: every map key is a string and there are no
    // non-finite floats. A failure would be a bug in this module.
    Bytes::from(serde_json::to_vec(frame).expect("frames always serialise"))
}

impl ClientFrame {
    /// Decodes one inbound frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// Encodes this frame as the JSON text of one WebSocket message.
    pub fn encode(&self) -> Bytes {
        encode(self)
    }
}

impl ServerFrame {
    /// Decodes one inbound frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes).map_err(|e| match e {
            DecodeError::Invalid(_) => family_error(bytes).unwrap_or(e),
            too_big => too_big,
        })
    }

    /// Encodes this frame as the JSON text of one WebSocket message.
    pub fn encode(&self) -> Bytes {
        encode(self)
    }
}

/// The error of the one family that knows the frame's `type`, for a frame none of them
/// took: the untagged [`ServerFrame`] alone can only say that no family matched. Runs on the
/// error path only.
fn family_error(bytes: &[u8]) -> Option<DecodeError> {
    let unknown = |r: Result<(), DecodeError>| match r {
        Err(DecodeError::Invalid(m)) if m.starts_with("unknown variant") => None,
        Err(e) => Some(e),
        Ok(()) => None,
    };
    unknown(decode::<Push>(bytes).map(drop))
        .or_else(|| unknown(decode::<Reply>(bytes).map(drop)))
        .or_else(|| unknown(decode::<Notice>(bytes).map(drop)))
}

/// Each family encodes as the flat frame its [`ServerFrame`] would.
macro_rules! encode_as_frame {
    ($($family:ident),*) => {$(
        impl $family {
            /// Encodes this frame as the JSON text of one WebSocket message.
            pub fn encode(&self) -> Bytes {
                encode(self)
            }
        }
    )*};
}
encode_as_frame!(Reply, Push, Notice);

#[cfg(test)]
mod tests;
