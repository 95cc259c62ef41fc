//! Call invitations on the server (§4.10, §10): the server is the arbiter.
//!
//! Caller and callee only *ask* (invite, cancel, accept, refuse); the server decides, in the
//! order the asks reach it, and pushes the decision to both on their delivery streams. A
//! cancel that crosses an accept therefore ends the same way on both sides: whichever reached
//! the server first. Records outlive their decision for [`RETENTION`] so a client that lost
//! its session can ask what became of its invitations (`invitation_sync`).
//!
//! | what happened | caller sees | callee sees |
//! |---|---|---|
//! | callee offline for 30 s after send | FAILURE PEER_OFFLINE | nothing |
//! | callee online, no ack within 30 s | FAILURE PEER_NO_RESPONSE | FAILURE INVITATION_EXPIRE (if it ever got it) |
//! | no decision within 60 s | FAILURE INVITATION_EXPIRE | FAILURE INVITATION_EXPIRE |
//! | callee's session ended | FAILURE PEER_OFFLINE | FAILURE PEER_OFFLINE |
//! | caller's session ended | FAILURE NOT_LOGGEDIN | FAILURE PEER_OFFLINE |
//! | accepted while the caller was away, not back within 5 s | FAILURE NOT_LOGGEDIN | FAILURE ACCEPT_FAILURE |

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use crate::errors::InvitationApiCallError;
use crate::ids::UserId;
use crate::invitation::{
    LocalInvitationFailureReason as LocalWhy, LocalInvitationState as L,
    RemoteInvitationFailureReason as RemoteWhy, RemoteInvitationState as R, ACCEPT_CONFIRM_TIMEOUT,
    ACK_TIMEOUT, EXPIRY, MAX_CHANNEL_ID_BYTES, MAX_CONTENT_BYTES,
};
use crate::wire::{InvitationKey, LocalInvitationUpdate, RemoteInvitationUpdate, ServerFrame};

use super::{ConnId, Server, ServerTimer};

/// How long a record is kept after the invitation was sent.
pub const RETENTION: Duration = Duration::from_secs(300);
/// Open (undecided) invitations one caller may have at once.
pub const MAX_OPEN_PER_CALLER: usize = 64;

/// The answer to an `invite` when the server's invitation records are at their budget.
const INVITATIONS_FULL: &str = "the server holds as many invitations as it may; try later";

/// `(caller, caller's number)`.
pub(super) type InvKey = (UserId, u64);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// The callee had no session: waiting (≤ 30 s) for it to log in.
    Pending,
    /// Pushed to the callee, not acknowledged.
    Ringing,
    /// Acknowledged by the callee.
    Received,
    /// Accepted while the caller's session was detached; waiting ≤ 5 s for it.
    AwaitCaller { response: String },
    /// Decided.
    Done,
}

#[derive(Debug)]
pub(super) struct Invitation {
    callee: UserId,
    content: String,
    channel_id: String,
    phase: Phase,
    delivered: bool,
    local: LocalInvitationUpdate,
    remote: RemoteInvitationUpdate,
    /// Where the latest `local_invitation` and `remote_invitation` pushes went: `(session
    /// epoch, stream position)` of the caller's and the callee's stream. A repeated ask of a
    /// decided invitation pushes the decision again only if that push is no longer in the
    /// stream (acknowledged, or another session): repeats never grow a stream.
    local_told: Option<(u64, u64)>,
    remote_told: Option<(u64, u64)>,
    /// What the record counted against `invitations_total_bytes` when last weighed.
    weight: usize,
}

impl Invitation {
    /// Its strings (the content twice: the caller's view and the callee's) and a fixed
    /// overhead for the record, its keys and the callee index.
    fn weigh(&self, caller: &UserId) -> usize {
        let response = match &self.phase {
            Phase::AwaitCaller { response } => response.len(),
            _ => self.local.response.len(),
        };
        self.content.len()
            + self.remote.content.len()
            + self.channel_id.len()
            + response
            + 3 * caller.as_str().len()
            + 2 * self.callee.as_str().len()
            + 384
    }
}

/// Every invitation the server knows, by caller and by callee.
#[derive(Debug, Default)]
pub(super) struct Invitations {
    records: BTreeMap<InvKey, Invitation>,
    by_callee: BTreeMap<UserId, BTreeSet<InvKey>>,
    /// The sum of the records' weights.
    bytes: usize,
}

