//! Call invitations (§4.10, §10): [`LocalInvitation`] (caller) and [`RemoteInvitation`]
//! (callee).
//!
//! As in the SDK, the actions (`send`, `cancel`, `accept`, `refuse`) return at once with
//! `Ok(())` or an [`InvitationApiCallError`](E) for misuse; outcomes arrive as events on
//! [`RtmClient::events`]:
//!
//! * caller: `LocalInvitationReceivedByPeer`, `LocalInvitationAccepted(response)`,
//!   `LocalInvitationRefused(response)`, `LocalInvitationCanceled`,
//!   `LocalInvitationFailure(reason)`, each naming the invitation by [`InvitationId`]
//!   ([`LocalInvitation::id`]);
//! * callee: `RemoteInvitationReceived` (make a handle with [`RtmClient::remote_invitation`]),
//!   then `RemoteInvitationAccepted`, `RemoteInvitationRefused`,
//!   `RemoteInvitationCanceled(content)` or `RemoteInvitationFailure(reason)`, each naming the
//!   invitation by [`InvitationKey`] ([`RemoteInvitation::key`]).
//!
//! The server decides every outcome and tells both sides, so they always agree.
//!
//! The actions and getters wait for the client's thread (no network). If that thread is gone
//! the actions fail with ALREADY_END and the getters return `None`.

use rtm_proto::client::{
    InvitationId, LocalInvitation as LocalInvitationInfo, RemoteInvitation as RemoteInvitationInfo,
};
use rtm_proto::errors::InvitationApiCallError as E;
use rtm_proto::invitation::{LocalInvitationState, RemoteInvitationState};
use rtm_proto::wire::InvitationKey;
use rtm_proto::UserId;

use crate::RtmClient;

/// A caller-side invitation (the SDK's `LocalInvitation`): a handle holding the client and
/// the invitation's id. Single use: once sent it cannot be sent again.
#[derive(Debug, Clone)]
pub struct LocalInvitation {
    client: RtmClient,
    id: InvitationId,
    callee_id: UserId,
}

impl LocalInvitation {
    /// A new listener of this invitation's events, from now on (the SDK's
    /// `localInvitation.on(...)`).
    pub fn events(&self) -> crate::Events {
        self.client.listen(crate::events::Filter::Local(self.id))
    }

    /// The id that the invitation's events carry.
    pub fn id(&self) -> InvitationId {
        self.id
    }

    /// `calleeId`.
    pub fn callee_id(&self) -> &UserId {
        &self.callee_id
    }

    /// Everything the client knows of this invitation now (callee, content, channel id,
    /// state, response); `None` once it has been forgotten (the client keeps the latest 128
    /// ended invitations) or if the client is gone.
    pub fn info(&self) -> Option<LocalInvitationInfo> {
        let id = self.id;
        self.client
            .local(move |c, _| c.local_invitation(id).cloned())
            .flatten()
    }

    /// `state` (§7.6); `None` as for [`LocalInvitation::info`].
    pub fn state(&self) -> Option<LocalInvitationState> {
        self.info().map(|i| i.state)
    }

    /// `response`: the callee's response once it accepted or refused (empty before).
    pub fn response(&self) -> Option<String> {
        self.info().map(|i| i.response)
    }

    /// `content`.
    pub fn content(&self) -> Option<String> {
        self.info().map(|i| i.content)
    }

    /// `channelId`.
    pub fn channel_id(&self) -> Option<String> {
        self.info().map(|i| i.channel_id)
    }

    /// Sets `content` (at most 8 KB, checked at `send`). Only before `send`.
    pub fn set_content(&self, content: &str) -> Result<(), E> {
        let (id, content) = (self.id, content.to_string());
        self.client
            .local(move |c, _| c.set_local_invitation_content(id, &content))
            .unwrap_or(Err(E::AlreadyEnd))
    }

    /// Sets `channelId` (legacy interop, at most 64 bytes, checked at `send`). Only before
    /// `send`.
    pub fn set_channel_id(&self, channel_id: &str) -> Result<(), E> {
        let (id, channel_id) = (self.id, channel_id.to_string());
        self.client
            .local(move |c, _| c.set_local_invitation_channel_id(id, &channel_id))
            .unwrap_or(Err(E::AlreadyEnd))
    }

    /// `send()`: rings the callee. Not logged in: `LocalInvitationFailure(NOT_LOGGEDIN)`
    /// follows as an event.
    pub fn send(&self) -> Result<(), E> {
        let id = self.id;
        self.client
            .local(move |c, now| c.send_local_invitation(now, id))
            .unwrap_or(Err(E::AlreadyEnd))
    }

