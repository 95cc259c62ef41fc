//! Events for the application (§5.1): what the client tells it, besides the answers to its
//! calls ([`Event::Response`]).

use std::collections::BTreeMap;

use crate::attributes::ChannelAttribute;
use crate::ids::{ChannelId, UserId};
use crate::invitation::{LocalInvitationFailureReason, RemoteInvitationFailureReason};
use crate::message::Message;
use crate::wire::{InvitationKey, PeerOnlineState, RemovedReason};

use super::{ConnectionChangeReason, ConnectionState, InvitationId, RequestId, Response};

/// Events for the application (§5.1), nested by the object they are about: a channel's
/// events carry their channel, an invitation's its invitation. New events may be added:
/// match with a `_` arm.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `ConnectionStateChanged(newState, reason)`.
    ConnectionStateChanged {
        state: ConnectionState,
        reason: ConnectionChangeReason,
    },
    /// `MessageFromPeer(message, peerId, {serverReceivedTs, isOfflineMessage})`.
    MessageFromPeer {
        peer_id: UserId,
        message: Message,
        server_received_ts: u64,
        is_offline_message: bool,
    },
    /// `PeersOnlineStatusChanged`: the snapshot after a subscribe, then only changes.
    PeersOnlineStatusChanged(BTreeMap<UserId, PeerOnlineState>),
    /// `TokenExpired` (§3.5).
    TokenExpired,
    /// `TokenPrivilegeWillExpire`: 30 s before AccessToken2 expiry.
    TokenPrivilegeWillExpire,
    /// Bytes moved by a file or image transfer (`onOperationProgress`,
    /// `onMediaUploadingProgress` / `onMediaDownloadingProgress`): at most once a second
    /// while bytes flow, and once more at `total` when it completes.
    MediaProgress {
        request: RequestId,
        current: u64,
        total: u64,
    },
    /// The result of a command.
    Response {
        request: RequestId,
        response: Response,
    },
    /// An event of one channel the client joined: what `RtmChannel.on(...)` hears.
    Channel {
        channel: ChannelId,
        event: ChannelEvent,
    },
    /// An event of one invitation this client sent: what `LocalInvitation.on(...)` hears.
    LocalInvitation {
        invitation: InvitationId,
        event: LocalInvitationEvent,
    },
    /// An event of one invitation this client received: what `RemoteInvitation.on(...)`
    /// hears, starting with [`RemoteInvitationEvent::Received`] (the SDK's
    /// `RemoteInvitationReceived` on the client).
    RemoteInvitation {
        invitation: InvitationKey,
        event: RemoteInvitationEvent,
    },
}

/// The events of one channel (§6.2), carried by [`Event::Channel`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ChannelEvent {
    /// `ChannelMessage(message, memberId, {serverReceivedTs})`.
    Message {
        member_id: UserId,
        message: Message,
        server_received_ts: u64,
    },
    /// `MemberJoined(memberId)`.
    MemberJoined { member_id: UserId },
    /// `MemberLeft(memberId)`.
    MemberLeft { member_id: UserId },
    /// `MemberCountUpdated(memberCount)`.
    MemberCountUpdated { count: u32 },
    /// `AttributesUpdated(attributes)`: the complete set.
    AttributesUpdated {
        attributes: BTreeMap<String, ChannelAttribute>,
    },
    /// The server took the local user out of the channel (a channel-scoped ban): the
    /// channel is left and is not rejoined after a reconnect; a `leave` of it fails with
    /// `LeaveChannelError::Kicked`. The late Web 1.5.x typings' `BannedByServer()` ("the user
    /// is kicked out of the current channel", §2.8), heard on the channel.
    Removed { reason: RemovedReason },
}

