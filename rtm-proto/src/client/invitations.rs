//! Call invitations on the client (§4.10, §5.3, §5.4, §7.6–§7.10, §10).
//!
//! The client keeps each invitation's state for the application and enforces the API rules
//! (`InvitationApiCallError`); outcomes come from the server, which arbitrates (see
//! `server/invitations.rs`), so caller and callee always agree. Actions travel as requests
//! and are resent after a reconnect; after a reconnect that lost the session the client asks
//! the server what became of its open invitations.

use crate::client::{LocalInvitationEvent, RemoteInvitationEvent};

use crate::errors::InvitationApiCallError as E;
use crate::ids::UserId;
use crate::invitation::{
    LocalInvitationFailureReason, LocalInvitationState as L, RemoteInvitationFailureReason,
    RemoteInvitationState as R, MAX_CHANNEL_ID_BYTES, MAX_CONTENT_BYTES,
};
use crate::time::Timestamp;
use crate::wire::{ClientFrame, InvitationKey, LocalInvitationUpdate, RemoteInvitationUpdate};

use super::pending::PendingKind;
use super::{Client, Event};

/// A caller-side invitation handle (`LocalInvitation`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvitationId(pub u64);

/// Invitation actions wait this long for the server's `ok` (they are resent on reconnect;
/// the outcome itself always comes from the server).
pub(super) const ACTION_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(90);
/// Ended invitations kept for the application to read, per side.
const KEEP_ENDED: usize = 128;

/// `LocalInvitation` (caller side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInvitation {
    pub callee_id: UserId,
    pub content: String,
    pub channel_id: String,
    pub state: L,
    /// The callee's response, once it accepted or refused.
    pub response: String,
    /// Creation order, to forget the oldest unsent ones first.
    created: u64,
}

/// `RemoteInvitation` (callee side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInvitation {
    pub caller_id: UserId,
    pub content: String,
    pub channel_id: String,
    pub state: R,
    /// The response to send with accept/refuse.
    pub response: String,
}

impl Client {
    /// `createLocalInvitation(calleeId)`. Works before login.
    pub fn create_local_invitation(&mut self, callee_id: &str) -> Result<InvitationId, E> {
        let callee = UserId::new(callee_id).map_err(|_| E::InvalidArgument)?;
        // Random numbers: unique per caller even across client instances of the same user.
        let number = self.rng.next_u64() >> 11;
        self.invitations_created += 1;
        self.local_invitations.insert(
            number,
            LocalInvitation {
                callee_id: callee,
                content: String::new(),
                channel_id: String::new(),
                state: L::Idle,
                response: String::new(),
                created: self.invitations_created,
            },
        );
        self.prune_ended_invitations();
        Ok(InvitationId(number))
    }

    /// The caller-side invitation `id`.
    pub fn local_invitation(&self, id: InvitationId) -> Option<&LocalInvitation> {
        self.local_invitations.get(&id.0)
    }

    /// Sets `content` (checked at send: ≤ 8 KB).
    pub fn set_local_invitation_content(
        &mut self,
        id: InvitationId,
        content: &str,
    ) -> Result<(), E> {
        self.idle_local(id)
            .map(|inv| inv.content = content.to_string())
    }

    /// Sets `channelId` (legacy interop; checked at send: ≤ 64 bytes).
    pub fn set_local_invitation_channel_id(
        &mut self,
        id: InvitationId,
        channel_id: &str,
    ) -> Result<(), E> {
        self.idle_local(id)
            .map(|inv| inv.channel_id = channel_id.to_string())
    }

    fn idle_local(&mut self, id: InvitationId) -> Result<&mut LocalInvitation, E> {
        let inv = self
            .local_invitations
            .get_mut(&id.0)
            .ok_or(E::InvalidArgument)?;
        match inv.state {
            L::Idle => Ok(inv),
            s if s.is_terminal() => Err(E::AlreadyEnd),
            _ => Err(E::AlreadySent),
        }
    }

