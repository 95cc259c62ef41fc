//! What a request waits for and how it ends without an answer: the vocabulary shared by
//! the modules that start requests (`requests.rs`, `channels.rs`, `attributes.rs`, ...) and
//! the one that settles them (`replies.rs`), so neither imports the other.

use core::time::Duration;
use std::collections::BTreeMap;

use bytes::Bytes;

use crate::attributes::AttrOp;
use crate::errors::*;
use crate::ids::{ChannelId, UserId};
use crate::time::Timestamp;
use crate::timers::TimerQueue;
use crate::wire::Reply;

use super::{Response, TransportId};

/// Join, getMembers, member-count and attribute requests time out after 5 s (§9.3).
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// A ticket for the next HTTP exchange of this file or image transfer (`media.rs`).
    MediaGrant(super::RequestId),
}

/// A request waiting for its answer.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub kind: PendingKind,
    /// The encoded request, (re)sent whenever a link comes up.
    frame: Bytes,
    /// The transport it was last sent on.
    sent_on: Option<TransportId>,
    deadline: Timestamp,
}

/// The requests waiting for answers, by id, with their deadlines. Ids grow in the order
/// requests are made (wrapping past `u32::MAX`, never 0).
#[derive(Debug)]
pub(super) struct Requests {
    next_id: u32,
    waiting: BTreeMap<u32, Pending>,
    deadlines: TimerQueue<u32>,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            next_id: 1,
            waiting: BTreeMap::new(),
            deadlines: TimerQueue::default(),
        }
    }
}

impl Requests {
    /// A fresh id, for a request or an answer the client gives itself.
    pub fn alloc(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// The id of the newest request made so far.
    pub fn newest(&self) -> u32 {
        self.next_id.wrapping_sub(1)
    }

    /// Request `id` waits for its answer until `deadline`.
    pub fn insert(&mut self, id: u32, kind: PendingKind, frame: Bytes, deadline: Timestamp) {
        self.waiting.insert(
            id,
            Pending {
                kind,
                frame,
                sent_on: None,
                deadline,
            },
        );
        self.deadlines.schedule(deadline, id);
    }

    /// The frame of request `id`, now sent on `transport`.
    pub fn send_on(&mut self, id: u32, transport: TransportId) -> Option<Bytes> {
        let p = self.waiting.get_mut(&id)?;
        p.sent_on = Some(transport);
        Some(p.frame.clone())
    }

    /// The requests not yet sent on `transport`, oldest first.
    pub fn unsent_on(&self, transport: TransportId) -> Vec<u32> {
        self.waiting
            .iter()
            .filter(|(_, p)| p.sent_on != Some(transport))
            .map(|(&id, _)| id)
            .collect()
    }

    /// What waits, oldest first.
    pub fn kinds(&self) -> impl Iterator<Item = (u32, &PendingKind)> {
        self.waiting.iter().map(|(&id, p)| (id, &p.kind))
    }

    /// Takes request `id` if `fits` its kind.
    pub fn take_if(
        &mut self,
        id: u32,
        fits: impl FnOnce(&PendingKind) -> bool,
    ) -> Option<PendingKind> {
        if !self.waiting.get(&id).is_some_and(|p| fits(&p.kind)) {
            return None;
        }
        self.waiting.remove(&id).map(|p| p.kind)
    }

    /// Takes every request (their deadlines go with them).
    pub fn take_all(&mut self) -> BTreeMap<u32, Pending> {
        self.deadlines = TimerQueue::default();
        std::mem::take(&mut self.waiting)
    }

    /// Takes the next request whose deadline passed by `now`.
    pub fn pop_expired(&mut self, now: Timestamp) -> Option<(u32, PendingKind)> {
        while let Some(id) = self.deadlines.pop_due(now) {
            // A deadline of a request answered since is stale.
            if self.waiting.get(&id).is_some_and(|p| p.deadline <= now) {
                return self.waiting.remove(&id).map(|p| (id, p.kind));
            }
        }
        None
    }

    /// The earliest deadline of a waiting request (stale ones included: popping them is
    /// cheap and keeps this one lookup).
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.deadlines.next_deadline()
    }
}

