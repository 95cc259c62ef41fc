//! Frames the server sends, in three families: replies, pushes of the delivery stream, and
//! notices (see [`ServerFrame`]).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::attributes::ChannelAttribute;
use crate::ids::{ChannelId, UserId};
use crate::message::Message;

use super::{
    decode, encode, frame_type, ChannelCount, DecodeError, KickReason, LocalInvitationUpdate,
    PeerMessageOutcome, PeerOnline, PeerStatus, RemoteInvitationUpdate, RemovedReason,
};

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
    /// Answer to `media_grant`: a single-use ticket for one HTTP request of the media
    /// endpoints, sent as `Authorization: Bearer <ticket>` within 60 s.
    MediaTicket { id: u32, ticket: String },
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
            | Reply::InvitationStates { id, .. }
            | Reply::MediaTicket { id, .. } => *id,
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
    /// The server took the session out of `channel` (a channel-scoped ban): the client has
    /// left it, and must not rejoin it on its own. In the stream, so it comes after every
    /// message of the channel pushed before it.
    Removed {
        channel: ChannelId,
        reason: RemovedReason,
    },
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

impl ServerFrame {
    /// Decodes one inbound frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        // A frame whose `type` comes first, as every encoder here writes it, is decoded
        // straight into its family: the untagged enum would buffer it and try the families
        // one by one, formatting an error for each miss (a fifth of a client's decode cost).
        // The types of the families are disjoint, so the family's own result (its error
        // too) is the one the general path would give.
        match Family::of(frame_type(bytes)) {
            Some(Family::Push) => return decode(bytes).map(ServerFrame::Push),
            Some(Family::Reply) => return decode(bytes).map(ServerFrame::Reply),
            Some(Family::Notice) => return decode(bytes).map(ServerFrame::Notice),
            None => {}
        }
        decode(bytes).map_err(|e| match e {
            DecodeError::Invalid(_) => family_error(bytes).unwrap_or(e),
            too_big => too_big,
        })
    }

    /// Encodes this frame as the JSON text of one WebSocket message.
    pub fn encode(&self) -> Bytes {
        match self {
            ServerFrame::Push(push) => push.encode(),
            ServerFrame::Reply(reply) => reply.encode(),
            ServerFrame::Notice(notice) => notice.encode(),
        }
    }
}

/// The family of each frame `type`, for [`ServerFrame::decode`]'s direct path. A type
/// missing here would only cost speed (the general path still decodes it); a test checks
/// that every type of the three enums is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Reply,
    Push,
    Notice,
}

impl Family {
    fn of(ty: &[u8]) -> Option<Family> {
        Some(match ty {
            b"message"
            | b"channel_message"
            | b"member_joined"
            | b"member_left"
            | b"member_count"
            | b"attributes_updated"
            | b"invitation"
            | b"local_invitation"
            | b"remote_invitation"
            | b"removed" => Family::Push,
            b"login_ok"
            | b"error"
            | b"ok"
            | b"peer_message_result"
            | b"online_status"
            | b"subscribed"
            | b"joined"
            | b"members"
            | b"member_counts"
            | b"user_attributes"
            | b"channel_attributes"
            | b"invitation_states"
            | b"media_ticket" => Family::Reply,
            b"pong" | b"presence" | b"token_will_expire" | b"kicked" => Family::Notice,
            _ => return None,
        })
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

// Each family encodes as the flat frame its [`ServerFrame`] would; the frames of the
// message path are written directly (`hot_encode.rs`).

impl Notice {
    /// Encodes this frame as the JSON text of one WebSocket message.
    pub fn encode(&self) -> Bytes {
        encode(self)
    }
}

impl Reply {
    /// Encodes this frame as the JSON text of one WebSocket message.
    pub fn encode(&self) -> Bytes {
        super::hot_encode::reply(self).unwrap_or_else(|| encode(self))
    }
}

impl Push {
    /// Encodes this frame as the JSON text of one WebSocket message.
    pub fn encode(&self) -> Bytes {
        super::hot_encode::push(self).unwrap_or_else(|| encode(self))
    }

    /// The [`Push::Message`] of these parts, encoded without a copy of `message` (the server
    /// keeps it for a resend).
    pub(crate) fn encode_message(
        from: &UserId,
        msg_id: u64,
        message: &Message,
        server_ts: u64,
        offline: bool,
    ) -> Bytes {
        super::hot_encode::message_push(from, msg_id, message, server_ts, offline).unwrap_or_else(
            || {
                Push::Message {
                    from: from.clone(),
                    msg_id,
                    message: message.clone(),
                    server_ts,
                    offline,
                }
                .encode()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame type of a family, as serde's "unknown variant" error lists them.
    fn types_of<T: for<'de> Deserialize<'de> + core::fmt::Debug>() -> Vec<String> {
        let err = serde_json::from_slice::<T>(br#"{"type":"?"}"#).unwrap_err();
        let text = err.to_string();
        let list = text
            .split("expected one of")
            .nth(1)
            .expect("a variant list");
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_frame_type_has_its_family_for_the_direct_path() {
        let families = [
            (types_of::<Reply>(), Family::Reply),
            (types_of::<Push>(), Family::Push),
            (types_of::<Notice>(), Family::Notice),
        ];
        for (types, family) in families {
            assert!(!types.is_empty());
            for ty in types {
                assert_eq!(Family::of(ty.as_bytes()), Some(family), "{ty}");
            }
        }
    }
}