    /// `cancel()`: the outcome (`LocalInvitationCanceled`, or the answer that beat the cancel
    /// to the server) arrives as an event.
    pub fn cancel(&self) -> Result<(), E> {
        let id = self.id;
        self.client
            .local(move |c, now| c.cancel_local_invitation(now, id))
            .unwrap_or(Err(E::AlreadyEnd))
    }
}

/// A callee-side invitation (the SDK's `RemoteInvitation`): a handle holding the client, the
/// invitation's key and what the caller sent.
#[derive(Debug, Clone)]
pub struct RemoteInvitation {
    client: RtmClient,
    key: InvitationKey,
    content: String,
    channel_id: String,
}

impl RemoteInvitation {
    /// A new listener of this invitation's events, from now on (the SDK's
    /// `remoteInvitation.on(...)`).
    pub fn events(&self) -> crate::Events {
        self.client
            .listen(crate::events::Filter::Remote(self.key.clone()))
    }

    /// The key that the invitation's events carry.
    pub fn key(&self) -> &InvitationKey {
        &self.key
    }

    /// `callerId`.
    pub fn caller_id(&self) -> &UserId {
        &self.key.caller
    }

    /// `content`.
    pub fn content(&self) -> &str {
        &self.content
    }

    /// `channelId`.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// Everything the client knows of this invitation now; `None` once it has been
    /// forgotten (the client keeps the latest 128 ended invitations) or if the client is
    /// gone.
    pub fn info(&self) -> Option<RemoteInvitationInfo> {
        let key = self.key.clone();
        self.client
            .local(move |c, _| c.remote_invitation(&key).cloned())
            .flatten()
    }

    /// `state` (§7.7); `None` as for [`RemoteInvitation::info`].
    pub fn state(&self) -> Option<RemoteInvitationState> {
        self.info().map(|i| i.state)
    }

    /// `response`: what will be (or was) sent with `accept` or `refuse`.
    pub fn response(&self) -> Option<String> {
        self.info().map(|i| i.response)
    }

    /// Sets `response` (at most 8 KB), sent with `accept` or `refuse`.
    pub fn set_response(&self, response: &str) -> Result<(), E> {
        let (key, response) = (self.key.clone(), response.to_string());
        self.client
            .local(move |c, _| c.set_remote_invitation_response(&key, &response))
            .unwrap_or(Err(E::AlreadyEnd))
    }

    /// `accept()`: `RemoteInvitationAccepted` follows once the server confirmed it (or the
    /// outcome that beat it).
    pub fn accept(&self) -> Result<(), E> {
        let key = self.key.clone();
        self.client
            .local(move |c, now| c.accept_remote_invitation(now, &key))
            .unwrap_or(Err(E::AlreadyEnd))
    }

    /// `refuse()`: `RemoteInvitationRefused` follows (or the outcome that beat it).
    pub fn refuse(&self) -> Result<(), E> {
        let key = self.key.clone();
        self.client
            .local(move |c, now| c.refuse_remote_invitation(now, &key))
            .unwrap_or(Err(E::AlreadyEnd))
    }
}

impl RtmClient {
    /// `createLocalInvitation(calleeId)`: a new invitation, not sent yet. Works before login.
    pub fn create_local_invitation(&self, callee_id: &str) -> Result<LocalInvitation, E> {
        let callee = callee_id.to_string();
        let (id, info) = self
            .local(move |c, _| {
                let id = c.create_local_invitation(&callee)?;
                Ok((id, c.local_invitation(id).cloned()))
            })
            .unwrap_or(Err(E::InvalidArgument))?;
        let callee_id = match info {
            Some(info) => info.callee_id,
            None => UserId::new(callee_id).map_err(|_| E::InvalidArgument)?,
        };
        Ok(LocalInvitation {
            client: self.clone(),
            id,
            callee_id,
        })
    }

    /// A handle for the caller-side invitation `id` (e.g. named by an event), if the client
    /// knows it.
    pub fn local_invitation(&self, id: InvitationId) -> Option<LocalInvitation> {
        let info = self
            .local(move |c, _| c.local_invitation(id).cloned())
            .flatten()?;
        Some(LocalInvitation {
            client: self.clone(),
            id,
            callee_id: info.callee_id,
        })
    }

    /// A handle for the received invitation `key` (from `RemoteInvitationEvent::Received`),
    /// if the client knows it.
    pub fn remote_invitation(&self, key: &InvitationKey) -> Option<RemoteInvitation> {
        let k = key.clone();
        let info = self
            .local(move |c, _| c.remote_invitation(&k).cloned())
            .flatten()?;
        Some(RemoteInvitation {
            client: self.clone(),
            key: key.clone(),
            content: info.content,
            channel_id: info.channel_id,
        })
    }
}
