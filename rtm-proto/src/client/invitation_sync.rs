//! Invitations across a lost session: after a reconnect that lost the server session the
//! client asks the server what became of its open invitations (`invitation_sync`), and a
//! logout or abort ends them locally with the session's reason (§10).

use std::collections::BTreeSet;

use crate::invitation::{
    LocalInvitationFailureReason, LocalInvitationState as L, RemoteInvitationFailureReason,
    RemoteInvitationState as R,
};
use crate::wire::{ClientFrame, InvitationKey, LocalInvitationUpdate, RemoteInvitationUpdate};

use super::invitations::ACTION_TIMEOUT;
use super::pending::PendingKind;
use super::Client;

impl Client {
    /// After a reconnect that lost the session: ask what became of open invitations.
    pub(super) fn sync_invitations(&mut self) {
        // Invitations whose `invite` is still unanswered are resent, not synced.
        let unsent: BTreeSet<u64> = self
            .requests
            .kinds()
            .filter_map(|(_, k)| match *k {
                PendingKind::Invite(n) => Some(n),
                _ => None,
            })
            .collect();
        let local: Vec<u64> = self
            .local_invitations
            .iter()
            .filter(|(n, i)| {
                matches!(i.state, L::SentToRemote | L::ReceivedByRemote) && !unsent.contains(n)
            })
            .map(|(&n, _)| n)
            .collect();
        let remote: Vec<InvitationKey> = self
            .remote_invitations
            .iter()
            .filter(|(_, i)| !i.state.is_terminal())
            .map(|(k, _)| k.clone())
            .collect();
        if local.is_empty() && remote.is_empty() {
            return;
        }
        let kind = PendingKind::InvitationSync(local.clone(), remote.clone());
        self.start_request(kind, ACTION_TIMEOUT, |id| ClientFrame::InvitationSync {
            id,
            local,
            remote,
        });
    }

    /// The answer to a sync: apply what the server knows; what it forgot (a restart) has
    /// expired for both sides alike.
    pub(super) fn on_invitation_states(
        &mut self,
        asked: (Vec<u64>, Vec<InvitationKey>),
        local: Vec<LocalInvitationUpdate>,
        remote: Vec<RemoteInvitationUpdate>,
    ) {
        let known_local: BTreeSet<u64> = local.iter().map(|u| u.invitation).collect();
        let known_remote: BTreeSet<InvitationKey> = remote
            .iter()
            .map(|u| InvitationKey {
                caller: u.caller.clone(),
                invitation: u.invitation,
            })
            .collect();
        for u in local {
            self.on_local_update(u);
        }
        for u in remote {
            self.on_remote_update(u);
        }
        for n in asked.0.into_iter().filter(|n| !known_local.contains(n)) {
            self.on_local_update(LocalInvitationUpdate {
                invitation: n,
                state: L::Failure,
                response: String::new(),
                reason: Some(LocalInvitationFailureReason::InvitationExpire),
            });
        }
        for k in asked.1.into_iter().filter(|k| !known_remote.contains(k)) {
            self.on_remote_update(RemoteInvitationUpdate {
                caller: k.caller,
                invitation: k.invitation,
                state: R::Failure,
                content: String::new(),
                reason: Some(RemoteInvitationFailureReason::InvitationExpire),
            });
        }
    }

    /// The session is over (logout drained, or aborted): the server ended every invitation
    /// still open the same way (caller NOT_LOGGEDIN, callee PEER_OFFLINE). A logout waits
    /// for the server's `ok` first, so any decision the server made before it has arrived.
    pub(super) fn end_invitations_with_session(&mut self) {
        let local: Vec<u64> = self
            .local_invitations
            .iter()
            .filter(|(_, i)| !i.state.is_terminal() && i.state != L::Idle)
            .map(|(&n, _)| n)
            .collect();
        for n in local {
            self.on_local_update(LocalInvitationUpdate {
                invitation: n,
                state: L::Failure,
                response: String::new(),
                reason: Some(LocalInvitationFailureReason::NotLoggedin),
            });
        }
        let remote: Vec<(InvitationKey, R)> = self
            .remote_invitations
            .iter()
            .filter(|(_, i)| !i.state.is_terminal())
            .map(|(k, i)| (k.clone(), i.state))
            .collect();
        for (k, _) in remote {
            self.on_remote_update(RemoteInvitationUpdate {
                caller: k.caller,
                invitation: k.invitation,
                state: R::Failure,
                content: String::new(),
                reason: Some(RemoteInvitationFailureReason::PeerOffline),
            });
        }
    }
}
