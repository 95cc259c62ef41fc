//! Commands that talk to the server, their answers, timeouts and resends.
//!
//! Every request is kept, encoded, until it is answered or times out. When a link comes up
//! every request not yet sent on it is (re)sent: requests are idempotent on the server (peer
//! messages carry a `msg_id` the server deduplicates), so a request whose answer was lost with
//! the old link is answered once, and a message is never delivered twice.

use crate::errors::*;
use crate::ids::ChannelId;
use crate::wire::ClientFrame;

use super::link::Link;
use super::pending::{Failure, PendingKind};
use super::resync::Fate;
use super::{Client, ClientOutput, RequestId, Response, TransportId};

impl Client {
    /// `renewToken(token)` (§3.5). While the link is down the token is kept for the next
    /// re-login and the call succeeds at once; a re-login held back by an expired token
    /// resumes.
    pub fn renew_token(
        &mut self,
        now: crate::time::Timestamp,
        token: &str,
    ) -> Result<RequestId, RenewTokenError> {
        self.enter(now, RenewTokenError::NotLoggedIn)?;
        if token.is_empty() || token.len() > 2048 {
            return Err(RenewTokenError::InvalidArgument);
        }
        if !self.limiters.renew.try_acquire(self.now) {
            return Err(RenewTokenError::TooOften);
        }
        if !matches!(self.link, Link::Up { .. }) {
            self.token_renewed_offline(token.to_string());
            let request = RequestId(self.requests.alloc());
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
        let id = self.requests.alloc();
        let deadline = self.now.saturating_add(timeout);
        let frame = frame(id).encode();
        self.track(&kind, id, Fate::Started);
        self.requests.insert(id, kind, frame, deadline);
        self.arm_request_timer();
        if let Link::Up { transport } = self.link {
            self.send_pending(id, transport);
        }
        RequestId(id)
    }

    fn send_pending(&mut self, id: u32, transport: TransportId) {
        if let Some(frame) = self.requests.send_on(id, transport) {
            self.out.push_back(ClientOutput::Send(transport, frame));
        }
    }

    /// Sends every request not yet sent on the current link, oldest first.
    pub(super) fn flush_pending(&mut self) {
        let Link::Up { transport } = self.link else {
            return;
        };
        for id in self.requests.unsent_on(transport) {
            self.send_pending(id, transport);
        }
    }

    pub(super) fn expire_requests(&mut self) {
        while let Some((id, kind)) = self.requests.pop_expired(self.now) {
            // The application is told it failed, but the server may have applied it.
            self.track(&kind, id, Fate::Lost);
            if let PendingKind::Join(channel) = &kind {
                // The join failed for the application: the channel leaves the record.
                self.forget_unless_rejoining(channel);
            }
            self.answer_with_failure(id, kind, Failure::Timeout);
        }
        self.arm_request_timer();
    }

    /// Keeps `Timer::Request` at the earliest request deadline.
    pub(super) fn arm_request_timer(&mut self) {
        let next = self.requests.next_deadline();
        self.timers.set_or_stop(super::timer::Timer::Request, next);
    }

    /// A join of `channel` failed: it leaves the record — unless the record is a newer
    /// join's (join, leave, join again while the link was down), still waiting.
    pub(super) fn forget_unless_rejoining(&mut self, channel: &ChannelId) {
        let newer = self
            .requests
            .kinds()
            .any(|(_, k)| matches!(k, PendingKind::Join(c) if c == channel));
        if !newer {
            self.channels.remove(channel);
        }
    }
}
