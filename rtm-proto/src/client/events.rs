//! Events for the application (§5.1): what the client tells it, besides the answers to its
//! calls ([`Event::Response`]).

use std::collections::BTreeMap;

use crate::attributes::ChannelAttribute;
use crate::ids::{ChannelId, UserId};
use crate::invitation::{LocalInvitationFailureReason, RemoteInvitationFailureReason};
use crate::message::Message;
use crate::wire::{InvitationKey, PeerOnlineState};

use super::{ConnectionChangeReason, ConnectionState, InvitationId, RequestId, Response};

/// Events for the application (§5.1). New events may be added: match with a `_` arm.
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
    /// The result of a command.
    Response {
        request: RequestId,
        response: Response,
    },
    /// `ChannelMessage(message, memberId, {serverReceivedTs})`.
    ChannelMessage {
        channel: ChannelId,
        member_id: UserId,
        message: Message,
        server_received_ts: u64,
    },
    /// `MemberJoined(memberId)`.
    MemberJoined {
        channel: ChannelId,
        member_id: UserId,
    },
    /// `MemberLeft(memberId)`.
    MemberLeft {
        channel: ChannelId,
        member_id: UserId,
    },
    /// `MemberCountUpdated(memberCount)`.
    MemberCountUpdated { channel: ChannelId, count: u32 },
    /// `AttributesUpdated(attributes)`: the complete set.
    AttributesUpdated {
        channel: ChannelId,
        attributes: BTreeMap<String, ChannelAttribute>,
    },
    /// `LocalInvitationReceivedByPeer`.
    LocalInvitationReceivedByPeer { invitation: InvitationId },
    /// `LocalInvitationAccepted(response)`.
    LocalInvitationAccepted {
        invitation: InvitationId,
        response: String,
    },
    /// `LocalInvitationRefused(response)`.
    LocalInvitationRefused {
        invitation: InvitationId,
        response: String,
    },
    /// `LocalInvitationCanceled`.
    LocalInvitationCanceled { invitation: InvitationId },
    /// `LocalInvitationFailure(reason)`.
    LocalInvitationFailure {
        invitation: InvitationId,
        reason: LocalInvitationFailureReason,
    },
    /// `RemoteInvitationReceived(remoteInvitation)`.
    RemoteInvitationReceived {
        invitation: InvitationKey,
        caller_id: UserId,
        content: String,
        channel_id: String,
    },
    /// `RemoteInvitationAccepted`.
    RemoteInvitationAccepted { invitation: InvitationKey },
    /// `RemoteInvitationRefused`.
    RemoteInvitationRefused { invitation: InvitationKey },
    /// `RemoteInvitationCanceled(content)`.
    RemoteInvitationCanceled {
        invitation: InvitationKey,
        content: String,
    },
    /// `RemoteInvitationFailure(reason)`.
    RemoteInvitationFailure {
        invitation: InvitationKey,
        reason: RemoteInvitationFailureReason,
    },
}

impl Event {
    /// The channel this event is about (channel messages, member events and counts,
    /// channel attributes): what an `RtmChannel`'s listener hears.
    pub fn channel(&self) -> Option<&ChannelId> {
        match self {
            Event::ChannelMessage { channel, .. }
            | Event::MemberJoined { channel, .. }
            | Event::MemberLeft { channel, .. }
            | Event::MemberCountUpdated { channel, .. }
            | Event::AttributesUpdated { channel, .. } => Some(channel),
            _ => None,
        }
    }

    /// The local (sent) invitation this event is about.
    pub fn local_invitation(&self) -> Option<InvitationId> {
        match self {
            Event::LocalInvitationReceivedByPeer { invitation }
            | Event::LocalInvitationAccepted { invitation, .. }
            | Event::LocalInvitationRefused { invitation, .. }
            | Event::LocalInvitationCanceled { invitation }
            | Event::LocalInvitationFailure { invitation, .. } => Some(*invitation),
            _ => None,
        }
    }

    /// The remote (received) invitation this event is about.
    pub fn remote_invitation(&self) -> Option<&InvitationKey> {
        match self {
            Event::RemoteInvitationReceived { invitation, .. }
            | Event::RemoteInvitationAccepted { invitation }
            | Event::RemoteInvitationRefused { invitation }
            | Event::RemoteInvitationCanceled { invitation, .. }
            | Event::RemoteInvitationFailure { invitation, .. } => Some(invitation),
            _ => None,
        }
    }
}