impl Invitations {
    /// Weighs the record of `key` again after a change (a response was set).
    fn reweigh(&mut self, key: &InvKey) {
        if let Some(inv) = self.records.get_mut(key) {
            let weight = inv.weigh(&key.0);
            self.bytes = self.bytes - inv.weight + weight;
            inv.weight = weight;
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn remove(&mut self, key: &InvKey) {
        if let Some(inv) = self.records.remove(key) {
            self.bytes -= inv.weight;
            if let Some(set) = self.by_callee.get_mut(&inv.callee) {
                set.remove(key);
                if set.is_empty() {
                    self.by_callee.remove(&inv.callee);
                }
            }
        }
    }

    fn open_of_caller(&self, caller: &UserId) -> usize {
        self.records
            .range((caller.clone(), 0)..=(caller.clone(), u64::MAX))
            .filter(|(_, i)| i.phase != Phase::Done)
            .count()
    }

    fn keys_of_caller(&self, caller: &UserId) -> Vec<InvKey> {
        self.records
            .range((caller.clone(), 0)..=(caller.clone(), u64::MAX))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn keys_of_callee(&self, callee: &UserId) -> Vec<InvKey> {
        self.by_callee
            .get(callee)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }
}

impl Server {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_invite(
        &mut self,
        conn: ConnId,
        caller: &UserId,
        id: u32,
        number: u64,
        callee: UserId,
        content: String,
        channel_id: String,
    ) {
        let key: InvKey = (caller.clone(), number);
        if let Some(inv) = self.invitations.records.get(&key) {
            // A resend. If the invitation was decided meanwhile (the decision may have gone
            // to a session the caller lost), tell the caller again.
            let decided = inv.phase == Phase::Done;
            self.send(conn, &ServerFrame::Ok { id });
            if decided {
                self.push_local_again(&key);
            }
            return;
        }
        if content.len() > MAX_CONTENT_BYTES
            || channel_id.len() > MAX_CHANNEL_ID_BYTES
            || &callee == caller
            || self.invitations.open_of_caller(caller) >= MAX_OPEN_PER_CALLER
        {
            let e = InvitationApiCallError::InvalidArgument;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        let now = self.now;
        let mut inv = Invitation {
            callee: callee.clone(),
            content: content.clone(),
            channel_id,
            phase: Phase::Pending,
            delivered: false,
            local: LocalInvitationUpdate {
                invitation: number,
                state: L::SentToRemote,
                response: String::new(),
                reason: None,
            },
            remote: RemoteInvitationUpdate {
                caller: caller.clone(),
                invitation: number,
                state: R::InvitationReceived,
                content,
                reason: None,
            },
            local_told: None,
            remote_told: None,
            weight: 0,
        };
        inv.weight = inv.weigh(caller);
        if self.invitations.bytes + inv.weight > self.config.invitations_total_bytes {
            let e = InvitationApiCallError::TooOften;
            return self.reply_error(conn, id, e.code(), INVITATIONS_FULL);
        }
        self.invitations.bytes += inv.weight;
        self.invitations.records.insert(key.clone(), inv);
        self.invitations
            .by_callee
            .entry(callee.clone())
            .or_default()
            .insert(key.clone());
        self.timers.schedule(
            now.saturating_add(ACK_TIMEOUT),
            ServerTimer::InvitationAck(key.clone()),
        );
        self.timers.schedule(
            now.saturating_add(EXPIRY),
            ServerTimer::InvitationExpiry(key.clone()),
        );
        self.timers.schedule(
            now.saturating_add(RETENTION),
            ServerTimer::InvitationRetire(key.clone()),
        );
        self.send(conn, &ServerFrame::Ok { id });
        if self.sessions.contains_key(&callee) {
            self.deliver_invitation(&key);
        }
    }

    /// Pushes a pending invitation to its callee's session.
    fn deliver_invitation(&mut self, key: &InvKey) {
        let Some(inv) = self.invitations.records.get_mut(key) else {
            return;
        };
        if inv.phase != Phase::Pending {
            return;
        }
        inv.phase = Phase::Ringing;
        inv.delivered = true;
        let frame = ServerFrame::Invitation {
            caller: key.0.clone(),
            invitation: key.1,
            content: inv.content.clone(),
            channel_id: inv.channel_id.clone(),
        }
        .encode();
        let callee = inv.callee.clone();
        self.push_invitation(&callee, frame);
    }

    /// A callee logged in: deliver what waited for it.
    pub(super) fn deliver_pending_invitations(&mut self, callee: &UserId) {
        for key in self.invitations.keys_of_callee(callee) {
            self.deliver_invitation(&key);
        }
    }

    pub(super) fn on_invitation_ack(&mut self, callee: &UserId, caller: UserId, number: u64) {
        let key = (caller, number);
        let Some(inv) = self.invitations.records.get_mut(&key) else {
            return;
        };
        if &inv.callee != callee || inv.phase != Phase::Ringing {
            return;
        }
        inv.phase = Phase::Received;
        inv.local.state = L::ReceivedByRemote;
        self.push_local(&key);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_invitation_answer(
        &mut self,
        conn: ConnId,
        callee: &UserId,
        id: u32,
        caller: UserId,
        number: u64,
        accept: bool,
        response: String,
    ) {
        let key = (caller.clone(), number);
        if response.len() > MAX_CONTENT_BYTES {
            let e = InvitationApiCallError::InvalidArgument;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        let phase = self
            .invitations
            .records
            .get(&key)
            .filter(|i| &i.callee == callee)
            .map(|i| i.phase.clone());
        self.send(conn, &ServerFrame::Ok { id });
        let Some(phase) = phase else { return };
        match phase {
            Phase::Ringing | Phase::Received => {}
            // Decided already (or an accept already waits): tell the callee again.
            _ => return self.push_remote_again(&key),
        }
        if !accept {
            return self.finish(&key, L::RefusedByRemote, response, None, R::Refused, None);
        }
        let caller_attached = self.sessions.get(&caller).map(|s| s.conn.is_some());
        match caller_attached {
            Some(true) => self.finish(&key, L::AcceptedByRemote, response, None, R::Accepted, None),
            Some(false) => {
                let now = self.now;
                if let Some(inv) = self.invitations.records.get_mut(&key) {
                    inv.phase = Phase::AwaitCaller { response };
                    inv.remote.state = R::AcceptSentToLocal;
                }
                self.invitations.reweigh(&key);
                self.timers.schedule(
                    now.saturating_add(ACCEPT_CONFIRM_TIMEOUT),
                    ServerTimer::InvitationAccept(key),
                );
            }
            None => self.fail(&key, LocalWhy::NotLoggedin, Some(RemoteWhy::PeerOffline)),
        }
    }

    pub(super) fn on_invitation_cancel(
        &mut self,
        conn: ConnId,
        caller: &UserId,
        id: u32,
        number: u64,
    ) {
        let key = (caller.clone(), number);
        self.send(conn, &ServerFrame::Ok { id });
        let Some(inv) = self.invitations.records.get(&key) else {
            return;
        };
        match inv.phase {
            Phase::Done => self.push_local_again(&key),
            _ => self.finish(&key, L::Canceled, String::new(), None, R::Canceled, None),
        }
    }

    /// The caller's session is back (resumed): accepts that waited for it complete.
    pub(super) fn caller_back(&mut self, caller: &UserId) {
        for key in self.invitations.keys_of_caller(caller) {
            if let Some(Phase::AwaitCaller { response }) =
                self.invitations.records.get(&key).map(|i| i.phase.clone())
            {
                self.finish(&key, L::AcceptedByRemote, response, None, R::Accepted, None);
            }
        }
    }

    /// `uid`'s session ended: its open invitations fail (see the table above).
    pub(super) fn invitations_session_ended(&mut self, uid: &UserId) {
        for key in self.invitations.keys_of_caller(uid) {
            let Some(inv) = self.invitations.records.get(&key) else {
                continue;
            };
            let remote_why = match inv.phase {
                Phase::Done => continue,
                Phase::AwaitCaller { .. } => RemoteWhy::AcceptFailure,
                _ => RemoteWhy::PeerOffline,
            };
            self.fail(&key, LocalWhy::NotLoggedin, Some(remote_why));
        }
        for key in self.invitations.keys_of_callee(uid) {
            let open = self.invitations.records.get(&key).is_some_and(|i| {
                matches!(
                    i.phase,
                    Phase::Ringing | Phase::Received | Phase::AwaitCaller { .. }
                )
            });
            if open {
                self.fail(&key, LocalWhy::PeerOffline, Some(RemoteWhy::PeerOffline));
            }
        }
    }

    pub(super) fn on_invitation_timer(&mut self, timer: ServerTimer) {
        let (key, phase) = match &timer {
            ServerTimer::InvitationAck(k)
            | ServerTimer::InvitationExpiry(k)
            | ServerTimer::InvitationAccept(k)
            | ServerTimer::InvitationRetire(k) => (
                k.clone(),
                self.invitations.records.get(k).map(|i| i.phase.clone()),
            ),
            _ => return,
        };
        match (timer, phase) {
            (ServerTimer::InvitationAck(_), Some(Phase::Pending)) => {
                self.fail(&key, LocalWhy::PeerOffline, None)
            }
            (ServerTimer::InvitationAck(_), Some(Phase::Ringing)) => self.fail(
                &key,
                LocalWhy::PeerNoResponse,
                Some(RemoteWhy::InvitationExpire),
            ),
            (ServerTimer::InvitationExpiry(_), Some(Phase::Received)) => self.fail(
                &key,
                LocalWhy::InvitationExpire,
                Some(RemoteWhy::InvitationExpire),
            ),
            (ServerTimer::InvitationAccept(_), Some(Phase::AwaitCaller { .. })) => {
                self.fail(&key, LocalWhy::NotLoggedin, Some(RemoteWhy::AcceptFailure))
            }
            (ServerTimer::InvitationRetire(_), _) => self.invitations.remove(&key),
            _ => {}
        }
    }

    /// Decides an invitation as failed, with the reason each side sees.
    fn fail(&mut self, key: &InvKey, local_why: LocalWhy, remote_why: Option<RemoteWhy>) {
        self.finish(
            key,
            L::Failure,
            String::new(),
            Some(local_why),
            R::Failure,
            remote_why,
        );
    }

    /// Decides an invitation and tells both sides (the callee only if it ever saw it).
    fn finish(
        &mut self,
        key: &InvKey,
        local: L,
        response: String,
        local_why: Option<LocalWhy>,
        remote: R,
        remote_why: Option<RemoteWhy>,
    ) {
        let Some(inv) = self.invitations.records.get_mut(key) else {
            return;
        };
        debug_assert!(inv.phase != Phase::Done, "an invitation is decided once");
        inv.phase = Phase::Done;
        inv.local.state = local;
        inv.local.response = response;
        inv.local.reason = local_why;
        inv.remote.state = remote;
        inv.remote.reason = remote_why;
        let delivered = inv.delivered;
        self.invitations.reweigh(key);
        self.push_local(key);
        if delivered {
            self.push_remote(key);
        }
    }

    fn push_local(&mut self, key: &InvKey) {
        let Some(inv) = self.invitations.records.get(key) else {
            return;
        };
        let frame = ServerFrame::LocalInvitation(inv.local.clone()).encode();
        let caller = key.0.clone();
        self.push_invitation(&caller, frame);
        let at = self.stream_tip(&caller);
        if let Some(inv) = self.invitations.records.get_mut(key) {
            inv.local_told = at;
        }
    }

    fn push_remote(&mut self, key: &InvKey) {
        let Some(inv) = self.invitations.records.get(key) else {
            return;
        };
        let frame = ServerFrame::RemoteInvitation(inv.remote.clone()).encode();
        let callee = inv.callee.clone();
        self.push_invitation(&callee, frame);
        let at = self.stream_tip(&callee);
        if let Some(inv) = self.invitations.records.get_mut(key) {
            inv.remote_told = at;
        }
    }

    /// [`Server::push_local`] for a repeated ask: unless the caller's stream still holds the
    /// last `local_invitation` push.
    fn push_local_again(&mut self, key: &InvKey) {
        let told = self.invitations.records.get(key).and_then(|i| i.local_told);
        if !told.is_some_and(|at| self.stream_holds(&key.0, at)) {
            self.push_local(key);
        }
    }

    /// [`Server::push_remote`] for a repeated ask: unless the callee's stream still holds
    /// the last `remote_invitation` push.
    fn push_remote_again(&mut self, key: &InvKey) {
        let Some(inv) = self.invitations.records.get(key) else {
            return;
        };
        let (callee, told) = (inv.callee.clone(), inv.remote_told);
        if !told.is_some_and(|at| self.stream_holds(&callee, at)) {
            self.push_remote(key);
        }
    }

    pub(super) fn on_invitation_sync(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        local: Vec<u64>,
        remote: Vec<InvitationKey>,
    ) {
        let local = local
            .into_iter()
            .filter_map(|n| {
                self.invitations
                    .records
                    .get(&(uid.clone(), n))
                    .map(|i| i.local.clone())
            })
            .collect();
        let remote = remote
            .into_iter()
            .filter_map(|k| {
                self.invitations
                    .records
                    .get(&(k.caller, k.invitation))
                    .filter(|i| &i.callee == uid && i.delivered)
                    .map(|i| i.remote.clone())
            })
            .collect();
        self.send(conn, &ServerFrame::InvitationStates { id, local, remote });
    }
}
