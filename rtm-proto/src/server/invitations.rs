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
    ACCEPT_CONFIRM_TIMEOUT, ACK_TIMEOUT, EXPIRY, MAX_CHANNEL_ID_BYTES, MAX_CONTENT_BYTES,
};
use crate::wire::{InvitationKey, LocalInvitationUpdate, Push, RemoteInvitationUpdate, Reply};

use super::invitation::{self, CallerSession, Deadline, Effect, Input, Phase, Side};
use super::{ConnId, Server, ServerTimer};

/// How long a record is kept after the invitation was sent.
pub const RETENTION: Duration = Duration::from_secs(300);
/// Open (undecided) invitations one caller may have at once.
pub const MAX_OPEN_PER_CALLER: usize = 64;

/// The answer to an `invite` when the server's invitation records are at their budget.
const INVITATIONS_FULL: &str = "the server holds as many invitations as it may; try later";

/// `(caller, caller's number)`.
pub(super) type InvKey = (UserId, u64);

#[derive(Debug)]
pub(super) struct Invitation {
    callee: UserId,
    content: String,
    channel_id: String,
    /// Where it stands; what each side is told is derived from it.
    phase: Phase,
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
    /// Its strings and a fixed overhead for the record, its keys and the callee index.
    fn weigh(&self, caller: &UserId) -> usize {
        self.content.len()
            + self.channel_id.len()
            + self.phase.response().len()
            + 3 * caller.as_str().len()
            + 2 * self.callee.as_str().len()
            + 384
    }

    /// The caller's view, as pushed in `local_invitation`.
    fn local_update(&self, number: u64) -> LocalInvitationUpdate {
        let (state, response, reason) = self.phase.local_view();
        LocalInvitationUpdate {
            invitation: number,
            state,
            response: response.to_string(),
            reason,
        }
    }