    /// `LocalInvitation.send()`. Not logged in: the invitation fails with NOT_LOGGEDIN.
    pub fn send_local_invitation(&mut self, now: Timestamp, id: InvitationId) -> Result<(), E> {
        self.advance(now);
        let logged_in = self.is_logged_in();
        let inv = self.idle_local(id)?;
        if inv.content.len() > MAX_CONTENT_BYTES || inv.channel_id.len() > MAX_CHANNEL_ID_BYTES {
            return Err(E::InvalidArgument);
        }
        if !logged_in {
            inv.state = L::Failure;
            self.emit(Event::LocalInvitation {
                invitation: id,
                event: LocalInvitationEvent::Failure {
                    reason: LocalInvitationFailureReason::NotLoggedin,
                },
            });
            return Ok(());
        }
        inv.state = L::SentToRemote;
        let (callee, content, channel_id) = (
            inv.callee_id.clone(),
            inv.content.clone(),
            inv.channel_id.clone(),
        );
        self.start_request(PendingKind::Invite(id.0), ACTION_TIMEOUT, |rid| {
            ClientFrame::Invite {
                id: rid,
                invitation: id.0,
                callee,
                content,
                channel_id,
            }
        });
        Ok(())
    }

    /// `LocalInvitation.cancel()`. The outcome (`LocalInvitationCanceled`, or the accept or
    /// refusal that reached the server first) arrives as an event.
    pub fn cancel_local_invitation(&mut self, now: Timestamp, id: InvitationId) -> Result<(), E> {
        self.advance(now);
        let inv = self
            .local_invitations
            .get(&id.0)
            .ok_or(E::InvalidArgument)?;
        match inv.state {
            L::Idle => return Err(E::NotStarted),
            s if s.is_terminal() => return Err(E::AlreadyEnd),
            _ => {}
        }
        self.start_request(PendingKind::InvitationAction, ACTION_TIMEOUT, |rid| {
            ClientFrame::InvitationCancel {
                id: rid,
                invitation: id.0,
            }
        });
        Ok(())
    }

    /// The callee-side invitation `key`.
    pub fn remote_invitation(&self, key: &InvitationKey) -> Option<&RemoteInvitation> {
        self.remote_invitations.get(key)
    }

    /// Sets the response sent with accept or refuse (≤ 8 KB).
    pub fn set_remote_invitation_response(
        &mut self,
        key: &InvitationKey,
        response: &str,
    ) -> Result<(), E> {
        let inv = self.open_remote(key)?;
        if response.len() > MAX_CONTENT_BYTES {
            return Err(E::InvalidArgument);
        }
        inv.response = response.to_string();
        Ok(())
    }

    fn open_remote(&mut self, key: &InvitationKey) -> Result<&mut RemoteInvitation, E> {
        let inv = self
            .remote_invitations
            .get_mut(key)
            .ok_or(E::InvalidArgument)?;
        match inv.state {
            R::AcceptSentToLocal => Err(E::AlreadyAccept),
            s if s.is_terminal() => Err(E::AlreadyEnd),
            _ => Ok(inv),
        }
    }

    /// `RemoteInvitation.accept()`.
    pub fn accept_remote_invitation(
        &mut self,
        now: Timestamp,
        key: &InvitationKey,
    ) -> Result<(), E> {
        self.answer_remote(now, key, true)
    }

    /// `RemoteInvitation.refuse()`.
    pub fn refuse_remote_invitation(
        &mut self,
        now: Timestamp,
        key: &InvitationKey,
    ) -> Result<(), E> {
        self.answer_remote(now, key, false)
    }

    fn answer_remote(
        &mut self,
        now: Timestamp,
        key: &InvitationKey,
        accept: bool,
    ) -> Result<(), E> {
        self.advance(now);
        let inv = self.open_remote(key)?;
        if accept {
            inv.state = R::AcceptSentToLocal;
        }
        let response = inv.response.clone();
        let key = key.clone();
        self.start_request(PendingKind::InvitationAction, ACTION_TIMEOUT, |rid| {
            ClientFrame::InvitationAnswer {
                id: rid,
                caller: key.caller,
                invitation: key.invitation,
                accept,
                response,
            }
        });
        Ok(())
    }

    /// An `invitation` push: a new incoming invitation (acknowledged either way).
    pub(super) fn on_invitation(
        &mut self,
        transport: super::TransportId,
        caller: UserId,
        number: u64,
        content: String,
        channel_id: String,
    ) {
        let key = InvitationKey {
            caller: caller.clone(),
            invitation: number,
        };
        if !self.remote_invitations.contains_key(&key) {
            self.remote_invitations.insert(
                key.clone(),
                RemoteInvitation {
                    caller_id: caller.clone(),
                    content: content.clone(),
                    channel_id: channel_id.clone(),
                    state: R::InvitationReceived,
                    response: String::new(),
                },
            );
            self.emit(Event::RemoteInvitation {
                invitation: key,
                event: RemoteInvitationEvent::Received {
                    caller_id: caller.clone(),
                    content,
                    channel_id,
                },
            });
            self.prune_ended_invitations();
        }
        self.send_frame(
            transport,
            &ClientFrame::InvitationAck {
                caller,
                invitation: number,
            },
        );
    }

