//! Per-session request budgets: the server's own limit on every request kind.
//!
//! The client library already holds applications to §9.2's rates, but a client written from
//! PROTOCOL.md need not. So the server counts every request of a session against the budget
//! of its kind and refuses what is over it with that kind's TOO_OFTEN code. A budget is
//! twice §9.2's rate, counted over [`BUDGET_WINDOW`]: the reference client's automatic
//! requests (rejoins, resubscribes and corrections after a reconnect) come on top of what its
//! application may call, and the calls it queued while reconnecting arrive in one burst;
//! neither may be refused. Kinds §9.2 does not list get the documented rates below. Peer and
//! channel messages keep §9.2's exact shared rate, checked where a send is known not to be
//! a resend (`peers.rs`, `channels.rs`).
//!
//! A session that goes on after [`MAX_REFUSALS`] refusals within [`REFUSAL_WINDOW`] is not
//! a client that misread a limit: its connection is closed with
//! [`crate::wire::close::TOO_MANY_REQUESTS`]. The budgets live in the session, so
//! reconnecting does not refill them.

use core::time::Duration;

use crate::errors::{
    AttributeOperationError, GetChannelMemberCountError, GetMembersError, InvitationApiCallError,
    JoinChannelError, LeaveChannelError, PeerSubscriptionStatusError, QueryPeersOnlineStatusError,
    RenewTokenError, UploadMediaError,
};
use crate::ids::UserId;
use crate::ratelimit::{Rate, RateLimiter};
use crate::time::Timestamp;
use crate::wire::{close, ClientFrame};

use super::{ConnId, Server};

/// A request kind with a budget of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Budget {
    RenewToken,
    QueryOnline,
    Subscribe,
    Unsubscribe,
    Join,
    Leave,
    GetMembers,
    GetMemberCount,
    UserAttrWrite,
    UserAttrRead,
    ChannelAttrWrite,
    ChannelAttrRead,
    /// `invite`: each creates a record kept 5 minutes.
    Invite,
    /// `invitation_answer`, `invitation_cancel`, `invitation_sync`.
    InvitationOther,
    /// `logs` (no answer: one over the budget is dropped, and counts as a refusal).
    Logs,
    /// `media_grant`: each ticket holds a slot of the ticket table for up to 60 s.
    MediaGrant,
}

impl Budget {
    const ALL: [Budget; 16] = [
        Budget::RenewToken,
        Budget::QueryOnline,
        Budget::Subscribe,
        Budget::Unsubscribe,
        Budget::Join,
        Budget::Leave,
        Budget::GetMembers,
        Budget::GetMemberCount,
        Budget::UserAttrWrite,
        Budget::UserAttrRead,
        Budget::ChannelAttrWrite,
        Budget::ChannelAttrRead,
        Budget::Invite,
        Budget::InvitationOther,
        Budget::Logs,
        Budget::MediaGrant,
    ];

    /// The budget `frame` counts against, with its request id (none for `logs`); `None`
    /// for frames with no budget of their own (`ping`, `ack`, `invitation_ack`, `logout`,
    /// `login`, messages).
    pub fn of(frame: &ClientFrame) -> Option<(Budget, Option<u32>)> {
        use ClientFrame as F;
        if let F::Logs { .. } = frame {
            return Some((Budget::Logs, None));
        }
        let (budget, id) = Self::of_request(frame)?;
        Some((budget, Some(id)))
    }