    /// The callee's view, as pushed in `remote_invitation`, once it has seen it.
    fn remote_update(&self, key: &InvKey) -> Option<RemoteInvitationUpdate> {
        let (state, reason) = self.phase.remote_view()?;
        Some(RemoteInvitationUpdate {
            caller: key.0.clone(),
            invitation: key.1,
            state,
            content: self.content.clone(),
            reason,
        })
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
            .filter(|(_, i)| !i.phase.is_decided())
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

    fn callee_of(&self, key: &InvKey) -> Option<&UserId> {
        self.records.get(key).map(|i| &i.callee)
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
        if self.invitations.records.contains_key(&key) {
            // A resend. If the invitation was decided meanwhile (the decision may have gone
            // to a session the caller lost), the caller is told again.
            self.reply(conn, Reply::Ok { id });
            return self.advance_invitation(&key, Input::Reinvited);
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
            content,
            channel_id,
            phase: Phase::Pending,
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
        self.reply(conn, Reply::Ok { id });
        if self.sessions.contains_key(&callee) {
            self.advance_invitation(&key, Input::Delivered);
        }
    }

    /// Feeds `input` to the invitation `key` ([`invitation::step`]) and carries out what
    /// it decided.
    fn advance_invitation(&mut self, key: &InvKey, input: Input) {
        let Some(inv) = self.invitations.records.get_mut(key) else {
            return;
        };
        let (next, effect) = invitation::step(&inv.phase, input);
        if let Some(next) = next {
            inv.phase = next;
            self.invitations.reweigh(key);
        }
        match effect {
            Effect::Nothing => {}
            Effect::Ring => self.ring(key),
            Effect::TellCaller => self.push_local(key),
            Effect::AwaitCaller => {
                let at = self.now.saturating_add(ACCEPT_CONFIRM_TIMEOUT);
                self.timers
                    .schedule(at, ServerTimer::InvitationAccept(key.clone()));
            }
            Effect::Decided => {
                self.push_local(key);
                self.push_remote(key);
            }
            Effect::TellCallerAgain => self.push_local_again(key),
            Effect::TellCalleeAgain => self.push_remote_again(key),
        }
    }

    /// Pushes the invitation to its callee's session.
    fn ring(&mut self, key: &InvKey) {
        let Some(inv) = self.invitations.records.get(key) else {
            return;
        };
        let frame = Push::Invitation {
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
            self.advance_invitation(&key, Input::Delivered);
        }
    }

    pub(super) fn on_invitation_ack(&mut self, callee: &UserId, caller: UserId, number: u64) {
        let key = (caller, number);
        if self.invitations.callee_of(&key) == Some(callee) {
            self.advance_invitation(&key, Input::Acked);
        }
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
        self.reply(conn, Reply::Ok { id });
        if self.invitations.callee_of(&key) != Some(callee) {
            return;
        }
        let caller = match self.sessions.get(&caller).map(|s| s.conn.is_some()) {
            Some(true) => CallerSession::Attached,
            Some(false) => CallerSession::Detached,
            None => CallerSession::Gone,
        };
        let input = Input::Answered {
            accept,
            response,
            caller,
        };
        self.advance_invitation(&key, input);
    }

    pub(super) fn on_invitation_cancel(
        &mut self,
        conn: ConnId,
        caller: &UserId,
        id: u32,
        number: u64,
    ) {
        let key = (caller.clone(), number);
        self.reply(conn, Reply::Ok { id });
        self.advance_invitation(&key, Input::Cancelled);
    }

    /// The caller's session is back (resumed): accepts that waited for it complete.
    pub(super) fn caller_back(&mut self, caller: &UserId) {
        for key in self.invitations.keys_of_caller(caller) {
            self.advance_invitation(&key, Input::CallerBack);
        }
    }

    /// `uid`'s session ended: its open invitations fail (see the table above).
    pub(super) fn invitations_session_ended(&mut self, uid: &UserId) {
        for key in self.invitations.keys_of_caller(uid) {
            self.advance_invitation(&key, Input::SessionEnded(Side::Caller));
        }
        for key in self.invitations.keys_of_callee(uid) {
            self.advance_invitation(&key, Input::SessionEnded(Side::Callee));
        }
    }

    pub(super) fn on_invitation_timer(&mut self, timer: ServerTimer) {
        let (key, deadline) = match timer {
            ServerTimer::InvitationAck(k) => (k, Deadline::Ack),
            ServerTimer::InvitationExpiry(k) => (k, Deadline::Expiry),
            ServerTimer::InvitationAccept(k) => (k, Deadline::AcceptConfirm),
            ServerTimer::InvitationRetire(k) => return self.invitations.remove(&k),
            _ => return,
        };
        self.advance_invitation(&key, Input::Expired(deadline));
    }

    fn push_local(&mut self, key: &InvKey) {
        let Some(inv) = self.invitations.records.get(key) else {
            return;
        };
        let frame = Push::LocalInvitation(inv.local_update(key.1)).encode();
        let caller = key.0.clone();
        self.push_invitation(&caller, frame);
        let at = self.stream_tip(&caller);
        if let Some(inv) = self.invitations.records.get_mut(key) {
            inv.local_told = at;
        }
    }

    /// Tells the callee, if it has seen the invitation.
    fn push_remote(&mut self, key: &InvKey) {
        let Some(inv) = self.invitations.records.get(key) else {
            return;
        };
        let Some(update) = inv.remote_update(key) else {
            return;
        };
        let frame = Push::RemoteInvitation(update).encode();
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
                    .map(|i| i.local_update(n))
            })
            .collect();
        let remote = remote
            .into_iter()
            .filter_map(|k| {
                let key = (k.caller, k.invitation);
                self.invitations
                    .records
                    .get(&key)
                    .filter(|i| &i.callee == uid)
                    .and_then(|i| i.remote_update(&key))
            })
            .collect();
        self.reply(conn, Reply::InvitationStates { id, local, remote });
    }
}
