//! The wire protocol: JSON frames over WebSocket text messages.
//!
//! Every frame is one JSON object with a `"type"` tag. Requests carry a client-chosen `id`
//! that the matching reply echoes; pushes carry none. [`ClientFrame`] (`client.rs`) is what a
//! client sends, [`ServerFrame`] (`server.rs`) what the server sends; this file holds the
//! types both use, the close codes and the bounded codec. PROTOCOL.md documents every frame,
//! close code and error code with examples; keep it in step with this file.
//!
//! Decoding is bounded: a frame longer than [`MAX_FRAME_BYTES`] is refused *before* it is
//! parsed, and ids, messages and lists are validated while parsing (see [`crate::ids`]).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, UserId};
use crate::invitation::{
    LocalInvitationFailureReason, LocalInvitationState, RemoteInvitationFailureReason,
    RemoteInvitationState,
};

/// The protocol version this build speaks. Version 2 added FILE and IMAGE messages and
/// `media_grant` (§4.9). A login with a version outside
/// [`MIN_PROTOCOL_VERSION`]..=`PROTOCOL_VERSION` is refused with close code
/// [`close::UNSUPPORTED_VERSION`].
pub const PROTOCOL_VERSION: u16 = 2;

/// The oldest version a server still serves. A version-1 client cannot decode FILE or
/// IMAGE messages: the server never sends it one (as Agora's server refuses media to SDKs
/// before 1.3.0): a peer message is refused INCOMPATIBLE_MESSAGE (8), a channel message
/// skips it, a stored one is dropped at its login.
pub const MIN_PROTOCOL_VERSION: u16 = 1;

/// The first version whose clients decode FILE and IMAGE messages.
pub const MEDIA_VERSION: u16 = 2;

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
    /// The outcome's name on the wire (`"received"`), also a metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            PeerMessageOutcome::Received => "received",
            PeerMessageOutcome::Cached => "cached",
            PeerMessageOutcome::Unreachable => "unreachable",
        }
    }

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

impl KickReason {
    /// The reason's name on the wire (`"banned_by_server"`), also a metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            KickReason::RemoteLogin => "remote_login",
            KickReason::BannedByServer => "banned_by_server",
            KickReason::TokenExpired => "token_expired",
        }
    }
}

/// Why the server removed a session from a channel it had joined (a `removed` push).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RemovedReason {
    /// A ban rule of the user in this channel (the operator's REST API).
    BannedByServer,
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

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooBig(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let mut s = e.to_string();
        s.truncate(200);
        DecodeError::Invalid(s)
    })
}

/// The `type` of a frame that starts with it (`{"type":"…"`, as every encoder here writes
/// frames); empty for any other. A cheap peek for dispatch and logging, never a check:
/// decoding decides what a frame is.
pub fn frame_type(bytes: &[u8]) -> &[u8] {
    const PREFIX: &[u8] = br#"{"type":""#;
    let Some(rest) = bytes.strip_prefix(PREFIX) else {
        return &[];
    };
    match rest.iter().position(|&c| c == b'"') {
        Some(end) => &rest[..end],
        None => &[],
    }
}

pub(crate) fn encode<T: Serialize>(frame: &T) -> Bytes {
    // Serialising these types cannot fail: every map key is a string and there are no
    // non-finite floats. A failure would be a bug in this module. Most frames are under
    // 128 bytes: one allocation instead of growing from empty.
    let mut bytes = Vec::with_capacity(128);
    serde_json::to_writer(&mut bytes, frame).expect("frames always serialise");
    Bytes::from(bytes)
}

mod client;
mod hot_decode;
mod hot_encode;
mod server;

pub use client::{ClientFrame, LoginFrame};
pub use server::{Notice, Push, Reply, ServerFrame};

#[cfg(test)]
mod tests;