    fn of_request(frame: &ClientFrame) -> Option<(Budget, u32)> {
        use ClientFrame as F;
        Some(match frame {
            F::RenewToken { id, .. } => (Budget::RenewToken, *id),
            F::QueryOnline { id, .. } => (Budget::QueryOnline, *id),
            F::Subscribe { id, .. } => (Budget::Subscribe, *id),
            F::Unsubscribe { id, .. } => (Budget::Unsubscribe, *id),
            F::Join { id, .. } => (Budget::Join, *id),
            F::Leave { id, .. } => (Budget::Leave, *id),
            F::GetMembers { id, .. } => (Budget::GetMembers, *id),
            F::GetMemberCount { id, .. } => (Budget::GetMemberCount, *id),
            F::UserAttrs { id, .. } => (Budget::UserAttrWrite, *id),
            F::GetUserAttrs { id, .. } => (Budget::UserAttrRead, *id),
            F::ChannelAttrs { id, .. } => (Budget::ChannelAttrWrite, *id),
            F::GetChannelAttrs { id, .. } => (Budget::ChannelAttrRead, *id),
            F::Invite { id, .. } => (Budget::Invite, *id),
            F::InvitationAnswer { id, .. }
            | F::InvitationCancel { id, .. }
            | F::InvitationSync { id, .. } => (Budget::InvitationOther, *id),
            F::MediaGrant { id } => (Budget::MediaGrant, *id),
            F::Login { .. }
            | F::Logout { .. }
            | F::Ping {}
            | F::Ack { .. }
            | F::InvitationAck { .. }
            | F::PeerMessage { .. }
            | F::ChannelMessage { .. }
            | F::Logs { .. } => return None,
        })
    }

    /// The server's rate: over [`BUDGET_WINDOW`], twice what §9.2's rate allows in that
    /// time. The longer window admits the burst in which a client sends what it queued
    /// while reconnecting (at most one request timeout's worth of calls, ≤ 10 s).
    pub const fn rate(self) -> Rate {
        const fn over_budget_window(r: Rate) -> Rate {
            let per_window = r.max as u128 * 2 * BUDGET_WINDOW.as_millis() / r.window.as_millis();
            Rate::new(per_window as u32, BUDGET_WINDOW)
        }
        over_budget_window(match self {
            Budget::RenewToken => Rate::RENEW_TOKEN,
            Budget::QueryOnline => Rate::QUERY_ONLINE,
            Budget::Subscribe | Budget::Unsubscribe => Rate::SUBSCRIBE,
            // §9.2 has no rate for leave: the join rate, since each leave undoes a join.
            Budget::Join | Budget::Leave => Rate::JOIN,
            Budget::GetMembers => Rate::GET_MEMBERS,
            Budget::GetMemberCount => Rate::MEMBER_COUNT,
            Budget::UserAttrWrite => Rate::USER_ATTR_WRITE,
            Budget::UserAttrRead => Rate::USER_ATTR_READ,
            Budget::ChannelAttrWrite => Rate::CHANNEL_ATTR_WRITE,
            Budget::ChannelAttrRead => Rate::CHANNEL_ATTR_READ,
            // Not in §9.2: 10 invitations per 5 s (40 per 10 s here) bounds a caller's
            // records, kept 5 minutes, to 1 200; answers, cancels and syncs 30 per 5 s.
            Budget::Invite => Rate::new(10, Duration::from_secs(5)),
            Budget::InvitationOther => Rate::new(30, Duration::from_secs(5)),
            // Not in §9.2: a client sends one with each heartbeat (2 s) and one before a
            // logout; 5 per 10 s, so 10 per 10 s here.
            Budget::Logs => Rate::new(5, Duration::from_secs(10)),
            // Not in §9.2: one ticket per HTTP request of at most 9 transfers at once (a
            // resumed download asks again); 30 per 5 s, so 120 per 10 s here.
            Budget::MediaGrant => Rate::new(30, Duration::from_secs(5)),
        })
    }