/// The events of one sent invitation (§7.3), carried by [`Event::LocalInvitation`]. Each
/// ends the invitation but [`LocalInvitationEvent::ReceivedByPeer`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LocalInvitationEvent {
    /// `LocalInvitationReceivedByPeer`.
    ReceivedByPeer,
    /// `LocalInvitationAccepted(response)`.
    Accepted { response: String },
    /// `LocalInvitationRefused(response)`.
    Refused { response: String },
    /// `LocalInvitationCanceled`.
    Canceled,
    /// `LocalInvitationFailure(reason)`.
    Failure {
        reason: LocalInvitationFailureReason,
    },
}

/// The events of one received invitation (§7.4), carried by [`Event::RemoteInvitation`].
/// Each ends the invitation but [`RemoteInvitationEvent::Received`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RemoteInvitationEvent {
    /// `RemoteInvitationReceived(remoteInvitation)`.
    Received {
        caller_id: UserId,
        content: String,
        channel_id: String,
    },
    /// `RemoteInvitationAccepted`.
    Accepted,
    /// `RemoteInvitationRefused`.
    Refused,
    /// `RemoteInvitationCanceled(content)`.
    Canceled { content: String },
    /// `RemoteInvitationFailure(reason)`.
    Failure {
        reason: RemoteInvitationFailureReason,
    },
}

impl Event {
    /// The channel this event is about: what an `RtmChannel`'s listener hears.
    pub fn channel(&self) -> Option<&ChannelId> {
        match self {
            Event::Channel { channel, .. } => Some(channel),
            _ => None,
        }
    }

    /// The local (sent) invitation this event is about.
    pub fn local_invitation(&self) -> Option<InvitationId> {
        match self {
            Event::LocalInvitation { invitation, .. } => Some(*invitation),
            _ => None,
        }
    }

    /// The remote (received) invitation this event is about.
    pub fn remote_invitation(&self) -> Option<&InvitationKey> {
        match self {
            Event::RemoteInvitation { invitation, .. } => Some(invitation),
            _ => None,
        }
    }

    /// The SDK's name for this event (`"MemberJoined"`, `"LocalInvitationAccepted"`, ...),
    /// as `on(name, ...)` takes it in the Web SDK.
    pub fn sdk_name(&self) -> &'static str {
        match self {
            Event::ConnectionStateChanged { .. } => "ConnectionStateChanged",
            Event::MessageFromPeer { .. } => "MessageFromPeer",
            Event::PeersOnlineStatusChanged(_) => "PeersOnlineStatusChanged",
            Event::TokenExpired => "TokenExpired",
            Event::TokenPrivilegeWillExpire => "TokenPrivilegeWillExpire",
            Event::Response { .. } => "Response",
            Event::MediaProgress { .. } => "MediaProgress",
            Event::Channel { event, .. } => match event {
                ChannelEvent::Message { .. } => "ChannelMessage",
                ChannelEvent::MemberJoined { .. } => "MemberJoined",
                ChannelEvent::MemberLeft { .. } => "MemberLeft",
                ChannelEvent::MemberCountUpdated { .. } => "MemberCountUpdated",
                ChannelEvent::AttributesUpdated { .. } => "AttributesUpdated",
                ChannelEvent::Removed { .. } => "BannedByServer",
            },
            Event::LocalInvitation { event, .. } => match event {
                LocalInvitationEvent::ReceivedByPeer => "LocalInvitationReceivedByPeer",
                LocalInvitationEvent::Accepted { .. } => "LocalInvitationAccepted",
                LocalInvitationEvent::Refused { .. } => "LocalInvitationRefused",
                LocalInvitationEvent::Canceled => "LocalInvitationCanceled",
                LocalInvitationEvent::Failure { .. } => "LocalInvitationFailure",
            },
            Event::RemoteInvitation { event, .. } => match event {
                RemoteInvitationEvent::Received { .. } => "RemoteInvitationReceived",
                RemoteInvitationEvent::Accepted => "RemoteInvitationAccepted",
                RemoteInvitationEvent::Refused => "RemoteInvitationRefused",
                RemoteInvitationEvent::Canceled { .. } => "RemoteInvitationCanceled",
                RemoteInvitationEvent::Failure { .. } => "RemoteInvitationFailure",
            },
        }
    }
}