/// Whether `reply` is an answer a request of `kind` can take.
pub(super) fn answers(reply: &Reply, kind: &PendingKind) -> bool {
    use PendingKind as K;
    match reply {
        Reply::Error { .. } => true,
        Reply::LoginOk { .. } => false,
        Reply::PeerMessageResult { .. } => matches!(kind, K::PeerMessage),
        Reply::OnlineStatus { .. } => matches!(kind, K::QueryOnline),
        Reply::Subscribed { .. } => matches!(kind, K::Subscribe(_) | K::Resubscribe),
        Reply::Joined { .. } => matches!(kind, K::Join(_) | K::Rejoin(_)),
        Reply::Members { .. } => matches!(kind, K::GetMembers),
        Reply::MemberCounts { .. } => matches!(kind, K::GetMemberCount),
        Reply::UserAttributes { .. } => matches!(kind, K::GetUserAttrs),
        Reply::ChannelAttributes { .. } => matches!(kind, K::GetChannelAttrs),
        Reply::InvitationStates { .. } => matches!(kind, K::InvitationSync(..)),
        Reply::MediaTicket { .. } => matches!(kind, K::MediaGrant(_)),
        Reply::Ok { .. } => matches!(
            kind,
            K::Unsubscribe(_)
                | K::RenewToken(_)
                | K::Leave(_)
                | K::Unjoin(_)
                | K::ChannelMessage
                | K::UserAttrWrite(..)
                | K::AttrWrite
                | K::Invite(_)
                | K::InvitationAction
                | K::RestateUserAttrs
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    Timeout,
    NotLoggedIn,
    /// The server answered with this code of the request's family.
    Code(u32),
}

/// The response for a request that failed, `None` for internal requests.
pub(super) fn failure_response(kind: PendingKind, why: Failure) -> Option<Response> {
    /// Picks the family member: the server's code, else TIMEOUT or NOT_LOGGED_IN, with
    /// FAILURE for a code the family does not know.
    macro_rules! pick {
        ($family:ident, $timeout:ident, $failure:ident) => {
            Err(match why {
                Failure::Timeout => $family::$timeout,
                Failure::NotLoggedIn => $family::NotLoggedIn,
                Failure::Code(c) => $family::from_code(c).unwrap_or($family::$failure),
            })
        };
    }
    Some(match kind {
        PendingKind::PeerMessage => {
            Response::SendMessageToPeer(pick!(PeerMessageError, Timeout, Failure))
        }
        PendingKind::QueryOnline => {
            Response::QueryPeersOnlineStatus(pick!(QueryPeersOnlineStatusError, Timeout, Failure))
        }
        PendingKind::Subscribe(_) => Response::SubscribePeersOnlineStatus(pick!(
            PeerSubscriptionStatusError,
            Timeout,
            Failure
        )),
        PendingKind::Unsubscribe(_) => Response::UnsubscribePeersOnlineStatus(pick!(
            PeerSubscriptionStatusError,
            Timeout,
            Failure
        )),
        // RenewTokenError has no TIMEOUT: a renewal that got no answer is a FAILURE.
        PendingKind::RenewToken(_) => {
            Response::RenewToken(pick!(RenewTokenError, Failure, Failure))
        }
        PendingKind::Join(_) => Response::Join(pick!(JoinChannelError, Timeout, Failure)),
        PendingKind::Leave(_) => Response::Leave(pick!(LeaveChannelError, Failure, Failure)),
        PendingKind::ChannelMessage => {
            Response::SendChannelMessage(pick!(ChannelMessageError, Timeout, Failure))
        }
        PendingKind::GetMembers => Response::GetMembers(pick!(GetMembersError, Timeout, Failure)),
        PendingKind::GetMemberCount => {
            Response::GetChannelMemberCount(pick!(GetChannelMemberCountError, Timeout, Failure))
        }
        PendingKind::UserAttrWrite(..) | PendingKind::AttrWrite => {
            Response::AttributeWrite(pick!(AttributeOperationError, Timeout, Failure))
        }
        PendingKind::GetUserAttrs => {
            Response::GetUserAttributes(pick!(AttributeOperationError, Timeout, Failure))
        }
        PendingKind::GetChannelAttrs => {
            Response::GetChannelAttributes(pick!(AttributeOperationError, Timeout, Failure))
        }
        PendingKind::Resubscribe
        | PendingKind::RestateUserAttrs
        | PendingKind::Rejoin(_)
        | PendingKind::Unjoin(_)
        | PendingKind::InvitationAction
        | PendingKind::InvitationSync(..) => return None,
        // The transfer answers for itself (`media.rs`).
        PendingKind::MediaGrant(_) => return None,
        // The server refused to relay the invitation (too many open ones): it failed.
        PendingKind::Invite(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn a_request_is_sent_once_per_link_and_answered_or_expired_once() {
        let mut r = Requests::default();
        let a = r.alloc();
        let b = r.alloc();
        assert_eq!((a, b, r.newest()), (1, 2, 2));
        r.insert(
            a,
            PendingKind::GetMembers,
            Bytes::from_static(b"a"),
            at(100),
        );
        r.insert(
            b,
            PendingKind::QueryOnline,
            Bytes::from_static(b"b"),
            at(200),
        );
        let link = TransportId(1);
        assert_eq!(r.unsent_on(link), vec![a, b]);
        assert_eq!(r.send_on(a, link), Some(Bytes::from_static(b"a")));
        assert_eq!(r.unsent_on(link), vec![b]);
        // A new link: everything goes again.
        assert_eq!(r.unsent_on(TransportId(2)), vec![a, b]);
        // A wrong kind of answer leaves the request waiting.
        assert!(r
            .take_if(a, |k| matches!(k, PendingKind::QueryOnline))
            .is_none());
        assert!(r
            .take_if(a, |k| matches!(k, PendingKind::GetMembers))
            .is_some());
        // `a`'s deadline is stale now; `b` expires at its own.
        assert!(r.pop_expired(at(150)).is_none());
        assert!(matches!(r.pop_expired(at(200)), Some((id, PendingKind::QueryOnline)) if id == b));
        assert!(r.pop_expired(at(1_000)).is_none());
        assert_eq!(r.kinds().count(), 0);
    }

    #[test]
    fn ids_wrap_past_the_largest_and_skip_zero() {
        let mut r = Requests {
            next_id: u32::MAX,
            ..Default::default()
        };
        assert_eq!(r.alloc(), u32::MAX);
        assert_eq!(r.alloc(), 1);
    }
}