    /// The TOO_OFTEN code of the kind's error family, and its message.
    pub fn too_often(self) -> (u32, String) {
        macro_rules! of {
            ($e:expr) => {
                ($e.code(), $e.to_string())
            };
        }
        match self {
            Budget::RenewToken => of!(RenewTokenError::TooOften),
            Budget::QueryOnline => of!(QueryPeersOnlineStatusError::TooOften),
            Budget::Subscribe | Budget::Unsubscribe => of!(PeerSubscriptionStatusError::TooOften),
            Budget::Join => of!(JoinChannelError::TooOften),
            // LeaveChannelError has no TOO_OFTEN: REJECTED, with a message that says why.
            Budget::Leave => (
                LeaveChannelError::Rejected.code(),
                "leaves too often (more than 333 per 10 s)".to_string(),
            ),
            Budget::GetMembers => of!(GetMembersError::TooOften),
            Budget::GetMemberCount => of!(GetChannelMemberCountError::TooOften),
            Budget::UserAttrWrite
            | Budget::UserAttrRead
            | Budget::ChannelAttrWrite
            | Budget::ChannelAttrRead => of!(AttributeOperationError::TooOften),
            Budget::Invite | Budget::InvitationOther => of!(InvitationApiCallError::TooOften),
            Budget::Logs => (0, "log lines uploaded too often".to_string()),
            // §8.14 has no TOO_OFTEN: FAILURE (1 in both the upload and download families).
            Budget::MediaGrant => (
                UploadMediaError::Failure.code(),
                "media tickets asked for too often (more than 120 per 10 s)".to_string(),
            ),
        }
    }

    /// The kind's name in metrics (`"join"`).
    pub fn label(self) -> &'static str {
        match self {
            Budget::RenewToken => "renew_token",
            Budget::QueryOnline => "query_online",
            Budget::Subscribe => "subscribe",
            Budget::Unsubscribe => "unsubscribe",
            Budget::Join => "join",
            Budget::Leave => "leave",
            Budget::GetMembers => "get_members",
            Budget::GetMemberCount => "get_member_count",
            Budget::UserAttrWrite => "user_attr_write",
            Budget::UserAttrRead => "user_attr_read",
            Budget::ChannelAttrWrite => "channel_attr_write",
            Budget::ChannelAttrRead => "channel_attr_read",
            Budget::Invite => "invite",
            Budget::InvitationOther => "invitation_other",
            Budget::Logs => "logs",
            Budget::MediaGrant => "media_grant",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The window every budget is counted over.
pub(super) const BUDGET_WINDOW: Duration = Duration::from_secs(10);

/// Refusals within [`REFUSAL_WINDOW`] after which a session's connection is closed.
pub(super) const MAX_REFUSALS: u32 = 100;
/// See [`MAX_REFUSALS`].
pub(super) const REFUSAL_WINDOW: Duration = Duration::from_secs(10);

/// One session's budgets.
#[derive(Debug, Clone)]
pub(super) struct RequestBudgets {
    limiters: [RateLimiter; Budget::ALL.len()],
    refusals: RateLimiter,
}

impl Default for RequestBudgets {
    fn default() -> Self {
        RequestBudgets {
            limiters: Budget::ALL.map(|b| RateLimiter::new(b.rate())),
            refusals: RateLimiter::new(Rate::new(MAX_REFUSALS, REFUSAL_WINDOW)),
        }
    }
}

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Admit,
    /// Answer it with the kind's TOO_OFTEN.
    Refuse,
    /// Over the refusal limit too: close the connection.
    Close,
}

impl RequestBudgets {
    /// Counts a request of `budget` at `now`.
    pub fn admit(&mut self, budget: Budget, now: Timestamp) -> Verdict {
        if self.limiters[budget.index()].try_acquire(now) {
            Verdict::Admit
        } else {
            self.refused(now)
        }
    }

