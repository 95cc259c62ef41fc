//! Commands that talk to the server, their answers, timeouts and resends.
//!
//! Every request is kept, encoded, until it is answered or times out. When a link comes up
//! every request not yet sent on it is (re)sent: requests are idempotent on the server (peer
//! messages carry a `msg_id` the server deduplicates), so a request whose answer was lost with
//! the old link is answered once, and a message is never delivered twice.

use std::collections::BTreeMap;

use crate::attributes::AttrOp;
use crate::errors::*;
use crate::ids::{ChannelId, UserId};
use crate::wire::ClientFrame;

use super::link::Link;
use super::replies::Failure;
use super::resync::Fate;
use super::{Client, ClientOutput, Pending, RequestId, Response, TransportId};

#[derive(Debug, Clone)]
pub(super) enum PendingKind {
    PeerMessage,
    QueryOnline,
    Subscribe(Vec<UserId>),
    Unsubscribe(Vec<UserId>),
    RenewToken(String),
    Join(ChannelId),
    /// An internal join carrying the client's cursor: the automatic rejoin after a
    /// reconnect that lost the server session (§2.6), or a correction after a membership
    /// request timed out (the record says joined).
    Rejoin(ChannelId),
    Leave(ChannelId),
    /// An internal leave correcting the server after a membership request timed out (the
    /// record says not joined).
    Unjoin(ChannelId),
    ChannelMessage,
    GetMembers,
    GetMemberCount,
    /// A write to the local user's attributes, mirrored locally once confirmed.
    UserAttrWrite(AttrOp, BTreeMap<String, String>, Vec<String>),
    /// A write to channel attributes.
    AttrWrite,
    GetUserAttrs,
    GetChannelAttrs,
    /// `invite` for the invitation with this number (kept out of a sync until answered).
    Invite(u64),
    /// Cancel, accept or refuse: the outcome comes as a push.
    InvitationAction,
    /// A sync of these open invitations after a session loss.
    InvitationSync(Vec<u64>, Vec<crate::wire::InvitationKey>),
    /// A correction: `subscribe` with `replace`, the server's subscriptions set to the
    /// client's record.
    Resubscribe,
    /// A correction: `user_attrs` `set` with the client's confirmed copy.
    RestateUserAttrs,
}

impl Client {
    /// `renewToken(token)` (§3.5). While the link is down the token is kept for the next
    /// re-login and the call succeeds at once; a re-login held back by an expired token
    /// resumes.
    pub fn renew_token(
        &mut self,
        now: crate::time::Timestamp,
        token: &str,
    ) -> Result<RequestId, RenewTokenError> {
        self.advance(now);
        if !self.is_logged_in() {
            return Err(RenewTokenError::NotLoggedIn);
        }
        if token.is_empty() || token.len() > 2048 {
            return Err(RenewTokenError::InvalidArgument);
        }
        if !self.limiters.renew.try_acquire(self.now) {
            return Err(RenewTokenError::TooOften);
        }
        if !matches!(self.link, Link::Up { .. }) {
            self.token_renewed_offline(token.to_string());
            let request = RequestId(self.alloc_request());
            self.respond(request, Response::RenewToken(Ok(())));
            return Ok(request);
        }
        let kind = PendingKind::RenewToken(token.to_string());
        let token = token.to_string();
        Ok(self.start_request(kind, self.config.request_timeout, |id| {
            ClientFrame::RenewToken { id, token }
        }))
    }

    /// Registers a request and sends it if the link is up.
    pub(super) fn start_request(
        &mut self,
        kind: PendingKind,
        timeout: core::time::Duration,
        frame: impl FnOnce(u32) -> ClientFrame,
    ) -> RequestId {
        let id = self.alloc_request();
        let deadline = self.now.saturating_add(timeout);
        let frame = frame(id).encode();
        self.track(&kind, id, Fate::Started);
        self.pending.insert(
            id,
            Pending {
                kind,
                frame,
                sent_on: None,
                deadline,
            },
        );
        self.deadlines.schedule(deadline, id);
        self.arm_request_timer();
        if let Link::Up { transport } = self.link {
            self.send_pending(id, transport);
        }
        RequestId(id)
    }

    fn send_pending(&mut self, id: u32, transport: TransportId) {
        if let Some(p) = self.pending.get_mut(&id) {
            p.sent_on = Some(transport);
            let frame = p.frame.clone();
            self.out.push_back(ClientOutput::Send(transport, frame));
        }
    }

    /// Sends every request not yet sent on the current link, oldest first.
    pub(super) fn flush_pending(&mut self) {
        let Link::Up { transport } = self.link else {
            return;
        };
        let ids: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.sent_on != Some(transport))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.send_pending(id, transport);
        }
    }

    pub(super) fn expire_requests(&mut self) {
        while let Some(id) = self.deadlines.pop_due(self.now) {
            let due = self
                .pending
                .get(&id)
                .is_some_and(|p| p.deadline <= self.now);
            if due {
                let p = self.pending.remove(&id).expect("checked");
                // The application is told it failed, but the server may have applied it.
                self.track(&p.kind, id, Fate::Lost);
                if let PendingKind::Join(channel) = &p.kind {
                    // The join failed for the application: the channel leaves the record.
                    self.forget_unless_rejoining(channel);
                }
                self.answer_with_failure(id, p.kind, Failure::Timeout);
            }
        }
        self.arm_request_timer();
    }

    /// Keeps `Timer::Request` at the earliest request deadline.
    pub(super) fn arm_request_timer(&mut self) {
        let next = self.deadlines.next_deadline();
        self.timers.set_or_stop(super::timer::Timer::Request, next);
    }

    /// A join of `channel` failed: it leaves the record — unless the record is a newer
    /// join's (join, leave, join again while the link was down), still waiting.
    pub(super) fn forget_unless_rejoining(&mut self, channel: &ChannelId) {
        let newer = self
            .pending
            .values()
            .any(|p| matches!(&p.kind, PendingKind::Join(c) if c == channel));
        if !newer {
            self.channels.remove(channel);
        }
    }
}