    /// The server's decision for one of our invitations.
    pub(super) fn on_local_update(&mut self, u: LocalInvitationUpdate) {
        let id = InvitationId(u.invitation);
        let Some(inv) = self.local_invitations.get_mut(&u.invitation) else {
            return;
        };
        if inv.state.is_terminal() || inv.state == u.state {
            return;
        }
        let was = inv.state;
        inv.state = u.state;
        if u.state.is_terminal() {
            inv.response = u.response.clone();
        }
        // The callee evidently received it if it answered: report that first (§10.2).
        let answered = matches!(u.state, L::AcceptedByRemote | L::RefusedByRemote);
        if u.state == L::ReceivedByRemote || (answered && was == L::SentToRemote) {
            self.emit(Event::LocalInvitation {
                invitation: id,
                event: LocalInvitationEvent::ReceivedByPeer,
            });
        }
        let event = match u.state {
            L::AcceptedByRemote => Event::LocalInvitation {
                invitation: id,
                event: LocalInvitationEvent::Accepted {
                    response: u.response,
                },
            },
            L::RefusedByRemote => Event::LocalInvitation {
                invitation: id,
                event: LocalInvitationEvent::Refused {
                    response: u.response,
                },
            },
            L::Canceled => Event::LocalInvitation {
                invitation: id,
                event: LocalInvitationEvent::Canceled,
            },
            L::Failure => Event::LocalInvitation {
                invitation: id,
                event: LocalInvitationEvent::Failure {
                    reason: u
                        .reason
                        .unwrap_or(LocalInvitationFailureReason::InvitationExpire),
                },
            },
            L::Idle | L::SentToRemote | L::ReceivedByRemote => return,
        };
        self.emit(event);
    }

    /// The server's decision for an invitation to us.
    pub(super) fn on_remote_update(&mut self, u: RemoteInvitationUpdate) {
        let key = InvitationKey {
            caller: u.caller.clone(),
            invitation: u.invitation,
        };
        let Some(inv) = self.remote_invitations.get_mut(&key) else {
            return;
        };
        if inv.state.is_terminal() || !u.state.is_terminal() {
            return;
        }
        inv.state = u.state;
        let event = match u.state {
            R::Accepted => Event::RemoteInvitation {
                invitation: key,
                event: RemoteInvitationEvent::Accepted,
            },
            R::Refused => Event::RemoteInvitation {
                invitation: key,
                event: RemoteInvitationEvent::Refused,
            },
            R::Canceled => Event::RemoteInvitation {
                invitation: key,
                event: RemoteInvitationEvent::Canceled { content: u.content },
            },
            _ => Event::RemoteInvitation {
                invitation: key,
                event: RemoteInvitationEvent::Failure {
                    reason: u
                        .reason
                        .unwrap_or(RemoteInvitationFailureReason::InvitationExpire),
                },
            },
        };
        self.emit(event);
    }

    /// Keeps at most [`KEEP_ENDED`] ended invitations per side (oldest numbers first go).
    fn prune_ended_invitations(&mut self) {
        // Created and never sent: keep the newest KEEP_ENDED (an application that creates
        // without sending must not grow memory without bound).
        let mut idle: Vec<(u64, u64)> = self
            .local_invitations
            .iter()
            .filter(|(_, i)| i.state == L::Idle)
            .map(|(&n, i)| (i.created, n))
            .collect();
        if idle.len() > KEEP_ENDED {
            idle.sort_unstable();
            for (_, n) in idle.iter().take(idle.len() - KEEP_ENDED) {
                self.local_invitations.remove(n);
            }
        }
        let ended: Vec<u64> = self
            .local_invitations
            .iter()
            .filter(|(_, i)| i.state.is_terminal())
            .map(|(&n, _)| n)
            .collect();
        for n in ended.iter().take(ended.len().saturating_sub(KEEP_ENDED)) {
            self.local_invitations.remove(n);
        }
        let ended: Vec<InvitationKey> = self
            .remote_invitations
            .iter()
            .filter(|(_, i)| i.state.is_terminal())
            .map(|(k, _)| k.clone())
            .collect();
        for k in ended.iter().take(ended.len().saturating_sub(KEEP_ENDED)) {
            self.remote_invitations.remove(k);
        }
    }
}