    /// Counts a refusal (of a budget here, or of the message rate) at `now`.
    pub fn refused(&mut self, now: Timestamp) -> Verdict {
        if self.refusals.try_acquire(now) {
            Verdict::Refuse
        } else {
            Verdict::Close
        }
    }
}

impl Server {
    /// Whether a frame of `uid`'s session on `conn` may be handled. A connection that does
    /// not read (pushes in flight unacknowledged for `ACK_DEADLINE`) is closed with
    /// SLOW_CONSUMER at its next frame but an `ack` or `logout`; a request over its budget is
    /// refused (or the connection closed, see [`Verdict`]).
    pub(super) fn screen(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        epoch: u64,
        frame: &ClientFrame,
    ) -> bool {
        let reads_nothing = !matches!(frame, ClientFrame::Ack { .. } | ClientFrame::Logout { .. })
            && self.ack_overdue(uid, epoch);
        if reads_nothing {
            self.close(
                conn,
                close::SLOW_CONSUMER,
                "nothing acknowledged for 30 s: the connection does not read",
            );
            return false;
        }
        let Some((budget, id)) = Budget::of(frame) else {
            return true;
        };
        let now = self.now;
        let verdict = self
            .sessions
            .get_mut(uid)
            .map_or(Verdict::Admit, |s| s.limits.budgets.admit(budget, now));
        if verdict == Verdict::Admit {
            return true;
        }
        self.counters.rate_limited(budget.label());
        let (code, message) = budget.too_often();
        match id {
            Some(id) => self.refuse_too_often(conn, id, code, message, verdict),
            // No answer for a frame without an id: dropped, unless past the refusal limit.
            None if verdict == Verdict::Close => self.close(
                conn,
                close::TOO_MANY_REQUESTS,
                "too many requests over their limits; slow down",
            ),
            None => {}
        }
        false
    }

    /// Answers a request over its budget with its family's TOO_OFTEN `code`, or closes the
    /// connection with `TOO_MANY_REQUESTS` when the session is past its refusal limit.
    fn refuse_too_often(
        &mut self,
        conn: ConnId,
        id: u32,
        code: u32,
        message: String,
        verdict: Verdict,
    ) {
        if verdict == Verdict::Close {
            self.close(
                conn,
                close::TOO_MANY_REQUESTS,
                "too many requests over their limits; slow down",
            );
        } else {
            self.reply_error(conn, id, code, message);
        }
    }

    /// Takes one message from `uid`'s send rate; `false` when the rate is spent (the
    /// caller refuses with its API's `TooOften`, through [`Server::refuse_message`]).
    pub(super) fn take_message_rate(&mut self, uid: &UserId) -> bool {
        let now = self.now;
        self.sessions
            .get_mut(uid)
            .is_some_and(|s| s.limits.messages.try_acquire(now))
    }

    /// Refuses a peer or channel message with `code`. A refusal for rate (`too_often`)
    /// counts against `uid`'s refusal budget (see [`Server::refuse_too_often`]); any other
    /// is a plain error reply.
    pub(super) fn refuse_message(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        code: u32,
        message: String,
        too_often: bool,
    ) {
        if !too_often {
            return self.reply_error(conn, id, code, message);
        }
        self.counters.rate_limited("messages");
        let now = self.now;
        let verdict = self
            .sessions
            .get_mut(uid)
            .map_or(Verdict::Refuse, |s| s.limits.budgets.refused(now));
        self.refuse_too_often(conn, id, code, message, verdict);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_budget_has_its_own_limiter_in_order() {
        for (i, b) in Budget::ALL.iter().enumerate() {
            assert_eq!(b.index(), i);
        }
    }

    #[test]
    fn a_budget_refuses_past_its_rate_and_closes_past_the_refusal_limit() {
        let mut b = RequestBudgets::default();
        let now = Timestamp::ZERO;
        let max = Budget::GetMemberCount.rate().max;
        assert_eq!(max, 20, "§9.2's 1 per second, twice, over 10 s");
        for _ in 0..max {
            assert_eq!(b.admit(Budget::GetMemberCount, now), Verdict::Admit);
        }
        for _ in 0..MAX_REFUSALS {
            assert_eq!(b.admit(Budget::GetMemberCount, now), Verdict::Refuse);
        }
        assert_eq!(b.admit(Budget::GetMemberCount, now), Verdict::Close);
        // Other kinds keep their own budget.
        assert_eq!(b.admit(Budget::Join, now), Verdict::Admit);
    }
}
